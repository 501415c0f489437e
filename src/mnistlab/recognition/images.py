"""Decode image files and arrays into one grey float picture, safely.

    grey = read_image("photo.jpg")            # (H, W) float32 in [0, 1], 1 = white
    grey = read_image(png_bytes, name="upload.png")
    grey = read_image(canvas_pixels)          # numpy (H, W), (H, W, 1|3|4), uint8 0..255 or float

Only raster formats that carry no code are opened (PNG, JPEG, BMP, GIF, WebP, TIFF). Images over
MAX_PIXELS are refused before their pixels are decoded (decompression bombs), and very large ones are
decoded at reduced size (JPEG draft mode, block averaging) because a 28x28 result needs no more.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mnistlab.errors import MnistlabError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
MAX_PIXELS = 50_000_000  # width * height; a 50-megapixel phone photo is the largest honest input
MAX_SIDE = 640  # longer side, in pixels, that decoding aims for (at most twice this is kept)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 weights for R, G, B


class ImageError(MnistlabError):
    """An input that cannot become a digit: unreadable, too large, or holding no digit."""


class UnreadableImageError(ImageError):
    """Not an image, an unsupported format, or a corrupt / truncated file."""


class ImageTooLargeError(ImageError):
    """More pixels than MAX_PIXELS (a decompression bomb, or simply far too big)."""


class NoDigitError(ImageError):
    """A readable image without visible ink."""


def describe(source, name: str | None = None) -> str:
    """A short name for messages: the given name, the file path, or the kind of input."""
    if name:
        return str(name)
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, np.ndarray):
        return f"array of shape {source.shape}"
    return "image data"


def read_image(source, name: str | None = None) -> np.ndarray:
    """A path, bytes, a binary file object or a numpy array -> grey (H, W) float32 in [0, 1]."""
    label = describe(source, name)
    if isinstance(source, np.ndarray):
        return _grey_from_array(source, label)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise UnreadableImageError(f"{label}: no such file")
    return _grey_from_file(source, label)


def _grey_from_array(pixels: np.ndarray, label: str) -> np.ndarray:
    if pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4):
        channels = pixels.shape[2]
    elif pixels.ndim == 2:
        channels = 0
    else:
        raise UnreadableImageError(f"{label}: expected (H, W) or (H, W, 1|3|4) pixels")
    if pixels.size == 0 or pixels.shape[0] * pixels.shape[1] > MAX_PIXELS:
        raise ImageTooLargeError(
            f"{label}: {pixels.shape[0]} x {pixels.shape[1]} pixels is not a usable size"
        )
    values = pixels.astype(np.float32)
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 255:
        raise UnreadableImageError(f"{label}: pixel values must be finite, in 0..255 (or 0..1)")
    if np.issubdtype(pixels.dtype, np.integer) or values.max() > 1:
        values /= 255.0
    if channels == 4:
        return _flatten_alpha(values[..., :3] @ LUMA, values[..., 3])
    if channels == 3:
        return values @ LUMA
    return values.reshape(pixels.shape[:2])


def _grey_from_file(file, label: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=FORMATS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ImageTooLargeError(
                        f"{label}: {width} x {height} pixels is more than the {MAX_PIXELS:,} allowed; "
                        "send a smaller image"
                    )
                # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: far less memory and time.
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                image = ImageOps.exif_transpose(image)  # phone photos are often stored sideways
                image.load()
                return _grey_from_pillow(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(f"{label}: refused as a decompression bomb ({error})") from None
    except UnidentifiedImageError:
        raise UnreadableImageError(
            f"{label}: not an image in a supported format ({', '.join(FORMATS)})"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise UnreadableImageError(f"{label}: corrupt or truncated image ({error})") from None


def _grey_from_pillow(image: Image.Image) -> np.ndarray:
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16/32-bit grey: scale by its own range
        values = np.asarray(_reduce(image.convert("F")), dtype=np.float32)
        peak = 65535.0 if values.max() > 255 else 255.0 if values.max() > 1 else 1.0
        return np.clip(values / peak, 0, 1)
    rgba = np.asarray(_reduce(image.convert("RGBA" if has_alpha else "RGB")), dtype=np.float32) / 255.0
    grey = rgba[..., :3] @ LUMA
    if has_alpha:
        grey = _flatten_alpha(grey, rgba[..., 3])
    return grey.astype(np.float32)


def _reduce(image: Image.Image) -> Image.Image:
    """Average whole blocks of pixels away until the longer side is below 2 * MAX_SIDE (saves memory)."""
    factor = max(image.size) // MAX_SIDE
    return image.reduce(factor) if factor >= 2 else image


def _flatten_alpha(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite onto white; onto black when the opaque strokes themselves are light (white on clear)."""
    weight = alpha.sum()
    opaque_brightness = float((grey * alpha).sum() / weight) if weight > 0 else 0.0
    has_clear_parts = bool((alpha < 0.5).mean() > 0.01)
    backdrop = 0.0 if has_clear_parts and opaque_brightness > 0.5 else 1.0
    return (grey * alpha + backdrop * (1 - alpha)).astype(np.float32)
