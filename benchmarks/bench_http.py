"""Serving throughput under load, measured with wrk: the drawing page's upload, 32 clients at once.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_http.py RUN \
        [--repeats 3] [--clients 32] [--seconds 15] [--server "--workers 1"] [--before OLD/src]

wrk (Debian's `apt-get install wrk`) sends the same request over CLIENTS keep-alive connections for
SECONDS: a 280x280 PNG of a handwritten digit (an MNIST test digit enlarged 10x, dark ink on a white
RGBA canvas, as the drawing page's pad sends it) in a multipart form to POST /predict. Every answer is
checked once before the load starts. Each server variant (`mnistlab serve RUN` plus the arguments of a
--server option, and the code of --before on PYTHONPATH) runs in its own process; the variants take
turns, REPEATS rounds. Printed: requests/s, p50 and p99 latency and non-2xx answers per round, then the
median of each.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serve import start_server  # noqa: E402

BOUNDARY = "mnistlab-bench-boundary"
UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
WRK_SCRIPT = """
local f = assert(io.open({body!r}, "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
"""


def drawing_png(digit) -> bytes:
    """A (28, 28) uint8 MNIST digit as the drawing pad would send it: 280x280 RGBA PNG, dark on white."""
    from PIL import Image

    ink = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR)
    canvas = Image.merge("RGBA", [ink, ink, ink, Image.new("L", (280, 280), 255)])
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def multipart(png: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="drawing.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    return head + png + f"\r\n--{BOUNDARY}--\r\n".encode()


def check_answer(url: str, body: bytes, label: int) -> None:
    import httpx

    headers = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    answer = httpx.post(f"{url}/predict", content=body, headers=headers, timeout=30)
    if answer.status_code != 200 or answer.json().get("label") != label:
        raise SystemExit(f"the server answered {answer.status_code} {answer.text[:300]} (expected {label})")


def milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS_MS[unit]


def wrk(url: str, script: Path, clients: int, seconds: int, threads: int) -> dict:
    command = [
        "wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
        "-s", str(script), f"{url}/predict",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.000)?%\s+(\S+)$", output, re.MULTILINE))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": milliseconds(percentiles["50"]),
        "p99": milliseconds(percentiles["99"]),
        "failed": int(failed.group(1)) if failed else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--server", action="append", default=None, help='serve arguments, e.g. "--workers 1"')
    parser.add_argument("--before", help="a src/ folder whose code serves as the variant 'before'")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian, Ubuntu) or brew install wrk")

    import mnistlab
    from mnistlab.rundir import cpu_kind, cpu_model

    test = mnistlab.load("mnist", split="test[:1]")
    digit, label = test["image"][0, ..., 0], int(test["label"][0])
    folder = Path(tempfile.mkdtemp(prefix="mnistlab-http-"))
    body = multipart(drawing_png(digit))
    (folder / "body").write_bytes(body)
    script = folder / "upload.lua"
    script.write_text(WRK_SCRIPT.format(body=str(folder / "body"), boundary=BOUNDARY).replace("'", '"'))

    servers = args.server or [""]
    variants = {f"now {extra}".strip(): (shlex.split(extra), dict(os.environ)) for extra in servers}
    if args.before:
        before_env = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
        variants["before"] = ([], before_env)
    print(f"# {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"# {cpu_model()} ({cpu_kind()}), {os.cpu_count()} cores; python {platform.python_version()}")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"# {wrk_version}; request: POST /predict, {len(body):,}-byte multipart body (280x280 RGBA PNG)")
    print(f"# load average at the start: {os.getloadavg()[0]:.2f}\n")
    print("| variant | round | requests/s | p50 ms | p99 ms | non-2xx | socket errors |")
    print("|---|---|---|---|---|---|---|")
    results: dict[str, list[dict]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        order = list(variants) if repeat % 2 == 0 else list(reversed(variants))
        for name in order:
            extra, env = variants[name]
            server, url = start_server(args.run, extra, env)
            try:
                check_answer(url, body, label)
                wrk(url, script, args.clients, 2, args.threads)  # warm up
                result = wrk(url, script, args.clients, args.seconds, args.threads)
            finally:
                server.terminate()
                server.wait(timeout=30)
            results[name].append(result)
            print(
                f"| {name} | {repeat + 1} | {result['rps']:.1f} | {result['p50']:.1f} | {result['p99']:.1f} "
                f"| {result['failed']} | {result['socket_errors'] or 0} |",
                flush=True,
            )
    print("\n| variant | requests/s (median) | p50 ms (median) | p99 ms (median) |\n|---|---|---|---|")
    for name, rounds in results.items():
        cells = [statistics.median(r[key] for r in rounds) for key in ("rps", "p50", "p99")]
        print(f"| {name} | {cells[0]:.1f} | {cells[1]:.1f} | {cells[2]:.1f} |")


if __name__ == "__main__":
    main()
