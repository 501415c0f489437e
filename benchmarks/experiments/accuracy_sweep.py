"""One-epoch test accuracy of fastcnn variants over seeds (full MNIST train set, test set scored).

    python benchmarks/experiments/accuracy_sweep.py --seeds 0 1 2 arch:v0 arch:pool1+b256+lr2e-2

Variants are those of speed_levers.py. Choosing between them this way is exploration only: the
recipe's settings are then re-checked over seeds by benchmarks/bench_train.py.
"""

from __future__ import annotations

import argparse
import statistics

import keras
from common import load_mnist
from speed_levers import fit_once


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    for name in args.variants:
        accuracies, cpus = [], []
        for seed in args.seeds:
            keras.utils.set_random_seed(seed)
            order = __import__("numpy").random.default_rng(seed).permutation(len(train_labels))
            wall, cpu, first, model = fit_once(name, train_images[order], train_labels[order], seed=seed)
            probabilities = model.predict(test_images, batch_size=2000, verbose=0)
            accuracies.append(float((probabilities.argmax(axis=1) == test_labels).mean()))
            cpus.append(cpu)
            print(
                f"  {name} seed {seed}: acc {accuracies[-1]:.4f} wall {wall:.1f}s cpu {cpu:.1f}s", flush=True
            )
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        print(
            f"{name:<28} acc {statistics.mean(accuracies):.4f} ± {spread:.4f} (min {min(accuracies):.4f})"
            f" cpu {statistics.mean(cpus):.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()
