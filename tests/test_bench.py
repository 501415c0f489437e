"""`mnistlab bench`: the summary arithmetic, and the real command in its tiny mode on real MNIST."""

from __future__ import annotations

import json

import pytest
from cli_support import call_cli

from mnistlab.errors import MnistlabError
from mnistlab.evaluation.bench import (
    EpochScore,
    RecipeRow,
    SeedRun,
    Spread,
    _speedups,
    describe,
    parse_recipe,
)


def _run(seed: int, timeline: list[tuple[float, float]]) -> SeedRun:
    """A finished seed run whose epochs ended at these (cumulative seconds, test accuracy) points."""
    scores = [EpochScore(epoch, seconds, accuracy) for epoch, (seconds, accuracy) in enumerate(timeline, 1)]
    return SeedRun(seed, None, scores[-1].test_accuracy, scores[-1].train_seconds, len(scores), scores)


def test_spread_is_mean_and_sample_std():
    spread = Spread.of([1.0, 2.0, 3.0])
    assert spread.mean == pytest.approx(2.0)
    assert spread.std == pytest.approx(1.0)  # sample std (n - 1), as mean ± std tables use
    assert Spread.of([5.0]).std == 0.0


def test_time_to_accuracy_is_the_first_epoch_at_or_above_the_target():
    run = _run(0, [(2.0, 0.980), (4.0, 0.9905), (6.0, 0.989)])
    assert run.seconds_to(0.99) == 4.0
    assert run.seconds_to(0.98) == 2.0
    assert run.seconds_to(0.995) is None


def test_time_to_needs_every_seed_and_speedups_compare_means():
    fast = RecipeRow("fastcnn", {}, [_run(0, [(2.0, 0.991)]), _run(1, [(4.0, 0.992)])])
    slow = RecipeRow("cnn", {}, [_run(0, [(10.0, 0.985), (20.0, 0.988)]), _run(1, [(10.0, 0.988)])])
    assert slow.time_to(0.988).mean == pytest.approx(15.0)
    assert slow.time_to(0.99) is None  # no seed reached it
    half = RecipeRow("cnn", {}, [_run(0, [(10.0, 0.991)]), _run(1, [(10.0, 0.980)])])
    assert half.time_to(0.99) is None  # one seed never got there: no mean of the lucky ones
    assert half.time_to_text(0.99) == "1/2 seeds" and fast.time_to_text(0.99) == "3.0 ± 1.4"
    speedups = _speedups({"fastcnn": fast, "cnn": slow}, [0.99, 0.987])
    # 0.987: cnn needs 15 s on average, fastcnn 3 s. cnn's final accuracy, 0.988 on average: cnn's whole
    # runs take 15 s, fastcnn's first epochs (0.991, 0.992) get there in 3 s. 0.99: cnn never gets there.
    assert [(s.target, s.recipe, s.baseline, s.ratio, s.basis) for s in speedups] == [
        (0.987, "fastcnn", "cnn", 5.0, "fixed"),
        (0.988, "fastcnn", "cnn", 5.0, "baseline final"),
    ]
    assert describe(speedups[1]) == "fastcnn reaches 98.80% (cnn's final accuracy) 5.0x sooner than cnn"


def test_a_recipe_may_change_training_settings():
    assert parse_recipe("fastcnn") == ("fastcnn", {})
    assert parse_recipe("fastcnn+batch_size=256+lr=0.02+precision=bfloat16") == (
        "fastcnn",
        {"batch_size": 256, "lr": 0.02, "precision": "bfloat16"},
    )
    with pytest.raises(MnistlabError, match="expected NAME\\+setting=value"):
        parse_recipe("fastcnn+bfloat16")


def test_bench_tiny_mode_runs_the_real_command_and_reports_json(mnist_dir, tmp_path):
    result = call_cli(
        "bench", "--recipes", "fastcnn,mlp,fastcnn+batch_size=256", "--seeds", "1", "--epochs-cap", "2",
        "--train-split", "train[:1%]", "--out", tmp_path / "runs", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["versions"]["keras"] and report["hardware"]["cores"] >= 1
    assert report["seeds"] == [0]
    assert report["targets"] == [0.99, 0.982]  # 99%, then the mlp tutorial's own accuracy
    rows = {row["recipe"]: row for row in report["recipes"]}
    assert set(rows) == {"fastcnn", "mlp", "fastcnn+batch_size=256"}
    assert rows["fastcnn+batch_size=256"]["settings"]["batch_size"] == 256
    assert rows["mlp"]["settings"]["batch_size"] == 32  # the tutorial's recipe, not the zoo default
    for row in rows.values():
        run = row["runs"][0]
        epochs = 2 if row["recipe"] == "mlp" else 1  # fastcnn's recipe is 1 epoch, under the cap
        assert run["epochs"] == epochs and row["settings"]["epochs"] == epochs
        assert 0.1 < run["test_accuracy"] <= 1.0 and row["test_accuracy"]["values"] == [run["test_accuracy"]]
        assert run["train_seconds"] > 0 and row["train_seconds"]["std"] == 0.0
        assert [score["epoch"] for score in run["timeline"]] == list(range(1, epochs + 1))
        seconds = [score["train_seconds"] for score in run["timeline"]]
        assert 0 < seconds[0] and seconds == sorted(seconds)  # cumulative training time
        assert seconds[-1] == pytest.approx(run["train_seconds"], abs=0.01)
        # the last epoch's checkpoint, scored outside the run, is the model the run itself scored
        assert run["timeline"][-1]["test_accuracy"] == pytest.approx(run["test_accuracy"], abs=1e-4)
        assert set(row["time_to_accuracy"]) == {"0.990", "0.982"}
        for target, entry in row["time_to_accuracy"].items():
            reached = run["test_accuracy"] >= float(target) or any(
                score["test_accuracy"] >= float(target) for score in run["timeline"]
            )
            assert entry["seeds_reaching"] == int(reached) and ("mean" in entry) == reached
    assert (tmp_path / "runs" / "fastcnn-seed0" / "metrics.json").is_file()
    assert (tmp_path / "runs" / "fastcnn+batch_size-256-seed0" / "config.json").is_file()


def test_bench_refuses_an_unknown_recipe_in_one_line(mnist_dir):
    result = call_cli("bench", "--recipes", "fastcnn,nosuchnet", "--seeds", "1")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown model 'nosuchnet'")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_runs_side_by_side_are_noted_as_sharing_cores():
    from mnistlab.evaluation.bench import _execution

    assert _execution("local", None, (1, 0), cores=2) == {"engine": "local", "workers": 1, "note": None}
    side_by_side = _execution("local", 2, (1, 0), cores=2)
    assert (
        side_by_side["note"]
        == "2 runs at a time shared this machine's 2 cores: the seconds include contention"
    )
    on_ray = _execution("ray", None, (1, 0), cores=2)["note"]
    assert "Ray tasks of 1 CPU, as many" in on_ray and "include contention" in on_ray
    with_gpus = _execution("ray", 4, (2, 0.5), cores=2)["note"]
    assert with_gpus.startswith("Ray tasks of 2 CPU and 0.5 GPU, 4 at a time")


def test_bench_refuses_a_bad_engine_before_any_run(mnist_dir):
    from mnistlab.evaluation.bench import bench

    with pytest.raises(MnistlabError, match="engine='dask': choose one of local, ray"):
        bench(["fastcnn"], 1, engine="dask")
    with pytest.raises(MnistlabError, match="workers=0"):
        bench(["fastcnn"], 1, workers=0)
