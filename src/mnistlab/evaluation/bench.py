"""Training benchmark: train recipes over seeds, time the training alone, and compare time-to-accuracy.

    from mnistlab.evaluation.bench import bench
    report = bench(["fastcnn", "cnn", "mlp"], seeds=3)       # ~10 minutes on 2 CPU cores
    bench(["fastcnn", "fastcnn+precision=bfloat16"])         # a recipe with a setting changed, side by side
    report.rows["fastcnn"].test_accuracy                     # Spread: mean, std, values over seeds
    report.speedups                                          # how much sooner fastcnn reaches 99%, 98.7%, ...
    report.to_dict()                                         # what `mnistlab bench --json` prints

Every run is a real `mnistlab.train` run (run directories in a temporary folder unless `out` is given),
so the recipes are measured exactly as users train them. Seeds are the outer loop and recipes the inner
one, so the recipes are measured side by side while the machine's load changes.

The clock is the run's own `train_seconds` (inside `fit` only: no data loading, no evaluation). Time to
an accuracy is read afterwards: each epoch's checkpoint is scored on the test split, outside the clock,
and the first epoch at or above the target gives the training seconds spent up to its end.

    bench(["fastcnn", "cnn"], seeds=5, engine="ray", workers=4)   # each (recipe, seed) a Ray task

By default the measurements run one after another in this process. With engine "ray", or "local" with
workers above 1, each is a job of engines.run_jobs in a fresh process, which first pays TensorFlow's
start-up with its own untimed warm-up run; runs side by side share cores, and the report says so.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.rundir import CHECKPOINTS_DIR, HISTORY_FILE

# The tutorials' own recipes, run side by side as baselines; our recipes keep their registered defaults.
BASELINE_SETTINGS = {
    "cnn": {"epochs": 10, "batch_size": 64},  # the TensorFlow CNN tutorial: 10 epochs at batch 64
    "mlp": {"epochs": 10, "batch_size": 32},  # the Keras quickstart MLP: 10 epochs at Keras' batch 32
}
# Test accuracy each tutorial reports for its own recipe (a fraction).
TUTORIAL_ACCURACY = {"cnn": 0.987, "mlp": 0.982}
TARGET_ACCURACY = 0.99
DEFAULT_RECIPES = ("fastcnn", "cnn", "mlp")
WARM_UP_SPLIT = "train[:1%]"


@dataclass
class Spread:
    """mean ± std of one measurement over seeds (std is 0 for a single seed)."""

    mean: float
    std: float
    values: list[float]

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(mean=statistics.fmean(values), std=std, values=list(values))

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.std:.2g}"


@dataclass
class EpochScore:
    epoch: int  # 1-based
    train_seconds: float  # training time from the start of the run to the end of this epoch
    test_accuracy: float


@dataclass
class SeedRun:
    seed: int
    run_dir: str | None  # None when the runs went to a temporary folder
    test_accuracy: float
    train_seconds: float
    epochs: int
    timeline: list[EpochScore]

    def seconds_to(self, target: float) -> float | None:
        """Training seconds until the first epoch whose test accuracy is >= target; None if never."""
        return next((score.train_seconds for score in self.timeline if score.test_accuracy >= target), None)


@dataclass
class RecipeRow:
    recipe: str
    settings: dict[str, Any]  # the settings given on top of the recipe's registered defaults
    runs: list[SeedRun]
    test_accuracy: Spread = field(init=False)
    train_seconds: Spread = field(init=False)

    def __post_init__(self) -> None:
        self.test_accuracy = Spread.of([run.test_accuracy for run in self.runs])
        self.train_seconds = Spread.of([run.train_seconds for run in self.runs])

    def time_to(self, target: float) -> Spread | None:
        """Seconds to reach `target`, over seeds; None unless every seed reached it."""
        seconds = [run.seconds_to(target) for run in self.runs]
        if any(value is None for value in seconds):
            return None
        return Spread.of(seconds)

    def seeds_reaching(self, target: float) -> int:
        return sum(run.seconds_to(target) is not None for run in self.runs)

    def time_to_text(self, target: float) -> str:
        """ "12.3 ± 0.4" seconds, or how many seeds got there at all, e.g. "1/3 seeds"."""
        spread = self.time_to(target)
        if spread is None:
            return f"{self.seeds_reaching(target)}/{len(self.runs)} seeds"
        return f"{spread.mean:.1f} ± {spread.std:.1f}"


@dataclass
class Speedup:
    target: float
    recipe: str
    baseline: str
    ratio: float  # baseline seconds / recipe seconds to reach `target` (mean over seeds)
    # "fixed": 99% or a tutorial's own accuracy, reached by both; "baseline final": what the baseline's
    # whole run reached (its mean test accuracy), against the seconds of its whole run
    basis: str = "fixed"


@dataclass
class BenchReport:
    rows: dict[str, RecipeRow]
    seeds: list[int]
    targets: list[float]
    environment: dict[str, Any]  # {"versions": {...}, "hardware": {...}}
    speedups: list[Speedup]
    # how the runs were executed: {"engine", "workers", "cpus_per_run", "note"}; note is None when the runs
    # took turns in one process, else what the seconds include (e.g. contention between runs side by side)
    execution: dict[str, Any] = field(default_factory=lambda: {"engine": "local", "workers": 1, "note": None})

    def to_dict(self) -> dict[str, Any]:
        recipes = []
        for row in self.rows.values():
            entry = {
                "recipe": row.recipe,
                "settings": row.settings,
                "test_accuracy": asdict(row.test_accuracy),
                "train_seconds": asdict(row.train_seconds),
                "time_to_accuracy": {},
                "runs": [asdict(run) for run in row.runs],
            }
            for target in self.targets:
                spread = row.time_to(target)
                reached = {"seeds_reaching": row.seeds_reaching(target)}
                entry["time_to_accuracy"][f"{target:.3f}"] = reached | (
                    {} if spread is None else asdict(spread)
                )
            recipes.append(entry)
        return {
            **self.environment,
            "seeds": self.seeds,
            "targets": self.targets,
            "recipes": recipes,
            "speedups": [asdict(speedup) for speedup in self.speedups],
            "execution": self.execution,
        }


class TimeToAccuracy:
    """Scores every epoch of a finished run on the test split, outside the training clock.

    The run's history.csv gives each epoch's training seconds; its checkpoints/epoch-NNNN.keras hold the
    weights at each epoch's end (the run keeps one per epoch). A run without epochs (a random forest)
    is a single point: its training seconds and test accuracy.
    """

    def __init__(self, test_images, test_labels):
        self.test_images = test_images  # float32 (N, 28, 28, 1) in [0, 1]
        self.test_labels = test_labels  # int (N,)

    def timeline(self, run_dir: Path, metrics: dict[str, Any]) -> list[EpochScore]:
        import pandas as pd

        from mnistlab.classifier import load_classifier

        checkpoints = sorted((run_dir / CHECKPOINTS_DIR).glob("epoch-*.keras"))
        if not checkpoints:
            return [EpochScore(metrics["epochs"], metrics["train_seconds"], metrics["test_accuracy"])]
        history = pd.read_csv(run_dir / HISTORY_FILE)
        elapsed = dict(zip(history["epoch"], history["seconds"].cumsum(), strict=True))
        scores = []
        for path in checkpoints:
            epoch = int(path.stem.removeprefix("epoch-"))
            probabilities = load_classifier(path).predict_proba(self.test_images)
            accuracy = float((probabilities.argmax(axis=1) == self.test_labels).mean())
            scores.append(EpochScore(epoch, round(float(elapsed[epoch]), 3), accuracy))
        return scores


def parse_recipe(recipe: str) -> tuple[str, dict[str, Any]]:
    """Split "fastcnn+batch_size=256+precision=bfloat16" into ("fastcnn", {"batch_size": 256, ...}).

    A recipe is a zoo name, optionally with training settings changed, so that a lever can be measured
    side by side with the recipe itself. Values are read as int, then float, then text.
    """
    name, *changes = recipe.split("+")
    settings: dict[str, Any] = {}
    for change in changes:
        key, equals, text = change.partition("=")
        if not equals or not key:
            raise MnistlabError(
                f"recipe {recipe!r}: expected NAME+setting=value, e.g. fastcnn+batch_size=256"
            )
        for kind in (int, float):
            try:
                settings[key] = kind(text)
                break
            except ValueError:
                continue
        else:
            settings[key] = text
    return name, settings


def _settings_for(recipe: str, epochs_cap: int | None, train_split: str | None) -> dict[str, Any]:
    """The settings a bench run of `recipe` adds to the model's defaults (baselines, changes, tiny mode)."""
    from mnistlab.models.registry import get_spec
    from mnistlab.training.config import resolve_config

    name, changes = parse_recipe(recipe)
    spec = get_spec(name)
    settings = {**BASELINE_SETTINGS.get(recipe, {}), **changes}
    if spec.kind == "keras":
        epochs = resolve_config({"model": name, **settings}, spec.defaults).epochs
        if epochs_cap is not None:
            epochs = min(epochs, epochs_cap)
            settings["epochs"] = epochs
        settings["keep_checkpoints"] = epochs  # one checkpoint per epoch, for time-to-accuracy
    if train_split is not None:
        settings["train_split"] = train_split
    return settings


def describe(speedup: Speedup) -> str:
    """One line, e.g. "fastcnn reaches 98.60% (cnn's final accuracy) 7.5x sooner than cnn"."""
    what = f"{speedup.target:.2%}"
    if speedup.basis == "baseline final":
        what += f" ({speedup.baseline}'s final accuracy)"
    return f"{speedup.recipe} reaches {what} {speedup.ratio:.1f}x sooner than {speedup.baseline}"


def _speedups(rows: dict[str, RecipeRow], targets: list[float]) -> list[Speedup]:
    speedups = []
    for baseline in (name for name in rows if name in BASELINE_SETTINGS):
        for recipe in (name for name in rows if name not in BASELINE_SETTINGS):
            for target in targets:
                ours, theirs = rows[recipe].time_to(target), rows[baseline].time_to(target)
                if ours is not None and theirs is not None and ours.mean > 0:
                    speedups.append(Speedup(target, recipe, baseline, round(theirs.mean / ours.mean, 2)))
            final = round(rows[baseline].test_accuracy.mean, 4)
            ours = rows[recipe].time_to(final)
            if ours is not None and ours.mean > 0:
                ratio = round(rows[baseline].train_seconds.mean / ours.mean, 2)
                speedups.append(Speedup(final, recipe, baseline, ratio, basis="baseline final"))
    return speedups


@functools.lru_cache(maxsize=1)
def _scorer(data_dir: str | None) -> TimeToAccuracy:
    """The test split, loaded once per process (measurements in one process share it)."""
    from mnistlab.classifier import to_float
    from mnistlab.data.load import load

    test = load("mnist", split="test", data_dir=data_dir)
    return TimeToAccuracy(to_float(test["image"]), test["label"])


def warm_up(data_dir: str | None, threads: int = 0) -> None:
    """The first fit in a process also starts TensorFlow's thread pools and kernels (~0.5 CPU s, more wall
    time on a busy machine); an untimed tiny run pays that, so that no recipe is charged for it. It uses
    the runs' `threads`: TensorFlow fixes its thread pools at the first fit in a process."""
    from mnistlab.training.dispatch import train

    with tempfile.TemporaryDirectory(prefix="mnistlab-warm-up-") as scratch:
        settings = {"train_split": WARM_UP_SPLIT, "threads": threads, "progress": False}
        train("fastcnn", out=scratch, data_dir=data_dir, **settings)


def measure(
    recipe: str,
    seed: int,
    settings: dict[str, Any],
    out: str | None,
    data_dir: str | None,
    fresh_process: bool = False,
) -> SeedRun:
    """One (recipe, seed) measurement: a real run (kept in `out`, else in a temporary folder), then its
    epochs scored outside the clock. fresh_process: warm TensorFlow up first (a job of run_jobs)."""
    from mnistlab.evaluation.evaluation import write_run_report
    from mnistlab.training.dispatch import train

    if fresh_process:
        warm_up(data_dir, settings.get("threads", 0))
    with tempfile.TemporaryDirectory(prefix="mnistlab-bench-") as scratch:
        run_dir = Path(out) if out is not None else Path(scratch) / "run"
        run = train(
            parse_recipe(recipe)[0],
            report=write_run_report if out is not None else None,  # runs kept: with their report
            seed=seed,
            out=str(run_dir),
            data_dir=data_dir,
            progress=False,
            **settings,
        )
        metrics = run.metrics
        return SeedRun(
            seed=seed,
            run_dir=out,
            test_accuracy=metrics["test_accuracy"],
            train_seconds=metrics["train_seconds"],
            epochs=metrics["epochs"],
            timeline=_scorer(data_dir).timeline(run_dir, metrics),
        )


def _execution(engine: str, workers: int | None, reserved: tuple[int, float], cores: int) -> dict[str, Any]:
    """How the runs were executed, and what their seconds then include. reserved: (CPUs, GPUs) per run."""
    note = None
    if engine == "local" and (workers or 1) > 1:
        note = f"{workers} runs at a time shared this machine's {cores} cores: the seconds include contention"
    elif engine == "ray":
        cpus, gpus = reserved
        at_once = workers or "as many as the cluster's CPUs allow"
        each = f"{cpus} CPU" + (f" and {gpus:g} GPU" if gpus else "")
        note = (
            f"Ray tasks of {each}, {at_once} at a time; runs sharing a node's cores include "
            "contention, and the hardware shown is this machine's, not necessarily the workers'"
        )
    return {"engine": engine, "workers": (workers or 1) if engine == "local" else workers, "note": note}


def bench(
    recipes: list[str] | tuple[str, ...] = DEFAULT_RECIPES,
    seeds: int = 3,
    *,
    data_dir: str | None = None,
    epochs_cap: int | None = None,
    train_split: str | None = None,
    out: str | Path | None = None,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    cpus_per_run: int = 1,
    gpus_per_run: float = 0,
) -> BenchReport:
    """Train each recipe once per seed (0..seeds-1), side by side, and summarise.

    epochs_cap and train_split make a tiny mode (e.g. 1 epoch on 'train[:2%]') for tests.
    out keeps the run directories there; by default they go to a temporary folder that is removed.
    engine/workers/address/cpus_per_run/gpus_per_run: see engines.run_jobs; with Ray, each run's
    TensorFlow uses cpus_per_run threads unless the recipe sets `threads`.
    """
    from mnistlab.rundir import environment
    from mnistlab.training.engines import Job, check_engine, run_jobs

    if seeds < 1:
        raise MnistlabError(f"seeds={seeds}: run at least 1 seed")
    if not recipes:
        raise MnistlabError("no recipes to run; name some, e.g. fastcnn,cnn,mlp")
    if epochs_cap is not None and epochs_cap < 1:
        raise MnistlabError(f"epochs_cap={epochs_cap}: use at least 1 epoch")
    check_engine(engine, workers, cpus_per_run, address, gpus_per_run)
    # an unknown name or setting fails now, not after minutes of training
    settings = {recipe: _settings_for(recipe, epochs_cap, train_split) for recipe in recipes}
    if engine == "ray":  # TensorFlow's threads match the CPUs Ray reserved for the run
        settings = {recipe: {"threads": cpus_per_run, **given} for recipe, given in settings.items()}
    here = engine == "local" and (workers or 1) == 1
    root = None
    if out is not None:  # absolute for jobs: a Ray worker's working directory is its raylet's, not ours
        root = Path(out) if here else Path(out).absolute()
    jobs = []
    for seed in range(seeds):  # seeds outer, recipes inner: side by side while the machine's load changes
        for recipe in recipes:
            run_dir = None if root is None else str(root / f"{recipe.replace('=', '-')}-seed{seed}")
            kwargs = {"recipe": recipe, "seed": seed, "settings": settings[recipe], "out": run_dir}
            jobs.append(
                Job(f"{recipe} seed {seed}", {**kwargs, "data_dir": data_dir, "fresh_process": not here})
            )
    if here:
        warm_up(data_dir, jobs[0].kwargs["settings"].get("threads", 0))
        measured = {job.name: measure(**job.kwargs) for job in jobs}
    else:
        _scorer(data_dir)  # a missing dataset fails here, in one line, before any process starts
        measured = run_jobs(
            measure,
            jobs,
            engine=engine,
            workers=workers,
            address=address,
            cpus_per_run=cpus_per_run,
            gpus_per_run=gpus_per_run,
        )
    runs = {
        recipe: [measured[job.name] for job in jobs if job.kwargs["recipe"] == recipe] for recipe in recipes
    }
    rows = {recipe: RecipeRow(recipe, settings[recipe], runs[recipe]) for recipe in recipes}
    targets = [TARGET_ACCURACY] + [TUTORIAL_ACCURACY[name] for name in recipes if name in TUTORIAL_ACCURACY]
    env = environment()
    execution = _execution(engine, workers, (cpus_per_run, gpus_per_run), env["hardware"]["cores"])
    return BenchReport(rows, list(range(seeds)), targets, env, _speedups(rows, targets), execution)
