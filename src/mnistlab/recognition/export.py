"""Export a trained Keras model for serving elsewhere: ONNX (onnxruntime, any language) or SavedModel.

    from mnistlab.recognition.export import export
    export("runs/2026-11-23-fastcnn", format="onnx")                 # -> runs/2026-11-23-fastcnn/model.onnx
    export("model.keras", format="saved_model", out="digits_savedmodel")
    export("runs/2026-11-23-fastcnn", quantize="int8")               # -> .../model.int8.onnx, if it passes

ONNX files take float32 (N, 28, 28, 1) pixels in [0, 1] as input "image" and give "probabilities"
(the model's own; the run's calibration temperature is in the metadata, "mnistlab.temperature", and
applied when mnistlab loads the file); they are checked (onnx.checker, and Keras parity on a probe
batch) before they are written. Both formats are written atomically: a temporary file or folder beside
the target, renamed when complete.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

from mnistlab.errors import setting
from mnistlab.files import atomic_write_bytes
from mnistlab.recognition.onnx_conversion import ExportError, inference_model, keras_to_onnx
from mnistlab.rundir import MODEL_ONNX, SAVED_MODEL_DIR

FORMATS = ("onnx", "saved_model")
QUANTIZATIONS = ("none", "int8")  # none: float32 weights and activations; int8: both quantized
INT8_SUFFIX = ".int8.onnx"  # model.onnx -> model.int8.onnx: both can live in one run directory


def default_target(classifier, format: str, quantize: str = "none") -> Path:
    """In the run directory (model.onnx, saved_model/), else beside the .keras file (NAME.onnx,
    NAME_saved_model/); an int8 file beside the model it is made from (model.int8.onnx, NAME.int8.onnx)."""
    if quantize == "int8":
        return classifier.path.with_suffix(INT8_SUFFIX)
    if classifier.run_dir is not None:
        return classifier.run_dir / (MODEL_ONNX if format == "onnx" else SAVED_MODEL_DIR)
    if format == "onnx":
        return classifier.path.with_suffix(".onnx")
    return classifier.path.parent / f"{classifier.path.stem}_saved_model"


def export(model, format: str = "onnx", out=None, quantize: str = "none") -> Path:
    """A run directory or .keras file -> the written file (onnx) or folder (saved_model), its path.

    quantize="int8" (onnx only) writes the int8 model instead, or raises QuantizationError (nothing
    written) when it does not pass quantize.py's check on the test split. It also takes a float .onnx
    file (e.g. a run's model.onnx), which it quantizes without TensorFlow.
    """
    from mnistlab.classifier import KerasClassifier, OnnxClassifier, load_classifier

    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of: {', '.join(FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantize!r}; choose one of: {', '.join(QUANTIZATIONS)}")
    if quantize != "none" and format != "onnx":
        raise ExportError(
            f"{setting('quantize', quantize)} makes an ONNX file; use it with {setting('format', 'onnx')}"
        )
    if out is not None:
        check_target(Path(out), format)  # before the (slow) model loading
    if quantize == "int8" and isinstance(model, (str, os.PathLike)) and Path(model).is_dir():
        from mnistlab.recognition.onnx_copy import fresh_copy

        # the run's model.onnx, checked against Keras when written: quantized without TensorFlow (4 s, not 14)
        model = fresh_copy(Path(model)) or model
    classifier = load_classifier(model)
    if quantize == "int8" and isinstance(classifier, OnnxClassifier):
        return export_int8(classifier, classifier.path.read_bytes(), out)
    if not isinstance(classifier, KerasClassifier):
        what = "already an ONNX model" if isinstance(classifier, OnnxClassifier) else "a scikit-learn model"
        raise ExportError(
            f"{classifier.path} is {what}; export works on Keras models (.keras files, run directories)"
        )
    target = Path(out) if out is not None else default_target(classifier, format, quantize)
    check_target(target, format)
    if quantize == "int8":
        return export_int8(classifier, keras_to_onnx(classifier.model, classifier.temperature), target)
    if format == "onnx":
        return atomic_write_bytes(target, keras_to_onnx(classifier.model, classifier.temperature))
    return write_saved_model(classifier.model, target)


def export_int8(classifier, float_model: bytes, out=None) -> Path:
    """The classifier's float ONNX model (serialized) -> its int8 file, calibrated and checked on the
    classifier's own dataset (its run's config, else MNIST) and carrying its calibration temperature."""
    from mnistlab.classifier import OnnxClassifier
    from mnistlab.recognition.quantize import quantize_int8, recorded_check

    target = Path(out) if out is not None else default_target(classifier, "onnx", "int8")
    check_target(target, "onnx")
    if isinstance(classifier, OnnxClassifier) and recorded_check(classifier.path) is not None:
        raise ExportError(f"{classifier.path} is already int8; quantize the float model it was made from")
    if target.resolve() == classifier.path.resolve():
        raise ExportError(f"{target} is the model being quantized; choose another {setting('out')}")
    dataset = classifier.config.get("dataset") or "mnist"
    quantize_int8(
        float_model,
        target,
        dataset=dataset,
        data_dir=classifier.config.get("data_dir"),
        temperature=classifier.temperature,
    )
    return target


def check_target(target: Path, format: str) -> None:
    """An ONNX export is one .onnx file (replaced if present); a SavedModel is a new folder."""
    if format == "onnx" and (target.suffix != ".onnx" or target.is_dir()):
        raise ExportError(f"{target}: an ONNX export is one .onnx file; choose another {setting('out')}")
    if format == "saved_model" and target.exists():
        raise ExportError(f"{target} already exists; remove it or choose another {setting('out')}")


def write_saved_model(model, target: Path) -> Path:
    """Keras' tf_saved_model export (inference mode) into a temporary folder, renamed to target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        quiet = io.StringIO()  # Keras prints the artifact's signature; the CLI prints the path instead
        with contextlib.redirect_stdout(quiet):
            inference_model(model).export(str(staging / "model"), format="tf_saved_model", verbose=False)
        os.replace(staging / "model", target)
    except ExportError:
        raise
    except Exception as error:
        raise ExportError(
            f"could not export model {model.name!r} as a SavedModel ({type(error).__name__}: {error})"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
