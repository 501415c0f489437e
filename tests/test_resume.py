"""Kill `mnistlab train` half-way (SIGKILL, Ctrl-C), resume it, and get the run an uninterrupted one gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import call_cli

import mnistlab

# Dropout, a one-cycle schedule and a validation carve-out: every kind of state a resume must restore.
SETTINGS = {
    "model": "mlp",
    "epochs": 4,
    "batch_size": 32,
    "train_split": "train[:10%]",
    "val_fraction": 0.1,
    "schedule": "onecycle",
    "warmup": 0.2,
    "seed": 5,
}


def cli_args(settings: dict) -> list[str]:
    args = []
    for name, value in settings.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def start_training(run_dir: Path, data_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "MNISTLAB_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "mnistlab", "train", *cli_args(SETTINGS), "--out", str(run_dir)]
    # The child gets the default Ctrl-C handling even when this suite runs in the background (where
    # the shell starts it with SIGINT ignored, which a child inherits and Python then keeps).
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_first_checkpoint(process: subprocess.Popen, run_dir: Path) -> None:
    marker = run_dir / "checkpoints" / "epoch-0001.json"
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 240 s"
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2: 169 steps of 32 examples take about a second here


@pytest.fixture(scope="module")
def uninterrupted(mnist_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    return mnistlab.train(**SETTINGS, data_dir=str(mnist_dir), out=str(out), progress=False)


def test_resume_after_sigkill_gives_the_uninterrupted_run(uninterrupted, mnist_dir, tmp_path):
    run_dir = tmp_path / "killed"
    process = start_training(run_dir, mnist_dir)
    wait_for_first_checkpoint(process, run_dir)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert not (run_dir / "metrics.json").exists(), "the run finished before it could be killed"

    resumed = call_cli("train", "--resume", run_dir)  # a new process resumes: here, this one
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in resumed.stdout

    history = pd.read_csv(run_dir / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4]  # none missing, none twice
    reference = uninterrupted.history
    for column in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_allclose(history[column], reference[column], rtol=1e-4, err_msg=column)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 4
    assert metrics["test_accuracy"] == pytest.approx(uninterrupted.metrics["test_accuracy"], abs=2e-3)
    assert metrics["test_loss"] == pytest.approx(uninterrupted.metrics["test_loss"], rel=1e-3)
    assert (run_dir / "model.keras").is_file() and (run_dir / "config.json").is_file()

    again = call_cli("train", "--resume", run_dir)
    assert again.returncode == 2 and "already complete" in again.stderr


def test_ctrl_c_says_how_to_resume(mnist_dir, tmp_path):
    run_dir = tmp_path / "interrupted"
    process = start_training(run_dir, mnist_dir)
    wait_for_first_checkpoint(process, run_dir)
    # Once in about ten suites under load the run went on to its end as if no Ctrl-C came (one that lands
    # inside a finaliser, for one, is dropped by Python); a user presses again, and so does this test.
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert f"mnistlab train --resume {run_dir}" in err
    assert "Traceback" not in err
    assert not (run_dir / "metrics.json").exists()
    assert (run_dir / "checkpoints" / "epoch-0001.keras").is_file()
