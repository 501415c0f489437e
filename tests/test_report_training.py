"""`mnistlab.train` leaves a report.html in every run directory, built from the run's own test predictions.

One real, tiny run (mlp, one epoch on 5% of the training split) is trained once per session; other test
modules import `build_trained_run` to share it.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

import mnistlab


def build_trained_run(folder, mnist_dir):
    """A real run directory written by mnistlab.train (a few seconds on 2 cores)."""
    run_dir = folder / "mlp-run"
    if not (run_dir / "metrics.json").is_file():
        mnistlab.train(
            "mlp",
            epochs=1,
            train_split="train[:5%]",
            data_dir=str(mnist_dir),
            out=str(run_dir),
            progress=False,
        )
    return run_dir


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, mnist_dir):
    return build_trained_run(tmp_path_factory.getbasetemp(), mnist_dir)


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_training_writes_a_self_contained_report(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    html = (trained_run / "report.html").read_text()
    parser = _Images()
    parser.feed(html)
    # confusion matrix, per-class accuracy, calibration, mistakes, their explanations, samples, class
    # distribution; an MLP has no feature maps, and one epoch draws no training curve
    assert len(parser.sources) == 7
    assert "Why the mistakes" in html
    assert all(source.startswith("data:image/png;base64,") for source in parser.sources)
    assert "Feature maps" not in html and "Training curves" not in html
    assert f"{metrics['test_accuracy']:.2%}" in html  # the report agrees with metrics.json
    assert f"{metrics['train_seconds']:.1f} s" in html
    assert "train[:5%]" in html and "Dense" in html
    assert not [path.name for path in trained_run.iterdir() if path.name.startswith(".")]  # no temp files


def test_evaluating_the_run_again_gives_its_recorded_accuracy(trained_run, mnist_dir):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    result = mnistlab.evaluate(trained_run, data_dir=mnist_dir)
    assert result.dataset == "mnist" and result.metrics["n_examples"] == 10_000
    assert result.accuracy == pytest.approx(
        metrics["test_accuracy"], abs=2e-4
    )  # float round-off may flip one
    assert result.loss == pytest.approx(metrics["test_loss"], rel=1e-3)
    assert result.accuracy > 0.75  # one epoch on 3,000 examples
