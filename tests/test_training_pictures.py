"""The pictures a run shows of its training and its model: curves (with a monitor split and the kept
epoch), the misclassified gallery's titles, feature maps of every channel, and the model summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnistlab.classifier import KerasClassifier, SklearnClassifier
from mnistlab.evaluation.feature_maps import feature_maps, feature_maps_figure
from mnistlab.evaluation.plots import kept_epoch, probability_bars_figure, training_curves_figure

CLASSES = [str(digit) for digit in range(10)]


def _history(epochs: int, monitor: bool = False, best: int | None = None) -> pd.DataFrame:
    """A history.csv frame; val_loss is lowest at `best` (default: the last epoch)."""
    best = best or epochs
    epoch = np.arange(1, epochs + 1)
    frame = {
        "epoch": epoch,
        "loss": 1.0 / epoch,
        "accuracy": 1 - 0.1 / epoch,
        "val_loss": 0.5 + 0.1 * np.abs(epoch - best),
        "val_accuracy": 0.9 - 0.01 * np.abs(epoch - best),
    }
    if monitor:
        frame.update(monitor_loss=0.6 + 0.05 * epoch, monitor_accuracy=0.85 + 0.01 * epoch)
    return pd.DataFrame(frame)


def _lines(figure) -> dict[str, object]:
    return {line.get_label(): line for line in figure.axes[0].get_lines()}


@pytest.mark.parametrize("epochs", [0, 1])
def test_no_curve_for_fewer_than_two_epochs(epochs):
    assert training_curves_figure(_history(epochs)) is None
    # a forest's history: its single fit as epoch 1
    assert training_curves_figure(pd.DataFrame({"epoch": [1], "loss": [0.1], "accuracy": [1.0]})) is None


def test_monitor_curves_are_drawn_dashed_and_labelled_as_watched_only():
    figure = training_curves_figure(_history(4, monitor=True))
    for axes, metric in zip(figure.axes, ("monitor_loss", "monitor_accuracy"), strict=True):
        lines = {line.get_label(): line for line in axes.get_lines()}
        monitor = lines["monitor (watched only, never selects)"]
        assert monitor.get_linestyle() == "--"
        np.testing.assert_allclose(monitor.get_ydata(), _history(4, monitor=True)[metric])
    assert "monitor (watched only, never selects)" not in _lines(training_curves_figure(_history(4)))


def test_the_kept_epoch_is_marked_when_it_is_not_the_last():
    assert kept_epoch(_history(5, best=2)) == 2
    assert kept_epoch(_history(5)) is None
    assert kept_epoch(_history(5).drop(columns=["val_loss"])) is None
    marked = _lines(training_curves_figure(_history(5, best=2)))
    [label] = [label for label in marked if label.startswith("kept")]
    assert label == "kept: epoch 2 (lowest val_loss)"
    assert list(marked[label].get_xdata()) == [2, 2]
    assert not [label for label in _lines(training_curves_figure(_history(5))) if label.startswith("kept")]


def test_gallery_titles_are_readable_and_never_overlap():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (6, 28, 28, 1), dtype=np.uint8)
    labels = np.array([4, 1, 2, 3, 7, 9])
    probabilities = np.full((6, 10), 0.003, dtype=np.float32)
    probabilities[np.arange(6), [9, 1, 8, 5, 1, 4]] = 0.973
    figure = probability_bars_figure(images, labels, probabilities, CLASSES, columns=2)
    figure.canvas.draw()
    titles = [text for text in figure.axes[0].texts if text.get_text().startswith("true ")]
    assert [text.get_text() for text in titles[:2]] == ["true 4 → 9 (0.97)", "true 1 → 1 (0.97)"]
    assert all(text.get_fontsize() >= 9 for text in titles)
    boxes = [text.get_window_extent() for text in titles]
    others = [text.get_window_extent() for text in figure.axes[0].texts if text not in titles]
    others += [image.get_window_extent() for image in figure.axes[0].get_images()]
    for index, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[index + 1 :] + others)


@pytest.fixture(scope="module")
def conv_classifier():
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", name="first"),
            keras.layers.Conv2D(20, 3, activation="relu", name="second"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    return KerasClassifier(model, Path("model.keras"))


def test_feature_maps_show_every_channel_of_every_conv_layer(conv_classifier):
    image = np.random.default_rng(1).integers(0, 255, (28, 28, 1), dtype=np.uint8)
    figure = feature_maps_figure(conv_classifier, image)
    numbers = [text.get_text() for axes in figure.axes for text in axes.texts]
    assert numbers == [str(channel) for channel in range(32)] + [str(channel) for channel in range(20)]
    headings = [text.get_text() for text in figure.texts]
    assert headings == ["first: 32 channels, each 26x26", "second: 20 channels, each 24x24"]
    # each map is drawn as it is, stretched to its own range: channel 17 of the first layer
    ((_, first), _) = feature_maps(conv_classifier, image)
    mosaic = figure.axes[1].get_images()[0].get_array()
    channel = first[..., 17]
    row, column = divmod(17, 16)
    top, left = row * (7 + 26 + 2) + 7, column * (26 + 2) + 1
    drawn = np.asarray(mosaic[top : top + 26, left : left + 26])
    span = channel.max() - channel.min()
    expected = (channel - channel.min()) / span if span > 0 else np.zeros_like(channel)
    np.testing.assert_allclose(drawn, expected, atol=1e-6)


def test_summary_prints_keras_own_table(conv_classifier):
    printed = []
    conv_classifier.summary(print_fn=lambda line, **_: printed.append(line))
    text = "\n".join(printed)
    assert "first (Conv2D)" in text and f"Total params: {conv_classifier.params:,}" in text


def test_summary_of_a_forest_is_a_short_table():
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(
        rng.random((40, 784)), np.arange(40) % 10
    )
    printed = []
    SklearnClassifier(forest, Path("model.skops")).summary(print_fn=printed.append)
    assert printed[0] == "sklearn model model.skops"
    assert printed[2].split()[:2] == ["estimator", "RandomForestClassifier"]
    assert printed[-1] == f"total parameters: {sum(tree.tree_.node_count for tree in forest.estimators_):,}"
