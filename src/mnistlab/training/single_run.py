"""Train one model into one run directory: build, fit (resuming from its checkpoints), save, finish.

    config, source = configure("mlp", {"epochs": 3})
    run = train_single(config, source, run_dir=None)     # None: a new run directory; else resume it

The order of work: load the data, build the model (so that a mistake stops the run before anything is
written), then create the run directory, fit, save the model and finish (finish.py). The seed is applied
once, here, before anything random happens.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from mnistlab import reporter
from mnistlab.classifier import KINDS, Classifier, KerasClassifier, SklearnClassifier, run_classifier
from mnistlab.errors import setting
from mnistlab.files import DiskFullError
from mnistlab.rundir import CHECKPOINTS_DIR, environment, new_run_dir, remove_partial_files, write_config
from mnistlab.training.config import TrainConfig
from mnistlab.training.finish import ReportWriter, finish
from mnistlab.training.model_source import ModelSource
from mnistlab.training.run import Run


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


def _fit_keras(classifier: KerasClassifier, data, config: TrainConfig, progress) -> tuple[Classifier, object]:
    """Fit (resuming from the newest checkpoint), restore the best weights, save model.keras."""
    from mnistlab.training.checkpoints import Checkpoints
    from mnistlab.training.loop import steps_per_epoch, train_epochs
    from mnistlab.training.optimization import compile_model

    model, run_dir = classifier.model, classifier.run_dir
    steps = steps_per_epoch(len(data.train_labels), config.batch_size)
    compile_model(model, config, total_steps=config.epochs * steps)
    checkpoints = Checkpoints(
        run_dir / CHECKPOINTS_DIR, keep=config.keep_checkpoints, format=config.checkpoint_format
    )
    state = checkpoints.restore(model)
    if state.epoch:
        progress.say(f"resuming after epoch {state.epoch}/{config.epochs}")
    if config.monitor_split:
        progress.say(
            f"monitoring `{config.monitor_split}` after each epoch for the curves only (monitor_loss, "
            "monitor_accuracy): early stopping, the epoch kept and the checkpoints never look at it"
        )
    progress.steps = steps
    state = train_epochs(model, data, config, checkpoints, state, progress, run_dir)
    explained = _explain_training_figures(config)
    if explained:
        progress.say(explained)
    if state.stopped_early:
        progress.say(
            f"stopped early after epoch {state.epoch}/{config.epochs}: val_loss has not improved for "
            f"{config.early_stopping} epochs ({setting('early_stopping', config.early_stopping)})"
        )
    if state.best_epoch is not None and state.best_epoch != state.epoch:
        checkpoints.load_best(model)
        progress.say(f"restored the weights of epoch {state.best_epoch} (lowest val_loss)")
    final = KerasClassifier(inference_copy(model), classifier.path, run_dir, classifier.config)
    final.save()
    return final, state


def _explain_training_figures(config: TrainConfig) -> str | None:
    """A line on why the epoch log's figures differ from the test scores that follow, when they do."""
    reasons = []
    if config.label_smoothing:
        reasons.append(
            f"the training loss is against labels smoothed by {config.label_smoothing} (it cannot reach 0; "
            "the test loss is plain cross-entropy)"
        )
    if config.schedule == "onecycle":
        reasons.append("the one-cycle schedule ends at lr 0 by design")
    return f"note: {'; '.join(reasons)}" if reasons else None


def _fit_sklearn(
    classifier: SklearnClassifier, data, config: TrainConfig, progress
) -> tuple[Classifier, object]:
    from mnistlab.training.estimator_fit import fit_estimator

    state = fit_estimator(classifier, data, config, progress)
    classifier.save()
    return classifier, state


def train_single(
    config: TrainConfig, source: ModelSource, run_dir: Path | None, report: ReportWriter | None = None
) -> Run:
    """Train `source` with `config` into a new run directory (run_dir None) or the claimed run_dir."""
    from mnistlab.training.inputs import load_training_data
    from mnistlab.training.progress import EpochProgress
    from mnistlab.training.runtime import limit_threads, precision_policy, seed_everything

    if run_dir is not None:
        remove_partial_files(run_dir)  # a kill mid-write leaves them; the checkpoints before are whole
    start = time.perf_counter()
    data = load_training_data(config)  # before TensorFlow is loaded: making scans forks processes
    load_seconds = time.perf_counter() - start
    seed_everything(config.seed)
    limit_threads(config.threads)
    progress = EpochProgress(reporter.console() if config.progress else None, epochs=config.epochs, steps=0)
    kind = KINDS[source.kind]
    with precision_policy(config.precision):
        model = source.build(data.input_shape, data.num_classes, config.architecture())
        if kind is KerasClassifier:  # a fitted model's own check, before anything is written
            KerasClassifier(model, Path(source.name)).check_fits(
                config.dataset, data.input_shape, data.num_classes
            )
        if run_dir is None:
            run_dir = new_run_dir(source.name, config.out)
            write_config(run_dir, config.to_dict(), environment())
        progress.say(f"training {source.name} on {config.dataset}, run directory {run_dir}")
        with _resume_hint(run_dir, progress):
            classifier = run_classifier(source.kind, model, run_dir)
            fit = _fit_sklearn if kind is SklearnClassifier else _fit_keras
            classifier, state = fit(classifier, data, config, progress)
            start = time.perf_counter()
            probabilities = classifier.predict_proba(data.test_images, data.num_classes)  # the saved model's
            eval_seconds = time.perf_counter() - start
    with _resume_hint(run_dir, progress):
        timing = {"eval_seconds": eval_seconds, "load_seconds": load_seconds}
        return finish(classifier, state, probabilities, data, **timing, report=report)


@contextlib.contextmanager
def _resume_hint(run_dir: Path, progress):
    """Ctrl-C and a full disk stop the run; both say how to continue it."""
    resume = f"mnistlab train --resume {run_dir}"
    try:
        yield
    except KeyboardInterrupt:
        progress.stop()
        reporter.warn(f"\ninterrupted; continue with: {resume}")
        raise
    except DiskFullError as error:
        progress.stop()
        raise error.then(f"continue with: {resume}") from error
