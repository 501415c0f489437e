"""Predicting from a run directory runs its ONNX copy (recognition/onnx_copy.py): Keras answers, no TF."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from cli_support import call_cli
from PIL import Image
from recognition_support import mnist_split

import mnistlab
from mnistlab.classifier import (
    CopiedKerasClassifier,
    KerasClassifier,
    OnnxClassifier,
    answering_classifier,
    load_classifier,
)
from mnistlab.evaluation import feature_maps
from mnistlab.recognition import onnx_copy
from mnistlab.recognition.onnx_conversion import ExportError
from mnistlab.recognition.onnx_copy import predicting_classifier
from mnistlab.rundir import MODEL_KERAS, MODEL_ONNX, SUMMARY_FILE, read_temperature


@pytest.fixture(scope="module")
def run_dir(fastcnn_run, tmp_path_factory):
    """A copy of the shared fastcnn run (predicting writes model.onnx into it), without any ONNX copy yet."""
    copy = tmp_path_factory.mktemp("onnx-copy") / "run"
    shutil.copytree(fastcnn_run, copy)
    (copy / MODEL_ONNX).unlink(missing_ok=True)
    return copy


def test_the_copy_predicts_what_keras_predicts_on_mnist_test(run_dir, mnist_dir):
    classifier = predicting_classifier(run_dir)  # made here, on first use
    assert isinstance(classifier, OnnxClassifier) and classifier.path == run_dir / MODEL_ONNX
    assert classifier.temperature == read_temperature(run_dir) != 1.0  # the run's calibration applies
    images, labels = mnist_split(mnist_dir, "t10k")
    from_onnx = classifier.predict_proba(images)
    from_keras = mnistlab.load_classifier(run_dir).predict_proba(images)  # model.keras, same temperature
    assert np.array_equal(from_onnx.argmax(axis=1), from_keras.argmax(axis=1))  # all 10,000
    assert np.abs(from_onnx - from_keras).max() <= 1e-4
    assert (from_onnx.argmax(axis=1) == labels).mean() >= 0.985


# `mnistlab COMMAND ARGS... --json` in a fresh process; it fails if TensorFlow or Keras was imported.
WITHOUT_TENSORFLOW = """
import sys
from mnistlab.cli import main
try:
    main([*sys.argv[1:], "--json"])
except SystemExit as stop:
    if stop.code:
        raise
heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
sys.exit(f"imported {heavy}" if heavy else 0)
"""


def test_predicting_from_a_run_imports_no_tensorflow(run_dir, mnist_dir, tmp_path):
    predicting_classifier(run_dir)  # the copy exists (made by the test above when run in order)
    images, labels = mnist_split(mnist_dir, "t10k")
    picture = tmp_path / "one.png"
    Image.fromarray(images[0]).save(picture)
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, "predict", str(run_dir), str(picture)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [answer] = json.loads(result.stdout)
    assert answer["label"] == labels[0]


def test_a_copy_older_than_the_model_is_made_again(run_dir):
    predicting_classifier(run_dir)
    copy, model = run_dir / MODEL_ONNX, run_dir / MODEL_KERAS
    made = copy.stat().st_mtime_ns
    os.utime(copy, ns=(made, model.stat().st_mtime_ns - 10**9))  # as if model.keras were rewritten since
    assert onnx_copy.fresh_copy(run_dir) is None
    assert isinstance(predicting_classifier(run_dir), OnnxClassifier)
    assert onnx_copy.fresh_copy(run_dir) == copy


def test_a_broken_copy_is_made_again(run_dir):
    (run_dir / MODEL_ONNX).write_bytes(b"not an onnx graph")
    classifier = predicting_classifier(run_dir)
    assert isinstance(classifier, OnnxClassifier)
    assert classifier.predict_proba(np.zeros((1, 28, 28), dtype=np.uint8)).shape == (1, 10)


def test_a_model_the_converter_refuses_is_predicted_with_keras(run_dir, monkeypatch):
    def refuse(model, temperature=1.0):
        raise ExportError("no ONNX equivalent")

    (run_dir / MODEL_ONNX).unlink(missing_ok=True)
    monkeypatch.setattr(onnx_copy, "keras_to_onnx", refuse)
    classifier = predicting_classifier(run_dir)
    assert isinstance(classifier, KerasClassifier)
    assert classifier.temperature == read_temperature(run_dir)
    assert not (run_dir / MODEL_ONNX).exists()


# The server's app for a run, made in a fresh process; it fails if TensorFlow or Keras was imported.
SERVING = """
import sys
from mnistlab.recognition.server import create_app
from mnistlab.recognition.serving_engine import serving_classifier
create_app(sys.argv[1])
classifier, engine = serving_classifier(sys.argv[1])
assert engine == "onnxruntime" and classifier.temperature != 1.0, (engine, classifier.temperature)
heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
sys.exit(f"imported {heavy}" if heavy else 0)
"""


def test_serving_a_run_with_its_copy_imports_no_tensorflow(run_dir):
    predicting_classifier(run_dir)  # the copy exists
    result = subprocess.run(
        [sys.executable, "-c", SERVING, str(run_dir)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_evaluating_a_run_with_its_copy_imports_no_tensorflow(run_dir, mnist_dir, tmp_path):
    predicting_classifier(run_dir)  # the copy exists, as after the run's first `predict`
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())  # recorded with the run's report
    out = tmp_path / "eval"
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, "evaluate", str(run_dir), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "MNISTLAB_DATA_DIR": str(mnist_dir)},
    )
    assert result.returncode == 0, result.stderr
    evaluated = json.loads((out / "metrics.json").read_text())
    # the copy's argmax is Keras' on all of MNIST test (the first test): the same accuracy, to the digit
    assert evaluated["accuracy"] == json.loads((run_dir / "metrics.json").read_text())["test_accuracy"]
    assert evaluated["model_kind"] == "keras" and evaluated["model_path"].endswith(MODEL_KERAS)
    report = (out / "report.html").read_text()
    assert 'id="feature_maps"' in report  # drawn from the maps the run recorded
    assert all(layer["name"] in report for layer in summary["layers"]) and summary["params"] > 10_000


def test_records_serve_only_their_model_and_image(run_dir, mnist_dir):
    predicting_classifier(run_dir)
    images = mnistlab.load("mnist", split="test", data_dir=str(mnist_dir))["image"]  # the report's order
    classifier = answering_classifier(run_dir)
    assert (
        isinstance(classifier, CopiedKerasClassifier)
        and "keras" not in type(classifier.copy).__name__.lower()
    )
    assert feature_maps.recorded(classifier, images[0]) is not None  # the image the report showed
    assert feature_maps.recorded(classifier, images[1]) is None  # another image: computed with Keras
    kept = dict(feature_maps.recorded(classifier, images[0]))
    computed = dict(feature_maps.feature_maps(load_classifier(run_dir), images[0]))
    assert kept.keys() == computed.keys() and all(np.allclose(kept[k], computed[k], atol=1e-5) for k in kept)
    keras_classifier = load_classifier(run_dir)
    assert classifier.params == keras_classifier.params and classifier.layers() == keras_classifier.layers()
    model = run_dir / MODEL_KERAS
    newest = max((run_dir / name).stat().st_mtime_ns for name in (SUMMARY_FILE, MODEL_ONNX))
    os.utime(model, ns=(model.stat().st_mtime_ns, newest + 10**9))
    try:  # model.keras rewritten since: no record is trusted, and no copy either
        assert not isinstance(answering_classifier(run_dir), CopiedKerasClassifier)
        assert feature_maps.recorded(classifier, images[0]) is None
    finally:
        predicting_classifier(run_dir)  # a fresh copy again for the tests after


def test_a_run_trained_by_the_cli_ends_with_its_copy_and_records(mnist_dir, tmp_path):
    out = tmp_path / "run"
    done = call_cli(
        "train", "--model", "mlp", "--epochs", "1", "--train-split", "train[:1%]", "--out", str(out),
        env={"MNISTLAB_DATA_DIR": str(mnist_dir)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert onnx_copy.fresh_copy(out) == out / MODEL_ONNX  # written as the run ended
    classifier = answering_classifier(out)
    assert isinstance(classifier, CopiedKerasClassifier)
    assert classifier.params == json.loads((out / "metrics.json").read_text())["params"]
    keras_classifier = load_classifier(out)
    assert classifier.layers() == keras_classifier.layers()
    assert classifier.temperature == keras_classifier.temperature
    probe = np.zeros((1, 28, 28), dtype=np.uint8)
    assert np.abs(classifier.predict_proba(probe) - keras_classifier.predict_proba(probe)).max() <= 1e-4
