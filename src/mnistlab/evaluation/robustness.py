"""Accuracy under corruptions generated in code: noise, blur, contrast, geometry, stroke thickness, occlusion,
JPEG, at three severities each, on a seeded subset of the test split.

    result = measure_robustness(classifier, images, labels, limit=2000, seed=0)
    result["clean_accuracy"], result["corruptions"][0]   # {"name", "tfds", "what", "levels", "accuracy"}
    corrupt(images, "rotate", severity=2, seed=0)             # (N, 28, 28, 1) uint8 -> the same, corrupted

Every corruption is deterministic: its random draws come from a generator seeded by (seed, corruption,
severity), so a table is reproduced exactly and does not depend on which other corruptions ran. Severity 0
is the identity (the clean images).

How the set maps to tfds's `mnist_corrupted` (Mu & Gilmer 2019), whose 15 corruptions are named on the left:

    tfds name       here
    shot_noise      shot_noise
    impulse_noise   impulse_noise
    glass_blur      -  (not covered; gaussian_blur and motion_blur are the blurs here)
    motion_blur     motion_blur (horizontal streak)
    shear           shear
    scale           scale (shrink towards the centre)
    rotate          rotate
    brightness      brightness
    translate       translate
    stripe          stripe (one vertical bar of ink)
    fog             -  (not covered)
    spatter         -  (not covered)
    dotted_line     -  (not covered)
    zigzag          -  (not covered)
    canny_edges     -  (not covered)

Ours beyond tfds's list: gaussian_noise, gaussian_blur, contrast, dilate and erode (stroke thickness),
occlusion and jpeg. CORRUPTIONS holds each one's parameters per severity.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mnistlab.errors import MnistlabError, setting

SEVERITIES = (1, 2, 3)
DEFAULT_LIMIT = 2000  # test digits: about 30 s for fastcnn on 2 cores, all corruptions and severities
DEFAULT_SEED = 0
# Each function takes (N, 28, 28) float32 pixels in 0..255, one severity's parameter and a generator, and
# returns (N, 28, 28) float32 (clipped to 0..255 afterwards).
Transform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _ndimage():
    """scipy.ndimage, imported when a corruption is first drawn (not by every `evaluate`: ~0.3 s)."""
    from scipy import ndimage

    return ndimage


@dataclass(frozen=True)
class Corruption:
    name: str
    tfds: str | None  # the mnist_corrupted corruption it stands for, if any
    what: str  # the parameter, with its unit
    levels: tuple[float, float, float]  # that parameter at severities 1, 2, 3
    apply: Transform


def _gaussian_noise(pixels, sigma, rng):
    return pixels + rng.normal(0.0, sigma, pixels.shape)


def _shot_noise(pixels, photons, rng):
    # Poisson photon counts: `photons` expected at full ink, so fewer photons = noisier
    return rng.poisson(pixels / 255.0 * photons) * (255.0 / photons)


def _impulse_noise(pixels, fraction, rng):
    hit = rng.random(pixels.shape) < fraction
    salt = rng.random(pixels.shape) < 0.5
    return np.where(hit, np.where(salt, 255.0, 0.0), pixels)


def _gaussian_blur(pixels, sigma, rng):
    return _ndimage().gaussian_filter(pixels, sigma=(0, sigma, sigma))


def _motion_blur(pixels, length, rng):
    return _ndimage().uniform_filter1d(pixels, size=int(length), axis=2)


def _brightness(pixels, offset, rng):
    return pixels + offset


def _contrast(pixels, factor, rng):
    means = pixels.mean(axis=(1, 2), keepdims=True)
    return means + (pixels - means) * factor


def _affine(pixels, matrix: np.ndarray) -> np.ndarray:
    """Each image mapped by the 2x2 `matrix` (output -> input coordinates) about its centre."""
    center = np.array([13.5, 13.5])
    full = np.eye(3)
    full[1:, 1:] = matrix
    offset = np.concatenate([[0.0], center - matrix @ center])
    return _ndimage().affine_transform(pixels, full, offset=offset, order=1, mode="constant", cval=0.0)


def _rotate(pixels, degrees, rng):
    # half the digits turned clockwise, half anticlockwise (a fixed, seeded choice)
    turned = np.empty_like(pixels)
    clockwise = rng.random(len(pixels)) < 0.5
    for sign, members in ((1, clockwise), (-1, ~clockwise)):
        angle = np.deg2rad(sign * degrees)
        matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        turned[members] = _affine(pixels[members], matrix)
    return turned


def _shear(pixels, amount, rng):
    sheared = np.empty_like(pixels)
    right = rng.random(len(pixels)) < 0.5
    for sign, members in ((1, right), (-1, ~right)):
        sheared[members] = _affine(pixels[members], np.array([[1.0, 0.0], [sign * amount, 1.0]]))
    return sheared


def _scale(pixels, factor, rng):
    return _affine(pixels, np.eye(2) / factor)  # factor < 1: the digit shrinks towards the centre


def _translate(pixels, distance, rng):
    # each digit moved `distance` pixels in one of 8 compass directions; what leaves the frame is lost
    directions = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
    moves = directions[rng.integers(0, len(directions), len(pixels))] * int(distance)
    moved = np.zeros_like(pixels)
    for index, (down, right) in enumerate(moves):
        moved[index] = _ndimage().shift(pixels[index], (down, right), order=0, mode="constant", cval=0.0)
    return moved


def _dilate(pixels, size, rng):
    return _ndimage().grey_dilation(pixels, size=(1, int(size), int(size)))


def _erode(pixels, size, rng):
    return _ndimage().grey_erosion(pixels, size=(1, int(size), int(size)))


def _occlusion(pixels, side, rng):
    # a square of background colour (ink erased) of `side` pixels, placed within the central 20x20 box
    side = int(side)
    corners = rng.integers(4, 24 - side + 1, size=(len(pixels), 2))
    covered = pixels.copy()
    for index, (top, left) in enumerate(corners):
        covered[index, top : top + side, left : left + side] = 0.0
    return covered


def _stripe(pixels, width, rng):
    # a vertical bar of full ink, `width` pixels wide, at a random column of the central 20 columns
    width = int(width)
    columns = rng.integers(4, 24 - width + 1, size=len(pixels))
    striped = pixels.copy()
    for index, column in enumerate(columns):
        striped[index, :, column : column + width] = 255.0
    return striped


def _jpeg(pixels, quality, rng):
    squeezed = np.empty_like(pixels)
    for index, image in enumerate(np.clip(pixels, 0, 255).astype(np.uint8)):
        buffer = io.BytesIO()
        Image.fromarray(image, mode="L").save(buffer, format="JPEG", quality=int(quality))
        buffer.seek(0)
        squeezed[index] = np.asarray(Image.open(buffer), dtype=np.float32)
    return squeezed


CORRUPTIONS = {
    corruption.name: corruption
    for corruption in (
        Corruption("gaussian_noise", None, "std of added noise, pixel levels", (25, 50, 90), _gaussian_noise),
        Corruption(
            "shot_noise", "shot_noise", "photons at full ink (fewer: noisier)", (60, 20, 6), _shot_noise
        ),
        Corruption(
            "impulse_noise",
            "impulse_noise",
            "share of pixels set to 0 or 255",
            (0.03, 0.09, 0.18),
            _impulse_noise,
        ),
        Corruption("gaussian_blur", None, "blur sigma, pixels", (0.7, 1.1, 1.6), _gaussian_blur),
        Corruption("motion_blur", "motion_blur", "horizontal streak length, pixels", (3, 5, 8), _motion_blur),
        Corruption("brightness", "brightness", "level added to every pixel", (30, 70, 120), _brightness),
        Corruption("contrast", None, "contrast factor", (0.5, 0.25, 0.1), _contrast),
        Corruption("rotate", "rotate", "degrees, either way", (15, 30, 50), _rotate),
        Corruption("shear", "shear", "horizontal shear factor, either way", (0.25, 0.5, 0.8), _shear),
        Corruption("scale", "scale", "size factor", (0.8, 0.6, 0.45), _scale),
        Corruption("translate", "translate", "pixels moved", (2, 4, 6), _translate),
        Corruption("dilate", None, "max-filter size (thicker strokes), pixels", (2, 3, 4), _dilate),
        Corruption("erode", None, "min-filter size (thinner strokes), pixels", (2, 3, 4), _erode),
        Corruption("occlusion", None, "side of an erased square, pixels", (6, 10, 14), _occlusion),
        Corruption("stripe", "stripe", "width of a vertical ink bar, pixels", (1, 2, 4), _stripe),
        Corruption("jpeg", None, "JPEG quality (lower: worse)", (30, 10, 3), _jpeg),
    )
}
TFDS_CORRUPTIONS = (
    "shot_noise", "impulse_noise", "glass_blur", "motion_blur", "shear", "scale", "rotate", "brightness",
    "translate", "stripe", "fog", "spatter", "dotted_line", "zigzag", "canny_edges",
)  # fmt: skip


def _generator(seed: int, name: str, severity: int) -> np.random.Generator:
    # crc32, not hash(): Python salts str hashes per process, which would break reproducibility
    return np.random.default_rng([seed, zlib.crc32(name.encode()), severity])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Images (N, 28, 28[, 1]) uint8 -> the same shape and dtype, with corruption `name` at `severity`
    (0: unchanged, 1..3: ever stronger)."""
    if name not in CORRUPTIONS:
        raise MnistlabError(f"unknown corruption {name!r}; choose one of {', '.join(CORRUPTIONS)}")
    if severity not in (0, *SEVERITIES):
        raise MnistlabError(f"corruption severity {severity} is out of range; choose 0 (none) to 3")
    images = np.asarray(images)
    if severity == 0:
        return images.copy()
    pixels = images.reshape(len(images), *images.shape[1:3]).astype(np.float32)
    corruption = CORRUPTIONS[name]
    changed = corruption.apply(pixels, corruption.levels[severity - 1], _generator(seed, name, severity))
    return np.clip(np.rint(changed), 0, 255).astype(np.uint8).reshape(images.shape)


def check_limit(limit: int | None) -> None:
    """Raise MnistlabError unless limit is None (every digit) or a positive count of digits."""
    if limit is not None and limit < 1:
        raise MnistlabError(f"{setting('robustness_limit', limit)} must be at least 1 test digit")


def subset(labels: np.ndarray, limit: int | None, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Sorted indices of `limit` examples drawn without replacement (all of them when limit is None or
    larger): a seeded sample of the whole split, not its first rows."""
    check_limit(limit)
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    return np.sort(np.random.default_rng(seed).permutation(len(labels))[:limit])


def measure_robustness(
    classifier, images: np.ndarray, labels: np.ndarray, limit: int | None = DEFAULT_LIMIT,
    seed: int = DEFAULT_SEED, num_classes: int | None = None, progress: Callable[[str], None] | None = None,
) -> dict:  # fmt: skip
    """The robustness table of `classifier` on `limit` of the (N, 28, 28, 1) uint8 `images`, JSON-ready:
    {"examples", "seed", "clean_accuracy", "corruptions": [{"name", "tfds", "what", "levels", "accuracy"}]},
    accuracy being a fraction per severity 1, 2, 3."""
    picked = subset(labels, limit, seed)
    images, labels = images[picked], np.asarray(labels, dtype=np.int64)[picked]

    def accuracy_of(shown: np.ndarray) -> float:
        return float(np.mean(classifier.predict_proba(shown, num_classes).argmax(axis=1) == labels))

    rows = []
    for corruption in CORRUPTIONS.values():
        if progress is not None:
            progress(corruption.name)
        accuracy = [accuracy_of(corrupt(images, corruption.name, severity, seed)) for severity in SEVERITIES]
        rows.append(
            {
                "name": corruption.name,
                "tfds": corruption.tfds,
                "what": corruption.what,
                "levels": list(corruption.levels),
                "accuracy": accuracy,
            }
        )
    return {
        "examples": int(len(labels)),
        "seed": int(seed),
        "clean_accuracy": accuracy_of(images),
        "corruptions": rows,
        "tfds_not_covered": [name for name in TFDS_CORRUPTIONS if name not in _covered()],
    }


def _covered() -> set[str]:
    return {corruption.tfds for corruption in CORRUPTIONS.values() if corruption.tfds}


def robustness_figure(result: dict):
    """The table as a heatmap: one row per corruption, columns clean and severities 1-3, accuracy in each."""
    from mnistlab.evaluation.plots import new_figure

    names = [row["name"] for row in result["corruptions"]]
    clean = result["clean_accuracy"]
    table = np.array([[clean, *row["accuracy"]] for row in result["corruptions"]])  # (corruptions, 4)
    figure = new_figure(6.5, 0.32 * len(names) + 1.4)
    axes = figure.add_subplot()
    axes.imshow(table, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for (row, column), value in np.ndenumerate(table):
        axes.text(column, row, f"{value:.1%}", ha="center", va="center", fontsize=8)
    axes.set_xticks(range(4), ["clean", "severity 1", "severity 2", "severity 3"])
    axes.set_yticks(range(len(names)), names)
    axes.xaxis.tick_top()
    axes.set_title(f"accuracy on {result['examples']:,} test digits (seed {result['seed']})", fontsize=9)
    return figure


def robustness_examples_figure(image: np.ndarray, seed: int = DEFAULT_SEED):
    """One (28, 28[, 1]) digit under every corruption: a row each, severities 1, 2, 3 left to right."""
    from mnistlab.evaluation.plots import image_mosaic, new_figure

    image = np.asarray(image).reshape(1, 28, 28, 1)
    tiles = [corrupt(image, name, severity, seed)[0] for name in CORRUPTIONS for severity in SEVERITIES]
    mosaic = image_mosaic(np.stack(tiles), columns=len(SEVERITIES), gap=4)  # (rows * 32, 3 * 32)
    figure = new_figure(3.6, 0.42 * len(CORRUPTIONS) + 0.6)
    axes = figure.add_subplot()
    axes.imshow(mosaic, cmap="gray_r", interpolation="nearest")
    cell = mosaic.shape[0] / len(CORRUPTIONS)
    axes.set_yticks([(row + 0.5) * cell for row in range(len(CORRUPTIONS))], list(CORRUPTIONS), fontsize=8)
    axes.set_xticks([(column + 0.5) * mosaic.shape[1] / 3 for column in range(3)], ["1", "2", "3"])
    axes.set_xlabel("severity")
    axes.tick_params(length=0)
    return figure
