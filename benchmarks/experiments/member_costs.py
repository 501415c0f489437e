"""What one ensemble member costs to train on this CPU: `best` against the networks published near 99.8%.

    python benchmarks/experiments/member_costs.py --steps 20 --rounds 3

The published single networks nearest 99.8% on MNIST (An et al. 2020, arXiv:2008.10400) keep the full
28x28 resolution: a stack of "valid" convolutions with batch norm and ReLU, no pooling, and one dense
layer on the last feature map. Their code trains each network for 150 epochs (Adam 1e-3 decaying by 0.98
per epoch, rotations up to 20 degrees and shifts up to 20%). Built here from that description, with
`best`'s augmentation layers in front:

    simple3: ten 3x3 convolutions of 32, 48, ..., 176 channels (28 -> 8), dense to 10
    simple5: five 5x5 convolutions of 32, 64, 96, 128, 160 channels (28 -> 8), dense to 10
    simple7: four 7x7 convolutions of 48, 96, 144, 192 channels (28 -> 4), dense to 10

Each network is compiled with Adam and cross-entropy and trained on real MNIST batches of 128, its
augmentation on; a few steps warm up (graph tracing), then --steps steps
are timed. Printed per network and precision: milliseconds per step (wall, and the process's CPU time),
seconds per 60,000-image epoch, and what 20 and 150 epochs would take. Rounds alternate the networks,
so a busy machine slows all alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before Keras loads TensorFlow

import keras  # noqa: E402
from common import load_mnist  # noqa: E402

from mnistlab.models import best  # noqa: E402
from mnistlab.training.runtime import precision_policy  # noqa: E402

BATCH = 128
STEPS_PER_EPOCH = -(-60_000 // BATCH)
WARMUP_STEPS = 5


def build_simple(kernel_size: int):
    """A stack of unpadded convolutions with batch norm and ReLU down to a small map, then one dense layer."""
    channels = {3: range(32, 177, 16), 5: range(32, 161, 32), 7: range(48, 193, 48)}[kernel_size]
    layers = keras.layers

    def build(input_shape, num_classes: int):
        convolutions = [layer for count in channels for layer in best._conv(layers, count, kernel_size)]
        return keras.Sequential(
            [
                keras.Input(input_shape),
                *best.augmentation(layers),
                *convolutions,
                layers.Flatten(),
                layers.Dense(num_classes, activation="softmax"),
            ],
            name=f"simple{kernel_size}",
        )

    return build


CANDIDATES = {
    "best": best.build,
    "simple3": build_simple(3),
    "simple5": build_simple(5),
    "simple7": build_simple(7),
}


class StepClock(keras.callbacks.Callback):
    """Wall and process CPU seconds of the training steps after the first WARMUP_STEPS (graph tracing)."""

    def on_train_batch_begin(self, batch, logs=None):
        if batch == WARMUP_STEPS:
            self.start = (time.perf_counter(), time.process_time())

    def on_train_end(self, logs=None):
        self.elapsed = (time.perf_counter() - self.start[0], time.process_time() - self.start[1])


def step_seconds(name: str, precision: str, images, labels, steps: int) -> tuple[float, float]:
    """(wall, CPU) seconds per training step of one freshly built network, after its warm-up steps."""
    with precision_policy(precision):
        model = CANDIDATES[name]((28, 28, 1), 10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    count = (WARMUP_STEPS + steps) * BATCH
    clock = StepClock()
    model.fit(images[:count], labels[:count], batch_size=BATCH, shuffle=False, verbose=0, callbacks=[clock])
    return clock.elapsed[0] / steps, clock.elapsed[1] / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="repeats, the networks alternating")
    parser.add_argument("--networks", default=",".join(CANDIDATES), help="comma-separated names")
    parser.add_argument("--precisions", default="float32,bfloat16", help="float32 and/or bfloat16")
    args = parser.parse_args()
    (images, labels), _ = load_mnist()
    precisions = args.precisions.split(",")
    cases = [(name, precision) for name in args.networks.split(",") for precision in precisions]
    times: dict[tuple[str, str], list[tuple[float, float]]] = {case: [] for case in cases}
    for round_index in range(args.rounds):
        for case in cases:
            wall, cpu = step_seconds(*case, images, labels, args.steps)
            times[case].append((wall, cpu))
            label = f"round {round_index + 1}: {' '.join(case)}"
            print(f"{label}: {1000 * wall:.1f} ms/step ({1000 * cpu:.0f} ms CPU)", flush=True)
    header = ("network", "precision", "ms/step", "CPU ms", "s/epoch", "20 epochs", "150 epochs")
    print("\n{:<9} {:<9} {:>14} {:>7} {:>8} {:>10} {:>11}".format(*header))
    for (name, precision), values in times.items():
        walls = [wall for wall, _ in values]
        mean = statistics.mean(walls)
        spread = statistics.stdev(walls) if len(walls) > 1 else 0.0
        cpu = statistics.mean(cpu for _, cpu in values)
        epoch = mean * STEPS_PER_EPOCH
        print(
            f"{name:<9} {precision:<9} {1000 * mean:>8.1f} ± {1000 * spread:<4.1f} {1000 * cpu:>7.0f}"
            f" {epoch:>8.1f} {20 * epoch / 60:>8.1f} m {150 * epoch / 3600:>9.1f} h"
        )


if __name__ == "__main__":
    main()
