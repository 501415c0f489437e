"""int8 ONNX models: onnxruntime's static quantization, calibrated on training images, accepted by a test.

    from mnistlab.recognition.quantize import quantize_int8, recorded_check
    check = quantize_int8(float_onnx_bytes, "runs/2026-11-23-fastcnn/model.int8.onnx")
    check.int8_accuracy, check.agreement      # 0.9912, 0.9989 on the 10,000 MNIST test images
    recorded_check("runs/2026-11-23-fastcnn/model.int8.onnx")  # the same figures, read from the file

Weights and activations become int8 (onnxruntime.quantization.quantize_static); the activation ranges come
from CALIBRATION_SIZE seeded training images (MinMax). The int8 model is kept only when, on the whole test
split, its accuracy is at most MAX_ACCURACY_DROP below the float model's and its argmax agrees with the
float model's on at least MIN_AGREEMENT of the images; otherwise QuantizationError says both figures and
nothing is written. The file keeps the float model's metadata (the calibration temperature included) and
adds the check's figures under QUANTIZATION_KEY, so `predict model.int8.onnx` works as with model.onnx.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from mnistlab.files import atomic_write_bytes
from mnistlab.recognition.onnx_conversion import ExportError

CALIBRATION_SIZE = 1_000  # training images whose activations set the int8 ranges
CALIBRATION_SEED = 0  # which ones: the same file from the same model, every time
CALIBRATION_BATCH = 100  # images per calibration run: (100, 28, 28, 1) float32, 0.3 MB
EVALUATION_BATCH = 1_000  # test images per onnxruntime call while checking
MAX_ACCURACY_DROP = 0.001  # fraction: 0.1 point of test accuracy below the float model's, at most
MIN_AGREEMENT = 0.998  # fraction of test images whose argmax must be the float model's
# Chosen on fastcnn (benchmarks/bench_quantize.py, AVX2): per tensor agrees with float on 99.89% of MNIST
# test vs 99.86% per channel (accuracy 99.12% vs 99.11%, float 99.13%); QDQ keeps standard ONNX operators
# (QOperator needs onnxruntime's com.microsoft ones) for 8 KB more (232 vs 224 KB) and no latency
# difference measurable on 2 shared cores (~0.1 ms per image, ~12-16 ms per 256, either way).
QUANT_FORMAT = "QDQ"
PER_CHANNEL = False
QUANTIZATION_KEY = "mnistlab.quantization"  # ONNX metadata: how the file was made and checked (JSON)


class QuantizationError(ExportError):
    """An int8 model that onnxruntime cannot make, or that does not pass the accuracy check."""


@dataclass(frozen=True)
class Check:
    """The float and int8 models compared on one test split."""

    test_images: int
    float_accuracy: float  # fraction of test images read right
    int8_accuracy: float
    agreement: float  # fraction of test images where both models' argmax is the same digit
    float_bytes: int  # serialized model sizes
    int8_bytes: int  # of the file as written, with this record in its metadata

    def passes(
        self, max_accuracy_drop: float = MAX_ACCURACY_DROP, min_agreement: float = MIN_AGREEMENT
    ) -> bool:
        slack = 1e-9  # accuracies are counts / n: keep 99.03% vs 99.13% - 0.1 point from failing on rounding
        return (
            self.float_accuracy - self.int8_accuracy <= max_accuracy_drop + slack
            and self.agreement >= min_agreement - slack
        )

    def describe(self) -> str:
        return (
            f"int8 test accuracy {100 * self.int8_accuracy:.2f}% (float {100 * self.float_accuracy:.2f}%), "
            f"argmax agreement {100 * self.agreement:.2f}% of {self.test_images:,} test images, "
            f"{self.int8_bytes / 1e3:,.0f} KB (float {self.float_bytes / 1e3:,.0f} KB, "
            f"{self.float_bytes / self.int8_bytes:.1f}x smaller)"
        )


def quantize_int8(
    float_model: bytes,
    target: str | Path,
    *,
    dataset: str = "mnist",
    data_dir=None,
    max_accuracy_drop: float = MAX_ACCURACY_DROP,
    min_agreement: float = MIN_AGREEMENT,
    temperature: float | None = None,
) -> Check:
    """A float ONNX model (serialized) -> its int8 copy written atomically at target, if it passes the check.

    temperature: the calibration to record in the int8 file (None: the float model's own record, if any).

    Raises QuantizationError (nothing written) when it does not: the message gives both figures.
    """
    from mnistlab.data.load import load

    train_images, _ = load(dataset, split="train", as_supervised=True, data_dir=data_dir)
    int8_model = quantize_bytes(float_model, calibration_images(train_images))
    test_images, test_labels = load(dataset, split="test", as_supervised=True, data_dir=data_dir)
    check = compare(float_model, int8_model, test_images, test_labels)
    if not check.passes(max_accuracy_drop, min_agreement):
        raise QuantizationError(
            f"int8 model refused, nothing written: test accuracy {100 * check.int8_accuracy:.2f}% vs float "
            f"{100 * check.float_accuracy:.2f}% (at most {100 * max_accuracy_drop:.2f} point lower allowed), "
            f"argmax agreement {100 * check.agreement:.2f}% (at least {100 * min_agreement:.2f}% needed) "
            f"on {check.test_images:,} {dataset} test images; keep the float export"
        )
    written = with_check(int8_model, check, dataset, temperature)
    atomic_write_bytes(target, written)
    return replace(check, int8_bytes=len(written))


def calibration_images(
    images: np.ndarray, size: int = CALIBRATION_SIZE, seed: int = CALIBRATION_SEED
) -> np.ndarray:
    """(N, 28, 28, 1) uint8 training images -> a seeded sample, (size, 28, 28, 1) float32 in [0, 1]."""
    chosen = np.sort(np.random.default_rng(seed).choice(len(images), min(size, len(images)), replace=False))
    return np.asarray(images[chosen], dtype=np.float32) / 255


def quantize_bytes(
    float_model: bytes,
    calibration: np.ndarray,
    quant_format: str = QUANT_FORMAT,
    per_channel: bool = PER_CHANNEL,
) -> bytes:
    """onnxruntime's pre-processing and static quantization, in a temporary folder; the int8 model's bytes.

    quant_format "QDQ" or "QOperator" and per_channel are onnxruntime's; the defaults are measured choices.
    """
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = _session(float_model).get_inputs()[0].name

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(
                {input_name: calibration[start : start + CALIBRATION_BATCH]}
                for start in range(0, len(calibration), CALIBRATION_BATCH)
            )

        def get_next(self):
            return next(self.batches, None)

    quiet = io.StringIO()  # onnxruntime narrates calibration on stdout and warns in the root log
    with tempfile.TemporaryDirectory(prefix="mnistlab-int8-") as folder:
        source, prepared, quantized = (
            Path(folder) / name for name in ("float.onnx", "pre.onnx", "int8.onnx")
        )
        source.write_bytes(float_model)
        previous = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                # shape inference and graph folding first (as onnxruntime advises); sympy-free
                quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
                quantize_static(
                    str(prepared),
                    str(quantized),
                    Batches(),
                    quant_format=getattr(QuantFormat, quant_format),
                    per_channel=per_channel,
                    # QOperator's QLinear* kernels take uint8 activations; QDQ is symmetric int8 throughout
                    activation_type=QuantType.QUInt8 if quant_format == "QOperator" else QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                )
        except Exception as error:
            raise QuantizationError(
                f"onnxruntime could not quantize this model to int8 ({type(error).__name__}: {error})"
            ) from error
        finally:
            logging.getLogger().setLevel(previous)
        return quantized.read_bytes()


def predictions(model: bytes, images: np.ndarray) -> np.ndarray:
    """(N, 28, 28[, 1]) uint8 images -> (N,) argmax of the model's outputs (a temperature leaves it as is)."""
    session = _session(model)
    name = session.get_inputs()[0].name
    pixels = np.asarray(images, dtype=np.float32).reshape(len(images), 28, 28, 1) / 255
    return np.concatenate(
        [
            session.run(None, {name: pixels[start : start + EVALUATION_BATCH]})[0].argmax(axis=1)
            for start in range(0, len(pixels), EVALUATION_BATCH)
        ]
    )


def compare(float_model: bytes, int8_model: bytes, images: np.ndarray, labels: np.ndarray) -> Check:
    """Both models on the same test images: accuracies, argmax agreement, sizes."""
    from_float, from_int8 = predictions(float_model, images), predictions(int8_model, images)
    return Check(
        test_images=len(labels),
        float_accuracy=float((from_float == labels).mean()),
        int8_accuracy=float((from_int8 == labels).mean()),
        agreement=float((from_int8 == from_float).mean()),
        float_bytes=len(float_model),
        int8_bytes=len(int8_model),
    )


def with_check(int8_model: bytes, check: Check, dataset: str, temperature: float | None = None) -> bytes:
    """The int8 model with how it was made and checked in its metadata (QUANTIZATION_KEY, JSON), and
    the calibration temperature where one is given (ONNX_TEMPERATURE_KEY, as keras_to_onnx writes it)."""
    import onnx

    from mnistlab.classifier import ONNX_TEMPERATURE_KEY

    proto = onnx.load_from_string(int8_model)
    record = {
        "method": f"onnxruntime quantize_static, {QUANT_FORMAT}, int8, "
        f"{'per channel' if PER_CHANNEL else 'per tensor'}, MinMax",
        "calibration": f"{CALIBRATION_SIZE} {dataset} train images, seed {CALIBRATION_SEED}",
        # the file's own size is left out: recording it would change it (recorded_check reads it off disk)
        "check": {key: value for key, value in asdict(check).items() if key != "int8_bytes"},
    }
    # set_model_props replaces the list: keep the float model's entries (the temperature among them)
    props = {prop.key: prop.value for prop in proto.metadata_props} | {QUANTIZATION_KEY: json.dumps(record)}
    if temperature is not None:
        props[ONNX_TEMPERATURE_KEY] = repr(float(temperature))
    onnx.helper.set_model_props(proto, props)
    return proto.SerializeToString()


def recorded_check(path: str | Path) -> Check | None:
    """The figures quantize_int8 wrote into an int8 file; None for a file without them."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    props = {prop.key: prop.value for prop in proto.metadata_props}
    if QUANTIZATION_KEY not in props:
        return None
    return Check(**json.loads(props[QUANTIZATION_KEY])["check"], int8_bytes=Path(path).stat().st_size)


def _session(model: bytes):
    import onnxruntime

    return onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
