"""The small networks shipped inside mnistlab (refuser.onnx, wholeness.onnx), read and run with onnxruntime.

    network = ShippedNetwork.load("refuser.onnx", "refuser.json")           # the copy in the package
    network = ShippedNetwork.load("refuser.onnx", "refuser.json", "out/")   # one just trained into out/
    network.run(inputs)                                                      # its first output
    network.info                                                             # how it was made, measured

Each is trained once by a script in benchmarks/ and shipped as an ONNX file with a JSON record beside it,
so using one needs no TensorFlow.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np


class ShippedNetwork:
    def __init__(self, onnx_bytes: bytes, info: dict):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # tens of 28 x 28 pictures per call: threads would only contend
        self.session = onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.info = info

    @classmethod
    def load(cls, model_file: str, info_file: str, folder: str | None = None) -> ShippedNetwork:
        """The network in mnistlab's package, or the one in `folder` (as its trainer writes it)."""
        files = resources.files("mnistlab.recognition") if folder is None else Path(folder)
        return cls((files / model_file).read_bytes(), json.loads((files / info_file).read_text()))

    def run(self, inputs: np.ndarray) -> np.ndarray:
        """float32 inputs -> the network's first output, as a numpy array."""
        name = self.session.get_inputs()[0].name
        return np.asarray(self.session.run(None, {name: inputs.astype(np.float32)})[0])


def small_cnn(name: str, input_shape: tuple, classes: int, filters: tuple[int, int], dense: int):
    """The Keras network each shipped one is: two conv + pool stages, a dense layer with dropout, softmax."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            layers.Conv2D(filters[0], 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(filters[1], 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(dense, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(classes, activation="softmax"),
        ],
        name=name,
    )
