"""The speed and accuracy recipes (fastcnn, best, ensemble): standard layers only, valid defaults, and
augmentation that is the identity at inference. Accuracy itself is checked by the training tests
(fastcnn, one epoch) and recorded in benchmarks/RESULTS.md (the long runs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from mnistlab.models.registry import get_model, get_spec
from mnistlab.training.config import resolve_config

RECIPES = ("fastcnn", "best", "ensemble")
# Layers that safe_mode loading and the ONNX converter both handle; no Lambda, no custom classes.
STANDARD_LAYERS = {
    "InputLayer", "Conv2D", "BatchNormalization", "MaxPooling2D", "AveragePooling2D",
    "GlobalAveragePooling2D", "Dense", "Dropout", "Flatten", "Activation", "ReLU", "Rescaling",
    "RandomRotation", "RandomTranslation", "RandomZoom", "Average", "Add",
}  # fmt: skip
AUGMENTATION = {"RandomRotation", "RandomTranslation", "RandomZoom"}


def _leaf_layers(model):
    """Every layer inside `model`, looking into nested models (an ensemble's members)."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _leaf_layers(layer)
        else:
            yield layer


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """(8, 28, 28, 1) float32 [0, 1]: blurry strokes, enough to exercise the layers."""
    rng = np.random.default_rng(0)
    images = np.zeros((8, 28, 28, 1), np.float32)
    for image in images:
        row, col = rng.integers(6, 18, size=2)
        image[row : row + 8, col : col + 3, 0] = 1.0
    return images


def build_recipe(name: str):
    """The recipe's model at its defaults, but an ensemble of 2 members: every kind of layer that 20 have."""
    return get_model(name, n_estimators=2) if name == "ensemble" else get_model(name)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_is_built_from_standard_keras_layers(name):
    model = build_recipe(name)
    kinds = {type(layer).__name__ for layer in _leaf_layers(model)}
    assert kinds <= STANDARD_LAYERS, f"{name} uses {sorted(kinds - STANDARD_LAYERS)}"
    assert all(type(layer).__module__.startswith("keras.") for layer in _leaf_layers(model))
    assert model.output_shape == (None, 10) and tuple(model.input_shape[1:]) == (28, 28, 1)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_outputs_probabilities_and_augments_only_in_training(name, digits):
    model = build_recipe(name)
    first = model.predict(digits, verbose=0)
    assert first.shape == (8, 10)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model.predict(digits, verbose=0), first, rtol=1e-6)  # inference: no randomness
    kinds = {type(layer).__name__ for layer in _leaf_layers(model)}
    if name != "fastcnn":  # the accurate recipes augment their training batches
        assert AUGMENTATION <= kinds
        trained = keras.ops.convert_to_numpy(model(digits, training=True))
        assert not np.allclose(trained, first, atol=1e-4)  # augmentation (and dropout) act in training


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_defaults_are_valid_training_settings(name):
    spec = get_spec(name)
    config = resolve_config({"model": name}, spec.defaults)
    assert config.schedule == "onecycle" and config.label_smoothing > 0
    assert spec.expected_accuracy >= 0.99
    if name == "fastcnn":
        assert config.epochs == 1  # the recipe's promise: 99% in one epoch


def test_combined_model_averages_its_members_and_loads_safely(digits, tmp_path):
    from mnistlab.classifier import load_classifier
    from mnistlab.models.ensemble import combine

    members = [get_model("fastcnn"), get_model("fastcnn")]  # same layer names: combine must cope
    path = tmp_path / "pair.keras"
    combine(members).save(path)
    probabilities = load_classifier(path).predict_proba(digits)  # safe_mode loading
    expected = np.mean([member.predict(digits, verbose=0) for member in members], axis=0)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)


def tiny_fastcnn_pair(mnist_dir, tmp_path):
    """An ensemble of 2 fastcnn runs on 600 training images, in tmp_path/ens, with its report."""
    from mnistlab.evaluation.evaluation import write_run_report
    from mnistlab.training.ensemble import train_ensemble

    return train_ensemble(
        2,
        member="fastcnn",
        report=write_run_report,
        out=tmp_path / "ens",
        data_dir=str(mnist_dir),
        train_split="train[:1%]",
        progress=False,
    )


@pytest.fixture(scope="module")
def fastcnn_pair(mnist_dir, tmp_path_factory):
    """One tiny fastcnn pair for the module; read-only: a test that changes it works on a copy."""
    return tiny_fastcnn_pair(mnist_dir, tmp_path_factory.mktemp("pair"))


def test_train_ensemble_trains_members_apart_and_saves_one_model(fastcnn_pair):
    from mnistlab.classifier import load_classifier

    run = fastcnn_pair
    members = [json.loads((run.dir / "members" / str(i) / "metrics.json").read_text()) for i in range(2)]
    configs = [json.loads((run.dir / "members" / str(i) / "config.json").read_text()) for i in range(2)]
    assert [config["seed"] for config in configs] == [0, 1]  # each member its own seed
    assert run.metrics["member_test_accuracy"] == [member["test_accuracy"] for member in members]
    assert run.metrics["train_seconds"] == pytest.approx(
        sum(member["train_seconds"] for member in members), abs=0.01
    )
    assert 0.1 < run.metrics["test_accuracy"] <= 1.0 and (run.dir / "report.html").is_file()
    classifier = load_classifier(run.dir)
    assert {type(layer).__name__ for layer in classifier.model.layers} >= {"Average"}
    assert run.config["model"] == "ensemble" and run.config["n_estimators"] == 2


def test_train_ensemble_routes_through_mnistlab_train_and_stops_at_the_budget(ensemble_run):
    """conftest.ENSEMBLE_RUN: `mnistlab.train("ensemble", n_estimators=4, budget_minutes=0.001, ...)`."""
    from mnistlab.training.run import load_run

    run = load_run(ensemble_run)
    assert sorted(path.name for path in (run.dir / "members").iterdir()) == ["0", "1"]
    assert run.metrics["members"] == 2 and len(run.history) == 2
    said = ensemble_run.with_name("ensemble-run.stderr").read_text()
    assert "stopping at 2 members: one more would pass the 0.001-minute budget" in said
    assert run.config["n_estimators"] == 4 and run.config["budget_minutes"] == 0.001
    assert [json.loads((run.dir / "members" / i / "config.json").read_text())["model"] for i in "01"] == [
        "best",
        "best",
    ]


def test_an_interrupted_ensemble_resumes_without_retraining_finished_members(fastcnn_pair, tmp_path):
    import mnistlab

    run = fastcnn_pair
    run_dir = Path(shutil.copytree(run.dir, tmp_path / "ens"))  # the shared pair stays as it is
    finished = (run_dir / "members" / "0" / "model.keras").stat().st_mtime_ns
    # as if killed while member 1 was being evaluated: its run and the ensemble's have no metrics yet
    (run_dir / "metrics.json").unlink()
    (run_dir / "members" / "1" / "metrics.json").unlink()
    resumed = mnistlab.train(resume=run_dir, progress=False)
    assert (run_dir / "members" / "0" / "model.keras").stat().st_mtime_ns == finished
    assert resumed.metrics["member_test_accuracy"] == run.metrics["member_test_accuracy"]
    assert resumed.metrics["test_accuracy"] == run.metrics["test_accuracy"]
