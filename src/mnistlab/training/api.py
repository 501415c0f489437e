"""Train a model of the zoo (or your own) on an MNIST-family dataset and keep everything in a run directory.

    import mnistlab
    run = mnistlab.train("mlp", epochs=3, val_fraction=0.1)   # settings: see training/config.py
    run                       # Run(dir='runs/2026-11-23-mlp', model='mlp', epochs=3, test_accuracy=0.97...)
    run.history               # pandas DataFrame, one row per epoch
    run = mnistlab.train(resume="runs/2026-11-23-mlp")      # continue an interrupted run

The order of work: check the settings, load the data, build the model (so that a mistake stops the run
before anything is written), then create the run directory, fit, and evaluate on the test split. The
seed is applied once, here, before anything random happens.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from mnistlab.errors import MnistlabError
from mnistlab.files import DiskFullError
from mnistlab.rundir import (
    CHECKPOINTS_DIR,
    MODEL_KERAS,
    MODEL_SKOPS,
    existing_run,
    finish_run,
    needs_report,
    new_run_dir,
    read_config,
    release,
    write_config,
    write_history,
    write_metrics,
)
from mnistlab.training.config import (
    ARCHITECTURE_FIELDS,
    DEFAULT_MODEL,
    TrainConfig,
    config_from_dict,
    resolve_config,
)
from mnistlab.training.run import Run
from mnistlab.training.runtime import native_precision
from mnistlab.training.sources import ModelSource, model_source


def train(
    model: str = DEFAULT_MODEL,
    *,
    resume: str | Path | None = None,
    allow_code: bool = False,
    **settings: Any,
) -> Run:
    """Train `model` with `settings` (TrainConfig fields) -> Run; or continue the unfinished run `resume`.

    A run trained from a Python file runs that file again when resumed: only with allow_code=True, since a
    run folder may come from someone else (naming the file with model="net.py" is consent enough).
    """
    if resume is not None:
        shown = settings.pop("progress", None)  # display only: the one setting a resume may change
        if settings or model != DEFAULT_MODEL:
            given = ", ".join(sorted(settings)) or "model"
            raise MnistlabError(
                f"--resume continues a run with its saved settings; drop {given} (or start a new run)"
            )
        run_dir = existing_run(resume)
        if needs_report(run_dir):  # killed after metrics.json: only the report is missing
            return _finish_report(run_dir)
        config = config_from_dict(read_config(run_dir))
        if shown is not None:
            config = TrainConfig(**{**config.to_dict(), "progress": shown})
        source = model_source(config.model)
        if source.path is not None and source.path.suffix == ".py" and not allow_code:
            release(run_dir)
            raise MnistlabError(
                f"{run_dir} was trained from the Python file {source.path}, and resuming it would run "
                "that file; if you trust it, resume with --allow-code (allow_code=True)"
            )
        return _execute(config, source, run_dir)
    source = model_source(model)
    config = resolve_config({**settings, "model": model}, source.recipe_defaults)
    if config.precision == "auto":  # record what this machine uses
        config = TrainConfig(**{**config.to_dict(), "precision": native_precision()})
    source.check_overrides(config.architecture())
    if source.path is not None:  # a file: remember where it is, wherever a resume starts from
        config = TrainConfig(**{**config.to_dict(), "model": str(source.path)})
    else:  # record the architecture actually built, e.g. hidden=128, not "the default"
        built = {name: value for name, value in source.architecture.items() if name in ARCHITECTURE_FIELDS}
        config = TrainConfig(**{**config.to_dict(), **built, **config.architecture()})
    return _execute(config, source, None)


def _check_fits(model, input_shape: tuple[int, ...], num_classes: int, dataset: str) -> None:
    outputs = model.output_shape[-1]
    if outputs != num_classes:
        raise MnistlabError(f"the model outputs {outputs} classes but {dataset} has {num_classes}")
    expected = tuple(model.input_shape[1:])  # None: any size along that axis
    same_rank = len(expected) == len(input_shape)
    if not same_rank or any(want not in (None, got) for want, got in zip(expected, input_shape, strict=True)):
        raise MnistlabError(f"the model expects inputs {expected} but {dataset} images are {input_shape}")


def _inference_copy(model):
    """The model without its optimizer and loss, computing in float32, to save as model.keras.

    (Checkpoints keep the optimizer state; the final model does not need it.) A model trained under the
    mixed_bfloat16 policy keeps float32 weights; its copy is rebuilt with the float32 policy, so that it
    computes in float32 wherever it is loaded (evaluation, serving, export). Subclassed models that
    cannot be rebuilt from their config are saved as they are.
    """
    from mnistlab.training.runtime import float32_config, precision_policy

    try:  # from_config, not clone_model: a clone of a compiled model comes back compiled
        with precision_policy("float32"):
            copy = type(model).from_config(float32_config(model.get_config()))
    except (ValueError, TypeError, NotImplementedError):
        return model
    copy.set_weights(model.get_weights())
    return copy


def _fit_keras(model, data, config: TrainConfig, run_dir: Path, progress):
    """Fit (resuming from the newest checkpoint), restore the best weights, save model.keras."""
    from mnistlab.files import atomic_path
    from mnistlab.training.checkpoints import Checkpoints
    from mnistlab.training.loop import steps_per_epoch, train_epochs
    from mnistlab.training.optimization import compile_model
    from mnistlab.training.scores import keras_probabilities

    steps = steps_per_epoch(len(data.train_labels), config.batch_size)
    compile_model(model, config, total_steps=config.epochs * steps)
    checkpoints = Checkpoints(run_dir / CHECKPOINTS_DIR, keep=config.keep_checkpoints)
    state = checkpoints.restore(model)
    if state.epoch:
        progress.say(f"resuming after epoch {state.epoch}/{config.epochs}")
    progress.steps = steps
    state = train_epochs(model, data, config, checkpoints, state, progress, run_dir)
    if state.best_epoch is not None and state.best_epoch != state.epoch:
        checkpoints.load_best(model)
        progress.say(f"restored the weights of epoch {state.best_epoch} (lowest val_loss)")
    final = _inference_copy(model)
    with atomic_path(run_dir / MODEL_KERAS) as tmp:
        final.save(tmp)
    start = time.perf_counter()
    probabilities = keras_probabilities(final, data.test_images)  # the saved model's own scores
    return final, state, probabilities, time.perf_counter() - start, model.count_params()


def _fit_sklearn(estimator, data, config: TrainConfig, run_dir: Path, progress):
    import skops.io as sio

    from mnistlab.files import atomic_path
    from mnistlab.training.estimators import fit_estimator, predict_probabilities

    state = fit_estimator(estimator, data, config, progress)
    with atomic_path(run_dir / MODEL_SKOPS) as tmp:
        sio.dump(estimator, tmp)
    start = time.perf_counter()
    probabilities = predict_probabilities(estimator, data.test_images, data.num_classes)
    nodes = sum(int(tree.tree_.node_count) for tree in getattr(estimator, "estimators_", []))
    return estimator, state, probabilities, time.perf_counter() - start, nodes


def _metrics(state, test: dict, eval_seconds: float, load_seconds: float, params: int, data) -> dict:
    best = next((row for row in state.history if row["epoch"] == state.best_epoch), None)
    final = best or (state.history[-1] if state.history else {})
    return {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "train_seconds": round(state.train_seconds, 3),  # inside fit only: no loading, no test evaluation
        "epochs": state.epoch,
        "best_epoch": state.best_epoch or state.epoch,
        "stopped_early": state.stopped_early,
        "val_accuracy": final.get("val_accuracy"),
        "val_loss": final.get("val_loss"),
        "seconds_per_epoch": round(state.train_seconds / max(state.epoch, 1), 3),
        "eval_seconds": round(eval_seconds, 3),
        "load_seconds": round(load_seconds, 3),
        "params": params,  # Keras: weights; forest: tree nodes
        **data.sizes(),
    }


def _execute(config: TrainConfig, source: ModelSource, run_dir: Path | None):
    if source.trainer is not None:  # e.g. an ensemble: several runs, then one combined model
        return source.trainer(config, run_dir)
    from rich.console import Console

    from mnistlab.evaluation.api import write_run_report
    from mnistlab.rundir import environment, remove_partial_files
    from mnistlab.training.inputs import load_training_data
    from mnistlab.training.progress import EpochProgress
    from mnistlab.training.run import load_run
    from mnistlab.training.runtime import limit_threads, precision_policy, seed_everything
    from mnistlab.training.scores import score

    if run_dir is not None:
        remove_partial_files(run_dir)  # a kill mid-write leaves them; the checkpoints before are whole
    seed_everything(config.seed)
    limit_threads(config.threads)
    start = time.perf_counter()
    data = load_training_data(config)
    load_seconds = time.perf_counter() - start
    progress = EpochProgress(Console() if config.progress else None, epochs=config.epochs, steps=0)
    with precision_policy(config.precision):
        model = source.build(data.input_shape, data.num_classes, config.architecture())
        if source.kind == "keras":
            _check_fits(model, data.input_shape, data.num_classes, config.dataset)
        if run_dir is None:
            run_dir = new_run_dir(source.name, config.out)
            write_config(run_dir, config.to_dict(), environment())
        progress.say(f"training {source.name} on {config.dataset}, run directory {run_dir}")
        try:
            fit = _fit_sklearn if source.kind == "sklearn" else _fit_keras
            model, state, probabilities, eval_seconds, params = fit(model, data, config, run_dir, progress)
            metrics = _metrics(
                state, score(probabilities, data.test_labels), eval_seconds, load_seconds, params, data
            )
            write_history(run_dir, state.history)
            write_metrics(run_dir, metrics)  # its presence marks the training complete
            write_run_report(run_dir, model=model, probabilities=probabilities)  # reusing test outputs
        except KeyboardInterrupt:
            progress.stop()
            print(f"\ninterrupted; continue with: mnistlab train --resume {run_dir}", file=sys.stderr)
            raise
        except DiskFullError as error:
            progress.stop()
            raise error.then(f"continue with: mnistlab train --resume {run_dir}") from error
    finish_run(run_dir)
    run = load_run(run_dir)
    run._model = model
    return run


def _finish_report(run_dir: Path) -> Run:
    """Write the report of a run whose training finished (metrics.json) but whose report did not."""
    from mnistlab.evaluation.api import write_run_report
    from mnistlab.training.run import load_run

    write_run_report(run_dir)
    finish_run(run_dir)
    return load_run(run_dir)
