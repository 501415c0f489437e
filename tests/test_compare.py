"""`runs compare`: Wilson intervals, the exact McNemar test, discordant counts on real runs, the saved outputs
reused, one-line errors for runs of different datasets, and the CLI (JSON and the sheet)."""

from __future__ import annotations

import json
import math
import os
import shutil

import numpy as np
import pytest
from cli_support import call_cli
from PIL import Image
from scipy.stats import binomtest
from test_evaluation import build_keras_run

from mnistlab.classifier import load_classifier
from mnistlab.errors import MnistlabError
from mnistlab.evaluation.compare import Comparison, compare_runs, mcnemar_exact, wilson_interval
from mnistlab.evaluation.evaluation import evaluate_classifier, evaluate_to_dir

SPLIT = "test[:1000]"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def keras_run(tmp_path_factory, mnist_dir):
    return build_keras_run(tmp_path_factory.getbasetemp() / "keras-run", mnist_dir)


def _wilson_by_formula(correct: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927), independent of scipy."""
    share = correct / total
    center = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return center - half, center + half


@pytest.mark.parametrize("correct, total", [(9829, 10000), (50, 100), (1000, 1000), (0, 20)])
def test_wilson_interval_matches_the_formula(correct, total):
    low, high = wilson_interval(correct, total)
    expected = _wilson_by_formula(correct, total)
    assert low == pytest.approx(expected[0], abs=1e-9) and high == pytest.approx(expected[1], abs=1e-9)
    assert low <= correct / total <= high


def test_mcnemar_exact_by_hand_and_against_scipy():
    # b = 1, c = 9: p = 2 * P(X <= 1), X ~ Binomial(10, 1/2) = 2 * (1 + 10) / 1024
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(527, 51) == pytest.approx(binomtest(527, 578, 0.5).pvalue)
    assert mcnemar_exact(0, 0) == 1.0  # never disagreeing is no evidence of a difference
    assert mcnemar_exact(5, 5) == 1.0


def _one_hot(classes: np.ndarray, num_classes: int = 10) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[classes]


def test_known_discordant_counts(keras_run, mnist_dir):
    """A wrong on digits 0-4, B wrong on digits 3-22: only A right = 18, only B right = 3, both wrong = 2."""
    classifier = load_classifier(keras_run)
    labels = evaluate_classifier(classifier, split="test[:200]", data_dir=mnist_dir).labels
    a_predicted, b_predicted = labels.copy(), labels.copy()
    a_predicted[0:5] = (labels[0:5] + 1) % 10
    b_predicted[3:23] = (labels[3:23] + 2) % 10
    sides = [
        evaluate_classifier(classifier, split="test[:200]", data_dir=mnist_dir, probabilities=_one_hot(p))
        for p in (a_predicted, b_predicted)
    ]
    comparison = Comparison(a=sides[0], b=sides[1], reused=(False, False))
    result = comparison.to_dict()
    assert (result["only_a_right"], result["only_b_right"]) == (18, 3)
    assert (result["both_right"], result["both_wrong"]) == (177, 2)
    assert comparison.only_a.tolist() == list(range(5, 23)) and comparison.only_b.tolist() == [0, 1, 2]
    assert result["mcnemar_p"] == pytest.approx(binomtest(18, 21, 0.5).pvalue)
    assert result["a"]["accuracy"] == 195 / 200 and result["b"]["accuracy"] == 180 / 200
    assert (result["b"]["ci_low"], result["b"]["ci_high"]) == pytest.approx(_wilson_by_formula(180, 200))


def test_two_real_runs_on_the_same_digits(fastcnn_run, keras_run, mnist_dir, tmp_path):
    comparison = compare_runs(fastcnn_run, keras_run, split=SPLIT, data_dir=mnist_dir)
    result = comparison.to_dict()
    # recomputed from each model's own predictions on the split
    from mnistlab import load

    images, labels = load("mnist", split=SPLIT, as_supervised=True, data_dir=mnist_dir)
    a_right = load_classifier(fastcnn_run).predict(images) == labels
    b_right = load_classifier(keras_run).predict(images) == labels
    only_a, only_b = int(np.sum(a_right & ~b_right)), int(np.sum(~a_right & b_right))
    assert (result["only_a_right"], result["only_b_right"]) == (only_a, only_b)
    assert only_a > only_b  # the full fastcnn beats a CNN fitted on 2,500 digits
    assert result["mcnemar_p"] == pytest.approx(binomtest(only_a, only_a + only_b, 0.5).pvalue)
    assert result["a"]["accuracy"] == pytest.approx(a_right.mean())
    assert result["n_examples"] == 1000 and result["split"] == SPLIT
    assert result["a"]["reused_predictions"] is False

    written = comparison.write(tmp_path / "out")
    assert json.loads(written["comparison"].read_text()) == json.loads(json.dumps(result))
    png = written["sheet"].read_bytes()
    assert png.startswith(PNG_MAGIC)
    with Image.open(written["sheet"]) as sheet:
        assert sheet.width > 500 and len(np.unique(np.asarray(sheet.convert("L")))) > 20


def test_saved_outputs_of_an_evaluation_are_reused(keras_run, mnist_dir, tmp_path):
    run_dir = shutil.copytree(keras_run, tmp_path / "run")
    evaluation, out_dir = evaluate_to_dir(run_dir, split=SPLIT, data_dir=mnist_dir)
    saved = np.load(out_dir / "probabilities.npy")
    np.testing.assert_array_equal(saved, evaluation.probabilities)
    # Saved outputs replaced by "always 1": a comparison that reads them sees that model, not the real one
    np.save(out_dir / "probabilities.npy", _one_hot(np.ones(len(saved), dtype=np.int64)))
    result = compare_runs(run_dir, keras_run, split=SPLIT, data_dir=mnist_dir).to_dict()
    assert result["a"]["reused_predictions"] is True and result["b"]["reused_predictions"] is False
    assert result["a"]["accuracy"] == pytest.approx(np.mean(evaluation.labels == 1))
    (tmp_path / "latest").symlink_to(run_dir, target_is_directory=True)  # the same run, spelt another way
    through_link = compare_runs(tmp_path / "latest", keras_run, split=SPLIT, data_dir=mnist_dir).to_dict()
    assert through_link["a"]["reused_predictions"] is True and through_link["a"]["name"] == "run"
    # Another split than the one saved: evaluated afresh
    other = compare_runs(run_dir, keras_run, split="test[:300]", data_dir=mnist_dir).to_dict()
    assert other["a"]["reused_predictions"] is False and other["a"]["accuracy"] == other["b"]["accuracy"]


def _other_dataset_copy(keras_run, folder):
    run_dir = shutil.copytree(keras_run, folder)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "dataset": "fashion_mnist"}))
    return run_dir


def test_runs_of_different_datasets_are_a_clear_error(keras_run, mnist_dir, tmp_path):
    fashion = _other_dataset_copy(keras_run, tmp_path / "fashion")
    with pytest.raises(MnistlabError, match="different datasets.*mnist.*fashion_mnist"):
        compare_runs(keras_run, fashion, split=SPLIT, data_dir=mnist_dir)


WIDE = {"COLUMNS": "200"}  # a wide console: no wrapped paths


def test_cli_json_table_latest_and_errors(fastcnn_run, keras_run, mnist_dir, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "latest").symlink_to(keras_run, target_is_directory=True)  # as `mnistlab train` points it
    result = call_cli(
        "runs", "compare", fastcnn_run, "runs/latest", "--split", SPLIT, "--json", "--out", "cmp",
        env=WIDE, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)  # stdout holds the JSON object alone
    assert {"a", "b", "only_a_right", "only_b_right", "mcnemar_p", "sheet"} <= set(answer)
    assert answer["b"]["name"] == keras_run.name  # runs/latest resolved to the run it points at
    assert (tmp_path / "cmp" / "disagreements.png").read_bytes().startswith(PNG_MAGIC)

    pair = (str(fastcnn_run), str(keras_run))
    table = call_cli("runs", "compare", *pair, "--split", SPLIT, env=WIDE, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "McNemar" in table.stdout and f"{answer['a']['accuracy']:.2%}" in table.stdout
    beside_a = fastcnn_run.resolve().parent / f"compare-{fastcnn_run.name}-vs-{keras_run.name}"
    assert (beside_a / "comparison.json").is_file()  # the default folder: beside run A

    fashion = _other_dataset_copy(keras_run, tmp_path / "fashion")
    for bad in ([str(keras_run), str(fashion)], [str(keras_run), str(tmp_path / "nowhere")]):
        failed = call_cli("runs", "compare", *bad, "--split", SPLIT, env=WIDE, cwd=tmp_path)
        assert failed.returncode == 2, failed.stderr
        assert failed.stderr.startswith("error: ") and len(failed.stderr.strip().splitlines()) == 1
        assert "Traceback" not in failed.stderr


def test_a_model_name_stands_for_its_newest_finished_run(tmp_path):
    from mnistlab.evaluation.compare import resolve_run

    runs = tmp_path / "runs"
    finished = (("a", "mlp", 100), ("b", "mlp", 300), ("c", "cnn", 200), ("d", "mlp", 0))
    for name, model, finished_at in finished:
        run = runs / name
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"model": model}))
        (run / "model.keras").write_bytes(b"")
        if name != "d":  # d never finished: no metrics.json
            (run / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9}))
            os.utime(run / "metrics.json", (finished_at, finished_at))
    assert resolve_run("mlp", runs) == runs / "b"
    assert resolve_run("cnn", runs) == runs / "c"
    assert resolve_run(runs / "a", runs) == runs / "a"  # a path is taken as it is
    assert str(resolve_run("no-such-thing", runs)) == "no-such-thing"  # the loader reports it
    with pytest.raises(MnistlabError, match="no finished fastcnn run in .*mnistlab train --model fastcnn"):
        resolve_run("fastcnn", runs)
