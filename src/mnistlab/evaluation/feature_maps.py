"""What each convolution of a CNN sees: the activations of every Conv2D layer for one image.

    figure = feature_maps_figure(classifier, image)   # a Classifier; image: (28, 28, 1) uint8
    if figure is None: ...                         # the model has no Conv2D layer (an MLP, a forest)

A second keras.Model is built from model.inputs to the outputs of the Conv2D layers, so this works for
Sequential and functional models alike, on any Keras backend. The figure shows every channel: one
mosaic per layer, MOSAIC_COLUMNS maps to a row, each map numbered.
"""

from __future__ import annotations

import io
import zipfile

import matplotlib
import numpy as np

from mnistlab.classifier import Classifier, to_float
from mnistlab.evaluation.plots import image_mosaic, new_figure
from mnistlab.files import atomic_write_bytes
from mnistlab.rundir import FEATURE_MAPS_FILE, fresh_record

MOSAIC_COLUMNS = 16  # feature maps per row of a layer's mosaic (32 channels: 2 rows, 64: 4)
FIGURE_WIDTH = 10.0  # inches


def feature_maps(classifier: Classifier, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """[(layer name, activations (H, W, channels) float32)] for each Conv2D layer, for one image: those
    recorded for this image and this model (see `record`), else computed with Keras."""
    maps = recorded(classifier, image)
    if maps is not None:
        return maps
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


def record(classifier: Classifier, image: np.ndarray) -> None:
    """Keep a Keras run's feature maps of `image` (the test image its report shows) in FEATURE_MAPS_FILE,
    so that evaluating it later, in a process without TensorFlow, draws them (see `recorded`)."""
    if classifier.kind != "keras" or classifier.run_dir is None:
        return
    maps = feature_maps(classifier, image)
    arrays = {f"map_{index}": activations for index, (_, activations) in enumerate(maps)}
    names = np.array([name for name, _ in maps], dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, image=np.asarray(image), names=names, **arrays)
    atomic_write_bytes(classifier.run_dir / FEATURE_MAPS_FILE, buffer.getvalue())


def recorded(classifier: Classifier, image: np.ndarray) -> list[tuple[str, np.ndarray]] | None:
    """The feature maps `record` kept for this very image, if written after the run's model; else None."""
    if classifier.kind != "keras" or classifier.run_dir is None:
        return None
    path = fresh_record(classifier.run_dir, FEATURE_MAPS_FILE)
    if path is None:
        return None
    try:
        with np.load(path, allow_pickle=False) as kept:
            if not np.array_equal(kept["image"].squeeze(), np.asarray(image).squeeze()):  # (28, 28[, 1])
                return None
            return [(str(name), kept[f"map_{index}"]) for index, name in enumerate(kept["names"])]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # damaged: computed again
        return None


def _scaled(activations: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (C, H, W), each channel stretched to [0, 1] on its own: channels differ in scale by
    orders of magnitude, and one shared scale would leave most of them black. A flat channel stays 0."""
    channels = np.moveaxis(activations.astype(np.float32), -1, 0)
    low = channels.min(axis=(1, 2), keepdims=True)
    span = channels.max(axis=(1, 2), keepdims=True) - low
    return np.divide(channels - low, span, out=np.zeros_like(channels), where=span > 0)


def feature_maps_figure(classifier: Classifier, image: np.ndarray, columns: int = MOSAIC_COLUMNS):
    """Every channel of every Conv2D layer for one image: per layer, the input image on the left and a
    mosaic of all its feature maps (numbered, each scaled to its own range) on the right.
    None if the model has no Conv2D layer."""
    maps = feature_maps(classifier, image)
    if not maps:
        return None
    gap, header = 2, 7  # pixels between maps; caption room (the channel number) above each map
    mosaics = []
    for _, activations in maps:
        channels = _scaled(activations)
        width = min(columns, len(channels))
        mosaic = image_mosaic(channels, width, header=header, gap=gap)
        tiles = image_mosaic(np.ones_like(channels), width, header=header, gap=gap) > 0
        mosaics.append((np.where(tiles, mosaic, np.nan), channels))  # NaN: the white paper around maps
    # Each layer's block: a title line, then its mosaic drawn at the width left of the input image.
    image_width, title_height = 1.1, 0.35  # inches
    mosaic_width = FIGURE_WIDTH - image_width - 0.2
    heights = [title_height + max(image_width, mosaic_width * m.shape[0] / m.shape[1]) for m, _ in mosaics]
    total = sum(heights)
    figure = new_figure(FIGURE_WIDTH, total, layout=None)
    top = total
    for (name, activations), (mosaic, channels), height in zip(maps, mosaics, heights, strict=True):
        top -= height
        block = height - title_height  # inches of this layer's pictures
        image_axes = figure.add_axes(
            (
                0.05 / FIGURE_WIDTH,
                (top + block - image_width) / total,
                image_width / FIGURE_WIDTH,
                image_width / total,
            )
        )
        image_axes.imshow(np.asarray(image)[..., 0] if np.ndim(image) == 3 else image, cmap="gray_r")
        image_axes.set_axis_off()
        mosaic_height = mosaic_width * mosaic.shape[0] / mosaic.shape[1]
        axes = figure.add_axes(
            (
                (image_width + 0.15) / FIGURE_WIDTH,
                (top + block - mosaic_height) / total,
                mosaic_width / FIGURE_WIDTH,
                mosaic_height / total,
            )
        )
        palette = matplotlib.colormaps["viridis"].with_extremes(bad="white")
        axes.imshow(mosaic, cmap=palette, interpolation="nearest", vmin=0, vmax=1)
        axes.set_axis_off()
        rows_used = -(-len(channels) // min(columns, len(channels)))
        cell_height, cell_width = mosaic.shape[0] / rows_used, mosaic.shape[1] / min(columns, len(channels))
        for channel in range(len(channels)):
            row, column = divmod(channel, min(columns, len(channels)))
            x, y = column * cell_width + cell_width / 2, row * cell_height + header - 1
            axes.text(x, y, str(channel), ha="center", va="bottom", fontsize=6, color="0.2")
        figure.text(
            0.05 / FIGURE_WIDTH,
            (top + height - 0.05) / total,
            f"{name}: {activations.shape[-1]} channels, each {activations.shape[0]}x{activations.shape[1]}",
            ha="left",
            va="top",
            fontsize=9,
        )
    return figure
