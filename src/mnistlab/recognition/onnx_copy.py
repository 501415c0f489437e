"""A run's ONNX copy: what predicting from a run directory runs, so that a prediction needs no TensorFlow.

    classifier = predicting_classifier("runs/2026-11-23-fastcnn")   # OnnxClassifier of the run's model.onnx
    classifier.predict_proba(digits)    # the run's model and calibration temperature, in onnxruntime
    predicting_classifier("model.keras")                            # anything else: load_classifier's

The copy is the run's model.onnx, the file `mnistlab export RUN` writes. `mnistlab train` writes it as
the run ends (with_copy); when it is missing, or older than model.keras, it is made on first use from
model.keras, converted and checked against Keras on a probe batch (onnx_conversion.keras_to_onnx). Later
predictions load it with onnxruntime alone: no TensorFlow import, which is most of the time of a
one-picture `mnistlab predict`. A model the converter refuses, or
an ONNX file that does not load, is predicted with Keras, as before.
"""

from __future__ import annotations

from pathlib import Path

from mnistlab import reporter
from mnistlab.classifier import Classifier, KerasClassifier, load_classifier
from mnistlab.errors import MnistlabError, ModelFileError
from mnistlab.files import atomic_write_bytes
from mnistlab.recognition.onnx_conversion import keras_to_onnx
from mnistlab.rundir import MODEL_ONNX, fresh_record, is_run_dir


def fresh_copy(run_dir: Path) -> Path | None:
    """The run's model.onnx where it was written after its model.keras, else None."""
    return fresh_record(run_dir, MODEL_ONNX)


def write_copy(classifier: KerasClassifier) -> Path:
    """Convert a run's Keras model, check it against Keras, write it as the run's model.onnx."""
    data = keras_to_onnx(classifier.model, classifier.temperature)
    return atomic_write_bytes(classifier.run_dir / MODEL_ONNX, data)


def with_copy(write_report):
    """A run's report writer (classifier, probabilities) -> path that then also writes the run's ONNX copy,
    while its Keras model is still in memory (~0.3 s): `predict`, `read`, `serve` and `evaluate` need no
    TensorFlow from the run's first use on. A model the converter refuses is left without a copy, as
    before (predict says why on first use)."""

    def write(classifier: Classifier, probabilities):
        path = write_report(classifier, probabilities)
        if isinstance(classifier, KerasClassifier) and classifier.run_dir is not None:
            try:
                write_copy(classifier)
            except (MnistlabError, OSError):
                pass
        return path

    return write


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
