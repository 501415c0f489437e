"""Multinomial logistic regression: every pixel votes for every class, one softmax.

    (N, 28, 28, 1) -> Flatten (N, 784) -> Dense(10, softmax): 7,850 parameters.

The linear baseline of the tutorials (they reach about 91-92%); better optimization does not help much
beyond 92.5%, because one hyperplane per digit is all this model can draw.
"""

from __future__ import annotations

from mnistlab.models.registry import ModelSpec, register


def build(input_shape, num_classes):
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),
            # float32 output: under bfloat16 compute, probabilities stay exact enough for log()
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ],
        name="logreg",
    )


register(
    ModelSpec(
        name="logreg",
        description="Logistic regression: Flatten -> Dense(10, softmax)",
        build=build,
        expected_accuracy=0.9278,  # measured by `make test-accuracy` (seed 0)
        params=7_850,
        defaults={"epochs": 20, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    )
)
