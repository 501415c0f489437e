"""The epoch loop for Keras models: shuffle, fit one epoch, record, checkpoint, maybe stop.

    state = train_epochs(model, data, config, checkpoints, state, progress, run_dir)

Each epoch is one `model.fit` call over the batches of that epoch's seeded order (data/batches.py), so a
resumed run sees exactly the batches an uninterrupted one would have seen. Early stopping watches
val_loss and keeps the best weights. A monitor split (config.monitor_split, e.g. the test split) is
scored after each epoch into the history, for the curves only: nothing here decides anything by it.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mnistlab.data.batches import batches, epoch_order
from mnistlab.metrics import score
from mnistlab.rundir import write_history
from mnistlab.training.checkpoints import Checkpoints, LoopState
from mnistlab.training.config import TrainConfig
from mnistlab.training.inputs import TrainingData
from mnistlab.training.optimization import current_lr
from mnistlab.training.progress import EpochProgress

# history.csv columns after "epoch", in this order; other metrics follow, then lr and seconds
COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy")
MONITOR_BATCH = 1024  # images per predict step when scoring the monitor split


def steps_per_epoch(count: int, batch_size: int) -> int:
    return math.ceil(count / batch_size)


def epoch_feed(images: np.ndarray, labels: np.ndarray, order: np.ndarray, batch_size: int):
    """What `model.fit` reads for one epoch: `batches(...)`, wrapped for TensorFlow in a tf.data pipeline
    that prefetches two batches with tf.data's autotuning off.

    Keras' own wrapping of a generator autotunes the prefetch, and in about a quarter of fit calls the
    autotuner's thread held the end of `fit` back by 0.6-0.7 s (benchmarks/RESULTS.md, "per-step overhead").
    """
    import keras

    stream = batches(images, labels, order, batch_size)
    if keras.backend.backend() != "tensorflow":
        return stream
    import tensorflow as tf

    signature = tuple(tf.TensorSpec((None, *array.shape[1:]), array.dtype) for array in (images, labels))
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = tf.data.Dataset.from_generator(lambda: stream, output_signature=signature)
    return dataset.prefetch(2).with_options(options)


def build_for_training(model, images: np.ndarray, labels: np.ndarray) -> None:
    """Create the optimizer's and the compiled metrics' variables before the first `fit`.

    Left to `fit`, they are created while TensorFlow traces the training step, which then traces it a
    second time: 0.25 s more before fastcnn's first step.
    """
    model.optimizer.build(model.trainable_variables)
    # Metrics are built from shapes alone: calling the model here would advance its random layers'
    # seeds, and a resumed run would no longer repeat the uninterrupted one.
    classes = model.output_shape[-1]
    model.compute_metrics(images[:1], labels[:1], np.full((1, classes), 1 / classes, np.float32))
    model.reset_metrics()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block: a full collection walks every object TensorFlow
    and Keras created (0.3-0.7 s here) and could land in the middle of a timed epoch. An epoch makes
    little cyclic garbage; it is collected after the block as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def monitor_scores(model, images: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The model's monitor_loss (plain cross-entropy, nats per example, as the final test_loss) and
    monitor_accuracy on the monitor split; images float32 (M, 28, 28, 1) in [0, 1]."""
    probabilities = model.predict(images, batch_size=MONITOR_BATCH, verbose=0)  # (M, C), inference mode
    scores = score(labels, np.asarray(probabilities, dtype=np.float32))
    return {"monitor_loss": float(scores["loss"]), "monitor_accuracy": float(scores["accuracy"])}


def _update_best(state: LoopState, row: dict, checkpoints: Checkpoints, model, patience: int) -> None:
    """Track the lowest val_loss; save its weights; count epochs without improvement."""
    val_loss = row.get("val_loss")
    if val_loss is None:
        return
    if state.best_val_loss is None or val_loss < state.best_val_loss:
        state.best_val_loss, state.best_epoch = val_loss, row["epoch"]
        state.epochs_without_improvement = 0
        checkpoints.save_best(model)
    else:
        state.epochs_without_improvement += 1
        state.stopped_early = patience > 0 and state.epochs_without_improvement >= patience


def train_epochs(
    model,
    data: TrainingData,
    config: TrainConfig,
    checkpoints: Checkpoints,
    state: LoopState,
    progress: EpochProgress,
    run_dir: Path,
) -> LoopState:
    """Fit from epoch state.epoch + 1 to config.epochs (or an early stop); returns the final state."""
    validation = None if data.val_images is None else (data.val_images, data.val_labels)
    count = len(data.train_labels)
    for epoch in range(state.epoch, config.epochs):
        if state.stopped_early:
            break
        callbacks = progress.for_epoch(epoch + 1)
        start = time.perf_counter()
        if epoch == state.epoch:  # the first epoch of this process
            build_for_training(model, data.train_images, data.train_labels)
        order = epoch_order(config.seed, epoch, count)
        with gc_paused():
            result = model.fit(
                epoch_feed(data.train_images, data.train_labels, order, config.batch_size),
                steps_per_epoch=steps_per_epoch(count, config.batch_size),
                shuffle=False,  # the order above is the shuffle
                initial_epoch=epoch,
                epochs=epoch + 1,
                validation_data=validation,
                callbacks=callbacks,
                verbose=0,
            )
        seconds = time.perf_counter() - start  # training only: the monitor split is scored after it
        logs = {name: float(values[-1]) for name, values in result.history.items()}
        row = {"epoch": epoch + 1, **{name: logs.pop(name) for name in COLUMNS if name in logs}, **logs}
        if data.monitor_images is not None:
            row.update(monitor_scores(model, data.monitor_images, data.monitor_labels))
        row.update(lr=float(f"{current_lr(model.optimizer):.6g}"), seconds=round(seconds, 3))  # lr: float32
        state.epoch, state.train_seconds = epoch + 1, state.train_seconds + seconds
        state.history.append(row)
        _update_best(state, row, checkpoints, model, config.early_stopping)
        checkpoints.save(model, state)
        write_history(run_dir, state.history)
        progress.finished(row)
    return state
