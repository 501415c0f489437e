"""`mnistlab train` and `mnistlab models` in tiny mode: the run directory, model files, one-line errors."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from cli_support import call_cli

import mnistlab
from mnistlab.cli import main
from mnistlab.errors import MnistlabError
from mnistlab.training.run import load_run

TINY = ["--epochs", "1", "--train-split", "train[:2%]", "--no-progress"]


def call(*args: str) -> int:
    """Run the CLI in this process; returns its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(mnist_dir))
    return tmp_path


def test_tiny_run_writes_the_whole_run_directory(tmp_path, mnist_dir):
    args = ["--model", "mlp", "--epochs", "3", "--train-split", "train[:2%]", "--val-fraction", "0.1"]
    result = call_cli("train", *args, "--keep-checkpoints", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "epoch 3/3" in result.stdout and "test accuracy" in result.stdout
    [run_dir] = [path for path in (tmp_path / "runs").iterdir() if path.name != "latest"]
    assert run_dir.name.endswith("-mlp") and f"run directory: runs/{run_dir.name}" in result.stdout
    assert (tmp_path / "runs" / "latest").resolve() == run_dir.resolve()  # what the README's commands use

    config = json.loads((run_dir / "config.json").read_text())
    assert config["model"] == "mlp" and config["dataset"] == "mnist" and config["seed"] == 0
    assert config["train_split"] == "train[:2%]" and config["val_fraction"] == 0.1 and config["epochs"] == 3
    assert config["hidden"] == 128 and config["dropout"] == 0.2  # the architecture actually built
    assert config["batch_size"] == 32  # a flag left out takes the mlp recipe's value, not the default 128
    assert set(config["versions"]) >= {"python", "keras", "backend", "tensorflow", "numpy", "sklearn"}
    assert config["hardware"]["cores"] >= 1 and config["hardware"]["cpu"]
    import tensorflow as tf  # this machine's GPUs as TensorFlow lists them (none on a CPU-only machine)

    assert len(config["hardware"]["accelerators"]) == len(tf.config.list_physical_devices("GPU"))

    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:5] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [row["epoch"] for row in rows] == ["1", "2", "3"] and "lr" in rows[0]
    assert float(rows[2]["loss"]) < float(rows[0]["loss"])  # it learns

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0.7 < metrics["test_accuracy"] <= 1 and metrics["test_loss"] > 0
    assert metrics["epochs"] == 3 and metrics["train_examples"] == 1080 and metrics["val_examples"] == 120
    assert 0 < metrics["train_seconds"] < 120
    assert sorted(p.name for p in (run_dir / "checkpoints").glob("epoch-*")) == [
        "epoch-0002.json",
        "epoch-0002.keras",
        "epoch-0003.json",
        "epoch-0003.keras",
    ]
    assert (run_dir / "model.keras").is_file()
    assert not [p for p in run_dir.rglob(".*")], "temporary files left behind"


def test_forest_goes_through_the_same_run_directory(in_tmp, capsys):
    assert call("train", "--model", "forest", "--n-estimators", "10", *TINY, "--out", "forest") == 0
    run = load_run(in_tmp / "forest")
    assert (run.dir / "model.skops").is_file() and not (run.dir / "model.keras").exists()
    assert run.config["n_estimators"] == 10
    assert run.history["epoch"].tolist() == [1]
    assert run.metrics["test_accuracy"] > 0.75 and run.metrics["test_loss"] > 0
    assert "test accuracy" in capsys.readouterr().out


def test_python_file_model_then_keras_file_trained_further(in_tmp):
    (in_tmp / "tiny_net.py").write_text(
        "import keras\n\n"
        "def build_model(input_shape, num_classes):\n"
        "    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),\n"
        "                             keras.layers.Dense(num_classes, activation='softmax')])\n"
    )
    assert call("train", "--model", "tiny_net.py", *TINY, "--out", "first") == 0
    first = load_run(in_tmp / "first")
    assert first.config["model"] == str(in_tmp / "tiny_net.py")
    assert first.model.count_params() == 7850

    assert call("train", "--model", "first/model.keras", *TINY, "--out", "second") == 0
    second = load_run(in_tmp / "second")
    # a second epoch on the same examples, starting from the trained weights, does better than the first
    assert second.metrics["test_loss"] < first.metrics["test_loss"]


def test_python_api_returns_a_run(in_tmp):
    run = mnistlab.train("logreg", epochs=2, train_split="train[:1%]", progress=False, out="api")
    assert run.dir == Path("api") and run.config["epochs"] == 2
    assert list(run.history.columns[:3]) == ["epoch", "loss", "accuracy"] and len(run.history) == 2
    assert run.model.count_params() == 7850
    assert repr(run).startswith("Run(dir='api', model='logreg', epochs=2, test_accuracy=0.")
    with pytest.raises(MnistlabError, match="unknown setting learning_rate"):
        mnistlab.train("logreg", learning_rate=0.1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "resnet"], "unknown model 'resnet'; choose one of"),
        (["--model", "mlp", "--optimizer", "adagrad"], "optimizer='adagrad': choose one of"),
        (["--model", "mlp", "--filters", "8"], "model 'mlp' has no setting filters"),
        (["--model", "mlp", "--train-split", "train[5:5]"], "`train[5:5]` selects no examples"),
        (["--model", "mlp", "--train-split", "train[:1%]+test"], "uses the `test` split"),
        (["--model", "mlp", "--val-split", "test[:10%]"], "uses the `test` split"),
        (["--model", "mlp", "--val-split", "train[:1%]"], "overlaps train_split"),
        (["--model", "mlp", "--val-fraction", "0.0001", "--train-split", "train[:100]"], "val_fraction"),
        (["--model", "missing.keras"], "model file missing.keras does not exist"),
        (["--model", "broken.keras"], "is not a Keras model file"),
        (["--model", "unsafe.keras"], "could not be loaded as a Keras model"),
        (["--model", "no_builder.py"], "defines no build_model(input_shape, num_classes)"),
        (["--resume", "nowhere"], "nowhere is not a run directory"),
        (["--resume", "finished"], "finished is already complete"),
        (["--resume", "unfinished", "--epochs", "3"], "drop epochs"),
        (["--model", "mlp", "--out", "finished"], "already exists and is not empty"),
        (["--model", "forest", "--monitor-split", "test"], "monitor_split: forest is a sklearn model"),
        (["--model", "mlp", "--monitor-split", "valid"], "valid"),
        (["--model", "mlp", "--checkpoint-format", "pb"], "checkpoint_format='pb': choose one of"),
    ],
)
def test_user_errors_are_one_line(in_tmp, capsys, args, message):
    (in_tmp / "broken.keras").write_text("not a zip archive")
    with zipfile.ZipFile(in_tmp / "unsafe.keras", "w") as archive:  # a zip, but no Keras model inside
        archive.writestr("config.json", json.dumps({"class_name": "Lambda", "config": {}}))
    (in_tmp / "no_builder.py").write_text("def make():\n    return None\n")
    (in_tmp / "finished").mkdir()
    (in_tmp / "finished" / "config.json").write_text("{}")
    (in_tmp / "finished" / "metrics.json").write_text("{}")
    (in_tmp / "finished" / "report.html").write_text("<html></html>")
    (in_tmp / "unfinished").mkdir()
    (in_tmp / "unfinished" / "config.json").write_text("{}")

    assert call("train", *([] if "--resume" in args else TINY), *args) == 2  # the last flag wins
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert message in err
    assert not (in_tmp / "runs").exists(), "a failed start must not leave a run directory"


def test_models_lists_the_zoo(capsys):
    assert call("models", "--json") == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["mlp"]["params"] == 101_770 and rows["cnn"]["params"] == 693_962
    assert rows["forest"]["kind"] == "sklearn" and rows["logreg"]["expected_accuracy"] >= 0.92
    assert call("models") == 0
    table = capsys.readouterr().out
    for name in rows:
        assert name in table
    assert "101,770" in table


def test_early_stopping_keeps_the_best_epoch(in_tmp, capsys):
    import keras
    import numpy as np

    # 480 examples and a high lr: val_loss turns up after a few epochs, long before the 15th
    settings = {"train_split": "train[:1%]", "val_fraction": 0.2, "lr": 0.01, "batch_size": 32}
    run = mnistlab.train("mlp", epochs=15, early_stopping=2, hidden=256, out="es", progress=True, **settings)
    best_epoch = int(run.history["val_loss"].idxmin()) + 1
    assert run.metrics["stopped_early"] and run.metrics["best_epoch"] == best_epoch
    assert run.metrics["epochs"] == best_epoch + 2 < 15
    said = capsys.readouterr()
    stopped = f"stopped early after epoch {best_epoch + 2}/15: val_loss has not improved for 2 epochs"
    assert stopped in said.out + said.err  # announced before the weights of the best epoch come back
    assert run.metrics["val_loss"] == pytest.approx(run.history["val_loss"].min())

    final = mnistlab.load_classifier(run.dir).model.get_weights()
    best = mnistlab.get_model("mlp", hidden=256)
    best.load_weights(run.dir / "checkpoints" / "best.weights.h5")
    last = keras.saving.load_model(
        run.dir / "checkpoints" / f"epoch-{run.metrics['epochs']:04d}.keras", compile=False
    )
    assert all(np.array_equal(a, b) for a, b in zip(final, best.get_weights(), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(final, last.get_weights(), strict=True))
