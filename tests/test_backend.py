"""The same `mnistlab train` on another Keras backend (JAX), and the TensorFlow speed settings.

Keras picks its backend from KERAS_BACKEND when it is first imported, so each case runs in a fresh
process: `KERAS_BACKEND=jax mnistlab train --model mlp ...`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

import mnistlab

TINY = ["--epochs", "1", "--train-split", "train[:2%]", "--no-progress"]


def train_in_subprocess(tmp_path, mnist_dir, *args: str, backend: str = "tensorflow") -> dict:
    env = {**os.environ, "MNISTLAB_DATA_DIR": str(mnist_dir), "KERAS_BACKEND": backend}
    command = [sys.executable, "-m", "mnistlab", "train", *TINY, *args, "--out", str(tmp_path / "run")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr
    return json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_mlp_trains_on_jax_and_loads_on_tensorflow(tmp_path, mnist_dir):
    metrics = train_in_subprocess(tmp_path, mnist_dir, "--model", "mlp", backend="jax")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["versions"]["backend"] == "jax" and config["versions"]["jax"]
    assert metrics["test_accuracy"] > 0.6  # 1,200 examples, one epoch: about 70%

    # the model file is backend-neutral: this (TensorFlow) process reproduces the JAX run's test accuracy
    test = mnistlab.load("mnist", split="test", data_dir=mnist_dir)
    predicted = mnistlab.load_classifier(tmp_path / "run").predict(test["image"])
    assert np.mean(predicted == test["label"]) == metrics["test_accuracy"]


def test_speed_settings_work_together(tmp_path, mnist_dir):
    args = ["--model", "mlp", "--precision", "bfloat16", "--steps-per-execution", "4", "--threads", "1"]
    args += ["--optimizer", "nesterov", "--lr", "0.05", "--schedule", "onecycle", "--warmup", "0.1"]
    metrics = train_in_subprocess(tmp_path, mnist_dir, *args, "--label-smoothing", "0.1")
    assert metrics["test_accuracy"] > 0.6

    import keras

    # trained in bf16 (the checkpoints, for resuming), saved to compute in float32 wherever it is loaded
    checkpoint_file = sorted((tmp_path / "run" / "checkpoints").glob("*.keras"))[-1]
    checkpoint = keras.saving.load_model(checkpoint_file, compile=False)
    assert "mixed_bfloat16" in {layer.dtype_policy.name for layer in checkpoint.layers}
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")  # plain Keras, nothing registered
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert keras.mixed_precision.global_policy().name == "float32"  # this process was never changed
    # the reported accuracy is the saved model's
    test = mnistlab.load("mnist", split="test", data_dir=mnist_dir)
    predicted = mnistlab.load_classifier(tmp_path / "run").predict(test["image"])
    assert np.mean(predicted == test["label"]) == metrics["test_accuracy"]


def test_precision_auto_means_bf16_only_on_cpus_with_bf16_instructions(tmp_path, mnist_dir):
    from mnistlab.training.runtime import native_precision

    flags = "flags\t\t: fpu sse2 avx2 avx512f avx512bw"
    (tmp_path / "plain").write_text(f"processor\t: 0\n{flags}\n")
    (tmp_path / "bf16").write_text(f"processor\t: 0\n{flags} avx512_bf16\n")
    (tmp_path / "amx").write_text(f"processor\t: 0\n{flags} amx_bf16 amx_tile\n")
    assert native_precision(str(tmp_path / "plain")) == "float32"
    assert native_precision(str(tmp_path / "bf16")) == "bfloat16"
    assert native_precision(str(tmp_path / "amx")) == "bfloat16"
    assert native_precision(str(tmp_path / "missing")) == "float32"  # not Linux

    run = mnistlab.train(
        "mlp",
        precision="auto",
        epochs=1,
        train_split="train[:1%]",
        data_dir=str(mnist_dir),
        out=str(tmp_path / "run"),
        progress=False,
    )
    assert run.config["precision"] == native_precision()  # the run records what it used
