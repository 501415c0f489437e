"""Does a prepared picture hold one digit? A small network that answers, and names what it sees instead.

    refuser = load_refuser()                          # the network shipped with mnistlab (refuser.onnx)
    verdicts = refuser.judge(digits)                  # digits: (N, 28, 28) uint8 in MNIST's format
    verdicts[0].is_digit, verdicts[0].reason          # False, "looks like a letter, not a digit"

Any digit classifier names a digit for every picture, and thresholding its top probability refuses only
part of the letters, symbols and scribbles people draw. The refuser is trained for the question itself:
MNIST's training digits (some drawn thicker, stretched or binarised, like other writers' scans) against
generated pictures that are not one digit (negatives.py: letters, symbols, scribbles, hatching, stains,
ticks, several digits). It sees the same 28 x 28 image the classifier sees, and the image moved by one
pixel each way (SHIFTS: its answer is the mean of the five), in one onnxruntime call for a whole batch
(no TensorFlow at prediction time).

Photographed digits and non-digits, prepared again by preprocess(), are part of its training: photos
of letters look like digits far more often than clean renders do. A few thousand of each are photographed
like users' photos (benchmarks/photo_digits.py), and 40% of all the others, digits and non-digits alike,
are replaced by a cheap photo of themselves (negatives.photo_like). Letters, symbols and digits are also
written in 48 handwriting fonts (benchmarks/handwriting_fonts.py fetches them; 16 more are held out to
test on), and digits and non-digits are also drawn as low-resolution scans (blocky, binarised, stretched
to fill a box), so that neither a handwritten look, a photo's look nor a scanner's is a sign of either.
The threshold on the digit probability is chosen on a few thousand photographed held-out MNIST training
digits so that 0.6% of them are refused (refuser.json records it with the figures measured when the
network was trained; benchmarks/RESULTS.md, "Refusing what is not one digit"); `threshold` trades
refusals of digits against acceptance of non-digits. A network is trained, from the code in this
module, by `benchmarks/train_refuser.py OUT_FOLDER`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab.errors import MnistlabError, setting
from mnistlab.recognition.shipped import ShippedNetwork, small_cnn

CLASSES = ("digit", "letter", "symbol", "scribble", "blob", "several", "tick")
KIND_CLASS = {"hatching": "scribble", "zigzag": "scribble", "spiral": "scribble"}  # grouped kinds
REASONS = {
    "letter": "looks like a letter, not a digit",
    "symbol": "looks like a symbol, not a digit",
    "scribble": "looks like a scribble, not a digit",
    "blob": "looks like a stain or a filled shape, not a digit",
    "several": "holds several digits, not one (read numbers with `mnistlab read`)",
    "tick": "looks like a tick or a cross, not a digit",
}
NO_INK = "no ink stands out from the background"
MODEL_FILE, INFO_FILE = "refuser.onnx", "refuser.json"


# The refuser's answer for a picture is the mean of its answers for the picture and the picture moved by
# one pixel up, down, left and right. A digit stays a digit when moved, and so does the refuser's answer;
# a letter the network is unsure of is judged five times. With the threshold chosen again on the same
# held-out digit photos (0.6% refused), non-digits refused rose 4.5 points on average, letters in unseen
# fonts 74 -> 83% (benchmarks/RESULTS.md, "the refuser judges each picture five times").
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # (down, right) in pixels


def shifted(pixels: np.ndarray, down: int, right: int) -> np.ndarray:
    """(N, H, W, C) pictures moved by whole pixels, what leaves one side gone, background (0) coming in."""
    moved = np.zeros_like(pixels)
    height, width = pixels.shape[1:3]
    moved[:, max(down, 0) : height + min(down, 0), max(right, 0) : width + min(right, 0)] = pixels[
        :, max(-down, 0) : height + min(-down, 0), max(-right, 0) : width + min(-right, 0)
    ]
    return moved


@dataclass(frozen=True)
class Verdict:
    digit_probability: float  # how sure the refuser is that the picture holds one digit
    reason: str | None  # None: a digit; else what it looks like instead

    @property
    def is_digit(self) -> bool:
        return self.reason is None


class Refuser(ShippedNetwork):
    def __init__(self, onnx_bytes: bytes, info: dict):
        super().__init__(onnx_bytes, info)
        self.threshold = float(info["threshold"])

    def probabilities(self, digits: np.ndarray, moves=SHIFTS) -> np.ndarray:
        """(N, 28, 28[, 1]) uint8 -> (N, len(CLASSES)) float32 probabilities of each kind: the mean over
        the picture and its four one-pixel moves (SHIFTS; `moves=((0, 0),)`: the picture alone, 5x
        cheaper, for many candidates at once), in one call."""
        pixels = np.asarray(digits, dtype=np.float32).reshape(-1, 28, 28, 1) / np.float32(255)
        if len(pixels) == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        moved = np.concatenate([shifted(pixels, down, right) for down, right in moves])
        return self.run(moved).astype(np.float32).reshape(len(moves), len(pixels), -1).mean(axis=0)

    def judge(self, digits: np.ndarray, threshold: float | None = None) -> list[Verdict]:
        """One Verdict per picture: a digit when its digit probability reaches the threshold."""
        threshold = self.threshold if threshold is None else check_threshold(threshold)
        verdicts = []
        for row in self.probabilities(digits):
            digit = float(row[0])
            reason = None if digit >= threshold else REASONS[CLASSES[1 + int(np.argmax(row[1:]))]]
            verdicts.append(Verdict(digit, reason))
        return verdicts


def check_threshold(threshold: float) -> float:
    if not 0 <= threshold <= 1:
        raise MnistlabError(f"{setting('threshold')} is a probability between 0 and 1, not {threshold}")
    return float(threshold)


@functools.cache
def load_refuser(folder: str | None = None) -> Refuser:
    """The refuser shipped with mnistlab, or the one in `folder` (made by this module's trainer)."""
    return Refuser.load(MODEL_FILE, INFO_FILE, folder)


# -- training (TensorFlow needed; run once, its result is shipped) -----------------------------------

CHUNK = 250  # pictures per parallel task; each chunk has its own seed, so results do not depend on PROCESSES
PROCESSES = 2
PHOTO_REPEATS = 3  # photographed examples count this many times in training
BATCH_SIZE = 128
PHOTO_LIKE_SHARE = 0.4  # this share of all examples, digits and not, is replaced by a cheap photo of itself
# Letters and symbols, the hardest to tell from digits, are drawn twice as often as the other kinds.
TRAINING_MIX = ("letter", "letter", "symbol", "symbol", "scribble", "hatching", "blob", "several", "tick")
NEGATIVES_PER_DIGIT = 1.2
# Handwriting fonts (negatives.training_handwriting_fonts, where fetched): letters and symbols in them as
# negatives and digits in them as positives, so that a handwritten look is a sign of neither; a share of
# each also photographed (repeated PHOTO_REPEATS times, like the other photographed examples).
HANDWRITING_NEGATIVES, HANDWRITING_DIGITS, HANDWRITING_PHOTOS = 24000, 12000, 2000
# Low-resolution scans (as other digit sets store digits: a few pixels a side, binarised, cropped tight
# and stretched to fill a box, enlarged with blocky pixels), prepared by preprocess(): this many digits,
# and as many non-digits, so that a blocky, stretched, filled-out shape is a sign of neither.
SCAN_EXAMPLES = 12000
# Pens finer than MNIST's (train()'s thin_photograph; train_refuser.py --thin-pens): this many training
# digits and as many non-digits photographed with a fine pen or a ballpoint. Not in the shipped network:
# fine-tuned with them, it refused 3.8% of such digit photos instead of 5.8%, but also passed more such
# letters (70.0% refused instead of 73.6%; benchmarks/RESULTS.md, "A ballpoint's strokes").
THIN_PEN_PHOTOS = 3000


def _like_other_writers(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Some training digits drawn thicker, stretched to fill their box, or binarised, then re-prepared."""
    from scipy import ndimage

    from mnistlab.pictures.preprocess import centre_by_mass, fit_box

    out = []
    for digit in digits.astype(np.float32) / 255:
        picture = ndimage.zoom(digit, 3, order=1)
        if rng.random() < 0.5:
            picture = ndimage.grey_dilation(picture, size=(int(rng.integers(2, 6)),) * 2)
        if rng.random() < 0.5:
            picture = (picture > rng.uniform(0.2, 0.6)).astype(np.float32)
        rows, columns = np.flatnonzero(picture.max(1) > 0.05), np.flatnonzero(picture.max(0) > 0.05)
        crop = picture[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
        if rng.random() < 0.5:  # stretched to fill a box of another shape
            crop = ndimage.zoom(crop, (1, rng.uniform(1.2, 2.5)), order=1)
        out.append(np.round(centre_by_mass(fit_box(np.clip(crop, 0, None))) * 255).astype(np.uint8))
    return np.stack(out)


def _in_chunks(task, items: np.ndarray, seed: int) -> list:
    """task(items[chunk], chunk_seed) over chunks of CHUNK items in PROCESSES processes, results in order.

    Drawing and photographing pictures (~0.01 s and ~0.2 s each) is most of the training time and pure
    numpy/PIL work, one picture at a time, so it spreads over processes; they are forked before
    TensorFlow is imported."""
    import multiprocessing

    jobs = [(items[start : start + CHUNK], (seed, start)) for start in range(0, len(items), CHUNK)]
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES, initializer=_WORKER.update, initargs=({"task": task},)) as pool:
        return pool.starmap(_run_task, jobs)


_WORKER: dict = {}  # _in_chunks's task, inherited by its forked processes rather than sent with each chunk


def _run_task(items, chunk_seed):
    return _WORKER["task"](items, np.random.default_rng(chunk_seed))


def _draw_negatives(slots: np.ndarray, rng: np.random.Generator, **options) -> tuple:
    """negatives.not_digits for a chunk of slots, with its own seed; options: kinds, fonts, digits."""
    from mnistlab.recognition.negatives import not_digits

    return not_digits(len(slots), seed=int(rng.integers(2**32)), **options)


def _examples(digits: np.ndarray, negatives_per_digit: float, seed: int):
    rng = np.random.default_rng(seed)
    changed = rng.random(len(digits)) < 0.3
    digits = digits.copy()
    digits[changed] = _like_other_writers(digits[changed], rng)
    count = int(len(digits) * negatives_per_digit)
    drawn = _in_chunks(
        functools.partial(_draw_negatives, kinds=TRAINING_MIX, digits=digits), np.arange(count), seed
    )
    others = np.concatenate([images for images, _ in drawn])
    kinds = np.concatenate([names for _, names in drawn])
    # The same redrawing for some negatives, so that a thick, binarised or stretched stroke is no sign of
    # a digit: without it, letters photographed and prepared again passed as digits 3x as often.
    changed = rng.random(len(others)) < 0.3
    others[changed] = _like_other_writers(others[changed], rng)
    images = np.concatenate([digits, others])
    labels = np.concatenate(
        [np.zeros(len(digits), int), [CLASSES.index(KIND_CLASS.get(k, k)) for k in kinds]]
    )
    return images, labels


def _photo_like_some(images: np.ndarray, seed: int) -> np.ndarray:
    """PHOTO_LIKE_SHARE of the pictures, digits and non-digits alike, replaced by a cheap photo of each
    prepared again (negatives.photo_like), so that the look of a photo (speckled, broken or thickened
    strokes, a grey haze) is a sign of neither."""
    from mnistlab.recognition.negatives import photo_like

    rows = np.flatnonzero(np.random.default_rng(seed).random(len(images)) < PHOTO_LIKE_SHARE)
    photos, kept = _prepared_in_chunks(photo_like, images[rows], seed)
    images = images.copy()
    images[rows[kept]] = photos
    return images


def _draw_font_digits(slots: np.ndarray, rng: np.random.Generator, fonts: tuple) -> np.ndarray:
    from mnistlab.recognition.negatives import font_digits

    return font_digits(len(slots), seed=int(rng.integers(2**32)), fonts=fonts)[0]


def _handwriting_set(fonts: tuple, seed: int, photograph) -> dict:
    """Letters and symbols (negatives) and digits (positives) in handwriting fonts, drawn, some redrawn
    like other writers' and made cheap photos of, as the other examples are; some photographed."""
    rng = np.random.default_rng(seed)
    letters_and_symbols = functools.partial(
        _draw_negatives, kinds=("letter", "letter", "symbol"), fonts=fonts
    )
    drawn = _in_chunks(letters_and_symbols, np.arange(HANDWRITING_NEGATIVES), seed)
    negatives = np.concatenate([images for images, _ in drawn])
    kinds = np.concatenate([names for _, names in drawn])
    digits = np.concatenate(
        _in_chunks(functools.partial(_draw_font_digits, fonts=fonts), np.arange(HANDWRITING_DIGITS), seed + 1)
    )
    images = np.concatenate([digits, negatives])
    labels = np.concatenate([np.zeros(len(digits), int), [CLASSES.index(kind) for kind in kinds]])
    changed = rng.random(len(images)) < 0.3
    images[changed] = _like_other_writers(images[changed], rng)
    photographed = []
    if photograph is not None:
        for rows, part_seed in (
            (np.arange(HANDWRITING_PHOTOS), seed + 2),
            (len(digits) + np.arange(HANDWRITING_PHOTOS), seed + 3),
        ):
            photos, kept = _photographed(images[rows], photograph, part_seed)
            photographed.append((photos, labels[rows][kept]))
    images = _photo_like_some(images, seed + 4)
    for photos, photo_labels in photographed:
        images = np.concatenate([images, *[photos] * PHOTO_REPEATS])
        labels = np.concatenate([labels, *[photo_labels] * PHOTO_REPEATS])
    return {"hand_images": images, "hand_labels": labels}


def _scan_set(digits: np.ndarray, images: np.ndarray, labels: np.ndarray, seed: int) -> dict:
    """SCAN_EXAMPLES training digits and as many of the non-digit examples as low-resolution scans."""
    from mnistlab.pictures.scans import prepared_scans

    rng = np.random.default_rng(seed)
    negative_rows = rng.choice(np.flatnonzero(labels > 0), SCAN_EXAMPLES, replace=False)
    sources = np.concatenate(
        [digits[rng.choice(len(digits), SCAN_EXAMPLES, replace=False)], images[negative_rows]]
    )
    source_labels = np.concatenate([np.zeros(SCAN_EXAMPLES, int), labels[negative_rows]])
    scans, kept = prepared_scans(sources, seed, PROCESSES)
    return {"scan_images": scans, "scan_labels": source_labels[kept]}


def _thin_pen_set(examples: dict, thin_photograph, photographed: int, seed: int) -> dict:
    """THIN_PEN_PHOTOS training digits and as many non-digit examples (neither photographed before)
    photographed with a pen finer than MNIST's and prepared again, each repeated PHOTO_REPEATS times."""
    labels = examples["labels"]
    rows = np.flatnonzero(labels > 0)[photographed : photographed + THIN_PEN_PHOTOS]
    digits = examples["digits"][photographed : photographed + THIN_PEN_PHOTOS]
    sources = np.concatenate([digits, examples["images"][rows]])
    source_labels = np.concatenate([np.zeros(len(digits), int), labels[rows]])
    photos, kept = _photographed(sources, thin_photograph, seed)
    return {
        "thin_images": np.concatenate([photos] * PHOTO_REPEATS),
        "thin_labels": np.concatenate([source_labels[kept]] * PHOTO_REPEATS),
    }


FILTERS, DENSE = (48, 96), 256  # the network's width (32/64/128 until 2026-11-29: less sure of letters)


def build_network():
    return small_cnn("refuser", (28, 28, 1), len(CLASSES), filters=FILTERS, dense=DENSE)


def _photo_prepared(picture: np.ndarray, rng: np.random.Generator, photograph) -> np.ndarray | None:
    """photograph(picture, rng) prepared again by preprocess(), as a user's photo would be; None if empty."""
    from mnistlab.pictures.images import NoDigitError
    from mnistlab.pictures.preprocess import preprocess

    try:
        return preprocess(photograph(picture, rng))
    except NoDigitError:
        return None


def _prepare_chunk(pictures: np.ndarray, rng: np.random.Generator, prepare) -> tuple:
    prepared = [prepare(picture, rng) for picture in pictures]
    kept = np.array([index for index, picture in enumerate(prepared) if picture is not None], dtype=int)
    pictures = [picture for picture in prepared if picture is not None]
    return np.array(pictures, np.uint8).reshape(-1, 28, 28), kept


def _prepared_in_chunks(prepare, pictures: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """prepare(picture, rng) -> (28, 28) uint8 or None, over the pictures in PROCESSES processes ->
    (the prepared pictures, which of the given ones they are): those it returns None for are dropped."""
    chunks = _in_chunks(functools.partial(_prepare_chunk, prepare=prepare), pictures, seed)
    starts = range(0, len(pictures), CHUNK)
    prepared = np.concatenate([images for images, _ in chunks])
    kept = np.concatenate([start + kept for start, (_, kept) in zip(starts, chunks, strict=True)])
    return prepared, kept


def _photographed(pictures: np.ndarray, photograph, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-format pictures photographed (photograph(picture, rng) -> encoded bytes) and prepared again
    by preprocess(), as a user's photo of them would be -> (prepared pictures, which of the given ones
    they are): pictures preprocess finds empty are dropped."""
    return _prepared_in_chunks(functools.partial(_photo_prepared, photograph=photograph), pictures, seed)


def _training_set(data_dir, seed: int, photograph, photographed: int, held_out_photos: int) -> dict:
    """The examples the refuser learns from and the held-out digits its threshold is chosen on."""
    from mnistlab.data.load import load

    digits = load("mnist", split="train", data_dir=data_dir)["image"][..., 0]
    images, labels = _examples(digits[:50000], NEGATIVES_PER_DIGIT, seed)
    held_digits = digits[50000:]
    if photograph is not None:
        positives, _ = _photographed(digits[:photographed], photograph, seed)
        rows = np.flatnonzero(labels > 0)[:photographed]
        negatives, kept = _photographed(images[rows], photograph, seed + 1)
        held_digits, _ = _photographed(held_digits[:held_out_photos], photograph, seed + 2)
    images = _photo_like_some(images, seed + 3)  # after the photographs above were taken of clean ones
    if photograph is not None:
        # Photographed examples are repeated: a few thousand among 100,000 clean ones would barely count.
        images = np.concatenate([images, *[positives, negatives] * PHOTO_REPEATS])
        photo_labels = [np.zeros(len(positives), int), labels[rows][kept]]
        labels = np.concatenate([labels, *photo_labels * PHOTO_REPEATS])
    return {"images": images, "labels": labels, "held_digits": held_digits, "digits": digits}


TRAINING_RECORD = ("trained_on", "network", "seed", "epochs", "learning_rate", "started_from")


def _fit(images, labels, seed: int, epochs: int, learning_rate: float, start_from: Path | None) -> bytes:
    """The network fitted to the examples -> its ONNX bytes."""
    import keras

    from mnistlab.recognition.onnx_conversion import keras_to_onnx

    keras.utils.set_random_seed(seed)
    model = build_network()
    if start_from is not None:
        model.set_weights(_onnx_weights(start_from.read_bytes()))
    steps = epochs * -(-len(labels) // BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    order = np.random.default_rng(seed).permutation(len(labels))
    pixels = images[order, ..., None] / np.float32(255)
    model.fit(pixels, labels[order], batch_size=BATCH_SIZE, epochs=epochs, verbose=2)
    return keras_to_onnx(model)


def train(
    out: Path,
    data_dir=None,
    seed: int = 0,
    epochs: int = 15,
    refused_digits: float = 0.006,
    photograph=None,
    photographed: int = 3000,
    held_out_photos: int = 2500,
    cache: Path | None = None,
    start_from: Path | None = None,
    learning_rate: float = 1e-3,
    thin_photograph=None,
) -> dict:
    """Train the refuser on MNIST train[:50000] + generated negatives; choose its threshold on
    train[50000:] so that `refused_digits` of those digits are refused; write refuser.onnx/.json.

    photograph(picture, rng) -> encoded image bytes, if given, renders `photographed` digits and as many
    negatives as photos, which preprocess() prepares again: the refuser then also learns what photos of
    both look like after preprocessing, and the threshold is chosen on `held_out_photos` photographed
    held-out digits (a few thousand: the 0.5-1% quantile of a few hundred is too noisy to choose by).
    `cache` (an .npz file) keeps the drawn and photographed examples, most of the time taken, for another
    training with other epochs or threshold; it is rebuilt when made with other settings.
    thin_photograph(picture, rng), if given, photographs THIN_PEN_PHOTOS more training digits and
    non-digits drawn with a pen finer than MNIST's.
    `start_from` (a refuser.onnx of the same network) gives the weights the fit starts from, so that a
    few epochs at a lower `learning_rate` (Adam's, cosine-decayed to 5% of it) teach it the new examples;
    with epochs=0 it is not fitted at all, only its threshold and figures are measured again (its
    refuser.json beside it says how it was trained).
    """
    if not epochs and start_from is None:  # before the examples, which may take an hour to make
        raise MnistlabError("epochs=0 only chooses the threshold of a trained network: give start_from")
    from mnistlab.files import atomic_write_bytes, atomic_write_json
    from mnistlab.recognition.negatives import (
        HELD_OUT_FONTS,
        HELD_OUT_HANDWRITING,
        HELD_OUT_KINDS,
        font_digits,
        handwriting_fonts,
        training_fonts,
        training_handwriting_fonts,
    )

    settings = np.array(
        [
            seed,
            photograph is not None,
            photographed,
            held_out_photos,
            PHOTO_LIKE_SHARE * 100,
            NEGATIVES_PER_DIGIT * 100,
            len(TRAINING_MIX),
        ]
    )
    loaded = dict(np.load(cache)) if cache is not None and cache.exists() else {}
    # Drawing and photographing fork processes: all of it before TensorFlow is imported. Each stage is
    # made again where the cache holds it for other settings; a new base set has none of the later ones.
    examples = _stage(
        loaded,
        "settings",
        settings,
        lambda: _training_set(data_dir, seed, photograph, photographed, held_out_photos),
    )
    hand_fonts = training_handwriting_fonts()
    hand_settings = np.array(
        [
            seed,
            len(hand_fonts),
            HANDWRITING_NEGATIVES,
            HANDWRITING_DIGITS,
            HANDWRITING_PHOTOS,
            photograph is not None,
        ]
    )
    if hand_fonts:
        examples = _stage(
            examples,
            "hand_settings",
            hand_settings,
            lambda: _handwriting_set(hand_fonts, seed + 10, photograph),
        )
    examples = _stage(
        examples,
        "scan_settings",
        np.array([seed, SCAN_EXAMPLES]),
        lambda: _scan_set(examples["digits"][:50000], examples["images"], examples["labels"], seed + 20),
    )
    if thin_photograph is not None:
        examples = _stage(
            examples,
            "thin_settings",
            np.array([seed, THIN_PEN_PHOTOS, photographed]),
            lambda: _thin_pen_set(examples, thin_photograph, photographed, seed + 30),
        )
    if cache is not None and examples is not loaded:
        np.savez(cache, **examples)  # once, with every stage
    held_digits, digits = examples["held_digits"], examples["digits"]
    if epochs:
        parts = ["", "scan_", "hand_"] if hand_fonts else ["", "scan_"]
        parts += ["thin_"] if thin_photograph is not None else []
        images = np.concatenate([examples[f"{part}images"] for part in parts])
        labels = np.concatenate([examples[f"{part}labels"] for part in parts])
        onnx_bytes = _fit(images, labels, seed, epochs, learning_rate, start_from)
    else:  # the same network, its threshold and figures measured again (e.g. after SHIFTS changed)
        onnx_bytes = start_from.read_bytes()
    refuser = Refuser(onnx_bytes, {"threshold": 0.5})
    threshold = float(np.quantile(refuser.probabilities(held_digits)[:, 0], refused_digits))
    refuser.threshold = threshold
    figures = {
        "digits refused (train[50000:], as photos)" if photograph else "digits refused (train[50000:])": (
            _refused(refuser, held_digits)
        ),
        "digits refused (train[50000:])": _refused(refuser, digits[50000:]),
    }
    if unseen_hands := handwriting_fonts(HELD_OUT_HANDWRITING):
        hand_digits, _ = font_digits(1000, seed + 1, fonts=unseen_hands)
        figures["digits refused (held-out handwriting fonts)"] = _refused(refuser, hand_digits)
    unseen = not_digits_for_check(seed + 1, digits[50000:])
    for name, (pictures, _) in unseen.items():
        figures[f"refused: {name}"] = _refused(refuser, pictures)
    info = {
        "threshold": threshold,
        "classes": list(CLASSES),
        "trained_on": "MNIST train[:50000] (30% redrawn like other writers) + as many generated non-digits"
        + f" in {len(training_fonts())} fonts"
        + (
            f"; {HANDWRITING_NEGATIVES} letters and symbols and {HANDWRITING_DIGITS} digits in"
            f" {len(hand_fonts)} handwriting fonts ({HANDWRITING_PHOTOS} of each also photographed)"
            if hand_fonts
            else ""
        )
        + f"; {PHOTO_LIKE_SHARE:.0%} of all as cheap photos (photo_like)"
        + f"; {SCAN_EXAMPLES} digits and {SCAN_EXAMPLES} non-digits as low-resolution scans"
        + (
            f"; {photographed} of each also photographed and prepared again (repeated {PHOTO_REPEATS}x);"
            f" threshold on {len(held_digits)} photographed held-out digits"
            if photograph
            else ""
        )
        + (
            f"; {THIN_PEN_PHOTOS} of each photographed with a fine pen or a ballpoint (repeated"
            f" {PHOTO_REPEATS}x)"
            if thin_photograph
            else ""
        ),
        "network": f"conv {FILTERS[0]} and {FILTERS[1]} filters, dense {DENSE}",
        "seed": seed,
        "epochs": epochs,
        "learning_rate": f"{learning_rate:g}, cosine decay to {learning_rate * 0.05:g}",
        "started_from": f"the weights of a previous {start_from.name}" if start_from else "random weights",
        "measured": figures,
        "held_out_fonts": list(HELD_OUT_FONTS),
        "held_out_kinds": list(HELD_OUT_KINDS),
        "held_out_handwriting_fonts": list(HELD_OUT_HANDWRITING) if hand_fonts else [],
    }
    info["judged_as"] = f"the mean over the picture and its {len(SHIFTS) - 1} one-pixel moves"
    if not epochs:  # how the network was trained is what its own record says
        trained = json.loads((start_from.parent / INFO_FILE).read_text())
        info.update({key: trained[key] for key in TRAINING_RECORD if key in trained})
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / MODEL_FILE, onnx_bytes)
    atomic_write_json(out / INFO_FILE, info)
    return info


def _stage(examples: dict, key: str, settings: np.ndarray, make) -> dict:
    """`examples` where they hold this stage for these settings (examples[key]); else a new dict: the
    examples updated with make()'s arrays, the settings kept under `key`. The base stage ("settings")
    replaces everything: the later stages are made from it."""
    if np.array_equal(examples.get(key), settings):
        return examples
    return {**({} if key == "settings" else examples), **make(), key: settings}


def _onnx_weights(onnx_bytes: bytes) -> list[np.ndarray]:
    """A shipped refuser.onnx's weights, in build_network()'s order for model.set_weights: convolution
    kernels from ONNX's (out, in, h, w) to Keras' (h, w, in, out); the dense layers' as they are (the
    graph transposes to Keras' channels-last layout before flattening). Found by shape, in graph order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(onnx_bytes).graph
    values = {item.name: numpy_helper.to_array(item) for item in graph.initializer}
    weights = []
    for node in graph.node:
        if node.op_type in ("Conv", "MatMul", "Add"):
            weights += [values[name] for name in node.input[1:] if name in values]
    return [w.transpose(2, 3, 1, 0) if w.ndim == 4 else w for w in weights]


def not_digits_for_check(seed: int, digits: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Non-digits the refuser was never trained on: held-out fonts, held-out shapes, and fresh draws."""
    from mnistlab.recognition.negatives import (
        HELD_OUT_FONTS,
        HELD_OUT_HANDWRITING,
        HELD_OUT_KINDS,
        TRAINING_KINDS,
        handwriting_fonts,
        not_digits,
    )

    return {
        "letters and symbols in held-out fonts": not_digits(
            1000, seed, kinds=("letter", "symbol"), fonts=HELD_OUT_FONTS
        ),
        "shapes never trained on (zigzag, spiral)": not_digits(1000, seed, kinds=HELD_OUT_KINDS),
        "fresh draws of the training kinds": not_digits(1000, seed, kinds=TRAINING_KINDS, digits=digits),
        **(
            {
                "letters and symbols in held-out handwriting fonts": not_digits(
                    1000, seed, kinds=("letter", "symbol"), fonts=unseen_hands
                )
            }
            if (unseen_hands := handwriting_fonts(HELD_OUT_HANDWRITING))
            else {}
        ),
    }


def _refused(refuser: Refuser, pictures: np.ndarray) -> float:
    return round(float(np.mean([not verdict.is_digit for verdict in refuser.judge(pictures)])), 4)
