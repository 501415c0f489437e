"""fastcnn: a small CNN that reaches >= 99.0% test accuracy on MNIST in one epoch, in seconds on a CPU.

    mnistlab train --model fastcnn            # 1 epoch with the recipe's settings below
    model = mnistlab.get_model("fastcnn")     # (N, 28, 28, 1) float32 [0, 1] -> (N, 10) softmax

Two conv -> batch-norm -> ReLU -> max-pool stages and a dense head. Batch norm lets the one-cycle
schedule use a high peak learning rate, which is what makes a single epoch enough.
The measurements behind each choice are in benchmarks/RESULTS.md ("Training speed and accuracy").
"""

from __future__ import annotations

from mnistlab.models.registry import ModelSpec, register

# Batch-norm statistics must follow weights that change fast in a one-epoch run; Keras' default
# momentum of 0.99 averages over ~100 steps and lags behind, which costs accuracy at inference.
BATCH_NORM_MOMENTUM = 0.9


def _conv_block(layers, filters: int, kernel_size: int):
    # no conv bias: the batch norm's beta plays that role
    return [
        layers.Conv2D(filters, kernel_size, use_bias=False),
        layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM),
        layers.ReLU(),
        layers.MaxPooling2D(2),
    ]


def build(input_shape, num_classes: int, filters: int = 24, hidden: int = 256):
    """filters: channels of the first conv (the second has 4/3 as many); hidden: units of the dense layer."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(input_shape),
            *_conv_block(layers, filters, 5),  # (28, 28, 1) -> (24, 24, 24) -> (12, 12, 24)
            *_conv_block(layers, filters * 4 // 3, 3),  # -> (10, 10, 32) -> (5, 5, 32)
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
        expected_accuracy=0.990,
        architecture={"filters": 24, "hidden": 256},
        defaults={
            "epochs": 1,
            "batch_size": 128,
            "optimizer": "adam",
            "lr": 1e-2,
            "schedule": "onecycle",
            "warmup": 0.2,
            "label_smoothing": 0.1,
        },
    )
)
