"""Split a picture of a number written on one line into its digits, left to right (no model here).

    line = find_line("2026.jpg")                     # the picture's strokes, cut into pieces
    options = hypotheses(line)                       # runs of neighbouring pieces that may be one digit
    probabilities = classifier.predict_proba(np.stack([o.image for o in options]))   # one batch
    digits = best_reading(line, options, probabilities, wholeness, digitness)   # the best partition

The strokes are found with preprocess.py's own steps (decode, working size, ink bright, background
and the lines of ruled or squared paper removed), then split into connected blobs; specks are dropped. A
blob wide enough to hold two touching digits is also cut at candidate columns: the minima of its ink
profile, the valleys of its top outline and the peaks of its bottom one. Each run of up to MAX_PIECES
neighbouring pieces (in reading order) is a hypothesis: one digit, whose 28 x 28 image is made exactly
as preprocess() makes one digit (fit into 20 px, centred by mass in 28 x 28). A dynamic programme then
picks the partition of the pieces into digits with the best total score. A digit's score adds
- the classifier's log-probability of its best class (CLASSIFIER_WEIGHT),
- the log-odds that it is one whole digit, not a part of one nor several (`wholeness`, from
  wholeness.py's network, which sees the hypothesis and its surroundings; WHOLENESS_WEIGHT),
- the log-probability that it is a digit at all, from the refuser (refuser.py; REFUSER_WEIGHT): half a
  digit or a stroke cut off its neighbour often looks like a letter or a tick,
- a prior on its shape: height against the line's, width against its height and the line's, and
  separate blobs lying side by side rather than over one another (a digit's broken strokes overlap).
Boxes are (x0, y0, x1, y1) in the original picture's pixels, x1 and y1 exclusive (as PIL's crop box).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image
from scipy import ndimage

from mnistlab.pictures.images import NoDigitError, describe, read_image
from mnistlab.pictures.preprocess import (
    DIGIT_BOX,
    FIELD,
    MIN_PEAK,
    centre_by_mass,
    erase_ruling,
    fit_box,
    ink_bright,
    remove_background,
    to_working_size,
)

# All lengths are fractions of the line's height (the typical digit height), so they hold at any size.
SPECK_SIZE = 0.2  # a blob whose width and height are both under this is a speck
MIN_CUT_WIDTH = 0.75  # blobs narrower than this are never cut (95% of single digits are wider)
MIN_PIECE = 0.1  # no cut closer than this to a blob's edge or to another profile minimum
VALLEY_REACH = 0.3  # a cut's valley compares the outline with its extremes this far either side
MIN_VALLEY, MAX_VALLEY = -0.2, 0.8
MAX_PIECES = 6  # pieces one digit may be made of
MAX_DIGIT_WIDTH = 1.6  # a run of pieces wider than this is never one digit
SKIPPABLE_SIZE = 0.45  # a piece smaller than this both ways may be left out as a stray mark ...
SKIP_COST = 2.0  # ... at this cost (log units)
# The score of one digit (log units); weights measured on numbers made of MNIST train[50000:] digits
# (benchmarks/bench_read.py --digits held-out), never on the test digits the benchmark reports.
CLASSIFIER_WEIGHT = 2.0  # times the log-probability of its best class
WHOLENESS_WEIGHT = 0.5  # times the log-odds that it is one whole digit
# times the log-probability that it is a digit at all, from the refuser (refuser.py: one view, floored
# at MIN_DIGITNESS): on 3,000 numbers of held-out digits 0.9067 -> 0.9113 (weight 1) and 0.9127 (2)
# read exactly (benchmarks/RESULTS.md, "the refuser's word in reading numbers")
REFUSER_WEIGHT = 1.5
MIN_DIGITNESS = 1e-4
DIGIT_COST = 0.0  # per digit read
SHORT_HEIGHT, SHORT_COST = 0.75, 10.0  # per line height of its height below 0.75 line heights
WIDE_ASPECT, WIDE_COST = 1.5, 6.0  # per unit of width / height above 1.5 (1% of MNIST's digits)
LINE_WIDTH, LINE_WIDTH_COST = 1.3, 8.0  # per line height of its width above 1.3 line heights
JOIN_OVERLAP, JOIN_COST = 0.5, 6.0  # per unit of overlap below half the narrower blob's width


@dataclass(frozen=True)
class Line:
    """The strokes of one line of digits at working size, and how they map back to the picture."""

    strokes: np.ndarray  # (H, W) float32 in [0, 1], ink bright on exactly 0
    blobs: np.ndarray  # (H, W) int32: connected blob number per pixel, 0 for background and specks
    height: float  # the typical digit height, in working px
    pieces: list[Piece]  # in reading order (left to right by centre)
    scale: tuple[float, float]  # original picture px per working px, (x, y)


@dataclass(frozen=True)
class Cut:
    """A cut down one column of a blob, between two of its parts."""

    strokes: int  # runs of ink it goes through
    valley: float  # how deep the blob's outline dips there, in line heights (see valley())


@dataclass(frozen=True, eq=False)
class Piece:
    """Part of one blob: all of it, or what lies between two cuts. Box ends are exclusive."""

    blob: int
    left: int
    top: int
    right: int
    bottom: int
    mask: np.ndarray  # (bottom - top, right - left) bool: its pixels within its box
    centre: float  # its ink's centre of mass, x in working px: the reading order
    part: int = 0  # which part of its blob, counted from the left
    cut: Cut | None = None  # the cut that severed it from the part on its left (None for part 0)


@dataclass(frozen=True)
class Placement:
    """How a box of working px maps into the 28 x 28 image: image px = (working px - box corner) *
    scale + offset, per axis (rows, columns), as fit_box and centre_by_mass placed it."""

    scale: tuple[float, float]
    offset: tuple[int, int]


@dataclass(frozen=True)
class Hypothesis:
    """Pieces first..last (inclusive, in reading order) read as one digit."""

    first: int
    last: int
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in working px, x1 and y1 exclusive
    image: np.ndarray  # (28, 28) uint8, MNIST format, as preprocess() makes one digit
    placement: Placement  # where its box went in the 28 x 28 image
    spans: tuple[tuple[int, int], ...]  # each blob's columns [left, right) in it, left to right
    left_cuts: tuple[Cut, ...]  # the cuts that sever it from pieces on its left
    right_cuts: tuple[Cut, ...]  # and on its right


@dataclass(frozen=True)
class Digit:
    """One digit read: its label, the classifier's probability of it and its box in the picture."""

    label: int
    probability: float
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the original picture's px, exclusive ends
    image: np.ndarray  # (28, 28) uint8 that the classifier saw


def find_line(source, name: str | None = None) -> Line:
    """A picture (path, bytes or pixels) -> its strokes cut into pieces; NoDigitError without ink."""
    label = describe(source, name)
    grey = read_image(source, name=label)
    working = to_working_size(grey)
    # One line counts as ruling here: a number is written on it, and no digit is a line across the picture.
    strokes = erase_ruling(remove_background(ink_bright(working), label), least=1)
    original_width, original_height = original_size(source, grey.shape)
    scale = (original_width / working.shape[1], original_height / working.shape[0])
    blobs, height = blobs_and_height(strokes)
    strokes = np.where(blobs > 0, strokes, 0).astype(np.float32)
    return Line(strokes, blobs, height, cut_pieces(strokes, blobs, height), scale)


def original_size(source, decoded_shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the picture as given, upright; decoding may have reduced it (images.py)."""
    if isinstance(source, np.ndarray):
        return source.shape[1], source.shape[0]
    try:
        file = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source
        if not isinstance(file, (str, os.PathLike, io.BytesIO)):
            raise TypeError("a stream already read")
        with Image.open(file) as image:  # the header only
            width, height = image.size
            if image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):  # stored sideways
                width, height = height, width
        return width, height
    except Exception:  # the picture was decoded once already; fall back to what decoding gave
        return decoded_shape[1], decoded_shape[0]


def blobs_and_height(strokes: np.ndarray) -> tuple[np.ndarray, float]:
    """Strokes -> (blob number per pixel with specks removed, the line's typical digit height in px).

    The height is the median height of the tall blobs (at least half the tallest): a broken stroke,
    a speck or a short digit does not lower it. Specks are blobs small both ways, or too faint.
    """
    blobs, count = ndimage.label(strokes > 0, structure=np.ones((3, 3)))
    if count == 0:
        raise NoDigitError("no digit found: the picture holds no ink")
    boxes = ndimage.find_objects(blobs)
    heights = np.array([box[0].stop - box[0].start for box in boxes])
    widths = np.array([box[1].stop - box[1].start for box in boxes])
    peaks = np.asarray(ndimage.maximum(strokes, blobs, index=np.arange(1, count + 1)))
    height = float(np.median(heights[heights >= heights.max() / 2]))
    speck = ((heights < SPECK_SIZE * height) & (widths < SPECK_SIZE * height)) | (peaks < MIN_PEAK)
    if speck.all():  # nothing but specks: keep the largest, so that something is read
        speck[np.argmax(heights * widths)] = False
    kept = np.concatenate([[0], np.where(speck, 0, np.arange(1, count + 1))])
    return kept[blobs].astype(np.int32), height


def cut_pieces(strokes: np.ndarray, blobs: np.ndarray, height: float) -> list[Piece]:
    """Every blob, wide ones cut at candidate columns, as pieces in reading order."""
    pieces = []
    for number, box in enumerate(ndimage.find_objects(blobs), start=1):
        if box is None:  # a speck's number
            continue
        ink = np.where(blobs[box] == number, strokes[box], 0)
        inked = ink > 0
        top = np.argmax(inked, axis=0)  # the blob's top contour: its first inked row per column
        bottom = len(ink) - 1 - np.argmax(inked[::-1], axis=0)  # and its bottom contour
        cuts = cut_columns(ink.sum(axis=0), top, bottom, height)
        for part, (left, right) in enumerate(zip([0, *cuts], [*cuts, ink.shape[1]], strict=True)):
            mask = np.zeros(ink.shape, dtype=bool)
            mask[:, left:right] = inked[:, left:right]
            cut = Cut(crossed(inked[:, left]), valley(top, bottom, left, height)) if part else None
            pieces.append(make_piece(number, mask, ink, (box[0].start, box[1].start), part, cut))
    return sorted(pieces, key=lambda piece: piece.centre)


def make_piece(
    blob: int, mask: np.ndarray, ink: np.ndarray, corner: tuple[int, int], part: int, cut: Cut | None
) -> Piece:
    """A Piece from its mask within the blob's box, whose corner is (top, left) in the picture."""
    top, left = corner
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    weights = np.where(mask, ink, 0).sum(axis=0)
    centre = left + float((weights * np.arange(len(weights))).sum() / max(weights.sum(), 1e-9))
    return Piece(
        blob,
        left + int(columns[0]),
        top + int(rows[0]),
        left + int(columns[-1]) + 1,
        top + int(rows[-1]) + 1,
        mask[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1],
        centre,
        part,
        cut,
    )


def cut_columns(profile: np.ndarray, top: np.ndarray, bottom: np.ndarray, height: float) -> list[int]:
    """Columns of a blob where a boundary between two touching digits may lie (the first column right of it).

    The minima of its ink profile (ink per column, lightly smoothed), lowest first, then the valleys of
    its top contour and the peaks of its bottom one (where two digits' rounded sides meet, the ink
    profile may have no minimum). Candidates lie at least MIN_PIECE from the blob's edges and from each
    other (half that for contour candidates); a blob narrower than MIN_CUT_WIDTH is never cut.
    """
    width = len(profile)
    margin = max(2, round(MIN_PIECE * height))
    if width < MIN_CUT_WIDTH * height or width <= 2 * margin:
        return []
    smooth = np.convolve(np.pad(profile, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    chosen: list[int] = []
    candidates = [(sorted(valleys(smooth), key=lambda c: smooth[c]), margin)]
    candidates += [(valleys(-top.astype(float)), margin // 2), (valleys(bottom.astype(float)), margin // 2)]
    for columns, spacing in candidates:
        for column in columns:
            inside = margin <= column <= width - margin
            if inside and all(abs(column - other) >= spacing for other in chosen):
                chosen.append(int(column))
    return sorted(chosen)


def valleys(values: np.ndarray) -> list[int]:
    """The local minima of a 1-D array; a flat valley counts once, at its middle."""
    found = []
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and abs(values[end + 1] - values[start]) < 1e-6:
            end += 1
        lower_than_left = start == 0 or values[start - 1] > values[start]
        lower_than_right = end == len(values) - 1 or values[end + 1] > values[start]
        if lower_than_left and lower_than_right:
            found.append((start + end) // 2)
        start = end + 1
    return found


def crossed(column: np.ndarray) -> int:
    """How many strokes a cut down this column (bool, inked) goes through: its runs of ink."""
    return int(np.count_nonzero(column[1:] & ~column[:-1]) + column[0])


def valley(top: np.ndarray, bottom: np.ndarray, column: int, height: float) -> float:
    """How deep the blob's outline dips at `column`, from above plus from below, in line heights.

    Between two touching digits the top contour sinks below both digits' tops and the bottom contour
    rises above both bottoms; inside one digit (the middle of a 0 or an 8) both are at their extremes.
    Each side compares with the highest (lowest) point within VALLEY_REACH line heights.
    """
    reach = max(2, round(VALLEY_REACH * height))
    before, after = slice(max(0, column - reach), column), slice(column + 1, column + 1 + reach)
    if before.stop <= before.start or after.start >= len(top):
        return 0.0
    dip = top[column] - max(top[before].min(), top[after].min())
    rise = min(bottom[before].max(), bottom[after].max()) - bottom[column]
    return float(np.clip((dip + rise) / height, MIN_VALLEY, MAX_VALLEY))


def hypotheses(line: Line) -> list[Hypothesis]:
    """Every run of neighbouring pieces that may be one digit, with its 28 x 28 image."""
    found = []
    pieces = line.pieces
    parts = {(piece.blob, piece.part): piece for piece in pieces}
    for first in range(len(pieces)):
        for last in range(first, min(first + MAX_PIECES, len(pieces))):
            run = pieces[first : last + 1]
            left, right = min(p.left for p in run), max(p.right for p in run)
            if last > first and right - left > MAX_DIGIT_WIDTH * line.height:
                break
            top, bottom = min(p.top for p in run), max(p.bottom for p in run)
            box = (left, top, right, bottom)
            image, placement = mnist_image(run_ink(line, run, box))
            inside = {(piece.blob, piece.part) for piece in run}
            left_cuts = tuple(p.cut for p in run if p.cut and (p.blob, p.part - 1) not in inside)
            after = [parts.get((p.blob, p.part + 1)) for p in run if (p.blob, p.part + 1) not in inside]
            right_cuts = tuple(piece.cut for piece in after if piece is not None)
            found.append(
                Hypothesis(first, last, box, image, placement, blob_spans(run), left_cuts, right_cuts)
            )
    return found


def blob_spans(run: list[Piece]) -> tuple[tuple[int, int], ...]:
    """The columns [left, right) that each blob's pieces in `run` cover, ordered left to right."""
    spans: dict[int, tuple[int, int]] = {}
    for piece in run:
        left, right = spans.get(piece.blob, (piece.left, piece.right))
        spans[piece.blob] = (min(left, piece.left), max(right, piece.right))
    return tuple(sorted(spans.values()))


def run_ink(line: Line, run: list[Piece], box: tuple[int, int, int, int]) -> np.ndarray:
    """The strokes of the pieces in `run` alone, cropped to `box`; other digits' ink is left out."""
    left, top, right, bottom = box
    mask = np.zeros((bottom - top, right - left), dtype=bool)
    for part in run:
        mask[part.top - top : part.bottom - top, part.left - left : part.right - left] |= part.mask
    return np.where(mask, line.strokes[top:bottom, left:right], 0)


def mnist_image(ink: np.ndarray) -> tuple[np.ndarray, Placement]:
    """One digit's strokes, cropped to its ink -> (28, 28) uint8 by the steps of preprocess(), and
    where the crop went in it."""
    fitted = fit_box(ink, DIGIT_BOX)
    field = centre_by_mass(fitted, FIELD)
    # centre_by_mass's own arithmetic, to know where it put the fitted crop
    centre_row, centre_column = ndimage.center_of_mass(fitted)
    offset = (int(round(FIELD / 2 - centre_row)), int(round(FIELD / 2 - centre_column)))
    scale = (fitted.shape[0] / ink.shape[0], fitted.shape[1] / ink.shape[1])
    return np.round(field * 255).astype(np.uint8), Placement(scale, offset)


def prior(option: Hypothesis, line_height: float) -> float:
    """Log units for reading this run of pieces as one digit: 0 for a typical digit, less otherwise.

    Its shape (height against the line's, width against its height and the line's), separate blobs
    side by side rather than over one another, and a cost per digit.
    """
    left, top, right, bottom = option.box
    width, height = right - left, bottom - top
    cost = DIGIT_COST
    cost += SHORT_COST * max(0.0, SHORT_HEIGHT - height / line_height)
    cost += WIDE_COST * max(0.0, width / max(height, 1) - WIDE_ASPECT)
    cost += LINE_WIDTH_COST * max(0.0, width / line_height - LINE_WIDTH)
    # A digit's broken strokes lie over one another (the bar and stem of a 4, the flag of a 5, a 7
    # broken at its corner); neighbouring digits lie side by side, at most overlapping a little.
    for (left, right), (next_left, next_right) in zip(option.spans[:-1], option.spans[1:], strict=True):
        overlap = (min(right, next_right) - next_left) / min(right - left, next_right - next_left)
        cost += JOIN_COST * max(0.0, JOIN_OVERLAP - overlap)
    return -cost


def best_reading(
    line: Line,
    options: list[Hypothesis],
    probabilities: np.ndarray,
    wholeness: np.ndarray | None = None,
    digitness: np.ndarray | None = None,
) -> list[Digit]:
    """The partition of the line's pieces into digits (and stray marks) with the best total score.

    probabilities: (len(options), classes), the classifier's for each hypothesis's image; wholeness:
    (len(options),) the log-odds that each is one whole digit; digitness: (len(options),) the refuser's
    probability that each image is a digit at all (either None: not known, left out of the score).
    """
    count = len(line.pieces)
    confidence = np.log(np.clip(probabilities.max(axis=1), 1e-12, None))
    scores = CLASSIFIER_WEIGHT * confidence + [prior(o, line.height) for o in options]
    if wholeness is not None:
        scores = scores + WHOLENESS_WEIGHT * np.asarray(wholeness)
    if digitness is not None:
        scores = scores + REFUSER_WEIGHT * np.log(np.clip(np.asarray(digitness), MIN_DIGITNESS, 1))
    ending_at: dict[int, list[int]] = {}
    for index, option in enumerate(options):
        ending_at.setdefault(option.last, []).append(index)
    best = np.full(count + 1, -np.inf)  # best[k]: the best score of pieces[:k]
    best[0] = 0.0
    step: list[int | None] = [None] * (count + 1)  # the hypothesis (or None: a skipped piece) ending at k
    for end in range(1, count + 1):
        if is_stray(line.pieces[end - 1], line.height):
            best[end], step[end] = best[end - 1] - SKIP_COST, None
        for index in ending_at.get(end - 1, []):
            total = best[options[index].first] + scores[index]
            if total > best[end]:
                best[end], step[end] = total, index
    chosen, end = [], count
    while end > 0:
        index = step[end]
        if index is None:
            end -= 1
            continue
        chosen.append(index)
        end = options[index].first
    return [digit(line, options[i], probabilities[i]) for i in reversed(chosen)]


def is_stray(piece: Piece, line_height: float) -> bool:
    """A piece small enough both ways to be left out as a stray mark rather than read."""
    small = SKIPPABLE_SIZE * line_height
    return piece.right - piece.left < small and piece.bottom - piece.top < small


def digit(line: Line, option: Hypothesis, probabilities: np.ndarray) -> Digit:
    label = int(np.argmax(probabilities))
    left, top, right, bottom = option.box
    scale_x, scale_y = line.scale
    width, height = round(line.strokes.shape[1] * scale_x), round(line.strokes.shape[0] * scale_y)
    box = (
        int(np.floor(left * scale_x)),
        int(np.floor(top * scale_y)),
        min(width, int(np.ceil(right * scale_x - 1e-6))),
        min(height, int(np.ceil(bottom * scale_y - 1e-6))),
    )
    return Digit(label, float(probabilities[label]), box, option.image)
