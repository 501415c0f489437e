"""The label audit (evaluation/audit.py, `mnistlab audit`): folds that never score what they trained on,
cleanlab's ranking, and an end-to-end audit that finds label errors we planted in a copy of MNIST."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from recognition_support import load_benchmark_module

from mnistlab.data.registry import unregister_dataset
from mnistlab.data.splits import SplitSpec
from mnistlab.errors import MnistlabError
from mnistlab.evaluation.audit import ISSUES_FILE, SHEET_FILE, doubted_rows, plan_jobs, rank_issues

PLANTED_EXAMPLES = 4000  # train[:4000] of the MNIST file, 5% of its labels moved (bench_audit.plant)
PLANTED_RATE = 0.05


def rows_of(split: str, size: int) -> set[int]:
    return {
        row
        for part in SplitSpec.parse(split).resolve({"train": size})
        for row in range(part.start, part.stop)
    }


@pytest.mark.parametrize("folds", [2, 3, 4, 7])
def test_train_folds_cover_the_split_once_and_never_score_what_they_trained_on(folds):
    size = 1003  # not a multiple of the folds
    jobs = plan_jobs("train", size, folds, seeds=2)
    assert len(jobs) == 2 * folds and {job.seed for job in jobs} == {0, 1}
    scored = sorted(row for job in jobs if job.seed == 0 for row in range(job.start, job.stop))
    assert scored == list(range(size))  # every example scored exactly once per seed
    for job in jobs:
        trained = rows_of(job.train_split, size)
        assert trained.isdisjoint(range(job.start, job.stop))
        assert trained | set(range(job.start, job.stop)) == set(range(size))


def test_the_test_split_is_scored_by_runs_trained_on_all_of_train():
    jobs = plan_jobs("test", 10000, folds=4, seeds=3)
    assert [(job.train_split, job.seed, job.start, job.stop) for job in jobs] == [
        ("train", seed, 0, 10000) for seed in range(3)
    ]


@pytest.mark.parametrize(("folds", "seeds"), [(1, 1), (0, 2), (4, 0)])
def test_impossible_folds_and_seeds_are_refused_in_one_line(folds, seeds):
    with pytest.raises(MnistlabError, match="folds|seeds"):
        plan_jobs("train", 100, folds, seeds)


def test_ranking_puts_the_labels_the_models_contradict_first():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 50)  # 500 examples, 50 per class
    probabilities = np.full((500, 10), 0.01, np.float32)
    probabilities[np.arange(500), labels] = 0.91
    wrong = rng.choice(500, size=12, replace=False)
    given = labels.copy()
    given[wrong] = (labels[wrong] + 3) % 10  # the models keep seeing the true class
    probabilities[wrong[:6], labels[wrong[:6]]] = 0.99  # six of them very plainly
    probabilities[wrong[:6], given[wrong[:6]]] = 0.001
    issues = rank_issues(probabilities, given, "train")
    assert {issue["file_index"] for issue in issues} == set(wrong.tolist())
    assert {issue["file_index"] for issue in issues[:6]} == set(wrong[:6].tolist())  # most suspicious first
    assert [issue["score"] for issue in issues] == sorted(issue["score"] for issue in issues)
    first = issues[0]
    assert set(first) == {"split", "file_index", "label", "suggested", "score"}
    assert first["label"] == given[first["file_index"]] and first["suggested"] == labels[first["file_index"]]


@pytest.fixture(scope="module")
def planted(mnist_dir, tmp_path_factory):
    """A copy of MNIST train[:3000] with 5% of its labels moved, registered as mnist_planted."""
    bench = load_benchmark_module("bench_audit")
    work = tmp_path_factory.mktemp("planted")
    flipped = bench.plant(mnist_dir, work / "data", PLANTED_EXAMPLES, PLANTED_RATE, seed=0)
    yield bench, work, flipped
    unregister_dataset(bench.PLANTED)


@pytest.fixture(scope="module")
def audited(planted, tmp_path_factory):
    """The train-split audit of mnist_planted: 2 folds, 1 seed (its runs trained once for the module)."""
    from mnistlab.evaluation.audit import audit

    bench, work, flipped = planted
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MNISTLAB_CACHE_DIR", str(work / "cache"))
        found = audit(bench.PLANTED, "train", folds=2, seeds=1, data_dir=work / "data", progress=False,
                      out=work / "audit")  # fmt: skip
        yield found


@pytest.mark.slow
def test_the_audit_finds_planted_label_errors(planted, audited):
    from mnistlab.data.idx import read_idx

    bench, work, flipped = planted
    scores = bench.recovery(audited.issues, flipped)
    # measured for plantings 0 and 1: recall 1.00 and 0.97, within the first 200 ranks 0.90 and 0.91,
    # precision 0.56 and 0.54 (2 folds of 2,000 digits, AVX2 machine)
    assert scores["recall"] >= 0.85 and scores["recall_at_planted"] >= 0.8, scores
    assert scores["precision"] >= 0.4, scores
    labels = read_idx(work / "data" / bench.PLANTED / "train-labels-idx1-ubyte.gz", 1)
    assert all(issue["label"] == labels[issue["file_index"]] for issue in audited.issues)  # file order
    assert json.loads((audited.out / ISSUES_FILE).read_text())["issues"] == audited.issues
    assert (audited.out / SHEET_FILE).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_an_audit_run_again_reuses_its_runs_and_gives_the_same_answer(planted, audited, monkeypatch, capsys):
    from mnistlab.cli import main

    bench, work, _ = planted
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(work / "cache"))
    models = sorted((audited.out / "models").glob("*/model.keras"))
    assert len(models) == 2
    trained_at = [path.stat().st_mtime_ns for path in models]
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:  # Typer exits, with 0 on success
        main(["audit", "--dataset", bench.PLANTED, "--split", "train", "--folds", "2", "--seeds", "1",
              "--data-dir", str(work / "data"), "--out", str(audited.out), "--json"])  # fmt: skip
    assert not stop.value.code
    assert [path.stat().st_mtime_ns for path in models] == trained_at  # finished runs are reused
    assert json.loads(capsys.readouterr().out) == audited.issues  # stdout: the JSON list alone


def test_the_cli_without_cleanlab_says_how_to_install_it(monkeypatch, capsys):
    from mnistlab.cli import main

    monkeypatch.setitem(sys.modules, "cleanlab", None)  # import cleanlab -> ImportError
    with pytest.raises(SystemExit) as stop:
        main(["audit", "--split", "test", "--out", "unused"])
    assert stop.value.code != 0
    [line] = capsys.readouterr().err.splitlines()
    assert line == "error: the label audit needs cleanlab: pip install 'mnistlab[audit]'"


def test_the_cli_refuses_a_split_the_dataset_lacks(capsys, tmp_path):
    from mnistlab.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["audit", "--split", "validation", "--out", str(tmp_path / "a")])
    assert stop.value.code != 0
    [line] = capsys.readouterr().err.splitlines()
    assert "no split 'validation'" in line and "train, test" in line


@pytest.mark.slow
def test_evaluate_sets_the_doubted_labels_aside_and_marks_them(fastcnn_run, mnist_dir, tmp_path):
    import mnistlab
    from mnistlab.evaluation.evaluation import evaluate_to_dir

    in_file_order = mnistlab.load("mnist", split="test", order="idx", data_dir=mnist_dir)
    file_labels = np.asarray(in_file_order["label"])
    doubted = [3, 17, 4000, 9999]  # file indices an audit might name
    issues = [
        {"split": "test", "file_index": index, "label": int(file_labels[index]), "suggested": 0, "score": 0.1}
        for index in doubted
    ]
    audit_dir = tmp_path / "audit"
    audit_dir.mkdir()
    (audit_dir / ISSUES_FILE).write_text(json.dumps({"dataset": "mnist", "split": "test", "issues": issues}))

    evaluation, out = evaluate_to_dir(fastcnn_run, split="test", out_dir=tmp_path / "eval", audit=audit_dir)
    rows = evaluation.doubted
    assert len(rows) == 4
    # the rows are the same pictures as the file indices: tfds order is not the file's order
    np.testing.assert_array_equal(
        np.sort(evaluation.images[rows].reshape(4, -1), axis=0),
        np.sort(in_file_order["image"][doubted].reshape(4, -1), axis=0),
    )
    kept = np.setdiff1d(np.arange(len(evaluation.labels)), rows)
    expected = float(np.mean(evaluation.predictions[kept] == evaluation.labels[kept]))
    aside = json.loads((out / "metrics.json").read_text())["set_aside"]
    assert aside["accuracy"] == pytest.approx(expected) and aside["examples"] == len(kept) == 9996
    assert "doubted labels set aside" in (out / "report.html").read_text()

    with pytest.raises(MnistlabError, match="audits mnist test, not mnist train"):
        doubted_rows(audit_dir, "mnist", "train")
    with pytest.raises(MnistlabError, match="is not an audit's issues.json"):
        doubted_rows(tmp_path / "eval" / "metrics.json", "mnist", "test")
