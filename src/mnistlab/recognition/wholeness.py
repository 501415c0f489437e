"""Is a piece cut out of a line of digits one whole digit? A small network that answers, for read.py.

    check = load_wholeness()                                 # the network shipped with mnistlab
    log_odds = check.log_odds(inputs(line, options))         # one per segment.hypotheses() option

A digit classifier is sure of itself on half a 0 (a fine 1) and on two touching digits squeezed into
one box (an 8 from "89"), so its confidence alone cannot tell where one digit ends. This network is
trained for that question. It sees, per hypothesis, 28 x 28 channels:
- the hypothesis's MNIST-format image (what the classifier sees),
- the line's ink around it, placed and scaled the same way (is there more of the digit just outside?),
- its height and width in line heights, and the outline valley and strokes of the cuts that separate it
  from its neighbours, left and right (0 where it is not cut), each as a constant plane.
It answers the log-odds that the hypothesis is exactly one whole digit (not a part of one, not parts of
two). Trained on numbers written with MNIST train[:50000] digits by benchmarks/bench_read.py's
generator, labelled by which digit each pixel came from (benchmarks/train_wholeness.py rebuilds it,
from the code in this module); wholeness.json records how and what it measured.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from mnistlab.pictures.preprocess import DIGIT_BOX, FIELD
from mnistlab.recognition.shipped import ShippedNetwork, small_cnn

MODEL_FILE, INFO_FILE = "wholeness.onnx", "wholeness.json"
CHANNELS = 8  # image, surroundings, height, width, left valley, right valley, left strokes, right strokes
MAX_STROKES = 3  # strokes severed by a cut, scaled by this into about [0, 1]
WHOLE, NOT_WHOLE = 0.9, 0.8  # training labels: purity and completeness both >= 0.9, or either < 0.8


class Wholeness(ShippedNetwork):
    def log_odds(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 28, 28, CHANNELS) float32 -> (N,) log-odds that each is exactly one whole digit."""
        if len(inputs) == 0:
            return np.zeros(0, np.float32)
        probabilities = self.run(inputs)
        return np.log(np.clip(probabilities[:, 1], 1e-6, 1)) - np.log(np.clip(probabilities[:, 0], 1e-6, 1))


@functools.cache
def load_wholeness(folder: str | None = None) -> Wholeness:
    """The network shipped with mnistlab, or the one in `folder` (made by this module's train())."""
    return Wholeness.load(MODEL_FILE, INFO_FILE, folder)


def inputs(line, options: list) -> np.ndarray:
    """segment.Line and its hypotheses -> the network's input, (N, 28, 28, CHANNELS) float32."""
    return stacked(*features(line, options))


def features(line, options: list) -> tuple[np.ndarray, np.ndarray]:
    """The input in compact form: pictures (N, 28, 28, 2) uint8 (image, surroundings) and the
    (N, CHANNELS - 2) numbers that become constant planes (see the module docstring)."""
    # The surroundings are sampled from the strokes, smoothed as much as a typical digit is shrunk.
    shrink = line.height / DIGIT_BOX
    strokes = ndimage.gaussian_filter(line.strokes, sigma=0.4 * shrink) if shrink > 1 else line.strokes
    pictures = np.zeros((len(options), FIELD, FIELD, 2), np.uint8)
    numbers = np.zeros((len(options), CHANNELS - 2), np.float32)
    for index, option in enumerate(options):
        left, top, right, bottom = option.box
        pictures[index, ..., 0] = option.image
        pictures[index, ..., 1] = np.round(surroundings(strokes, option) * 255)
        numbers[index, :2] = (bottom - top) / line.height, (right - left) / line.height
        for column, cuts in ((2, option.left_cuts), (3, option.right_cuts)):
            if cuts:
                numbers[index, column] = max(cut.valley for cut in cuts)
                numbers[index, column + 2] = max(cut.strokes for cut in cuts) / MAX_STROKES
    return pictures, numbers


def stacked(pictures: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """Compact features -> (N, 28, 28, CHANNELS) float32: pictures in [0, 1], then the number planes."""
    planes = np.broadcast_to(numbers[:, None, None, :], (len(numbers), FIELD, FIELD, numbers.shape[1]))
    return np.concatenate([pictures / np.float32(255), planes], axis=-1).astype(np.float32)


def surroundings(strokes: np.ndarray, option) -> np.ndarray:
    """The line's ink in the 28 x 28 window the hypothesis's image shows, at the same place and scale."""
    left, top, _right, _bottom = option.box
    (row_scale, column_scale), (row_offset, column_offset) = option.placement.scale, option.placement.offset
    # A pixel of the image covers [k, k + 1) / scale of the box: its centre, in working px.
    rows = top + (np.arange(FIELD) - row_offset + 0.5) / row_scale - 0.5
    columns = left + (np.arange(FIELD) - column_offset + 0.5) / column_scale - 0.5
    grid = np.meshgrid(rows, columns, indexing="ij")
    return np.clip(ndimage.map_coordinates(strokes, grid, order=1, cval=0.0), 0, 1)


# -- training (TensorFlow needed; run once, its result is shipped) -----------------------------------


def labels(line, options: list, owners: np.ndarray) -> np.ndarray:
    """Which hypotheses are one whole digit: 1, 0, or -1 (neither clearly; left out of training).

    owners: (H, W) int, for the picture the line was found in, the number (1, 2, ...) of the digit
    whose ink covers each pixel, 0 for paper. A hypothesis is whole when at least WHOLE of its ink is
    one digit's (purity) and it holds at least WHOLE of that digit's ink (completeness).
    """
    from mnistlab.recognition.segment import run_ink

    height, width = line.strokes.shape
    owned = np.asarray(
        Image.fromarray(owners.astype(np.int32)).resize((width, height), Image.Resampling.NEAREST)
    )
    count = int(owners.max())
    totals = ndimage.sum(line.strokes, owned, index=np.arange(count + 1))
    found = np.full(len(options), -1, dtype=np.int64)
    for index, option in enumerate(options):
        left, top, right, bottom = option.box
        ink = run_ink(line, line.pieces[option.first : option.last + 1], option.box)
        mass = ndimage.sum(ink, owned[top:bottom, left:right], index=np.arange(count + 1))
        digit = int(np.argmax(mass[1:])) + 1
        purity = mass[digit] / max(mass.sum(), 1e-9)
        completeness = mass[digit] / max(totals[digit], 1e-9)
        if purity >= WHOLE and completeness >= WHOLE:
            found[index] = 1
        elif purity < NOT_WHOLE or completeness < NOT_WHOLE:
            found[index] = 0
    return found


def build_network():
    return small_cnn("wholeness", (FIELD, FIELD, CHANNELS), 2, filters=(32, 64), dense=128)


def train(
    pictures: np.ndarray,
    numbers: np.ndarray,
    whole: np.ndarray,
    out: Path,
    seed: int = 0,
    epochs: int = 5,
    **info,
) -> dict:
    """Fit the network on features() of labelled hypotheses (whole: 1 or 0); 10% of them, at random,
    measure it. Writes wholeness.onnx and wholeness.json (with `info`) into `out`."""
    import keras

    from mnistlab.files import atomic_write_bytes, atomic_write_json
    from mnistlab.recognition.onnx_conversion import keras_to_onnx

    class Batches(keras.utils.PyDataset):
        """Stacked in batches: all of them at once would take 25 kB per example."""

        def __init__(self, rows: np.ndarray, size: int = 256):
            super().__init__()
            self.rows, self.size = rows, size

        def __len__(self) -> int:
            return -(-len(self.rows) // self.size)

        def __getitem__(self, index: int):
            rows = np.sort(self.rows[index * self.size : (index + 1) * self.size])
            return stacked(pictures[rows], numbers[rows]), whole[rows]

        def on_epoch_end(self) -> None:
            self.rows = shuffle.permutation(self.rows)

    keras.utils.set_random_seed(seed)
    shuffle = np.random.default_rng(seed)
    order = shuffle.permutation(len(whole))
    held, used = order[: len(order) // 10], order[len(order) // 10 :]
    model = build_network()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(Batches(used), epochs=epochs, verbose=2)
    onnx_bytes = keras_to_onnx(model)
    predicted = Wholeness(onnx_bytes, {}).log_odds(stacked(pictures[held], numbers[held])) > 0
    info = {
        **info,
        "seed": seed,
        "epochs": epochs,
        "examples": int(len(used)),
        "whole share": round(float(whole.mean()), 4),
        "held-out accuracy": round(float((predicted == whole[held].astype(bool)).mean()), 4),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / MODEL_FILE, onnx_bytes)
    atomic_write_json(out / INFO_FILE, info)
    return info
