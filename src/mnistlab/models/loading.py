"""Load a trained model from a run directory or a model file, safely, behind one small interface.

    clf = load_classifier("runs/2026-11-23-fastcnn")   # or model.keras / model.skops / model.onnx
    probabilities = clf.predict_proba(images)          # images: uint8 (N, 28, 28, 1) -> (N, C) float32

Nothing in a model file is executed: Keras files load with safe_mode=True, skops files load only if
every object they describe is of a type on an exact list (the random forest mnistlab saves, its trees,
numpy arrays and plain containers; never a function), and ONNX graphs are data.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mnistlab.errors import ModelFileError
from mnistlab.rundir import MODEL_FILES, is_run_dir, read_config

# Every type a .skops file from mnistlab holds: the forest, its trees, arrays, numbers and containers.
# Exact names, never prefixes: "builtins." or "numpy." would admit eval and numpy.load, and a function
# stored in a FunctionTransformer runs on every prediction. skops' own defaults trust every
# scikit-learn estimator and numpy ufunc, so the whole file is checked against this list first.
TRUSTED_SKOPS_TYPES = frozenset(
    {
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
        *(f"builtins.{name}" for name in ("dict", "list", "tuple", "str", "int", "float", "bool")),
        "numpy.ndarray",
        *(f"numpy.{name}" for name in ("bool", "bool_", "str_", "float16", "float32", "float64")),
        *(f"numpy.{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)),
    }
)
# How skops stores those objects; function, method and operator nodes are never among them.
TRUSTED_SKOPS_LOADERS = frozenset(
    {"ObjectNode", "TreeNode", "DictNode", "ListNode", "TupleNode", "JsonNode", "TypeNode", "NdArrayNode"}
)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 (or floats already in [0, 1]) -> float32 (N, 28, 28, 1) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32, copy=False)


@dataclass
class Classifier:
    """A trained model of any kind ("keras", "sklearn", "onnx") that maps images to probabilities."""

    kind: str
    model: Any
    path: Path
    run_dir: Path | None = None
    config: dict = field(default_factory=dict)  # the run's config.json, or {} for a bare file

    @property
    def num_classes(self) -> int:
        if self.kind == "keras":
            return int(self.model.output_shape[-1])
        if self.kind == "sklearn":
            return len(self.model.classes_)
        return int(self.model.get_outputs()[0].shape[-1])

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self.kind == "keras":
            return tuple(self.model.input_shape[1:])
        if self.kind == "sklearn":
            return (int(self.model.n_features_in_),)
        return tuple(self.model.get_inputs()[0].shape[1:])

    def predict_proba(self, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Images (N, 28, 28[, 1]) uint8 or float in [0, 1] -> probabilities (N, C) float32."""
        pixels = to_float(images)
        if self.kind == "keras":
            from keras import ops

            outputs = [
                ops.convert_to_numpy(self.model(pixels[i : i + batch_size], training=False))
                for i in range(0, len(pixels), batch_size)
            ]
            probabilities = np.concatenate(outputs) if outputs else np.zeros((0, self.num_classes))
        elif self.kind == "sklearn":
            probabilities = self.model.predict_proba(pixels.reshape(len(pixels), -1))
        else:
            name = self.model.get_inputs()[0].name
            outputs = [
                self.model.run(None, {name: pixels[i : i + batch_size]})[0]
                for i in range(0, len(pixels), batch_size)
            ]
            probabilities = np.concatenate(outputs) if outputs else np.zeros((0, self.num_classes))
        return np.asarray(probabilities, dtype=np.float32)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Images -> predicted labels (N,) int64."""
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)


def _model_file(target: Path) -> tuple[Path, Path | None]:
    """Resolve a run directory or a file to (model file, run directory or None)."""
    if target.is_dir():
        for name in MODEL_FILES:
            if (target / name).is_file():
                return target / name, target
        raise ModelFileError(
            f"{target} holds no {', '.join(MODEL_FILES)}; pass a finished run directory or a model file"
        )
    if not target.exists():
        raise ModelFileError(f"{target} does not exist; pass a run directory or a model file")
    parent = target.parent
    return target, parent if is_run_dir(parent) else None


def _load_keras(path: Path):
    import keras

    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a Keras model file (.keras is a zip archive)")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:
        raise ModelFileError(
            f"{path} could not be loaded as a Keras model ({type(error).__name__}: {error})"
        ) from error


def load_keras_model(path):
    """A .keras file -> keras.Model, loaded with safe_mode=True; a bad file raises ModelFileError."""
    return _load_keras(Path(path))


def skops_types(path: Path) -> set[tuple[str, str]]:
    """Every (type name, skops loader) a .skops file describes, read from its schema (nothing is built)."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RecursionError) as error:
        raise ModelFileError(f"{path} is not a skops model file ({type(error).__name__}: {error})") from None
    found: set[tuple[str, str]] = set()
    pending = [schema]
    while pending:  # iterative: a deeply nested schema cannot exhaust the stack
        node = pending.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add((f"{node.get('__module__')}.{node['__class__']}", str(node.get("__loader__"))))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _load_skops(path: Path):
    import skops.io as sio

    found = skops_types(path)
    refused = sorted(
        name
        for name, loader in found
        if name not in TRUSTED_SKOPS_TYPES or loader not in TRUSTED_SKOPS_LOADERS
    )
    if refused:
        raise ModelFileError(
            f"{path} holds types that a mnistlab model never contains and that could run code "
            f"({', '.join(refused)}); refusing to load it. Load only .skops files made by `mnistlab train`"
        )
    trusted = sorted({name for name, _ in found})  # all on the exact list, checked above
    try:
        return sio.load(path, trusted=trusted)
    except Exception as error:
        raise ModelFileError(f"{path} could not be loaded as a skops model ({error})") from error


def _load_onnx(path: Path):
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ModelFileError(f"{path} is not a valid ONNX model ({error})") from error


_LOADERS = {
    ".keras": ("keras", _load_keras),
    ".skops": ("sklearn", _load_skops),
    ".onnx": ("onnx", _load_onnx),
}


def load_classifier(target) -> Classifier:
    """A run directory or a .keras / .skops / .onnx file -> Classifier."""
    path, run_dir = _model_file(Path(target))
    try:
        kind, loader = _LOADERS[path.suffix]
    except KeyError:
        raise ModelFileError(
            f"{path}: unknown model file type {path.suffix!r}; expected .keras, .skops or .onnx"
        ) from None
    config = read_config(run_dir) if run_dir is not None and is_run_dir(run_dir) else {}
    return Classifier(kind=kind, model=loader(path), path=path, run_dir=run_dir, config=config)
