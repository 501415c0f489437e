"""The tutorial's small convolutional network.

    (N, 28, 28, 1) -> Conv2D(filters=32, 3x3, relu) (N, 26, 26, 32) -> MaxPool(2) (N, 13, 13, 32)
      -> Flatten (N, 5408) -> Dense(hidden=128, relu) -> Dense(10, softmax)

693,962 parameters at the defaults, nearly all in the first Dense layer (5408*128 + 128).
The Keras/TensorFlow tutorials report about 98.7%.
"""

from __future__ import annotations

from mnistlab.models.registry import ModelSpec, register


def build(input_shape, num_classes, filters: int = 32, hidden: int = 128, dropout: float = 0.0):
    import keras

    stack = [
        keras.Input(shape=input_shape),
        keras.layers.Conv2D(filters, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="relu"),
    ]
    if dropout:
        stack.append(keras.layers.Dropout(dropout))
    stack.append(keras.layers.Dense(num_classes, activation="softmax", dtype="float32"))
    return keras.Sequential(stack, name="cnn")


register(
    ModelSpec(
        name="cnn",
        description="CNN: Conv2D(32, 3x3) -> MaxPool(2) -> Dense(128) -> Dense(10)",
        build=build,
        expected_accuracy=0.9863,  # measured by `make test-accuracy` (seed 0)
        params=693_962,
        defaults={"epochs": 10, "batch_size": 128, "lr": 1e-3, "optimizer": "adam"},
    )
)
