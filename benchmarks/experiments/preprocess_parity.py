"""Does a change to mnistlab.preprocess change what it gives? Its output for 2,403 pictures of every kind it
meets (MNIST digits as low-resolution scans, as phone photos and as they are, both ways round; other
writers' scans; a drawing-page canvas; blank paper; noise), saved, or compared with a saved set.

    PYTHONPATH=OLD/src .venv/bin/python benchmarks/experiments/preprocess_parity.py --save before.npz
    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/experiments/preprocess_parity.py \
        --against before.npz

OLD: a copy of the source before the change (`git archive HEAD src | tar -x -C OLD`). It prints the
process CPU seconds the pictures took, and with --against whether every output array (or error) is equal.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photo_digits import photo_set, scan_set  # noqa: E402


def pictures() -> list:
    import mnistlab
    from mnistlab.pictures.scans import low_resolution_scan

    test = mnistlab.load("mnist", split="test")
    images, labels = test["image"][..., 0], np.asarray(test["label"])
    rng = np.random.default_rng(7)
    found = [low_resolution_scan(digit, rng) for digit in images[:1500]]
    found += [photo[0] for photo in photo_set(test["image"], labels, 300, seed=3)]
    found += [scan[0] for scan in scan_set(300, seed=3)]
    found += [255 - digit for digit in images[:200]] + list(images[200:300])
    canvas = np.full((280, 280, 4), 255, np.uint8)
    canvas[60:220, 130:150, :3] = 0
    found += [np.full((280, 280), 255, np.uint8), rng.integers(0, 255, (100, 120)).astype(np.uint8), canvas]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--save", help="write the outputs to this .npz")
    parser.add_argument("--against", help="compare the outputs with this .npz")
    args = parser.parse_args()

    from mnistlab.pictures.images import NoDigitError
    from mnistlab.pictures.preprocess import preprocess

    given = pictures()
    outputs, errors = np.zeros((len(given), 28, 28), np.uint8), []
    started = time.process_time()
    for index, picture in enumerate(given):
        try:
            outputs[index] = preprocess(picture)
            errors.append("")
        except NoDigitError as error:
            errors.append(str(error))
    print(f"{len(given)} pictures, {time.process_time() - started:.2f} s of CPU")
    if args.save:
        np.savez(args.save, outputs=outputs, errors=np.array(errors))
    if args.against:
        with np.load(args.against) as before:
            same = np.array_equal(before["outputs"], outputs) and np.array_equal(before["errors"], errors)
        print("the same outputs and errors" if same else "DIFFERENT outputs or errors")


if __name__ == "__main__":
    main()
