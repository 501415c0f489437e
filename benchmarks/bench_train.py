"""Training speed and accuracy benchmark: the numbers of benchmarks/RESULTS.md, "Training speed and accuracy".

    python benchmarks/bench_train.py                  # fastcnn vs the CNN and MLP tutorials, 3 seeds
    python benchmarks/bench_train.py --levers         # fastcnn with one setting changed at a time
    python benchmarks/bench_train.py --seeds 5 --json results.json

Every run is a real `mnistlab.train` run, timed inside fit only (no loading, no evaluation); the recipes
alternate within each seed, so a change in the machine's load hits all of them alike. Run it on an
otherwise idle machine for absolute figures; on a busy one, read the ratios.
Prints hardware, library versions, seeds and mean ± std; --json also writes the full report.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# fastcnn against the two tutorials' own recipes (10 epochs each)
COMPARISON = ["fastcnn", "cnn", "mlp"]
# fastcnn with one training setting changed, next to the recipe itself (the first row)
LEVERS = [
    "fastcnn",
    "fastcnn+precision=bfloat16",  # Keras mixed_bfloat16: oneDNN's bf16 convolutions and matmuls
    "fastcnn+batch_size=128+lr=0.015",  # half the batch: twice the steps
    "fastcnn+batch_size=512+lr=0.045",  # twice the batch: half the steps
    "fastcnn+steps_per_execution=8",  # 8 optimizer steps per call from Python
    "fastcnn+schedule=constant+warmup=0.0+lr=0.002",  # no one-cycle schedule
    "fastcnn+label_smoothing=0.0",  # no label smoothing
]


def _print(report) -> None:
    from mnistlab.evaluation.bench import describe

    hardware, versions = report.environment["hardware"], report.environment["versions"]
    kind = hardware.get("kind", "kind unknown")
    print(f"hardware: {hardware['cpu']} ({kind}), {hardware['cores']} cores, {hardware.get('platform', '')}")
    print("versions: " + ", ".join(f"{name} {value}" for name, value in versions.items() if value))
    print(f"seeds: {report.seeds} (one run per recipe per seed; mean ± std over seeds)")
    first = next(iter(report.rows.values()))
    header = f"{'recipe':<48} {'epochs':>6} {'test accuracy':>17} {'train s':>13} {'x first':>7}"
    print(header + "".join(f" {'s to ' + format(t, '.1%'):>13}" for t in report.targets))
    for row in report.rows.values():
        accuracy = f"{row.test_accuracy.mean:.4f} ± {row.test_accuracy.std:.4f}"
        seconds = f"{row.train_seconds.mean:6.2f} ± {row.train_seconds.std:4.2f}"
        ratio = row.train_seconds.mean / first.train_seconds.mean
        line = f"{row.recipe:<48} {row.runs[0].epochs:>6} {accuracy:>17} {seconds:>13} {ratio:7.2f}"
        for target in report.targets:
            line += f" {row.time_to_text(target):>13}"
        print(line)
    for speedup in report.speedups:
        print(describe(speedup))


def main() -> None:
    from mnistlab.evaluation.bench import bench

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--levers", action="store_true", help="measure fastcnn's training-setting levers")
    parser.add_argument("--recipes", help="comma-separated, e.g. fastcnn,fastcnn+batch_size=512")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the full report here")
    args = parser.parse_args()
    recipes = args.recipes.split(",") if args.recipes else LEVERS if args.levers else COMPARISON
    report = bench(recipes, args.seeds, data_dir=args.data_dir)
    _print(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))


if __name__ == "__main__":
    main()
