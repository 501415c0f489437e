"""Training for scikit-learn estimators (the random forest): one fit, no epochs, the same run directory.

    state = fit_estimator(SklearnClassifier(estimator, path), data, config, progress)

The single fit is recorded as epoch 1 of the history, so every run directory reads the same way.
"""

from __future__ import annotations

import time

from mnistlab.classifier import SklearnClassifier
from mnistlab.metrics import score
from mnistlab.training.checkpoints import LoopState
from mnistlab.training.config import TrainConfig
from mnistlab.training.inputs import TrainingData
from mnistlab.training.progress import EpochProgress


def fit_estimator(
    classifier: SklearnClassifier, data: TrainingData, config: TrainConfig, progress: EpochProgress
) -> LoopState:
    """Fit the classifier's estimator on the training split; its scores become the one history row."""
    estimator = classifier.model
    settings = estimator.get_params()
    if "random_state" in settings:
        estimator.set_params(random_state=config.seed)
    if "n_jobs" in settings:
        estimator.set_params(n_jobs=config.threads or -1)  # -1: every core
    progress.say(f"fitting {type(estimator).__name__} on {len(data.train_labels)} examples")
    start = time.perf_counter()
    estimator.fit(data.train_images.reshape(len(data.train_images), -1), data.train_labels)
    seconds = time.perf_counter() - start
    probabilities = classifier.predict_proba(data.train_images, data.num_classes)
    train_scores = score(data.train_labels, probabilities)
    row = {"epoch": 1, "loss": train_scores["loss"], "accuracy": train_scores["accuracy"]}
    if data.val_images is not None:
        val_scores = score(data.val_labels, classifier.predict_proba(data.val_images, data.num_classes))
        row.update(val_loss=val_scores["loss"], val_accuracy=val_scores["accuracy"])
    row["seconds"] = round(seconds, 3)
    progress.epochs = 1
    progress.finished(row)
    return LoopState(epoch=1, history=[row], train_seconds=seconds)
