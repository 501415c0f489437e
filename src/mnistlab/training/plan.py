"""What a run will do before it does anything: its resolved config and where its model comes from.

    config, source = configure("mlp", {"epochs": 3})          # a new run: checked, nothing written
    config, source = configure_resume(run_dir, progress=None) # an unfinished run, with its saved settings

Both trainers (single_run.py, ensemble.py) start from here, for new runs and resumed ones alike.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.rundir import read_config, release
from mnistlab.training.config import (
    ARCHITECTURE_FIELDS,
    ENGINE_FIELDS,
    FIELDS,
    TrainConfig,
    config_from_dict,
    resolve_config,
)
from mnistlab.training.model_source import ModelSource, model_source
from mnistlab.training.runtime import native_precision


def configure(model: str, settings: dict[str, Any]) -> tuple[TrainConfig, ModelSource]:
    """A new run of `model` with `settings` (TrainConfig fields) -> (config as recorded, model source)."""
    source = model_source(model)
    config = resolve_config({**settings, "model": model}, source.recipe_defaults)
    if config.precision == "auto":  # record what this machine uses
        config = dataclasses.replace(config, precision=native_precision())
    source.check_overrides(config.architecture())
    _check_epoch_settings(config, source)
    _check_engine_settings(config, source)
    if source.path is not None:  # a file: remember where it is, wherever a resume starts from
        return dataclasses.replace(config, model=str(source.path)), source
    # record the architecture actually built, e.g. hidden=128, not "the default"
    built = {name: value for name, value in source.architecture.items() if name in ARCHITECTURE_FIELDS}
    return dataclasses.replace(config, **{**built, **config.architecture()}), source


def _check_epoch_settings(config: TrainConfig, source: ModelSource) -> None:
    """Per-epoch monitoring and SavedModel checkpoints need epochs: a Keras model's."""
    if source.kind == "keras":
        return
    for name, given in (
        ("monitor_split", config.monitor_split is not None),
        ("checkpoint_format", config.checkpoint_format != "keras"),
    ):
        if given:
            raise MnistlabError(
                f"{name}: {source.name} is a {source.kind} model, fitted once with no epochs to monitor "
                f"or checkpoint; drop --{name.replace('_', '-')} (it works for Keras models)"
            )


def _check_engine_settings(config: TrainConfig, source: ModelSource) -> None:
    """engine, workers, address, cpus_per_run, gpus_per_run say where an ensemble's members train: nothing
    else has any."""
    if source.member_recipe is not None:
        return
    for name in ENGINE_FIELDS:
        if getattr(config, name) != FIELDS[name].default:
            raise MnistlabError(
                f"{name}: {source.name} trains as one run, in this process; --{name.replace('_', '-')} is "
                "for ensembles' members (to train runs side by side, use `mnistlab sweep --engine ...`)"
            )


def configure_resume(
    run_dir: Path, progress: bool | None, allow_code: bool = False
) -> tuple[TrainConfig, ModelSource]:
    """The saved settings of the claimed, unfinished run `run_dir` (progress: display only, may change).

    A run trained from a Python file runs that file again: only with allow_code, since a run folder may
    come from someone else (naming the file with --model net.py was consent for the first run only).
    """
    config = config_from_dict(read_config(run_dir))
    if progress is not None:
        config = dataclasses.replace(config, progress=progress)
    source = model_source(config.model)
    if source.path is not None and source.path.suffix == ".py" and not allow_code:
        release(run_dir)
        raise MnistlabError(
            f"{run_dir} was trained from the Python file {source.path}, and resuming it would run "
            "that file; if you trust it, resume with --allow-code (allow_code=True)"
        )
    return config, source
