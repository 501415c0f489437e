"""One contract for every registered model: build, train on a few examples through `mnistlab.train`,
save, load back with `load_classifier`, predict probabilities. New zoo modules join automatically."""

from __future__ import annotations

import numpy as np
import pytest

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

MODEL_NAMES = [spec.name for spec in list_models()]


@pytest.fixture(scope="module")
def test_images(mnist_dir):
    part = mnistlab.load("mnist", split="test[:64]", data_dir=mnist_dir)
    return part["image"], part["label"]


def test_the_zoo_holds_the_tutorial_models():
    assert {"logreg", "mlp", "dnn", "cnn", "forest"} <= set(MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_contract(name, mnist_dir, tmp_path, test_images):
    spec = get_spec(name)
    assert spec.description and spec.kind in ("keras", "sklearn")
    assert spec.expected_accuracy is None or 0.5 < spec.expected_accuracy <= 1.0

    built = get_model(name)
    if spec.kind == "keras":
        assert tuple(built.input_shape[1:]) == INPUT_SHAPE
        assert built.output_shape[-1] == NUM_CLASSES

    run = mnistlab.train(
        name,
        epochs=1,
        batch_size=32,
        train_split="train[:2%]",
        data_dir=str(mnist_dir),
        out=str(tmp_path / name),
        progress=False,
    )
    model_file = run.dir / ("model.keras" if spec.kind == "keras" else "model.skops")
    assert model_file.is_file()
    assert run.history["epoch"].tolist() == [1]
    assert 0.0 <= run.metrics["test_accuracy"] <= 1.0 and run.metrics["test_loss"] > 0

    classifier = mnistlab.load_classifier(run.dir)
    images, labels = test_images
    probabilities = classifier.predict_proba(images)
    assert probabilities.shape == (len(images), NUM_CLASSES)
    assert probabilities.dtype == np.float32
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    # 1200 examples and one epoch already beat chance (10%) by far for every family
    assert (classifier.predict(images) == labels).mean() > 0.25


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
