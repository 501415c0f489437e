"""`mnistlab runs`: every run directory listed, sorted, with broken runs shown as such instead of crashing."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from test_report_training import build_trained_run

from mnistlab.errors import MnistlabError
from mnistlab.evaluation.leaderboard import list_runs


def _write_run(runs_dir, name, model, accuracy, seconds, epochs=3, model_file="model.keras"):
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"model": model, "dataset": "mnist", "epochs": epochs}))
    (run_dir / "metrics.json").write_text(
        json.dumps({"test_accuracy": accuracy, "test_loss": 0.1, "train_seconds": seconds, "epochs": epochs})
    )
    (run_dir / model_file).write_bytes(b"PK")  # the leaderboard only checks that the model file is there
    return run_dir


@pytest.fixture
def runs_dir(tmp_path):
    runs = tmp_path / "runs"
    _write_run(runs, "2026-01-02-mlp", "mlp", 0.975, 12.0)
    _write_run(runs, "2026-01-03-fastcnn", "fastcnn", 0.992, 30.5, epochs=5)
    _write_run(runs, "2026-01-01-forest", "forest", 0.969, 8.25, epochs=1, model_file="model.skops")
    unfinished = runs / "2026-01-04-cnn"  # training still running or stopped: no metrics, no model yet
    (unfinished / "checkpoints").mkdir(parents=True)
    (unfinished / "config.json").write_text(json.dumps({"model": "cnn", "dataset": "mnist", "epochs": 9}))
    broken = _write_run(runs, "2026-01-05-logreg", "logreg", 0.92, 3.0)
    (broken / "metrics.json").write_text('{"test_accuracy": 0.9')  # truncated by a crash
    (runs / "notes").mkdir()  # not a run: ignored
    (runs / "README.txt").write_text("my runs")
    return runs


def test_sorted_by_test_accuracy_with_broken_runs_last(runs_dir):
    rows = list_runs(runs_dir)
    assert [row["model"] for row in rows] == ["fastcnn", "mlp", "forest", "cnn", "logreg"]
    assert [row["status"] for row in rows] == ["ok", "ok", "ok", "incomplete", "corrupt"]
    assert rows[0]["test_accuracy"] == 0.992 and rows[0]["train_seconds"] == 30.5 and rows[0]["epochs"] == 5
    assert rows[0]["date"] == "2026-01-03" and rows[0]["path"] == str(runs_dir / "2026-01-03-fastcnn")
    assert rows[3]["problems"] == ["no metrics.json", "no model file"] and rows[3]["epochs"] == 9
    assert rows[4]["problems"] == ["metrics.json: JSONDecodeError"]


def test_other_sort_orders(runs_dir):
    fastest_first = [row["model"] for row in list_runs(runs_dir, sort="train_seconds")]
    assert fastest_first[:3] == ["forest", "mlp", "fastcnn"]
    newest_first = [row["model"] for row in list_runs(runs_dir, sort="date")]
    assert newest_first[:3] == ["fastcnn", "mlp", "forest"]
    by_name = [row["model"] for row in list_runs(runs_dir, sort="model")]
    assert by_name[:3] == ["fastcnn", "forest", "mlp"]
    with pytest.raises(MnistlabError, match="cannot sort runs by 'speed'"):
        list_runs(runs_dir, sort="speed")


def _run_cli(*args, columns: int = 200):
    env = {**os.environ, "COLUMNS": str(columns)}  # by default a wide table: no wrapped cells
    return subprocess.run(
        [sys.executable, "-m", "mnistlab", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_runs_cli_json_and_table(runs_dir):
    result = _run_cli("runs", "--dir", str(runs_dir), "--sort", "train_seconds", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["model"] for row in rows] == ["forest", "mlp", "fastcnn", "cnn", "logreg"]
    assert set(rows[0]) >= {
        "model",
        "dataset",
        "epochs",
        "test_accuracy",
        "train_seconds",
        "date",
        "path",
        "status",
    }

    table = _run_cli("runs", "--dir", str(runs_dir))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    first = next(index for index, line in enumerate(lines) if "fastcnn" in line)
    assert "99.20%" in lines[first]
    assert any("incomplete" in line for line in lines) and any("corrupt" in line for line in lines)

    narrow = _run_cli("runs", "--dir", str(runs_dir), columns=80)  # the path is folded, never cut short
    cells = "".join(line.split("│")[-2].strip() for line in narrow.stdout.splitlines() if line.count("│") > 2)
    for row in rows:
        assert row["path"] in cells


def test_runs_cli_missing_folder_is_one_line(tmp_path):
    result = _run_cli("runs", "--dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_runs_holds_compare_and_still_lists_by_itself(runs_dir):
    helped = _run_cli("runs", "--help")
    assert helped.returncode == 0 and "compare" in helped.stdout and "--sort" in helped.stdout
    listed = _run_cli("runs", "--dir", str(runs_dir), "--json")  # options alone: the leaderboard, as before
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 5
    usage = _run_cli("runs", "compare", str(runs_dir))  # B missing: a usage error, not a traceback
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and "Missing argument" in usage.stderr


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist_dir):
    return build_trained_run(tmp_path_factory.getbasetemp(), mnist_dir)


def test_a_real_training_run_is_listed_complete(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    rows = {row["path"]: row for row in list_runs(trained_run.parent)}
    row = rows[str(trained_run)]
    assert row["status"] == "ok" and row["problems"] == []
    assert (row["model"], row["dataset"], row["epochs"]) == ("mlp", "mnist", 1)
    assert (
        row["test_accuracy"] == metrics["test_accuracy"] and row["train_seconds"] == metrics["train_seconds"]
    )
