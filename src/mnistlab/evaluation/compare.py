"""Compare two runs honestly: on the same test digits, with confidence intervals and a paired test.

    comparison = compare_runs("runs/2026-11-23-fastcnn", "runs/latest")
    comparison.to_dict()     # accuracies with 95% Wilson intervals, only-A/only-B counts, McNemar p-value
    comparison.write("out/") # comparison.json + disagreements.png (the digits one got right, the other wrong)

Two accuracies measured on the same digits are paired: what decides between the models is only the digits
where they disagree. The exact McNemar test asks whether "only A right" (b) and "only B right" (c) could be
two halves of a fair coin: a two-sided binomial test of b successes in b + c trials at p = 1/2. Each
accuracy's 95% interval is the Wilson score interval (better than the normal one near 100%). Both come from
scipy.stats.binomtest.

Each run's outputs come from its saved evaluation (<run>/eval-<split>/probabilities.npy, written by
`mnistlab evaluate`) when one exists for the same model, dataset and split; otherwise the model is evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from mnistlab.classifier import load_classifier
from mnistlab.errors import MnistlabError
from mnistlab.evaluation.evaluation import DEFAULT_DATASET, Evaluation, default_out_dir, evaluate_classifier
from mnistlab.evaluation.leaderboard import list_runs
from mnistlab.evaluation.report import PROBABILITIES_FILE
from mnistlab.files import atomic_write_bytes, atomic_write_json
from mnistlab.rundir import METRICS_FILE, RUNS_ROOT

CONFIDENCE = 0.95
SHEET_SIZE = 20  # digits shown per side on the disagreements sheet
COMPARISON_FILE = "comparison.json"
SHEET_FILE = "disagreements.png"


def wilson_interval(correct: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of an accuracy of correct / total, as fractions."""
    interval = binomtest(int(correct), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts (1.0 when the models never disagree)."""
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(int(only_a), int(only_a + only_b), 0.5).pvalue)


def _saved_probabilities(classifier, dataset: str, split: str) -> np.ndarray | None:
    """The run's saved outputs on this dataset and split, if `mnistlab evaluate` stored them for this very
    model file after it was last written; otherwise None (and the caller predicts again)."""
    folder = default_out_dir(classifier, split)
    saved, metrics = folder / PROBABILITIES_FILE, folder / METRICS_FILE
    if not (saved.is_file() and metrics.is_file()):
        return None
    try:
        recorded = json.loads(metrics.read_text())
        # the folder lies inside this run; the file name tells model.keras from its ONNX copy (the path
        # itself may have been spelt through runs/latest or relative to another folder)
        evaluated = (
            recorded.get("dataset"),
            recorded.get("split"),
            Path(str(recorded.get("model_path"))).name,
        )
        same = evaluated == (dataset, split, classifier.path.name)
        if not same or saved.stat().st_mtime < classifier.path.stat().st_mtime:
            return None
        return np.load(saved, allow_pickle=False)
    except (OSError, ValueError):
        return None  # unreadable or half-written: evaluate instead


def _evaluation(classifier, dataset: str, split: str, data_dir) -> tuple[Evaluation, bool]:
    """(the evaluation of one side, whether it reused saved outputs)."""
    saved = _saved_probabilities(classifier, dataset, split)
    try:
        evaluation = evaluate_classifier(classifier, dataset, split, data_dir, probabilities=saved)
    except ValueError:  # the saved outputs do not fit the split as it loads now
        if saved is None:
            raise
        evaluation, saved = evaluate_classifier(classifier, dataset, split, data_dir), None
    return evaluation, saved is not None


def _name(evaluation: Evaluation) -> str:
    where = evaluation.run_dir or evaluation.classifier.path
    return Path(where).resolve().name


@dataclass
class Comparison:
    """Two evaluations of the same digits, and what their paired predictions say."""

    a: Evaluation
    b: Evaluation
    reused: tuple[bool, bool]  # whether each side's outputs came from its saved evaluation

    @property
    def a_right(self) -> np.ndarray:
        return self.a.predictions == self.a.labels

    @property
    def b_right(self) -> np.ndarray:
        return self.b.predictions == self.b.labels

    @property
    def only_a(self) -> np.ndarray:
        """Indices into the split of the digits A got right and B wrong."""
        return np.flatnonzero(self.a_right & ~self.b_right)

    @property
    def only_b(self) -> np.ndarray:
        return np.flatnonzero(~self.a_right & self.b_right)

    @property
    def p_value(self) -> float:
        return mcnemar_exact(len(self.only_a), len(self.only_b))

    def _side(self, evaluation: Evaluation, reused: bool) -> dict:
        correct = int(np.sum(evaluation.predictions == evaluation.labels))
        low, high = wilson_interval(correct, len(evaluation.labels))
        return {
            "name": _name(evaluation),
            "path": str(evaluation.run_dir or evaluation.classifier.path),
            "model": evaluation.model_name,
            "correct": correct,
            "accuracy": correct / len(evaluation.labels),
            "ci_low": low,
            "ci_high": high,
            "reused_predictions": reused,
        }

    def to_dict(self) -> dict:
        both = self.a_right & self.b_right
        return {
            "dataset": self.a.dataset,
            "split": self.a.split,
            "n_examples": int(len(self.a.labels)),
            "confidence": CONFIDENCE,
            "a": self._side(self.a, self.reused[0]),
            "b": self._side(self.b, self.reused[1]),
            "only_a_right": int(len(self.only_a)),
            "only_b_right": int(len(self.only_b)),
            "both_right": int(both.sum()),
            "both_wrong": int(np.sum(~self.a_right & ~self.b_right)),
            "mcnemar_p": self.p_value,
        }

    def plot_disagreements(self, limit: int = SHEET_SIZE):
        """The digits only A got right, then those only B got right: image, true label, both predictions."""
        from mnistlab.evaluation.plots import PREDICTED_COLOR, image_mosaic, new_figure

        groups = [
            (f"only A ({_name(self.a)}) right: {len(self.only_a)}", self.only_a[:limit]),
            (f"only B ({_name(self.b)}) right: {len(self.only_b)}", self.only_b[:limit]),
        ]
        columns, header = 10, 14  # header: pixel rows above each 28x28 digit for its caption
        heights = [max(1, -(-len(indices) // columns)) for _, indices in groups]
        figure = new_figure(11, 1.35 * sum(heights) + 0.8)
        grid = figure.add_gridspec(2, 1, height_ratios=heights)
        names = self.a.class_names
        for position, (title, indices) in enumerate(groups):
            axes = figure.add_subplot(grid[position])
            axes.set_axis_off()
            axes.set_title(title, fontsize=10, loc="left")
            if len(indices) == 0:
                axes.text(0.5, 0.5, "none", ha="center", va="center", transform=axes.transAxes)
                continue
            mosaic = image_mosaic(self.a.images[indices], columns, header=header)
            axes.imshow(mosaic, cmap="gray_r", interpolation="nearest")
            cell_height, cell_width = mosaic.shape[0] // heights[position], mosaic.shape[1] // columns
            for slot, index in enumerate(indices):
                row, column = divmod(slot, columns)
                caption = (
                    f"true {names[self.a.labels[index]]}\n"
                    f"A {names[self.a.predictions[index]]} · B {names[self.b.predictions[index]]}"
                )
                x, y = column * cell_width + cell_width / 2, row * cell_height + header - 1
                axes.text(x, y, caption, ha="center", va="bottom", fontsize=6.5, color=PREDICTED_COLOR)
        return figure

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """comparison.json and disagreements.png into out_dir; returns {name: path}."""
        from mnistlab.evaluation.plots import figure_to_png

        out_dir = Path(out_dir)
        png = figure_to_png(self.plot_disagreements())
        return {
            "comparison": atomic_write_json(out_dir / COMPARISON_FILE, self.to_dict()),
            "sheet": atomic_write_bytes(out_dir / SHEET_FILE, png),
        }


def resolve_run(reference, runs_dir=RUNS_ROOT) -> Path:
    """A run directory or model file as given; or a zoo model's name: its newest finished run in runs_dir
    (so that `mnistlab runs compare fastcnn mlp` needs no dated folder names)."""
    from mnistlab.models.registry import list_models

    path = Path(reference)
    names = [spec.name for spec in list_models()]
    if path.exists() or str(reference) not in names:
        return path  # a missing path is reported by the loader, in one line
    rows = list_runs(runs_dir) if Path(runs_dir).is_dir() else []
    runs = [Path(row["path"]) for row in rows if row["model"] == str(reference) and row["status"] == "ok"]
    if not runs:
        raise MnistlabError(
            f"no finished {reference} run in {runs_dir}/; train one (mnistlab train --model {reference}) "
            "or pass a run directory"
        )
    return max(runs, key=lambda run: (run / METRICS_FILE).stat().st_mtime)  # the last one finished


def compare_runs(run_a, run_b, dataset: str | None = None, split: str = "test", data_dir=None) -> Comparison:
    """Evaluate (or reuse the saved outputs of) two runs or model files on the same split and pair them.
    A and B may also name zoo models: the newest finished run of each (resolve_run)."""
    run_a, run_b = resolve_run(run_a), resolve_run(run_b)
    classifiers = [load_classifier(run) for run in (run_a, run_b)]
    datasets = [dataset or model.config.get("dataset") or DEFAULT_DATASET for model in classifiers]
    if datasets[0] != datasets[1]:
        raise MnistlabError(
            f"the runs were trained and tested on different datasets ({run_a}: {datasets[0]}, "
            f"{run_b}: {datasets[1]}); compare runs of one dataset, or pass --dataset for both"
        )
    a, reused_a = _evaluation(classifiers[0], datasets[0], split, data_dir)
    b, reused_b = _evaluation(classifiers[1], datasets[1], split, data_dir)
    if a.dataset != b.dataset or not np.array_equal(a.labels, b.labels):
        raise MnistlabError(
            f"{run_a} and {run_b} were not evaluated on the same digits ({a.dataset} {a.split}: "
            f"{len(a.labels)}, {b.dataset} {b.split}: {len(b.labels)}); compare them on one dataset and split"
        )
    return Comparison(a=a, b=b, reused=(reused_a, reused_b))


def default_compare_dir(run_a, run_b) -> Path:
    """<folder of A>/compare-<A>-vs-<B>: beside the runs (the leaderboard skips folders without config)."""
    a, b = Path(run_a).resolve(), Path(run_b).resolve()
    return a.parent / f"compare-{a.name}-vs-{b.name}"
