"""Which members make a better ensemble? Members trained on part of the training set, scored on the rest.

    python benchmarks/experiments/ensemble_validation.py --out /tmp/ens-val --seeds 2 best deep
    python benchmarks/experiments/ensemble_validation.py --out /tmp/ens-val --seeds 1 best elastic7 elastic10
    python benchmarks/experiments/ensemble_validation.py --out /tmp/ens-val --seeds 1 \
        best simple5+precision=bfloat16

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

`elastic7`, `elastic10`: `best` with an elastic distortion before its rotation, shift and zoom (Simard
et al. 2003): each image is resampled through a smooth random displacement field, normal displacements of
0.7 or 1.0 pixels (std) at a 4x4 grid of control points, independent for rows and columns, bicubically
interpolated to every pixel. 1.0 pixels is about the strength of Simard's sigma=4, alpha=34.

`simple3`, `simple5`, `simple7`: the full-resolution networks of member_costs.py (unpadded convolutions,
no pooling), with `best`'s augmentation and training settings; with +precision=bfloat16 they take 0.7x
their float32 time.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras loads TensorFlow

import keras  # noqa: E402
from keras import ops  # noqa: E402
from member_costs import build_simple  # noqa: E402

from mnistlab.models import best  # noqa: E402

TRAIN_SIZE = 60_000


def build_deep(input_shape, num_classes: int, filters: int = 32, dropout: float = 0.4):
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
            *best.augmentation(layers),
            *stage(filters),  # 28 -> 26 -> 24 -> 12
            *stage(2 * filters),  # 12 -> 10 -> 8 -> 4
            *conv(4 * filters, 4),  # 4 -> 1
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="deep",
    )


@keras.saving.register_keras_serializable(package="mnistlab_experiments")
class RandomElastic(keras.layers.Layer):
    """Training only: each image resampled (bilinear, black outside) through a smooth random field."""

    def __init__(self, magnitude: float = 1.0, grid: int = 4, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.magnitude, self.grid, self.seed = float(magnitude), int(grid), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        noise = keras.random.normal(
            (batch, self.grid, self.grid, 2), stddev=self.magnitude, seed=self.seed_generator
        )
        field = ops.image.resize(noise, (height, width), interpolation="bicubic")
        rows = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1)) + field[..., 0]
        cols = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width)) + field[..., 1]
        row0, col0 = ops.floor(rows), ops.floor(cols)
        flat = ops.reshape(images, (batch, height * width))
        out = 0.0
        for d_row, d_col in ((0, 0), (0, 1), (1, 0), (1, 1)):
            r, c = row0 + d_row, col0 + d_col
            weight = (1.0 - ops.abs(rows - r)) * (1.0 - ops.abs(cols - c))
            inside = (r >= 0) & (r <= height - 1) & (c >= 0) & (c <= width - 1)
            index = ops.cast(ops.clip(r, 0, height - 1) * width + ops.clip(c, 0, width - 1), "int32")
            picked = ops.take_along_axis(flat, ops.reshape(index, (batch, height * width)), axis=1)
            out = out + ops.reshape(picked, (batch, height, width)) * weight * ops.cast(inside, "float32")
        return ops.reshape(out, ops.shape(images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "magnitude": self.magnitude, "grid": self.grid, "seed": self.seed}


def build_elastic(magnitude: float):
    """A `best` builder with RandomElastic(magnitude) in front of the network `best.build` makes."""

    def build(input_shape, num_classes: int, filters: int = 32, dropout: float = 0.3):
        network = best.build(input_shape, num_classes, filters=filters, dropout=dropout)
        layers = [keras.Input(input_shape), RandomElastic(magnitude), *network.layers]
        return keras.Sequential(layers, name=f"elastic{magnitude:g}")

    return build


def register_candidates() -> None:
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
    for kernel_size in (3, 5, 7):
        register(
            ModelSpec(
                name=f"simple{kernel_size}",
                description=f"candidate: unpooled {kernel_size}x{kernel_size} convolutions (member_costs.py)",
                build=build_simple(kernel_size),
                kind="keras",
                architecture={},
                defaults=best.DEFAULTS,
            )
        )
    for tenths in (7, 10):
        register(
            ModelSpec(
                name=f"elastic{tenths}",
                description=f"candidate: best with elastic distortions of {tenths / 10} pixels",
                build=build_elastic(tenths / 10),
                kind="keras",
                architecture={"filters": 32, "dropout": 0.3},
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
    import mnistlab
    from mnistlab.evaluation.bench import parse_recipe
    from mnistlab.training.run import load_run

    run_dir = out / f"{variant}-seed{seed}"
    run = load_run(run_dir) if run_dir.exists() else None
    if run is None:
        name, settings = parse_recipe(variant)
        if epochs:
            settings = {"epochs": epochs, **settings}
        run = mnistlab.train(
            name, train_split=f"train[:{cut}]", seed=seed, progress=False, out=str(run_dir), **settings
        )
    elif not run.metrics:  # interrupted
        run = mnistlab.train(resume=str(run_dir))
    scores = run_dir / ("val_probabilities.npy" if shifts == 1 else f"val_probabilities_{shifts}.npy")
    if not scores.exists():
        probabilities = np.mean(
            [
                run.model.predict(shifted(val_images, *move), batch_size=1000, verbose=0)
                for move in SHIFTS[shifts]
            ],
            axis=0,
        )
        np.save(scores, probabilities)
    return np.load(scores), run.metrics["train_seconds"]


def main() -> None:
    from mnistlab.classifier import to_float
    from mnistlab.data.load import load

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
