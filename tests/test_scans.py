"""Training digits made into other writers' low-resolution scans (mnistlab.pictures.scans, config.scans)."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

import mnistlab
from mnistlab import reporter
from mnistlab.classifier import to_float
from mnistlab.errors import MnistlabError
from mnistlab.pictures import scans as scans_module
from mnistlab.pictures.scans import prepared_scans
from mnistlab.training import inputs
from mnistlab.training.config import resolve_config
from mnistlab.training.inputs import training_scans


@pytest.fixture(scope="module")
def digits(mnist_dir):
    part = mnistlab.load("mnist", split="train[:600]", data_dir=str(mnist_dir))
    return part["image"][..., 0], np.asarray(part["label"])


def test_scans_are_the_same_in_one_process_or_several(digits):
    images, _ = digits
    alone, kept_alone = prepared_scans(images[:300], seed=3, processes=1)  # 2 chunks: 250 + 50
    spread, kept_spread = prepared_scans(images[:300], seed=3, processes=2)
    assert np.array_equal(alone, spread) and np.array_equal(kept_alone, kept_spread)
    assert alone.shape == (len(kept_alone), 28, 28) and alone.dtype == np.uint8
    assert len(kept_alone) >= 290 and np.all(np.diff(kept_alone) > 0)  # a faint digit may vanish at 7 px
    again, _ = prepared_scans(images[:50], seed=4)
    assert not np.array_equal(again, alone[: len(again)])  # another seed, other scans


def test_a_scan_is_prepared_like_mnist_but_keeps_its_stretch(digits):
    """Prepared scans sit in MNIST's 20 px box, centred, yet are not the digits they came from: many are
    wider (a 1 stretched to a square stays a bar) and blockier than any MNIST digit."""
    images, _ = digits
    scans, kept = prepared_scans(images[:300], seed=0)
    ink_boxes = [
        (np.ptp(np.flatnonzero(s.max(0) > 50)), np.ptp(np.flatnonzero(s.max(1) > 50))) for s in scans
    ]
    assert max(max(box) for box in ink_boxes) <= 21
    widths = np.array([w / max(h, 1) for w, h in ink_boxes])
    originals = [images[i] for i in kept]
    original_widths = np.array(
        [
            np.ptp(np.flatnonzero(d.max(0) > 50)) / max(np.ptp(np.flatnonzero(d.max(1) > 50)), 1)
            for d in originals
        ]
    )
    assert np.mean(widths > original_widths + 0.2) >= 0.2


def test_training_scans_are_made_once_then_read_from_the_cache(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(tmp_path))
    images, labels = to_float(digits[0][:400]), digits[1][:400]
    made, made_labels = training_scans(images, labels, 0.25)
    assert len(made) == len(made_labels) and 95 <= len(made) <= 100  # a quarter, less any that vanished
    assert len(list((tmp_path / "scans").glob("*.npz"))) == 1

    def no_more(*args, **kwargs):
        raise AssertionError("scans made again although cached")

    monkeypatch.setattr(scans_module, "prepared_scans", no_more)
    cached, cached_labels = training_scans(images, labels, 0.25)
    assert np.array_equal(cached, made) and np.array_equal(cached_labels, made_labels)
    with pytest.raises(AssertionError):  # other digits: another cache entry
        training_scans(images[:200], labels[:200], 0.25)


def test_two_runs_asking_together_make_the_scans_once(digits, tmp_path, monkeypatch):
    """The second asker waits on the first (a lock beside the cache entry), then reads what it made."""
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(tmp_path))
    images, labels = to_float(digits[0][:200]), digits[1][:200]
    said, makers, second = [], [], {}
    monkeypatch.setattr(reporter, "say", said.append)
    make = scans_module.prepared_scans

    def make_while_another_asks(*args, **kwargs):
        makers.append(threading.current_thread().name)
        if len(makers) == 1:
            asker = threading.Thread(target=lambda: second.update(got=training_scans(images, labels, 0.5)))
            asker.start()
            deadline = time.monotonic() + 30
            while not any("waiting for another" in line for line in said):
                assert time.monotonic() < deadline, f"the second asker did not wait: {said}"
                time.sleep(0.01)
            second["thread"] = asker
        return make(*args, **kwargs)

    monkeypatch.setattr(scans_module, "prepared_scans", make_while_another_asks)
    made, made_labels = training_scans(images, labels, 0.5)
    second["thread"].join(timeout=30)
    assert makers == [threading.current_thread().name]  # made once, by the first
    got, got_labels = second["got"]
    assert np.array_equal(got, made) and np.array_equal(got_labels, made_labels)


def test_a_cache_on_a_file_system_without_locks_still_works(digits, tmp_path, monkeypatch):
    import errno
    import fcntl

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fcntl, "flock", no_locks)
    made, made_labels = training_scans(to_float(digits[0][:100]), digits[1][:100], 0.5)
    assert len(made) == len(made_labels) >= 45 and len(list((tmp_path / "scans").glob("*.npz"))) == 1


def test_a_damaged_cache_file_is_made_again(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(tmp_path))
    images, labels = to_float(digits[0][:200]), digits[1][:200]
    made, _ = training_scans(images, labels, 0.5)
    (cached,) = (tmp_path / "scans").glob("*.npz")
    cached.write_bytes(cached.read_bytes()[:100])
    again, _ = training_scans(images, labels, 0.5)
    assert np.array_equal(again, made)


def test_a_cache_that_cannot_be_written_warns_and_goes_on(digits, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(blocked))
    made, made_labels = training_scans(to_float(digits[0][:100]), digits[1][:100], 0.5)
    assert len(made) == len(made_labels) >= 45
    assert "could not keep the scans" in capsys.readouterr().err


def test_scans_are_for_digits_only():
    assert resolve_config({"model": "fastcnn"}, {"scans": 0.5}).scans == 0.5
    fashion = resolve_config({"model": "fastcnn", "dataset": "fashion_mnist"}, {"scans": 0.25})
    assert fashion.scans == 0  # the recipe's scans are dropped: there are no digits to scan
    with pytest.raises(MnistlabError, match="scans are made of digits"):
        resolve_config({"model": "fastcnn", "dataset": "fashion_mnist", "scans": 0.25})
    with pytest.raises(MnistlabError, match=r"scans=1.5"):
        resolve_config({"model": "fastcnn", "scans": 1.5})


def test_a_run_trains_on_its_digits_and_their_scans(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(tmp_path / "cache"))
    seen = {}
    original = inputs.load_training_data

    def recording(config):
        data = original(config)
        seen["labels"], seen["scans"] = data.train_labels, data.scan_examples
        return data

    monkeypatch.setattr(inputs, "load_training_data", recording)
    run = mnistlab.train(
        "fastcnn",
        data_dir=str(mnist_dir),
        train_split="train[:1%]",
        out=str(tmp_path / "run"),
        progress=False,
    )
    metrics = json.loads((run.dir / "metrics.json").read_text())
    config = json.loads((run.dir / "config.json").read_text())
    assert config["scans"] == 0.5 and metrics["train_examples"] == 600
    assert 290 <= metrics["scan_examples"] == seen["scans"] <= 300
    assert len(seen["labels"]) == 600 + seen["scans"]
    # the scans carry their digits' labels: the label counts stay close to the split's
    counts = np.bincount(seen["labels"][600:], minlength=10)
    assert counts.min() >= 5
