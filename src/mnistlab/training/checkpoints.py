"""Per-epoch checkpoints: everything needed to continue a run as if it had never stopped.

    checkpoints = Checkpoints(run_dir / "checkpoints", keep=3)   # format="saved_model": + a SavedModel
    checkpoints.save(model, state)          # after each epoch
    state = checkpoints.restore(model)      # model: freshly built and compiled the same way

A checkpoint is two files (three with format "saved_model"), written atomically in this order:
- epoch-0003.keras: the model with its optimizer state (incl. the step counter the lr schedule reads);
  any tool that loads .keras files can open it;
- epoch-0003.saved_model/ (format "saved_model" only): the model as a TensorFlow SavedModel for
  inference (`tf.saved_model.load(path).serve(images)`), written to a temporary folder then renamed;
  a resume does not need it;
- epoch-0003.json: the loop state (finished epochs, history rows, early-stopping state, training seconds)
  and the dropout random-generator states, which .keras files do not hold. Its presence marks the
  checkpoint complete, so a run killed half-way through a save resumes from the one before.
Shuffling needs no state: epoch e is shuffled by a generator seeded with (seed, e).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import MnistlabError
from mnistlab.files import PARTIAL, atomic_path, atomic_write_json

_CHECKPOINT_RE = re.compile(r"^epoch-(\d+)\.json$")
BEST_WEIGHTS = "best.weights.h5"  # the weights of the epoch with the lowest val_loss so far
SAVED_MODEL_SUFFIX = ".saved_model"  # epoch-0003.saved_model/: format "saved_model" only


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


@contextlib.contextmanager
def _quiet_tensorflow():
    """TensorFlow logs "Assets written to: <temporary folder>" at INFO for every SavedModel, twice."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def write_saved_model(model, target: Path) -> Path:
    """Keras' tf_saved_model export of `model` (its `serve` endpoint runs in inference mode) into a
    temporary folder beside target, renamed to target when complete; an older target is replaced."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL))
    try:
        with contextlib.redirect_stdout(io.StringIO()), _quiet_tensorflow():  # Keras prints the signature
            model.export(str(staging / "model"), format="tf_saved_model", verbose=False)
        if target.exists():  # a resumed run writing the epoch again
            shutil.rmtree(target)
        os.replace(staging / "model", target)
    except Exception as error:
        raise MnistlabError(
            f"could not write the SavedModel checkpoint {target.name} ({type(error).__name__}: {error}); "
            "--checkpoint-format saved_model needs the TensorFlow backend, or use --checkpoint-format keras"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class Checkpoints:
    def __init__(self, folder: Path, keep: int, format: str = "keras"):
        self.folder = Path(folder)
        self.keep = keep
        self.format = format  # "keras" or "saved_model" (TrainConfig.checkpoint_format)

    def _stem(self, epoch: int) -> Path:
        return self.folder / f"epoch-{epoch:04d}"

    def saved_model(self, epoch: int) -> Path:
        """Where format "saved_model" keeps the SavedModel of 1-based `epoch`."""
        return self._stem(epoch).with_suffix(SAVED_MODEL_SUFFIX)

    def _remove_staging(self) -> None:
        """SavedModel folders a killed run left half-written (remove_partial_files takes files only)."""
        for path in self.folder.glob(f".*{PARTIAL}"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)

    def save(self, model, state: LoopState) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = self._stem(state.epoch)
        with atomic_path(stem.with_suffix(".keras")) as tmp:
            model.save(tmp)
        if self.format == "saved_model":
            self._remove_staging()
            write_saved_model(model, self.saved_model(state.epoch))
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
            shutil.rmtree(self.saved_model(epoch), ignore_errors=True)

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
