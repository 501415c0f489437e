"""Occlusion maps: which pixels made a model answer what it did, for any kind of model.

    from mnistlab.explanation import explain, overlay
    heat = explain(classifier, images)            # uint8 (N, 28, 28) -> float32 (N, 28, 28)
    heat = explain(classifier, images, labels)    # the evidence for given labels instead of the predicted
    overlay(images[0], heat[0]).save("why.png")   # the digit in grey, the map in colour on top (280 x 280)

A PATCH x PATCH square of background (0, no ink) slides over the picture in steps of STRIDE px; every
occluded copy of every picture goes through the model's predict_proba, so a Keras network, a scikit-learn
forest and an ONNX session are explained alike (nothing needs gradients). A pixel's value is the mean drop
in the class's probability over the patches that cover it: positive where the ink is evidence for the
class, negative where hiding it makes the class more likely, 0 where hiding changes nothing (a blank
region, or a model that does not look there). 28 x 28 pictures with 4 x 4 patches every 2 px: 13 x 13 = 169
copies per picture at most (only the patches that hide some ink: 72 on average for MNIST test digits),
one batch.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mnistlab.errors import MnistlabError

PATCH = 4  # px: the side of the square hidden at a time (a stroke is ~2-3 px wide in MNIST)
STRIDE = 2  # px between patches; every pixel is covered by 1 (corners) to 4 patches
BACKGROUND = 0  # the value a hidden pixel takes: no ink, as around every MNIST digit
COPIES_PER_CALL = 8192  # occluded pictures per predict_proba call: ~26 MB of float32 28 x 28 pixels
OVERLAY_SCALE = 10  # overlay px per picture px: 28 x 28 -> 280 x 280
MIN_SHOWN_DROP = 0.01  # probability: full colour stands for at least this drop (a faint map stays faint)
INK_SHADE = 0.75  # dark ink on white paper, as mnistlab draws every digit: full ink at 25% white
MAX_ALPHA = 0.7  # the heat colour's opacity at full strength; the digit shows through
EVIDENCE_FOR = np.array([230, 40, 30], dtype=np.float32)  # RGB: red where ink supports the class
EVIDENCE_AGAINST = np.array([40, 110, 240], dtype=np.float32)  # RGB: blue where it speaks against it


def origins(size: int, patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """Where patches start along one side: 0, stride, ..., with the last one flush with the edge."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return np.array(starts)


def patch_masks(height: int, width: int, patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """(P, height, width) bool: True where patch p hides the picture; P = 13 x 13 for 28 x 28."""
    if not 1 <= patch <= min(height, width) or stride < 1:
        raise MnistlabError(
            f"an occlusion patch of {patch} px every {stride} px does not fit a {height} x {width} "
            "picture; use a patch from 1 px to the picture's side and a stride of at least 1 px"
        )
    rows = np.arange(height)[None, :, None]
    columns = np.arange(width)[None, None, :]
    tops = np.repeat(origins(height, patch, stride), len(origins(width, patch, stride)))[:, None, None]
    lefts = np.tile(origins(width, patch, stride), len(origins(height, patch, stride)))[:, None, None]
    return (rows >= tops) & (rows < tops + patch) & (columns >= lefts) & (columns < lefts + patch)


def as_pictures(images) -> np.ndarray:
    """(N, H, W) or (N, H, W, 1) uint8 (or float in [0, 1]) -> (N, H, W); MnistlabError for anything else."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1] < 1 or images.shape[2] < 1:
        raise MnistlabError(
            f"explain takes a stack of grey pictures (N, 28, 28), not an array of shape {images.shape}; "
            "for one picture pass images[None]"
        )
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise MnistlabError(f"explain takes uint8 pixels (0..255) or floats in [0, 1], not {images.dtype}")
    return images


def explain(classifier, images, labels=None, *, patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """Occlusion maps: images (N, H, W) uint8 -> float32 (N, H, W), probability dropped per pixel.

    classifier: anything with predict_proba(images (M, H, W[, 1])) -> (M, C), e.g. a mnistlab Classifier.
    labels: (N,) the class to explain for each picture; None explains the class the model predicts.
    The maps are the mean, over the patches covering each pixel, of p(label | picture) minus
    p(label | picture with the patch set to BACKGROUND): in [-1, 1], exactly 0 where hiding changes
    nothing (so a blank picture's map is all 0).
    """
    images = as_pictures(images)
    count, height, width = images.shape
    masks = patch_masks(height, width, patch, stride)  # (P, H, W)
    probabilities = np.asarray(classifier.predict_proba(images[..., None]), dtype=np.float32)  # (N, C)
    if labels is None:
        labels = probabilities.argmax(axis=1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(labels) != count or (count and not 0 <= labels.min() <= labels.max() < probabilities.shape[1]):
        raise MnistlabError(
            f"explain needs one label from 0 to {probabilities.shape[1] - 1} per picture; "
            f"got {len(labels)} labels for {count} pictures"
        )
    # A patch over background only leaves the picture as it is: its drop is 0 without asking the model
    # (97 of the 169 for an MNIST test digit on average; a blank picture needs no call at all).
    background = np.asarray(BACKGROUND, dtype=images.dtype)
    changes = (masks[None] & (images[:, None] != background)).any(axis=(2, 3))  # (N, P) bool
    drops = np.zeros((count, len(masks)), dtype=np.float32)  # (N, P)
    per_call = max(1, COPIES_PER_CALL // len(masks))  # whole pictures per predict_proba call
    for start in range(0, count, per_call):
        stop = min(start + per_call, count)
        chunk_changes = changes[start:stop]  # (n, P)
        if not chunk_changes.any():
            continue
        # (M, H, W): each picture with each patch that hides some ink, as one batch for the model
        hidden = np.where(masks[None], background, images[start:stop, None])[chunk_changes]
        occluded = np.asarray(classifier.predict_proba(hidden[..., None]), dtype=np.float32)  # (M, C)
        pictures, _patches = np.nonzero(chunk_changes)  # which picture each copy came from
        picture_labels = labels[start:stop][pictures]  # (M,)
        drops[start:stop][chunk_changes] = (
            probabilities[start + pictures, picture_labels] - occluded[np.arange(len(hidden)), picture_labels]
        )
    # Spread each patch's drop over its pixels and average: (N, P) @ (P, H*W) / patches per pixel.
    flat_masks = masks.reshape(len(masks), -1).astype(np.float32)
    heat = (drops @ flat_masks) / flat_masks.sum(axis=0)
    return heat.reshape(count, height, width).astype(np.float32)


def rounded(heat: np.ndarray, decimals: int = 3) -> list:
    """A map as nested lists of floats for JSON: 0.001 of probability is finer than any eye needs."""
    return (np.round(np.asarray(heat, dtype=np.float64), decimals) + 0.0).tolist()  # + 0.0: no "-0.0"


def overlay(image, heat, scale: int = OVERLAY_SCALE) -> Image.Image:
    """The picture (H, W) uint8 in grey, enlarged `scale` times, with its map (H, W) in colour on top.

    Red: evidence for the class (hiding it lowers the probability); blue: evidence against. The opacity
    grows with the drop, relative to the map's largest (at least MIN_SHOWN_DROP, so that a map of tiny
    drops stays faint instead of being blown up). Returns an RGB image (H * scale, W * scale).
    """
    picture = as_pictures(np.asarray(image)[None])[0]
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != picture.shape or not np.isfinite(heat).all():
        raise MnistlabError(
            f"a map of shape {heat.shape} with finite values must match the picture's {picture.shape}"
        )
    if picture.dtype != np.uint8:
        picture = np.round(np.clip(picture, 0, 1) * 255).astype(np.uint8)
    size = (picture.shape[1] * scale, picture.shape[0] * scale)
    enlarged = Image.fromarray(picture).resize(size, Image.Resampling.NEAREST)
    grey = 255 - INK_SHADE * np.asarray(enlarged, dtype=np.float32)  # grey ink: the colour stands out
    # The map is smooth by nature (patches overlap): bilinear enlargement shows it so.
    smooth = np.asarray(Image.fromarray(heat).resize(size, Image.Resampling.BILINEAR))
    strength = np.clip(smooth / max(float(np.abs(heat).max()), MIN_SHOWN_DROP), -1, 1)[..., None]  # (h, w, 1)
    colour = np.where(strength >= 0, EVIDENCE_FOR, EVIDENCE_AGAINST)  # (h, w, 3)
    alpha = MAX_ALPHA * np.abs(strength)
    blended = grey[..., None] * (1 - alpha) + colour * alpha
    return Image.fromarray(np.round(blended).astype(np.uint8))


def overlay_png(image, heat, scale: int = OVERLAY_SCALE) -> bytes:
    """overlay() as PNG bytes, e.g. for an HTML report's <img src="data:image/png;base64,...">."""
    buffer = io.BytesIO()
    overlay(image, heat, scale).save(buffer, format="PNG")
    return buffer.getvalue()
