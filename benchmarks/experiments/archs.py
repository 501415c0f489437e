"""Candidate fastcnn architectures, by name: build(name) -> uncompiled keras.Model.

Every candidate is two conv stages and a dense head, varied by `stack(...)` keyword arguments:
    filters1/kernel1, filters2/kernel2: conv channels and kernel sizes ("valid" padding)
    strides1, strides2: stride of each conv; 2 replaces the conv's max-pool
    batch_norm: "all", "none", "second" (only the second conv) or "dense" (only the hidden dense layer)
    pool_first: conv -> max-pool -> BN -> ReLU (BN and ReLU on 4x fewer values)
        instead of conv -> BN -> ReLU -> max-pool
    input_pool: max-pool the 28x28 input to 14x14 before the first conv
    hidden: units of the dense layer before the softmax (0: none)
    standardize: 1 to shift and scale the input pixels to mean 0, std 1 (a Rescaling layer)
Shapes in comments are per image (H, W, C); MACs are forward multiply-adds per image.
"""

from __future__ import annotations


def stack(
    filters1=24,
    kernel1=5,
    strides1=1,
    filters2=32,
    kernel2=3,
    strides2=1,
    batch_norm="all",
    pool_first=False,
    input_pool=False,
    hidden=256,
    standardize=0,
):
    import keras

    layers = keras.layers

    def stage(filters, kernel, with_bn, strides=1):
        conv = layers.Conv2D(
            filters, kernel, strides=strides, use_bias=not with_bn, activation=None if with_bn else "relu"
        )
        norm = [layers.BatchNormalization(momentum=0.9), layers.ReLU()] if with_bn else []
        pool = [layers.MaxPooling2D(2)] if strides == 1 else []  # a strided conv downsamples by itself
        return [conv, *pool, *norm] if pool_first else [conv, *norm, *pool]

    head = [layers.Dense(hidden, activation="relu")] if hidden else []
    if hidden and batch_norm == "dense":
        head = [layers.Dense(hidden, use_bias=False), layers.BatchNormalization(momentum=0.9), layers.ReLU()]
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            # MNIST pixel mean 0.1307 and std 0.3081 (of [0, 1] values) -> mean 0, std 1
            *([layers.Rescaling(1 / 0.3081, offset=-0.1307 / 0.3081)] if standardize else []),
            *([layers.MaxPooling2D(2)] if input_pool else []),
            *stage(filters1, kernel1, batch_norm == "all", strides1),
            *stage(filters2, kernel2, batch_norm in ("all", "second"), strides2),
            layers.Flatten(),
            *head,
            layers.Dense(10, activation="softmax"),
        ]
    )


CANDIDATES = {
    # (24,24,24) 345k MACs -> pool (12,12,24) -> (10,10,32) 691k -> pool (5,5,32) -> 800 -> 256 205k: 1.24M
    "v0": {},
    "v0-nobn": {"batch_norm": "none"},
    "v0-bn2": {"batch_norm": "second"},
    "v0-pf": {"pool_first": True},
    "v0-pf-h128": {"pool_first": True, "hidden": 128},
    "n16-pf": {"filters1": 16, "pool_first": True},
    "k3-pf": {"kernel1": 3, "pool_first": True},  # (26,26,24) 146k -> pool 13 -> (11,11,32) 836k
    # input pooled to 14x14: (12,12,32) 3x3 41k -> (6,6,32) -> (4,4,64) 295k -> 1024 -> 128: 0.47M
    "pool1": {"input_pool": True, "filters1": 32, "kernel1": 3, "filters2": 64, "hidden": 128},
    "pool1-pf": {
        "input_pool": True,
        "filters1": 32,
        "kernel1": 3,
        "filters2": 64,
        "hidden": 128,
        "pool_first": True,
    },
}


def _parse(text: str) -> dict:
    """ "filters1=16,hidden=128,pool_first=1" -> stack() keyword arguments."""
    settings = {}
    for item in text.split(","):
        key, value = item.split("=")
        settings[key] = value if key == "batch_norm" else int(value)
    return settings


def build(name: str):
    """A name from CANDIDATES, "floor" (Flatten -> Dense: the loop's own cost), or stack() settings."""
    if name == "floor":
        import keras

        return keras.Sequential(
            [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
        )
    return stack(**(CANDIDATES[name] if name in CANDIDATES else _parse(name)))
