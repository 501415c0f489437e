"""`mnistlab evaluate` through the real CLI: --json (in a fresh process), the table and one-line errors (in
this one)."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_support import call_cli, run_cli
from test_report_training import build_trained_run

WIDE = {"COLUMNS": "200"}  # a wide console: no wrapped paths


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist_dir):
    return build_trained_run(tmp_path_factory.getbasetemp(), mnist_dir)


def test_json_is_one_object_with_every_metric(trained_run, mnist_dir, tmp_path):
    run_dir = shutil.copytree(trained_run, tmp_path / "run")  # the evaluation is written into it
    result = run_cli("evaluate", run_dir, "--split", "test[:1000]", "--json", env=WIDE)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert isinstance(document, dict)
    assert document["dataset"] == "mnist" and document["split"] == "test[:1000]"
    assert document["n_examples"] == 1000
    assert 0.7 < document["accuracy"] <= 1 and document["loss"] > 0
    matrix = document["confusion_matrix"]
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == 1000
    assert sum(matrix[i][i] for i in range(10)) == round(document["accuracy"] * 1000)
    assert [row["label"] for row in document["per_class"]] == list(range(10))
    assert set(document["per_class"][0]) >= {"label", "precision", "recall", "f1", "support"}
    assert sum(row["support"] for row in document["per_class"]) == 1000
    assert set(document["macro_avg"]) == {"precision", "recall", "f1"}

    out_dir = run_dir / "eval-test-to-1000"  # the default: inside the run directory
    saved = json.loads((out_dir / "metrics.json").read_text())
    assert saved["confusion_matrix"] == matrix
    assert (out_dir / "report.html").is_file() and (out_dir / "confusion_matrix.png").is_file()


def test_table_output(trained_run, mnist_dir, tmp_path, capsys, monkeypatch):
    from mnistlab.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # a wide console: no wrapped paths
    out_dir = tmp_path / "table"
    with pytest.raises(SystemExit) as done:  # the CLI exits like a program, with status 0
        main(
            [str(part) for part in ("evaluate", trained_run / "model.keras", "--split", "test[:500]")]
            + ["--out", str(out_dir), "--data-dir", str(mnist_dir)]
        )
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert "macro avg" in printed and "accuracy" in printed
    assert f"report: {out_dir / 'report.html'}" in printed
    assert sorted(path.name for path in out_dir.iterdir()) == sorted(
        [
            "metrics.json",
            "probabilities.npy",
            "report.html",
            "reliability.png",
            "confusion_matrix.png",
            "per_class_accuracy.png",
            "misclassified.png",
            "explanations.png",
            "samples.png",
            "class_distribution.png",
        ]  # no training_curves.png: a one-epoch run has no curve to draw (plots.MIN_CURVE_EPOCHS)
    )


def test_robustness_json_table_and_report(trained_run, mnist_dir, tmp_path):
    from mnistlab.evaluation.robustness import CORRUPTIONS

    run_dir = shutil.copytree(trained_run, tmp_path / "run")
    args = ("evaluate", run_dir, "--split", "test[:500]", "--robustness", "--robustness-limit", "100")
    result = call_cli(*args, "--json", env=WIDE)
    assert result.returncode == 0, result.stderr
    robustness = json.loads(result.stdout)["robustness"]
    assert robustness["examples"] == 100 and robustness["seed"] == 0
    assert [row["name"] for row in robustness["corruptions"]] == list(CORRUPTIONS)
    assert all(len(row["accuracy"]) == 3 for row in robustness["corruptions"])
    out_dir = run_dir / "eval-test-to-500"
    assert json.loads((out_dir / "metrics.json").read_text())["robustness"] == robustness
    assert (out_dir / "robustness.png").is_file() and (out_dir / "robustness_examples.png").is_file()
    assert 'id="robustness-table"' in (out_dir / "report.html").read_text()

    table = call_cli(*args, env=WIDE)
    assert table.returncode == 0, table.stderr
    assert "accuracy under corruptions (100 test digits" in table.stdout
    rows = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if line.count("│") == 6}
    assert f"{robustness['corruptions'][0]['accuracy'][2]:.2%}" in rows["gaussian_noise"]
    assert "robustness: jpeg" in table.stderr  # progress, one line per corruption

    bad = call_cli("evaluate", run_dir, "--robustness", "--robustness-limit", "0")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1
    assert "--robustness-limit" in bad.stderr


def test_model_that_does_not_fit_the_dataset_is_one_error_line(tmp_path, mnist_dir, capsys):
    import keras

    from mnistlab.cli import main

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5)])
    model.save(tmp_path / "five.keras")
    with pytest.raises(SystemExit) as done:  # in this process: the --json test above is the subprocess one
        main(["evaluate", str(tmp_path / "five.keras"), "--json", "--data-dir", str(mnist_dir)])
    assert done.value.code == 2
    result = capsys.readouterr()
    assert result.out == ""
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: five.keras predicts 5 classes but mnist has 10 classes (0..9); "
        "use it on the dataset it was trained on"
    ]
    assert "Traceback" not in result.err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["five.keras"]  # nothing half-written
