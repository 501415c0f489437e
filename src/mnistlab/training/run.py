"""A finished training run as a Python object: its folder, config, history, model and metrics.

run = mnistlab.train("mlp", epochs=3)
run.metrics["test_accuracy"]      # 0.97...
run.history.plot(x="epoch", y=["loss", "val_loss"])
run = load_run("runs/2026-11-23-mlp")   # the same object for a run made earlier (model loaded lazily)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab.classifier import load_classifier
from mnistlab.rundir import CONFIG_FILE, HISTORY_FILE, read_config, read_metrics


@dataclass
class Run:
    dir: Path
    config: dict[str, Any]  # config.json: the resolved settings, versions and hardware
    history: Any  # pandas.DataFrame, one row per epoch, first column "epoch"
    metrics: dict[str, Any]  # metrics.json: test_accuracy, test_loss, train_seconds, epochs, ...
    _model: Any = field(default=None, repr=False)

    @property
    def model(self):
        """The trained keras.Model (or sklearn estimator), loaded from the run directory on first use."""
        if self._model is None:
            self._model = load_classifier(self.dir).model
        return self._model

    def __repr__(self) -> str:
        shown = [f"dir='{self.dir}'", f"model={self.config.get('model')!r}"]
        for name in ("epochs", "test_accuracy", "test_loss", "train_seconds"):
            value = self.metrics.get(name)
            if isinstance(value, float):
                shown.append(f"{name}={value:.4f}" if name != "train_seconds" else f"{name}={value:.1f}")
            elif value is not None:
                shown.append(f"{name}={value}")
        return f"Run({', '.join(shown)})"


def load_run(run_dir) -> Run:
    """A run directory -> Run (metrics {} if the run never finished)."""
    import pandas as pd

    from mnistlab.errors import MnistlabError

    path = Path(run_dir)
    if not (path / CONFIG_FILE).is_file():
        raise MnistlabError(f"{path} is not a run directory (no {CONFIG_FILE})")
    history_path = path / HISTORY_FILE
    history = pd.read_csv(history_path) if history_path.is_file() else pd.DataFrame(columns=["epoch"])
    return Run(dir=path, config=read_config(path), history=history, metrics=read_metrics(path))
