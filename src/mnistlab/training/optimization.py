"""The optimizer, its per-step learning-rate schedule and the loss, built from a TrainConfig.

    compile_model(model, config, total_steps=epochs * steps_per_epoch)   # optimizer, schedule, loss

The schedule is a function of the optimizer's step counter, which checkpoints save, so a resumed run picks
up the learning rate exactly where it stopped.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from mnistlab.training.config import TrainConfig

# schedule name -> how the lr falls after warm-up
_DECAY = {"constant": "none", "onecycle": "linear", "cosine": "cosine"}


@keras.saving.register_keras_serializable(package="mnistlab")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr per step: linear warm-up to `peak_lr` over `warmup_steps`, then `decay` to 0 at `total_steps`.

    decay: "none" (stay at peak), "linear" (one-cycle) or "cosine" (half a cosine).
    """

    def __init__(self, peak_lr: float, total_steps: int, warmup_steps: int = 0, decay: str = "none"):
        self.peak_lr = float(peak_lr)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.decay = decay

    def __call__(self, step):
        # step counts finished optimizer steps, so the first step uses (0 + 1) / warmup_steps of the peak
        step = ops.cast(step, "float32")
        warmup_steps = float(max(self.warmup_steps, 1))
        warming = self.peak_lr * (step + 1.0) / warmup_steps
        decay_steps = float(max(self.total_steps - self.warmup_steps, 1))
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        if self.decay == "linear":
            after = self.peak_lr * (1.0 - progress)
        elif self.decay == "cosine":
            after = self.peak_lr * 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            after = self.peak_lr + 0.0 * progress
        return ops.where(step < self.warmup_steps, warming, after)

    def get_config(self) -> dict:
        return {
            "peak_lr": self.peak_lr,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay": self.decay,
        }


@keras.saving.register_keras_serializable(package="mnistlab")
class SparseCrossentropyWithSmoothing(keras.losses.Loss):
    """Cross-entropy on integer labels (N,) and probabilities (N, C), with label smoothing.

    Keras' sparse loss has no label_smoothing; this one-hot encodes inside the step instead of keeping a
    (N, C) float copy of every label in memory.
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "sparse_crossentropy_smoothed", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        num_classes = ops.shape(y_pred)[-1]
        one_hot = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), num_classes)
        return keras.losses.categorical_crossentropy(one_hot, y_pred, label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_schedule(config: TrainConfig, total_steps: int) -> WarmupDecay | float:
    """A plain float when the lr never changes (the common, cheapest case), else a WarmupDecay."""
    warmup_steps = round(config.warmup * total_steps)
    if config.schedule == "constant" and warmup_steps == 0:
        return config.lr
    return WarmupDecay(config.lr, total_steps, warmup_steps, _DECAY[config.schedule])


def make_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    learning_rate = make_schedule(config, total_steps)
    weight_decay = config.weight_decay or None
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, weight_decay=weight_decay)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum, weight_decay=weight_decay)
    if config.optimizer == "nesterov":
        return keras.optimizers.SGD(
            learning_rate, momentum=config.momentum, nesterov=True, weight_decay=weight_decay
        )
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, weight_decay=weight_decay)
    if config.optimizer == "nadam":
        return keras.optimizers.Nadam(learning_rate, weight_decay=weight_decay)
    raise ValueError(f"unhandled optimizer {config.optimizer!r}")  # config validation lists them all


def make_loss(config: TrainConfig) -> keras.losses.Loss:
    if config.label_smoothing:
        return SparseCrossentropyWithSmoothing(config.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy()


def compile_model(model: keras.Model, config: TrainConfig, total_steps: int) -> None:
    """Optimizer, loss and accuracy metric for `total_steps` optimizer steps (the schedule's length)."""
    model.compile(
        optimizer=make_optimizer(config, total_steps),
        loss=make_loss(config),
        metrics=["accuracy"],
        steps_per_execution=config.steps_per_execution,
    )


def current_lr(optimizer: keras.optimizers.Optimizer) -> float:
    """The lr the next step will use (schedules are evaluated at the optimizer's step counter)."""
    value = optimizer.learning_rate  # a Keras Variable (fixed lr) or a backend tensor (schedule)
    if hasattr(value, "numpy"):  # np.asarray() on a Keras Variable trips a NumPy 2 deprecation warning
        value = value.numpy()
    return float(np.asarray(value))
