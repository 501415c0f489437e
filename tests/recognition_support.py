"""Shared pieces of the recognition tests: real MNIST arrays, benchmark modules and a running server.

The trained model they use is conftest's `fastcnn_run` (one epoch of fastcnn on MNIST, >= 99%).
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


def load_benchmark_module(name: str):
    """A module from benchmarks/ (photo_digits, bench_recognition), which is not a package."""
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


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


def on_notebook_paper(picture: bytes, kind: str, spacing: float, seed: int, darkness: float = 0.5) -> bytes:
    """An encoded picture of dark ink on light paper -> the same as a grey PNG printed over with a notebook's
    lines ("ruled" or "squared", `spacing` px apart, 2% of the picture's height thick), which darken
    paper and ink by `darkness` where they lie (benchmarks/photo_digits.py's ruling)."""
    import io

    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(io.BytesIO(picture)).convert("L"), np.float32) / 255
    lines = load_benchmark_module("photo_digits").ruling(
        grey.shape, np.random.default_rng(seed), kind, spacing, 0.02 * grey.shape[0]
    )
    buffer = io.BytesIO()
    Image.fromarray(np.round(grey * (1 - darkness * lines) * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
