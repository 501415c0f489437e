"""A sweep: a grid of settings x seeds, each point an ordinary run directory under one folder.

    from mnistlab.training.sweep import sweep
    result = sweep("fastcnn", {"lr": [0.001, 0.003], "epochs": [1]}, seeds=[0, 1], out="sweeps/lr")
    # sweeps/lr/sweep.json                 the grid: model, params, seeds, one entry per point
    # sweeps/lr/lr=0.001,seed=0/ ...       a run directory per point (`mnistlab runs --dir sweeps/lr`)
    result.outcomes                        # {"lr=0.001,seed=0": "trained", ...}
    sweep(resume="sweeps/lr", engine="ray")   # finish what is missing: finished runs are reused,
                                              # interrupted ones resumed from their last epoch

A point's folder is named by the settings that vary across the grid and its seed (fixed settings would
only lengthen every name). A finished point is reused as it is; every other run happens in a fresh
process (see engines.py), started by train_point, which decides between a new run and a resume, so that a
retried Ray task picks up where its dead worker left off. From a script, call sweep() under
`if __name__ == "__main__":`, as with any multiprocessing code: the local engine's spawned processes
import the script again.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError, setting
from mnistlab.files import atomic_write_json
from mnistlab.rundir import fresh_folder, is_complete, is_run_dir, needs_report, read_json
from mnistlab.training.engines import DEFAULT_RETRIES, Job, check_engine, run_jobs

SWEEP_FILE = "sweep.json"
SWEEP_VERSION = 1
PER_POINT = ("seed", "out")  # given by the sweep to each point: --seeds, and the point's own folder


@dataclass(frozen=True)
class Point:
    """One run of the grid: its folder name under the sweep and its TrainConfig settings (seed included)."""

    name: str
    settings: dict[str, Any]


@dataclass
class SweepResult:
    dir: Path
    model: str
    points: list[Point]
    outcomes: dict[str, str] = field(default_factory=dict)  # point name -> "trained" | "resumed" | "reused"
    seconds: float = 0.0  # wall-clock of the whole sweep, start-up of the engine included


def parse_seeds(text: str) -> list[int]:
    """ "0-4" -> [0, 1, 2, 3, 4]; "0,3,7" and "0-2,9" work too. Each seed once, in the order given."""
    seeds: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            span = range(int(first), int(last) + 1) if dash else [int(first)]
        except ValueError:
            raise MnistlabError(f"seeds {text!r}: expected numbers and ranges, e.g. 0-4 or 0,3,7") from None
        if dash and not span:
            raise MnistlabError(f"seeds {text!r}: {part} is empty; write the smaller seed first, e.g. 0-4")
        seeds += [seed for seed in span if seed not in seeds]
    if any(seed < 0 for seed in seeds):
        raise MnistlabError(f"seeds {text!r}: seeds are non-negative integers")
    return seeds


def expand_grid(params: Mapping[str, Sequence[Any]], seeds: Sequence[int]) -> list[Point]:
    """Every combination of the params' values x every seed -> points, the first param varying slowest
    and the seed fastest, so that the seeds of one setting run side by side."""
    for name in PER_POINT:
        if name in params:
            hint = "give seeds with --seeds, e.g. --seeds 0-4" if name == "seed" else "the sweep names it"
            raise MnistlabError(f"{name} is set per point by the sweep; {hint}")
    if not seeds:
        raise MnistlabError("a sweep needs at least one seed, e.g. --seeds 0")
    for name, values in params.items():
        if not values:
            raise MnistlabError(f"{name}: give at least one value, e.g. {name}=1,2")
        if len(set(map(repr, values))) < len(values):
            raise MnistlabError(f"{name}: a value is listed twice in {list(values)}")
    varying = [name for name, values in params.items() if len(values) > 1]
    points = []
    for values in itertools.product(*params.values()):
        chosen = dict(zip(params, values, strict=True))
        for seed in seeds:
            label = ",".join([*(f"{name}={chosen[name]}" for name in varying), f"seed={seed}"])
            if os.sep in label or label.startswith("."):
                raise MnistlabError(f"{label!r} cannot name a folder; sweep over values without {os.sep}")
            points.append(Point(label, {**chosen, "seed": seed}))
    return points


def train_point(run_dir: str, model: str, settings: dict[str, Any], report=None) -> str:
    """Bring one point's run to its end, in this (fresh) process -> "trained", "resumed" or "reused".

    A finished run is reused, a started one (config.json, so checkpoints may exist) resumed from its last
    epoch, anything else trained anew. The run's own lines go to stderr: stdout belongs to the sweep.
    """
    from mnistlab.training.dispatch import train

    path = Path(run_dir)
    if _finished(path, report):  # a retried task whose first try finished the run just before it died
        return "reused"
    with contextlib.redirect_stdout(sys.stderr):
        if is_run_dir(path):
            train(resume=path, report=report)
            return "resumed"
        train(model, out=str(path), report=report, **settings)
    return "trained"


def sweep(
    model: str | None = None,
    params: Mapping[str, Sequence[Any]] | None = None,
    seeds: Sequence[int] = (0,),
    *,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    cpus_per_run: int = 1,
    gpus_per_run: float = 0,
    retries: int = DEFAULT_RETRIES,
    report=None,
) -> SweepResult:
    """Train every point of model x params x seeds into its run directory under `out`; or finish `resume`.

    params: setting -> values, e.g. {"lr": [0.001, 0.003], "epochs": [1]} (TrainConfig fields).
    engine/workers/address/cpus_per_run/gpus_per_run: see engines.run_jobs; with Ray, each run's TensorFlow
    uses cpus_per_run threads unless params set `threads`. report: writes each run's report.html (None: none).
    """
    check_engine(engine, workers, cpus_per_run, address, gpus_per_run)
    started = time.perf_counter()
    if resume is not None:
        if model is not None or params:
            raise MnistlabError("resuming a sweep runs its saved grid; drop the model and params")
        folder = Path(resume).expanduser()
        model, points = _read_sweep(folder)
    else:
        model = model or "fastcnn"
        points = expand_grid(dict(params or {}), list(seeds))
        _check_points(model, points)
        folder = _new_sweep_dir(model, out)
        atomic_write_json(folder / SWEEP_FILE, _sweep_record(model, dict(params or {}), list(seeds), points))
    jobs, reused = [], {}
    for point in points:
        if _finished(folder / point.name, report):  # decided here: no fresh process just to say so
            reused[point.name] = "reused"
            continue
        settings = dict(point.settings)
        if engine == "ray":  # TensorFlow's threads match the CPUs Ray reserved for the run
            settings.setdefault("threads", cpus_per_run)
        # absolute: a Ray worker's working directory is its raylet's, not this process's
        run_dir = str(folder.absolute() / point.name)
        kwargs = {"run_dir": run_dir, "model": model, "settings": settings, "report": report}
        jobs.append(Job(point.name, kwargs))
    trained = run_jobs(
        train_point,
        jobs,
        engine=engine,
        workers=workers,
        address=address,
        cpus_per_run=cpus_per_run,
        gpus_per_run=gpus_per_run,
        retries=retries,
    )
    done = {**reused, **trained}
    outcomes = {point.name: done[point.name] for point in points}  # in the grid's order
    return SweepResult(folder, model, points, outcomes, round(time.perf_counter() - started, 3))


def _finished(run_dir: Path, report) -> bool:
    """Whether a point's run is done: complete, with its report when reports are asked for."""
    return is_complete(run_dir) and (report is None or not needs_report(run_dir))


def _check_points(model: str, points: list[Point]) -> None:
    """Every point's settings are valid before any process starts (one line for the first bad one)."""
    from mnistlab.training.plan import configure

    for point in points:
        configure(model, dict(point.settings))


def _new_sweep_dir(model: str, out: str | Path | None) -> Path:
    if out is not None:
        folder = Path(out).expanduser()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise MnistlabError(
                f"{folder} already exists and is not empty; choose another {setting('out')}, "
                f"or finish it with {setting('resume', str(folder))}"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return fresh_folder(f"sweep-{datetime.date.today().isoformat()}-{Path(model).stem}")


def _sweep_record(model: str, params: dict, seeds: list[int], points: list[Point]) -> dict[str, Any]:
    return {
        "version": SWEEP_VERSION,
        "model": model,
        "params": {name: list(values) for name, values in params.items()},
        "seeds": seeds,
        "points": [{"name": point.name, "settings": point.settings} for point in points],
    }


def _read_sweep(folder: Path) -> tuple[str, list[Point]]:
    record, problem = read_json(folder / SWEEP_FILE)
    if record is None:
        why = problem if (folder / SWEEP_FILE).exists() else f"no {SWEEP_FILE}"
        raise MnistlabError(f"{folder} is not a sweep folder ({why}); pass the folder `mnistlab sweep` made")
    try:
        points = [Point(str(entry["name"]), dict(entry["settings"])) for entry in record["points"]]
        return str(record["model"]), points
    except (KeyError, TypeError, ValueError):
        raise MnistlabError(f"{folder / SWEEP_FILE} is damaged: {json.dumps(record)[:80]}...") from None
