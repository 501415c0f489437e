"""What each convolution of a CNN sees: the activations of every Conv2D layer for one image.

    figure = feature_maps_figure(classifier, image)   # a Classifier; image: (28, 28, 1) uint8
    if figure is None: ...                         # the model has no Conv2D layer (an MLP, a forest)

A second keras.Model is built from model.inputs to the outputs of the Conv2D layers, so this works for
Sequential and functional models alike, on any Keras backend.
"""

from __future__ import annotations

import numpy as np

from mnistlab.classifier import Classifier, to_float
from mnistlab.evaluation.plots import new_figure

MAX_CHANNELS = 8  # feature maps shown per layer (the first ones)


def feature_maps(classifier: Classifier, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """[(layer name, activations (H, W, channels) float32)] for each Conv2D layer, for one image."""
    layers = classifier.conv_layers()
    if not layers:  # not a Keras CNN
        return []
    import keras

    model = classifier.model
    # A single input is passed as a tensor, not a one-element list, so calling the probe with an array fits.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs=inputs, outputs=[layer.output for layer in layers])
    pixels = to_float(np.asarray(image)[None])  # (1, 28, 28, 1) in [0, 1]
    outputs = probe(pixels, training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [
        # bfloat16 activations (a mixed-precision model) become float32, which matplotlib can draw
        (layer.name, keras.ops.convert_to_numpy(output)[0].astype(np.float32))
        for layer, output in zip(layers, outputs, strict=True)
    ]


def feature_maps_figure(classifier: Classifier, image: np.ndarray, max_channels: int = MAX_CHANNELS):
    """One row per Conv2D layer: the input image, then its first feature maps. None if there is no Conv2D."""
    maps = feature_maps(classifier, image)
    if not maps:
        return None
    columns = 1 + max(min(max_channels, activations.shape[-1]) for _, activations in maps)
    rows = len(maps)
    figure = new_figure(1.1 * columns, 1.3 * rows + 0.2, layout=None)
    grid = figure.add_gridspec(
        rows, columns, left=0.01, right=0.99, bottom=0.02, top=1 - 0.35 / rows, wspace=0.1, hspace=0.5
    )
    for row, (name, activations) in enumerate(maps):
        image_axes = figure.add_subplot(grid[row, 0])
        image_axes.imshow(np.asarray(image)[..., 0] if np.ndim(image) == 3 else image, cmap="gray_r")
        image_axes.set_title(f"{name}\n{tuple(activations.shape)}", fontsize=7)
        image_axes.set_axis_off()
        for channel in range(min(max_channels, activations.shape[-1])):
            axes = figure.add_subplot(grid[row, 1 + channel])
            axes.imshow(activations[..., channel], cmap="viridis")
            axes.set_title(f"#{channel}", fontsize=7)
            axes.set_axis_off()
    return figure
