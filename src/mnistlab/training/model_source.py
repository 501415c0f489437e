"""Where the model to train comes from: a zoo name, a Python file, or a saved .keras file.

    source = model_source("mlp")            # or "my_net.py", or "runs/x/model.keras"
    source.recipe_defaults                  # training settings the zoo recipe was tuned with ({} for files)
    model = source.build((28, 28, 1), 10, {"dropout": 0.3})

A Python file must define

    def build_model(input_shape, num_classes):   # input_shape (28, 28, 1); inputs are float32 in [0, 1]
        return keras.Sequential([...])           # a keras.Model whose outputs are softmax probabilities

The file is imported and run: pass only files you trust. A .keras file is loaded with safe_mode=True
(nothing in it is executed) and trained further with the settings of this run.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mnistlab.classifier import KerasClassifier
from mnistlab.errors import MnistlabError, ModelFileError
from mnistlab.models.registry import get_model, get_spec

BUILD_FUNCTION = "build_model"


@dataclass(frozen=True)
class ModelSource:
    """A recipe for a fresh, untrained (or, for .keras files, pre-trained) model."""

    name: str  # short name for run directories: the zoo name or the file's stem
    kind: str  # "keras" or "sklearn"
    path: Path | None = None  # the .py or .keras file; None for zoo models
    architecture: Mapping[str, Any] = field(default_factory=dict)  # the settings a user may override
    recipe_defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    member_recipe: str | None = None  # an ensemble's member recipe (see ModelSpec); None: one model

    def check_overrides(self, overrides: Mapping[str, Any]) -> None:
        """Architecture settings must be ones this model has (zoo models only)."""
        if not overrides:
            return
        if self.path is not None:
            raise MnistlabError(
                f"{', '.join(sorted(overrides))}: architecture settings apply to zoo models only; "
                f"change them in {self.path} instead"
            )
        unknown = sorted(set(overrides) - set(self.architecture))
        if unknown:
            allowed = ", ".join(sorted(self.architecture)) or "none"
            raise MnistlabError(
                f"model {self.name!r} has no setting {', '.join(unknown)}; its settings are: {allowed}"
            )

    def build(self, input_shape: tuple[int, ...], num_classes: int, overrides: Mapping[str, Any]):
        self.check_overrides(overrides)
        if self.path is None:
            return get_model(self.name, input_shape=input_shape, num_classes=num_classes, **overrides)
        if self.path.suffix == ".py":
            return _build_from_python(self.path, input_shape, num_classes)
        return KerasClassifier.read(self.path)


def model_source(model: str) -> ModelSource:
    """A zoo name or a path to a .py / .keras file -> ModelSource (checked, nothing built yet)."""
    if model.endswith((".py", ".keras")):
        path = Path(model).expanduser().resolve()
        if not path.is_file():
            raise ModelFileError(f"model file {model} does not exist")
        return ModelSource(name=path.stem, kind="keras", path=path, description=f"from {path.name}")
    spec = get_spec(model)
    return ModelSource(
        name=spec.name,
        kind=spec.kind,
        architecture=spec.architecture,
        recipe_defaults=spec.defaults,
        description=spec.description,
        member_recipe=spec.member_recipe,
    )


def _build_from_python(path: Path, input_shape: tuple[int, ...], num_classes: int):
    import keras

    module_name = f"mnistlab_user_model_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ModelFileError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so that classes defined in the file can be found again
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ModelFileError(f"{path} failed to import ({type(error).__name__}: {error})") from error
    build = getattr(module, BUILD_FUNCTION, None)
    if not callable(build):
        raise ModelFileError(
            f"{path} defines no {BUILD_FUNCTION}(input_shape, num_classes) that returns a keras.Model"
        )
    try:
        model = build(tuple(input_shape), num_classes)
    except Exception as error:
        raise ModelFileError(
            f"{path}: {BUILD_FUNCTION}() failed ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{path}: {BUILD_FUNCTION}() returned {type(model).__name__}, not a keras.Model")
    return model
