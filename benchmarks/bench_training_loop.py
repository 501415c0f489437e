"""What the training loop's reproducibility costs, measured side by side in one process per variant.

    .venv/bin/python benchmarks/bench_training_loop.py            # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_training_loop.py --repeats 5

Two questions, each answered for the tutorial CNN on 12,000 MNIST examples, batch 128:
1. TensorFlow op determinism (`tf.config.experimental.enable_op_determinism()`): is it needed for two
   runs with the same seed to agree, and how much slower is an epoch with it?
2. One `model.fit` call per epoch (mnistlab's loop, which shuffles by (seed, epoch) so a resumed run
   sees the same batches) against one `fit` call for all epochs with Keras' own shuffling.
Each variant runs in a fresh subprocess (determinism cannot be switched off again); the timings are
seconds per epoch after the first (which includes tracing), as mean ± std over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

from mnistlab.rundir import cpu_model

EPOCHS = 3
TRAIN_SPLIT = "train[:20%]"

_CHILD = r"""
import json, sys, time
import keras, numpy as np, mnistlab
from mnistlab.training.inputs import load_training_data
from mnistlab.training.config import resolve_config
variant = sys.argv[1]
if variant == "deterministic":
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
if variant in ("per_epoch_fit", "deterministic"):
    run = mnistlab.train("cnn", epochs=EPOCHS, train_split=TRAIN_SPLIT, out=sys.argv[2], progress=False)
    seconds = run.history["seconds"].tolist()
    losses = run.history["loss"].tolist()
else:  # one fit call for every epoch, Keras shuffling
    config = resolve_config({"model": "cnn", "train_split": TRAIN_SPLIT})
    data = load_training_data(config)
    keras.utils.set_random_seed(0)
    model = mnistlab.get_model("cnn")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None): self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None): seconds.append(time.perf_counter() - self.start)
    seconds = []
    history = model.fit(data.train_images, data.train_labels, batch_size=128, epochs=EPOCHS,
                        shuffle=True, verbose=0, callbacks=[Clock()])
    losses = history.history["loss"]
print(json.dumps({"seconds": seconds, "losses": losses}))
""".replace("EPOCHS", str(EPOCHS)).replace("TRAIN_SPLIT", repr(TRAIN_SPLIT))


def run_variant(variant: str, out: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, variant, out],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    import tempfile

    import keras
    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    cpu = cpu_model()
    print(
        f"# {cpu}, {os.cpu_count()} cores; python {platform.python_version()}, keras {keras.__version__}, "
        f"tensorflow {tf.__version__}; cnn, {TRAIN_SPLIT}, {EPOCHS} epochs, {args.repeats} repeats"
    )
    variants = ("per_epoch_fit", "deterministic", "single_fit")
    results: dict[str, list[dict]] = {variant: [] for variant in variants}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for variant in variants:  # interleaved, so that load on the machine hits every variant alike
                results[variant].append(run_variant(variant, f"{folder}/{variant}-{repeat}"))
    for variant in variants:
        later = [s for result in results[variant] for s in result["seconds"][1:]]
        same = all(result["losses"] == results[variant][0]["losses"] for result in results[variant])
        spread = statistics.stdev(later) if len(later) > 1 else 0.0
        print(
            f"{variant:14s} {statistics.mean(later):6.2f} ± {spread:4.2f} s/epoch   repeats identical: {same}"
        )
    reference = results["per_epoch_fit"][0]["losses"]
    print(f"deterministic == default losses: {results['deterministic'][0]['losses'] == reference}")


if __name__ == "__main__":
    main()
