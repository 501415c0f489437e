"""The evaluation report: one self-contained HTML file (pictures as data: URIs, inline CSS, no requests).

    write_evaluation(evaluation, Path("out"))      # metrics.json, probabilities.npy, *.png, report.html
    write_report(evaluation, run_dir / REPORT_FILE)   # the HTML file alone

The page reads top to bottom: the headline numbers, then the pictures (with the short tables that explain
them), then the long config and model tables. The template (templates/report.html.j2) is rendered with
autoescaping on, so names, config values and layer names from a model file can never inject markup.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import jinja2
import numpy as np

from mnistlab.evaluation import plots
from mnistlab.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from mnistlab.rundir import METRICS_FILE, REPORT_FILE

PROBABILITIES_FILE = "probabilities.npy"  # (N, C) float32 outputs on the split, beside metrics.json

# file stem -> title, in the order the report shows them
PICTURES = {
    "training_curves": "Training curves",
    "confusion_matrix": "Confusion matrix",
    "per_class_accuracy": "Accuracy per class",
    "reliability": "Calibration: reliability diagram",
    "misclassified": "Most confident mistakes",
    "explanations": "Why the mistakes: occlusion maps",
    "samples": "Sample predictions",
    "class_distribution": "Class distribution",
    "feature_maps": "Feature maps of the first test image",
    "robustness": "Accuracy under corruptions",
    "robustness_examples": "The first test image under each corruption",
}


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("mnistlab.evaluation", "templates"),
        autoescape=True,  # the templates end in .j2, which select_autoescape would leave unescaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_pictures(evaluation) -> dict[str, bytes]:
    """Every picture that applies to this evaluation, as PNG bytes keyed by PICTURES name."""
    makers = {
        "training_curves": evaluation.plot_training_curves,
        "confusion_matrix": evaluation.plot_confusion_matrix,
        "per_class_accuracy": evaluation.plot_per_class_accuracy,
        "reliability": evaluation.plot_reliability,
        "misclassified": evaluation.plot_misclassified,
        "explanations": evaluation.plot_explanations,
        "samples": evaluation.plot_samples,
        "class_distribution": evaluation.plot_class_distribution,
        "feature_maps": evaluation.plot_feature_maps,
        "robustness": evaluation.plot_robustness,
        "robustness_examples": evaluation.plot_robustness_examples,
    }
    pictures = {}
    for name, make in makers.items():
        figure = make()
        if figure is not None:
            pictures[name] = plots.figure_to_png(figure)
    return pictures


def _config_rows(config: dict) -> list[tuple[str, str]]:
    """(key, value) pairs; nested dicts (versions, hardware) as compact JSON."""
    return [
        (str(key), value if isinstance(value, str) else json.dumps(value, sort_keys=True))
        for key, value in config.items()
    ]


def _summary(evaluation) -> dict:
    """The headline numbers, as display strings."""
    run_metrics = evaluation.run_metrics
    parameters = evaluation.classifier.params
    train_seconds = run_metrics.get("train_seconds")
    macro = evaluation.metrics["macro_avg"]
    return {
        "Model": f"{evaluation.model_name} ({evaluation.classifier.kind})",
        "Model file": str(evaluation.classifier.path),
        "Dataset": evaluation.dataset,
        "Split": f"{evaluation.split} ({evaluation.metrics['n_examples']:,} examples)",
        "Accuracy": f"{evaluation.accuracy:.2%}",
        "Loss (cross-entropy)": "n/a" if evaluation.loss is None else f"{evaluation.loss:.4f}",
        "Calibration error (ECE, 15 bins)": _calibration(evaluation),
        **_set_aside(evaluation),
        **_monitored(evaluation),
        "Macro precision / recall / F1": " / ".join(
            f"{macro[key]:.4f}" for key in ("precision", "recall", "f1")
        ),
        "Training time": "n/a" if train_seconds is None else f"{float(train_seconds):.1f} s",
        "Epochs": str(run_metrics.get("epochs", evaluation.config.get("epochs", "n/a"))),
        "Parameters": "n/a" if parameters is None else f"{parameters:,}",
    }


def _monitored(evaluation) -> dict:
    """The split a run scored after every epoch for its curves (`--monitor-split`), and its limits."""
    split = evaluation.config.get("monitor_split")
    if not split:
        return {}
    return {
        "Monitored after each epoch": f"{split}: drawn in the training curves only; early stopping and the "
        "epoch kept looked at the validation data alone"
    }


def _set_aside(evaluation) -> dict:
    """The accuracy without the labels an audit doubts, when the evaluation was given an audit."""
    aside = evaluation.set_aside_labels
    if aside is None or aside["accuracy"] is None:
        return {}
    return {
        "Accuracy, doubted labels set aside": f"{aside['accuracy']:.2%} on {aside['examples']:,} examples "
        f"({aside['doubted']:,} labels the audit doubts set aside; marked in the gallery)"
    }


def _calibration(evaluation) -> str:
    calibration = evaluation.calibration
    if calibration["ece"] is None:
        return "n/a"
    temperature = calibration["temperature"]
    if temperature == 1:
        return f"{calibration['ece']:.4f} (uncalibrated)"
    return f"{calibration['ece']:.4f} (temperature {temperature:g}; {calibration['ece_before']:.4f} before)"


def _context(evaluation, pictures: dict[str, bytes]) -> dict:
    names = evaluation.class_names
    per_class = evaluation.metrics["per_class"]
    confusions = [
        {
            "true": names[pair["true"]],
            "predicted": names[pair["predicted"]],
            "count": pair["count"],
            "share": pair["count"] / max(1, per_class[pair["true"]]["support"]),
        }
        for pair in evaluation.metrics["top_confusions"]
    ]
    return {
        "title": f"{evaluation.model_name} on {evaluation.dataset} {evaluation.split}",
        "summary": _summary(evaluation),
        "per_class": per_class,
        "macro": evaluation.metrics["macro_avg"],
        "accuracy": evaluation.accuracy,
        "n_examples": evaluation.metrics["n_examples"],
        "confusions": confusions,
        "config": _config_rows(evaluation.config),
        "layers": evaluation.classifier.layers(),
        "robustness": evaluation.robustness,
        "pictures": {
            name: {
                "title": PICTURES[name],
                "uri": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            }
            for name, png in pictures.items()
        },
    }


def render_report(evaluation, pictures: dict[str, bytes] | None = None) -> str:
    """The complete report.html text."""
    pictures = render_pictures(evaluation) if pictures is None else pictures
    return _environment().get_template("report.html.j2").render(**_context(evaluation, pictures))


def render_summary(evaluation) -> str:
    """A short HTML block (headline numbers and the per-class table) for notebooks."""
    context = _context(evaluation, pictures={})
    return _environment().get_template("summary.html.j2").render(**context)


def write_report(evaluation, path: Path) -> Path:
    """Write report.html alone (atomically)."""
    return atomic_write_text(path, render_report(evaluation))


def write_evaluation(evaluation, out_dir: Path) -> dict[str, Path]:
    """metrics.json, <picture>.png for each picture and report.html into out_dir; returns {name: path}."""
    pictures = render_pictures(evaluation)  # all in memory first: a failure leaves nothing half-written
    written = {"metrics": atomic_write_json(out_dir / METRICS_FILE, evaluation.to_dict())}
    buffer = io.BytesIO()
    np.save(buffer, evaluation.probabilities, allow_pickle=False)  # (N, C) float32, reused by `runs compare`
    written["probabilities"] = atomic_write_bytes(out_dir / PROBABILITIES_FILE, buffer.getvalue())
    for name, png in pictures.items():
        written[name] = atomic_write_bytes(out_dir / f"{name}.png", png)
    written["report"] = atomic_write_text(out_dir / REPORT_FILE, render_report(evaluation, pictures))
    return written
