"""Real accuracy on full MNIST (60,000 training, 10,000 test examples), through `mnistlab.train`.

The default suite trains two models for one epoch. `make test-accuracy` (pytest -m accuracy) trains every
zoo model at its recipe's defaults and asserts the accuracy `mnistlab models` lists, less a small margin
for the spread between seeds and machines.
"""

from __future__ import annotations

import json

import pytest

import mnistlab
from mnistlab.models.registry import list_models

# Seeds move a model's test accuracy by about +-0.15 points (e.g. the MLP: 97.7%..98.0% over seeds);
# a listed accuracy is met when the run lands within this many points (as a fraction) of it.
MARGIN = 0.003


def train_full(model: str, tmp_path, mnist_dir, **settings):
    return mnistlab.train(
        model, data_dir=str(mnist_dir), out=str(tmp_path / model), progress=False, **settings
    )


def test_mlp_one_epoch(tmp_path, mnist_dir):
    # One epoch of the tutorial MLP (batch 32, Adam 1e-3) lands near 96% test accuracy (95.96% measured).
    run = train_full("mlp", tmp_path, mnist_dir, epochs=1)
    assert run.metrics["train_examples"] == 60_000 and run.metrics["test_examples"] == 10_000
    assert run.metrics["test_accuracy"] >= 0.95


def test_fastcnn_one_epoch_reaches_99_percent(fastcnn_run):
    # the session's shared run (conftest.py): mnistlab.train("fastcnn", epochs=1) on all of MNIST
    config = json.loads((fastcnn_run / "config.json").read_text())
    metrics = json.loads((fastcnn_run / "metrics.json").read_text())
    assert config["model"] == "fastcnn" and config["train_split"] == "train" and config["epochs"] == 1
    assert metrics["train_examples"] == 60_000 and metrics["test_examples"] == 10_000
    assert metrics["epochs"] == 1
    assert metrics["test_accuracy"] >= 0.99


@pytest.mark.accuracy
@pytest.mark.parametrize("spec", list_models(), ids=lambda spec: spec.name)
def test_every_model_reaches_its_listed_accuracy(spec, tmp_path, mnist_dir):
    assert spec.expected_accuracy is not None, f"{spec.name} lists no expected accuracy"
    run = train_full(spec.name, tmp_path, mnist_dir)
    print(f"{spec.name}: {run.metrics['test_accuracy']:.4f} in {run.metrics['train_seconds']:.0f} s")
    assert run.metrics["test_accuracy"] >= spec.expected_accuracy - MARGIN
