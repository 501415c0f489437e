"""Decode image files and arrays into one grey float picture, safely and at a bounded cost.

    grey = read_image("photo.jpg")            # (H, W) float32 in [0, 1], 1 = white
    grey = read_image(png_bytes, name="upload.png")
    grey = read_image(canvas_pixels)          # numpy (H, W), (H, W, 1|3|4), uint8 0..255 or float

Only raster formats that carry no code are opened (PNG, JPEG, BMP, GIF, WebP, TIFF). What a picture will
cost to decode is read from its header and refused (ImageTooLargeError) before any pixel is decoded, so a
small file cannot tie up a core (a decompression bomb). The limits keep decoding to about 50 ms of CPU on
the 2-core development machine (measured worst cases: 15-55 ms; a 5 MB JPEG of pure noise, ~75 ms):
- a JPEG is decoded at 1/2 to 1/8 scale (draft mode): up to MAX_PIXELS, half that in CMYK;
- a progressive JPEG is decoded whole first: its pixels and its file size share one budget;
- other formats are decoded at full size, at a cost per MB of pixels as Pillow holds them: 1 byte for
  bilevel, grey or palette pictures (MAX_GREY_PIXELS), 4 for colour, alpha or 16/32-bit grey
  (MAX_COLOUR_PIXELS).
The decoded picture is averaged down by whole blocks before anything else is done with it, and must hold
finite values (a float TIFF may hold NaN).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from mnistlab.errors import MnistlabError

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
MAX_PIXELS = 50_000_000  # width * height; a 50-megapixel phone photo is the largest honest input
# A progressive JPEG is decoded whole before it is scaled: ~5 ms per MP plus ~50 ms per MB of file, so
# its pixels and its bytes share one budget (cameras write baseline JPEGs; the web often progressive ones).
MAX_PROGRESSIVE_PIXELS = 12_000_000  # with no bytes, or ...
MAX_PROGRESSIVE_BYTES = 1_200_000  # ... with no pixels; a 2-MP, 400-kB one uses half the budget
MAX_GREY_PIXELS = 10_000_000  # other formats: a 300-dpi A4 or letter scan in grey, ...
MAX_COLOUR_PIXELS = 2_100_000  # ... a 1080 x 1920 screenshot in colour
ONE_BYTE_MODES = ("1", "L", "P")  # Pillow holds every other mode in 4 bytes per pixel
WIDE_GREY_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")  # 16/32-bit grey, integer or float
MAX_SIDE = 640  # longer side, in pixels, that decoding aims for (at most twice this is kept)
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601 weights for R, G, B
ORIENTATION = {  # EXIF orientation -> the transposition that shows the picture upright (as Pillow's)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageError(MnistlabError):
    """An input that cannot become a digit: unreadable, too large, or holding no digit."""


class UnreadableImageError(ImageError):
    """Not an image, an unsupported format, or a corrupt / truncated file."""


class ImageTooLargeError(ImageError):
    """More pixels than the limits above (a decompression bomb, or simply far too big)."""


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
    if pixels.dtype.kind not in "biuf":  # bool, int, unsigned or float; not complex, text or objects
        raise UnreadableImageError(f"{label}: pixel values must be numbers, not {pixels.dtype}")
    # Checked before the cast: float32 would turn 1e39 into inf, with a warning.
    if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 255:
        raise UnreadableImageError(f"{label}: pixel values must be finite, in 0..255 (or 0..1)")
    values = pixels.astype(np.float32)
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
                full_size = image.size
                # JPEG decodes at 1/2, 1/4 or 1/8 scale directly, and grey straight from its luma.
                image.draft("L", (MAX_SIDE, MAX_SIDE))
                _check_cost(image, full_size, label)
                image.load()
                orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
                grey = _grey_from_pillow(image, label)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(f"{label}: refused as a decompression bomb ({error})") from None
    except UnidentifiedImageError:
        raise UnreadableImageError(
            f"{label}: not an image in a supported format ({', '.join(FORMATS)})"
        ) from None
    except Exception as error:  # Pillow's decoders fail on malformed files with many kinds of error
        raise UnreadableImageError(f"{label}: corrupt or truncated image ({error})") from None
    if orientation in ORIENTATION:  # phone photos are often stored sideways
        grey = np.asarray(Image.fromarray(grey).transpose(ORIENTATION[orientation]))
    return grey


def _check_cost(image: Image.Image, full_size: tuple[int, int], label: str) -> None:
    """ImageTooLargeError unless decoding `image` stays within the limits for its format and mode."""
    width, height = full_size
    pixels = width * height
    if image.format in ("JPEG", "MPO") and image.info.get("progressive"):  # MPO: a phone's JPEG
        size = _stream_size(image.fp)
        if pixels / MAX_PROGRESSIVE_PIXELS + size / MAX_PROGRESSIVE_BYTES > 1:
            raise ImageTooLargeError(
                f"{label}: a progressive JPEG of {width} x {height} pixels in {size / 1e6:.1f} MB costs "
                "too much to decode; save it as a baseline JPEG (as cameras do) or send a smaller one"
            )
    limit, kind = pixel_limit(image)
    if pixels > limit:
        raise ImageTooLargeError(
            f"{label}: {width} x {height} pixels is more than the {limit:,} allowed{kind}; "
            "send a smaller picture"
        )


def pixel_limit(image: Image.Image) -> tuple[int, str]:
    """The most pixels an opened (not yet decoded) picture may have, and for what kind of picture."""
    if image.format in ("JPEG", "MPO"):  # four channels (CMYK) cost twice as much as luma and chroma
        return (MAX_PIXELS // 2, " in a CMYK JPEG") if image.mode == "CMYK" else (MAX_PIXELS, "")
    if image.mode in ONE_BYTE_MODES:
        return MAX_GREY_PIXELS, f" in a grey or palette {image.format}"
    return MAX_COLOUR_PIXELS, f" in a colour or 16-bit {image.format} (a JPEG may have more)"


def _stream_size(stream) -> int:
    """Bytes in a seekable stream, leaving its position where it was."""
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size


def _grey_from_pillow(image: Image.Image, label: str) -> np.ndarray:
    """A loaded Pillow image -> grey (H, W) float32 in [0, 1], reduced to under 2 * MAX_SIDE first."""
    if image.mode in WIDE_GREY_MODES:  # 16/32-bit grey: scale by its own range
        values = np.asarray(_reduce(image.convert("F")), dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise UnreadableImageError(
                f"{label}: the picture holds NaN or infinite values; save it with 8- or 16-bit pixels"
            )
        peak = 65535.0 if values.max() > 255 else 255.0 if values.max() > 1 else 1.0
        return np.clip(values / peak, 0, 1)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha and image.mode not in ("RGBA", "LA"):
        image = image.convert("RGBA")  # a palette or colour-key transparency becomes an alpha channel
    elif image.mode not in ("L", "RGB", "LA", "RGBA"):  # bilevel, palette, CMYK, ...
        image = image.convert("L" if image.mode in ONE_BYTE_MODES else "RGB")
    # Reduce first: converting a full-size picture would cost as much again as decoding it.
    small = np.asarray(_reduce(image).convert("LA" if has_alpha else "L"), dtype=np.float32) / 255.0
    if has_alpha:
        return _flatten_alpha(small[..., 0], small[..., 1])
    return small


def _reduce(image: Image.Image) -> Image.Image:
    """Average whole blocks of pixels away until the longer side is below 2 * MAX_SIDE (saves memory)."""
    factor = max(image.size) // MAX_SIDE
    return image.reduce(factor) if factor >= 2 else image


def _flatten_alpha(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite onto white; onto black when the opaque strokes themselves are light (white on clear).
    A picture opaque throughout (a canvas filled with paper, as the drawing page's) is its grey as it is."""
    if alpha.min() >= 1.0:
        return grey.astype(np.float32)
    weight = alpha.sum()
    covered = grey * alpha
    opaque_brightness = float(covered.sum() / weight) if weight > 0 else 0.0
    has_clear_parts = bool((alpha < 0.5).mean() > 0.01)
    backdrop = 0.0 if has_clear_parts and opaque_brightness > 0.5 else 1.0
    return (covered + backdrop * (1 - alpha)).astype(np.float32)
