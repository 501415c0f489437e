"""Looking at examples in a notebook: a DataFrame with inline images, and a grid of labelled pictures.

    ds, info = mnistlab.load("mnist", split="train[:9]", with_info=True)
    mnistlab.as_dataframe(ds, info)              # renders 28x28 thumbnails in Jupyter
    figure = mnistlab.show_examples(ds, info)    # a 3x3 matplotlib Figure titled with labels
    save_examples("mnist", "train[:25]", "grid.png")

`ds` is what `load` returns for one split: {'image', 'label'} or an (images, labels) tuple.
Figures use matplotlib's Agg canvas directly, so nothing depends on a display or pyplot state.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np

from mnistlab.data.info import DatasetInfo, dataset_info
from mnistlab.errors import MnistlabError, setting
from mnistlab.files import atomic_path

HTML_ROWS = 20  # rows rendered as HTML; the rest are summarised
THUMBNAIL_PX = 56  # displayed size of a 28x28 image


def _images_and_labels(ds) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(ds, dict) and {"image", "label"} <= set(ds):
        return np.asarray(ds["image"]), np.asarray(ds["label"])
    if isinstance(ds, (tuple, list)) and len(ds) == 2:
        return np.asarray(ds[0]), np.asarray(ds[1])
    raise MnistlabError(
        "expected one split as loaded by mnistlab.load: {'image': ..., 'label': ...} or (images, labels); "
        "pass e.g. mnistlab.load('mnist', split='train[:9]')"
    )


def _label_text(label: int, info: DatasetInfo | None) -> str:
    if info is None:
        return str(int(label))
    name = info.features["label"].int2str(int(label))
    return name if name == str(int(label)) else f"{name} ({int(label)})"


def _png_data_uri(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8).squeeze(-1), mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _image_html(image) -> str:
    return (
        f'<img src="{_png_data_uri(image)}" width="{THUMBNAIL_PX}" height="{THUMBNAIL_PX}" '
        'style="image-rendering: pixelated" alt="image"/>'
    )


def _examples_frame_class():
    import pandas as pd

    class ExamplesFrame(pd.DataFrame):
        """A DataFrame whose 'image' column shows as pictures in Jupyter (first HTML_ROWS rows)."""

        @property
        def _constructor(self):
            return ExamplesFrame

        def _repr_html_(self) -> str:
            shown = pd.DataFrame(self.head(HTML_ROWS))
            html = shown.style.format({"image": _image_html}).to_html()
            if len(self) > HTML_ROWS:
                html += f"<p>{len(self)} rows; the first {HTML_ROWS} are shown.</p>"
            return html

    return ExamplesFrame


def as_dataframe(ds, info: DatasetInfo | None = None):
    """A pandas DataFrame with one row per example: 'image' (28, 28, 1) uint8, 'label', and 'label_name'."""
    images, labels = _images_and_labels(ds)
    columns = {"image": list(images), "label": labels.astype(np.int64)}
    if info is not None:
        columns["label_name"] = [info.features["label"].int2str(int(label)) for label in labels]
    return _examples_frame_class()(columns)


def show_examples(ds, info: DatasetInfo | None = None, rows: int = 3, cols: int = 3):
    """A rows x cols grid of the first examples, each titled with its label (a matplotlib Figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    images, labels = _images_and_labels(ds)
    if rows < 1 or cols < 1:
        raise MnistlabError(f"rows and cols must be at least 1, got rows={rows}, cols={cols}")
    count = min(len(images), rows * cols)
    figure = Figure(figsize=(1.3 * cols, 1.45 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    for position in range(rows * cols):
        axes = figure.add_subplot(rows, cols, position + 1)
        axes.set_axis_off()
        if position < count:
            # dark ink on white, as every picture mnistlab draws (the arrays stay MNIST's white on black)
            axes.imshow(
                images[position].squeeze(-1), cmap="gray_r", vmin=0, vmax=255, interpolation="nearest"
            )
            axes.set_title(_label_text(labels[position], info), fontsize=9)
    return figure


def save_figure(figure, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib Figure atomically; the format follows the file's suffix (.png, .pdf, .svg...)."""
    path = Path(path)
    file_format = path.suffix.lstrip(".").lower() or "png"
    if file_format not in figure.canvas.get_supported_filetypes():
        supported = ", ".join(sorted(figure.canvas.get_supported_filetypes()))
        raise MnistlabError(f"{path}: cannot save a picture as .{file_format}; use one of {supported}")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=file_format, dpi=dpi)
    return path


def save_examples(
    name: str = "mnist",
    split: str = "train[:9]",
    out: str | Path = "examples.png",
    cols: int | None = None,
    *,
    data_dir=None,
    download: bool = True,
) -> Path:
    """Load `split`, draw every example in a grid of `cols` columns (default: square), save it to `out`."""
    from mnistlab.data.load import load

    ds = load(name, split, data_dir=data_dir, download=download)
    count = len(ds["label"])
    cols = cols or math.ceil(math.sqrt(count))
    if cols < 1:
        raise MnistlabError(f"{setting('cols')} must be at least 1, got {cols}")
    figure = show_examples(ds, dataset_info(name), rows=math.ceil(count / cols), cols=cols)
    return save_figure(figure, out)
