"""Engine settings of ensembles and bench, and the local engine's jobs. (On Ray, against one process:
test_ray.py.)"""

from __future__ import annotations

import pytest

from mnistlab.cli import main
from mnistlab.errors import MnistlabError
from mnistlab.training.config import ENGINE_FIELDS, FIELDS, config_from_dict, resolve_config
from mnistlab.training.engines import Job, run_jobs
from mnistlab.training.plan import configure


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
    with pytest.raises(MnistlabError, match="gpus_per_run=1.0: GPUs are reserved per run by Ray; add"):
        resolve_config({"model": "ensemble", "gpus_per_run": 1})
    with pytest.raises(MnistlabError, match="gpus_per_run=-1"):
        resolve_config({"model": "ensemble", "engine": "ray", "gpus_per_run": -1})
    assert resolve_config({"model": "ensemble", "engine": "ray", "gpus_per_run": 0.5}).gpus_per_run == 0.5
    # a config.json written before these fields existed resumes as before: members in this process
    old = {name: value for name, value in resolve_config({}).to_dict().items() if name not in ENGINE_FIELDS}
    config = config_from_dict(old)
    assert [getattr(config, name) for name in ENGINE_FIELDS] == [
        FIELDS[name].default for name in ENGINE_FIELDS
    ]
    assert config.engine == "local" and config.workers is None


def test_gpus_are_reserved_only_on_ray_and_a_cluster_too_small_for_one_run_is_named(capsys):
    from mnistlab.training.engines import _slots

    for command in (["sweep", "--gpus-per-run", "1"], ["bench", "--gpus-per-run", "1"]):
        with pytest.raises(SystemExit) as exited:
            main(command)
        assert exited.value.code == 2
        said = capsys.readouterr().err.strip()
        assert "gpus_per_run=1.0: GPUs are reserved per run by Ray; add --engine ray" in said, said
        assert len(said.splitlines()) == 1
    # how many runs a cluster holds at once: the scarcer of its CPUs and GPUs, per run's reservation
    assert _slots({"CPU": 8.0, "GPU": 2.0}, {"num_cpus": 1, "num_gpus": 0.5}, can_grow=False) == 4
    assert _slots({"CPU": 2.0}, {"num_cpus": 1, "num_gpus": 0}, can_grow=False) == 2
    # our own local instance cannot grow: fail now rather than wait forever ...
    with pytest.raises(MnistlabError, match="^gpus_per_run=1: the Ray cluster has 0 GPUs; join a cluster"):
        _slots({"CPU": 2.0}, {"num_cpus": 1, "num_gpus": 1}, can_grow=False)
    with pytest.raises(MnistlabError, match="^cpus_per_run=4: the Ray cluster has 2 CPUs"):
        _slots({"CPU": 2.0}, {"num_cpus": 4, "num_gpus": 0}, can_grow=False)
    # ... a joined cluster may be an autoscaling one: it is told, and the runs wait there
    assert _slots({"CPU": 2.0}, {"num_cpus": 1, "num_gpus": 1}, can_grow=True) == 1
    assert "gpus_per_run=1: the Ray cluster has 0 GPUs now; the runs wait" in capsys.readouterr().err


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
