"""A deeper fully connected network: five hidden layers of 256 units.

    (N, 28, 28, 1) -> Flatten (N, 784) -> layers=5 x Dense(hidden=256, relu) -> Dense(10, softmax)

466,698 parameters at the defaults. No convolutions: it sees pixels, not strokes, and stops near 98%.
"""

from __future__ import annotations

from mnistlab.models.registry import ModelSpec, register


def build(input_shape, num_classes, hidden: int = 256, layers: int = 5, dropout: float = 0.0):
    import keras

    stack = [keras.Input(shape=input_shape), keras.layers.Flatten()]
    for _ in range(layers):
        stack.append(keras.layers.Dense(hidden, activation="relu"))
        if dropout:
            stack.append(keras.layers.Dropout(dropout))
    stack.append(keras.layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return keras.Sequential(stack, name="dnn")


register(
    ModelSpec(
        name="dnn",
        description="Deep MLP: Flatten -> 5 x Dense(256, relu) -> Dense(10)",
        build=build,
        expected_accuracy=0.9800,  # measured by `make test-accuracy` (seed 0)
        params=466_698,
        defaults={"epochs": 10, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    )
)
