"""Refusing what is not one digit: refusals of real digits against refusals of non-digits, as photos.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_refusal.py RUN \
        [--count 500] [--seed 0]

Every picture goes through `mnistlab.predict`, the production path (decode, preprocess, classifier,
refuser). Digits: MNIST test digits rendered as phone photos (photo_digits.py) and sklearn's load_digits
rendered as scans (43 other writers). Non-digits, none of them seen in training, rendered as photos the
same way: letters and symbols in fonts the refuser never saw, pen shapes it never saw (zigzags,
spirals), and fresh draws of the kinds it trained on. For comparison, the only lever before the refuser:
refusing when the classifier's top probability is below the level that refuses as many digit photos.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_digits import STYLE_WEIGHTS, STYLES, photo_set, render_photo, scan_set  # noqa: E402


def as_photos(pictures: np.ndarray, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [render_photo(picture, rng, rng.choice(STYLES, p=STYLE_WEIGHTS))[0] for picture in pictures]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import mnistlab
    from mnistlab.recognition.negatives import HELD_OUT_FONTS, HELD_OUT_KINDS, TRAINING_KINDS, not_digits
    from mnistlab.rundir import cpu_model

    count, seed = args.count, args.seed
    test = mnistlab.load("mnist", split="test")
    digit_sets = {
        "MNIST test digits as photos": photo_set(test["image"], test["label"], count, seed=seed),
        "other writers' scans (sklearn digits)": scan_set(count, seed=seed),
    }
    letters, _ = not_digits(count, seed + 100, kinds=("letter", "symbol"), fonts=HELD_OUT_FONTS)
    shapes, _ = not_digits(count, seed + 101, kinds=HELD_OUT_KINDS)
    fresh, _ = not_digits(count, seed + 102, kinds=TRAINING_KINDS, digits=test["image"][5000:, ..., 0])
    other_sets = {
        "letters and symbols, unseen fonts": as_photos(letters, seed),
        "zigzags and spirals (never trained on)": as_photos(shapes, seed + 1),
        "fresh draws of the trained kinds": as_photos(fresh, seed + 2),
    }
    print(
        f"# {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"# run {args.run}; {count} pictures per set, seed {seed}")

    def answers(pictures) -> list[dict]:
        return mnistlab.predict(args.run, [p[0] if isinstance(p, tuple) else p for p in pictures], top_k=1)

    digit_answers = {name: answers(pictures) for name, pictures in digit_sets.items()}
    other_answers = {name: answers(pictures) for name, pictures in other_sets.items()}
    photos = digit_answers["MNIST test digits as photos"]
    refused_photos = np.mean([a["label"] is None for a in photos])
    # The old lever: the top probability, at the level that refuses as many digit photos.
    top = np.array([a["top_k"][0]["probability"] if a["top_k"] else 0.0 for a in photos])
    level = np.quantile(top, refused_photos)

    print("\n| set | refused | read correctly |\n|---|---|---|")
    for name, pictures in digit_sets.items():
        got = digit_answers[name]
        labels = [p[2] for p in pictures]
        correct = np.mean([a["label"] == label for a, label in zip(got, labels, strict=True)])
        print(f"| {name} | {np.mean([a['label'] is None for a in got]):.1%} | {correct:.1%} |")
    print("\n| non-digits | refused by mnistlab | refused by the top-probability threshold |\n|---|---|---|")
    for name, got in other_answers.items():
        refused = np.mean([a["label"] is None for a in got])
        by_top = np.mean([(a["top_k"][0]["probability"] if a["top_k"] else 0.0) < level for a in got])
        print(f"| {name} | {refused:.1%} | {by_top:.1%} |")
    share = f"{refused_photos:.1%} of the digit photos"
    print(f"\n(top-probability level {level:.3f}: refuses {share}, as mnistlab does)")


if __name__ == "__main__":
    main()
