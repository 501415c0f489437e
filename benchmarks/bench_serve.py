"""Serving speed: Keras vs onnxruntime, in process and through the real HTTP server.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_serve.py MODEL \
        [--repeats 3] [--requests 600] [--clients 32] [--time-limit 60]

MODEL is a run directory or .keras file. Three measurements, each repeated (mean ± std over repeats):
1. batch inference on the 10,000 MNIST test images: images/s for Keras, onnxruntime (all cores) and
   onnxruntime (one thread per call);
2. one image per call, in process: median latency of each engine;
3. `mnistlab serve` in a subprocess on 127.0.0.1, per engine, with CLIENTS concurrent clients sending
   REQUESTS single-image requests in all (a photographed digit as a JPEG upload, and 28x28 JSON pixels),
   stopping early at --time-limit seconds: p50 / p99 latency and requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_digits import photo_set  # noqa: E402


def mean_std(values) -> str:
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}"


def batch_and_single(classifier, engines: dict, images: np.ndarray, repeats: int) -> None:
    print("\n| engine | batch images/s (10k, batches of 1024) | one image: median ms |\n|---|---|---|")
    for name, engine in engines.items():
        rates, singles = [], []
        engine.predict_proba(images[:1024])  # warm up
        for _ in range(repeats):
            start = time.perf_counter()
            engine.predict_proba(images, batch_size=1024)
            rates.append(len(images) / (time.perf_counter() - start))
            times = []
            for image in images[:200]:
                start = time.perf_counter()
                engine.predict_proba(image[None])
                times.append(1000 * (time.perf_counter() - start))
            singles.append(np.median(times))
        print(f"| {name} | {mean_std(rates)} | {np.mean(singles):.2f} ± {np.std(singles):.2f} |", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model: str, extra: list[str], env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`mnistlab serve MODEL EXTRA...` on a free 127.0.0.1 port, once GET /health answers: (process, URL)."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "mnistlab", "serve", model, "--port", str(port), *extra]
    log = tempfile.TemporaryFile()  # a pipe nobody reads could fill and stall the server
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    log.seek(0)
    raise RuntimeError(f"{' '.join(command)} did not start: {log.read().decode()[-2000:]}")


async def load(url: str, make_request, requests: int, clients: int, time_limit: float):
    """CLIENTS tasks share REQUESTS requests; returns (latencies in ms, seconds, failures)."""
    import httpx

    latencies, failures, remaining = [], 0, requests
    deadline = time.monotonic() + time_limit

    async def client(http):
        nonlocal remaining, failures
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            start = time.perf_counter()
            try:
                response = await make_request(http, url)
                failures += response.status_code != 200
            except httpx.TransportError:  # a dropped connection counts as a failed request
                failures += 1
                continue
            latencies.append(1000 * (time.perf_counter() - start))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return np.array(latencies), time.perf_counter() - start, failures


def through_server(model: str, photo: bytes, pixels: list, args) -> None:
    async def upload(http, url):
        return await http.post(f"{url}/predict", files={"file": ("photo.jpg", photo, "image/jpeg")})

    async def as_json(http, url):
        return await http.post(f"{url}/predict", json={"pixels": pixels})

    print("\n| engine | request | p50 ms | p99 ms | requests/s | failed |\n|---|---|---|---|---|---|")
    for engine in ("onnxruntime", "keras"):
        server, url = start_server(model, ["--engine", engine])
        try:
            for label, make_request in (("JPEG photo upload", upload), ("28x28 JSON pixels", as_json)):
                asyncio.run(load(url, make_request, 64, args.clients, args.time_limit))  # warm up
                p50s, p99s, rates, failed = [], [], [], 0
                for _ in range(args.repeats):
                    latencies, seconds, failures = asyncio.run(
                        load(url, make_request, args.requests, args.clients, args.time_limit)
                    )
                    p50s.append(np.percentile(latencies, 50))
                    p99s.append(np.percentile(latencies, 99))
                    rates.append(len(latencies) / seconds)
                    failed += failures
                print(
                    f"| {engine} | {label} | {mean_std(p50s)} | {mean_std(p99s)} | {mean_std(rates)} "
                    f"| {failed} |",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()

    import keras
    import onnxruntime

    import mnistlab
    from mnistlab.recognition.serving_engine import as_onnx
    from mnistlab.rundir import cpu_model

    test = mnistlab.load("mnist", split="test")
    classifier = mnistlab.load_classifier(args.model)
    print(
        f"# {cpu_model()}, {os.cpu_count()} cores (shared machine); "
        f"python {platform.python_version()}, keras {keras.__version__} ({keras.backend.backend()}), "
        f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}; {args.repeats} repeats"
    )
    engines = {
        "keras": classifier,
        "onnxruntime (all cores)": as_onnx(classifier, threads=0),
        "onnxruntime (1 thread)": as_onnx(classifier, threads=1),
    }
    batch_and_single(classifier, engines, test["image"], args.repeats)

    photo, _extension, _label, _style = photo_set(test["image"], test["label"], 1, seed=0)[0]
    pixels = test["image"][0, ..., 0].tolist()
    through_server(args.model, photo, pixels, args)


if __name__ == "__main__":
    main()
