"""Train one model into one run directory: build, fit (resuming from its checkpoints), save, finish.

    config, source = configure("mlp", {"epochs": 3})
    run = train_single(config, source, run_dir=None)     # None: a new run directory; else resume it

The order of work: load the data, build the model (so that a mistake stops the run before anything is
written), then create the run directory, fit, save the model and finish (finish.py). The seed is applied
once, here, before anything random happens.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from mnistlab.errors import MnistlabError
from mnistlab.files import DiskFullError, atomic_path
from mnistlab.rundir import (
    CHECKPOINTS_DIR,
    MODEL_KERAS,
    MODEL_SKOPS,
    environment,
    new_run_dir,
    remove_partial_files,
    write_config,
)
from mnistlab.training.config import TrainConfig
from mnistlab.training.finish import finish
from mnistlab.training.run import Run
from mnistlab.training.sources import ModelSource


def check_fits(model, input_shape: tuple[int, ...], num_classes: int, dataset: str) -> None:
    """A Keras model must take the dataset's images and output one probability per class."""
    outputs = model.output_shape[-1]
    if outputs != num_classes:
        raise MnistlabError(f"the model outputs {outputs} classes but {dataset} has {num_classes}")
    expected = tuple(model.input_shape[1:])  # None: any size along that axis
    same_rank = len(expected) == len(input_shape)
    if not same_rank or any(want not in (None, got) for want, got in zip(expected, input_shape, strict=True)):
        raise MnistlabError(f"the model expects inputs {expected} but {dataset} images are {input_shape}")


def inference_copy(model):
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
    final = inference_copy(model)
    with atomic_path(run_dir / MODEL_KERAS) as tmp:
        final.save(tmp)
    start = time.perf_counter()
    probabilities = keras_probabilities(final, data.test_images)  # the saved model's own scores
    return final, state, probabilities, time.perf_counter() - start, model.count_params()


def _fit_sklearn(estimator, data, config: TrainConfig, run_dir: Path, progress):
    import skops.io as sio

    from mnistlab.training.estimators import fit_estimator, predict_probabilities

    state = fit_estimator(estimator, data, config, progress)
    with atomic_path(run_dir / MODEL_SKOPS) as tmp:
        sio.dump(estimator, tmp)
    start = time.perf_counter()
    probabilities = predict_probabilities(estimator, data.test_images, data.num_classes)
    nodes = sum(int(tree.tree_.node_count) for tree in getattr(estimator, "estimators_", []))
    return estimator, state, probabilities, time.perf_counter() - start, nodes


def train_single(config: TrainConfig, source: ModelSource, run_dir: Path | None) -> Run:
    """Train `source` with `config` into a new run directory (run_dir None) or the claimed run_dir."""
    from rich.console import Console

    from mnistlab.training.inputs import load_training_data
    from mnistlab.training.progress import EpochProgress
    from mnistlab.training.runtime import limit_threads, precision_policy, seed_everything

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
            check_fits(model, data.input_shape, data.num_classes, config.dataset)
        if run_dir is None:
            run_dir = new_run_dir(source.name, config.out)
            write_config(run_dir, config.to_dict(), environment())
        progress.say(f"training {source.name} on {config.dataset}, run directory {run_dir}")
        with _resume_hint(run_dir, progress):
            fit = _fit_sklearn if source.kind == "sklearn" else _fit_keras
            model, state, probabilities, eval_seconds, params = fit(model, data, config, run_dir, progress)
    with _resume_hint(run_dir, progress):
        timing = {"eval_seconds": eval_seconds, "load_seconds": load_seconds}
        return finish(run_dir, model, state, probabilities, data, **timing, params=params)


@contextlib.contextmanager
def _resume_hint(run_dir: Path, progress):
    """Ctrl-C and a full disk stop the run; both say how to continue it."""
    resume = f"mnistlab train --resume {run_dir}"
    try:
        yield
    except KeyboardInterrupt:
        progress.stop()
        print(f"\ninterrupted; continue with: {resume}", file=sys.stderr)
        raise
    except DiskFullError as error:
        progress.stop()
        raise error.then(f"continue with: {resume}") from error
