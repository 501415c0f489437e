"""Ensembles and bench on the engines: members and measurements as jobs, locally or on Ray, alike in results.

The Ray tests share one real cluster on 127.0.0.1 (ray.cluster_utils.Cluster: a head with no CPUs and two
worker nodes of 1 CPU, so the two members train side by side on different nodes) and shut down only it.
Every run sets threads=1, so that a member computes alike in one process and in a Ray worker. The
in-process references run in a fresh Python process of their own: TensorFlow fixes its threads at its
first op, and other tests in this process may have run one with the default threads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import MnistlabError
from mnistlab.training.config import ENGINE_FIELDS, FIELDS, config_from_dict, resolve_config
from mnistlab.training.engines import Job, run_jobs
from mnistlab.training.plan import configure

# Two tiny fastcnn members: 512 examples, 1 epoch, seeds 0 and 1; and the bench's tiny mode.
TINY = {"member": "fastcnn", "train_split": "train[:512]", "epochs": 1, "threads": 1, "progress": False}
TINY_BENCH = {"recipes": ["fastcnn+threads=1"], "seeds": 1, "epochs_cap": 1, "train_split": "train[:512]"}
# The default path of both, in one fresh process: the ensemble into argv[1], the bench report as JSON.
IN_PROCESS = """
import json, sys
from mnistlab.evaluation.bench import bench
from mnistlab.training.ensemble import train_ensemble
train_ensemble(2, out=sys.argv[1], **json.loads(sys.argv[2]))
print(json.dumps(bench(**json.loads(sys.argv[3])).to_dict()))
"""


def test_a_single_run_refuses_engine_settings_in_one_line(capsys):
    for name, value in (("engine", "ray"), ("workers", 2), ("cpus_per_run", 2)):
        with pytest.raises(MnistlabError, match=f"^{name}: fastcnn trains as one run.*for ensembles"):
            configure("fastcnn", {name: value})
    with pytest.raises(SystemExit) as exited:
        main(["train", "--model", "mlp", "--engine", "ray"])
    assert exited.value.code == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith("error: engine: mlp trains as one run") and len(said.splitlines()) == 1


def test_engine_settings_are_checked_and_old_configs_take_the_defaults():
    with pytest.raises(MnistlabError, match="engine='dask': choose one of local, ray"):
        resolve_config({"model": "ensemble", "engine": "dask"})
    with pytest.raises(MnistlabError, match="add --engine ray"):
        resolve_config({"model": "ensemble", "address": "10.0.0.5:6379"})
    with pytest.raises(MnistlabError, match="workers=0"):
        resolve_config({"model": "ensemble", "workers": 0})
    # a config.json written before these fields existed resumes as before: members in this process
    old = {name: value for name, value in resolve_config({}).to_dict().items() if name not in ENGINE_FIELDS}
    config = config_from_dict(old)
    assert [getattr(config, name) for name in ENGINE_FIELDS] == [
        FIELDS[name].default for name in ENGINE_FIELDS
    ]
    assert config.engine == "local" and config.workers is None


def test_the_wall_clock_budget_weighs_elapsed_time_plus_the_mean_member():
    from mnistlab.training.ensemble import _over_wall_clock_budget

    config = resolve_config({"model": "ensemble", "engine": "ray", "budget_minutes": 1.0})
    assert not _over_wall_clock_budget(config, 30.0, [20.0, 40.0])  # 30 s + 30 s ends at the budget
    assert _over_wall_clock_budget(config, 31.0, [20.0, 40.0])
    assert not _over_wall_clock_budget(config, 59.0, [])  # nothing trained yet: nothing to go by
    unlimited = resolve_config({"model": "ensemble", "engine": "ray"})
    assert not _over_wall_clock_budget(unlimited, 1e6, [1e6])


def test_admit_is_asked_before_each_start_with_the_results_so_far():
    """dict(**kwargs) as the task: a builtin, so the spawned processes need no test module."""
    asked = []

    def admit(job: Job, results: dict) -> bool:
        asked.append((job.name, sorted(results)))
        return len(results) < 2  # the third job is turned away, and with it every later one

    jobs = [Job(str(index), {"index": index}) for index in range(5)]
    results = run_jobs(dict, jobs, engine="local", workers=1, admit=admit)
    assert results == {"0": {"index": 0}, "1": {"index": 1}}
    assert asked == [("0", []), ("1", ["0"]), ("2", ["0", "1"])]


@pytest.fixture(scope="module")
def cluster():
    """A head node without CPUs and two worker nodes of 1 CPU on 127.0.0.1; torn down after the module."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, mnist_dir) -> tuple[Path, dict]:
    """The ensemble (its folder) and the bench report (its JSON) of the default path: members and
    measurements one after another in one process."""
    folder = tmp_path_factory.mktemp("in-process") / "ensemble"
    args = [folder, json.dumps(TINY), json.dumps(TINY_BENCH)]
    done = subprocess.run([sys.executable, "-c", IN_PROCESS, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return folder, json.loads(done.stdout.strip().splitlines()[-1])


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


@pytest.mark.slow
def test_an_ensemble_on_ray_matches_the_one_trained_in_process(cluster, in_process, tmp_path, capsys):
    from mnistlab.training.ensemble import train_ensemble

    # 3 members asked for, under a budget no member fits: members 0 and 1 always start (an ensemble has
    # at least 2), member 2 is weighed once the first one has finished, and turned away
    on_ray = train_ensemble(
        3, out=tmp_path / "ray", engine="ray", address=cluster.address, budget_minutes=0.001, **TINY
    )
    said = capsys.readouterr().err
    assert "stopping at 2 members: one more would pass the 0.001-minute budget (wall-clock)" in said
    ours, theirs = _metrics(in_process[0]), _metrics(on_ray.dir)
    assert theirs["members"] == 2 and not (tmp_path / "ray" / "members" / "2").exists()
    assert theirs["member_test_accuracy"] == ours["member_test_accuracy"]
    assert ours["member_test_accuracy"][0] != ours["member_test_accuracy"][1]  # two seeds, two members
    assert theirs["test_accuracy"] == ours["test_accuracy"]
    assert theirs["members_wall_seconds"] > 0 and "members_wall_seconds" not in ours
    config = json.loads((tmp_path / "ray" / "config.json").read_text())
    assert config["engine"] == "ray" and config["address"] == cluster.address  # a resume runs there again
    member = json.loads((tmp_path / "ray" / "members" / "1" / "config.json").read_text())
    assert member["seed"] == 1 and member["engine"] == "local" and member["threads"] == 1


@pytest.mark.slow
def test_bench_on_ray_measures_the_same_accuracies_as_in_process(cluster, in_process):
    from mnistlab.evaluation.bench import bench

    here = in_process[1]
    on_ray = bench(**TINY_BENCH, engine="ray", address=cluster.address).to_dict()
    ours, theirs = here["recipes"][0]["runs"][0], on_ray["recipes"][0]["runs"][0]
    assert theirs["test_accuracy"] == ours["test_accuracy"]
    assert [score["test_accuracy"] for score in theirs["timeline"]] == [
        score["test_accuracy"] for score in ours["timeline"]
    ]
    assert theirs["train_seconds"] > 0 and theirs["epochs"] == ours["epochs"] == 1
    assert here["execution"] == {"engine": "local", "workers": 1, "note": None}
    assert on_ray["execution"]["engine"] == "ray" and "include contention" in on_ray["execution"]["note"]
