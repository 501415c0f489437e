"""Sweeps, ensembles and bench on a real Ray cluster on 127.0.0.1, against the same work done in one process.

One cluster serves the whole module (ray.cluster_utils.Cluster: a head with no CPUs and two worker nodes
of 1 CPU, so every run lands on a worker node and two runs train side by side); the tests shut down only
it. Every run sets threads=1, so that a run computes alike in a Ray worker and in one plain process. The
references are computed once, one after another in a fresh Python process of their own: TensorFlow fixes
its threads at its first op, and other tests in this process may have run one with the default threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mnistlab.evaluation.bench import bench
from mnistlab.training.ensemble import train_ensemble
from mnistlab.training.sweep import sweep

pytestmark = pytest.mark.slow

# The tiny sweep: 2 points x 1 seed, 512 examples, 1 epoch. Every run here leaves out the recipe's scans
# (scans=0): what is tested is where and how runs run, and on a fresh machine each split's scans would
# be made first (2,500 of them, ~10 s of CPU); tests/test_scans.py has runs that make them together.
SWEEP_GRID = {
    "lr": [0.001, 0.003],
    "epochs": [1],
    "train_split": ["train[:512]"],
    "threads": [1],
    "scans": [0],
}
SWEEP_POINTS = {"lr=0.001,seed=0": {"lr": 0.001}, "lr=0.003,seed=0": {"lr": 0.003}}
# The run whose node is removed: long enough to be caught between its first checkpoint and its end.
KILLED_GRID = {
    "epochs": [3],
    "train_split": ["train[:4000]"],
    "threads": [1],
    "keep_checkpoints": [3],
    "scans": [0],
}
# Two tiny fastcnn members: seeds 0 and 1; and the bench's tiny mode.
MEMBERS = {
    "member": "fastcnn",
    "train_split": "train[:512]",
    "epochs": 1,
    "threads": 1,
    "scans": 0,
    "progress": False,
}
TINY_BENCH = {
    "recipes": ["fastcnn+threads=1+scans=0"],
    "seeds": 1,
    "epochs_cap": 1,
    "train_split": "train[:512]",
}

# The references, in one fresh process: plain fastcnn runs (seed 0) into argv[1]/<name>, the ensemble of
# members one after another into argv[1]/ensemble, and the bench report; prints {name: metrics, "bench": ...}
REFERENCES = """
import json, sys
import mnistlab
from mnistlab.evaluation.bench import bench
from mnistlab.training.ensemble import train_ensemble
out, asked = sys.argv[1], json.loads(sys.argv[2])
found = {}
for name, settings in asked["runs"].items():
    found[name] = mnistlab.train("fastcnn", seed=0, out=f"{out}/{name}", progress=False, **settings).metrics
train_ensemble(2, out=f"{out}/ensemble", **asked["members"])
found["bench"] = bench(**asked["bench"]).to_dict()
print(json.dumps(found))
"""


def _first(grid: dict) -> dict:
    return {name: values[0] for name, values in grid.items()}


@pytest.fixture(scope="module")
def references(tmp_path_factory, mnist_dir) -> tuple[Path, dict]:
    """(their folder, {run name: metrics, "bench": the bench report}) of the plain, one-process path."""
    folder = tmp_path_factory.mktemp("references")
    runs = {name: {**_first(SWEEP_GRID), **lr} for name, lr in SWEEP_POINTS.items()}
    runs["killed"] = _first(KILLED_GRID)
    asked = {"runs": runs, "members": MEMBERS, "bench": TINY_BENCH}
    done = subprocess.run(
        [sys.executable, "-c", REFERENCES, str(folder), json.dumps(asked)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return folder, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def cluster():
    """A head node without CPUs on 127.0.0.1; torn down after the module."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture
def two_nodes(cluster):
    """The cluster with exactly two worker nodes of 1 CPU (a test before may have removed some)."""
    while len(cluster.worker_nodes) < 2:
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def test_a_sweep_on_two_nodes_matches_plain_runs(two_nodes, references, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out: the runs land here, wherever the Ray workers run
    result = sweep("fastcnn", SWEEP_GRID, [0], out="ray", engine="ray", address=two_nodes.address)
    assert result.outcomes == {name: "trained" for name in SWEEP_POINTS}
    accuracies = {name: _metrics(tmp_path / "ray" / name)["test_accuracy"] for name in SWEEP_POINTS}
    assert accuracies == {name: references[1][name]["test_accuracy"] for name in SWEEP_POINTS}
    assert len(set(accuracies.values())) == 2  # the grid did change lr


def test_an_ensemble_on_ray_matches_the_one_trained_in_process(two_nodes, references, tmp_path, capsys):
    # 3 members asked for, under a budget no member fits: members 0 and 1 always start (an ensemble has
    # at least 2), member 2 is weighed once the first one has finished, and turned away
    on_ray = train_ensemble(
        3, out=tmp_path / "ray", engine="ray", address=two_nodes.address, budget_minutes=0.001, **MEMBERS
    )
    said = capsys.readouterr().err
    assert "stopping at 2 members: one more would pass the 0.001-minute budget (wall-clock)" in said
    ours, theirs = _metrics(references[0] / "ensemble"), _metrics(on_ray.dir)
    assert theirs["members"] == 2 and not (tmp_path / "ray" / "members" / "2").exists()
    assert theirs["member_test_accuracy"] == ours["member_test_accuracy"]
    assert ours["member_test_accuracy"][0] != ours["member_test_accuracy"][1]  # two seeds, two members
    assert theirs["test_accuracy"] == ours["test_accuracy"]
    assert theirs["members_wall_seconds"] > 0 and "members_wall_seconds" not in ours
    config = json.loads((tmp_path / "ray" / "config.json").read_text())
    assert config["engine"] == "ray" and config["address"] == two_nodes.address  # a resume runs there again
    member = json.loads((tmp_path / "ray" / "members" / "1" / "config.json").read_text())
    assert member["seed"] == 1 and member["engine"] == "local" and member["threads"] == 1


def test_bench_on_ray_measures_the_same_accuracies_as_in_process(two_nodes, references):
    here = references[1]["bench"]
    on_ray = bench(**TINY_BENCH, engine="ray", address=two_nodes.address).to_dict()
    ours, theirs = here["recipes"][0]["runs"][0], on_ray["recipes"][0]["runs"][0]
    assert theirs["test_accuracy"] == ours["test_accuracy"]
    assert [score["test_accuracy"] for score in theirs["timeline"]] == [
        score["test_accuracy"] for score in ours["timeline"]
    ]
    assert theirs["train_seconds"] > 0 and theirs["epochs"] == ours["epochs"] == 1
    assert here["execution"] == {"engine": "local", "workers": 1, "note": None}
    assert on_ray["execution"]["engine"] == "ray" and "include contention" in on_ray["execution"]["note"]


def test_a_run_on_a_removed_node_is_retried_and_resumed(two_nodes, references, tmp_path):
    """One 3-epoch run; once epoch 1 is checkpointed, every worker node is removed and a new one joins; Ray
    runs the task again there, which resumes the run and ends with the metrics of an uninterrupted run."""
    cluster = two_nodes
    folder = tmp_path / "killed"
    outcome: dict = {}

    def run_sweep() -> None:
        outcome.update(
            sweep("fastcnn", KILLED_GRID, [0], out=folder, engine="ray", address=cluster.address).outcomes
        )

    runner = threading.Thread(target=run_sweep)
    runner.start()
    checkpoint = folder / "seed=0" / "checkpoints" / "epoch-0001.keras"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and time.monotonic() < deadline and runner.is_alive():
        time.sleep(0.1)
    assert checkpoint.exists(), "the run never reached its first checkpoint"
    assert not (folder / "seed=0" / "metrics.json").exists(), "the run ended before its node was removed"
    for node in list(cluster.worker_nodes):  # kills their raylets and the worker training the run
        cluster.remove_node(node, allow_graceful=False)
    cluster.add_node(num_cpus=1)  # the retried task waits for a free CPU: this node's
    runner.join(timeout=300)
    assert outcome == {"seed=0": "resumed"}
    assert _metrics(folder / "seed=0")["test_accuracy"] == references[1]["killed"]["test_accuracy"]
