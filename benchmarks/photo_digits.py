"""Realistic pictures of known digits, to measure recognition of real-world images (seeded).

    from photo_digits import photo_set, scan_set
    photos = photo_set(mnist_images, mnist_labels, count=500, seed=0)   # [(bytes, ".jpg", label, style)]
    scans = scan_set(count=300, seed=0)                                 # other writers, from sklearn

photo_set renders MNIST test digits as phone photos of paper: the digit drawn in pen (black, blue or
pencil) at a random size, place and slant on textured paper, under uneven light (gradient, vignette, a
soft shadow), defocused, with sensor noise, saved as JPEG, PNG, BMP, GIF or WebP; some are transparent
canvas PNGs (ink in the alpha channel) and some are chalk on a dark board. render_photo(...,
paper_kind="ruled" or "squared") prints a notebook's lines on the paper first (ruling()).

scan_set renders scikit-learn's bundled `load_digits` (1797 digits by 43 writers other than MNIST's,
8x8 at 17 grey levels) as scans: dark ink on white paper at 100-200 px, blurred, noisy.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

STYLES = ("black pen", "blue pen", "pencil", "canvas", "chalkboard")
STYLE_WEIGHTS = (0.35, 0.25, 0.15, 0.15, 0.10)
# The styles written on paper with a pen or a pencil (those a notebook's lines or a finer pen apply to),
# in the proportions STYLE_WEIGHTS gives them.
PEN_STYLES, PEN_WEIGHTS = ("black pen", "blue pen", "pencil"), (0.45, 0.35, 0.2)
INK_COLOURS = {  # RGB in [0, 1]
    "black pen": (0.08, 0.08, 0.10),
    "blue pen": (0.10, 0.17, 0.58),
    "pencil": (0.38, 0.38, 0.40),
}
PHOTO_FORMATS = ((".jpg", 0.55), (".png", 0.15), (".webp", 0.15), (".bmp", 0.08), (".gif", 0.07))


def _stroke_mask(
    digit: np.ndarray, size: int, angle: float, rng: np.random.Generator, pen: str = "usual"
) -> np.ndarray:
    """MNIST digit (28, 28) uint8 -> ink coverage (size, size) in [0, 1], crisp like a pen, slanted. A
    "fine" pen keeps only the strokes' cores: about 60% of MNIST's stroke width. A "ballpoint" draws the
    strokes' centre lines (skeleton()) with one even width, 2-4.5% of `size`: 20-50% of MNIST's."""
    image = Image.fromarray(digit.astype(np.float32) / 255).resize((size, size), Image.Resampling.BICUBIC)
    image = image.rotate(angle, resample=Image.Resampling.BILINEAR)
    coverage = np.clip(np.asarray(image), 0, 1)
    # MNIST's grey edges come from anti-aliasing; a pen line is sharper, with a random edge softness.
    softness = rng.uniform(0.15, 0.4)
    if pen == "fine":
        return np.clip((coverage - 0.88) / 0.06, 0, 1)
    if pen == "ballpoint":
        # The centre lines are found at 4x MNIST's resolution at most (thinning peels a pixel a pass), and
        # the distance to them scaled up with the picture.
        small = min(size, 112)
        lines = skeleton(
            np.asarray(Image.fromarray(coverage).resize((small, small), Image.Resampling.BILINEAR)) > 0.5
        )
        reach = ndimage.distance_transform_edt(~lines) * (size / small)  # px to the nearest centre line
        if small < size:
            reach = np.asarray(
                Image.fromarray(reach.astype(np.float32)).resize((size, size), Image.Resampling.BILINEAR)
            )
        half_width = max(0.6, rng.uniform(0.02, 0.045) * size / 2)
        return np.clip(half_width + 0.5 - reach, 0, 1)  # one pixel of anti-aliased edge
    return np.clip((coverage - 0.5 + softness) / (2 * softness), 0, 1)


def skeleton(mask: np.ndarray) -> np.ndarray:
    """A boolean mask -> its centre lines, one pixel wide and connected as the mask is (Zhang and Suen's
    thinning, 1984: border pixels are peeled in two alternating passes while that keeps the shape's
    connections and line ends)."""
    thinned = np.pad(mask.astype(np.uint8), 1)
    steps = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # N, NE, ... clockwise
    changed = True
    while changed:
        changed = False
        for second in (False, True):
            n, ne, e, se, s, sw, w, nw = (np.roll(thinned, (-dy, -dx), (0, 1)) for dy, dx in steps)
            around = [n, ne, e, se, s, sw, w, nw]
            neighbours = sum(around)
            crossings = sum((around[i] == 0) & (around[(i + 1) % 8] == 1) for i in range(8))
            if second:
                keeps_shape = (n * e * w == 0) & (n * s * w == 0)
            else:
                keeps_shape = (n * e * s == 0) & (e * s * w == 0)
            peel = (thinned == 1) & (neighbours >= 2) & (neighbours <= 6) & (crossings == 1) & keeps_shape
            if peel.any():
                thinned[peel] = 0
                changed = True
    return thinned[1:-1, 1:-1].astype(bool)


def _place(mask: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Put the mask at a random place in a canvas of the given shape (fully inside)."""
    canvas = np.zeros(shape, dtype=np.float32)
    top = rng.integers(0, shape[0] - mask.shape[0] + 1)
    left = rng.integers(0, shape[1] - mask.shape[1] + 1)
    canvas[top : top + mask.shape[0], left : left + mask.shape[1]] = mask
    return canvas


def _lighting(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A multiplicative light field in (0, 1]: a gradient, a vignette and sometimes a soft shadow."""
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    rows, columns = rows / shape[0] - 0.5, columns / shape[1] - 0.5
    direction = rng.uniform(0, 2 * np.pi)
    along = np.cos(direction) * columns + np.sin(direction) * rows
    light = 1 - rng.uniform(0.1, 0.45) * (along + 0.5)
    light *= 1 - rng.uniform(0.0, 0.5) * (rows**2 + columns**2) * 2
    if rng.random() < 0.4:  # the shadow of a phone or a hand: a blurred half-plane
        cut = rng.uniform(-0.3, 0.3)
        angle = rng.uniform(0, 2 * np.pi)
        side = np.cos(angle) * columns + np.sin(angle) * rows > cut
        shadow = ndimage.gaussian_filter(side.astype(np.float32), sigma=max(shape) / 25)
        light *= 1 - rng.uniform(0.2, 0.45) * shadow
    return np.clip(light, 0.05, 1)


def _paper(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Paper brightness (H, W) in [0, 1]: a base tone, blotchy fibres and fine grain."""
    base = rng.uniform(0.78, 0.97)
    blotches = ndimage.gaussian_filter(rng.normal(size=shape), sigma=max(shape) / 30)
    blotches *= rng.uniform(0.01, 0.04) / (blotches.std() + 1e-9)
    grain = ndimage.gaussian_filter(rng.normal(size=shape), sigma=0.8) * rng.uniform(0.01, 0.04)
    return np.clip(base + blotches + grain, 0, 1)


PAPERS = ("plain", "ruled", "squared")


def ruling(
    shape: tuple[int, int], rng: np.random.Generator, kind: str, spacing: float, width: float
) -> np.ndarray:
    """A notebook's printed lines, (H, W) coverage in [0, 1]: rows `spacing` px apart ("ruled"), or rows
    and columns ("squared"), `width` px thick (at least 1), the page turned by up to 4 degrees."""
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    turn = np.deg2rad(rng.uniform(-4, 4))
    width = max(1.0, width)
    directions = [(np.cos(turn), -np.sin(turn))]  # across the rows; squared paper: across the columns too
    directions += [(np.sin(turn), np.cos(turn))] if kind == "squared" else []
    coverage = np.zeros(shape, np.float32)
    for along_rows, along_columns in directions:
        across = rows * along_rows + columns * along_columns - rng.uniform(0, spacing)
        distance = np.abs((across % spacing) - spacing / 2) - (spacing / 2 - width / 2)  # < 0 off the line
        coverage = np.maximum(coverage, np.clip(0.5 + distance, 0, 1))  # a pixel of soft edge
    return coverage


def _encode(rgb: np.ndarray, extension: str, rng: np.random.Generator) -> bytes:
    image = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    buffer = io.BytesIO()
    if extension == ".jpg":
        image.save(buffer, format="JPEG", quality=int(rng.integers(40, 92)))
    elif extension == ".webp":
        image.save(buffer, format="WEBP", quality=int(rng.integers(50, 90)))
    elif extension == ".gif":
        image.quantize(colors=64).save(buffer, format="GIF")
    else:
        image.save(buffer, format={".png": "PNG", ".bmp": "BMP"}[extension])
    return buffer.getvalue()


def render_photo(
    digit: np.ndarray, rng: np.random.Generator, style: str, paper_kind: str = "plain", pen: str = "usual"
) -> tuple[bytes, str]:
    """One MNIST digit (28, 28) uint8 -> (encoded picture, file extension) in the given style; on ruled or
    squared paper (pen and pencil styles), the lines 0.7-1.2 (ruled) or 0.45-0.8 (squared) of the
    digit's height apart, 0.3-0.8% of the picture's height thick, light blue or grey, 20-95% as dark
    as they can be. pen="fine" or "ballpoint": strokes thinner than MNIST's (_stroke_mask)."""
    height = int(rng.integers(200, 480))
    shape = (height, int(height * rng.uniform(0.75, 1.4)))
    # The digit's 20-px box covers 35-75% of the shorter side; MNIST's field is 28/20 of that box.
    size = int(min(shape) * rng.uniform(0.35, 0.75) * 28 / 20)
    size = min(size, min(shape))
    coverage = _place(_stroke_mask(digit, size, rng.uniform(-10, 10), rng, pen), shape, rng)
    blur = rng.uniform(0.0, max(shape) / 200)
    if style == "canvas":  # a drawing app's export: black ink in the alpha channel, no paper at all
        alpha = ndimage.gaussian_filter(coverage, sigma=blur * 0.5)
        rgba = np.zeros((*shape, 4), dtype=np.float32)
        rgba[..., 3] = alpha
        buffer = io.BytesIO()
        Image.fromarray(np.round(rgba * 255).astype(np.uint8)).save(buffer, format="PNG")
        return buffer.getvalue(), ".png"
    if style == "chalkboard":
        board = np.array([0.12, 0.2, 0.15]) * rng.uniform(0.6, 1.3)
        chalk = np.array([0.9, 0.9, 0.86]) * rng.uniform(0.75, 1.0)
        surface = board + ndimage.gaussian_filter(rng.normal(size=shape), 1.0)[..., None] * 0.03
        strength = coverage * rng.uniform(0.7, 1.0)
        rgb = surface * (1 - strength[..., None]) + chalk * strength[..., None]
    else:
        paper = _paper(shape, rng)[..., None] * np.array(
            [1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 1.0)]
        )
        if paper_kind != "plain":  # (only then: plain photos draw the same random numbers as before)
            height = size * 20 / 28  # the digit's, as its box
            spacing = height * (rng.uniform(0.7, 1.2) if paper_kind == "ruled" else rng.uniform(0.45, 0.8))
            colour = np.array([0.55, 0.7, 0.95]) if rng.random() < 0.6 else np.array([0.6, 0.6, 0.62])
            width = rng.uniform(0.003, 0.008) * shape[0]
            lines = (ruling(shape, rng, paper_kind, spacing, width) * rng.uniform(0.2, 0.95))[..., None]
            paper = paper * (1 - lines) + paper * colour * lines
        ink = np.array(INK_COLOURS[style]) * rng.uniform(0.7, 1.3)
        strength = coverage * (rng.uniform(0.55, 0.8) if style == "pencil" else rng.uniform(0.85, 1.0))
        rgb = paper * (1 - strength[..., None]) + ink * strength[..., None]
    rgb = rgb * _lighting(shape, rng)[..., None]
    rgb = ndimage.gaussian_filter(rgb, sigma=(blur, blur, 0))
    rgb = rgb + rng.normal(scale=rng.uniform(0.005, 0.03), size=rgb.shape)
    extensions, weights = zip(*PHOTO_FORMATS, strict=True)
    extension = str(rng.choice(extensions, p=weights))
    return _encode(rgb, extension, rng), extension


def photo_set(images: np.ndarray, labels: np.ndarray, count: int, seed: int = 0):
    """The first `count` digits -> [(encoded picture, extension, label, style)], reproducible by seed."""
    rng = np.random.default_rng(seed)
    photos = []
    for digit, label in zip(images[:count], labels[:count], strict=True):
        style = str(rng.choice(STYLES, p=STYLE_WEIGHTS))
        data, extension = render_photo(np.asarray(digit).reshape(28, 28), rng, style)
        photos.append((data, extension, int(label), style))
    return photos


def render_scan(digit: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """One load_digits digit (8, 8) of 0..16 -> (encoded scan, extension): dark ink on white paper."""
    size = int(rng.integers(70, 130))
    coverage = Image.fromarray(digit.astype(np.float32) / 16).resize((size, size), Image.Resampling.BICUBIC)
    coverage = np.clip(np.asarray(coverage), 0, 1)
    margin = int(size * rng.uniform(0.15, 0.4))
    shape = (size + 2 * margin, size + 2 * margin + int(rng.integers(0, margin + 1)))
    coverage = _place(coverage, shape, rng)
    paper = rng.uniform(0.88, 0.98)
    ink = rng.uniform(0.05, 0.25)
    grey = paper * (1 - coverage) + ink * coverage
    grey = ndimage.gaussian_filter(grey, sigma=rng.uniform(0.5, 1.5))
    grey = grey + rng.normal(scale=rng.uniform(0.005, 0.03), size=shape)
    extension = ".png" if rng.random() < 0.5 else ".jpg"
    return _encode(np.repeat(grey[..., None], 3, axis=2), extension, rng), extension


def scan_set(count: int | None = None, seed: int = 0):
    """sklearn's load_digits (other writers) -> [(encoded scan, extension, label, "scan")]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))[:count]
    scans = []
    for index in order:
        data, extension = render_scan(digits.images[index], rng)
        scans.append((data, extension, int(digits.target[index]), "scan"))
    return scans
