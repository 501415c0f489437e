"""The training config: precedence, validation, flags 1:1 with fields; lr schedules and the smoothed loss."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mnistlab.errors import MnistlabError
from mnistlab.training.config import FIELDS, TrainConfig, config_from_dict, resolve_config


def test_user_value_beats_recipe_beats_default():
    recipe = {"epochs": 7, "lr": 0.01, "schedule": "onecycle"}
    config = resolve_config({"model": "mlp", "lr": 0.5, "batch_size": None}, recipe)
    assert config.lr == 0.5  # the user's value
    assert config.epochs == 7 and config.schedule == "onecycle"  # the recipe's
    assert config.batch_size == TrainConfig().batch_size  # the default (None means "not given")


def test_ints_are_accepted_for_floats_and_saved_configs_round_trip():
    config = resolve_config({"lr": 1, "val_fraction": 0})
    assert config.lr == 1.0 and isinstance(config.lr, float)
    saved = {**config.to_dict(), "versions": {"keras": "3"}, "hardware": {"cores": 2}}
    assert config_from_dict(saved) == config


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epoch": 3}, "unknown setting epoch"),
        ({"optimizer": "adagrad"}, "optimizer='adagrad': choose one of adam"),
        ({"schedule": "step"}, "schedule='step'"),
        ({"precision": "float16"}, "precision='float16'"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 2.5}, "epochs=2.5: expected int"),
        ({"lr": "fast"}, "lr='fast': expected float"),
        ({"batch_size": -1}, "batch_size=-1"),
        ({"warmup": 1.0}, "warmup=1.0"),
        ({"val_fraction": 1.5}, "val_fraction=1.5"),
        ({"val_fraction": 0.1, "val_split": "train[90%:]"}, "either val_split or val_fraction"),
        ({"early_stopping": 2}, "early_stopping needs validation data"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"threads": -2}, "threads=-2"),
        ({"monitor_split": "test[1:2:3]"}, "monitor_split: `test[1:2:3]`: expected `split[start:stop]`"),
        ({"checkpoint_format": "h5"}, "checkpoint_format='h5': choose one of keras, saved_model"),
    ],
)
def test_bad_settings_name_the_problem(settings, message):
    with pytest.raises(MnistlabError, match=message.replace("[", r"\[").replace("(", r"\(")):
        resolve_config(settings)


def test_a_bad_recipe_default_is_caught_too():
    with pytest.raises(MnistlabError, match="unknown recipe default"):
        resolve_config({}, {"learning_rate": 0.1})


def test_every_config_field_is_a_train_flag():
    from mnistlab.cli.training import train_command

    parameters = set(inspect.signature(train_command).parameters)
    assert parameters == set(FIELDS) | {"resume", "allow_code"}  # the two that are not settings


def _train_flags() -> dict:
    """The click parameters of `mnistlab train`, by name, as Typer builds them."""
    import typer

    from mnistlab.cli import app

    return {param.name: param for param in typer.main.get_command(app).commands["train"].params}


def test_each_flag_help_is_the_config_field_help():
    """The help is written once, in TrainConfig's metadata: the CLI shows it as is, with no second copy."""
    flags = _train_flags()
    for name, field in FIELDS.items():
        assert field.metadata["help"].strip(), f"{name} has no help text"
        assert flags[name].help == field.metadata["help"], name
        assert flags[name].default is None, name  # left out: the recipe's value applies
        assert flags[name].opts == ["--" + name.replace("_", "-")], name
    assert flags["progress"].secondary_opts == ["--no-progress"]
    assert flags["batch_size"].show_default == "128" and flags["model"].show_default == "fastcnn"
    assert flags["hidden"].show_default is False  # None: the help says "the model's own"


def test_train_help_lists_every_flag():
    from typer.testing import CliRunner

    from mnistlab.cli import app

    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    flags = {"--" + name.replace("_", "-") for name in FIELDS} | {"--no-progress", "--resume", "--allow-code"}
    for flag in flags:
        assert flag in result.output
    assert "Examples per optimizer step. [default: (128)]" in result.output


def _lr_curve(schedule: str, warmup: float, total_steps: int = 100) -> np.ndarray:
    from mnistlab.training.optimization import make_schedule

    config = resolve_config({"lr": 0.1, "schedule": schedule, "warmup": warmup})
    learning_rate = make_schedule(config, total_steps)
    if isinstance(learning_rate, float):
        return np.full(total_steps, learning_rate)
    return np.array([float(learning_rate(step)) for step in range(total_steps)])


def test_onecycle_warms_up_linearly_then_falls_to_zero():
    curve = _lr_curve("onecycle", warmup=0.2)
    np.testing.assert_allclose(curve[:20], 0.1 * np.arange(1, 21) / 20, rtol=1e-5)  # linear up to the peak
    assert curve.argmax() in (19, 20) and curve.max() == pytest.approx(0.1)
    assert np.all(np.diff(curve[20:]) < 0)  # then straight down
    assert curve[-1] < 0.1 * 0.02  # ~0 at the end


def test_cosine_and_constant_schedules():
    cosine = _lr_curve("cosine", warmup=0.0)
    assert cosine[0] == pytest.approx(0.1) and cosine[50] == pytest.approx(0.05, rel=0.05)
    assert cosine[-1] < 0.1 * 0.01
    np.testing.assert_allclose(_lr_curve("constant", warmup=0.0), 0.1)
    with_warmup = _lr_curve("constant", warmup=0.1)
    assert with_warmup[0] == pytest.approx(0.01) and np.all(with_warmup[10:] == pytest.approx(0.1))


def test_optimizers_are_the_ones_named():
    from mnistlab.training.optimization import make_optimizer

    kinds = {}
    for name in ("adam", "adamw", "sgd", "nesterov", "rmsprop", "nadam"):
        optimizer = make_optimizer(resolve_config({"optimizer": name, "weight_decay": 1e-4}), total_steps=10)
        kinds[name] = optimizer
        assert optimizer.weight_decay == pytest.approx(1e-4)
    assert type(kinds["adamw"]).__name__ == "AdamW" and type(kinds["nadam"]).__name__ == "Nadam"
    assert kinds["nesterov"].nesterov and not kinds["sgd"].nesterov
    assert kinds["sgd"].momentum == pytest.approx(0.9)


def test_label_smoothing_matches_keras_categorical_loss():
    import keras

    from mnistlab.training.optimization import make_loss

    labels = np.array([0, 2, 1])
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]], dtype="float32")
    smoothed = make_loss(resolve_config({"label_smoothing": 0.1}))
    reference = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    expected = float(reference(np.eye(3)[labels], probabilities))
    assert float(smoothed(labels, probabilities)) == pytest.approx(expected, rel=1e-5)
    plain = float(make_loss(resolve_config({}))(labels, probabilities))
    assert plain == pytest.approx(-np.log(probabilities[np.arange(3), labels]).mean(), rel=1e-5)
