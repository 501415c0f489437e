"""The example notebooks (examples/*.ipynb) run from top to bottom in a real Jupyter kernel.

In tiny mode (MNISTLAB_TINY=1: small splits, an epoch or two) with the rest of the suite; in full, with
their tutorials' accuracy checks, under `make test-accuracy`. In git they hold no outputs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(path.name for path in EXAMPLES.glob("*.ipynb"))

pytestmark = pytest.mark.slow

# What each tutorial leaves in its folder when it ran to the end (glob patterns)
LEAVES = {
    "01_tfds_tour.ipynb": ["runs/*-mlp/model.keras"],
    "02_deep_mlp.ipynb": ["runs/*-dnn/model.keras"],
    "03_keras_quickstart.ipynb": ["runs/*-mlp/model.keras"],
    "04_custom_cnn.ipynb": [
        "saved_models/epoch-2/saved_model.pb",  # the hand-written loop's SavedModel per epoch
        "saved_models/epoch-1/saved_model.pb",
        "runs/*-cnn/checkpoints/epoch-0001.saved_model/saved_model.pb",  # mnistlab's, the same
        "runs/*-cnn/checkpoints/epoch-0002.saved_model/saved_model.pb",
    ],
    "05_from_scratch.ipynb": ["runs/*-logreg/model.keras", "runs/*-forest/model.skops"],
}


def runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", EXAMPLES / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tutorials_are_all_there():
    assert NOTEBOOKS == sorted(LEAVES)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_in_git_holds_no_outputs(name):
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (name, cell.source[:60])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_runs_in_tiny_mode_and_shows_its_pictures(name, mnist_dir, tmp_path):
    written = runner().run_notebook(EXAMPLES / name, tmp_path / "out", tiny=True, workdir=tmp_path)
    executed = nbformat.read(written, as_version=4)
    outputs = [output for cell in executed.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)  # pictures render inline
    assert list(tmp_path.glob("runs/*")), "the notebook's runs land in its own folder"
    for pattern in LEAVES[name]:
        assert list(tmp_path.glob(pattern)), f"{name} left no {pattern}"


@pytest.mark.accuracy
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_notebook_reaches_its_tutorials_accuracy_in_full(name, mnist_dir, tmp_path):
    runner().run_notebook(EXAMPLES / name, None, tiny=False, workdir=tmp_path)  # its asserts are the check
