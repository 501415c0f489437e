"""Which members make a better ensemble? Members trained on part of the training set, scored on the rest.

    python benchmarks/experiments/ensemble_validation.py --out /tmp/ens-val --seeds 2 best deep

Each (seed, variant) is a real `mnistlab.train` run on the first 60,000 - val_size training images;
its saved model then scores the last val_size images, and the probabilities are kept in --out, so an
interrupted study resumes where it stopped. --shifts 5 or 9 averages each member over its input and the
input moved by one pixel (test-time augmentation). Printed: each member's validation accuracy and time, then
the accuracy of averaged probabilities for every pair of members and for each group (all members of one
variant, and all members together), with how often the two members of a pair disagree. The test split
plays no part.

`deep` is a candidate registered here, not in the zoo: three stages of two 3x3 convolutions and a
strided 5x5 one (in place of pooling), each with batch norm, then a 4x4 convolution to 128 features;
dropout 0.4 after each stage, and the `best` recipe's augmentation and training settings. About 2x
the multiply-adds of `best`.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TRAIN_SIZE = 60_000


def build_deep(input_shape, num_classes: int, filters: int = 32, dropout: float = 0.4):
    import keras

    from mnistlab.models.best import augmentation

    layers = keras.layers

    def conv(count, kernel_size, strides=1, padding="valid"):
        return [
            layers.Conv2D(count, kernel_size, strides=strides, padding=padding, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
        ]

    def stage(count):
        return [
            *conv(count, 3),
            *conv(count, 3),
            *conv(count, 5, strides=2, padding="same"),
            layers.Dropout(dropout),
        ]

    return keras.Sequential(
        [
            keras.Input(input_shape),
            *augmentation(layers),
            *stage(filters),  # 28 -> 26 -> 24 -> 12
            *stage(2 * filters),  # 12 -> 10 -> 8 -> 4
            *conv(4 * filters, 4),  # 4 -> 1
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="deep",
    )


def register_candidates() -> None:
    from mnistlab.models import best
    from mnistlab.models.registry import ModelSpec, get_spec, register

    get_spec("best")  # discover the zoo first
    register(
        ModelSpec(
            name="deep",
            description="candidate: deeper batch-norm CNN with strided convolutions",
            build=build_deep,
            kind="keras",
            architecture={"filters": 32, "dropout": 0.4},
            defaults=best.DEFAULTS,
        )
    )


# --shifts: the positions averaged at test time, (rows, columns) moved; empty pixels are black
SHIFTS = {
    1: [(0, 0)],
    5: [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
    9: [(rows, columns) for rows in (-1, 0, 1) for columns in (-1, 0, 1)],
}


def shifted(images: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """(N, H, W, C) images moved down `rows` and right `columns` pixels (negative: up, left)."""
    height, width = images.shape[1:3]
    moved = np.zeros_like(images)
    moved[:, max(rows, 0) : height + min(rows, 0), max(columns, 0) : width + min(columns, 0)] = images[
        :, max(-rows, 0) : height - max(rows, 0), max(-columns, 0) : width - max(columns, 0)
    ]
    return moved


def member(
    out: Path, variant: str, seed: int, cut: int, epochs: int | None, val_images, shifts: int = 1
) -> tuple[np.ndarray, float]:
    """Train (or resume, or reuse) one member; its validation probabilities and training seconds."""
    import json

    import keras

    import mnistlab
    from mnistlab.bench import parse_recipe

    run_dir = out / f"{variant}-seed{seed}"
    scores = run_dir / ("val_probabilities.npy" if shifts == 1 else f"val_probabilities_{shifts}.npy")
    if not scores.exists():
        name, settings = parse_recipe(variant)
        if epochs:
            settings = {"epochs": epochs, **settings}
        if (run_dir / "metrics.json").exists():
            pass  # trained; only its validation scores are missing
        elif (run_dir / "config.json").exists():
            mnistlab.train(resume=str(run_dir))
        else:
            mnistlab.train(
                name, train_split=f"train[:{cut}]", seed=seed, progress=False, out=str(run_dir), **settings
            )
        model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
        probabilities = np.mean(
            [
                model.predict(shifted(val_images, *move), batch_size=1000, verbose=0)
                for move in SHIFTS[shifts]
            ],
            axis=0,
        )
        np.save(scores, probabilities)
    seconds = json.loads((run_dir / "metrics.json").read_text())["train_seconds"]
    return np.load(scores), seconds


def main() -> None:
    from mnistlab.data.load import load
    from mnistlab.models.loading import to_float

    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--out", required=True, help="folder for the members' runs and scores")
    parser.add_argument("--shifts", type=int, choices=sorted(SHIFTS), default=1, help="test-time positions")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1")
    parser.add_argument("--epochs", type=int, default=None, help="default: each recipe's own")
    parser.add_argument("--val-size", type=int, default=10_000, help="the last N train images validate")
    args = parser.parse_args()
    register_candidates()
    cut = TRAIN_SIZE - args.val_size
    # the package's split order (tfds'), the one `train_split` above is cut from; not the IDX files' order
    val = load("mnist", split=f"train[{cut}:]")
    val_images, val_labels = to_float(val["image"]), val["label"]
    out = Path(args.out)
    probabilities = {}
    for seed in range(args.seeds):
        for variant in args.variants:
            scores, seconds = member(out, variant, seed, cut, args.epochs, val_images, args.shifts)
            probabilities[(variant, seed)] = scores
            accuracy = np.mean(scores.argmax(1) == val_labels)
            print(f"member {variant:<24} seed {seed}  val {accuracy:.4f}  {seconds:.0f} s", flush=True)

    def score(keys) -> float:
        return float(np.mean(np.mean([probabilities[key] for key in keys], axis=0).argmax(1) == val_labels))

    for first, second in itertools.combinations(sorted(probabilities), 2):
        disagree = np.mean(probabilities[first].argmax(1) != probabilities[second].argmax(1))
        print(f"pair  {first} + {second}: val {score([first, second]):.4f}  disagree {disagree:.4f}")
    for variant in args.variants:
        keys = [key for key in probabilities if key[0] == variant]
        print(f"group {variant} x{len(keys)}: val {score(keys):.4f}")
    print(f"group all x{len(probabilities)}: val {score(list(probabilities)):.4f}")


if __name__ == "__main__":
    main()
