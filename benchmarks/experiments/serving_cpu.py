"""Where a request's CPU goes when serving the drawing page's upload: the server's CPU per request under
wrk's load, beside the same work done in this process (preprocessing, the classifier and refuser).

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/experiments/serving_cpu.py RUN \
        [--server "--workers 1"] [--seconds 10]

The request is bench_http.py's (a 280x280 RGBA PNG of an MNIST test digit, 32 clients). The server's
CPU is read from /proc for its process and its children before and after the load (Linux).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench_http  # noqa: E402
from bench_serve import start_server  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process and all its descendants (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return total + sum(cpu_seconds(int(child)) for child in children)


def in_process_ms(work, items, rounds: int = 5) -> float:
    """Process CPU milliseconds per item, the best of `rounds` passes."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            work(item)
        best = min(best, (time.process_time() - start) / len(items) * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run")
    parser.add_argument("--server", default="", help='serve arguments, e.g. "--workers 1"')
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    import mnistlab
    from mnistlab.classifier import answering_classifier
    from mnistlab.pictures.preprocess import preprocess
    from mnistlab.recognition.server import Recognizer

    test = mnistlab.load("mnist", split="test[:20]")
    pngs = [bench_http.drawing_png(digit[..., 0]) for digit in test["image"]]
    recognizer = Recognizer(answering_classifier(args.run))
    digits = [preprocess(png) for png in pngs]
    print(f"# in this process, CPU ms per picture: preprocess {in_process_ms(preprocess, pngs):.2f}, "
          f"classifier and refuser {in_process_ms(lambda d: recognizer.answer([d]), digits):.2f}, "
          f"the whole answer {in_process_ms(recognizer.one, pngs):.2f}")  # fmt: skip

    folder = Path(tempfile.mkdtemp(prefix="mnistlab-serving-cpu-"))
    body = bench_http.multipart(pngs[0])
    (folder / "body").write_bytes(body)
    script = folder / "upload.lua"
    lua = bench_http.WRK_SCRIPT.format(body=str(folder / "body"), boundary=bench_http.BOUNDARY)
    script.write_text(lua.replace("'", '"'))
    server, url = start_server(args.run, shlex.split(args.server))
    try:
        bench_http.check_answer(url, body, int(test["label"][0]))
        before = cpu_seconds(server.pid)
        found = bench_http.wrk(url, script, 32, args.seconds, 2)
        spent = cpu_seconds(server.pid) - before
        requests = found["rps"] * args.seconds
        latency = f"p50 {found['p50']:.1f} ms, p99 {found['p99']:.1f} ms"
        per_request = spent / requests * 1000
        print(f"# serve {args.server or '(defaults)'}: {found['rps']:.1f} requests/s, {latency}; "
              f"the server's CPU {per_request:.2f} ms per request")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
