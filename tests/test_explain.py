"""Occlusion maps (mnistlab/explanation.py): the arithmetic against a loop, and real models of every kind."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from recognition_support import mnist_split

import mnistlab
from mnistlab import explanation
from mnistlab.errors import MnistlabError
from mnistlab.explanation import explain, origins, overlay, overlay_png, patch_masks
from mnistlab.recognition.onnx_copy import predicting_classifier

BOX = (slice(8, 11), slice(15, 19))  # rows 8-10, columns 15-18: not aligned with the 2-px patch grid


class BoxModel:
    """Two classes: p(1) = the mean ink in BOX (0..1), p(0) = the rest. Counts its predict_proba calls."""

    def __init__(self):
        self.calls = []  # batch size of each call

    def predict_proba(self, images):
        images = np.asarray(images, dtype=np.float32)[..., 0] / 255  # (N, 28, 28)
        self.calls.append(len(images))
        ink = images[:, BOX[0], BOX[1]].mean(axis=(1, 2))
        return np.stack([1 - ink, ink], axis=1)


def loop_explanation(model, image: np.ndarray, label: int) -> np.ndarray:
    """The definition, one patch at a time: the mean drop of p(label) over the patches covering a pixel."""
    before = model.predict_proba(image[None, ..., None])[0, label]
    total, covering = np.zeros((28, 28)), np.zeros((28, 28))
    for top in origins(28):
        for left in origins(28):
            hidden = image.copy()
            hidden[top : top + 4, left : left + 4] = 0
            total[top : top + 4, left : left + 4] += (
                before - model.predict_proba(hidden[None, ..., None])[0, label]
            )
            covering[top : top + 4, left : left + 4] += 1
    return total / covering


@pytest.fixture(scope="module")
def digits(mnist_dir):
    """The first 40 MNIST test digits, uint8 (40, 28, 28), and their labels."""
    images, labels = mnist_split(mnist_dir, "t10k")
    return images[:40], labels[:40]


@pytest.fixture(scope="module")
def small_forest(mnist_dir, tmp_path_factory):
    """A 10-tree forest on 3000 MNIST digits, saved with skops and loaded back as mnistlab loads one."""
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    images, labels = mnist_split(mnist_dir, "train")
    forest = RandomForestClassifier(n_estimators=10, max_depth=12, random_state=0, n_jobs=1)
    forest.fit(images[:3000].reshape(3000, -1).astype(np.float32) / 255, labels[:3000])
    path = tmp_path_factory.mktemp("forest") / "forest.skops"
    sio.dump(forest, path)
    return mnistlab.load_classifier(path)


def test_patches_cover_every_pixel_flush_with_the_edges():
    assert origins(28).tolist() == list(range(0, 25, 2))  # 13 patches a side, the last one at 24
    assert origins(27, 4, 2).tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 23]
    masks = patch_masks(28, 28)
    assert masks.shape == (169, 28, 28) and (masks.sum(axis=(1, 2)) == 16).all()
    covering = masks.sum(axis=0)
    assert covering.min() == 1 and covering.max() == 4 and covering[0, 0] == 1 and covering[13, 13] == 4


def test_map_matches_the_definition_one_patch_at_a_time_in_one_batch():
    model = BoxModel()
    image = np.full((28, 28), 255, dtype=np.uint8)
    heat = explain(model, image[None])
    assert model.calls == [1, 169]  # the picture, then every occluded copy in one batch
    assert heat.shape == (1, 28, 28) and heat.dtype == np.float32
    np.testing.assert_allclose(heat[0], loop_explanation(model, image, 1), atol=1e-6)
    # where it lies: positive exactly where a covering patch touches the box, 0 elsewhere
    touched = patch_masks(28, 28)[patch_masks(28, 28)[:, BOX[0], BOX[1]].any(axis=(1, 2))].any(axis=0)
    assert (heat[0][touched] > 0).all() and (heat[0][~touched] == 0).all()
    # only the patches that hide some ink are shown to the model: a blank picture costs no extra call
    stroke = np.zeros((28, 28), dtype=np.uint8)
    stroke[9, 16] = 255  # one pixel of ink, under the 2 x 2 patches whose corners reach it
    model.calls.clear()
    assert np.abs(explain(model, np.stack([stroke, 0 * stroke]))[1]).max() == 0
    assert model.calls == [2, 4]
    np.testing.assert_allclose(
        explain(model, stroke[None], [1])[0], loop_explanation(model, stroke, 1), atol=1e-6
    )
    # the other class's map is the mirror image: what costs class 1 helps class 0
    np.testing.assert_allclose(explain(model, image[None], [0])[0], -heat[0], atol=1e-6)


def test_many_pictures_are_split_into_calls_of_whole_pictures(monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    together = explain(BoxModel(), images, np.ones(5))
    monkeypatch.setattr(explanation, "COPIES_PER_CALL", 400)  # 2 pictures (338 copies) per call
    model = BoxModel()
    apart = explain(model, images, np.ones(5))
    assert model.calls == [5, 338, 338, 169]
    np.testing.assert_allclose(apart, together, atol=1e-6)
    for index in (0, 4):
        np.testing.assert_allclose(apart[index], loop_explanation(BoxModel(), images[index], 1), atol=1e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda model: explain(model, np.zeros((28, 28), np.uint8)), "a stack of grey pictures"),
        (lambda model: explain(model, np.zeros((2, 28, 28, 3), np.uint8)), "a stack of grey pictures"),
        (lambda model: explain(model, np.zeros((2, 28, 28), np.int32)), "not int32"),
        (lambda model: explain(model, np.zeros((2, 28, 28), np.uint8), [1]), "got 1 labels for 2 pictures"),
        (lambda model: explain(model, np.zeros((1, 28, 28), np.uint8), [2]), "one label from 0 to 1"),
        (lambda model: explain(model, np.zeros((1, 28, 28), np.uint8), patch=29), "does not fit a 28 x 28"),
        (lambda model: overlay(np.zeros((28, 28), np.uint8), np.zeros((27, 28))), "must match the picture"),
        (lambda model: overlay(np.zeros((28, 28), np.uint8), np.full((28, 28), np.nan)), "finite values"),
    ],
)
def test_bad_input_is_one_clear_error(call, message):
    with pytest.raises(MnistlabError, match=message):
        call(BoxModel())


def test_overlay_colours_evidence_red_against_blue_and_leaves_the_rest_grey():
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, 12:16] = 255  # a stroke
    heat = np.zeros((28, 28), dtype=np.float32)
    heat[4:10, 12:16] = 0.3  # evidence for, on the stroke's top
    heat[18:24, 12:16] = -0.3  # evidence against, at its bottom
    picture = overlay(image, heat)
    assert picture.mode == "RGB" and picture.size == (280, 280)
    pixels = np.asarray(picture).astype(int)
    red, green, blue = pixels[70, 140], pixels[210, 140], pixels[150, 140]  # centres of the three parts
    assert red[0] > red[1] + 100 and red[0] > red[2] + 100
    assert green[2] > green[0] + 60 and green[2] > green[1] + 30
    assert blue[0] == blue[1] == blue[2] < 100  # ink without a map value: plain dark grey
    assert (pixels[:30, :30] == 255).all()  # paper without a map value: white
    with Image.open(io.BytesIO(overlay_png(image, heat, scale=4))) as decoded:
        assert decoded.format == "PNG" and decoded.size == (112, 112)


def test_hiding_the_hottest_region_costs_more_than_a_blank_corner_or_other_ink(fastcnn_run, digits):
    from numpy.lib.stride_tricks import sliding_window_view

    images, _labels = digits
    classifier = predicting_classifier(fastcnn_run)  # the run's ONNX copy
    heat = explain(classifier, images)
    probabilities = classifier.predict_proba(images)
    assert heat.shape == (40, 28, 28) and heat.dtype == np.float32 and np.isfinite(heat).all()
    # Confident answers barely move under one 4 x 4 patch (sevens often do not); judge those that do.
    telling = [index for index in range(40) if heat[index].max() > 0.05]
    assert len(telling) >= 20, heat.max(axis=(1, 2))
    rng = np.random.default_rng(0)
    beats_other_ink = 0
    for index in telling:
        image, label = images[index], probabilities[index].argmax()
        # the 4 x 4 window, at any offset (not only the patch grid), where the map sums highest
        sums = sliding_window_view(heat[index], (4, 4)).sum(axis=(2, 3))  # (25, 25)
        top, left = np.unravel_index(sums.argmax(), sums.shape)
        inked = np.argwhere(sliding_window_view(image, (4, 4)).max(axis=(2, 3)) > 0)  # windows on ink
        other_top, other_left = inked[rng.integers(len(inked))]
        hidden = np.stack([image, image, image])  # the hottest window, a blank corner, a window of ink
        hidden[0, top : top + 4, left : left + 4] = 0
        hidden[1, :4, :4] = 0
        hidden[2, other_top : other_top + 4, other_left : other_left + 4] = 0
        hottest, corner, other = probabilities[index, label] - classifier.predict_proba(hidden)[:, label]
        assert hottest > 0.05 and hottest > corner + 0.05, (index, hottest, corner)
        if not image[:6, :6].any():  # the patches covering pixels (0..2, 0..2) hide no ink: no evidence
            assert not heat[index, :3, :3].any()
        beats_other_ink += hottest > other
    assert beats_other_ink >= 0.9 * len(telling), (beats_other_ink, len(telling))


def test_a_blank_picture_has_an_empty_map(fastcnn_run):
    heat = explain(predicting_classifier(fastcnn_run), np.zeros((2, 28, 28), dtype=np.uint8))
    assert np.abs(heat).max() < 1e-5


def test_keras_onnx_and_forest_are_explained_alike(fastcnn_run, small_forest, digits):
    images = digits[0][:6]
    onnx = explain(predicting_classifier(fastcnn_run), images)
    keras_classifier = mnistlab.load_classifier(fastcnn_run / "model.keras")
    keras = explain(keras_classifier, images[..., None])  # (N, 28, 28, 1) is taken too
    np.testing.assert_allclose(onnx, keras, atol=2e-3)  # the same network, two runtimes
    forest = explain(small_forest, images)
    assert small_forest.kind == "sklearn"
    assert forest.shape == onnx.shape and forest.dtype == np.float32 and np.isfinite(forest).all()
    assert forest.max() > 0.02  # the forest's answers rest on some ink too
    assert np.abs(forest[:, :3, :3]).max() == 0  # and not on the blank corner: a tree never splits there
