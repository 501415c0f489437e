"""Per-epoch checkpoints: everything needed to continue a run as if it had never stopped.

    checkpoints = Checkpoints(run_dir / "checkpoints", keep=3)
    checkpoints.save(model, state)          # after each epoch
    state = checkpoints.restore(model)      # model: freshly built and compiled the same way

A checkpoint is two files, written atomically in this order:
- epoch-0003.keras: the model with its optimizer state (incl. the step counter the lr schedule reads);
  any tool that loads .keras files can open it;
- epoch-0003.json: the loop state (finished epochs, history rows, early-stopping state, training seconds)
  and the dropout random-generator states, which .keras files do not hold. Its presence marks the
  checkpoint complete, so a run killed half-way through a save resumes from the one before.
Shuffling needs no state: epoch e is shuffled by a generator seeded with (seed, e).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.files import atomic_path, atomic_write_json

_CHECKPOINT_RE = re.compile(r"^epoch-(\d+)\.json$")
BEST_WEIGHTS = "best.weights.h5"  # the weights of the epoch with the lowest val_loss so far


@dataclass
class LoopState:
    """Where the epoch loop stands; saved with every checkpoint."""

    epoch: int = 0  # epochs finished
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per finished epoch
    train_seconds: float = 0.0  # wall time inside fit, summed over the finished epochs
    best_val_loss: float | None = None
    best_epoch: int | None = None  # 1-based epoch whose weights are in best.weights.h5
    epochs_without_improvement: int = 0
    stopped_early: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _seed_generator_states(model) -> list:
    """The (2,) state of every random generator in the model (dropout masks), in a fixed order."""
    return [variable for variable in model.variables if variable.name == "seed_generator_state"]


class Checkpoints:
    def __init__(self, folder: Path, keep: int):
        self.folder = Path(folder)
        self.keep = keep

    def _stem(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:04d}"

    def save(self, model, state: LoopState) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self._stem(state.epoch)
        with atomic_path(stem.with_suffix(".keras")) as tmp:
            model.save(tmp)
        random_states = [np.asarray(v.numpy()).tolist() for v in _seed_generator_states(model)]
        atomic_write_json(stem.with_suffix(".json"), {**state.to_dict(), "random_states": random_states})
        self._prune()
        return stem.with_suffix(".keras")

    def epochs(self) -> list[int]:
        """Epochs with a complete checkpoint, oldest first."""
        if not self.folder.is_dir():
            return []
        found = (_CHECKPOINT_RE.match(path.name) for path in self.folder.iterdir())
        return sorted(
            int(match.group(1))
            for match in found
            if match and self._stem(int(match.group(1))).with_suffix(".keras").is_file()
        )

    def _prune(self) -> None:
        for epoch in self.epochs()[: -self.keep]:
            self._stem(epoch).with_suffix(".json").unlink(missing_ok=True)  # first: the marker
            self._stem(epoch).with_suffix(".keras").unlink(missing_ok=True)

    def restore(self, model) -> LoopState:
        """Load the newest complete checkpoint into a built, compiled model; LoopState() if there is none."""
        finished = self.epochs()
        if not finished:
            return LoopState()
        stem = self._stem(finished[-1])
        saved = json.loads(stem.with_suffix(".json").read_text())
        model.optimizer.build(model.trainable_variables)  # so that its slots exist to be filled
        model.load_weights(stem.with_suffix(".keras"))  # weights and optimizer state
        for variable, value in zip(_seed_generator_states(model), saved.pop("random_states"), strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        return LoopState(**saved)

    def save_best(self, model) -> None:
        with atomic_path(self.folder / BEST_WEIGHTS) as tmp:  # tmp keeps the ".weights.h5" Keras wants
            model.save_weights(tmp)

    def load_best(self, model) -> None:
        model.load_weights(self.folder / BEST_WEIGHTS)
