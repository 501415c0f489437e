"""Digits and numbers written on a notebook's ruled or squared paper, or with finer pens, against the same
on plain paper with a pen as MNIST's.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/bench_ruled_paper.py RUN \
        [--count 500] [--numbers 300] [--seed 0] [--pens-only]

Photos: the first COUNT MNIST test digits photographed in pen or pencil (photo_digits.render_photo) three
times, each with the same style, on plain, ruled and squared paper (lines 20-95% as dark as they can be),
and on plain paper with a fine pen (strokes about 60% as wide as MNIST's) and a ballpoint (the strokes'
centre lines drawn 20-50% as wide as MNIST's), through `mnistlab.predict`: read correctly, refused,
wrong (--pens-only: plain paper and the pens, no numbers). Numbers: NUMBERS numbers of 2-7 MNIST test
digits (bench_read.py) on plain and on ruled paper, through `mnistlab.read`: read exactly. Run it with
another version's code on PYTHONPATH to compare (e.g. before a change to preprocessing).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_read import number_set  # noqa: E402
from photo_digits import PAPERS, PEN_STYLES, PEN_WEIGHTS, render_photo  # noqa: E402


def photos(images: np.ndarray, count: int, seed: int, papers=PAPERS) -> dict[str, list[bytes]]:
    """Each paper (and the finer pens) -> the first `count` digits photographed on it, the n-th digit in
    one style on all."""
    rng = np.random.default_rng(seed)
    styles = rng.choice(PEN_STYLES, size=count, p=PEN_WEIGHTS)
    found = {}
    for paper, pen in [(paper, "usual") for paper in papers] + [("plain", "fine"), ("plain", "ballpoint")]:
        rng = np.random.default_rng(seed + 1)  # the same sizes and places on every paper
        drawn = zip(images, styles, strict=True)
        name = f"{paper} paper" + (f", a {pen} pen" if pen != "usual" else "")
        found[name] = [render_photo(digit, rng, str(style), paper, pen)[0] for digit, style in drawn]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run")
    parser.add_argument("--count", type=int, default=500, help="digit photos per paper")
    parser.add_argument("--numbers", type=int, default=300, help="numbers per paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pens-only", action="store_true", help="plain paper and the pens, no numbers")
    args = parser.parse_args()

    import mnistlab
    from mnistlab.rundir import cpu_model

    test = mnistlab.load("mnist", split="test")
    images, labels = test["image"][..., 0], np.asarray(test["label"])
    print(f"# {' '.join([os.path.basename(sys.executable), *sys.argv])}")
    print(f"# {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print(f"# mnistlab from {Path(mnistlab.__file__).parent}; model {args.run}")
    print("\n| digit photos | n | read | refused | wrong |\n|---|---|---|---|---|")
    papers = ("plain",) if args.pens_only else PAPERS
    for paper, pictures in photos(images[: args.count], args.count, args.seed, papers).items():
        answers = [answer.get("label") for answer in mnistlab.predict(args.run, pictures)]
        read = np.mean([answer == label for answer, label in zip(answers, labels[: args.count], strict=True)])
        refused = np.mean([answer is None for answer in answers])
        wrong = 1 - read - refused
        print(f"| on {paper} | {len(pictures)} | {read:.3f} | {refused:.3f} | {wrong:.3f} |", flush=True)
    if args.pens_only:
        return
    print("\n| numbers of 2-7 digits | n | read exactly |\n|---|---|---|")
    classifier = mnistlab.load_classifier(args.run)
    for paper in ("plain", "ruled"):
        numbers = number_set(images, labels, args.numbers, args.seed, paper)
        results = mnistlab.read(classifier, [data for data, _text, _info in numbers])
        right = np.mean([found["text"] == text for found, (_, text, _) in zip(results, numbers, strict=True)])
        print(f"| on {paper} paper | {len(numbers)} | {right:.3f} |")


if __name__ == "__main__":
    main()
