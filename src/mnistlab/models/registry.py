"""One contract for the model zoo: a short name -> a builder -> a keras.Model or an sklearn estimator.

    from mnistlab.models.registry import get_model, get_spec, list_models
    model = get_model("mlp", dropout=0.3)      # architecture overrides are keyword arguments
    spec = get_spec("fastcnn"); spec.defaults  # the training settings the recipe was tuned with

A model family is one module in this package that calls `register(ModelSpec(...))` at import.
Modules are discovered, so adding a family means adding one file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mnistlab.errors import MnistlabError

INPUT_SHAPE = (28, 28, 1)  # every MNIST-family image: (H, W, C), float32 in [0, 1] at the model input
NUM_CLASSES = 10

# Modules in this package that are machinery, not model families.
_NOT_FAMILIES = {"registry"}


@dataclass(frozen=True)
class ModelSpec:
    """A registered model family.

    build(input_shape, num_classes, **architecture) returns an uncompiled keras.Model (kind "keras")
    or an unfitted sklearn estimator (kind "sklearn").
    """

    name: str
    description: str
    build: Callable[..., Any]
    kind: str = "keras"
    # Test accuracy to expect on full MNIST at the default settings (a fraction, e.g. 0.982).
    expected_accuracy: float | None = None
    # Weights of the Keras model at its default architecture on (28, 28, 1) -> 10 classes, written here so
    # that listing the zoo builds nothing (tests/test_models.py builds each model and compares);
    # None for sklearn, whose size depends on the data.
    params: int | None = None
    # Architecture settings a user may override, with their defaults (e.g. {"hidden": 128, "dropout": 0.2}):
    # build's keyword arguments after (input_shape, num_classes), read from its signature, so that each
    # default is written once, in build.
    architecture: Mapping[str, Any] = field(init=False)
    # Training settings this recipe defaults to (epochs, batch_size, lr, optimizer, schedule, ...);
    # a value the user sets explicitly wins.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # An ensemble's member recipe: its members are trained apart as runs of this recipe, then combined
    # (build() gives the untrained ensemble). None: one model, trained by one fit.
    member_recipe: str | None = None

    def __post_init__(self) -> None:
        settings = list(inspect.signature(self.build).parameters.values())[2:]
        architecture = {setting.name: setting.default for setting in settings}
        if inspect.Parameter.empty in architecture.values():
            raise ValueError(f"model {self.name!r}: every build() setting after num_classes needs a default")
        object.__setattr__(self, "architecture", MappingProxyType(architecture))
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))


_SPECS: dict[str, ModelSpec] = {}
_discovered = False


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _SPECS and _SPECS[spec.name] is not spec:
        raise ValueError(f"model {spec.name!r} is registered twice")
    _SPECS[spec.name] = spec
    return spec


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    package = importlib.import_module("mnistlab.models")
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name not in _NOT_FAMILIES and not module_info.name.startswith("_"):
            importlib.import_module(f"mnistlab.models.{module_info.name}")
    _discovered = True


def list_models() -> list[ModelSpec]:
    """Every registered model family, in registration order of their modules (alphabetical)."""
    _discover()
    return list(_SPECS.values())


def get_spec(name: str) -> ModelSpec:
    _discover()
    try:
        return _SPECS[name]
    except KeyError:
        known = ", ".join(sorted(_SPECS))
        raise MnistlabError(
            f"unknown model {name!r}; choose one of: {known} (or pass a .py or .keras file)"
        ) from None


def get_model(name: str, input_shape=INPUT_SHAPE, num_classes: int = NUM_CLASSES, **overrides):
    """Build a fresh model of family `name`, with architecture overrides such as dropout=0.3."""
    spec = get_spec(name)
    unknown = sorted(set(overrides) - set(spec.architecture))
    if unknown:
        allowed = ", ".join(sorted(spec.architecture)) or "none"
        raise MnistlabError(
            f"model {name!r} has no setting {', '.join(unknown)}; its settings are: {allowed}"
        )
    return spec.build(input_shape, num_classes, **{**spec.architecture, **overrides})


def describe_models() -> list[dict[str, Any]]:
    """One plain dict per registered model: what `mnistlab models` lists (nothing is built or imported
    beyond the zoo's own modules: no Keras, no TensorFlow)."""
    return [
        {
            "name": spec.name,
            "kind": spec.kind,
            "description": spec.description,
            "params": spec.params,
            "expected_accuracy": spec.expected_accuracy,
            "architecture": dict(spec.architecture),
            "defaults": dict(spec.defaults),
        }
        for spec in list_models()
    ]
