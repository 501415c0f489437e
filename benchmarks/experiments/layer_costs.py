"""Cost of each fastcnn layer's forward + backward pass at one batch size, measured alone.

    python benchmarks/experiments/layer_costs.py --batch-size 128 --repeats 50

Each layer is wrapped in its own tf.function computing the forward pass and the gradients a training
step needs (weights; inputs too, except for the first layer). Milliseconds per step, CPU time and wall
time; read as shares of the whole step, which is what tells where the epoch goes.
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf


def cases(batch_size: int):
    """(name, layer, input shape per image, needs input gradient)."""
    layers = keras.layers
    return [
        ("conv1 5x5 1->16 valid", layers.Conv2D(16, 5, use_bias=False), (28, 28, 1), False),
        ("conv1 3x3 1->16 valid", layers.Conv2D(16, 3, use_bias=False), (28, 28, 1), False),
        ("conv1 5x5 1->24 valid", layers.Conv2D(24, 5, use_bias=False), (28, 28, 1), False),
        ("maxpool 24x24x16", layers.MaxPooling2D(2), (24, 24, 16), True),
        ("batchnorm 12x12x16", layers.BatchNormalization(momentum=0.9), (12, 12, 16), True),
        ("batchnorm 24x24x16", layers.BatchNormalization(momentum=0.9), (24, 24, 16), True),
        ("relu 12x12x16", layers.ReLU(), (12, 12, 16), True),
        ("conv2 3x3 16->32 valid", layers.Conv2D(32, 3, use_bias=False), (12, 12, 16), True),
        ("conv2 3x3 24->32 valid", layers.Conv2D(32, 3, use_bias=False), (12, 12, 24), True),
        ("maxpool 10x10x32", layers.MaxPooling2D(2), (10, 10, 32), True),
        ("dense 800->256 relu", layers.Dense(256, activation="relu"), (800,), True),
        ("dense 256->10 softmax", layers.Dense(10, activation="softmax"), (256,), True),
    ]


def measure(layer, shape, input_grad, batch_size, repeats):
    inputs = tf.constant(np.random.default_rng(0).random((batch_size, *shape), dtype=np.float32))
    layer.build((batch_size, *shape))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            if input_grad:
                tape.watch(x)
            y = layer(x, training=True)
            total = tf.reduce_sum(y * y)
        targets = layer.trainable_variables + ([x] if input_grad else [])
        return tape.gradient(total, targets) if targets else total

    step(inputs)  # trace once, outside the clock
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        result = step(inputs)
    _ = [np.asarray(r) for r in (result if isinstance(result, list) else [result])]
    return (time.perf_counter() - start) / repeats * 1e3, (time.process_time() - start_cpu) / repeats * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    table = {}
    for _ in range(args.rounds):
        for name, layer, shape, input_grad in cases(args.batch_size):
            wall, cpu = measure(layer, shape, input_grad, args.batch_size, args.repeats)
            table.setdefault(name, []).append((wall, cpu))
    print(f"batch {args.batch_size}: ms per step (median of {args.rounds} rounds of {args.repeats})")
    for name, values in table.items():
        walls, cpus = zip(*values, strict=True)
        print(f"{name:<26} wall {np.median(walls):6.2f}  cpu {np.median(cpus):6.2f}")


if __name__ == "__main__":
    main()
