"""Turn a real picture of one digit into an MNIST-format image: (28, 28) uint8, white ink on black.

    from mnistlab.pictures.preprocess import preprocess
    digit = preprocess("photo_of_a_7.jpg")     # PNG, JPEG, BMP, GIF, WebP; grey, RGB or RGBA
    digit = preprocess(canvas_pixels)          # numpy (H, W) or (H, W, 1|3|4) arrays too

A model trained on MNIST expects MNIST's own normalisation, so the steps follow it:
1. decode to grey in [0, 1] (alpha composited onto white), smooth away the blocks of a low-resolution
   picture enlarged with nearest-neighbour pixels, and bring the longer side to WORK_SIDE px;
2. find the ink's polarity and make the ink bright (MNIST is white on black);
3. remove the background (uneven light, paper texture, noise) and stretch the ink to full contrast;
4. crop to the ink's bounding box, ignoring specks;
5. bring a box much wider than any digit back to a digit's proportions (other writers' scans are often
   stretched to fill their box), then scale the longer side to 20 px with area-averaging anti-aliasing;
6. centre by centre of mass in a 28 x 28 field (MNIST's digits have their centre of mass at (14, 14)).
A picture without visible ink raises NoDigitError rather than guessing.

Tight crops of other writers' scans (binarised, blocky, the digit touching the picture's edge) are read
as well as photos: the polarity and the paper's level come from the tone most of the edge has, not from
an edge that is one tone throughout, and a digit that fills its picture keeps the parts that touch the
edge (benchmarks/bench_other_writers.py, benchmarks/RESULTS.md "Other writers' tight scans").
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from mnistlab.pictures.images import NoDigitError, describe, read_image

WORK_SIDE = (160, 640)  # the longer side is brought into this range (px) so filter sizes mean the same
DIGIT_BOX = 20  # MNIST fits each digit's longer side to 20 px ...
FIELD = 28  # ... and centres it by mass in a 28 x 28 field
MIN_CONTRAST = 0.04  # ink must differ from its background by 4% of the grey range;
CLEAR_CONTRAST = 0.16  # ink fainter than 16% must also stand 4 noise deviations clear of the background
MIN_SIGNAL_TO_NOISE = 4.0  # and, on unevenly lit pictures, have sharp edges: stains and shadows have not
MAX_EDGE, EDGE_SCALE = 14.0, 400  # ink outlines rise within 14 px per 400 px of picture (stains: 15-60)
INK_CUT = 0.3  # ink below 30% of the way from background to typical ink level becomes background
EVEN_EDGE = 0.1  # a picture edge whose 10-90% spread is under this fraction of the grey range is even
EVEN_LIGHT = 0.25  # paper whose 5-95% spread is under this fraction of the ink contrast is evenly lit
MIN_SPECK_FRACTION = 0.08  # ink blobs smaller than this fraction of the largest blob are specks
MIN_PEAK = 0.5  # ... and so are blobs that never reach half the typical ink level
# Other writers' scans: tight, binarised, blocky, stretched (benchmarks/bench_other_writers.py).
FLAT_PAPER, FLAT_SHARE = 0.02, 0.1  # flat paper: 10% of the pixels within 2% of the range (+ noise) of it;
EDGE_FLAT, PAPER_FLAT = 0.8, 0.6  # with noise, 80% of the edge's paper and 60% of all of it
FILLS = 0.75  # a digit spanning 75% of the picture's height or width fills it: its parts touch the edge
BLOCK_STEP = 0.2  # neighbours differing by 20% of the grey range are on two sides of a block boundary
MIN_BLOCK, MIN_CELLS = 2.0, 4  # blocks are at least 2 px, and a blocky picture at least 4 cells across
# A tight crop's strokes cross two opposite sides: ink at half the contrast over at least 3% of each (a
# photo's shadow or vignette is fainter at its edge, and a speck narrower).
EDGE_INK, EDGE_STROKE = 0.5, 0.03
MARGIN = 0.25  # a tight crop gets a margin of paper this fraction of its longer side (MNIST: 4 px per 20)
MAX_WIDTH_RATIO = 1.25  # MNIST's ink boxes: width / height 1.11 at the 95th percentile, 1.43 at the 99th
# Ruled and squared paper (benchmarks/RESULTS.md, "Ruled and squared paper"): its printed lines cross the
# picture from edge to edge, straight, parallel, within a few degrees of level or plumb, thinner than a pen.
RULING_TILTS = np.deg2rad(np.arange(-6.0, 6.25, 0.5))  # tilts tried, in steps a line cannot slip through
RULING_SPAN = 0.75  # a printed line covers this share of the picture's width (or height) at least ...
RULING_COUNT = 2  # ... and is one of at least this many parallel ones (one full-width stroke may be a 7's)
RULING_THINNESS = 0.75  # and is at most this fraction of the width of the strokes left once erased


def preprocess(source, name: str | None = None) -> np.ndarray:
    """A file path, image bytes or pixel array -> (28, 28) uint8 MNIST-format digit."""
    label = describe(source, name)
    decoded = read_image(source, name=label)
    levels = grey_range(decoded)  # read by three steps below; worked out once (a pass over the picture)
    prepared = add_margin(unblock(decoded, levels), clean_paper(decoded, levels))
    grey = to_working_size(prepared)
    ink = ink_bright(grey, levels if grey is decoded else None)  # the same picture: the same levels
    strokes = erase_ruling(remove_background(ink, label))
    strokes = drop_specks(strokes)
    top, bottom, left, right = ink_box(strokes)
    digit = fit_box(digit_proportions(strokes[top:bottom, left:right]), DIGIT_BOX)
    field = centre_by_mass(digit, FIELD)
    return np.round(field * 255).astype(np.uint8)


def grey_range(grey: np.ndarray) -> tuple[float, float]:
    """(darkest, brightest): the 1st and 99th percentiles of the picture's grey levels (a sample of them)."""
    darkest, brightest = np.percentile(coarse(grey), [1, 99])
    return float(darkest), float(brightest)


def block_size(grey: np.ndarray, axis: int, levels: tuple[float, float] | None = None) -> float:
    """The size (px) of the blocks along `axis` of a picture enlarged with nearest-neighbour pixels; 1.0
    when the picture is not blocky.

    Enlarging n pixels to L with nearest neighbours puts every change of grey level on a grid line
    k * L / n (rounded: PIL samples pixel centres; np.repeat and floor-based scalers round up). The
    smallest n whose grid holds every position where neighbours differ clearly, and that has changes on
    at least a third of its lines, gives the block size L / n. A photo changes almost everywhere.
    levels: grey_range(grey), when known.
    """
    length = grey.shape[axis]
    darkest, brightest = levels or grey_range(grey)
    jumps = np.abs(np.diff(grey, axis=axis)) > BLOCK_STEP * max(float(brightest - darkest), 1e-6)
    boundaries = np.flatnonzero(jumps.any(axis=1 - axis)) + 1  # x: pixel x differs from pixel x - 1
    for cells in range(max(MIN_CELLS, boundaries.size + 1), int(length / MIN_BLOCK) + 1):
        if boundaries.size < (cells - 1) / 3:
            break  # too few changes to tell a grid of this many cells, and of any finer one
        lines = np.arange(1, cells) * (length / cells)
        on_grid = np.zeros(length + 1, dtype=bool)  # a table, not np.isin: this loop runs for every picture
        on_grid[np.floor(lines + 0.5).astype(np.intp)] = True
        on_grid[np.ceil(lines - 1e-6).astype(np.intp)] = True
        if on_grid[boundaries].all():
            return length / cells
    return 1.0


def unblock(grey: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """A picture enlarged with nearest-neighbour pixels (a low-resolution scan, pixel art) -> the same,
    smoothed across its blocks so that its strokes have the soft edges of a pen; others unchanged.

    Without it, the blocks of an 8 x 8 scan survive as steps in the 20 px digit box.
    """
    levels = levels or grey_range(grey)
    blocks = [block_size(grey, axis, levels) for axis in (0, 1)]
    if max(blocks) < MIN_BLOCK:
        return grey
    # A running mean one block wide turns nearest-neighbour pixels into linear interpolation between the
    # blocks' centres, which keeps their levels there (a Gaussian as wide thins one-block strokes).
    size = [max(1, round(block)) for block in blocks]
    return ndimage.uniform_filter(grey.astype(np.float32), size, mode="nearest")


def clean_paper(grey: np.ndarray, levels: tuple[float, float] | None = None) -> float | None:
    """The paper's grey level when the picture is a tight crop of a scan on flat paper, else None.

    Judged on the picture as decoded, before unblock() and to_working_size() blur it. The strokes of a
    tight crop touch its edge, so the edge is not one tone; the paper is the side of Otsu's split that
    most of the edge is on. That majority can mislead on photos (a vignetted corner may be darker than
    pencil), so the paper must also be flat, as a photo's is not: noiseless (a digital or binarised
    picture) with FLAT_SHARE of its pixels at the paper's level, or, with noise, EDGE_FLAT of the edge's
    paper and PAPER_FLAT of all the paper at that level (within FLAT_PAPER of the grey range plus
    3 noise deviations). And the crop must be tight: strokes (ink at EDGE_INK of the range) cross two
    opposite sides of the picture, over EDGE_STROKE of each. (Checked first: it reads the edges alone,
    and most pictures are not tight crops. levels: grey_range(grey), when known.)
    """
    sample = coarse(grey)
    floor, top = levels or grey_range(grey)
    spread = float(top - floor)
    if spread < MIN_CONTRAST:
        return None
    split = otsu_threshold(sample)
    light_paper = np.mean(picture_edge(grey) > split) > 0.5
    orient = (lambda values: 1.0 - values) if light_paper else (lambda values: values)  # paper dark
    split = 1.0 - split if light_paper else split
    level = float(np.percentile(orient(sample), 5))  # the paper is the darkest tenth, at least, of `bright`
    edge_ink = level + EDGE_INK * spread
    sides = (grey[0], grey[-1], grey[:, 0], grey[:, -1])  # top, bottom, left, right
    crossed = [np.mean(orient(side) > edge_ink) >= EDGE_STROKE for side in sides]
    if not ((crossed[0] and crossed[1]) or (crossed[2] and crossed[3])):
        return None
    bright = orient(grey)
    steps = np.diff(coarse(bright), axis=int(bright.shape[1] > 1)).ravel()
    noise = 1.4826 * float(np.median(np.abs(steps))) / np.sqrt(2) if steps.size else 0.0
    paper = np.abs(bright - level) <= FLAT_PAPER * spread + 3 * noise
    on_paper_side = bright <= split
    edge_paper = picture_edge(paper)[picture_edge(on_paper_side)]
    if noise > 0:
        flat = (
            edge_paper.size > 0
            and edge_paper.mean() >= EDGE_FLAT
            and paper[on_paper_side].mean() >= PAPER_FLAT
        )
    else:
        flat = paper.mean() >= FLAT_SHARE
    return float(np.median(grey[paper])) if flat else None


def add_margin(grey: np.ndarray, paper: float | None) -> np.ndarray:
    """A tight crop -> the same with a margin of `paper` (its paper's grey level) around it, MARGIN of its
    longer side wide; unchanged when paper is None.

    Every later step expects what MNIST, a photo and a scan with margins have: paper around the digit,
    and more paper than ink. A tight crop of a bold digit is often more ink than paper, and its edge is
    where the strokes are.
    """
    if paper is None:
        return grey
    width = max(1, round(MARGIN * max(grey.shape)))
    return np.pad(grey.astype(np.float32), width, constant_values=paper)


def to_working_size(grey: np.ndarray) -> np.ndarray:
    """(H, W) float -> the same picture with its longer side within WORK_SIDE (itself, if float32 already
    and of such a size)."""
    height, width = grey.shape
    smallest, largest = WORK_SIDE
    scale = min(max(max(height, width), smallest), largest) / max(height, width)
    if scale == 1:
        return grey.astype(np.float32, copy=False)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(grey.astype(np.float32)).resize(size, resample)
    return np.asarray(resized, dtype=np.float32)


def coarse(picture: np.ndarray, side: int = 160) -> np.ndarray:
    """Every k-th pixel, so the longer side is about `side`: enough for statistics of the whole picture."""
    step = max(1, max(picture.shape) // side)
    return picture[::step, ::step]


def shading(grey: np.ndarray) -> np.ndarray:
    """The broad light across the picture: a least-squares quadratic surface, (H, W) like grey.

    A gradient, a vignette and most of a soft shadow are smooth. The ink would bend the surface, so
    it is fitted twice, the second time without the pixels the first fit explained worst.
    """
    height, width = grey.shape
    rows = np.linspace(-0.5, 0.5, height)[:, None]
    columns = np.linspace(-0.5, 0.5, width)[None, :]
    terms = [np.ones_like(rows * columns), rows, columns, rows**2, columns**2, rows * columns]
    design = np.stack([coarse(np.broadcast_to(term, grey.shape)).ravel() for term in terms], axis=1)
    values = coarse(grey).ravel()
    used = np.ones(len(values), dtype=bool)
    for _ in range(2):  # fit, then refit without the 30% of pixels furthest off: most of the ink
        # Least squares, not the normal equations: a picture one pixel high makes them singular.
        coefficients = np.linalg.lstsq(design[used], values[used], rcond=None)[0]
        misfit = np.abs(design @ coefficients - values)
        used = misfit <= np.percentile(misfit, 70)
    return sum(c * term for c, term in zip(coefficients, terms, strict=True))


def ink_is_dark(grey: np.ndarray, levels: tuple[float, float] | None = None) -> bool:
    """True for dark ink on light paper, False for light strokes on a dark background.

    Where the picture's edge is one even tone (a canvas, MNIST itself) that tone is the paper and the
    ink is the other end of the grey range. Otherwise the broad shading is subtracted; the paper is then
    the bulk of the pixels near zero and the ink the longer tail: far below zero for dark ink, far above
    it for light ink. levels: grey_range(grey), when known.
    """
    darkest, brightest = levels or grey_range(grey)
    edge_low, edge_middle, edge_high = np.percentile(picture_edge(grey), [10, 50, 90])
    if edge_high - edge_low < EVEN_EDGE * (brightest - darkest):
        return bool(edge_middle > (darkest + brightest) / 2)
    darkest, brightest = np.percentile(coarse(grey - shading(grey)), [1, 99])
    return bool(-darkest > brightest)


def ink_bright(grey: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """Grey picture -> the same with ink bright, as in MNIST (dark ink on paper is inverted)."""
    return 1.0 - grey if ink_is_dark(grey, levels) else grey


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


def picture_edge(grey: np.ndarray, width: int = 2) -> np.ndarray:
    """The pixels of the outermost `width` rows and columns, flattened."""
    return np.concatenate(
        [grey[:width].ravel(), grey[-width:].ravel(), grey[:, :width].ravel(), grey[:, -width:].ravel()]
    )


def is_evenly_lit(smooth: np.ndarray) -> bool:
    """True when the background is one level: an even picture edge (a canvas, MNIST itself), or paper
    whose 5-95% spread is small next to the ink contrast (a scan, a well-lit photo)."""
    sample = coarse(smooth)
    darkest, brightest = np.percentile(sample, [1, 99])
    edge_low, edge_high = np.percentile(picture_edge(smooth), [10, 90])
    if edge_high - edge_low < EVEN_EDGE * (brightest - darkest):
        return True
    split = otsu_threshold(sample)
    paper, ink = sample[sample <= split], sample[sample > split]
    if not (paper.size and ink.size):
        return True
    paper_spread = float(np.subtract(*np.percentile(paper, [95, 5])))
    return paper_spread < EVEN_LIGHT * float(np.median(ink) - np.median(paper))


def flatten_background(smooth: np.ndarray) -> tuple[np.ndarray, bool]:
    """Bright-ink picture -> (ink above a background of ~0, whether the picture was evenly lit).

    Evenly lit, the background is one level (its median): subtracting it keeps even thick strokes solid.
    Otherwise the background is a grey opening (a running minimum then maximum) wider than the strokes:
    it erases them but follows light gradients, vignetting and shadows, so subtracting it flattens them.
    """
    if is_evenly_lit(smooth):
        paper = smooth[smooth <= otsu_threshold(smooth)]
        background = float(np.median(paper if paper.size else smooth))
        return np.clip(smooth - background, 0, None), True
    # Start narrow, so vignetting and shadows count as background; widen once if strokes are thicker.
    width = max(smooth.shape) // 8 | 1
    strokes = top_hat(smooth, width)
    needed = 3 * stroke_width(strokes > otsu_threshold(strokes))
    if needed > width:
        strokes = top_hat(smooth, int(min(needed, max(smooth.shape) / 2)) | 1)
    return strokes, False


def edge_width(strokes: np.ndarray, level: float, contrast: float) -> float:
    """How many px the ink takes to rise by `contrast` where it crosses `level` (contrast / slope).

    Pen strokes have sharp outlines even when defocused; stains and shading rise over tens of pixels.
    """
    mask = strokes > level
    outline = mask ^ ndimage.binary_erosion(mask)
    if not outline.any():
        return float("inf")
    slope = np.hypot(ndimage.sobel(strokes, axis=0), ndimage.sobel(strokes, axis=1)) / 8  # per px
    return contrast / max(float(slope[outline].mean()), 1e-9)


def remove_background(ink: np.ndarray, label: str = "image") -> np.ndarray:
    """Bright-ink picture -> strokes in [0, 1] on exactly 0, with shading, texture and noise removed.

    After flattening, the bulk of the pixels is background: its median and spread (median absolute
    deviation) give the noise. Among the pixels clear of that noise, Otsu's threshold finds the ink and
    its typical level, which becomes 1; pixels less than INK_CUT of the way up from the background
    become 0. There is no digit unless the ink stands out by MIN_CONTRAST; faint ink (under
    CLEAR_CONTRAST) must also clear the noise and, on unevenly lit pictures (where stains and shadows
    remain), have sharp edges.
    """
    smooth = ndimage.gaussian_filter(ink, sigma=max(ink.shape) / 400 + 0.5)  # sensor noise, JPEG blocks
    strokes, evenly_lit = flatten_background(smooth)
    background = float(np.median(strokes))
    noise = 1.4826 * float(np.median(np.abs(strokes - background)))  # = std for Gaussian noise
    candidates = strokes[strokes > background + 3 * noise]
    split = otsu_threshold(candidates) if candidates.size else background
    above = candidates[candidates > split]
    contrast = (float(np.median(above)) if above.size else background) - background
    threshold = background + INK_CUT * contrast
    no_digit = NoDigitError(f"no digit found in {label}: no ink stands out from the background")
    if contrast < MIN_CONTRAST:
        raise no_digit
    if contrast < CLEAR_CONTRAST:  # faint: it must rise clearly above the noise, with sharp edges
        halfway = background + contrast / 2
        blurry = edge_width(strokes, halfway, contrast) * EDGE_SCALE / max(ink.shape) > MAX_EDGE
        if contrast < MIN_SIGNAL_TO_NOISE * noise or (blurry and not evenly_lit):
            raise no_digit
    return np.clip((strokes - threshold) / (1 - INK_CUT) / contrast, 0, 1).astype(np.float32)


def erase_ruling(strokes: np.ndarray, least: int = RULING_COUNT) -> np.ndarray:
    """Strokes -> the same without the printed lines of ruled or squared paper; others unchanged.

    Lines of either direction are looked for only when at least two ink runs reach each of the two
    picture edges they would cross (most pictures have none there: a cheap test). A line is then a band,
    straight at one of RULING_TILTS, whose ink covers RULING_SPAN of the picture across, and only a family
    of `least` (RULING_COUNT) or more parallel ones thinner than the pen's strokes (RULING_THINNESS) counts
    as ruling: the strokes of a 7 or of a row of 1s may be long and straight, but they are as wide as the
    rest of the writing. Within the bands, only ink that is the line alone is erased: a run of ink down a
    column no longer than the line is thick. A stroke that crosses a line, ends on it or runs along it
    makes that run longer and stays whole, so a digit written across a line stays one piece.
    """
    for axis in (0, 1):  # 0: lines along the rows (ruled paper), 1: along the columns (squared paper)
        picture = strokes if axis == 0 else strokes.T
        runs = sorted(_runs(edge > 0) for edge in (picture[:, 0], picture[:, -1]))
        if runs[0] < 1 or runs[1] < least:  # a line near a corner may leave through the top or bottom
            continue
        found = _ruling_bands(picture > 0, least)
        if found is None:
            continue
        bands, thickness = found
        zone = ndimage.binary_dilation(bands, structure=np.ones((5, 1), bool))  # with the soft edges
        line_alone = zone & (_run_lengths(picture > 0) <= np.ceil(1.5 * thickness) + 1)
        picture = np.where(line_alone, 0, picture).astype(np.float32)
        strokes = picture if axis == 0 else picture.T
    return strokes


def _run_lengths(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool -> for each True pixel, the length of the run of True down its column that holds it."""
    starts = mask & ~np.vstack([np.zeros((1, mask.shape[1]), bool), mask[:-1]])
    run = np.cumsum(starts, axis=0) * mask.shape[1] + np.arange(mask.shape[1])  # a number per column run
    lengths = np.bincount(run[mask], minlength=int(run.max()) + 1)
    return np.where(mask, lengths[run], 0)


def _runs(inked: np.ndarray) -> int:
    """How many separate runs of True a 1-D boolean array holds."""
    return int(np.count_nonzero(np.diff(inked.astype(np.int8), prepend=0) == 1))


def _ruling_bands(mask: np.ndarray, least: int) -> tuple[np.ndarray, float] | None:
    """(where the printed lines along the rows of `mask` (H, W bool ink) lie, their thickness in px), or
    None where there are none.

    Each tilt shears the ink so that lines of that tilt become rows; on a sample of the picture (about
    160 px across), then at full size around the sample's tilt, a run of rows covered over RULING_SPAN
    of the width is a line (_lines_across). There must be `least` of them at least, thinner than the
    strokes left once they are erased.
    """
    step = max(1, max(mask.shape) // 160)
    lines, tilt = _lines_across(mask[::step, ::step], RULING_TILTS)
    if len(lines) < least:
        return None
    lines, tilt = _lines_across(mask, tilt + np.deg2rad(np.linspace(-0.5, 0.5, 11)))
    if len(lines) < least:
        return None
    rows, columns = np.indices(mask.shape)
    sheared = rows - columns * np.tan(tilt)
    bands, thicknesses = np.zeros(mask.shape, bool), []
    for first, last in lines:
        band = (sheared >= first - 1) & (sheared <= last + 1) & mask
        thicknesses.append(band.sum() / max(1, np.count_nonzero(band.any(axis=0))))
        bands |= band
    thickness, left = float(np.median(thicknesses)), mask & ~bands
    if not left.any() or thickness > RULING_THINNESS * stroke_width(left):
        return None  # as wide as the writing: strokes, not printed lines
    return bands, thickness


def _lines_across(mask: np.ndarray, tilts: np.ndarray) -> tuple[list[tuple[int, int]], float]:
    """(the lines, as runs [first, last] of sheared rows covered over RULING_SPAN of the width, and their
    tilt): the tilt is the one whose rows are covered most unevenly (the largest sum of squared row
    coverages), as straight lines are only at their own tilt; writing is covered alike at any."""
    height, width = mask.shape
    rows, columns = np.nonzero(mask)
    margin = int(np.ceil(width * np.tan(np.max(np.abs(tilts))))) + 1
    best, best_grid, best_energy = 0.0, None, -1.0
    for tilt in tilts:
        sheared = np.round(rows - columns * np.tan(tilt)).astype(np.intp) + margin
        grid = np.zeros((height + 2 * margin + 1, width), bool)
        grid[sheared, columns] = True
        energy = float(np.square(grid.mean(axis=1)).sum())
        if energy > best_energy:
            best, best_grid, best_energy = float(tilt), grid, energy
    # A line may straddle two rows: a pair of rows covered together counts, and both are the line's. A
    # line near a corner of a turned page leaves through the top or bottom: it counts by its visible part.
    # Column c's pixels land on the consecutive sheared rows low[c]..high[c]; a pair (s, s + 1) sees the
    # column when s is in [low - 1, high].
    offsets = np.arange(width) * np.tan(best)
    low = np.round(-offsets).astype(np.intp) + margin
    high = np.round(height - 1 - offsets).astype(np.intp) + margin
    seen = np.zeros(len(best_grid) + 1, np.intp)
    np.add.at(seen, low - 1, 1)
    np.add.at(seen, high + 1, -1)
    visible = np.cumsum(seen)[: len(best_grid) - 1]
    inked = (best_grid[:-1] | best_grid[1:]).sum(axis=1)
    long_enough = visible >= RULING_SPAN * width / 2  # not a corner's few pixels
    covered = np.append(long_enough & (inked >= RULING_SPAN * visible), False).astype(np.int8)
    starts = np.flatnonzero(np.diff(covered, prepend=0) == 1)
    ends = np.flatnonzero(np.diff(covered, append=0) == -1) + 1
    return [(int(a) - margin, int(b) - margin) for a, b in zip(starts, ends, strict=True)], best


def drop_specks(strokes: np.ndarray) -> np.ndarray:
    """Keep the largest ink blob and the blobs that belong with it; erase dust, grain and edge shading.

    A blob is kept if it is at least MIN_SPECK_FRACTION of the largest, reaches MIN_PEAK of the ink
    level somewhere (grain barely clears zero) and does not touch the picture's edge (where leftover
    vignetting and shadows collect; a digit is rarely cut by the frame), unless the largest blob fills
    the picture (FILLS of its height or width): then the picture is a tight crop and the edge is where
    the digit's other strokes are.
    """
    blobs, count = ndimage.label(strokes > 0, structure=np.ones((3, 3)))
    if count <= 1:
        return strokes
    labels = np.arange(1, count + 1)
    areas = np.bincount(blobs.ravel(), minlength=count + 1)[1:]
    inked = blobs > 0
    peaks = np.zeros(count + 1, np.float32)  # each blob's highest ink (ndimage.maximum sorts: slower)
    np.maximum.at(peaks, blobs[inked], strokes[inked])
    peaks = peaks[1:]
    largest = int(np.argmax(areas))
    rows, columns = ndimage.find_objects(blobs)[largest]
    fills = rows.stop - rows.start >= FILLS * strokes.shape[0] or (
        columns.stop - columns.start >= FILLS * strokes.shape[1]
    )
    at_edge = np.isin(labels, picture_edge(blobs, width=1)) & (not fills)
    keep = (areas >= MIN_SPECK_FRACTION * areas.max()) & (peaks >= MIN_PEAK) & ~at_edge
    keep[largest] = True
    kept = np.concatenate([[False], keep])  # by blob label (0: no ink); faster than np.isin over the picture
    return np.where(kept[blobs], strokes, 0).astype(np.float32)


def ink_box(strokes: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom/right exclusive, of the nonzero pixels."""
    rows = np.flatnonzero(strokes.any(axis=1))
    columns = np.flatnonzero(strokes.any(axis=0))
    if rows.size == 0:
        raise NoDigitError("no digit found: the picture holds no ink")
    return int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1


def digit_proportions(digit: np.ndarray) -> np.ndarray:
    """A box of ink much wider than any digit (a scan stretched to fill a wide box) -> narrowed to
    MAX_WIDTH_RATIO times its height, by area averaging; other boxes unchanged."""
    height, width = digit.shape
    if width <= MAX_WIDTH_RATIO * height:
        return digit
    size = (max(1, round(MAX_WIDTH_RATIO * height)), height)
    narrowed = Image.fromarray(digit.astype(np.float32)).resize(size, Image.Resampling.BOX)
    return np.clip(np.asarray(narrowed, dtype=np.float32), 0, None)


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
