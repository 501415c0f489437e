"""What a person watching a run sees: a progress bar per epoch, then one line per finished epoch.

    progress = EpochProgress(console, epochs=5, steps=469)
    model.fit(..., callbacks=[progress.for_epoch(3)])
    progress.finished(row)       # "epoch 3/5  loss 0.0712  accuracy 0.9781  val_loss ...  4.1s"

On a terminal the bar is live and disappears when the epoch ends; elsewhere (logs, pipes) only the
per-epoch lines are printed.
"""

from __future__ import annotations

import time
from typing import Any

import keras
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

# Reading the loss forces the device to finish the step; a few reads a second cost nothing measurable.
_SECONDS_BETWEEN_READS = 0.25
_SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy", "monitor_loss", "monitor_accuracy")


def _format(row: dict[str, Any]) -> str:
    parts = [f"{name} {row[name]:.4f}" for name in _SHOWN if row.get(name) is not None]
    if row.get("lr") is not None:
        parts.append(f"lr {row['lr']:.2e}")
    if row.get("seconds") is not None:
        parts.append(f"{row['seconds']:.1f}s")
    return "  ".join(parts)


class _EpochBar(keras.callbacks.Callback):
    """Moves the bar after each compiled step and shows the running loss and accuracy."""

    def __init__(self, progress: Progress, task, steps: int):
        super().__init__()
        self.progress, self.task, self.steps = progress, task, steps
        self.last_read = 0.0

    def on_train_batch_end(self, batch, logs=None):
        # batch: index of the last step finished (steps_per_execution steps may finish per call)
        now = time.monotonic()
        metrics = ""
        if logs and now - self.last_read >= _SECONDS_BETWEEN_READS:
            self.last_read = now
            metrics = "  ".join(f"{name} {float(logs[name]):.4f}" for name in _SHOWN[:2] if name in logs)
            self.progress.update(self.task, completed=min(batch + 1, self.steps), metrics=metrics)
        else:
            self.progress.update(self.task, completed=min(batch + 1, self.steps))

    def on_test_begin(self, logs=None):
        self.progress.update(self.task, completed=self.steps, metrics="validating")


class EpochProgress:
    def __init__(self, console: Console | None, epochs: int, steps: int):
        self.console = console  # None: print nothing
        self.epochs, self.steps = epochs, steps
        self._progress: Progress | None = None

    def for_epoch(self, epoch: int) -> list[keras.callbacks.Callback]:
        """Callbacks for model.fit of 1-based `epoch` ([] when silent)."""
        if self.console is None or not self.console.is_terminal:
            return []
        self._progress = Progress(
            TextColumn(f"epoch {epoch}/{self.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=self.console,
            transient=True,
            refresh_per_second=4,
        )
        task = self._progress.add_task("train", total=self.steps, metrics="")
        self._progress.start()
        return [_EpochBar(self._progress, task, self.steps)]

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def finished(self, row: dict[str, Any]) -> None:
        self.stop()
        if self.console is not None:
            self.console.print(
                f"epoch {row['epoch']}/{self.epochs}  {_format(row)}", highlight=False, soft_wrap=True
            )

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, highlight=False, soft_wrap=True)
