"""Keras model -> ONNX bytes for onnxruntime, checked against Keras before anyone uses it.

    from mnistlab.recognition.onnx_conversion import keras_to_onnx
    onnx_bytes = keras_to_onnx(model)   # input "image": float32 (N, 28, 28, 1) in [0, 1], NHWC as in Keras
                                        # output "probabilities": float32 (N, 10)

The conversion is Keras' own `model.export(format="onnx")` (tf2onnx on the TensorFlow backend). Two
things are added around it: the model runs in inference mode (Keras traces a bare `model(x)`, which
leaves Random* augmentation layers switched on: random ops in the graph), and the result must pass
onnx.checker and give Keras' probabilities within PARITY_TOLERANCE on a probe batch, or it is refused.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
from pathlib import Path

import numpy as np

from mnistlab.classifier import ONNX_TEMPERATURE_KEY
from mnistlab.errors import MnistlabError

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
PARITY_TOLERANCE = 1e-4  # largest allowed |p_onnx - p_keras| on the probe batch
PROBE_SEED = 0
PROBE_SIZE = 64


class ExportError(MnistlabError):
    """A model that cannot be exported, or whose export does not match it."""


def inference_model(model):
    """Wrap a Keras model so every call runs it with training=False (dropout and augmentation off)."""
    import keras

    class InferenceOnly(keras.Model):
        def __init__(self, inner):
            super().__init__(name=f"{inner.name}_inference")
            self.inner = inner

        def call(self, images):
            return self.inner(images, training=False)

    wrapper = InferenceOnly(model)
    wrapper(np.zeros((1, *model.input_shape[1:]), dtype=np.float32))  # build: export needs a called model
    return wrapper


def probe_images(input_shape: tuple[int, ...], seed: int = PROBE_SEED) -> np.ndarray:
    """A fixed batch covering blank, full and random-stroke-like pictures: (PROBE_SIZE, *input_shape)."""
    rng = np.random.default_rng(seed)
    images = rng.random((PROBE_SIZE, *input_shape), dtype=np.float32)
    images[: PROBE_SIZE // 2] = (images[: PROBE_SIZE // 2] > 0.8).astype(np.float32)  # sparse like ink
    images[0] = 0
    images[1] = 1
    return images


def _rename_io(graph, old_input: str, old_output: str) -> None:
    """Give the graph's single input and output the documented names."""
    for node in graph.node:
        node.input[:] = [INPUT_NAME if name == old_input else name for name in node.input]
        node.output[:] = [OUTPUT_NAME if name == old_output else name for name in node.output]
    graph.input[0].name = INPUT_NAME
    graph.output[0].name = OUTPUT_NAME


def keras_to_onnx(model, temperature: float = 1.0) -> bytes:
    """A Keras model (inputs (N, 28, 28, 1), softmax outputs) -> a checked, serialized ONNX model.

    temperature: the run's calibration, recorded in the file's metadata (ONNX_TEMPERATURE_KEY) so that a copy
    taken out of its run directory still gives calibrated probabilities when mnistlab loads it.
    """
    import keras
    import onnx

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError(f"model {model.name!r} has several inputs or outputs; expected one image input")
    wrapper = inference_model(model)
    spec = keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32", name=INPUT_NAME)
    with tempfile.TemporaryDirectory(prefix="mnistlab-onnx-") as folder:
        path = Path(folder) / "model.onnx"
        quiet = io.StringIO()  # Keras and tf2onnx narrate each step on stdout and in the log
        previous = logging.getLogger("tf2onnx").level
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                wrapper.export(str(path), format="onnx", input_signature=[spec], verbose=False)
        except Exception as error:
            raise ExportError(
                f"could not convert model {model.name!r} to ONNX ({type(error).__name__}: {error})"
            ) from error
        finally:
            logging.getLogger("tf2onnx").setLevel(previous)
        proto = onnx.load(str(path))

    _rename_io(proto.graph, proto.graph.input[0].name, proto.graph.output[0].name)
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.helper.set_model_props(
        proto,
        {
            "mnistlab.input": "image: float32 (N, 28, 28, 1), pixels in [0, 1], white ink on black",
            "mnistlab.output": "probabilities: float32 (N, classes), softmax",
            ONNX_TEMPERATURE_KEY: repr(float(temperature)),
        },
    )
    unsupported = [node for node in proto.graph.node if not _known(node)]
    if unsupported:
        names = layer_names(model)
        where = sorted({f"{node.op_type} in layer {_layer_of(node.name, names)!r}" for node in unsupported})
        raise ExportError(
            f"model {model.name!r} cannot be exported to ONNX: {'; '.join(where)} has no ONNX equivalent"
        )
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"the ONNX graph of model {model.name!r} is invalid: {error}") from error
    data = proto.SerializeToString()
    check_parity(model, data)
    return data


def layer_names(model) -> set[str]:
    """The names of every layer, including those inside nested models (ensembles)."""
    names = set()
    for layer in model.layers:
        names.add(layer.name)
        if hasattr(layer, "layers"):
            names |= layer_names(layer)
    return names


def _layer_of(node_name: str, names: set[str]) -> str:
    """tf2onnx keeps TensorFlow's node names, "wrapper/model/layer/scope/Op": find the deepest layer.

    Tracing may add "_1"-style suffixes to a scope, so those are tried without them too.
    """
    for part in reversed(node_name.split("/")[:-1]):
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in names:
                return candidate
    return node_name


def _known(node) -> bool:
    import onnx

    try:
        onnx.defs.get_schema(node.op_type, domain=node.domain)
        return True
    except onnx.defs.SchemaError:
        return False


def check_parity(model, onnx_bytes: bytes, images: np.ndarray | None = None) -> float:
    """Max |p_onnx - p_keras| on images (default: the probe batch); ExportError over the tolerance."""
    import onnxruntime

    if images is None:
        images = probe_images(tuple(model.input_shape[1:]))
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    from_onnx = session.run(None, {INPUT_NAME: images})[0]
    from_keras = np.asarray(model(images, training=False))
    difference = float(np.abs(from_onnx - from_keras).max())
    if difference > PARITY_TOLERANCE or not np.array_equal(from_onnx.argmax(1), from_keras.argmax(1)):
        raise ExportError(
            f"the ONNX export of model {model.name!r} differs from Keras by {difference:.2g} "
            f"(allowed {PARITY_TOLERANCE:g}); refusing to use it"
        )
    return difference
