"""`mnistlab sweep`: the grid, the local engine against plain training, resuming, and Ray on two local nodes.

The Ray tests start a real cluster on 127.0.0.1 (ray.cluster_utils.Cluster: a head with no CPUs, so every
run lands on a worker node of 1 CPU) and shut down only that cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import MnistlabError
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
    folder = tmp_path_factory.mktemp("sweeps") / "local"
    result = sweep("fastcnn", TINY, [0], out=folder, engine="local")
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
    result = sweep(resume=folder)
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


@pytest.fixture
def cluster():
    """A head node without CPUs on 127.0.0.1 (runs land on worker nodes the test adds); torn down after."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
def test_ray_sweep_on_two_nodes_matches_the_local_engine(cluster, local_sweep, tmp_path):
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    result = sweep("fastcnn", TINY, [0], out=tmp_path / "ray", engine="ray", address=cluster.address)
    assert result.outcomes == {name: "trained" for name in NAMES}
    assert _accuracies(tmp_path / "ray") == _accuracies(local_sweep)


@pytest.mark.slow
def test_a_run_on_a_removed_node_is_retried_and_resumed(cluster, tmp_path, mnist_dir):
    """One 3-epoch run on node A; once epoch 1 is checkpointed, A is removed and node B joins; Ray runs the
    task again on B, which resumes the run and ends with the metrics of an uninterrupted run."""
    first = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    grid = {"epochs": [3], "train_split": ["train[:6000]"], "threads": [1], "keep_checkpoints": [3]}
    folder = tmp_path / "killed"
    outcome: dict = {}

    def run_sweep() -> None:
        outcome.update(
            sweep("fastcnn", grid, [0], out=folder, engine="ray", address=cluster.address).outcomes
        )

    runner = threading.Thread(target=run_sweep)
    runner.start()
    checkpoint = folder / "seed=0" / "checkpoints" / "epoch-0001.keras"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and time.monotonic() < deadline and runner.is_alive():
        time.sleep(0.1)
    assert checkpoint.exists(), "the run never reached its first checkpoint"
    assert not (folder / "seed=0" / "metrics.json").exists(), "the run ended before its node was removed"
    cluster.remove_node(first, allow_graceful=False)  # kills its raylet and the worker training the run
    cluster.add_node(num_cpus=1)  # the retried task waits for a free CPU: this node's
    runner.join(timeout=300)
    assert outcome == {"seed=0": "resumed"}
    settings = {name: values[0] for name, values in grid.items()}
    plain = plain_run(settings, tmp_path / "plain")
    metrics = json.loads((folder / "seed=0" / "metrics.json").read_text())
    assert metrics["test_accuracy"] == plain["test_accuracy"]
