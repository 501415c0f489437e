"""Crafted model files never run code: .skops files holding functions are refused before anything runs.

The attack: a scikit-learn Pipeline whose FunctionTransformers chain numpy.full_like -> str -> eval turns
a string stored in the file into code that runs on the first prediction. A loader that trusts type-name
prefixes ("builtins.", "numpy.") lets it through; mnistlab checks every type against an exact list.
"""

from __future__ import annotations

import builtins
import functools
import operator
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnistlab.classifier import load_classifier
from mnistlab.errors import ModelFileError


def _code_that_touches(marker) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')"


def _fitted_forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=1, random_state=0).fit(np.eye(2, 784), [0, 1])


def _eval_pipeline(marker):
    """full_like(x, code, shape=(), dtype=object) -> str -> eval: runs `code` in predict_proba."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    stored = {"fill_value": _code_that_touches(marker), "shape": (), "dtype": object}
    return make_pipeline(
        FunctionTransformer(np.full_like, kw_args=stored),
        FunctionTransformer(builtins.str),
        FunctionTransformer(builtins.eval),
        _fitted_forest(),
    )


def _function_pipeline(function):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(function), _fitted_forest())


def _forest_hiding_a_function():
    """A trusted outer type (the forest) whose template estimator is a FunctionTransformer(exec)."""
    from sklearn.preprocessing import FunctionTransformer

    forest = _fitted_forest()
    forest.estimator = FunctionTransformer(builtins.exec)
    return forest


VARIANTS = {
    "exec": lambda marker: _function_pipeline(builtins.exec),
    "getattr": lambda marker: _function_pipeline(builtins.getattr),
    "numpy.load": lambda marker: _function_pipeline(np.load),
    "numpy ufunc": lambda marker: _function_pipeline(np.exp),  # skops trusts ufuncs by default
    "os.system": lambda marker: _function_pipeline(os.system),
    "partial": lambda marker: _function_pipeline(functools.partial(os.system, "true")),
    "methodcaller": lambda marker: _function_pipeline(operator.methodcaller("__reduce__")),
    "hidden in a forest": lambda marker: _forest_hiding_a_function(),
}


@pytest.fixture
def crafted(tmp_path):
    """(the crafted .skops file, the file its code would create)."""
    import skops.io as sio

    marker = tmp_path / "code-ran"
    path = tmp_path / "shared-model.skops"
    sio.dump(_eval_pipeline(marker), path)
    return path, marker


def test_the_crafted_file_is_a_real_attack_on_a_prefix_check(crafted):
    """Loaded as a prefix check would (every untrusted name starts builtins., numpy. or sklearn.), it runs."""
    import skops.io as sio

    path, marker = crafted
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted and all(name.startswith(("builtins.", "numpy.", "sklearn.")) for name in untrusted)
    model = sio.load(path, trusted=untrusted)
    with pytest.raises(ValueError):  # the forest chokes on eval's result, after the code has run
        model.predict_proba(np.zeros((1, 784), dtype=np.float32))
    assert marker.read_text() == "ran"


def test_crafted_file_is_refused_naming_the_types(crafted):
    path, marker = crafted
    with pytest.raises(ModelFileError, match=r"builtins\.eval.*numpy\.full_like") as refusal:
        load_classifier(path)
    assert "refusing to load it" in str(refusal.value) and "\n" not in str(refusal.value)
    assert not marker.exists()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_function_type_is_refused(tmp_path, variant):
    import skops.io as sio

    path = tmp_path / f"{variant}.skops"
    sio.dump(VARIANTS[variant](tmp_path / "code-ran"), path)
    with pytest.raises(ModelFileError, match="refusing to load it"):
        load_classifier(path)


def test_a_forest_as_mnistlab_saves_it_still_loads(tmp_path):
    import skops.io as sio

    path = tmp_path / "model.skops"
    sio.dump(_fitted_forest(), path)
    classifier = load_classifier(path)
    assert classifier.kind == "sklearn"
    assert classifier.predict_proba(np.zeros((3, 28, 28, 1), dtype=np.uint8)).shape == (3, 2)


def test_a_skops_file_with_a_broken_schema_is_one_clear_error(tmp_path):
    import zipfile

    path = tmp_path / "broken.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", "[" * 100_000)
    with pytest.raises(ModelFileError, match="is not a skops model file"):
        load_classifier(path)


def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnistlab", *args], capture_output=True, text=True, timeout=180, cwd=cwd
    )


@pytest.mark.parametrize("command", ["predict", "evaluate", "serve", "export"])
def test_every_command_refuses_it_in_one_line(crafted, tmp_path, mnist_dir, command):
    path, marker = crafted
    digit = tmp_path / "digit.png"
    Image.fromarray(np.pad(np.full((10, 4), 255, np.uint8), 9)).save(digit)
    args = {
        "predict": ("predict", str(path), str(digit)),
        "evaluate": ("evaluate", str(path), "--split", "test[:20]", "--data-dir", str(mnist_dir)),
        "serve": ("serve", str(path), "--port", "0"),
        "export": ("export", str(path), "--out", str(tmp_path / "out.onnx")),
    }[command]
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "refusing to load it" in lines[0]
    assert "Traceback" not in result.stderr
    assert not marker.exists()
