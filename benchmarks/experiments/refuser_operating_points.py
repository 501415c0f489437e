"""How many non-digits the shipped refuser turns away at other operating points, and with the classifier's
own doubt added: each way's threshold refuses a given share of the held-out digit photos.

    MNISTLAB_DATA_DIR=../shared/datasets .venv/bin/python benchmarks/experiments/refuser_operating_points.py \
        RUN --examples FILE.npz [--count 500] [--seed 0]

RUN: a run directory (its classifier); FILE.npz: the examples file benchmarks/train_refuser.py keeps
(--cache), whose held_digits are the threshold's digits. The pictures are bench_refusal.py's, prepared by
mnistlab.preprocess as predict does; a picture without ink is refused whatever the rule. Rules: the
refuser's digit probability (the mean over its five views, as shipped) below a threshold; or that, or the
classifier's top probability (the mean over the same five views) below a second threshold, the two
sharing the held-out budget; or a sum of their logarithms.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_refusal import picture_sets  # noqa: E402
from refuser_views import prepared  # noqa: E402

BUDGETS = (0.004, 0.006, 0.008, 0.010, 0.015, 0.020)  # shares of held-out digit photos refused
SHARED = 0.006  # the budget the combined rules share (the shipped one)


def scores(refuser, classifier, pictures: np.ndarray) -> dict[str, np.ndarray]:
    """The refuser's digit probability and the classifier's top probability, each the mean over the
    refuser's five views (the picture and its one-pixel moves)."""
    from mnistlab.recognition.refuser import SHIFTS, shifted

    pixels = np.asarray(pictures, np.uint8).reshape(-1, 28, 28, 1)
    views = np.stack([classifier.predict_proba(shifted(pixels, down, right)) for down, right in SHIFTS])
    return {"refuser": refuser.probabilities(pictures)[:, 0], "top": views.mean(axis=0).max(axis=1)}


def log_sum(found: dict, weight: float) -> np.ndarray:
    return np.log(found["refuser"] + 1e-6) + weight * np.log(found["top"] + 1e-6)


def below(held: dict, score, budget: float):
    """A rule refusing where score(scores) is under its `budget` quantile on the held-out digits."""
    threshold = np.quantile(score(held), budget)
    return lambda found: score(found) < threshold


def either(held: dict, share: float):
    """Refuse where the refuser is under its (share x SHARED) quantile or the top probability under the
    largest threshold that keeps the two together within SHARED of the held-out digits."""
    first = np.quantile(held["refuser"], SHARED * share)
    second = -1.0
    for candidate in np.quantile(held["top"], np.linspace(0, 0.02, 401)):
        if ((held["refuser"] < first) | (held["top"] < candidate)).mean() <= SHARED:
            second = candidate
    return lambda found: (found["refuser"] < first) | (found["top"] < second)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run")
    parser.add_argument("--examples", required=True)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import mnistlab
    from mnistlab.classifier import answering_classifier
    from mnistlab.recognition.refuser import load_refuser

    refuser, classifier = load_refuser(), answering_classifier(args.run)
    with np.load(args.examples) as examples:
        held = scores(refuser, classifier, examples["held_digits"])
    digit_sets, other_sets, _ = picture_sets(mnistlab.load("mnist", split="test"), args.count, args.seed)
    sets = {}
    for name, pictures in {**digit_sets, **other_sets}.items():
        images, inked = prepared(pictures)
        sets[name] = (scores(refuser, classifier, images), inked)

    rules = {}
    for budget in BUDGETS:
        rules[f"refuser, {budget:.1%} held-out"] = below(held, lambda s: s["refuser"], budget)
    for share in (0.9, 0.7, 0.5):  # the refuser's part of the shared budget; the classifier's the rest
        rules[f"refuser or top probability ({share:.0%} / rest of {SHARED:.1%})"] = either(held, share)
    for weight in (0.5, 1.0, 2.0):
        score = functools.partial(log_sum, weight=weight)
        rules[f"log refuser + {weight:g} log top ({SHARED:.1%})"] = below(held, score, SHARED)

    names = list(sets)
    print(f"# {args.count} pictures per set, seed {args.seed}; {len(held['refuser'])} held-out digit photos")
    print("| rule | held-out refused | " + " | ".join(names) + " | non-digits, mean |")
    print("|---|---|" + "---|" * (len(names) + 1))
    for rule_name, refuses in rules.items():
        cells, others = [], []
        for name, (found, inked) in sets.items():
            refused = float((~inked | refuses(found)).mean())
            cells.append(f"{refused:.1%}")
            if name in other_sets:
                others.append(refused)
        row = f"| {rule_name} | {refuses(held).mean():.2%} | " + " | ".join(cells)
        print(row + f" | {np.mean(others):.1%} |")


if __name__ == "__main__":
    main()
