"""Pictures of a classifier's results; each function returns a matplotlib Figure and draws nothing on screen.

    figure = confusion_matrix_figure(confusion, class_names)
    save_figure(figure, out_dir / "confusion_matrix.png")        # PNG, written atomically

Figures are built with matplotlib's object API (no pyplot state), so they work headless (Agg), in threads
and in notebooks. Images are (N, 28, 28, 1) uint8 or (N, 28, 28) arrays; probabilities are (N, C) floats.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from mnistlab.files import atomic_write_bytes

TRUE_COLOR = "tab:blue"
PREDICTED_COLOR = "tab:red"
CORRECT_COLOR = "tab:green"
OTHER_COLOR = "0.75"  # light grey: probability bars of the classes that are neither true nor predicted
NOTE_COLOR = "tab:orange"  # a remark on an example, e.g. that an audit doubts its label


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """A Figure (inches) drawn by the Agg canvas, independent of any pyplot backend.

    Grids of many small images pass layout=None and place axes themselves: the constrained layout solver
    costs seconds for dozens of axes.
    """
    figure = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def figure_to_png(figure: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write the figure as a PNG file, atomically."""
    return atomic_write_bytes(path, figure_to_png(figure, dpi=dpi))


def _as_2d(image: np.ndarray) -> np.ndarray:
    """(28, 28, 1) or (28, 28) -> (28, 28) for imshow."""
    image = np.asarray(image)
    return image[..., 0] if image.ndim == 3 else image


def confusion_matrix_figure(confusion: np.ndarray, class_names: list[str]) -> Figure:
    """Heatmap of counts (rows = true, columns = predicted), recall per row on the right, precision below."""
    confusion = np.asarray(confusion)
    num_classes = len(confusion)
    true_positives = np.diag(confusion).astype(float)
    recall = np.divide(
        true_positives, confusion.sum(axis=1), out=np.zeros(num_classes), where=confusion.sum(1) > 0
    )
    precision = np.divide(
        true_positives, confusion.sum(axis=0), out=np.zeros(num_classes), where=confusion.sum(0) > 0
    )
    figure = new_figure(7.5, 7)
    grid = figure.add_gridspec(2, 2, width_ratios=[num_classes, 1.4], height_ratios=[num_classes, 1.1])
    heatmap = figure.add_subplot(grid[0, 0])
    recall_axes = figure.add_subplot(grid[0, 1])
    precision_axes = figure.add_subplot(grid[1, 0])

    # Off-diagonal counts are small next to the diagonal; a log-like scale keeps mistakes visible.
    shade = np.log1p(confusion)
    heatmap.imshow(shade, cmap="Blues", aspect="auto")
    brightest = shade.max() if shade.max() > 0 else 1
    for true in range(num_classes):
        for predicted in range(num_classes):
            count = int(confusion[true, predicted])
            if count:
                color = "white" if shade[true, predicted] > 0.6 * brightest else "black"
                heatmap.text(predicted, true, str(count), ha="center", va="center", fontsize=8, color=color)
    ticks = range(num_classes)
    heatmap.set_xticks(ticks, class_names, rotation=45 if max(map(len, class_names)) > 2 else 0)
    heatmap.set_yticks(ticks, class_names)
    heatmap.xaxis.set_ticks_position("top")
    heatmap.xaxis.set_label_position("top")
    heatmap.set_xlabel("predicted label")
    heatmap.set_ylabel("true label")

    # Margins: red for the weakest classes, green for the best (pale, so the text stays readable).
    lowest = min(0.8, float(recall.min()), float(precision.min()))
    margin_style = {"cmap": "RdYlGn", "vmin": lowest, "vmax": 1.0, "alpha": 0.55, "aspect": "auto"}
    recall_axes.imshow(recall[:, None], **margin_style)
    precision_axes.imshow(precision[None, :], **margin_style)
    for index in ticks:
        recall_axes.text(0, index, f"{recall[index]:.1%}", ha="center", va="center", fontsize=7)
        precision_axes.text(
            index, 0, f"{precision[index]:.1%}", ha="center", va="center", fontsize=7, rotation=90
        )
    recall_axes.set_xticks([0], ["recall"])
    recall_axes.xaxis.set_ticks_position("top")
    recall_axes.set_yticks([])
    precision_axes.set_yticks([0], ["precision"])
    precision_axes.set_xticks([])
    return figure


def probability_bars_figure(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    class_names: list[str],
    columns: int = 2,
    empty: str = "no examples",
    notes: list[str] | None = None,
) -> Figure:
    """Each example: the image, then its C probability bars, as the Keras quickstart draws them: the true
    class blue, a wrong prediction red (a right one is the blue bar). `empty`: the text when none; notes:
    a short remark per example ("" for none), written in orange over the top of its image.

    Everything is drawn on one axes whose unit is an image pixel (an example's cell is 28 units high
    plus room for text), because one axes per image and per bar chart costs seconds for a dozen examples.
    """
    count = len(images)
    rows = max(1, -(-count // columns))
    num_classes = probabilities.shape[1] if count else len(class_names)
    # y grows downwards, as in an image (row 0 on top); a bar of probability p is 28 * p units high.
    title_room, label_room, bar_step, gap = 11, 8, 6, 6  # units (image pixels)
    bars_left = 28 + gap
    cell_width = bars_left + num_classes * bar_step + 2 * gap
    cell_height = title_room + 28 + label_room
    inches_per_unit = 4.2 / cell_width
    figure = new_figure(
        columns * cell_width * inches_per_unit, rows * cell_height * inches_per_unit, layout=None
    )
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    if count == 0:
        axes.text(0.5, 0.5, empty, ha="center", va="center", transform=axes.transAxes)
        return figure
    for index in range(count):
        row, column = divmod(index, columns)
        left, top = column * cell_width + gap / 2, row * cell_height + title_room
        baseline = top + 28  # probability 0; probability 1 is 28 units higher
        true, predicted = int(labels[index]), int(np.argmax(probabilities[index]))
        axes.imshow(_as_2d(images[index]), cmap="gray_r", extent=(left, left + 28, baseline, top))
        colors = [OTHER_COLOR] * num_classes
        colors[predicted] = PREDICTED_COLOR
        colors[true] = TRUE_COLOR
        positions = left + bars_left + bar_step * np.arange(num_classes) + bar_step / 2
        axes.bar(positions, -28 * probabilities[index], bottom=baseline, width=0.75 * bar_step, color=colors)
        bars_from, bars_to = left + bars_left, left + bars_left + num_classes * bar_step
        axes.hlines(
            [baseline, baseline - 14, top],
            bars_from,
            bars_to,
            colors="0.6",
            linewidth=0.5,
            linestyles=["solid", "dotted", "dotted"],
        )
        axes.text(bars_to + 0.5, top, "1", fontsize=5, va="center", color="0.4")
        for label, (position, name) in enumerate(zip(positions, class_names, strict=False)):
            style = {"color": colors[label], "fontweight": "bold"} if label in (true, predicted) else {}
            axes.text(position, baseline + 1, name[:3], ha="center", va="top", fontsize=6, **style)
        # "true 4 → 9 (0.97)": the true class, the prediction and its probability; red when wrong
        title = f"true {class_names[true]} → {class_names[predicted]} ({probabilities[index][predicted]:.2f})"
        color = TRUE_COLOR if predicted == true else PREDICTED_COLOR
        axes.text(left + cell_width / 2, top - 2, title, ha="center", va="bottom", fontsize=10, color=color)
        if notes and notes[index]:
            axes.text(left, top + 0.5, notes[index], ha="left", va="top", fontsize=6, color=NOTE_COLOR,
                      bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5})  # fmt: skip
    # limits last: each imshow would otherwise reset them to the image it drew
    axes.set_xlim(0, columns * cell_width)
    axes.set_ylim(rows * cell_height, 0)
    return figure


def tiles_figure(tiles: list[np.ndarray], titles: list[str], columns: int, caption: str = "") -> Figure:
    """RGB tiles (h, w, 3) uint8, all of one size, in a grid with a small title above each; one imshow.

    `caption` goes below the grid (what the colours mean)."""
    count = len(tiles)
    rows = max(1, -(-count // columns))
    height, width = tiles[0].shape[:2] if count else (28, 28)
    title_room, gap = height // 4, max(2, width // 20)  # px
    cell_height, cell_width = title_room + height + gap, width + gap
    mosaic = np.full((rows * cell_height, columns * cell_width, 3), 255, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        top, left = row * cell_height + title_room, column * cell_width
        mosaic[top : top + height, left : left + width] = tile
    width_inches = 1.6 * columns
    grid_inches = width_inches * mosaic.shape[0] / mosaic.shape[1]
    caption_inches = 0.3 if caption else 0.0
    figure = new_figure(width_inches, grid_inches + caption_inches, layout=None)
    axes = figure.add_axes(
        (0, caption_inches / (grid_inches + caption_inches), 1, grid_inches / (grid_inches + caption_inches))
    )
    axes.set_axis_off()
    axes.imshow(mosaic, interpolation="nearest")
    for index, title in enumerate(titles):
        row, column = divmod(index, columns)
        axes.text(column * cell_width + width / 2, row * cell_height + title_room - 2, title,
                  ha="center", va="bottom", fontsize=8)  # fmt: skip
    if caption:
        figure.text(0.5, 0.01, caption, ha="center", va="bottom", fontsize=8, color="0.3")
    return figure


def image_mosaic(images: np.ndarray, columns: int, header: int = 0, gap: int = 4) -> np.ndarray:
    """Images (N, H, W[, 1]) tiled row-major into one (rows * (header + H + gap), columns * (W + gap)) array.

    Each tile leaves `header` blank pixel rows above its image (room for a caption) and a `gap` around it;
    one imshow of a mosaic is many times faster than one axes per image.
    """
    count = len(images)
    rows = max(1, -(-count // columns))
    height, width = _as_2d(images[0]).shape if count else (28, 28)
    cell_height, cell_width = header + height + gap, width + gap
    mosaic = np.zeros((rows * cell_height, columns * cell_width), dtype=np.float32)
    for index in range(count):
        row, column = divmod(index, columns)
        top, left = row * cell_height + header, column * cell_width + gap // 2
        mosaic[top : top + height, left : left + width] = _as_2d(images[index])
    return mosaic


def sample_predictions_figure(
    images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, class_names: list[str], columns: int = 8
) -> Figure:
    """Images captioned with their prediction: green when right, red with the true label when wrong."""
    count = len(images)
    rows = max(1, -(-count // columns))
    header, gap = 10, 4  # pixels: caption room above each 28x28 image, space between images
    mosaic = image_mosaic(images, columns, header=header, gap=gap)
    width = 1.1 * columns  # inches; the height keeps the mosaic's aspect so that nothing is cropped
    figure = new_figure(width, width * mosaic.shape[0] / mosaic.shape[1], layout=None)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(mosaic, cmap="gray_r", interpolation="nearest")
    axes.set_axis_off()
    cell_height, cell_width = mosaic.shape[0] // rows, mosaic.shape[1] // columns
    for index in range(count):
        row, column = divmod(index, columns)
        true, predicted = int(labels[index]), int(predictions[index])
        if true == predicted:
            caption, color = class_names[predicted][:10], CORRECT_COLOR
        else:
            caption, color = f"{class_names[predicted][:8]} (true {class_names[true][:8]})", PREDICTED_COLOR
        x, y = column * cell_width + cell_width / 2, row * cell_height + header - 2
        axes.text(x, y, caption, ha="center", va="bottom", fontsize=8, color=color)
    return figure


def per_class_accuracy_figure(recall: np.ndarray, class_names: list[str], accuracy: float) -> Figure:
    """Accuracy within each true class (= recall) as bars, with the overall accuracy as a dashed line."""
    recall = np.asarray(recall, dtype=float)
    figure = new_figure(7, 3.2)
    axes = figure.add_subplot()
    bars = axes.bar(range(len(recall)), recall, color=TRUE_COLOR)
    axes.bar_label(bars, labels=[f"{value:.1%}" for value in recall], fontsize=7)
    axes.axhline(accuracy, color=PREDICTED_COLOR, linestyle="--")
    axes.set_title(f"dashed line: overall accuracy {accuracy:.2%}", fontsize=9)
    lowest = float(recall.min()) if len(recall) else 0.0
    axes.set_ylim(max(0.0, lowest - 0.05), 1.01)
    axes.set_xticks(range(len(recall)), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0)
    axes.set_ylabel("accuracy within class")
    return figure


def class_distribution_figure(
    train_labels: np.ndarray, test_labels: np.ndarray, class_names: list[str]
) -> Figure:
    """Share of each class in the training and test splits, side by side (percent of each split)."""
    num_classes = len(class_names)
    figure = new_figure(7, 3.2)
    axes = figure.add_subplot()
    positions = np.arange(num_classes)
    for offset, labels, name, color in (
        (-0.2, train_labels, "train", TRUE_COLOR),
        (0.2, test_labels, "test", PREDICTED_COLOR),
    ):
        counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
        share = counts / max(1, counts.sum())
        axes.bar(
            positions + offset, share * 100, width=0.4, color=color, label=f"{name} (n={counts.sum():,})"
        )
    axes.set_xticks(positions, class_names, rotation=45 if max(map(len, class_names)) > 2 else 0)
    axes.set_ylabel("% of split")
    axes.set_ylim(0, axes.get_ylim()[1] * 1.2)  # headroom for the legend above the bars
    axes.legend(loc="upper center", ncols=2)
    return figure


MIN_CURVE_EPOCHS = 2  # a one-point "curve" (one epoch, or a forest's single fit) says nothing
MONITOR_COLOR = "tab:green"


def kept_epoch(history) -> int | None:
    """The epoch whose weights the run kept instead of its last one, else None.

    Training keeps the weights of the first epoch with the lowest val_loss (restoring them when a later
    epoch ended worse, with or without early stopping); history.csv holds what decides it.
    """
    if "val_loss" not in history or history["val_loss"].isna().all() or len(history) < MIN_CURVE_EPOCHS:
        return None
    epochs = history["epoch"].to_numpy() if "epoch" in history else np.arange(1, len(history) + 1)
    best = int(epochs[int(np.nanargmin(history["val_loss"].to_numpy(dtype=float)))])
    return None if best == int(epochs[-1]) else best


def training_curves_figure(history) -> Figure | None:
    """Loss and accuracy per epoch from a history.csv DataFrame: training, validation and, when the run
    monitored a split (monitor_loss, monitor_accuracy), that split, drawn dashed: it was only watched,
    never used to stop or choose. A dotted line marks the epoch whose weights were kept when it is not
    the last. None for fewer than 2 epochs (a one-epoch run, a forest): no curve to draw.
    """
    if history is None or len(history) < MIN_CURVE_EPOCHS:
        return None
    figure = new_figure(9, 3.6)
    epochs = history["epoch"] if "epoch" in history else np.arange(1, len(history) + 1)
    kept = kept_epoch(history)
    for position, metric in enumerate(("loss", "accuracy")):
        axes = figure.add_subplot(1, 2, position + 1)
        for column, label, color, style in (
            (metric, "train", TRUE_COLOR, "-"),
            (f"val_{metric}", "validation", PREDICTED_COLOR, "-"),
            (f"monitor_{metric}", "monitor (watched only, never selects)", MONITOR_COLOR, "--"),
        ):
            if column in history and not history[column].isna().all():
                axes.plot(epochs, history[column], style, marker="o", markersize=3, color=color, label=label)
        if kept is not None:
            axes.axvline(kept, color="0.3", linestyle=":", label=f"kept: epoch {kept} (lowest val_loss)")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8)
    return figure
