"""Find the likely label errors of a split: every example scored by models that never trained on it, and
cleanlab's confident learning deciding which labels to doubt.

    mnistlab audit --split test                # 2 fastcnn runs trained on `train` score every test digit
    mnistlab audit --split train --json        # 4 folds: each train digit scored by runs that never saw it

    from mnistlab.evaluation.audit import audit
    found = audit("mnist", "test")
    found.issues[0]   # {"split": "test", "file_index": 1234, "label": 5, "suggested": 3, "score": 0.0004}

How the probabilities are made (out of sample, as confident learning needs them):
- `test`: `seeds` fastcnn runs trained on all of `train`; their mean probabilities on every test digit.
- `train` (or any other split): cut into `folds` contiguous slices of tfds's order (itself a random
  permutation of the files, see data/order.py); each slice is scored by `seeds` runs trained on the other
  slices of that split.
cleanlab.filter.find_label_issues then flags examples (confident learning, Northcutt et al. 2021), ranked
by self-confidence: `score` is the models' probability of the given label, lowest (most suspicious) first;
`suggested` is the models' most probable class. The ranking comes from the models alone: no list of known
errors is shipped or consulted. `file_index` is the example's position in the original IDX file.

The work folder (`out`, default runs/audit-<dataset>-<split>/) keeps one ordinary run directory per model
(models/fold-<k>-seed-<s>/), so an interrupted audit resumes: finished runs are reused, an unfinished one
continues from its last epoch. The answer is written there: issues.json, sheet.png (the most suspicious
examples with their given and suggested labels) and probabilities.npy ((N, C) float32, file order).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab import reporter
from mnistlab.errors import MnistlabError
from mnistlab.files import atomic_write_bytes, atomic_write_json
from mnistlab.rundir import RUNS_ROOT, is_complete, is_run_dir

MODEL = "fastcnn"  # 99% in one epoch: the cheapest accurate scorer, so the train audit fits in minutes
MIN_STEPS = 150  # a run on a small split trains more epochs, so that no scorer stops half-taught
DEFAULT_FOLDS = 4
DEFAULT_SEEDS = 2
ISSUES_FILE = "issues.json"
SHEET_FILE = "sheet.png"
PROBABILITIES_FILE = "probabilities.npy"
SHEET_SIZE = 40  # examples on the picture sheet, most suspicious first
# cleanlab.filter.find_label_issues' flagging rule. Both rules below rank by self-confidence alike; they
# differ in where the list stops. On a planted copy of MNIST (benchmarks/bench_audit.py: 2% of train[:20000]
# moved, 4 folds, AVX2 machine) "predicted_neq_given" recovered 100% of the planted flips (96.5% within
# the first 400 ranks, precision 0.59) against 94.5% (94.3%, 0.90) for confident learning's
# "prune_by_noise_rate"; and on MNIST's test split, which models learn with very high confidence,
# noise-rate pruning keeps only 2 of the 87 digits the models contradict, cutting off labels a person
# should look at.
FILTER_BY = "predicted_neq_given"
INSTALL_HINT = "the label audit needs cleanlab: pip install 'mnistlab[audit]'"


@dataclass
class Audit:
    dataset: str
    split: str
    issues: list[dict]  # [{"split", "file_index", "label", "suggested", "score"}], most suspicious first
    examples: int  # examples audited
    models: int  # runs trained (or reused) to score them
    out: Path

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "examples": self.examples,
            "models": self.models,
            "flagged": len(self.issues),
            "issues": self.issues,
        }


@dataclass(frozen=True)
class Job:
    """One scoring run: trained on `train_split`, it scores the examples at tfds positions [start, stop)."""

    name: str
    train_split: str
    seed: int
    start: int
    stop: int


def plan_jobs(split: str, size: int, folds: int, seeds: int) -> list[Job]:
    """The runs an audit of `split` (size examples) needs: one per (fold, seed)."""
    if seeds < 1:
        raise MnistlabError(f"seeds={seeds}: the audit needs at least 1 model per fold")
    if split == "test":  # never trained on: models from `train` score all of it
        return [Job(f"train-seed-{seed}", "train", seed, 0, size) for seed in range(seeds)]
    if not 2 <= folds <= size:
        raise MnistlabError(f"folds={folds}: cut {split} into at least 2 folds (4 is the default)")
    jobs = []
    for fold in range(folds):
        start, stop = fold * size // folds, (fold + 1) * size // folds
        rest = []  # the split without this fold
        if start > 0:
            rest.append(f"{split}[:{start}]")
        if stop < size:
            rest.append(f"{split}[{stop}:]")
        for seed in range(seeds):
            jobs.append(Job(f"fold-{fold}-seed-{seed}", "+".join(rest), seed, start, stop))
    return jobs


def default_out(dataset: str, split: str) -> Path:
    return RUNS_ROOT / f"audit-{dataset}-{split}"


def epochs_for(train_examples: int) -> int:
    """The recipe's epochs, or more on a small split: at least MIN_STEPS optimizer steps."""
    from mnistlab.models.registry import get_spec

    recipe = get_spec(MODEL).defaults
    steps_per_epoch = math.ceil(train_examples / recipe["batch_size"])
    return max(recipe["epochs"], math.ceil(MIN_STEPS / steps_per_epoch))


def _trained_run(job: Job, folder: Path, dataset: str, data_dir, progress: bool, train_examples: int) -> Path:
    """The job's run directory: reused when finished, continued when interrupted, else trained."""
    from mnistlab.training.dispatch import train

    if is_complete(folder):
        return folder
    if is_run_dir(folder):
        return train(resume=folder, progress=progress).dir
    settings = {
        "dataset": dataset,
        "train_split": job.train_split,
        "seed": job.seed,
        "epochs": epochs_for(train_examples),
        "scans": 0,  # the audit asks about MNIST's own digits; scans would only cost time
        "progress": progress,
    }
    if data_dir is not None:
        settings["data_dir"] = str(data_dir)
    return train(MODEL, out=str(folder), **settings).dir


def out_of_sample_probabilities(
    dataset: str, split: str, out: Path, folds: int, seeds: int, data_dir=None, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(N, C) float32 mean probabilities of models that never trained on each example, and the (N,) int
    labels; both in the IDX file's order (row i is file_index i)."""
    from mnistlab.classifier import load_classifier
    from mnistlab.data.cache import split_arrays
    from mnistlab.data.registry import get_dataset

    spec = get_dataset(dataset)
    if split not in spec.splits:
        raise MnistlabError(f"{dataset} has no split {split!r}; audit one of: {', '.join(spec.splits)}")
    images, labels, positions = split_arrays(spec, split, data_dir)  # tfds order; positions: IDX index
    jobs = plan_jobs(split, len(labels), folds, seeds)
    train_size = spec.splits["train"].num_examples
    totals = np.zeros((len(labels), spec.num_classes), np.float64)
    for number, job in enumerate(jobs, 1):
        reporter.say(
            f"audit {number}/{len(jobs)}: {MODEL} seed {job.seed} trained on {job.train_split} "
            f"scores {split}[{job.start}:{job.stop}]"
        )
        train_examples = len(labels) - (job.stop - job.start) if split != "test" else train_size
        run_dir = _trained_run(job, out / "models" / job.name, dataset, data_dir, progress, train_examples)
        scored = np.asarray(images[job.start : job.stop])
        totals[job.start : job.stop] += load_classifier(run_dir).predict_proba(scored, spec.num_classes)
    per_example = len(jobs) // (1 if split == "test" else folds)  # models scoring each example
    probabilities = np.empty_like(totals, dtype=np.float32)
    in_file_order = np.asarray(positions)
    probabilities[in_file_order] = totals / per_example
    file_labels = np.empty(len(labels), np.int64)
    file_labels[in_file_order] = np.asarray(labels)
    return probabilities, file_labels


def rank_issues(
    probabilities: np.ndarray, labels: np.ndarray, split: str, filter_by: str = FILTER_BY
) -> list[dict]:
    """cleanlab's flagged examples, most suspicious first, as issue rows. Rows of both arrays are file
    indices: probabilities (N, C), labels (N,)."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError as error:
        raise MnistlabError(INSTALL_HINT) from error

    flagged = find_label_issues(
        labels, probabilities, filter_by=filter_by, return_indices_ranked_by="self_confidence", n_jobs=1
    )  # n_jobs=1: no fork of a process that holds TensorFlow's thread pools
    return [
        {
            "split": split,
            "file_index": int(index),
            "label": int(labels[index]),
            "suggested": int(np.argmax(probabilities[index])),
            "score": round(float(probabilities[index, labels[index]]), 6),
        }
        for index in flagged
    ]


def sheet_figure(issues: list[dict], images: np.ndarray, probabilities: np.ndarray, columns: int = 8):
    """The first SHEET_SIZE issues as a grid: each image titled with its file index, its given label and
    the suggested one with the models' probability. images: (N, 28, 28[, 1]) uint8 in file order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = issues[:SHEET_SIZE]
    rows = max(1, math.ceil(len(shown) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.6, rows * 1.9), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, issue in zip(axes.flat, shown, strict=False):
        index = issue["file_index"]
        axis.imshow(np.squeeze(images[index]), cmap="gray_r", vmin=0, vmax=255)
        confidence = probabilities[index, issue["suggested"]]
        axis.set_title(
            f"#{index}\ngiven {issue['label']} → {issue['suggested']} ({confidence:.2f})", fontsize=9
        )
    if not shown:
        axes.flat[0].text(0.5, 0.5, "no label flagged", ha="center", va="center")
    figure.suptitle("Likely label errors, most suspicious first", fontsize=11)
    figure.tight_layout()
    return figure


def audit(
    dataset: str = "mnist",
    split: str = "test",
    *,
    out: str | Path | None = None,
    folds: int = DEFAULT_FOLDS,
    seeds: int = DEFAULT_SEEDS,
    data_dir=None,
    progress: bool = True,
    filter_by: str = FILTER_BY,
) -> Audit:
    """Rank the likely label errors of `split`; write issues.json, sheet.png, probabilities.npy to `out`."""
    import matplotlib.pyplot as plt

    from mnistlab.data.load import load
    from mnistlab.evaluation import plots

    try:
        import cleanlab  # noqa: F401  (checked before any model is trained)
    except ImportError as error:
        raise MnistlabError(INSTALL_HINT) from error
    out = Path(out) if out is not None else default_out(dataset, split)
    probabilities, labels = out_of_sample_probabilities(dataset, split, out, folds, seeds, data_dir, progress)
    issues = rank_issues(probabilities, labels, split, filter_by)
    models = len(plan_jobs(split, len(labels), folds, seeds))
    found = Audit(dataset, split, issues, len(labels), models, out)
    saved = io.BytesIO()
    np.save(saved, probabilities)
    atomic_write_bytes(out / PROBABILITIES_FILE, saved.getvalue())
    images = load(dataset, split=split, data_dir=data_dir, order="idx", download=False)["image"]
    figure = sheet_figure(issues, images, probabilities)
    atomic_write_bytes(out / SHEET_FILE, plots.figure_to_png(figure))
    plt.close(figure)
    atomic_write_json(out / ISSUES_FILE, found.to_dict())
    return found


def doubted_rows(audit_path: str | Path, dataset: str, split: str, data_dir=None) -> tuple[np.ndarray, Path]:
    """The rows (tfds order, as `load` returns the split) whose labels an audit doubts, and its issues file.

    audit_path: an audit's work folder or its issues.json; it must be an audit of this dataset and of this
    whole split (the rows of a slice would need the slice's own audit).
    """
    from mnistlab.data.cache import split_arrays
    from mnistlab.data.order import inverse
    from mnistlab.data.registry import get_dataset

    path = Path(audit_path)
    path = path / ISSUES_FILE if path.is_dir() else path
    try:
        found = json.loads(path.read_text())
        audited, issues = (found["dataset"], found["split"]), found["issues"]
        file_indices = np.array([issue["file_index"] for issue in issues], dtype=np.int64)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise MnistlabError(
            f"{path} is not an audit's {ISSUES_FILE} ({error}); pass the folder `mnistlab audit` wrote"
        ) from error
    if audited != (dataset, split):
        raise MnistlabError(
            f"{path} audits {audited[0]} {audited[1]}, not {dataset} {split}; evaluate that split, or audit "
            f"this one with `mnistlab audit --dataset {dataset} --split {split}`"
        )
    positions = np.asarray(split_arrays(get_dataset(dataset), split, data_dir).positions)
    if len(file_indices) and (file_indices.min() < 0 or file_indices.max() >= len(positions)):
        raise MnistlabError(f"{path} names examples {split} does not have; audit it again")
    return np.sort(inverse(positions)[file_indices]), path
