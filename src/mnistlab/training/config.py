"""One flat, typed, documented training config. Every setting appears once, here: its default, and its help
text (meaning and unit) in the field's metadata, which `mnistlab train --help` shows as is.

    config = resolve_config({"model": "mlp", "epochs": 3})    # user value > model recipe > default below
    config.batch_size                                         # 128: examples per optimizer step
    FIELDS["batch_size"].metadata["help"]                     # "Examples per optimizer step."
    config.to_dict()                                          # what config.json holds

CLI flags are generated from the fields, 1:1 (`batch_size` <-> `--batch-size`). An unknown key is an error,
and so is a value out of range. The architecture fields (hidden, layers, dropout, ...) default to None,
meaning "the model's own value"; a model that has no such setting refuses it.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mnistlab.errors import MnistlabError, SplitError, setting
from mnistlab.training.engines import ENGINES, GPUS_NEED_RAY

OPTIMIZERS = ("adam", "adamw", "sgd", "nesterov", "rmsprop", "nadam")
SCHEDULES = ("constant", "onecycle", "cosine")
PRECISIONS = ("float32", "bfloat16", "auto")
CHECKPOINT_FORMATS = ("keras", "saved_model")
DEFAULT_MODEL = "fastcnn"


def _setting(default: Any, help_text: str) -> Any:
    """A config field with its help text (meaning and unit), which `mnistlab train --help` shows too."""
    return field(default=default, metadata={"help": help_text})


def _architecture(help_text: str) -> Any:
    """An architecture override: None (unset) keeps the model's own value."""
    return _setting(None, f"Architecture: {help_text} Unset: the model's own (see `mnistlab models --json`).")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. Each field's help (meaning, unit) is in its metadata."""

    # -- what to train on what
    model: str = _setting(
        DEFAULT_MODEL,
        "A zoo name (see `mnistlab models`), a FILE.py defining build_model(input_shape, num_classes) that "
        "returns a keras.Model with softmax outputs, or a FILE.keras to train further.",
    )
    dataset: str = _setting("mnist", "Dataset: mnist | fashion_mnist | kmnist.")
    data_dir: str | None = _setting(
        None, "Folder holding <dataset>/ IDX files. Unset: $MNISTLAB_DATA_DIR, then the cache."
    )
    train_split: str = _setting("train", "Training examples, in tfds split grammar, e.g. 'train[:80%]'.")
    val_split: str | None = _setting(
        None, "Validation examples from the train split, e.g. 'train[80%:]'. Unset: none."
    )
    val_fraction: float = _setting(
        0.0, "Or: hold out this fraction of the train split for validation, at random (seeded); 0: none."
    )
    scans: float = _setting(
        0.0,
        "Add this share of the training digits again as other writers' low-resolution scans (tight, "
        "binarised, stretched, blocky), prepared as a picture to predict is; mnist only; 0: none.",
    )
    # -- optimization
    epochs: int = _setting(5, "Full passes over the train split.")
    batch_size: int = _setting(128, "Examples per optimizer step.")
    lr: float = _setting(1e-3, "Peak learning rate, per step at batch_size.")
    optimizer: str = _setting("adam", "Optimizer: adam | adamw | sgd | nesterov | rmsprop | nadam.")
    momentum: float = _setting(0.9, "Momentum of sgd and nesterov (the other optimizers have their own).")
    weight_decay: float = _setting(0.0, "Decoupled weight decay per step, scaled by lr; 0: none.")
    schedule: str = _setting(
        "constant",
        "Learning rate per step: constant | onecycle (linear up, then linear down to 0) | cosine.",
    )
    warmup: float = _setting(0.0, "Fraction of all steps spent warming the lr up linearly from 0 to lr.")
    label_smoothing: float = _setting(0.0, "Weight (0..1) moved from the true class to all classes evenly.")
    early_stopping: int = _setting(
        0, "Patience: stop after this many epochs without a better val_loss; 0: off. Needs validation data."
    )
    monitor_split: str | None = _setting(
        None,
        "Also score the model on this split after each epoch, e.g. 'test', as history.csv's monitor_loss "
        "and monitor_accuracy: for the curves only; early stopping, the best epoch and the checkpoints "
        "never look at it. Keras models only. Unset: none.",
    )
    budget_minutes: float = _setting(
        0.0,
        "Ensembles: start no member expected to end past this many minutes of training (of wall-clock when "
        "members train outside this process: see --engine, --workers); 0: no limit.",
    )
    # -- speed
    precision: str = _setting(
        "float32",
        "Compute precision: float32 | bfloat16 (Keras mixed_bfloat16: bf16 compute, fp32 weights) | auto "
        "(bfloat16 on CPUs with bf16 instructions, else float32). The saved model computes in float32 "
        "either way.",
    )
    steps_per_execution: int = _setting(
        1, "Optimizer steps per compiled call; more than 1 cuts the Python overhead per batch."
    )
    threads: int = _setting(
        0, "CPU threads for TensorFlow ops (intra- and inter-op); 0: the library default."
    )
    # -- bookkeeping
    seed: int = _setting(0, "One seed for weights, dropout, shuffling and the validation carve-out.")
    keep_checkpoints: int = _setting(
        3, "Checkpoints (one per epoch) kept in <run>/checkpoints; older ones are deleted."
    )
    checkpoint_format: str = _setting(
        "keras",
        "Per-epoch checkpoints: keras (epoch-NNNN.keras, what a resume reads) | saved_model (also a "
        "TensorFlow SavedModel folder epoch-NNNN.saved_model per epoch, for TF Serving and the like).",
    )
    out: str | None = _setting(None, "Run directory. Unset: runs/<YYYY-MM-DD>-<model>[-N].")
    progress: bool = _setting(True, "Show a progress bar per epoch and a summary.")
    # -- ensembles only: where the members train (any other model refuses a value other than the default)
    engine: str = _setting(
        "local",
        "Ensembles only: where members train: local (this process, one after another; fresh processes when "
        "--workers is above 1) | ray (Ray tasks on a new local instance, or the cluster at --address). "
        "Outside this process the budget is wall-clock.",
    )
    workers: int | None = _setting(
        None, "Ensembles only: members trained at a time. Unset: local 1; ray as many as the cluster's CPUs."
    )
    address: str | None = _setting(
        None,
        "Ensembles only, ray: the cluster to join, e.g. 10.0.0.5:6379. Unset: $RAY_ADDRESS, else a new one.",
    )
    cpus_per_run: int = _setting(
        1,
        "Ensembles only, ray: CPUs reserved per member, and its TensorFlow threads unless --threads is set.",
    )
    gpus_per_run: float = _setting(
        0.0,
        "Ensembles only, ray: GPUs reserved per member (0.5: two share one; 0: none, and Ray hides them). "
        "A GPU trains with Keras on JAX: pip install 'mnistlab[gpu]', KERAS_BACKEND=jax.",
    )
    # -- architecture overrides; None: the model's own value, and a model without the setting refuses it
    hidden: int | None = _architecture("units in each hidden Dense layer.")
    layers: int | None = _architecture("number of hidden Dense layers.")
    dropout: float | None = _architecture("dropout rate, 0..1.")
    filters: int | None = _architecture("convolution filters (of the first conv layer).")
    n_estimators: int | None = _architecture("trees in a random forest; networks in an ensemble.")
    max_depth: int | None = _architecture(
        "deepest tree level of a random forest (its own: none, grow until pure)."
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def architecture(self) -> dict[str, Any]:
        """The architecture overrides the user set (not None)."""
        values = {name: getattr(self, name) for name in ARCHITECTURE_FIELDS}
        return {name: value for name, value in values.items() if value is not None}


FIELDS = {field.name: field for field in fields(TrainConfig)}
# how an ensemble's members are run
ENGINE_FIELDS = ("engine", "workers", "address", "cpus_per_run", "gpus_per_run")
ARCHITECTURE_FIELDS = ("hidden", "layers", "dropout", "filters", "n_estimators", "max_depth")
_HINTS = typing.get_type_hints(TrainConfig)


def _check_known(settings: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise MnistlabError(f"unknown {where} {', '.join(unknown)}; known settings: {', '.join(FIELDS)}")


def _coerce(name: str, value: Any) -> Any:
    """Check a value against its field's type; ints are accepted where floats are expected."""
    hint = _HINTS[name]
    allowed = typing.get_args(hint) or (hint,)
    if value is None:
        if type(None) in allowed:
            return None
        raise MnistlabError(f"{name} needs a value, not None")
    if bool in allowed:
        if isinstance(value, bool):
            return value
    elif float in allowed and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif int in allowed and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif str in allowed and isinstance(value, str):
        return value
    expected = " or ".join(t.__name__ for t in allowed if t is not type(None))
    raise MnistlabError(f"{name}={value!r}: expected {expected}")


def _validate(config: TrainConfig) -> None:
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise MnistlabError(message)

    need(
        config.optimizer in OPTIMIZERS,
        f"optimizer={config.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}",
    )
    need(config.schedule in SCHEDULES, f"schedule={config.schedule!r}: choose one of {', '.join(SCHEDULES)}")
    need(
        config.precision in PRECISIONS,
        f"precision={config.precision!r}: choose one of {', '.join(PRECISIONS)}",
    )
    need(config.epochs >= 1, f"epochs={config.epochs}: train for at least 1 epoch")
    need(config.batch_size >= 1, f"batch_size={config.batch_size}: use a positive number of examples")
    need(config.lr > 0, f"lr={config.lr}: the learning rate must be positive")
    need(config.momentum >= 0, f"momentum={config.momentum}: use a value >= 0")
    need(config.weight_decay >= 0, f"weight_decay={config.weight_decay}: use a value >= 0")
    need(0 <= config.warmup < 1, f"warmup={config.warmup}: use a fraction of all steps in [0, 1)")
    need(0 <= config.label_smoothing < 1, f"label_smoothing={config.label_smoothing}: use a value in [0, 1)")
    need(0 <= config.scans <= 1, f"scans={config.scans}: use a share of the training digits in [0, 1]")
    need(
        config.scans == 0 or config.dataset == "mnist",
        f"scans are made of digits, and {config.dataset} has none: set {setting('scans', 0)}",
    )
    need(0 <= config.val_fraction < 1, f"val_fraction={config.val_fraction}: use a fraction in [0, 1)")
    need(
        not (config.val_split and config.val_fraction),
        "set either val_split or val_fraction, not both",
    )
    need(config.early_stopping >= 0, f"early_stopping={config.early_stopping}: patience is >= 0 epochs")
    need(
        config.early_stopping == 0 or bool(config.val_split) or config.val_fraction > 0,
        "early_stopping needs validation data: add --val-fraction 0.1 or --val-split 'train[90%:]'",
    )
    need(config.budget_minutes >= 0, f"budget_minutes={config.budget_minutes}: use >= 0 (0: no limit)")
    need(config.steps_per_execution >= 1, f"steps_per_execution={config.steps_per_execution}: use >= 1")
    need(config.threads >= 0, f"threads={config.threads}: use >= 0 (0: the library default)")
    need(config.engine in ENGINES, f"engine={config.engine!r}: choose one of {', '.join(ENGINES)}")
    need(
        config.workers is None or config.workers >= 1, f"workers={config.workers}: train at least 1 at a time"
    )
    need(config.cpus_per_run >= 1, f"cpus_per_run={config.cpus_per_run}: reserve at least 1 CPU per run")
    need(config.gpus_per_run >= 0, f"gpus_per_run={config.gpus_per_run}: reserve 0 or more GPUs per run")
    need(
        not config.gpus_per_run or config.engine == "ray",
        f"gpus_per_run={config.gpus_per_run}: {GPUS_NEED_RAY}",
    )
    need(
        config.address is None or config.engine == "ray",
        f"address={config.address!r} is a Ray cluster's: add --engine ray",
    )
    need(config.keep_checkpoints >= 1, f"keep_checkpoints={config.keep_checkpoints}: keep at least 1")
    need(
        config.checkpoint_format in CHECKPOINT_FORMATS,
        f"checkpoint_format={config.checkpoint_format!r}: choose one of {', '.join(CHECKPOINT_FORMATS)}",
    )
    if config.monitor_split is not None:
        _check_split("monitor_split", config.monitor_split)
    need(config.seed >= 0, f"seed={config.seed}: use a non-negative integer")
    if config.dropout is not None:
        need(0 <= config.dropout < 1, f"dropout={config.dropout}: use a rate in [0, 1)")
    for name in ("hidden", "layers", "filters", "n_estimators", "max_depth"):
        value = getattr(config, name)
        need(value is None or value >= 1, f"{name}={value}: use a positive number")


def _check_split(name: str, split: str) -> None:
    """A split string must parse (the examples it names are looked up when the data is loaded)."""
    from mnistlab.data.splits import SplitSpec

    try:
        SplitSpec.parse(split)
    except SplitError as error:
        raise MnistlabError(f"{name}: {error}") from None


def resolve_config(
    settings: Mapping[str, Any], recipe_defaults: Mapping[str, Any] | None = None
) -> TrainConfig:
    """Settings the user gave > the model recipe's defaults > the defaults above -> a checked TrainConfig.

    A setting whose value is None counts as not given (except that the user may not unset a recipe value
    this way), so CLI flags that were left out can be passed straight through.
    """
    given = {name: value for name, value in settings.items() if value is not None}
    _check_known(given, "setting")
    recipe = dict(recipe_defaults or {})
    _check_known(recipe, "recipe default")
    if given.get("dataset", "mnist") != "mnist":
        recipe.pop("scans", None)  # a recipe's scans are digits: for mnist only
    values = {**recipe, **given}
    config = TrainConfig(**{name: _coerce(name, value) for name, value in values.items()})
    _validate(config)
    return config


def config_from_dict(saved: Mapping[str, Any]) -> TrainConfig:
    """A config.json dict (with extra "versions"/"hardware" entries) -> TrainConfig, exactly as saved."""
    values = {name: saved[name] for name in FIELDS if name in saved}
    config = TrainConfig(**{name: _coerce(name, value) for name, value in values.items()})
    _validate(config)
    return config
