"""The epoch loop's parts: what `fit` reads each epoch, the variables made before it, the paused collector."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from mnistlab.data.batches import epoch_order
from mnistlab.models.registry import get_model, get_spec
from mnistlab.training.config import resolve_config
from mnistlab.training.loop import build_for_training, epoch_feed, gc_paused
from mnistlab.training.optimization import compile_model


def _arrays(count: int):
    rng = np.random.default_rng(0)
    return rng.random((count, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, count).astype(np.uint8)


def _as_lists(stream) -> list:
    if hasattr(stream, "as_numpy_iterator"):  # a tf.data pipeline (the TensorFlow backend)
        stream = stream.as_numpy_iterator()
    return [(np.asarray(images), np.asarray(labels)) for images, labels in stream]


def test_epoch_feed_gives_the_epochs_batches_in_order():
    images, labels = _arrays(70)
    order = epoch_order(3, 1, len(labels))
    fed = _as_lists(epoch_feed(images, labels, order, 32))
    expected = [(images[order[i : i + 32]], labels[order[i : i + 32]]) for i in (0, 32, 64)]
    assert [len(batch_labels) for _, batch_labels in fed] == [32, 32, 6]
    for (got_images, got_labels), (want_images, want_labels) in zip(fed, expected, strict=True):
        np.testing.assert_array_equal(got_images, want_images)
        np.testing.assert_array_equal(got_labels, want_labels)
        assert got_labels.dtype == labels.dtype


def test_the_training_step_is_traced_once():
    images, labels = _arrays(64)
    model = get_model("fastcnn")
    compile_model(model, resolve_config({"model": "fastcnn"}, get_spec("fastcnn").defaults), total_steps=2)
    traces = []
    step = model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)  # runs once per trace of the step
    build_for_training(model, images, labels)
    model.fit(
        epoch_feed(images, labels, np.arange(64), 32), steps_per_epoch=2, epochs=1, shuffle=False, verbose=0
    )
    assert len(traces) == 1
    assert model.optimizer.iterations.numpy() == 2  # build_for_training itself took no step


def test_gc_paused_restores_the_collector_even_on_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        assert not gc.isenabled()
        raise RuntimeError("interrupted epoch")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector the caller had turned off stays off
    finally:
        gc.enable()


def test_build_for_training_leaves_random_layers_seeds_alone():
    """A resumed run repeats the uninterrupted one only if nothing but training draws random numbers."""
    images, labels = _arrays(4)
    model = get_model("best")  # random rotation, shift, zoom and dropout
    compile_model(model, resolve_config({"model": "best"}, get_spec("best").defaults), total_steps=2)
    seeds = [variable for variable in model.non_trainable_variables if "seed_generator" in variable.path]
    before = [np.array(variable.numpy()) for variable in seeds]
    build_for_training(model, images, labels)
    assert seeds and all(np.array_equal(old, new.numpy()) for old, new in zip(before, seeds, strict=True))
    assert model.optimizer.built
