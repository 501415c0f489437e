"""A trained model, whatever its kind: one class per kind owns loading, probabilities, size, layers and fit.

    clf = load_classifier("runs/2026-11-23-fastcnn")    # or model.keras / model.skops / model.onnx
    clf.predict_proba(images)                           # images: uint8 (N, 28, 28[, 1]) -> (N, C) float32
    clf.check_fits("mnist", (28, 28, 1), num_classes=10)  # MnistlabError unless it takes these images
    clf.params, clf.layers()                            # the size and the summary table of the report
    clf.summary()                                       # Keras' model.summary(), or a short layer table

    KerasClassifier(model, path)      # a keras.Model            (model.keras)
    SklearnClassifier(model, path)    # a scikit-learn estimator (model.skops), e.g. the random forest
    OnnxClassifier(session, path)     # an onnxruntime session   (model.onnx)

Nothing in a model file is executed: Keras files load with safe_mode=True, skops files load only if
every object they describe is of a type on an exact list (the random forest mnistlab saves, its trees,
numpy arrays and plain containers; never a function), and ONNX graphs are data.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mnistlab.errors import MnistlabError, ModelFileError
from mnistlab.files import atomic_path, atomic_write_json
from mnistlab.rundir import (
    MODEL_FILES,
    MODEL_KERAS,
    MODEL_ONNX,
    MODEL_SKOPS,
    SUMMARY_FILE,
    fresh_record,
    is_run_dir,
    read_config,
    read_json,
    read_temperature,
)

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
BATCH = 1024  # images per call when predicting


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 (or floats already in [0, 1]) -> float32 (N, 28, 28, 1) in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32, copy=False)


def _batched(run, pixels: np.ndarray, width: int) -> np.ndarray:
    """run(batch) -> (n, C) for each BATCH-sized slice of pixels, stacked; (0, width) for no pixels."""
    outputs = [np.asarray(run(pixels[i : i + BATCH])) for i in range(0, len(pixels), BATCH)]
    return np.concatenate(outputs) if outputs else np.zeros((0, width), dtype=np.float32)


ONNX_TEMPERATURE_KEY = "mnistlab.temperature"  # ONNX metadata: the run's calibration (see load_classifier)


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature scaling of probabilities: softmax(log p / T), float32; T = 1 leaves them as they are."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if temperature == 1.0 or probabilities.size == 0:
        return probabilities
    with np.errstate(divide="ignore"):  # log 0 = -inf stays an impossible class
        logits = np.log(probabilities.astype(np.float64)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


def _same_shape(model_shape: tuple, data_shape: tuple) -> bool:
    """Do the model's input dimensions (None or a name = any size) match the data's?"""
    if len(model_shape) != len(data_shape):
        return False
    return all(not isinstance(m, int) or m == d for m, d in zip(model_shape, data_shape, strict=True))


@dataclass
class Classifier:
    """A trained model that maps images to class probabilities; see the subclasses for each kind."""

    kind: ClassVar[str]
    file_name: ClassVar[str]  # what a run directory calls it

    model: Any
    path: Path
    run_dir: Path | None = None
    config: dict = field(default_factory=dict)  # the run's config.json, or {} for a bare file
    temperature: float = 1.0  # calibration: probabilities are softened (> 1) or sharpened (< 1) by it

    @property
    def num_classes(self) -> int:
        """How many probabilities each prediction holds."""
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple:
        """The shape of one input, without the batch axis (None or a name: any size)."""
        raise NotImplementedError

    @property
    def params(self) -> int | None:
        """Its size: weights of a network, nodes of a forest's trees; None where the file does not say."""
        return None

    def layers(self) -> list[dict]:
        """The model summary: [{name, type, output_shape, params}] per top-level layer."""
        raise NotImplementedError

    def conv_layers(self) -> list:
        """The Keras Conv2D layers whose feature maps can be drawn (none unless a Keras CNN)."""
        return []

    def summary(self, print_fn=print) -> None:
        """Print the model's layers: name, type, output shape and parameters, one line each."""
        rows = [("layer", "type", "output shape", "params")]
        rows += [
            (
                row["name"],
                row["type"],
                row["output_shape"],
                "-" if row["params"] is None else f"{row['params']:,}",
            )
            for row in self.layers()
        ]
        widths = [max(len(str(row[column])) for row in rows) for column in range(4)]
        print_fn(f"{self.kind} model {self.path.name}")
        for row in rows:
            print_fn("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if self.params is not None:
            print_fn(f"total parameters: {self.params:,}")

    def _probabilities(self, pixels: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, images: np.ndarray, num_classes: int | None = None) -> np.ndarray:
        """Images (N, 28, 28[, 1]) uint8 or float in [0, 1] -> probabilities (N, num_classes) float32.

        num_classes (default: the model's own) widens the output where the model knows fewer classes.
        """
        probabilities = with_temperature(self._probabilities(to_float(images)), self.temperature)
        width = num_classes or self.num_classes
        if probabilities.shape[1] == width:
            return probabilities
        full = np.zeros((len(probabilities), width), dtype=np.float32)
        full[:, self._labels()] = probabilities
        return full

    def _labels(self) -> np.ndarray:
        """The class index of each output column."""
        return np.arange(self.num_classes)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Images -> predicted labels (N,) int64."""
        return self.predict_proba(images).argmax(axis=1).astype(np.int64)

    def check_fits(self, dataset: str, image_shape: tuple, num_classes: int) -> None:
        """Raise MnistlabError unless the model takes this dataset's images and predicts its classes."""
        name = self.path.name
        if not self._takes(tuple(image_shape)):
            raise MnistlabError(
                f"{name} takes inputs of shape {tuple(self.input_shape)} but {dataset} images are "
                f"{tuple(image_shape)}; use it on the kind of data it was trained on"
            )
        if not self._predicts(num_classes):
            raise MnistlabError(
                f"{name} predicts {self._classes_text()} but {dataset} has {num_classes} classes "
                f"(0..{num_classes - 1}); "
                "use it on the dataset it was trained on"
            )

    def _predicts(self, num_classes: int) -> bool:
        return self.num_classes == num_classes

    def _classes_text(self) -> str:
        return f"{self.num_classes} classes"

    def _takes(self, image_shape: tuple) -> bool:
        return _same_shape(tuple(self.input_shape), image_shape)

    def save(self, path: Path | None = None) -> Path:
        """Write the model atomically to path (default: its own path) and return the path."""
        raise MnistlabError(f"a {self.kind} model cannot be saved by mnistlab")


class KerasClassifier(Classifier):
    kind = "keras"
    file_name = MODEL_KERAS

    @classmethod
    def read(cls, path: Path):
        import keras

        if not zipfile.is_zipfile(path):
            raise ModelFileError(f"{path} is not a Keras model file (.keras is a zip archive)")
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:
            raise ModelFileError(
                f"{path} could not be loaded as a Keras model ({type(error).__name__}: {error})"
            ) from error

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.input_shape[1:])

    @property
    def params(self) -> int:
        return int(self.model.count_params())

    def layers(self) -> list[dict]:
        return [
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": _output_shape(layer),
                "params": int(layer.count_params()),
            }
            for layer in self.model.layers
        ]

    def summary(self, print_fn=print) -> None:
        """Keras' own model.summary(): layers, output shapes, parameters (trainable or not)."""
        self.model.summary(print_fn=print_fn if print_fn is not print else None)

    def conv_layers(self) -> list:
        import keras

        return [layer for layer in self.model.layers if isinstance(layer, keras.layers.Conv2D)]

    def _probabilities(self, pixels: np.ndarray) -> np.ndarray:
        from keras import ops

        return _batched(
            lambda batch: ops.convert_to_numpy(self.model(batch, training=False)), pixels, self.num_classes
        )

    def save(self, path: Path | None = None) -> Path:
        path = Path(path or self.path)
        with atomic_path(path) as tmp:
            self.model.save(tmp)
        return path


@dataclass(repr=False, eq=False)
class CopiedKerasClassifier(KerasClassifier):
    """A run's Keras model that answers through the run's ONNX copy (model.onnx, converted from it and
    checked against it when made: recognition/onnx_copy.py) and describes itself from the summary its
    report recorded (SUMMARY_FILE): evaluating it imports no TensorFlow, which is most of the time of
    `mnistlab evaluate`. The Keras model is loaded on first use of `.model` (a summary not recorded,
    feature maps of an image not recorded, Keras' own summary(), saving)."""

    copy: Classifier | None = None  # the OnnxClassifier of the run's model.onnx
    recorded: dict = field(default_factory=dict)  # SUMMARY_FILE's {"params", "layers"}, or {}

    @property
    def model(self):
        if self._keras is None:
            self._keras = KerasClassifier.read(self.path)
        return self._keras

    @model.setter
    def model(self, value) -> None:
        self._keras = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, copy={self.copy.path if self.copy else None!r})"

    @property
    def num_classes(self) -> int:
        return self.copy.num_classes

    @property
    def input_shape(self) -> tuple:
        return self.copy.input_shape

    @property
    def params(self) -> int:
        return int(self.recorded["params"]) if "params" in self.recorded else super().params

    def layers(self) -> list[dict]:
        return list(self.recorded["layers"]) if "layers" in self.recorded else super().layers()

    def _probabilities(self, pixels: np.ndarray) -> np.ndarray:
        return self.copy._probabilities(pixels)


def record_summary(classifier: Classifier) -> None:
    """Write a Keras run's SUMMARY_FILE (parameters and layer table) for CopiedKerasClassifier."""
    if isinstance(classifier, KerasClassifier) and classifier.run_dir is not None:
        summary = {"params": classifier.params, "layers": classifier.layers()}
        atomic_write_json(classifier.run_dir / SUMMARY_FILE, summary)


def _output_shape(layer) -> str:
    try:
        return str(tuple(layer.output.shape))
    except (AttributeError, ValueError, TypeError):
        return "?"


class SklearnClassifier(Classifier):
    """A scikit-learn estimator on flat pixels; its classes_ are the labels it saw when fitted."""

    kind = "sklearn"
    file_name = MODEL_SKOPS

    @classmethod
    def read(cls, path: Path):
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
                f"({', '.join(refused)}); refusing to load it. Load only .skops files made by mnistlab"
            )
        trusted = sorted({name for name, _ in found})  # all on the exact list, checked above
        try:
            return sio.load(path, trusted=trusted)
        except Exception as error:
            raise ModelFileError(f"{path} could not be loaded as a skops model ({error})") from error

    @property
    def num_classes(self) -> int:
        return len(self.model.classes_)

    @property
    def input_shape(self) -> tuple:
        return (int(self.model.n_features_in_),)

    @property
    def params(self) -> int | None:
        if hasattr(self.model, "estimators_"):
            return int(
                sum(tree.tree_.node_count for tree in self.model.estimators_ if hasattr(tree, "tree_"))
            )
        if hasattr(self.model, "coef_"):
            return int(self.model.coef_.size + len(getattr(self.model, "intercept_", [])))
        return None

    def layers(self) -> list[dict]:
        shape = f"(None, {self.num_classes})"
        return [
            {
                "name": "estimator",
                "type": type(self.model).__name__,
                "output_shape": shape,
                "params": self.params,
            }
        ]

    def _labels(self) -> np.ndarray:
        classes = np.asarray(self.model.classes_)
        if classes.dtype.kind not in "iu":  # labels that are not class indices fit no dataset
            return np.array([-1])
        return classes.astype(np.int64)

    def _takes(self, image_shape: tuple) -> bool:
        return self.input_shape == (int(np.prod(image_shape)),)  # it sees flat pixels

    def _predicts(self, num_classes: int) -> bool:  # a forest may never have seen some class
        labels = self._labels()
        return len(labels) > 0 and labels.min() >= 0 and labels.max() < num_classes

    def _classes_text(self) -> str:
        shown = ", ".join(str(label) for label in self.model.classes_[:12])
        return f"the labels [{shown}]"

    def _probabilities(self, pixels: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(pixels.reshape(len(pixels), -1))

    def save(self, path: Path | None = None) -> Path:
        import skops.io as sio

        path = Path(path or self.path)
        with atomic_path(path) as tmp:
            sio.dump(self.model, tmp)
        return path


class OnnxClassifier(Classifier):
    """An onnxruntime InferenceSession (an exported Keras model, or the serving copy of one)."""

    kind = "onnx"
    file_name = MODEL_ONNX

    @staticmethod
    def recorded_temperature(session) -> float:
        """The calibration temperature mnistlab wrote into the file's metadata (1.0: none)."""
        try:
            return float(session.get_modelmeta().custom_metadata_map.get(ONNX_TEMPERATURE_KEY, 1.0))
        except ValueError:
            return 1.0

    @classmethod
    def read(cls, path: Path):
        import onnxruntime

        try:
            return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ModelFileError(f"{path} is not a valid ONNX model ({error})") from error

    @property
    def num_classes(self) -> int:
        return int(self.model.get_outputs()[0].shape[-1])

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.get_inputs()[0].shape[1:])

    def layers(self) -> list[dict]:
        ends = [("input", node) for node in self.model.get_inputs()]
        ends += [("output", node) for node in self.model.get_outputs()]
        return [
            {"name": f"{end} {node.name}", "type": node.type, "output_shape": str(node.shape), "params": None}
            for end, node in ends
        ]

    def _probabilities(self, pixels: np.ndarray) -> np.ndarray:
        name = self.model.get_inputs()[0].name
        return _batched(lambda batch: self.model.run(None, {name: batch})[0], pixels, self.num_classes)


KINDS: dict[str, type[Classifier]] = {
    cls.kind: cls for cls in (KerasClassifier, SklearnClassifier, OnnxClassifier)
}
_BY_SUFFIX = {Path(cls.file_name).suffix: cls for cls in KINDS.values()}


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


def load_classifier(target) -> Classifier:
    """A run directory or a .keras / .skops / .onnx file -> its Classifier (a Classifier is kept as is)."""
    if isinstance(target, Classifier):
        return target
    path, run_dir = _model_file(Path(target))
    try:
        cls = _BY_SUFFIX[path.suffix]
    except KeyError:
        raise ModelFileError(
            f"{path}: unknown model file type {path.suffix!r}; expected .keras, .skops or .onnx"
        ) from None
    in_run = run_dir is not None and is_run_dir(run_dir)
    config = read_config(run_dir) if in_run else {}
    model = cls.read(path)
    if in_run and path.name == cls.file_name:
        temperature = read_temperature(run_dir)
    elif cls is OnnxClassifier:  # an export taken out of its run carries its run's temperature
        temperature = OnnxClassifier.recorded_temperature(model)
    else:
        temperature = 1.0
    return cls(model=model, path=path, run_dir=run_dir, config=config, temperature=temperature)


def answering_classifier(target) -> Classifier:
    """load_classifier(target), except for a Keras run directory with a fresh ONNX copy (one written after
    its model.keras): its CopiedKerasClassifier, which predicts through the copy and loads Keras only if
    asked for the model itself."""
    if isinstance(target, Classifier) or not Path(target).is_dir() or not is_run_dir(Path(target)):
        return load_classifier(target)
    run_dir = Path(target)
    copy = fresh_record(run_dir, MODEL_ONNX)  # None unless model.keras is there, the run's model file
    if copy is None:
        return load_classifier(target)
    try:
        onnx_copy = load_classifier(copy)
    except ModelFileError:  # a damaged copy: Keras answers, as before the copy existed
        return load_classifier(target)
    summary = fresh_record(run_dir, SUMMARY_FILE)
    recorded = (read_json(summary)[0] or {}) if summary else {}
    return CopiedKerasClassifier(
        model=None,
        path=run_dir / MODEL_KERAS,
        run_dir=run_dir,
        config=read_config(run_dir),
        temperature=read_temperature(run_dir),
        copy=onnx_copy,
        recorded=recorded,
    )


def run_classifier(kind: str, model, run_dir: Path) -> Classifier:
    """A model trained in memory for run_dir -> its Classifier, at the path a run directory gives it."""
    cls = KINDS[kind]
    return cls(
        model=model, path=Path(run_dir) / cls.file_name, run_dir=Path(run_dir), config=read_config(run_dir)
    )
