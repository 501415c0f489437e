"""Pictures that are not one digit, in MNIST format: what the refuser learns to say no to.

    images, kinds = not_digits(1000, seed=0)                # (1000, 28, 28) uint8, white ink on black
    images, kinds = not_digits(500, seed=1, fonts=HELD_OUT_FONTS, kinds=("letter", "symbol"))

Each kind is drawn at 96 x 96 px with random pen width, slant and wobble, then brought to MNIST's format
the way a real picture is (crop to the ink, longer side to 20 px, centred by mass), so the refuser sees
negatives exactly as it will see them after preprocessing:
- letter:   a handwriting-like letter: a font glyph, slanted, rotated and elastically warped (from barely to
            loosely), pen width changed (letters that are written like a digit, O o I l i, are left out);
- symbol:   + - = x # % @ & ? ! * < > ~ $ and friends, warped the same way;
- scribble: a random smooth pen path that loops and crosses itself;
- hatching: parallel (or crossed) strokes, as when a box is shaded in;
- blob:     a stain or a filled shape;
- several:  two or three digits side by side (from the `digits` given: MNIST training digits);
- tick:     a check mark or a cross;
- zigzag and spiral: two pen paths kept out of training, to test on shapes never seen.
Fonts are matplotlib's bundled ones, so every machine draws the same glyphs, and Debian's fonts-dejavu
variants (condensed, extra light, math) where they are installed.

photo_like(picture, rng) photographs any MNIST-format picture, digit or not, cheaply (a small grey
picture in numpy: paper, ink, light, blur, noise, sometimes JPEG) and prepares it again with preprocess():
the refuser learns from both kinds looking photographed, so "looks photographed" is no cue for either.
"""

from __future__ import annotations

import io
import os
import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from mnistlab.pictures.preprocess import centre_by_mass, fit_box

CANVAS = 96
TRAINING_KINDS = ("letter", "symbol", "scribble", "hatching", "blob", "several", "tick")
HELD_OUT_KINDS = ("zigzag", "spiral")  # never trained on: shapes to test generalisation
LETTERS = "".join(sorted(set(string.ascii_letters) - set("OoIli")))
SYMBOLS = "+-=x#%@&?!*<>~$^{}[]§¶€£¥©®±÷×∞≠≈√∑∏∫∂ΩπµαβγδλΣΦΨ♠♣♥♦★☆→←↑↓"
TRAINING_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmti10.ttf",
    "cmmi10.ttf",
    "cmss10.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
)
# Installed by Debian's fonts-dejavu; used where present. DejaVuSerifCondensed-BoldItalic is left out: it
# is the held-out DejaVuSerif-BoldItalic narrowed.
SYSTEM_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SYSTEM_FONTS = (
    "DejaVuSans-ExtraLight.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansCondensed-Oblique.ttf",
    "DejaVuSansCondensed-BoldOblique.ttf",
    "DejaVuSerifCondensed.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSerifCondensed-Italic.ttf",
    "DejaVuMathTeXGyre.ttf",
)
HELD_OUT_FONTS = ("STIXGeneral.ttf", "STIXGeneralItalic.ttf", "DejaVuSerif-BoldItalic.ttf", "cmtt10.ttf")
# Google Fonts' handwriting families (npm's @fontsource packages), fetched by benchmarks/handwriting_fonts.py
# into handwriting_font_dir(); used where present. Every fourth is held out to test the refuser on.
HANDWRITING_FAMILIES = (
    "amatic-sc",
    "annie-use-your-telescope",
    "architects-daughter",
    "calligraffitti",
    "caveat",
    "caveat-brush",
    "cedarville-cursive",
    "coming-soon",
    "covered-by-your-grace",
    "crafty-girls",
    "dawning-of-a-new-day",
    "dekko",
    "delius",
    "edu-nsw-act-foundation",
    "edu-qld-beginner",
    "edu-sa-beginner",
    "edu-tas-beginner",
    "edu-vic-wa-nt-beginner",
    "fuzzy-bubbles",
    "gaegu",
    "give-you-glory",
    "gloria-hallelujah",
    "gochi-hand",
    "grape-nuts",
    "hachi-maru-pop",
    "handlee",
    "homemade-apple",
    "indie-flower",
    "inspiration",
    "itim",
    "just-another-hand",
    "kalam",
    "klee-one",
    "kristi",
    "la-belle-aurore",
    "loved-by-the-king",
    "mali",
    "mynerve",
    "nanum-brush-script",
    "nanum-pen-script",
    "nerko-one",
    "neucha",
    "nothing-you-could-do",
    "over-the-rainbow",
    "pangolin",
    "patrick-hand",
    "permanent-marker",
    "playpen-sans",
    "reenie-beanie",
    "rock-salt",
    "schoolbell",
    "shadows-into-light",
    "shadows-into-light-two",
    "short-stack",
    "square-peg",
    "sriracha",
    "sue-ellen-francisco",
    "swanky-and-moo-moo",
    "the-girl-next-door",
    "waiting-for-the-sunrise",
    "walter-turncoat",
    "yomogi",
    "zen-kurenaido",
    "zeyada",
)
HELD_OUT_HANDWRITING = HANDWRITING_FAMILIES[3::4]


def handwriting_font_dir() -> Path:
    return Path(
        os.environ.get("MNISTLAB_HANDWRITING_FONTS", Path.home() / ".cache/mnistlab/handwriting-fonts")
    )


def handwriting_font_name(family: str) -> str:
    return f"{family}-latin-400-normal.woff"


def handwriting_fonts(families: tuple[str, ...]) -> tuple[str, ...]:
    """The font files of those of `families` fetched into handwriting_font_dir()."""
    folder = handwriting_font_dir()
    names = (handwriting_font_name(family) for family in families)
    return tuple(name for name in names if (folder / name).exists())


def _font_path(name: str) -> Path:
    import matplotlib

    if name.endswith(".woff"):
        return handwriting_font_dir() / name
    bundled = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    return bundled if bundled.exists() or name not in SYSTEM_FONTS else SYSTEM_FONT_DIR / name


def training_fonts() -> tuple[str, ...]:
    """The print-like fonts the refuser trains on: matplotlib's TRAINING_FONTS and the SYSTEM_FONTS here."""
    return TRAINING_FONTS + tuple(name for name in SYSTEM_FONTS if (SYSTEM_FONT_DIR / name).exists())


def training_handwriting_fonts() -> tuple[str, ...]:
    """The handwriting fonts the refuser trains on: those fetched here, the held-out ones excepted."""
    return handwriting_fonts(tuple(f for f in HANDWRITING_FAMILIES if f not in HELD_OUT_HANDWRITING))


def to_mnist(canvas: np.ndarray) -> np.ndarray | None:
    """A float ink picture (bright ink on 0) -> (28, 28) uint8 in MNIST's format, None if it holds no ink."""
    rows, columns = np.flatnonzero(canvas.max(axis=1) > 0.05), np.flatnonzero(canvas.max(axis=0) > 0.05)
    if rows.size == 0:
        return None
    crop = canvas[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    return np.round(centre_by_mass(fit_box(crop)) * 255).astype(np.uint8)


def _warp(picture: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Slant, rotate, stretch and wobble a picture elastically, as a hand would."""
    size = picture.shape[0]
    angle = np.deg2rad(rng.uniform(-20, 20) * strength)
    shear = rng.uniform(-0.35, 0.35) * strength
    stretch = np.exp(rng.uniform(-0.3, 0.3, 2) * strength)
    matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = matrix @ np.array([[1, shear], [0, 1]]) @ np.diag(stretch)
    centre = np.array([size / 2, size / 2])
    offset = centre - matrix @ centre
    warped = ndimage.affine_transform(picture, matrix, offset=offset, order=1)
    sigma, alpha = size / 12, size / 10 * strength
    field = [ndimage.gaussian_filter(rng.uniform(-1, 1, (size, size)), sigma) for _ in range(2)]
    field = [f / (np.abs(f).max() + 1e-9) * alpha for f in field]
    rows, columns = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return ndimage.map_coordinates(warped, [rows + field[0], columns + field[1]], order=1)


def _pen(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Change the stroke width: thinner or thicker pens, then a soft edge like a scanned stroke."""
    change = rng.integers(-1, 4)
    if change > 0:
        picture = ndimage.grey_dilation(picture, size=(change + 1, change + 1))
    elif change < 0:
        thinner = ndimage.grey_erosion(picture, size=(2, 2))
        picture = thinner if thinner.max() > 0.3 else picture
    return ndimage.gaussian_filter(picture, rng.uniform(0.3, 1.0))


def _glyph(text: str, font_name: str, rng: np.random.Generator) -> np.ndarray:
    font = ImageFont.truetype(str(_font_path(font_name)), size=int(rng.integers(40, 60)))
    image = Image.new("F", (CANVAS, CANVAS), 0.0)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(
        ((CANVAS - (right - left)) / 2 - left, (CANVAS - (bottom - top)) / 2 - top), text, 1.0, font=font
    )
    return np.asarray(image, dtype=np.float32)


def _path(points: np.ndarray, rng: np.random.Generator, width: int | None = None) -> np.ndarray:
    """Draw a pen path through points (K, 2) in [0, 1] on the canvas."""
    image = Image.new("F", (CANVAS, CANVAS), 0.0)
    width = width or int(rng.integers(3, 9))
    scaled = [tuple(p) for p in (0.1 + 0.8 * points) * CANVAS]
    ImageDraw.Draw(image).line(scaled, fill=1.0, width=width, joint="curve")
    return np.asarray(image, dtype=np.float32)


def _smooth_path(rng: np.random.Generator, count: int) -> np.ndarray:
    """A smooth random path through `count` random points (Catmull-Rom-like resampling)."""
    anchors = rng.uniform(0, 1, (count, 2))
    steps = np.linspace(0, count - 1, count * 12)
    return np.stack([np.interp(steps, np.arange(count), anchors[:, axis]) for axis in range(2)], axis=1)


def _draw(kind: str, rng: np.random.Generator, fonts: tuple[str, ...], digits: np.ndarray | None):
    if kind in ("letter", "symbol"):  # from print-like to loosely handwritten
        glyph = _glyph(rng.choice(list(LETTERS if kind == "letter" else SYMBOLS)), rng.choice(fonts), rng)
        return _pen(_warp(glyph, rng, rng.uniform(0.5, 1.6)), rng)
    if kind == "scribble":
        path = ndimage.gaussian_filter1d(_smooth_path(rng, int(rng.integers(6, 16))), 3, axis=0)
        return _pen(_path(path, rng), rng)
    if kind == "hatching":
        image = np.zeros((CANVAS, CANVAS), np.float32)
        for angle in rng.choice([0, 45, 90, 135, rng.uniform(0, 180)], size=int(rng.integers(1, 3))):
            lines = int(rng.integers(3, 9))
            direction = np.deg2rad(angle)
            for offset in np.linspace(-0.4, 0.4, lines):
                along = np.array([np.cos(direction), np.sin(direction)]) * 0.45
                across = np.array([-np.sin(direction), np.cos(direction)]) * offset
                ends = np.array([0.5 + across - along, 0.5 + across + along])
                image = np.maximum(image, _path(np.clip(ends + rng.normal(0, 0.02, (2, 2)), 0, 1), rng, 3))
        return _pen(_warp(image, rng, 0.5), rng)
    if kind == "blob":
        image = Image.new("F", (CANVAS, CANVAS), 0.0)
        corners = int(rng.integers(5, 12))
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        radii = rng.uniform(0.15, 0.45, corners) * CANVAS
        polygon = [
            (CANVAS / 2 + r * np.cos(a), CANVAS / 2 + r * np.sin(a))
            for r, a in zip(radii, angles, strict=True)
        ]
        ImageDraw.Draw(image).polygon(polygon, fill=float(rng.uniform(0.6, 1.0)))
        return ndimage.gaussian_filter(np.asarray(image, np.float32), rng.uniform(1, 6))
    if kind == "several":
        return _several(rng, digits)
    if kind == "tick":
        if rng.random() < 0.5:  # a check mark
            low = np.array([rng.uniform(0.3, 0.5), rng.uniform(0.8, 1.0)])
            points = np.array([[0.0, rng.uniform(0.4, 0.7)], low, [1.0, rng.uniform(0.0, 0.2)]])
            return _pen(_warp(_path(points, rng), rng, 0.5), rng)
        cross = _path(np.array([[0, 0], [1, 1]]), rng) + _path(np.array([[0, 1], [1, 0]]), rng)
        return _pen(_warp(np.clip(cross, 0, 1), rng, 0.5), rng)
    if kind == "zigzag":
        turns = int(rng.integers(4, 9))
        points = np.stack([np.linspace(0, 1, turns), np.tile([0.2, 0.8], turns)[:turns]], axis=1)
        return _pen(_warp(_path(points, rng), rng, 0.5), rng)
    if kind == "spiral":
        turn = np.linspace(0, rng.uniform(2.5, 4) * 2 * np.pi, 200)
        radius = 0.5 * turn / turn[-1]
        points = 0.5 + np.stack([radius * np.cos(turn), radius * np.sin(turn)], axis=1)
        return _pen(_warp(_path(points, rng), rng, 0.5), rng)
    raise ValueError(f"unknown kind of non-digit {kind!r}")


def _several(rng: np.random.Generator, digits: np.ndarray | None) -> np.ndarray:
    """Two or three digits written side by side, touching or apart."""
    if digits is None:
        raise ValueError("the 'several' kind needs digits to draw from")
    picks = digits[rng.choice(len(digits), size=int(rng.integers(2, 4)))].astype(np.float32) / 255
    row = picks[0]
    for digit in picks[1:]:
        gap = int(rng.integers(-4, 4))
        if gap < 0:  # overlapping columns: the ink adds up, as two strokes would
            joined = np.zeros((28, row.shape[1] + 28 + gap), np.float32)
            joined[:, : row.shape[1]] = row
            joined[:, row.shape[1] + gap :] = np.maximum(joined[:, row.shape[1] + gap :], digit)
            row = joined
        else:
            row = np.concatenate([row, np.zeros((28, gap), np.float32), digit], axis=1)
    return row


def not_digits(
    count: int,
    seed: int = 0,
    *,
    kinds: tuple[str, ...] = TRAINING_KINDS,
    fonts: tuple[str, ...] | None = None,
    digits: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(count, 28, 28) uint8 non-digit pictures in MNIST format and the kind of each (count,) str.
    Letters and symbols are drawn in `fonts`, by default training_fonts()."""
    fonts = training_fonts() if fonts is None else fonts
    rng = np.random.default_rng(seed)
    images, names = [], []
    while len(images) < count:
        kind = str(rng.choice(kinds))
        picture = to_mnist(np.clip(_draw(kind, rng, fonts, digits), 0, None))
        if picture is not None:
            images.append(picture)
            names.append(kind)
    return np.stack(images), np.array(names)


def font_digits(count: int, seed: int = 0, *, fonts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(count, 28, 28) uint8 digits written in `fonts` (handwriting fonts above all), warped and re-penned
    like the letters, in MNIST format, and their labels (count,) int: digits by other hands than MNIST's."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = []
    for label in labels:
        glyph = _glyph(str(label), rng.choice(fonts), rng)
        images.append(to_mnist(np.clip(_pen(_warp(glyph, rng, rng.uniform(0.3, 1.0)), rng), 0, None)))
    return np.stack(images), labels


def photo_like(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A (28, 28) uint8 MNIST-format picture as a cheap photo of it, prepared again by preprocess():
    (28, 28) uint8, or None when preprocess finds no ink in it. ~10 ms, against ~75 ms for photo_digits.py.

    Drawn at 40-110 px on a canvas up to 1.6x that, so preprocess() still brings it to its working size:
    paper of any tone with blotches, ink from black to faint pencil with pen-sharp or soft edges, a light
    gradient, defocus, sensor noise, sometimes JPEG, sometimes light ink on a dark board."""
    from mnistlab.pictures.images import NoDigitError
    from mnistlab.pictures.preprocess import preprocess

    size = int(rng.integers(40, 110))
    image = Image.fromarray(picture.astype(np.float32) / 255).resize((size, size), Image.Resampling.BICUBIC)
    coverage = np.clip(np.asarray(image), 0, 1)
    softness = rng.uniform(0.1, 0.5)  # MNIST's grey edges sharpened to a pen's, by a random amount
    coverage = np.clip((coverage - 0.5 + softness) / (2 * softness), 0, 1)
    shape = (int(size * rng.uniform(1.0, 1.6)), int(size * rng.uniform(1.0, 1.6)))
    top, left = int(rng.integers(0, shape[0] - size + 1)), int(rng.integers(0, shape[1] - size + 1))
    canvas = np.zeros(shape, np.float32)
    canvas[top : top + size, left : left + size] = coverage
    paper = rng.uniform(0.6, 0.98) + ndimage.gaussian_filter(rng.normal(size=shape), max(shape) / 10) * 0.3
    ink = rng.uniform(0.0, 0.35)
    strength = rng.uniform(0.6, 1.0)  # with paper at least 0.25 above the ink: a faint pencil still shows
    paper = np.maximum(paper, ink + 0.25)
    grey = paper * (1 - canvas * strength) + ink * canvas * strength
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]] / np.float32(max(shape)) - 0.5
    direction = rng.uniform(0, 2 * np.pi)
    grey = grey * (1 - rng.uniform(0, 0.4) * (np.cos(direction) * columns + np.sin(direction) * rows + 0.5))
    if rng.random() < 0.15:  # light ink on a dark board
        grey = 1 - grey
    grey = ndimage.gaussian_filter(grey, rng.uniform(0, size / 50))
    grey = grey + rng.normal(scale=rng.uniform(0.003, 0.04), size=shape)
    pixels = np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)
    if rng.random() < 0.4:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(rng.integers(30, 90)))
        pixels = np.asarray(Image.open(buffer))
    try:
        return preprocess(pixels)
    except NoDigitError:
        return None
