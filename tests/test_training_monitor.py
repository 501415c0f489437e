"""Per-epoch monitoring of a split (curves only) and SavedModel checkpoints, on tiny real runs.

--monitor-split test          history.csv gets monitor_loss / monitor_accuracy per epoch
--checkpoint-format saved_model   checkpoints/epoch-NNNN.saved_model/ beside each .keras checkpoint
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mnistlab
from mnistlab.errors import MnistlabError

pytestmark = pytest.mark.slow

TINY = {"epochs": 2, "train_split": "train[:512]", "progress": False, "seed": 0}


def _train(mnist_dir, out, **settings):
    return mnistlab.train("mlp", data_dir=str(mnist_dir), out=str(out), **{**TINY, **settings})


@pytest.fixture(scope="module")
def monitored_run(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("monitor") / "run"
    return _train(
        mnist_dir,
        out,
        val_fraction=0.2,
        monitor_split="test[:2000]",
        checkpoint_format="saved_model",
        keep_checkpoints=2,
    )


def test_the_monitor_values_are_an_independent_evaluation_of_each_epochs_checkpoint(monitored_run, mnist_dir):
    import keras

    images, labels = mnistlab.load("mnist", split="test[:2000]", as_supervised=True, data_dir=mnist_dir)
    pixels = images.astype(np.float32) / 255
    history = pd.read_csv(monitored_run.dir / "history.csv")
    assert list(history.columns[5:7]) == ["monitor_loss", "monitor_accuracy"]
    for row in history.itertuples():
        checkpoint = monitored_run.dir / "checkpoints" / f"epoch-{row.epoch:04d}.keras"
        probabilities = keras.saving.load_model(checkpoint, compile=False).predict(pixels, verbose=0)
        accuracy = float(np.mean(probabilities.argmax(axis=1) == labels))
        loss = float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels].astype(np.float64))))
        assert row.monitor_accuracy == pytest.approx(accuracy, abs=1e-9)
        assert row.monitor_loss == pytest.approx(loss, rel=1e-4)
    assert history["monitor_accuracy"].iloc[-1] > history["monitor_accuracy"].iloc[0]  # it learns


def test_the_run_says_what_the_monitor_split_is_for(monitored_run):
    config = json.loads((monitored_run.dir / "config.json").read_text())
    metrics = json.loads((monitored_run.dir / "metrics.json").read_text())
    assert config["monitor_split"] == "test[:2000]" and config["checkpoint_format"] == "saved_model"
    assert metrics["monitor_split"] == "test[:2000]" and "curves only" in metrics["monitor_use"]
    report = (monitored_run.dir / "report.html").read_text()
    assert "Monitored after each epoch" in report and "the validation data alone" in report


def test_each_epoch_leaves_a_savedmodel_that_predicts_as_its_keras_checkpoint(monitored_run):
    import keras
    import tensorflow as tf

    folder = monitored_run.dir / "checkpoints"
    assert sorted(path.name for path in folder.glob("*.saved_model")) == [
        "epoch-0001.saved_model",
        "epoch-0002.saved_model",
    ]
    assert not [path for path in folder.iterdir() if path.name.startswith(".")]  # no staging folders left
    probe = np.random.default_rng(0).random((8, 28, 28, 1), dtype=np.float32)
    saved_model = tf.saved_model.load(str(folder / "epoch-0002.saved_model"))  # kept: serve needs it alive
    served = saved_model.serve(probe).numpy()
    expected = keras.saving.load_model(folder / "epoch-0002.keras", compile=False).predict(probe, verbose=0)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_old_savedmodels_are_pruned_with_their_checkpoints(tmp_path, mnist_dir):
    run = _train(mnist_dir, tmp_path / "run", epochs=3, checkpoint_format="saved_model", keep_checkpoints=1)
    folder = run.dir / "checkpoints"
    assert sorted(path.name for path in folder.iterdir() if path.name.startswith("epoch")) == [
        "epoch-0003.json",
        "epoch-0003.keras",
        "epoch-0003.saved_model",
    ]


def test_early_stopping_and_the_epoch_kept_ignore_the_monitor_split(tmp_path, mnist_dir):
    settings = {"epochs": 4, "val_fraction": 0.2, "early_stopping": 1, "lr": 0.01}
    plain = _train(mnist_dir, tmp_path / "plain", **settings)
    monitored = _train(mnist_dir, tmp_path / "monitored", monitor_split="test", **settings)
    assert "monitor_loss" not in plain.history and "monitor_loss" in monitored.history
    # With these settings the monitor split would pick another epoch than val_loss does, so a selection
    # that looked at it would show below.
    history = monitored.history
    assert history["monitor_loss"].idxmin() != history["val_loss"].idxmin()
    columns = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(plain.history[columns], monitored.history[columns])
    for key in ("best_epoch", "stopped_early", "epochs", "test_accuracy"):
        assert plain.metrics[key] == monitored.metrics[key], key
    for left, right in zip(plain.model.get_weights(), monitored.model.get_weights(), strict=True):
        np.testing.assert_array_equal(left, right)


def test_a_forest_refuses_a_monitor_split_in_one_line(tmp_path, mnist_dir):
    with pytest.raises(MnistlabError, match="monitor_split: forest is a sklearn model") as error:
        mnistlab.train("forest", monitor_split="test", data_dir=str(mnist_dir), out=str(tmp_path / "f"))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "f").exists()  # refused before anything was written
    with pytest.raises(MnistlabError, match="checkpoint_format: forest"):
        mnistlab.train("forest", checkpoint_format="saved_model", data_dir=str(mnist_dir))


def test_a_savedmodel_checkpoint_replaces_what_a_killed_run_left(tmp_path):
    import keras

    from mnistlab.training.checkpoints import Checkpoints, LoopState

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    checkpoints = Checkpoints(tmp_path, keep=2, format="saved_model")
    half_written = tmp_path / ".epoch-0001.saved_model.k2j4.partial"  # a run killed mid-export
    (half_written / "variables").mkdir(parents=True)
    older = tmp_path / "epoch-0001.saved_model"  # a resumed run writes its epoch again
    older.mkdir()
    (older / "stale.txt").write_text("from the killed run")
    checkpoints.save(model, LoopState(epoch=1))
    assert not half_written.exists()
    assert (older / "saved_model.pb").is_file() and not (older / "stale.txt").exists()
    assert checkpoints.epochs() == [1]
