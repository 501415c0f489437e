"""mnistlab: from "what is MNIST?" to a trained, evaluated, pictured and exported digit recognizer.

    import mnistlab
    ds, info = mnistlab.load("mnist", split="train[:80%]", as_supervised=True, with_info=True)
    run = mnistlab.train("fastcnn", epochs=1)          # a run directory with model, history, report
    result = mnistlab.evaluate(run.dir)                # metrics, confusion matrix, pictures
    mnistlab.predict(run.dir, ["my_digit.jpg"])        # real photos, prepared like MNIST

Heavy libraries (Keras, TensorFlow) load on first use, so `import mnistlab` and the data commands stay fast.
"""

import importlib
import os

from mnistlab.training.allocator import tune_malloc

# TensorFlow's C++ start-up chatter says nothing a user can act on.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Every Keras and TensorFlow import of mnistlab comes after this one: glibc keeps freed tensors for reuse
# instead of unmapping them after every training step (1.7-2x faster training on AVX2 CPUs; allocator.py).
tune_malloc()

__version__ = "0.1.0"

# public name -> "module:attribute", imported on first access
_PUBLIC = {
    "load": "mnistlab.data.load:load",
    "list_datasets": "mnistlab.data.registry:list_datasets",
    "DatasetInfo": "mnistlab.data.info:DatasetInfo",
    "as_dataframe": "mnistlab.data.notebook:as_dataframe",
    "show_examples": "mnistlab.data.notebook:show_examples",
    "get_model": "mnistlab.models.registry:get_model",
    "list_models": "mnistlab.models.registry:list_models",
    "load_classifier": "mnistlab.classifier:load_classifier",
    "evaluate": "mnistlab.evaluation.evaluation:evaluate",
    "predict": "mnistlab.recognition.predict:predict",
    "read": "mnistlab.recognition.read:read",
    "preprocess": "mnistlab.pictures.preprocess:preprocess",
    "explain": "mnistlab.explanation:explain",
    "audit": "mnistlab.evaluation.audit:audit",
    "MnistlabError": "mnistlab.errors:MnistlabError",
}

__all__ = sorted([*_PUBLIC, "train"])


def train(model: str | None = None, **settings):
    """Train `model` (a zoo name, FILE.py or FILE.keras; default fastcnn) with TrainConfig `settings` -> Run.

    Or continue an interrupted run: train(resume="runs/2026-11-23-mlp"). The same as `mnistlab train`: the
    training itself is mnistlab.training.dispatch.train; the run's report.html is written by evaluation.
    """
    from mnistlab.evaluation.evaluation import write_run_report
    from mnistlab.training.dispatch import train as train_run

    return train_run(model, report=write_run_report, **settings)


def __getattr__(name: str):
    try:
        module_name, attribute = _PUBLIC[name].split(":")
    except KeyError:
        raise AttributeError(f"module 'mnistlab' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
