"""Accuracy on real-world pictures: a plain resize vs mnistlab's MNIST-style preprocessing.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_recognition.py MODEL \
        [--photos 2000] [--scans 1797] [--seeds 0 1 2]

MODEL is a run directory or a .keras / .skops / .onnx file (a >= 99% MNIST model for the quality targets).
Photos are MNIST test digits rendered as phone photos (benchmarks/photo_digits.py); scans are sklearn's
load_digits (43 other writers) rendered as scans. For each seed both sets are rendered afresh; the
table gives mean ± std over seeds, plus accuracy per photo style.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_digits import photo_set, scan_set  # noqa: E402


def plain_resize(data: bytes) -> np.ndarray:
    """What a first attempt does: grey, resize to 28 x 28, feed the model (no inversion, no centring)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L").resize((28, 28), Image.Resampling.BILINEAR))


def accuracy_by_style(classifier, pictures, prepare) -> tuple[float, dict[str, float]]:
    """Fraction right overall and per style; a picture that cannot be prepared counts as wrong."""
    from mnistlab.errors import MnistlabError

    digits, labels, styles, failed = [], [], [], []
    for data, _extension, label, style in pictures:
        try:
            digits.append(prepare(data))
            labels.append(label)
            styles.append(style)
        except MnistlabError:
            failed.append(style)
    correct = classifier.predict(np.stack(digits)[..., None]) == np.array(labels)
    per_style = defaultdict(list)
    for style, right in zip(styles + failed, list(correct) + [False] * len(failed), strict=True):
        per_style[style].append(right)
    return float(np.mean(list(correct) + [False] * len(failed))), {
        style: float(np.mean(values)) for style, values in sorted(per_style.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--scans", type=int, default=1797)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()

    import keras

    import mnistlab
    from mnistlab.pictures.preprocess import preprocess
    from mnistlab.rundir import cpu_model

    test = mnistlab.load("mnist", split="test")
    classifier = mnistlab.load_classifier(args.model)
    print(
        f"# {cpu_model()}, {os.cpu_count()} cores; python "
        f"{platform.python_version()}, keras {keras.__version__}, numpy {np.__version__}"
    )
    print(
        f"# model {args.model}: MNIST test accuracy "
        f"{(classifier.predict(test['image']) == test['label']).mean():.4f}"
    )

    results = defaultdict(list)
    styles = defaultdict(list)
    for seed in args.seeds:
        photos = photo_set(test["image"], test["label"], args.photos, seed=seed)
        scans = scan_set(args.scans, seed=seed)
        for set_name, pictures in (("photos", photos), ("scans", scans)):
            for method, prepare in (("plain resize", plain_resize), ("mnistlab preprocess", preprocess)):
                start = time.perf_counter()
                overall, per_style = accuracy_by_style(classifier, pictures, prepare)
                seconds = time.perf_counter() - start
                results[set_name, method].append(overall)
                for style, value in per_style.items():
                    styles[set_name, method, style].append(value)
                print(
                    f"seed {seed} {set_name:6} {method:20} {overall:.4f}  "
                    f"({1000 * seconds / len(pictures):.1f} ms/picture incl. inference)",
                    flush=True,
                )

    print(f"\n| set | method | accuracy (mean ± std over {len(args.seeds)} seeds) |\n|---|---|---|")
    for (set_name, method), values in results.items():
        print(f"| {set_name} | {method} | {np.mean(values):.4f} ± {np.std(values):.4f} |")
    print("\n| set | method | style | accuracy |\n|---|---|---|---|")
    for (set_name, method, style), values in styles.items():
        print(f"| {set_name} | {method} | {style} | {np.mean(values):.4f} |")


if __name__ == "__main__":
    main()
