"""One contract for every registered model, through the production path: `mnistlab.train` a tiny run, load
it back with `mnistlab.load_classifier`, and check that the file holds the model the run scored. New zoo
modules join by themselves. (Full-size runs are in test_accuracy.py.)"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import ENSEMBLE_RUN

import mnistlab
from mnistlab.errors import MnistlabError
from mnistlab.models.registry import (
    INPUT_SHAPE,
    NUM_CLASSES,
    describe_models,
    get_model,
    get_spec,
    list_models,
)
from mnistlab.training.config import resolve_config
from mnistlab.training.run import load_run

MODEL_NAMES = [spec.name for spec in list_models()]
# The smallest run that still goes through every model's real training code: one epoch on 256 examples;
# a forest of 3 trees; the ensemble is the session's shared one (conftest.ENSEMBLE_RUN: 2 members).
TINY_RUN = {"epochs": 1, "train_split": "train[:256]", "progress": False}
SMALLEST = {"ensemble": ENSEMBLE_RUN, "forest": {"n_estimators": 3}}
PROBE = 16  # test images compared between the model in memory and the one loaded from the run


@pytest.fixture(scope="module")
def test_split(mnist_dir):
    """The split every run is scored on: uint8 images (10000, 28, 28), int labels (10000,)."""
    test = mnistlab.load("mnist", split="test", data_dir=mnist_dir)
    return test["image"], np.asarray(test["label"])


def in_memory_probabilities(model, kind: str, images: np.ndarray) -> np.ndarray:
    """The trained model's own (N, 10) outputs on uint8 images, without the classifier wrapper."""
    pixels = images.astype(np.float32)[..., None] / 255
    if kind == "keras":
        return np.asarray(model.predict(pixels, verbose=0))
    return model.predict_proba(pixels.reshape(len(pixels), -1))


def trained(name: str, settings: dict, folder, mnist_dir, request):
    """The tiny run of `name` and its model's own outputs: for the ensemble, its members' mean (what the
    saved model must compute), from the shared run; for every other model, the model still in memory."""
    if name == "ensemble":
        run = load_run(request.getfixturevalue("ensemble_run"))
        members = [mnistlab.load_classifier(path).model for path in sorted((run.dir / "members").iterdir())]

        def outputs(images):
            return np.mean([in_memory_probabilities(model, "keras", images) for model in members], axis=0)

        return run, outputs
    run = mnistlab.train(name, data_dir=str(mnist_dir), out=str(folder), **settings)
    return run, lambda images: in_memory_probabilities(run.model, get_spec(name).kind, images)


def test_the_zoo_holds_the_tutorial_models():
    assert {"logreg", "mlp", "dnn", "cnn", "forest"} <= set(MODEL_NAMES)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_contract(name, tmp_path, mnist_dir, test_split, request):
    """Train a tiny run, load it back: the file gives the run's own test scores and the in-memory outputs."""
    spec = get_spec(name)
    assert spec.description and spec.kind in ("keras", "sklearn")
    assert spec.expected_accuracy is None or 0.5 < spec.expected_accuracy <= 1.0
    resolve_config({"model": name}, spec.defaults)  # the recipe's settings, untouched, are valid ones

    settings = {**TINY_RUN, **SMALLEST.get(name, {})}
    run, outputs = trained(name, settings, tmp_path / name, mnist_dir, request)
    kept = {key: value for key, value in spec.defaults.items() if key not in settings}
    assert {key: run.config[key] for key in kept} == kept  # the run trained with the recipe's settings
    images, labels = test_split
    assert run.metrics["train_examples"] == 256 and run.metrics["test_examples"] == len(labels)
    assert np.isfinite(run.metrics["test_loss"]) and len(run.history) >= 1
    assert np.isfinite(run.history.select_dtypes("number").to_numpy()).all()  # losses, accuracies, times

    classifier = mnistlab.load_classifier(run.dir)
    assert classifier.num_classes == NUM_CLASSES
    if spec.kind == "keras":
        model = classifier.model
        assert tuple(model.input_shape[1:]) == INPUT_SHAPE and model.output_shape[-1] == NUM_CLASSES
    probabilities = classifier.predict_proba(images)
    assert probabilities.shape == (len(labels), NUM_CLASSES) and probabilities.dtype == np.float32
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    # the file holds the model the run scored (float round-off may flip one image of 10,000) ...
    accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
    assert accuracy == pytest.approx(run.metrics["test_accuracy"], abs=1e-4)
    picked = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1 - 1e-7))))  # Keras' clipped cross-entropy
    assert loss == pytest.approx(run.metrics["test_loss"], rel=1e-3)
    # ... and the one trained in memory: the same answers (the run's classifier may calibrate the raw
    # outputs, e.g. with a temperature, which moves probabilities but never their order)
    in_memory = outputs(images[:PROBE])
    assert np.array_equal(probabilities[:PROBE].argmax(axis=1), in_memory.argmax(axis=1))
    assert np.array_equal(classifier.predict(images[:PROBE]), probabilities[:PROBE].argmax(axis=1))


def test_tutorial_parameter_counts():
    assert get_model("mlp").count_params() == 101_770
    assert get_model("cnn").count_params() == 693_962
    assert get_model("logreg").count_params() == 7_850
    assert get_model("dnn").count_params() == 466_698


def test_architecture_overrides_change_the_model():
    assert get_model("mlp", hidden=256).count_params() == 784 * 256 + 256 + 256 * 10 + 10
    dropouts = [layer.rate for layer in get_model("mlp", dropout=0.3).layers if hasattr(layer, "rate")]
    assert dropouts == [0.3]
    assert get_model("forest", n_estimators=7).n_estimators == 7
    with pytest.raises(MnistlabError, match="has no setting filters"):
        get_model("mlp", filters=8)


def test_describe_models_lists_every_model_with_its_size():
    rows = {row["name"]: row for row in describe_models()}
    assert set(rows) == set(MODEL_NAMES)
    assert rows["mlp"]["params"] == 101_770
    assert rows["forest"]["params"] is None
    assert all(row["expected_accuracy"] for row in rows.values())


@pytest.mark.slow  # builds every model at its full size, a 20-network ensemble among them
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_recorded_params_are_the_built_models(name):
    """The zoo writes each model's size down (ModelSpec.params, for `mnistlab models`): it must be true."""
    spec = get_spec(name)
    if spec.kind == "keras":
        assert spec.params == get_model(name).count_params()
    else:
        assert spec.params is None  # a fitted forest's size depends on the data


# `mnistlab models` in a fresh process; it fails if Keras or TensorFlow was imported along the way.
LISTING = """
import sys
from mnistlab.cli import main
try:
    main(["models", "--json"])
except SystemExit as stop:
    if stop.code:
        raise
heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
sys.exit(f"imported {heavy}" if heavy else 0)
"""


def test_listing_the_zoo_imports_no_tensorflow():
    result = subprocess.run([sys.executable, "-c", LISTING], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == MODEL_NAMES
    assert {row["name"]: row["params"] for row in rows}["cnn"] == 693_962
