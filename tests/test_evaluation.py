"""Evaluation metrics, checked against scikit-learn on the saved models' own predictions, on real MNIST.

The fixtures build real models cheaply: a small functional CNN fitted for one short epoch and saved as a run
directory (config.json, history.csv, metrics.json, model.keras), and a small random forest saved with skops.
They are built once per session (other test modules import them) under pytest's session temp folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

import mnistlab
from mnistlab import metrics
from mnistlab.classifier import KerasClassifier, load_classifier
from mnistlab.errors import MnistlabError
from mnistlab.evaluation.evaluation import default_out_dir, evaluate, split_slug

SEED = 0
FIT_EXAMPLES = 3000  # enough for a model that is right most of the time and still makes mistakes
EVAL_SPLIT = "test[:2000]"


def _fit_data(mnist_dir):
    images, labels = mnistlab.load(
        "mnist", split=f"train[:{FIT_EXAMPLES}]", as_supervised=True, data_dir=mnist_dir
    )
    return images, labels


def build_keras_run(run_dir, mnist_dir):
    """A run directory holding a small functional CNN fitted for one epoch (about 2 s on 2 cores)."""
    if (run_dir / "model.keras").is_file():
        return run_dir
    import keras

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((28, 28, 1))
    features = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(inputs)
    features = keras.layers.MaxPooling2D()(features)
    features = keras.layers.Conv2D(16, 3, activation="relu", name="conv_b")(features)
    features = keras.layers.MaxPooling2D()(features)
    features = keras.layers.Flatten()(features)
    outputs = keras.layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs, outputs, name="tiny_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    images, labels = _fit_data(mnist_dir)
    pixels = images.astype("float32") / 255
    fitted = model.fit(
        pixels[:2500],
        labels[:2500],
        validation_data=(pixels[2500:], labels[2500:]),
        epochs=2,
        batch_size=64,
        verbose=0,
    )
    run_dir.mkdir(parents=True)
    history = fitted.history
    lines = ["epoch,accuracy,loss,val_accuracy,val_loss"] + [
        f"{epoch},{history['accuracy'][epoch]},{history['loss'][epoch]},"
        f"{history['val_accuracy'][epoch]},{history['val_loss'][epoch]}"
        for epoch in range(2)
    ]
    (run_dir / "history.csv").write_text("\n".join(lines) + "\n")
    config = {
        "model": "tiny_cnn",
        "dataset": "mnist",
        "seed": SEED,
        "epochs": 2,
        "batch_size": 64,
        "train_split": f"train[:{FIT_EXAMPLES}]",
        "versions": {"keras": keras.__version__},
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "metrics.json").write_text(
        json.dumps({"test_accuracy": 0.9, "train_seconds": 2.5, "epochs": 2})
    )
    model.save(run_dir / "model.keras")
    return run_dir


def build_forest_file(folder, mnist_dir):
    """A bare model file: a 10-tree random forest saved with skops (its probabilities include exact zeros)."""
    path = folder / "forest.skops"
    if path.is_file():
        return path
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    images, labels = _fit_data(mnist_dir)
    forest = RandomForestClassifier(n_estimators=10, max_depth=10, random_state=SEED, n_jobs=1)
    forest.fit(images.reshape(len(images), -1).astype("float32") / 255, labels)
    folder.mkdir(parents=True, exist_ok=True)
    sio.dump(forest, path)
    return path


@pytest.fixture(scope="session")
def keras_run(tmp_path_factory, mnist_dir):
    return build_keras_run(tmp_path_factory.getbasetemp() / "keras-run", mnist_dir)


@pytest.fixture(scope="session")
def forest_file(tmp_path_factory, mnist_dir):
    return build_forest_file(tmp_path_factory.getbasetemp() / "forest", mnist_dir)


@pytest.fixture(scope="session")
def keras_evaluation(keras_run, mnist_dir):
    return evaluate(keras_run, split=EVAL_SPLIT, data_dir=mnist_dir)


def _keras_loss(labels, probabilities) -> float:
    """Keras' own cross-entropy, the one training reports (it clips at 1e-7, so a forest's zeros count)."""
    import keras

    loss = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    return float(keras.ops.convert_to_numpy(loss))


def _sklearn_reference(model_path, mnist_dir):
    """Metrics computed by scikit-learn (the loss by Keras) from the saved model's predictions."""
    images, labels = mnistlab.load("mnist", split=EVAL_SPLIT, as_supervised=True, data_dir=mnist_dir)
    probabilities = load_classifier(model_path).predict_proba(images)
    predictions = probabilities.argmax(axis=1)
    classes = list(range(10))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    macro = skm.precision_recall_fscore_support(
        labels, predictions, labels=classes, average="macro", zero_division=0
    )
    return {
        "accuracy": skm.accuracy_score(labels, predictions),
        "loss": _keras_loss(labels, probabilities),
        "confusion": skm.confusion_matrix(labels, predictions, labels=classes),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "macro": macro[:3],
    }


@pytest.mark.parametrize("kind", ["keras", "forest"])
def test_metrics_equal_sklearn_on_saved_model_predictions(kind, keras_run, forest_file, mnist_dir):
    target = keras_run if kind == "keras" else forest_file
    reference = _sklearn_reference(target, mnist_dir)
    result = evaluate(target, split=EVAL_SPLIT, data_dir=mnist_dir)

    assert 0.5 < result.accuracy < 1.0  # a real model that still makes mistakes to count
    assert result.accuracy == pytest.approx(reference["accuracy"], abs=1e-12)
    assert result.loss == pytest.approx(reference["loss"], rel=1e-5)
    np.testing.assert_array_equal(result.confusion_matrix, reference["confusion"])
    per_class = result.metrics["per_class"]
    for key in ("precision", "recall", "f1"):
        np.testing.assert_allclose([row[key] for row in per_class], reference[key], rtol=1e-12)
    np.testing.assert_array_equal([row["support"] for row in per_class], reference["support"])
    macro = result.metrics["macro_avg"]
    np.testing.assert_allclose(
        [macro["precision"], macro["recall"], macro["f1"]], reference["macro"], rtol=1e-12
    )
    assert result.metrics["n_examples"] == 2000 == result.confusion_matrix.sum()


def test_metrics_edge_cases_match_sklearn():
    # class 2 is never predicted (precision 0/0) and class 3 never occurs (recall 0/0)
    labels = np.array([0, 0, 1, 1, 2, 2, 2])
    probabilities = np.full((7, 4), 0.05, dtype=np.float32)
    for row, predicted in enumerate([0, 1, 1, 1, 0, 3, 1]):
        probabilities[row, predicted] = 0.85
    computed = metrics.compute_metrics(labels, probabilities)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        labels, probabilities.argmax(1), labels=range(4), zero_division=0
    )
    np.testing.assert_allclose([row["precision"] for row in computed["per_class"]], precision)
    np.testing.assert_allclose([row["recall"] for row in computed["per_class"]], recall)
    np.testing.assert_allclose([row["f1"] for row in computed["per_class"]], f1)
    assert computed["loss"] == pytest.approx(skm.log_loss(labels, probabilities, labels=range(4)), rel=1e-6)
    # four mistakes, one each: ties are listed by true class, then predicted class
    pairs = [(pair["true"], pair["predicted"], pair["count"]) for pair in computed["top_confusions"]]
    assert pairs == [(0, 1, 1), (2, 0, 1), (2, 1, 1), (2, 3, 1)]


def test_loss_is_not_available_for_outputs_that_are_not_probabilities():
    logits = np.array([[2.0, -1.0], [0.5, 3.0]], dtype=np.float32)
    assert metrics.cross_entropy(np.array([0, 1]), logits) is None
    assert metrics.compute_metrics(np.array([0, 1]), logits)["accuracy"] == 1.0


def test_evaluation_object(keras_evaluation, keras_run):
    result = keras_evaluation
    wrong = result.misclassified()
    assert len(wrong) == int((result.predictions != result.labels).sum()) > 0
    assert np.all(wrong.predictions != wrong.labels)
    assert wrong.images.shape == (len(wrong), 28, 28, 1)
    np.testing.assert_array_equal(result.labels[wrong.indices], wrong.labels)
    confidence = wrong.probabilities.max(axis=1)
    assert np.all(np.diff(confidence) <= 0)  # most confident mistakes first
    assert len(result.misclassified(limit=3)) == 3

    assert result.dataset == "mnist" and result.split == EVAL_SPLIT
    assert result.model_name == "tiny_cnn" and result.run_dir == keras_run
    assert list(result.history.columns[:1]) == ["epoch"] and len(result.history) == 2
    document = json.loads(result.to_json())
    assert document["accuracy"] == result.accuracy
    assert document["confusion_matrix"] == result.confusion_matrix.tolist()
    html = result._repr_html_()
    assert "<table" in html and f"{result.accuracy:.2%}" in html


def test_plot_methods_return_figures(keras_evaluation):
    from matplotlib.figure import Figure

    for name in (
        "confusion_matrix",
        "misclassified",
        "samples",
        "per_class_accuracy",
        "class_distribution",
        "training_curves",
        "feature_maps",
    ):
        figure = getattr(keras_evaluation, f"plot_{name}")()
        assert isinstance(figure, Figure), name
        assert figure.axes, name
    # per Conv2D layer (2): the input image and one mosaic of all its channels (feature_maps.py)
    assert len(keras_evaluation.plot_feature_maps().axes) == 2 * 2
    assert isinstance(keras_evaluation.plot_reliability(), Figure)
    assert keras_evaluation.plot_robustness() is None  # until measure_robustness has run


def test_probability_bars_for_any_examples(keras_evaluation):
    """The Keras quickstart's picture: each image beside its bars, the true class blue, a wrong guess red."""
    from matplotlib.colors import to_rgba

    wrong = int(keras_evaluation.misclassified(limit=1).indices[0])
    indices = [0, 1, 2, wrong]
    figure = keras_evaluation.plot_probabilities(indices, columns=2)
    [axes] = figure.axes
    assert len(axes.get_images()) == len(indices)
    bars = axes.patches
    assert len(bars) == 10 * len(indices)
    blue, red = to_rgba("tab:blue"), to_rgba("tab:red")
    for position, index in enumerate(indices):
        own = bars[10 * position : 10 * (position + 1)]
        colors = [bar.get_facecolor() for bar in own]
        true, predicted = keras_evaluation.labels[index], keras_evaluation.predictions[index]
        assert colors[true] == blue and colors.count(blue) == 1
        assert colors.count(red) == (predicted != true) and (predicted == true or colors[predicted] == red)
        heights = [-bar.get_height() / 28 for bar in own]  # 28 image pixels high at probability 1
        np.testing.assert_allclose(heights, keras_evaluation.probabilities[index], atol=1e-6)
    assert keras_evaluation.predictions[wrong] != keras_evaluation.labels[wrong]


def test_feature_maps_for_sequential_and_functional_models(tmp_path, keras_run):
    import keras

    from mnistlab.evaluation.feature_maps import feature_maps

    sequential = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, name="first"),
            keras.layers.Conv2D(6, 5, name="second"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    sequential.save(tmp_path / "sequential.keras")
    image = np.zeros((28, 28, 1), dtype=np.uint8)
    image[10:18, 12:16] = 255
    for classifier in (
        KerasClassifier(sequential, tmp_path / "x.keras"),
        load_classifier(tmp_path / "sequential.keras"),
    ):
        maps = feature_maps(classifier, image)
        assert [(name, activations.shape) for name, activations in maps] == [
            ("first", (26, 26, 4)),
            ("second", (22, 22, 6)),
        ]
    functional = load_classifier(keras_run)
    assert [name for name, _ in feature_maps(functional, image)] == ["conv_a", "conv_b"]


def test_feature_maps_of_a_bfloat16_model_are_drawable():
    import keras

    from mnistlab.evaluation.feature_maps import feature_maps, feature_maps_figure

    layer = keras.layers.Conv2D(4, 3, name="conv_bf16", dtype="mixed_bfloat16")
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), layer, keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    image = np.zeros((28, 28, 1), dtype=np.uint8)
    image[8:20, 13:15] = 255
    classifier = KerasClassifier(model, Path("bf16.keras"))
    ((name, activations),) = feature_maps(classifier, image)
    assert name == "conv_bf16" and activations.dtype == np.float32
    assert feature_maps_figure(classifier, image) is not None


def test_forest_has_no_feature_maps_and_a_finite_loss(forest_file, mnist_dir):
    result = evaluate(forest_file, split="test[:300]", data_dir=mnist_dir)
    assert result.classifier.kind == "sklearn"
    assert result.plot_feature_maps() is None and result.plot_training_curves() is None
    assert np.isfinite(result.loss)  # exact zeros in predict_proba are clipped, not log(0)
    assert default_out_dir(result.classifier, "test[:300]") == forest_file.parent / "forest-eval-test-to-300"


def test_model_that_does_not_fit_the_dataset_is_a_clear_error(tmp_path, mnist_dir):
    import keras

    five_classes = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    five_classes.save(tmp_path / "five.keras")
    with pytest.raises(MnistlabError, match=r"predicts 5 classes but mnist has 10 classes \(0..9\)"):
        evaluate(tmp_path / "five.keras", split="test[:10]", data_dir=mnist_dir)
    color = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    color.save(tmp_path / "color.keras")
    with pytest.raises(MnistlabError, match=r"takes inputs of shape \(32, 32, 3\) but mnist images are"):
        evaluate(tmp_path / "color.keras", split="test[:10]", data_dir=mnist_dir)


def test_forest_that_never_saw_a_class_is_widened_to_every_class(tmp_path, mnist_dir):
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    images, labels = mnistlab.load("mnist", split="train[:600]", as_supervised=True, data_dir=mnist_dir)
    seen = labels != 9
    forest = RandomForestClassifier(n_estimators=5, random_state=SEED).fit(
        images[seen].reshape(int(seen.sum()), -1) / 255, labels[seen]
    )
    sio.dump(forest, tmp_path / "no-nines.skops")
    result = evaluate(tmp_path / "no-nines.skops", split="test[:500]", data_dir=mnist_dir)
    assert result.probabilities.shape == (500, 10)
    assert np.all(result.probabilities[:, 9] == 0)
    nines = result.metrics["per_class"][9]
    assert nines["recall"] == 0 and nines["support"] == int((result.labels == 9).sum()) > 0

    forest.fit(images.reshape(600, -1) / 255, np.array(["even", "odd"])[labels % 2])
    sio.dump(forest, tmp_path / "parity.skops")
    with pytest.raises(
        MnistlabError, match=r"predicts the labels \[even, odd\] but mnist has 10 classes \(0..9\)"
    ):
        evaluate(tmp_path / "parity.skops", split="test[:10]", data_dir=mnist_dir)


def test_split_slug_is_folder_safe_and_distinct():
    assert split_slug("test") == "test"
    assert split_slug("train[:80%]") == "train-to-80pct"
    assert split_slug("train[80%:]") == "train-80pct-to"
    assert split_slug("test+train[:10]") == "test-plus-train-to-10"
