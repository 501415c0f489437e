"""Train a model of the zoo (or your own) on an MNIST-family dataset and keep everything in a run directory.

    import mnistlab
    run = mnistlab.train("mlp", epochs=3, val_fraction=0.1)   # settings: see training/config.py
    run                       # Run(dir='runs/2026-11-23-mlp', model='mlp', epochs=3, test_accuracy=0.97...)
    run.history               # pandas DataFrame, one row per epoch
    run = mnistlab.train(resume="runs/2026-11-23-mlp")      # continue an interrupted run

train() checks the settings (plan.py), then hands the run to its trainer: one model (single_run.py) or an
ensemble of member runs (ensemble.py). Both end the same way (finish.py), with the report written by the
`report` function passed in: `mnistlab.train` passes evaluation's, so its runs end with report.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.rundir import existing_run, needs_report
from mnistlab.training.config import DEFAULT_MODEL
from mnistlab.training.ensemble import fit_ensemble
from mnistlab.training.finish import ReportWriter, finish_report
from mnistlab.training.plan import configure, configure_resume
from mnistlab.training.run import Run
from mnistlab.training.single_run import train_single


def train(
    model: str | None = None,
    *,
    resume: str | Path | None = None,
    allow_code: bool = False,
    report: ReportWriter | None = None,
    **settings: Any,
) -> Run:
    """Train `model` (default: fastcnn) with `settings` (TrainConfig fields) -> Run; or continue `resume`.

    A run trained from a Python file runs that file again when resumed: only with allow_code=True, since a
    run folder may come from someone else (naming the file with model="net.py" is consent enough).
    report writes the run's report.html at the end (None: no report).
    """
    run_dir = None
    if resume is not None:
        shown = settings.pop("progress", None)  # display only: the one setting a resume may change
        if settings or model is not None:
            given = ", ".join(sorted(settings)) or "model"
            raise MnistlabError(
                f"resuming continues a run with its saved settings; drop {given} (or start a new run)"
            )
        run_dir = existing_run(resume)
        if needs_report(run_dir):  # killed after metrics.json: only the report is missing
            return finish_report(run_dir, report)
        config, source = configure_resume(run_dir, progress=shown, allow_code=allow_code)
    else:
        config, source = configure(model or DEFAULT_MODEL, settings)
    if source.member_recipe is not None:
        return fit_ensemble(config, run_dir, report=report)
    return train_single(config, source, run_dir, report)
