"""Corruptions and the robustness table: identity at severity 0, stronger with severity, deterministic, mapped
to tfds's mnist_corrupted list, and measured on a real model (a severe corruption costs accuracy)."""

from __future__ import annotations

import numpy as np
import pytest
from test_evaluation import EVAL_SPLIT, build_keras_run

import mnistlab
from mnistlab.classifier import load_classifier
from mnistlab.errors import MnistlabError
from mnistlab.evaluation import robustness
from mnistlab.evaluation.robustness import CORRUPTIONS, SEVERITIES, TFDS_CORRUPTIONS, corrupt

LIMIT = 300  # test digits: enough to see a severe corruption's cost, a few seconds for the tiny CNN


@pytest.fixture(scope="session")
def keras_run(tmp_path_factory, mnist_dir):
    return build_keras_run(tmp_path_factory.getbasetemp() / "keras-run", mnist_dir)


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return mnistlab.load("mnist", split="test[:200]", data_dir=mnist_dir)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_corruption_grows_with_severity_and_is_reproducible(name, digits):
    images = digits["image"]
    assert np.array_equal(corrupt(images, name, 0), images)  # severity 0: the clean images
    changes = []
    for severity in SEVERITIES:
        corrupted = corrupt(images, name, severity, seed=3)
        assert corrupted.shape == images.shape and corrupted.dtype == np.uint8
        assert np.array_equal(corrupted, corrupt(images, name, severity, seed=3))  # same seed, same pixels
        changes.append(np.abs(corrupted.astype(np.int16) - images).mean())  # mean pixel change, 0..255
    assert 0 < changes[0] < changes[2], changes
    assert changes[0] <= changes[1] + 0.5, changes  # nearly monotone (rounding can cost half a level)


def test_random_corruptions_depend_on_the_seed_only(digits):
    images = digits["image"]
    assert not np.array_equal(
        corrupt(images, "impulse_noise", 2, seed=0), corrupt(images, "impulse_noise", 2, 1)
    )
    assert not np.array_equal(corrupt(images, "occlusion", 2, seed=0), corrupt(images, "occlusion", 2, 1))
    # the draws depend on the corruption too, not on the seed alone
    assert not np.array_equal(corrupt(images, "gaussian_noise", 1), corrupt(images, "shot_noise", 1))


def test_the_tfds_mapping_is_complete_and_documented():
    assert len(TFDS_CORRUPTIONS) == 15
    covered = {corruption.tfds for corruption in CORRUPTIONS.values() if corruption.tfds}
    assert covered <= set(TFDS_CORRUPTIONS)
    assert covered >= {"shot_noise", "impulse_noise", "motion_blur", "shear", "scale", "rotate", "brightness"}
    assert covered >= {"translate", "stripe"}
    for name in TFDS_CORRUPTIONS:  # the module's docstring says, for each, which of ours stands for it
        assert f"\n    {name} " in robustness.__doc__, name
    for corruption in CORRUPTIONS.values():
        assert len(corruption.levels) == len(SEVERITIES) and corruption.what


def test_bad_requests_are_clear_errors(digits):
    with pytest.raises(MnistlabError, match="unknown corruption 'fog'"):
        corrupt(digits["image"], "fog", 1)
    with pytest.raises(MnistlabError, match="severity 4"):
        corrupt(digits["image"], "rotate", 4)
    with pytest.raises(MnistlabError, match="--robustness-limit"):
        robustness.subset(digits["label"], 0)


def test_subset_is_a_seeded_sample_of_the_whole_split():
    labels = np.zeros(10000)
    picked = robustness.subset(labels, 2000, seed=0)
    assert len(picked) == 2000 and len(set(picked.tolist())) == 2000
    assert picked.max() > 9000  # not the first rows
    assert np.array_equal(picked, robustness.subset(labels, 2000, seed=0))
    assert len(robustness.subset(labels, None)) == 10000 and len(robustness.subset(labels, 20000)) == 10000


def test_measured_on_a_real_model(keras_run, mnist_dir):
    classifier = load_classifier(keras_run)
    data = mnistlab.load("mnist", split=EVAL_SPLIT, data_dir=mnist_dir)
    images, labels = data["image"], data["label"]
    calls = []
    result = robustness.measure_robustness(
        classifier, images, labels, limit=LIMIT, seed=0, progress=calls.append
    )
    assert calls == list(CORRUPTIONS)
    assert result["examples"] == LIMIT and [row["name"] for row in result["corruptions"]] == list(CORRUPTIONS)
    assert set(result["tfds_not_covered"]) == {
        "glass_blur",
        "fog",
        "spatter",
        "dotted_line",
        "zigzag",
        "canny_edges",
    }

    # clean accuracy: the model's accuracy on exactly the sampled digits, and what severity 0 gives too
    picked = robustness.subset(labels, LIMIT, seed=0)
    clean = np.mean(classifier.predict(images[picked]) == labels[picked])
    assert result["clean_accuracy"] == pytest.approx(clean)
    identity = np.mean(classifier.predict(corrupt(images[picked], "rotate", 0)) == labels[picked])
    assert identity == pytest.approx(clean)

    rows = {row["name"]: row for row in result["corruptions"]}
    for name in ("brightness", "translate", "erode", "rotate"):  # severe: far below clean
        assert rows[name]["accuracy"][2] < clean - 0.2, (name, rows[name]["accuracy"], clean)
    assert all(0.0 <= value <= 1.0 for row in rows.values() for value in row["accuracy"])
    # deterministic: a second measurement is the same table, number for number
    assert robustness.measure_robustness(classifier, images, labels, limit=LIMIT, seed=0) == result


def test_pictures(keras_run, mnist_dir, digits):
    classifier = load_classifier(keras_run)
    result = robustness.measure_robustness(classifier, digits["image"], digits["label"], limit=50)
    heatmap = robustness.robustness_figure(result)
    assert len(heatmap.axes[0].texts) == 4 * len(CORRUPTIONS)  # clean + 3 severities per corruption
    examples = robustness.robustness_examples_figure(digits["image"][0])
    labels = [tick.get_text() for tick in examples.axes[0].get_yticklabels()]
    assert labels == list(CORRUPTIONS)
