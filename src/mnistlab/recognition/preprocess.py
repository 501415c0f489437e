"""Turn a real picture of one digit into an MNIST-format image: (28, 28) uint8, white ink on black.

    from mnistlab.recognition.preprocess import preprocess
    digit = preprocess("photo_of_a_7.jpg")     # PNG, JPEG, BMP, GIF, WebP; grey, RGB or RGBA
    digit = preprocess(canvas_pixels)          # numpy (H, W) or (H, W, 1|3|4) arrays too

A model trained on MNIST expects MNIST's own normalisation, so the steps follow it:
1. decode to grey in [0, 1] (alpha composited onto white) and bring the longer side to WORK_SIDE px;
2. find the ink's polarity and make the ink bright (MNIST is white on black);
3. remove the background (uneven light, paper texture, noise) and stretch the ink to full contrast;
4. crop to the ink's bounding box, ignoring specks;
5. scale the longer side to 20 px, keeping the aspect ratio, with area-averaging anti-aliasing;
6. centre by centre of mass in a 28 x 28 field (MNIST's digits have their centre of mass at (14, 14)).
A picture without visible ink raises NoDigitError rather than guessing.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from mnistlab.recognition.images import NoDigitError, describe, read_image

WORK_SIDE = (160, 640)  # the longer side is brought into this range (px) so filter sizes mean the same
DIGIT_BOX = 20  # MNIST fits each digit's longer side to 20 px ...
FIELD = 28  # ... and centres it by mass in a 28 x 28 field
MIN_CONTRAST = 0.1  # ink must differ from its background by 10% of the grey range
MIN_SPECK_FRACTION = 0.08  # ink blobs smaller than this fraction of the largest blob are specks


def preprocess(source, name: str | None = None) -> np.ndarray:
    """A file path, image bytes or pixel array -> (28, 28) uint8 MNIST-format digit."""
    label = describe(source, name)
    grey = to_working_size(read_image(source, name=label))
    ink = ink_bright(grey)
    strokes = remove_background(ink, label)
    strokes = drop_specks(strokes)
    top, bottom, left, right = ink_box(strokes)
    digit = fit_box(strokes[top:bottom, left:right], DIGIT_BOX)
    field = centre_by_mass(digit, FIELD)
    return np.round(field * 255).astype(np.uint8)


def to_working_size(grey: np.ndarray) -> np.ndarray:
    """(H, W) float -> the same picture with its longer side within WORK_SIDE."""
    height, width = grey.shape
    smallest, largest = WORK_SIDE
    scale = min(max(max(height, width), smallest), largest) / max(height, width)
    if scale == 1:
        return grey.astype(np.float32)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(grey.astype(np.float32)).resize(size, resample)
    return np.asarray(resized, dtype=np.float32)


def ink_is_dark(grey: np.ndarray) -> bool:
    """True for dark ink on light paper, False for light strokes on a dark background.

    Paper fills most of a picture and ink is the minority, so after removing the broad shading (a wide
    box blur, a quarter of the picture across) the ink forms the longer tail of the residual: far below
    zero for dark ink, far above it for light ink.
    """
    residual = grey - ndimage.uniform_filter(grey, size=max(grey.shape) // 4 + 1)
    darkest, brightest = np.percentile(residual, [1, 99])
    return -darkest > brightest


def ink_bright(grey: np.ndarray) -> np.ndarray:
    """Grey picture -> the same with ink bright, as in MNIST (dark ink on paper is inverted)."""
    return 1.0 - grey if ink_is_dark(grey) else grey


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width (px) of a boolean ink mask: a band of width w has mean inner distance ~ w/4."""
    if not mask.any():
        return 0.0
    return 4.0 * float(ndimage.distance_transform_edt(mask)[mask].mean())


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """The grey level that best splits values into two classes (Otsu 1979: maximal between-class variance)."""
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def top_hat(picture: np.ndarray, width: int) -> np.ndarray:
    """Bright details narrower than `width` px, on zero: the picture minus its (smoothed) grey opening."""
    background = ndimage.grey_opening(picture, size=(width, width))
    background = ndimage.uniform_filter(background, size=width // 2 + 1)
    return np.clip(picture - background, 0, None)


def remove_background(ink: np.ndarray, label: str = "image") -> np.ndarray:
    """Bright-ink picture -> strokes in [0, 1] on exactly 0, with shading, texture and noise removed.

    The background is a grey opening (a running minimum then maximum) wider than the strokes: it erases
    the strokes but follows light gradients, vignetting and shadows, so subtracting it flattens them.
    """
    smooth = ndimage.gaussian_filter(ink, sigma=max(ink.shape) / 400 + 0.5)  # sensor noise, JPEG blocks
    # Start narrow, so vignetting and shadows count as background; widen once if strokes are thicker.
    width = max(ink.shape) // 8 | 1
    strokes = top_hat(smooth, width)
    needed = 3 * stroke_width(strokes > otsu_threshold(strokes))
    if needed > width:
        width = int(min(needed, max(ink.shape) / 2)) | 1
        strokes = top_hat(smooth, width)

    if strokes.max() < MIN_CONTRAST:
        raise NoDigitError(f"no digit found in {label}: no ink stands out from the background")
    threshold = otsu_threshold(strokes)
    above = strokes[strokes > threshold]
    ink_level = float(np.median(above)) if above.size else 0.0
    noise = float(np.std(strokes[strokes <= threshold]))
    if ink_level - threshold < MIN_CONTRAST / 2 or ink_level < MIN_CONTRAST or ink_level < 6 * noise:
        raise NoDigitError(f"no digit found in {label}: no ink stands out from the background")
    return np.clip((strokes - threshold) / (ink_level - threshold), 0, 1).astype(np.float32)


def drop_specks(strokes: np.ndarray) -> np.ndarray:
    """Erase ink blobs much smaller than the largest one (dust, noise, paper grain)."""
    blobs, count = ndimage.label(strokes > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return strokes
    areas = np.bincount(blobs.ravel())[1:]
    keep = np.flatnonzero(areas >= MIN_SPECK_FRACTION * areas.max()) + 1
    return np.where(np.isin(blobs, keep), strokes, 0).astype(np.float32)


def ink_box(strokes: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom/right exclusive, of the nonzero pixels."""
    rows = np.flatnonzero(strokes.any(axis=1))
    columns = np.flatnonzero(strokes.any(axis=0))
    if rows.size == 0:
        raise NoDigitError("no digit found: the picture holds no ink")
    return int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1


def fit_box(digit: np.ndarray, box: int = DIGIT_BOX) -> np.ndarray:
    """Scale so the longer side is `box` px, keeping the aspect ratio; the result's peak is 1."""
    height, width = digit.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Area averaging when shrinking is the anti-aliasing that gave MNIST its grey edges.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = np.asarray(Image.fromarray(digit.astype(np.float32)).resize(size, resample))
    resized = np.clip(resized, 0, None)
    return (resized / resized.max()).astype(np.float32)


def centre_by_mass(digit: np.ndarray, field: int = FIELD) -> np.ndarray:
    """Place the digit in a field x field canvas with its centre of mass at pixel (field / 2, field / 2)."""
    centre_row, centre_column = ndimage.center_of_mass(digit)
    top = int(round(field / 2 - centre_row))
    left = int(round(field / 2 - centre_column))
    canvas = np.zeros((field, field), dtype=np.float32)
    height, width = digit.shape
    # Paste with clipping: a lopsided digit may push a few pixels past the edge, as in MNIST.
    rows = slice(max(top, 0), min(top + height, field))
    columns = slice(max(left, 0), min(left + width, field))
    canvas[rows, columns] = digit[
        rows.start - top : rows.stop - top, columns.start - left : columns.stop - left
    ]
    return canvas
