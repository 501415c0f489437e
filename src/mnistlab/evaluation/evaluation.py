"""Evaluate a trained model on a dataset split: metrics, mistakes, pictures and a one-file HTML report.

    import mnistlab
    result = mnistlab.evaluate("runs/2026-11-23-fastcnn")          # or model.keras / model.skops / model.onnx
    result.accuracy, result.loss, result.confusion_matrix          # numbers (confusion: rows = true labels)
    result.misclassified(limit=8).indices                          # the most confident mistakes first
    result.plot_confusion_matrix()                                 # a matplotlib Figure
    result.write("out/")                                           # metrics.json, *.png, report.html
    result.measure_robustness(limit=2000)                          # accuracy under corruptions (robustness)
    result.set_aside("runs/audit-mnist-test")                       # accuracy without the doubted labels

The dataset defaults to the run's config.json "dataset", else mnist; the model must fit its images
and its classes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab.classifier import Classifier, answering_classifier, load_classifier, record_summary
from mnistlab.data.load import load
from mnistlab.errors import MnistlabError
from mnistlab.evaluation import feature_maps, plots, reliability
from mnistlab.evaluation import robustness as corruptions  # `robustness` names the result field below
from mnistlab.metrics import compute_metrics
from mnistlab.rundir import HISTORY_FILE, REPORT_FILE, read_metrics

DEFAULT_DATASET = "mnist"
GALLERY_SIZE = 12  # misclassified examples shown in pictures and reports
SAMPLES_SIZE = 24  # examples in the sample-predictions grid


@dataclass(frozen=True)
class Misclassified:
    """The wrong predictions: indices into the evaluated split, (n, 28, 28, 1) images, true labels, probs."""

    indices: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


@dataclass
class Evaluation:
    """A model's predictions on one dataset split, with every metric computed from them."""

    classifier: Classifier
    dataset: str
    split: str
    class_names: list[str]
    images: np.ndarray  # (N, 28, 28, 1) uint8
    labels: np.ndarray  # (N,) int64 true classes
    probabilities: np.ndarray  # (N, C) float32 model outputs
    metrics: dict  # see metrics.compute_metrics
    data_dir: str | Path | None = None
    robustness: dict | None = None  # see measure_robustness
    set_aside_labels: dict | None = None  # see set_aside
    doubted: np.ndarray | None = None  # (D,) rows whose labels an audit doubts, marked in the gallery

    @property
    def accuracy(self) -> float:
        return self.metrics["accuracy"]

    @property
    def loss(self) -> float | None:
        """Mean cross-entropy in nats, or None where the model does not output probabilities."""
        return self.metrics["loss"]

    @property
    def confusion_matrix(self) -> np.ndarray:
        return np.asarray(self.metrics["confusion_matrix"], dtype=np.int64)

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def run_dir(self) -> Path | None:
        return self.classifier.run_dir

    @property
    def config(self) -> dict:
        return self.classifier.config

    @property
    def model_name(self) -> str:
        return str(self.config.get("model") or self.classifier.path.stem)

    @property
    def calibration(self) -> dict:
        """{"temperature", "ece", "ece_before"}: the calibration error after and before temperature scaling"""
        return reliability.calibration_summary(self.labels, self.probabilities, self.classifier.temperature)

    @property
    def run_metrics(self) -> dict:
        """The run's metrics.json (test accuracy, training seconds, ...), or {} for a bare model file."""
        return read_metrics(self.run_dir) if self.run_dir else {}

    @property
    def history(self):
        """The run's history.csv as a pandas DataFrame, or None."""
        if self.run_dir is None or not (self.run_dir / HISTORY_FILE).is_file():
            return None
        import pandas as pd

        try:
            history = pd.read_csv(self.run_dir / HISTORY_FILE)
        except (ValueError, OSError):
            return None
        return history if len(history) else None

    def misclassified(self, limit: int | None = None, most_confident_first: bool = True) -> Misclassified:
        """The wrong predictions, by default those the model was most sure about first."""
        predictions = self.predictions
        indices = np.flatnonzero(predictions != self.labels)
        if most_confident_first:
            confidence = self.probabilities[indices, predictions[indices]]
            indices = indices[np.argsort(-confidence, kind="stable")]
        indices = indices[:limit]
        return Misclassified(
            indices=indices,
            images=self.images[indices],
            labels=self.labels[indices],
            predictions=predictions[indices],
            probabilities=self.probabilities[indices],
        )

    def to_dict(self) -> dict:
        """Every metric with what was evaluated, as JSON-ready Python types."""
        return {
            "model": self.model_name,
            "model_kind": self.classifier.kind,
            "model_path": str(self.classifier.path),
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "dataset": self.dataset,
            "split": self.split,
            "class_names": list(self.class_names),
            **self.metrics,
            "calibration": self.calibration,
            **({"robustness": self.robustness} if self.robustness is not None else {}),
            **({"set_aside": self.set_aside_labels} if self.set_aside_labels is not None else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    # Pictures: each returns a matplotlib Figure (None where it does not apply).
    def plot_confusion_matrix(self):
        return plots.confusion_matrix_figure(self.confusion_matrix, self.class_names)

    def plot_misclassified(self, limit: int = GALLERY_SIZE):
        wrong = self.misclassified(limit=limit)
        doubted = set() if self.doubted is None else set(self.doubted.tolist())
        return plots.probability_bars_figure(
            wrong.images,
            wrong.labels,
            wrong.probabilities,
            self.class_names,
            empty="no misclassified examples",
            notes=["label doubted by the audit" if row in doubted else "" for row in wrong.indices.tolist()],
        )

    def plot_explanations(self, limit: int = GALLERY_SIZE // 2):
        """The most confident mistakes, each twice with its occlusion map (explanation.py): the ink that
        made the model answer what it did, and the ink that speaks for the true class."""
        from mnistlab.explanation import explain, overlay

        wrong = self.misclassified(limit=limit)
        if len(wrong) == 0:
            return None
        pictures = wrong.images[..., 0]
        for_answer = explain(self.classifier, pictures, wrong.predictions)
        for_truth = explain(self.classifier, pictures, wrong.labels)
        tiles, titles = [], []
        for index in range(len(wrong)):
            true, answer = self.class_names[wrong.labels[index]], self.class_names[wrong.predictions[index]]
            tiles += [np.asarray(overlay(pictures[index], for_answer[index], scale=4)),
                      np.asarray(overlay(pictures[index], for_truth[index], scale=4))]  # fmt: skip
            titles += [f"why {answer} (true {true})", f"evidence for {true}"]
        caption = "red: ink the class rests on (hiding it lowers its probability); blue: ink against it"
        return plots.tiles_figure(tiles, titles, columns=4, caption=caption)

    def set_aside(self, audit_path) -> dict:
        """Accuracy with the labels an audit (`mnistlab audit` of this dataset and split) doubts set aside;
        kept in self.set_aside_labels (to_dict, the report), and the gallery marks those examples."""
        from mnistlab.evaluation.audit import doubted_rows

        self.doubted, issues_file = doubted_rows(audit_path, self.dataset, self.split, self.data_dir)
        kept = np.ones(len(self.labels), dtype=bool)
        kept[self.doubted] = False
        right = self.predictions[kept] == self.labels[kept]
        self.set_aside_labels = {
            "audit": str(issues_file),
            "doubted": int(len(self.doubted)),
            "examples": int(kept.sum()),
            "accuracy": float(right.mean()) if len(right) else None,
        }
        return self.set_aside_labels

    def plot_probabilities(self, indices=range(9), columns: int = 3):
        """Any examples of the split (by default the first 9), each beside its probability bars: the true
        class blue, a wrong prediction red, as in the Keras quickstart."""
        indices = np.asarray(list(indices), dtype=np.int64)
        return plots.probability_bars_figure(
            self.images[indices], self.labels[indices], self.probabilities[indices], self.class_names, columns
        )

    def plot_samples(self, count: int = SAMPLES_SIZE):
        return plots.sample_predictions_figure(
            self.images[:count], self.labels[:count], self.predictions[:count], self.class_names
        )

    def plot_per_class_accuracy(self):
        recall = [row["recall"] for row in self.metrics["per_class"]]
        return plots.per_class_accuracy_figure(recall, self.class_names, self.accuracy)

    def plot_class_distribution(self):
        """Train split vs the evaluated split."""
        train = load(self.dataset, split="train", data_dir=self.data_dir)
        return plots.class_distribution_figure(train["label"], self.labels, self.class_names)

    def plot_training_curves(self):
        history = self.history
        return None if history is None else plots.training_curves_figure(history)

    def plot_feature_maps(self, index: int = 0):
        """Conv2D activations for example `index` of the split (None unless the model is a Keras CNN)."""
        return feature_maps.feature_maps_figure(self.classifier, self.images[index])

    def plot_reliability(self):
        """Reliability diagram(s): before and after the run's temperature scaling (None for logits)."""
        return reliability.reliability_figure(self.labels, self.probabilities, self.classifier.temperature)

    def measure_robustness(self, limit: int | None = corruptions.DEFAULT_LIMIT, seed=corruptions.DEFAULT_SEED,
                           progress=None) -> dict:  # fmt: skip
        """Accuracy under every corruption at severities 1-3 on `limit` digits of the split (a seeded sample);
        kept in self.robustness, so that to_dict, write and the report include it."""
        self.robustness = corruptions.measure_robustness(
            self.classifier, self.images, self.labels, limit, seed, len(self.class_names), progress
        )
        return self.robustness

    def plot_robustness(self):
        return None if self.robustness is None else corruptions.robustness_figure(self.robustness)

    def plot_robustness_examples(self, index: int = 0):
        """Example `index` of the split under each corruption (None until measure_robustness ran)."""
        if self.robustness is None:
            return None
        return corruptions.robustness_examples_figure(self.images[index], self.robustness["seed"])

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """metrics.json, one PNG per picture and report.html into out_dir; returns {name: path}."""
        from mnistlab.evaluation.report import write_evaluation

        return write_evaluation(self, Path(out_dir))

    def _repr_html_(self) -> str:
        from mnistlab.evaluation.report import render_summary

        return render_summary(self)


def split_slug(split: str) -> str:
    """A folder-safe name for a split: 'train[:80%]' -> 'train-to-80pct', 'test' -> 'test'."""
    text = split.replace("%", "pct").replace(":", "-to-").replace("+", "-plus-")
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "split"


def default_out_dir(classifier: Classifier, split: str) -> Path:
    """<run_dir>/eval-<split> for a run, <folder>/<model file stem>-eval-<split> for a bare model file."""
    if classifier.run_dir is not None:
        return classifier.run_dir / f"eval-{split_slug(split)}"
    return classifier.path.parent / f"{classifier.path.stem}-eval-{split_slug(split)}"


def evaluate_classifier(
    classifier: Classifier, dataset: str | None = None, split: str = "test", data_dir=None, probabilities=None
) -> Evaluation:
    """Evaluate an already loaded Classifier (see `evaluate`).

    `probabilities` (N, C), when the caller already has the model's outputs on this split, are used as they
    are instead of predicting again.
    """
    dataset = dataset or classifier.config.get("dataset") or DEFAULT_DATASET
    data_dir = data_dir or classifier.config.get("data_dir")  # where the run found its data, if it said
    data, info = load(dataset, split=split, data_dir=data_dir, with_info=True)
    label_feature = info.features["label"]
    classifier.check_fits(dataset, tuple(data["image"].shape[1:]), label_feature.num_classes)
    images, labels = data["image"], np.asarray(data["label"], dtype=np.int64)
    if len(labels) == 0:
        raise MnistlabError(f"split {split!r} of {dataset} holds no examples; choose a larger split")
    if probabilities is None:
        probabilities = classifier.predict_proba(images, label_feature.num_classes)
    elif np.shape(probabilities) != (len(labels), label_feature.num_classes):
        raise ValueError(
            f"probabilities of shape {np.shape(probabilities)} do not fit {len(labels)} examples of {split}"
        )
    probabilities = np.asarray(probabilities, dtype=np.float32)
    class_names = [str(name) for name in label_feature.names]
    return Evaluation(
        classifier=classifier,
        dataset=dataset,
        split=split,
        class_names=class_names,
        images=images,
        labels=labels,
        probabilities=probabilities,
        metrics=compute_metrics(labels, probabilities, class_names),
        data_dir=data_dir,
    )


def evaluate(target, dataset: str | None = None, split: str = "test", data_dir=None) -> Evaluation:
    """Evaluate a run directory or a .keras / .skops / .onnx model file on `split` of `dataset`.

    A Keras run with a fresh ONNX copy (made by its first `predict` or `export`) is predicted through the
    copy, without TensorFlow (classifier.answering_classifier)."""
    return evaluate_classifier(answering_classifier(target), dataset=dataset, split=split, data_dir=data_dir)


def evaluate_to_dir(
    target,
    dataset: str | None = None,
    split: str = "test",
    data_dir=None,
    out_dir=None,
    robustness_limit: int | None = None,
    progress=None,
    audit=None,
) -> tuple[Evaluation, Path]:
    """Evaluate and write everything (metrics.json, pictures, report.html) into out_dir (or the default).

    robustness_limit: measure accuracy under corruptions on that many digits of the split (None: do not);
    progress(corruption name) is called as each corruption starts; audit: an audit of this split whose
    doubted labels are set aside (see Evaluation.set_aside).
    """
    if robustness_limit is not None:
        corruptions.check_limit(robustness_limit)  # before the minutes of evaluating, not after
    evaluation = evaluate(target, dataset=dataset, split=split, data_dir=data_dir)
    if audit is not None:
        evaluation.set_aside(audit)
    if robustness_limit is not None:
        evaluation.measure_robustness(limit=robustness_limit, progress=progress)
    out_dir = Path(out_dir) if out_dir else default_out_dir(evaluation.classifier, split)
    evaluation.write(out_dir)
    return evaluation, out_dir


def write_run_report(run, probabilities=None, data_dir=None) -> Path:
    """Evaluate a finished run on its dataset's test split and write <run_dir>/report.html.

    run: a run directory, or the Classifier training still holds (saves reloading the model);
    probabilities: its (N, C) outputs on the whole test split, when known (saves predicting again).
    """
    from mnistlab.evaluation.report import write_report

    classifier = load_classifier(run)
    evaluation = evaluate_classifier(classifier, split="test", data_dir=data_dir, probabilities=probabilities)
    # What a later evaluation would need the Keras model for, kept while it is loaded (see
    # classifier.CopiedKerasClassifier): its layer table and the feature maps the report shows.
    record_summary(classifier)
    feature_maps.record(classifier, evaluation.images[0])
    return write_report(evaluation, classifier.run_dir / REPORT_FILE)
