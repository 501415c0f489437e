"""fastcnn: a small CNN that reaches >= 99.0% test accuracy on MNIST in one epoch, in seconds on a CPU.

    mnistlab train --model fastcnn            # 1 epoch with the recipe's settings below
    model = mnistlab.get_model("fastcnn")     # (N, 28, 28, 1) float32 [0, 1] -> (N, 10) softmax

A stride-2 conv, a conv -> max-pool stage with one batch norm, and a dense head, trained with a
one-cycle schedule and label smoothing, in batches of 256. About 0.7M multiply-adds per image. Half of
the training digits are added again as other writers' low-resolution scans (`scans`), so that the
default model reads them too.
The measurements behind each choice are in benchmarks/RESULTS.md ("Training speed and accuracy").
"""

from __future__ import annotations

from mnistlab.models.registry import ModelSpec, register

# Batch-norm statistics must follow weights that change fast in a one-epoch run; Keras' default
# momentum of 0.99 averages over ~100 steps and lags behind, which costs accuracy at inference.
BATCH_NORM_MOMENTUM = 0.9


def build(input_shape, num_classes: int, filters: int = 16, hidden: int = 256):
    """filters: channels of the first conv (the second has twice as many); hidden: units of the dense layer.

    One batch norm, after the second conv's max-pool: there it normalises 800 values per image, 4x fewer
    than before the pool (Keras' batch norm costs about as much as a conv here). It is what lets the
    one-cycle schedule peak at a high learning rate; one after the first conv as well costs more time
    than it gives accuracy.
    """
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            # stride 2 rather than a max-pool after a stride-1 conv: 4x fewer values to compute, store and
            # pool; with one input channel this layer is bound by memory traffic, not by multiply-adds
            layers.Conv2D(filters, 5, strides=2, activation="relu"),  # (28, 28, 1) -> (12, 12, 16)
            layers.Conv2D(2 * filters, 3, use_bias=False),  # -> (10, 10, 32); BN's beta is the bias
            layers.MaxPooling2D(2),  # -> (5, 5, 32): pooling first leaves BN 4x fewer values
            layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM),
            layers.ReLU(),
            layers.Flatten(),  # -> (800,)
            layers.Dense(hidden, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="fastcnn",
    )


register(
    ModelSpec(
        name="fastcnn",
        description="Small batch-norm CNN: >= 99.0% test accuracy in one epoch, in seconds on a CPU",
        build=build,
        kind="keras",
        expected_accuracy=0.991,  # 99.11 ± 0.06% over seeds 0-2 (benchmarks/RESULTS.md)
        params=212_778,
        defaults={
            "epochs": 1,
            "batch_size": 256,
            "optimizer": "adam",
            "lr": 3e-2,  # peak of the one-cycle schedule, for batches of 256
            "schedule": "onecycle",
            "warmup": 0.2,
            "label_smoothing": 0.1,
            # half as many again as other writers' low-resolution scans (mnistlab.pictures.scans): other
            # writers' digits read 83.6% -> 87.1% (3 seeds) with a quarter, 1.1 points more with half, and
            # MNIST test 99.11 -> 99.18%, for 1.17x the training time of a quarter (benchmarks/RESULTS.md)
            "scans": 0.5,
            # float32. "--precision auto" (bf16 on CPUs with AVX512-BF16) trains in 0.84-0.90x the time on
            # such a CPU (AMD EPYC, 2 cores: 2.72 s against 3.24 s, seeds 0-2), but its lowest seed falls
            # to 98.94% (99.01% in float32), and short runs can diverge: one epoch on 600 images (seed 1)
            # ended at 9.8% in bf16 (benchmarks/RESULTS.md, "The AVX-512 (Zen 5) kind").
        },
    )
)
