"""A run's ONNX copy: what predicting from a run directory runs, so that a prediction needs no TensorFlow.

    classifier = predicting_classifier("runs/2026-11-23-fastcnn")   # OnnxClassifier of the run's model.onnx
    classifier.predict_proba(digits)    # the run's model and calibration temperature, in onnxruntime
    predicting_classifier("model.keras")                            # anything else: load_classifier's

The copy is the run's model.onnx, the file `mnistlab export RUN` writes. `mnistlab train` writes it as
the run ends (copy_trained_run); when it is missing, or older than model.keras, it is made on first use from
model.keras, converted and checked against Keras on a probe batch (onnx_conversion.keras_to_onnx). Later
predictions load it with onnxruntime alone: no TensorFlow import, which is most of the time of a
one-picture `mnistlab predict`. A model the converter refuses, or
an ONNX file that does not load, is predicted with Keras, as before.
"""

from __future__ import annotations

from pathlib import Path

from mnistlab import reporter
from mnistlab.classifier import Classifier, KerasClassifier, load_classifier, run_classifier
from mnistlab.errors import MnistlabError, ModelFileError
from mnistlab.files import atomic_write_bytes
from mnistlab.recognition.onnx_conversion import keras_to_onnx
from mnistlab.rundir import MODEL_KERAS, MODEL_ONNX, fresh_record, is_run_dir, read_temperature


def fresh_copy(run_dir: Path) -> Path | None:
    """The run's model.onnx where it was written after its model.keras, else None."""
    return fresh_record(run_dir, MODEL_ONNX)


def write_copy(classifier: KerasClassifier) -> Path:
    """Convert a run's Keras model, check it against Keras, write it as the run's model.onnx."""
    data = keras_to_onnx(classifier.model, classifier.temperature)
    return atomic_write_bytes(classifier.run_dir / MODEL_ONNX, data)


def copy_trained_run(run) -> Path | None:
    """Write a just-trained Keras run's ONNX copy from its model still in memory (a training.Run), so that
    `predict`, `read`, `serve` and `evaluate` in later processes need no TensorFlow from the run's first
    use (`mnistlab train` calls it; ~0.5 s). None where the run is not Keras, or the converter refuses the
    model (predict says why on first use, as before)."""
    existing = fresh_copy(run.dir)
    if existing is not None or not (run.dir / MODEL_KERAS).is_file():
        return existing
    classifier = run_classifier("keras", run.model, run.dir)
    classifier.temperature = read_temperature(run.dir)  # fitted as the run ended
    try:
        return write_copy(classifier)
    except (MnistlabError, OSError):
        return None


def predicting_classifier(model) -> Classifier:
    """A run directory with model.keras -> the OnnxClassifier of its copy (made if needed), with the run's
    temperature; the Keras classifier where no copy can be made. Anything else -> load_classifier(model)."""
    if isinstance(model, Classifier) or not Path(model).is_dir() or not is_run_dir(Path(model)):
        return load_classifier(model)
    run_dir = Path(model)
    copy = fresh_copy(run_dir)
    if copy is not None:
        try:
            return load_classifier(copy)
        except ModelFileError as error:  # e.g. truncated by hand: made again below
            reporter.warn(f"remaking {copy}: {error}")
    classifier = load_classifier(run_dir)
    if not isinstance(classifier, KerasClassifier):
        return classifier
    try:
        return load_classifier(write_copy(classifier))
    except (MnistlabError, OSError) as error:  # the converter refuses; a read-only run folder; a full disk
        reporter.warn(f"predicting with Keras: no ONNX copy of {run_dir} ({error})")
        return classifier
