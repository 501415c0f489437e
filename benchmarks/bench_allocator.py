"""glibc malloc tuned (training/allocator.py) or not: fastcnn training time, in fresh processes.

    MNISTLAB_DATA_DIR=../shared/datasets python benchmarks/bench_allocator.py              # 3 runs each
    python benchmarks/bench_allocator.py --repeats 5 --model mlp --json allocator.json

Each run is a real `mnistlab.train` in a fresh Python process (malloc's settings are per process), with
MNISTLAB_MALLOPT=1 (tuned, the default) or MNISTLAB_MALLOPT=0 (glibc's defaults), alternating, so that a
change in the machine's load hits both alike. Reported per variant: training seconds (metrics.json
train_seconds: inside fit only), the whole process's system and user CPU seconds (getrusage of the child),
its peak resident memory and test accuracy, as median and mean ± std; then the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from mnistlab.training.allocator import GLIBC_VARIABLES

VARIANTS = {"glibc defaults": "0", "tuned (mallopt)": "1"}  # name -> MNISTLAB_MALLOPT
# The child: one training run into the folder given, with the seed given; the report is written as usual.
CHILD = """
import resource, sys
import mnistlab
mnistlab.train(sys.argv[1], out=sys.argv[2], seed=int(sys.argv[3]), progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB: its peak resident memory
"""


def train_once(model: str, out: Path, seed: int, mallopt: str) -> dict:
    """One run in a fresh process -> its metrics and the process's CPU seconds."""
    env = {key: value for key, value in os.environ.items() if key not in GLIBC_VARIABLES}  # ours decide
    env["MNISTLAB_MALLOPT"] = mallopt
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = [sys.executable, "-c", CHILD, model, str(out), str(seed)]
    printed = subprocess.run(child, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "train_seconds": metrics["train_seconds"],
        "test_accuracy": metrics["test_accuracy"],
        "system_seconds": after.ru_stime - before.ru_stime,
        "user_seconds": after.ru_utime - before.ru_utime,
        "peak_memory_mib": int(printed.split()[-1]) / 1024,
    }


def summary(values: list[float], digits: int) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    median, mean = statistics.median(values), statistics.mean(values)
    return f"median {median:.{digits}f}, {mean:.{digits}f} ± {spread:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fastcnn")
    parser.add_argument("--repeats", type=int, default=3, help="runs per variant (seeds 0, 1, ...)")
    parser.add_argument("--json", type=Path, default=None, help="also write every run here")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    load_before = os.getloadavg()[0]  # the machine may be shared: its load is part of the figure
    with tempfile.TemporaryDirectory(prefix="bench-allocator-") as scratch:
        for repeat in range(args.repeats):
            order = list(VARIANTS) if repeat % 2 == 0 else list(reversed(VARIANTS))
            for name in order:
                out = Path(scratch) / f"{name.split()[0]}-{repeat}"
                result = train_once(args.model, out, seed=repeat, mallopt=VARIANTS[name])
                runs[name].append(result)
                print(f"  {name:<16} seed {repeat}: {json.dumps(result)}", flush=True)
        config = json.loads((out / "config.json").read_text())
    hardware, versions = config["hardware"], config["versions"]
    print(f"hardware: {hardware['cpu']}, {hardware['cores']} cores, {hardware.get('platform', '')}")
    print("versions: " + ", ".join(f"{name} {value}" for name, value in versions.items() if value))
    print(f"model {args.model}, {args.repeats} runs per variant, alternating, each in a fresh process")
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    for name, results in runs.items():
        print(f"{name}:")
        for field in ("train_seconds", "system_seconds", "user_seconds", "peak_memory_mib", "test_accuracy"):
            digits = {"test_accuracy": 4, "peak_memory_mib": 0}.get(field, 2)
            print(f"  {field:<15} {summary([result[field] for result in results], digits)}")
    medians = [statistics.median(r["train_seconds"] for r in results) for results in runs.values()]
    print(f"training time, defaults / tuned (medians): {medians[0] / medians[1]:.2f}x")
    if args.json is not None:
        args.json.write_text(json.dumps({"hardware": hardware, "versions": versions, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
