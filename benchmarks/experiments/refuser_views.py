"""Which views of a picture the refuser should average: its answers for the prepared picture and for
moved, scaled or turned copies of it, each way compared at one operating point: the threshold that refuses
0.6% of the held-out digit photos the shipped threshold was chosen on.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/experiments/refuser_views.py \
        --examples FILE.npz [--count 500] [--seed 0]

FILE.npz: the examples file benchmarks/train_refuser.py keeps (--cache); its held_digits are the
threshold's digits. The pictures are bench_refusal.py's, prepared by mnistlab.preprocess as predict does;
a picture without ink is refused whatever the views.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_refusal import picture_sets  # noqa: E402

ONE_PIXEL = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
DIAGONALS = ((1, 1), (1, -1), (-1, 1), (-1, -1))
TWO_PIXELS = ((2, 0), (-2, 0), (0, 2), (0, -2))
HELD_OUT_REFUSED = 0.006


def transformed(pixels: np.ndarray, scale: float = 1.0, degrees: float = 0.0) -> np.ndarray:
    """(N, 28, 28, 1) pictures scaled and turned about the field's centre (14, 14), where MNIST's
    preparation puts the centre of mass."""
    angle = np.deg2rad(degrees)
    matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    centre = np.array([14.0, 14.0])
    offset = centre - matrix @ centre
    out = np.empty_like(pixels)
    for index, picture in enumerate(pixels[..., 0]):
        out[index, ..., 0] = ndimage.affine_transform(picture, matrix, offset, order=1, mode="constant")
    return out


def views(pixels: np.ndarray, name: str) -> list[np.ndarray]:
    from mnistlab.recognition.refuser import shifted

    moves = {"one view": ((0, 0),), "5 moves (shipped)": ONE_PIXEL, "9 moves": ONE_PIXEL + DIAGONALS}
    moves["13 moves"] = ONE_PIXEL + DIAGONALS + TWO_PIXELS
    if name in moves:
        return [shifted(pixels, down, right) for down, right in moves[name]]
    if name == "5 moves + scaled 0.9, 1.1":
        return views(pixels, "5 moves (shipped)") + [transformed(pixels, scale) for scale in (0.9, 1.1)]
    if name == "5 moves + turned -10, +10 degrees":
        return views(pixels, "5 moves (shipped)") + [transformed(pixels, 1.0, turn) for turn in (-10, 10)]
    raise ValueError(name)


WAYS = {  # name -> (views, how the views' digit probabilities are combined)
    "one view": ("one view", "mean"),
    "5 moves, mean (shipped)": ("5 moves (shipped)", "mean"),
    "5 moves, geometric mean": ("5 moves (shipped)", "geometric"),
    "5 moves, smallest": ("5 moves (shipped)", "min"),
    "9 moves, mean": ("9 moves", "mean"),
    "13 moves, mean": ("13 moves", "mean"),
    "5 moves + 2 scales, mean": ("5 moves + scaled 0.9, 1.1", "mean"),
    "5 moves + 2 turns, mean": ("5 moves + turned -10, +10 degrees", "mean"),
}


def digit_probability(refuser, pictures: np.ndarray, way: str) -> np.ndarray:
    pixels = np.asarray(pictures, np.float32).reshape(-1, 28, 28, 1) / np.float32(255)
    view_name, combine = WAYS[way]
    answers = np.stack([refuser.run(view)[:, 0] for view in views(pixels, view_name)])
    if combine == "mean":
        return answers.mean(axis=0)
    if combine == "geometric":
        return np.exp(np.log(np.clip(answers, 1e-7, 1)).mean(axis=0))
    return answers.min(axis=0)


def prepared(pictures: list) -> tuple[np.ndarray, np.ndarray]:
    """Each picture prepared as predict does -> (prepared (N, 28, 28) uint8, whether any ink was found)."""
    import mnistlab
    from mnistlab.pictures.images import NoDigitError

    out, inked = np.zeros((len(pictures), 28, 28), np.uint8), np.ones(len(pictures), bool)
    for index, picture in enumerate(pictures):
        try:
            out[index] = mnistlab.preprocess(picture[0] if isinstance(picture, tuple) else picture)
        except NoDigitError:
            inked[index] = False
    return out, inked


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import mnistlab
    from mnistlab.recognition.refuser import load_refuser

    refuser = load_refuser()
    with np.load(args.examples) as examples:
        held = examples["held_digits"]
    digit_sets, other_sets, _ = picture_sets(mnistlab.load("mnist", split="test"), args.count, args.seed)
    sets = {name: prepared(pictures) for name, pictures in {**digit_sets, **other_sets}.items()}
    print(
        f"# {args.count} pictures per set, seed {args.seed}; threshold: {HELD_OUT_REFUSED:.1%} of "
        f"{len(held)} held-out digit photos refused"
    )
    names = list(sets)
    print("| way | threshold | " + " | ".join(names) + " | non-digits, mean |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for way in WAYS:
        threshold = float(np.quantile(digit_probability(refuser, held, way), HELD_OUT_REFUSED))
        cells, others = [], []
        for name, (pictures, inked) in sets.items():
            refused = ~inked | (digit_probability(refuser, pictures, way) < threshold)
            cells.append(f"{refused.mean():.1%}")
            if name in other_sets:
                others.append(refused.mean())
        print(f"| {way} | {threshold:.4f} | " + " | ".join(cells) + f" | {np.mean(others):.1%} |")


if __name__ == "__main__":
    main()
