"""Notebook helpers: a DataFrame that shows images inline, and a labelled grid of examples."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

import mnistlab
from mnistlab.data.info import dataset_info
from mnistlab.data.notebook import save_examples, save_figure, show_examples
from mnistlab.errors import MnistlabError


def examples(count: int = 9):
    images = np.zeros((count, 28, 28, 1), dtype=np.uint8)
    for i in range(count):
        images[i, i : i + 3, :, 0] = 255  # a white bar whose row tells the example apart
    return {"image": images, "label": np.arange(count, dtype=np.int64) % 10}


def test_as_dataframe_has_rows_labels_names_and_inline_images():
    ds = examples(25)
    frame = mnistlab.as_dataframe(ds, dataset_info("fashion_mnist"))
    assert list(frame.columns) == ["image", "label", "label_name"]
    assert len(frame) == 25 and frame["label"].dtype == np.int64
    assert frame["label_name"][9] == "Ankle boot"
    np.testing.assert_array_equal(frame["image"][4], ds["image"][4])
    assert type(frame.head(3)).__name__ == "ExamplesFrame"  # slicing keeps the inline images

    html = frame._repr_html_()
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(uris) == 20 and "25 rows; the first 20 are shown." in html
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uris[4]))))
    np.testing.assert_array_equal(decoded, ds["image"][4, :, :, 0])  # the picture is the example itself


def test_as_dataframe_accepts_tuples_and_refuses_other_things():
    images, labels = examples(3)["image"], examples(3)["label"]
    frame = mnistlab.as_dataframe((images, labels))
    assert list(frame.columns) == ["image", "label"]
    with pytest.raises(MnistlabError, match="expected one split as loaded by mnistlab.load"):
        mnistlab.as_dataframe({"pixels": images})


def test_show_examples_draws_a_titled_grid():
    figure = mnistlab.show_examples(examples(9), dataset_info("kmnist"), rows=3, cols=3)
    axes = figure.get_axes()
    assert len(axes) == 9
    assert [a.get_title() for a in axes[:3]] == ["o (0)", "ki (1)", "su (2)"]
    np.testing.assert_array_equal(axes[4].get_images()[0].get_array(), examples(9)["image"][4, :, :, 0])
    assert axes[4].get_images()[0].get_cmap().name == "gray_r"  # dark ink on white, like every picture
    digits = show_examples(examples(4), dataset_info("mnist"), rows=2, cols=3)
    assert [a.get_title() for a in digits.get_axes()] == [
        "0",
        "1",
        "2",
        "3",
        "",
        "",
    ]  # spare cells stay blank
    with pytest.raises(MnistlabError, match="rows and cols must be at least 1"):
        show_examples(examples(4), rows=0)


def test_save_figure_is_atomic_and_checks_the_format(tmp_path):
    figure = show_examples(examples(4), rows=2, cols=2)
    path = save_figure(figure, tmp_path / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]
    with pytest.raises(MnistlabError, match="cannot save a picture as .docx"):
        save_figure(figure, tmp_path / "grid.docx")
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]


def test_save_examples_of_real_mnist(mnist_dir, tmp_path):
    path = save_examples("mnist", "test[:6]", tmp_path / "six.png", cols=3, data_dir=mnist_dir)
    picture = Image.open(path)
    assert picture.format == "PNG" and picture.width > picture.height  # 3 columns, 2 rows
