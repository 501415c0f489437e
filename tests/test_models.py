"""One contract for every registered model: build, fit a few examples with the training loop's optimizer
and loss, save, load back with `load_classifier`, predict probabilities. New zoo modules join by themselves.
(Whole runs through `mnistlab.train` are in test_train_cli.py and test_accuracy.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import skops.io

import mnistlab
from mnistlab.classifier import to_float
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
from mnistlab.training.optimization import compile_model

MODEL_NAMES = [spec.name for spec in list_models()]


@pytest.fixture(scope="module")
def tiny_mnist(mnist_dir):
    """512 training examples (float32 in [0, 1]) and 64 test images (uint8), as the contract needs."""
    train = mnistlab.load("mnist", split="train[:512]", data_dir=mnist_dir)
    test = mnistlab.load("mnist", split="test[:64]", data_dir=mnist_dir)
    return to_float(train["image"]), train["label"], test["image"]


def test_the_zoo_holds_the_tutorial_models():
    assert {"logreg", "mlp", "dnn", "cnn", "forest"} <= set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_contract(name, tmp_path, tiny_mnist):
    """Build, fit a few examples, save, load with load_classifier: the same probabilities come back."""
    train_images, train_labels, test_images = tiny_mnist
    spec = get_spec(name)
    assert spec.description and spec.kind in ("keras", "sklearn")
    assert spec.expected_accuracy is None or 0.5 < spec.expected_accuracy <= 1.0
    config = resolve_config({"model": name}, spec.defaults)  # the recipe's settings are valid ones

    model = get_model(name)
    if spec.kind == "keras":
        assert tuple(model.input_shape[1:]) == INPUT_SHAPE and model.output_shape[-1] == NUM_CLASSES
        compile_model(model, config, total_steps=8)  # the training loop's optimizer, schedule and loss
        history = model.fit(train_images, train_labels, batch_size=64, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        path = tmp_path / "model.keras"
        model.save(path)
        in_memory = np.asarray(model.predict(to_float(test_images), verbose=0))
    else:
        model.fit(train_images.reshape(len(train_images), -1), train_labels)
        path = tmp_path / "model.skops"
        skops.io.dump(model, path)
        in_memory = model.predict_proba(to_float(test_images).reshape(len(test_images), -1))

    classifier = mnistlab.load_classifier(path)
    probabilities = classifier.predict_proba(test_images)
    assert classifier.num_classes == NUM_CLASSES
    assert probabilities.shape == (len(test_images), NUM_CLASSES) and probabilities.dtype == np.float32
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(probabilities, in_memory, atol=1e-4)  # the file holds the trained model
    assert classifier.predict(test_images).shape == (len(test_images),)


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
