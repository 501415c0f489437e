"""Export a trained Keras model for serving elsewhere: ONNX (onnxruntime, any language) or SavedModel.

    from mnistlab.recognition.export import export
    export("runs/2026-11-23-fastcnn", format="onnx")                 # -> runs/2026-11-23-fastcnn/model.onnx
    export("model.keras", format="saved_model", out="digits_savedmodel")

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


def default_target(classifier, format: str) -> Path:
    """In the run directory (model.onnx, saved_model/), else beside the .keras file (NAME.onnx, ...)."""
    if classifier.run_dir is not None:
        return classifier.run_dir / (MODEL_ONNX if format == "onnx" else SAVED_MODEL_DIR)
    if format == "onnx":
        return classifier.path.with_suffix(".onnx")
    return classifier.path.parent / f"{classifier.path.stem}_saved_model"


def export(model, format: str = "onnx", out=None) -> Path:
    """A run directory or .keras file -> the written file (onnx) or folder (saved_model), its path."""
    from mnistlab.classifier import KerasClassifier, OnnxClassifier, load_classifier

    if format not in FORMATS:
        raise ExportError(f"unknown export format {format!r}; choose one of: {', '.join(FORMATS)}")
    if out is not None:
        check_target(Path(out), format)  # before the (slow) model loading
    classifier = load_classifier(model)
    if not isinstance(classifier, KerasClassifier):
        what = "already an ONNX model" if isinstance(classifier, OnnxClassifier) else "a scikit-learn model"
        raise ExportError(
            f"{classifier.path} is {what}; export works on Keras models (.keras files, run directories)"
        )
    target = Path(out) if out is not None else default_target(classifier, format)
    check_target(target, format)
    if format == "onnx":
        return atomic_write_bytes(target, keras_to_onnx(classifier.model, classifier.temperature))
    return write_saved_model(classifier.model, target)


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
