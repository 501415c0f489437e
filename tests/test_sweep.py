"""`mnistlab sweep`: the grid, the local engine against plain training, and resuming.

(Sweeps on Ray: test_ray.py.)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import MnistlabError
from mnistlab.evaluation.evaluation import write_run_report
from mnistlab.training.engines import RAY_MISSING, check_engine
from mnistlab.training.sweep import SWEEP_FILE, expand_grid, parse_seeds, sweep

# The tiny sweep: 2 points x 1 seed, 512 examples, 1 epoch; threads=1, so that every engine computes alike.
TINY = {"lr": [0.001, 0.003], "epochs": [1], "train_split": ["train[:512]"], "threads": [1]}
NAMES = ["lr=0.001,seed=0", "lr=0.003,seed=0"]


def test_grid_varies_the_first_param_slowest_and_the_seed_fastest():
    points = expand_grid({"lr": [0.001, 0.003], "batch_size": [64, 128], "epochs": [1]}, [0, 1])
    assert [point.name for point in points][:3] == [
        "lr=0.001,batch_size=64,seed=0",
        "lr=0.001,batch_size=64,seed=1",
        "lr=0.001,batch_size=128,seed=0",
    ]
    assert len(points) == 8
    assert points[-1].settings == {"lr": 0.003, "batch_size": 128, "epochs": 1, "seed": 1}
    assert [point.name for point in expand_grid({"epochs": [1]}, [3])] == ["seed=3"]


def test_grid_refuses_what_it_cannot_name_or_repeat():
    with pytest.raises(MnistlabError, match="--seeds"):
        expand_grid({"seed": [1, 2]}, [0])
    with pytest.raises(MnistlabError, match="listed twice"):
        expand_grid({"lr": [0.001, 0.001]}, [0])
    with pytest.raises(MnistlabError, match="cannot name a folder"):
        expand_grid({"data_dir": ["a/b", "c"]}, [0])


def test_seeds_are_read_as_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0-2,9,1") == [0, 1, 2, 9]
    for bad in ("a", "4-1", "1-"):
        with pytest.raises(MnistlabError, match="seeds"):
            parse_seeds(bad)


def test_param_values_are_read_with_the_bench_grammar():
    from mnistlab.cli.sweep import parse_param, parse_setting

    assert parse_param("fastcnn", "lr=0.001,0.003") == ("lr", [0.001, 0.003])
    assert parse_param("fastcnn", "batch_size=64,128") == ("batch_size", [64, 128])
    assert parse_setting("fastcnn", "train_split=train[:2%]") == ("train_split", "train[:2%]")
    with pytest.raises(MnistlabError, match="expected setting=value"):
        parse_param("fastcnn", "lr")


def test_a_bad_setting_fails_before_any_run_starts(tmp_path):
    with pytest.raises(MnistlabError, match="learning rate"):
        sweep("fastcnn", {"lr": [0.001, -1.0]}, [0], out=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_ray_engine_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as when absent
    with pytest.raises(MnistlabError) as caught:
        check_engine("ray", None, 1)
    assert str(caught.value) == RAY_MISSING == "--engine ray needs Ray: pip install 'mnistlab[ray]'"


def _accuracies(folder: Path) -> dict[str, float]:
    return {name: json.loads((folder / name / "metrics.json").read_text())["test_accuracy"] for name in NAMES}


def plain_run(settings: dict, out: Path) -> dict:
    """A plain `mnistlab train` of fastcnn (seed 0) in a fresh process, as the sweep's runs are (threads=1
    cannot be set in a process whose TensorFlow already runs) -> its metrics.json."""
    flags = [part for name, value in settings.items() for part in (f"--{name.replace('_', '-')}", str(value))]
    command = [
        sys.executable,
        "-m",
        "mnistlab",
        "train",
        "--model",
        "fastcnn",
        "--seed",
        "0",
        "--out",
        str(out),
    ]
    done = subprocess.run([*command, *flags], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, mnist_dir) -> Path:
    folder = tmp_path_factory.mktemp("sweeps") / "local"  # with each run's report, as the CLI writes them
    result = sweep("fastcnn", TINY, [0], out=folder, engine="local", report=write_run_report)
    assert result.outcomes == {name: "trained" for name in NAMES}
    return folder


@pytest.mark.slow
def test_local_sweep_runs_are_plain_runs(local_sweep, tmp_path, mnist_dir):
    record = json.loads((local_sweep / SWEEP_FILE).read_text())
    assert [point["name"] for point in record["points"]] == NAMES
    plain = plain_run(
        {"lr": 0.003, "epochs": 1, "train_split": "train[:512]", "threads": 1}, tmp_path / "plain"
    )
    assert plain["test_accuracy"] == _accuracies(local_sweep)["lr=0.003,seed=0"]
    accuracies = _accuracies(local_sweep)
    assert accuracies["lr=0.001,seed=0"] != accuracies["lr=0.003,seed=0"]  # the grid did change lr


@pytest.mark.slow
def test_resume_reuses_finished_runs_and_trains_the_missing(local_sweep, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(local_sweep, folder)
    kept = folder / NAMES[0] / "metrics.json"
    before = kept.stat().st_mtime_ns
    shutil.rmtree(folder / NAMES[1])
    result = sweep(resume=folder, report=write_run_report)
    assert result.outcomes == {NAMES[0]: "reused", NAMES[1]: "trained"}
    assert kept.stat().st_mtime_ns == before
    assert _accuracies(folder) == _accuracies(local_sweep)


@pytest.mark.slow
def test_cli_resume_of_a_finished_sweep_prints_its_leaderboard(local_sweep, capsys):
    stamps = {name: (local_sweep / name / "metrics.json").stat().st_mtime_ns for name in NAMES}
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "--resume", str(local_sweep), "--json"])
    assert exited.value.code in (0, None)
    rows = json.loads(capsys.readouterr().out)
    assert sorted(Path(row["path"]).name for row in rows) == NAMES
    assert all(row["status"] == "ok" for row in rows)
    assert rows[0]["test_accuracy"] == max(_accuracies(local_sweep).values())  # best first
    assert stamps == {name: (local_sweep / name / "metrics.json").stat().st_mtime_ns for name in NAMES}
