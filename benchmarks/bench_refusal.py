"""Refusing what is not one digit: refusals of real digits against refusals of non-digits, as photos.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_refusal.py RUN \
        [--count 500] [--seed 0] [--refuser shipped FOLDER ...]

Every picture goes through `mnistlab.predict`, the production path (decode, preprocess, classifier,
refuser). Digits: MNIST test digits rendered as phone photos (photo_digits.py), in MNIST's pen and in
finer ones (a fine pen or a ballpoint), and sklearn's load_digits (43 other writers) rendered as scans
and as phone photos. Non-digits, none of them seen in training, rendered as photos the same way: letters
and symbols in fonts the refuser never saw (also in the finer pens), pen shapes it never saw (zigzags,
spirals), fresh draws of the kinds it trained on, and blank paper or a stain. For comparison, the only
lever before the refuser: refusing when the classifier's top probability is below the level that
refuses as many digit photos. --refuser measures the shipped refuser and/or those trained
into folders (benchmarks/train_refuser.py FOLDER), one after the other on the same pictures.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from photo_digits import (  # noqa: E402
    PEN_STYLES,
    PEN_WEIGHTS,
    STYLE_WEIGHTS,
    STYLES,
    photo_set,
    render_photo,
    scan_set,
)


def as_photos(pictures: np.ndarray, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [render_photo(picture, rng, rng.choice(STYLES, p=STYLE_WEIGHTS))[0] for picture in pictures]


def as_thin_pen_photos(pictures: np.ndarray, seed: int) -> list[bytes]:
    """Photographed in pen or pencil with a pen finer than MNIST's: a fine pen or a ballpoint, in turns."""
    rng = np.random.default_rng(seed)
    styles = rng.choice(PEN_STYLES, size=len(pictures), p=PEN_WEIGHTS)
    pens = ("fine", "ballpoint")
    drawn = zip(pictures, styles, strict=True)
    return [
        render_photo(picture, rng, str(style), "plain", pens[i % 2])[0]
        for i, (picture, style) in enumerate(drawn)
    ]


def other_writers_as_photos(count: int, seed: int) -> list[tuple]:
    """sklearn's load_digits brought to MNIST's format (enlarged 4x, cropped to the ink, fitted and
    centred), then photographed like the MNIST digits -> [(encoded picture, extension, label, style)]."""
    from scipy import ndimage
    from sklearn.datasets import load_digits

    from mnistlab.recognition.negatives import to_mnist

    digits = load_digits()
    rng = np.random.default_rng(seed)
    photos = []
    for index in rng.permutation(len(digits.target))[:count]:
        picture = to_mnist(np.clip(ndimage.zoom(digits.images[index] / 16, 4, order=1), 0, 1))
        style = str(rng.choice(STYLES, p=STYLE_WEIGHTS))
        data, extension = render_photo(picture, rng, style)
        photos.append((data, extension, int(digits.target[index]), style))
    return photos


def picture_sets(test: dict, count: int, seed: int) -> tuple[dict, dict, np.ndarray]:
    """The digit sets {name: [(picture, extension, label, ...)]}, the non-digit sets {name: [picture]} and
    the kinds of the fresh draws, `count` pictures each, drawn with `seed`; test: MNIST's test split."""
    from mnistlab.recognition.negatives import (
        HELD_OUT_FONTS,
        HELD_OUT_HANDWRITING,
        HELD_OUT_KINDS,
        TRAINING_KINDS,
        font_digits,
        handwriting_fonts,
        not_digits,
    )

    digit_sets = {
        "MNIST test digits as photos": photo_set(test["image"], test["label"], count, seed=seed),
        "other writers' scans (sklearn digits)": scan_set(count, seed=seed),
        "other writers' digits as photos (sklearn digits)": other_writers_as_photos(count, seed + 3),
        "MNIST test digits as photos, a fine pen or a ballpoint": [
            (photo, None, int(label))
            for photo, label in zip(
                as_thin_pen_photos(test["image"][-count:, ..., 0], seed + 6),
                test["label"][-count:],
                strict=True,
            )
        ],
    }
    unseen_hands = handwriting_fonts(HELD_OUT_HANDWRITING)
    if unseen_hands:  # fetched by benchmarks/handwriting_fonts.py
        hand_digits, hand_labels = font_digits(count, seed + 105, fonts=unseen_hands)
        photos = as_photos(hand_digits, seed + 5)
        digit_sets["digits in unseen handwriting fonts, as photos"] = [
            (photo, None, int(label)) for photo, label in zip(photos, hand_labels, strict=True)
        ]
    letters, _ = not_digits(count, seed + 100, kinds=("letter", "symbol"), fonts=HELD_OUT_FONTS)
    shapes, _ = not_digits(count, seed + 101, kinds=HELD_OUT_KINDS)
    fresh, fresh_kinds = not_digits(
        count, seed + 102, kinds=TRAINING_KINDS, digits=test["image"][5000:, ..., 0]
    )
    stains, _ = not_digits(count - count // 2, seed + 103, kinds=("blob",))
    stained = np.concatenate([np.zeros((count // 2, 28, 28), np.uint8), stains])
    other_sets = {
        "letters and symbols, unseen fonts": as_photos(letters, seed),
        **(
            {
                "letters and symbols, unseen handwriting fonts": as_photos(
                    not_digits(count, seed + 104, kinds=("letter", "symbol"), fonts=unseen_hands)[0], seed + 5
                )
            }
            if unseen_hands
            else {}
        ),
        "letters and symbols, unseen fonts, a fine pen or a ballpoint": as_thin_pen_photos(letters, seed + 7),
        "zigzags and spirals (never trained on)": as_photos(shapes, seed + 1),
        "fresh draws of the trained kinds": as_photos(fresh, seed + 2),
        "blank paper (half) and stains (half)": as_photos(stained, seed + 4),
    }
    return digit_sets, other_sets, fresh_kinds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--refuser",
        nargs="+",
        default=["shipped"],
        help="'shipped' or folders holding refuser.onnx + refuser.json, each measured on the same pictures",
    )
    args = parser.parse_args()

    import mnistlab
    from mnistlab.rundir import cpu_model

    count, seed = args.count, args.seed
    digit_sets, other_sets, fresh_kinds = picture_sets(mnistlab.load("mnist", split="test"), count, seed)
    print(
        f"# {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"# run {args.run}; {count} pictures per set, seed {seed}")
    for folder in args.refuser:
        print(f"\n## refuser: {folder}")
        measure(args.run, None if folder == "shipped" else folder, digit_sets, other_sets, fresh_kinds)


def measure(run, folder: str | None, digit_sets: dict, other_sets: dict, fresh_kinds: np.ndarray) -> None:
    """Print the tables for the refuser in `folder` (None: the shipped one), through mnistlab.predict."""
    import mnistlab
    from mnistlab.recognition import predict, refuser

    # predict() asks recognition.predict's load_refuser() for its refuser
    predict.load_refuser = functools.partial(refuser.load_refuser, folder)

    def answers(pictures) -> list[dict]:
        return mnistlab.predict(run, [p[0] if isinstance(p, tuple) else p for p in pictures], top_k=1)

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
    fresh = np.array([a["label"] is None for a in other_answers["fresh draws of the trained kinds"]])
    by_kind = ", ".join(f"{kind} {fresh[fresh_kinds == kind].mean():.0%}" for kind in np.unique(fresh_kinds))
    print(f"(fresh draws refused, by kind: {by_kind})")


if __name__ == "__main__":
    main()
