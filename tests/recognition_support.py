"""Shared pieces of the recognition tests: real MNIST arrays and one trained model per test session.

The model is a real `mnistlab.train` run (fastcnn, one epoch: >= 99% on MNIST) once the training
package is present; until then a small Keras CNN trained here for a few hundred steps stands in.
Either way it is trained once per session and cached by its folder.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

TRAIN_SEED = 0


def read_idx(path: Path) -> np.ndarray:
    """One gzipped IDX file -> uint8 array (images (N, 28, 28) or labels (N,))."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    dimensions = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


@functools.cache
def mnist_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """split 'train' or 't10k' -> (images uint8 (N, 28, 28), labels int64 (N,))."""
    folder = Path(data_dir) / "mnist"
    images = read_idx(folder / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(folder / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)
    return images, labels


def _train_small_cnn(data_dir: Path, target: Path, steps: int = 400, batch_size: int = 128) -> Path:
    """A small real CNN (BatchNorm, Dropout, pooling) trained on real MNIST; ~98.5% test accuracy."""
    import keras

    keras.utils.set_random_seed(TRAIN_SEED)
    images, labels = mnist_split(data_dir, "train")
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    count = steps * batch_size
    order = np.random.default_rng(TRAIN_SEED).permutation(len(images))[:count]
    pixels = images[order, ..., None].astype(np.float32) / 255
    model.fit(pixels, labels[order], batch_size=batch_size, epochs=1, verbose=0)
    model.save(target)
    return target


def load_benchmark_module(name: str):
    """A module from benchmarks/ (photo_digits, bench_recognition), which is not a package."""
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@functools.cache
def trained_model(data_dir: Path, workdir: Path) -> Path:
    # data_dir is part of the cache key only: mnistlab.train reads $MNISTLAB_DATA_DIR like every user.
    """A run directory (or .keras file) holding a real model trained on real MNIST, made once."""
    if importlib.util.find_spec("mnistlab.training.dispatch") is not None:
        import mnistlab

        run = mnistlab.train(
            "fastcnn", epochs=1, seed=TRAIN_SEED, out=str(workdir / "fastcnn-run"), progress=False
        )
        return Path(run.dir)
    return _train_small_cnn(data_dir, workdir / "small_cnn.keras")


@contextlib.contextmanager
def running_server(app) -> Iterator[str]:
    """Serve `app` with the server `mnistlab serve` runs, on a free 127.0.0.1 port; yield its base URL."""
    from mnistlab.recognition.server import uvicorn_server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn_server(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
