"""Other writers' tight scans: how many does `mnistlab.predict` read? (refusals count as wrong)

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_other_writers.py MODEL \
        [--limit 1797] [--mnist 1000] [--seed 0]

MODEL is a run directory or a .keras / .skops / .onnx file. Every picture goes through the production
path, `mnistlab.predict` (decode, preprocess, classifier, refuser), so a picture refused as "no ink" or
"not a digit" counts as wrong.

The pictures (see `variants`) are drawn from two sources:
- scikit-learn's bundled `load_digits` (UCI optdigits: 1797 digits by 43 writers who are not MNIST's,
  8x8 at 17 grey levels; every digit spans the full 8 rows, so it touches the top and bottom edges):
  enlarged with nearest-neighbour pixels (blocky) to 16-128 px, binarised, cropped tight to the ink,
  stretched to fill a square, a wide or a tall box, dark on light and light on dark, a little blur,
  noise and JPEG;
- MNIST *test* digits (never trained on) cropped tight, stretched to fill their box, binarised and
  enlarged with blocky pixels, as low-resolution scanners and other digit sets (16 x 16, 32 x 32
  bitmaps) store them.
Rendering is seeded: a re-run with the same arguments sees the same pictures.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy import ndimage

SKLEARN_LEVELS = 16  # load_digits pixels count 0..16 ink pixels of a 4 x 4 block


def enlarge(coverage: np.ndarray, width: int, height: int, blocky: bool = True) -> np.ndarray:
    """Ink coverage (h, w) in [0, 1] -> (height, width), nearest-neighbour (blocky) or bicubic."""
    resample = Image.Resampling.NEAREST if blocky else Image.Resampling.BICUBIC
    image = Image.fromarray(coverage.astype(np.float32)).resize((width, height), resample)
    return np.clip(np.asarray(image), 0, 1)


def tight(coverage: np.ndarray, level: float = 0.0) -> np.ndarray:
    """Crop to the bounding box of the pixels above `level`: strokes touch every edge."""
    rows = np.flatnonzero((coverage > level).any(axis=1))
    columns = np.flatnonzero((coverage > level).any(axis=0))
    return coverage[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def stretch(coverage: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample (area / bilinear) to exactly (height, width): the aspect ratio is not kept."""
    image = Image.fromarray(coverage.astype(np.float32))
    shrinking = width < coverage.shape[1] and height < coverage.shape[0]
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.clip(np.asarray(image.resize((width, height), resample)), 0, 1)


def binary(coverage: np.ndarray) -> np.ndarray:
    return (coverage >= 0.5).astype(np.float32)


def on_paper(coverage: np.ndarray, light_on_dark: bool = False) -> np.ndarray:
    """Coverage -> uint8 grey: black ink on white paper, or white ink on black."""
    grey = coverage if light_on_dark else 1 - coverage
    return np.round(grey * 255).astype(np.uint8)


def scanned(coverage: np.ndarray, rng: np.random.Generator) -> bytes:
    """A little blur and sensor noise, saved as a JPEG (dark ink on off-white paper)."""
    grey = 0.92 - 0.8 * ndimage.gaussian_filter(coverage, sigma=rng.uniform(0.5, 1.2))
    grey = grey + rng.normal(scale=rng.uniform(0.01, 0.04), size=grey.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=int(rng.integers(70, 95))
    )
    return buffer.getvalue()


# name -> how one load_digits digit (8, 8) coverage in [0, 1] becomes a picture (array or bytes)
SKLEARN_VARIANTS: dict[str, Callable] = {
    "sk blocky 16": lambda c, rng: on_paper(enlarge(c, 16, 16)),
    "sk blocky 32": lambda c, rng: on_paper(enlarge(c, 32, 32)),
    "sk blocky 64 light-on-dark": lambda c, rng: on_paper(enlarge(c, 64, 64), light_on_dark=True),
    "sk blocky 128": lambda c, rng: on_paper(enlarge(c, 128, 128)),
    "sk smooth 64": lambda c, rng: on_paper(enlarge(c, 64, 64, blocky=False)),
    "sk binary 32": lambda c, rng: on_paper(enlarge(binary(c), 32, 32)),
    "sk binary 128 light-on-dark": lambda c, rng: on_paper(enlarge(binary(c), 128, 128), light_on_dark=True),
    "sk tight 8x": lambda c, rng: on_paper(enlarge(tight(c), 8 * tight(c).shape[1], 64)),
    "sk tight square 64 binary": lambda c, rng: on_paper(enlarge(binary(tight(c, 0.49)), 64, 64)),
    "sk wide 96x48 binary": lambda c, rng: on_paper(enlarge(binary(tight(c, 0.49)), 96, 48)),
    "sk tall 40x80": lambda c, rng: on_paper(enlarge(tight(c), 40, 80)),
    "sk noisy 64 jpeg": lambda c, rng: scanned(enlarge(c, 64, 64), rng),
}

# name -> how one MNIST test digit (28, 28) coverage in [0, 1] becomes a picture
MNIST_VARIANTS: dict[str, Callable] = {
    "mnist 16x16 binary -> 64": lambda c, rng: on_paper(enlarge(binary(stretch(tight(c), 16, 16)), 64, 64)),
    "mnist 32x32 binary light-on-dark": lambda c, rng: on_paper(
        binary(stretch(tight(c), 32, 32)), light_on_dark=True
    ),
    "mnist 8x8 grey -> 64": lambda c, rng: on_paper(
        enlarge(np.round(stretch(tight(c), 8, 8) * SKLEARN_LEVELS) / SKLEARN_LEVELS, 64, 64)
    ),
    "mnist wide 24x12 binary -> 96x48": lambda c, rng: on_paper(
        enlarge(binary(stretch(tight(c), 24, 12)), 96, 48)
    ),
    "mnist tall 12x24 binary -> 48x96": lambda c, rng: on_paper(
        enlarge(binary(stretch(tight(c), 12, 24)), 48, 96)
    ),
}


def variants(
    limit: int | None = None, mnist_count: int = 1000, seed: int = 0, mnist_dir=None
) -> dict[str, tuple[list, np.ndarray]]:
    """variant name -> (pictures: uint8 (H, W) arrays or JPEG bytes, labels int64 (N,)), seeded.

    `limit` load_digits digits per sklearn variant (a seeded sample; None: all 1797) and `mnist_count`
    MNIST test digits per MNIST variant (the first ones; 0: none). MNIST is read with mnistlab.load, or
    from `mnist_dir` (a folder holding mnist/) when given.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(digits.target))[:limit]
    sets: dict[str, tuple[list, np.ndarray]] = {}
    for name, render in SKLEARN_VARIANTS.items():
        pictures = [render(digits.images[i] / SKLEARN_LEVELS, rng) for i in order]
        sets[name] = (pictures, digits.target[order].astype(np.int64))
    if mnist_count:
        import mnistlab

        test = mnistlab.load("mnist", split=f"test[:{mnist_count}]", data_dir=mnist_dir)
        coverages = test["image"][..., 0].astype(np.float32) / 255
        for name, render in MNIST_VARIANTS.items():
            sets[name] = ([render(c, rng) for c in coverages], np.asarray(test["label"], dtype=np.int64))
    return sets


def read_rates(model, sets: dict[str, tuple[list, np.ndarray]]) -> dict[str, dict[str, int]]:
    """variant -> counts of {"n", "read", "wrong", "no ink", "not a digit"} through mnistlab.predict."""
    import mnistlab

    classifier = mnistlab.load_classifier(model)
    counts = {}
    for name, (pictures, labels) in sets.items():
        results = mnistlab.predict(classifier, pictures, top_k=1)
        labels_read = [result["label"] for result in results]
        no_ink = sum(result.get("reason") == "no ink stands out from the background" for result in results)
        refused = sum(label is None for label in labels_read)
        read = sum(label == truth for label, truth in zip(labels_read, labels, strict=True))
        counts[name] = {
            "n": len(labels),
            "read": read,
            "wrong": len(labels) - read - refused,
            "no ink": no_ink,
            "not a digit": refused - no_ink,
        }
    return counts


def table(counts: dict[str, dict[str, int]]) -> str:
    """Markdown: read rate per variant (refusals count as wrong), then the sklearn, MNIST and overall rows."""
    lines = [
        "| variant | n | read | wrong | refused: no ink | refused: not a digit |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, parts: list[dict[str, int]]) -> str:
        total = {
            key: sum(part[key] for part in parts) for key in ("n", "read", "wrong", "no ink", "not a digit")
        }
        n = max(total["n"], 1)
        return (
            f"| {name} | {total['n']} | {total['read'] / n:.3f} | {total['wrong'] / n:.3f} | "
            f"{total['no ink'] / n:.3f} | {total['not a digit'] / n:.3f} |"
        )

    lines += [row(name, [part]) for name, part in counts.items()]
    sklearn = [part for name, part in counts.items() if name.startswith("sk ")]
    mnist = [part for name, part in counts.items() if not name.startswith("sk ")]
    lines.append(row("**all sklearn variants**", sklearn))
    if mnist:
        lines.append(row("**all MNIST-test variants**", mnist))
    lines.append(row("**overall**", list(counts.values())))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--limit", type=int, default=None, help="load_digits digits per variant (all 1797)")
    parser.add_argument("--mnist", type=int, default=1000, help="MNIST test digits per MNIST variant")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import keras
    import PIL
    import scipy
    import sklearn

    import mnistlab
    from mnistlab.rundir import cpu_model

    print(f"# {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(
        f"# {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}, keras "
        f"{keras.__version__} ({keras.backend.backend()}), numpy {np.__version__}, "
        f"scipy {scipy.__version__}, Pillow {PIL.__version__}, scikit-learn {sklearn.__version__}"
    )
    test = mnistlab.load("mnist", split="test")
    classifier = mnistlab.load_classifier(args.model)
    accuracy = float((classifier.predict(test["image"]) == test["label"]).mean())
    print(f"# model {args.model}: MNIST test accuracy {accuracy:.4f}")
    sets = variants(args.limit, args.mnist, args.seed)
    start = time.perf_counter()
    counts = read_rates(classifier, sets)
    seconds = time.perf_counter() - start
    pictures = sum(len(labels) for _, labels in sets.values())
    print(f"# {pictures} pictures, {1000 * seconds / pictures:.1f} ms each through mnistlab.predict\n")
    print(table(counts))


if __name__ == "__main__":
    main()
