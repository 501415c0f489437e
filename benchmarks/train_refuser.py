"""Train the refuser shipped in src/mnistlab/recognition/ (refuser.onnx + refuser.json) and print its figures.

    .venv/bin/python benchmarks/handwriting_fonts.py        # once: 64 handwriting fonts (~4 MB)
    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/train_refuser.py \
        src/mnistlab/recognition [--cache /tmp/refuser-examples.npz]

Without the handwriting fonts the refuser trains on print-like fonts alone (as before 2026-11-29).

Drawing 60,000 non-digits, photographing 8,500 pictures (3,000 digits and 3,000 non-digits to learn
from, 2,500 held-out digits to choose the threshold on) and making cheap photos (negatives.photo_like)
of 40% of the 110,000 clean examples, in 2 processes, took 67 minutes on 2 cores mostly taken by other
work; the fit from the --cache file (15 epochs, 17-49 s each) took 9 minutes. --cache keeps the
examples for another training with other epochs, learning rate or threshold (--start-from starts the
fit from a previous refuser.onnx). The figures (digits refused among held-out MNIST training
digits, as photos and clean; non-digits refused among held-out fonts, held-out shapes and fresh draws)
land in refuser.json and in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from mnistlab.recognition.refuser import train
from mnistlab.rundir import cpu_model

sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_digits import PEN_STYLES, PEN_WEIGHTS, STYLE_WEIGHTS, STYLES, render_photo  # noqa: E402


def photograph(picture, rng):
    return render_photo(picture, rng, rng.choice(STYLES, p=STYLE_WEIGHTS))[0]


def thin_photograph(picture, rng):
    """In pen or pencil, with a fine pen or a ballpoint (photo_digits.py)."""
    style = rng.choice(PEN_STYLES, p=PEN_WEIGHTS)
    return render_photo(picture, rng, style, "plain", rng.choice(["fine", "ballpoint"]))[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--cache", type=Path, help="an .npz file keeping the drawn and photographed examples")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument(
        "--refused-digits", type=float, default=0.006, help="share of held-out digit photos refused"
    )
    parser.add_argument("--start-from", type=Path, help="a refuser.onnx whose weights the fit starts from")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's, before cosine decay")
    parser.add_argument(
        "--thin-pens", action="store_true", help="also digits and non-digits photographed with finer pens"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    data_dir = os.environ.get("MNISTLAB_DATA_DIR")
    info = train(
        args.out,
        data_dir=data_dir,
        epochs=args.epochs,
        refused_digits=args.refused_digits,
        photograph=photograph,
        cache=args.cache,
        start_from=args.start_from,
        learning_rate=args.learning_rate,
        thin_photograph=thin_photograph if args.thin_pens else None,
    )
    print(json.dumps(info, indent=2))
    machine = f"{cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}"
    print(f"{time.perf_counter() - started:.0f} s on {machine}")
