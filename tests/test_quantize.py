"""int8 export: smaller, loadable, as accurate as float on all of MNIST test, or refused leaving nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cli_support import run_cli
from PIL import Image
from recognition_support import mnist_split

import mnistlab
from mnistlab.classifier import ONNX_TEMPERATURE_KEY, OnnxClassifier
from mnistlab.recognition.export import export
from mnistlab.recognition.quantize import (
    Check,
    QuantizationError,
    calibration_images,
    quantize_int8,
    recorded_check,
)
from mnistlab.rundir import MODEL_ONNX


@pytest.fixture(scope="module")
def exported(fastcnn_run, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`mnistlab export RUN --quantize int8` on a copy of the run: (the copy, what the command said)."""
    run_dir = Path(shutil.copytree(fastcnn_run, tmp_path_factory.mktemp("int8") / "run"))
    return run_dir, run_cli("export", str(run_dir), "--format", "onnx", "--quantize", "int8")


@pytest.mark.slow
def test_cli_writes_model_int8_onnx_and_prints_the_figures(exported):
    run_dir, result = exported
    assert result.returncode == 0, result.stderr
    target = run_dir / "model.int8.onnx"
    wrote, figures = result.stdout.strip().splitlines()
    assert wrote == f"wrote {target}"
    check = recorded_check(target)
    assert figures == check.describe()
    assert f"int8 test accuracy {100 * check.int8_accuracy:.2f}%" in figures and "x smaller" in figures
    assert not [path.name for path in run_dir.glob(".*")]  # no temporary file left in the run


@pytest.mark.slow
def test_int8_is_smaller_loads_and_reads_mnist_test_as_float_does(exported, mnist_dir):
    run_dir, _ = exported
    float_file, int8_file = run_dir / MODEL_ONNX, run_dir / "model.int8.onnx"
    assert int8_file.stat().st_size < float_file.stat().st_size / 3  # int8 weights: 1 byte instead of 4

    float_model, int8_model = mnistlab.load_classifier(float_file), mnistlab.load_classifier(int8_file)
    assert isinstance(int8_model, OnnxClassifier)
    assert int8_model.temperature == float_model.temperature != 1.0  # the run's calibration, kept

    # the rule, computed here from both files' own predictions (IDX order, the tests' own reader)
    images, labels = mnist_split(mnist_dir, "t10k")
    from_float, from_int8 = float_model.predict(images), int8_model.predict(images)
    float_accuracy, int8_accuracy = (from_float == labels).mean(), (from_int8 == labels).mean()
    agreement = (from_int8 == from_float).mean()
    assert float_accuracy >= 0.97
    assert int8_accuracy >= float_accuracy - 0.001 - 1e-9
    assert agreement >= 0.998
    recorded = recorded_check(int8_file)  # what the file says of itself is what we measured
    assert recorded.test_images == len(labels) == 10_000
    assert (recorded.float_accuracy, recorded.int8_accuracy) == pytest.approx((float_accuracy, int8_accuracy))
    assert recorded.agreement == pytest.approx(agreement)
    assert recorded.int8_bytes == int8_file.stat().st_size


@pytest.mark.slow
def test_predict_reads_a_picture_with_the_int8_file(exported, mnist_dir, tmp_path):
    run_dir, _ = exported
    images, labels = mnist_split(mnist_dir, "t10k")
    picture = tmp_path / "digit.png"
    Image.fromarray(images[0]).save(picture)
    result = run_cli("predict", str(run_dir / "model.int8.onnx"), str(picture))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{picture}: {labels[0]}  (")


@pytest.mark.slow
def test_a_keras_file_is_converted_then_quantized(fastcnn_run, tmp_path):
    """From model.keras (not the run's ONNX copy): converted, checked against Keras, then quantized."""
    target = export(fastcnn_run / "model.keras", quantize="int8", out=tmp_path / "digits.int8.onnx")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["digits.int8.onnx"]
    check = recorded_check(target)
    assert check.passes() and check.test_images == 10_000 and check.int8_bytes < check.float_bytes / 3
    int8_model = mnistlab.load_classifier(target)
    assert int8_model.run_dir is None  # outside the run, the calibration comes from the file's metadata
    assert int8_model.temperature == mnistlab.load_classifier(fastcnn_run).temperature != 1.0


@pytest.mark.slow
def test_a_run_copy_without_temperature_gets_the_runs(fastcnn_run, tmp_path):
    """An older run's model.onnx has no temperature in its metadata: the int8 file takes the run's."""
    import onnx

    run_dir = Path(shutil.copytree(fastcnn_run, tmp_path / "run"))
    proto = onnx.load(str(run_dir / MODEL_ONNX))
    kept = [prop for prop in proto.metadata_props if prop.key != ONNX_TEMPERATURE_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    onnx.save(proto, str(run_dir / MODEL_ONNX))  # newer than model.keras: still the run's fresh copy
    target = export(run_dir, quantize="int8")
    assert target == run_dir / "model.int8.onnx"
    shutil.move(target, tmp_path / "outside.int8.onnx")  # away from the run: only its metadata speaks
    outside = mnistlab.load_classifier(tmp_path / "outside.int8.onnx")
    assert outside.temperature == mnistlab.load_classifier(fastcnn_run).temperature != 1.0


@pytest.mark.slow
def test_a_refused_model_leaves_no_file_and_says_both_figures(fastcnn_run, tmp_path):
    float_model = (fastcnn_run / MODEL_ONNX).read_bytes()
    existing = tmp_path / "old.int8.onnx"
    existing.write_bytes(b"an earlier export")
    # demanding that int8 beat float by 5 points cannot be met by a 99% model: refused
    with pytest.raises(QuantizationError) as refused:
        quantize_int8(float_model, tmp_path / "digits.int8.onnx", max_accuracy_drop=-0.05)
    message = str(refused.value)
    assert "\n" not in message and message.startswith("int8 model refused, nothing written: ")
    assert "test accuracy 99." in message and "vs float 99." in message and "argmax agreement" in message
    assert sorted(path.name for path in tmp_path.iterdir()) == ["old.int8.onnx"]
    assert existing.read_bytes() == b"an earlier export"


def test_the_rule_holds_at_its_bounds():
    def check(int8_accuracy: float, agreement: float) -> Check:
        return Check(10_000, 0.9913, int8_accuracy, agreement, 855_296, 232_467)

    assert check(0.9903, 0.998).passes()  # 0.1 point lower, 99.8% agreement: both at the bound
    assert check(0.9950, 1.0).passes()  # better than float is fine
    assert not check(0.9902, 0.999).passes()  # 0.11 point lower
    assert not check(0.9913, 0.9979).passes()
    assert not check(0.9913, 0.999).passes(min_agreement=0.9995)
    assert check(0.9913, 0.9989).describe() == (
        "int8 test accuracy 99.13% (float 99.13%), argmax agreement 99.89% of 10,000 test images, "
        "232 KB (float 855 KB, 3.7x smaller)"
    )


def test_calibration_images_are_a_seeded_sample_scaled_to_0_1():
    images = np.arange(5_000, dtype=np.int64).reshape(5_000, 1, 1, 1).repeat(28, 1).repeat(28, 2) % 256
    images = images.astype(np.uint8)
    sample = calibration_images(images, size=1_000, seed=0)
    assert sample.shape == (1_000, 28, 28, 1) and sample.dtype == np.float32
    assert 0.0 <= sample.min() and sample.max() <= 1.0
    np.testing.assert_array_equal(sample, calibration_images(images, size=1_000, seed=0))
    assert not np.array_equal(sample, calibration_images(images, size=1_000, seed=1))
    assert len(calibration_images(images[:10], size=1_000)) == 10  # a small split gives what it has
