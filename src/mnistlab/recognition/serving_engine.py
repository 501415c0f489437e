"""Pick the fastest way to run a model for serving: onnxruntime when the model converts, else Keras.

    classifier, engine = serving_classifier("runs/2026-11-23-fastcnn")   # engine: "onnxruntime"
    classifier.predict_proba(digits)                                    # same probabilities, less time

A run directory is served from its ONNX copy (onnx_copy.py: made on first use, so a later `serve` starts
without importing TensorFlow); a bare Keras file is converted to ONNX in memory (checked against Keras,
see onnx_conversion.py). onnxruntime answers one picture several times faster than a Keras call (see
the serving section of benchmarks/RESULTS.md). A model the converter refuses is served by Keras itself.
"""

from __future__ import annotations

from mnistlab import reporter
from mnistlab.classifier import Classifier, KerasClassifier, OnnxClassifier, load_classifier
from mnistlab.recognition.onnx_conversion import ExportError, keras_to_onnx
from mnistlab.recognition.onnx_copy import predicting_classifier

ENGINES = ("auto", "onnxruntime", "keras")


SERVING_THREADS = 1  # per call: requests already run in parallel, and extra threads only contend


def onnx_session(onnx_bytes: bytes, threads: int = SERVING_THREADS):
    """An onnxruntime CPU session; threads=0 lets onnxruntime use every core for each call."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    # Idle worker threads would otherwise spin, burning cores that other requests need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def as_onnx(classifier: Classifier, threads: int = SERVING_THREADS) -> Classifier:
    """A Keras Classifier -> the same model converted and running in onnxruntime (ExportError if not)."""
    return in_session(classifier, keras_to_onnx(classifier.model, classifier.temperature), threads)


def in_session(classifier: Classifier, onnx_bytes: bytes, threads: int) -> OnnxClassifier:
    """`classifier`'s model as ONNX bytes, in a session set up for serving, with its path, run and
    calibration."""
    session = onnx_session(onnx_bytes, threads)
    return OnnxClassifier(
        session, classifier.path, classifier.run_dir, classifier.config, classifier.temperature
    )


def serving_classifier(model, engine: str = "auto", threads: int = SERVING_THREADS) -> tuple[Classifier, str]:
    """A run directory, model file or Classifier -> (classifier to serve with, engine name)."""
    if engine not in ENGINES:
        raise ExportError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    classifier = load_classifier(model) if engine == "keras" else predicting_classifier(model)
    if isinstance(classifier, OnnxClassifier):
        if classifier.path is not None and classifier.path.suffix == ".onnx":  # a file: a serving session
            classifier = in_session(classifier, classifier.path.read_bytes(), threads)
        return classifier, "onnxruntime"
    if not isinstance(classifier, KerasClassifier):
        return classifier, classifier.kind
    if engine == "keras":
        return classifier, "keras"
    try:
        return as_onnx(classifier, threads), "onnxruntime"
    except ExportError as error:
        if engine == "onnxruntime":
            raise
        reporter.warn(f"serving with Keras: {error}")
        return classifier, "keras"
