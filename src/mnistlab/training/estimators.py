"""Training for scikit-learn estimators (the random forest): one fit, no epochs, the same run directory.

    state = fit_estimator(estimator, data, config, progress)

The single fit is recorded as epoch 1 of the history, so every run directory reads the same way.
"""

from __future__ import annotations

import time

import numpy as np

from mnistlab.training.checkpoints import LoopState
from mnistlab.training.config import TrainConfig
from mnistlab.training.inputs import TrainingData
from mnistlab.training.progress import EpochProgress
from mnistlab.training.scores import score


def flat(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28, 1) -> (N, 784): one feature per pixel."""
    return images.reshape(len(images), -1)


def predict_probabilities(estimator, images: np.ndarray, num_classes: int) -> np.ndarray:
    """predict_proba padded to every class (a class missing from a small training split gets 0)."""
    known = estimator.predict_proba(flat(images))
    full = np.zeros((len(images), num_classes), dtype=np.float32)
    full[:, estimator.classes_.astype(int)] = known
    return full


def fit_estimator(estimator, data: TrainingData, config: TrainConfig, progress: EpochProgress) -> LoopState:
    settings = estimator.get_params()
    if "random_state" in settings:
        estimator.set_params(random_state=config.seed)
    if "n_jobs" in settings:
        estimator.set_params(n_jobs=config.threads or -1)  # -1: every core
    progress.say(f"fitting {type(estimator).__name__} on {len(data.train_labels)} examples")
    start = time.perf_counter()
    estimator.fit(flat(data.train_images), data.train_labels)
    seconds = time.perf_counter() - start
    train_scores = score(
        predict_probabilities(estimator, data.train_images, data.num_classes), data.train_labels
    )
    row = {"epoch": 1, "loss": train_scores["loss"], "accuracy": train_scores["accuracy"]}
    if data.val_images is not None:
        val_scores = score(
            predict_probabilities(estimator, data.val_images, data.num_classes), data.val_labels
        )
        row.update(val_loss=val_scores["loss"], val_accuracy=val_scores["accuracy"])
    row["seconds"] = round(seconds, 3)
    progress.epochs = 1
    progress.finished(row)
    return LoopState(epoch=1, history=[row], train_seconds=seconds)
