"""Side-by-side timing of fastcnn speed levers, alternating variants over rounds in one process.

    python benchmarks/experiments/speed_levers.py --images 20000 --rounds 3 base b256 bf16 arch:s2b+b256

A variant joins parts with "+": `arch:NAME` picks a candidate from archs.py (default: the registered
fastcnn), the other parts are training settings: a name from SETTINGS or setting=value. Each variant compiles
training package's optimizer and loss (the `mnistlab train` path) and fits a fresh model on the first
--images training images. Reported per variant: fit wall seconds and process CPU seconds (mean ± std
over rounds), first-batch seconds (graph tracing) and ratios to the first variant. The machine is shared,
so CPU seconds (less disturbed by other processes) and ratios are what to read.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from common import load_mnist

SETTINGS = {
    "base": {},
    "b64": {"batch_size": 64},
    "b256": {"batch_size": 256},
    "b512": {"batch_size": 512},
    "bf16": {"precision": "bfloat16"},
    "spe4": {"steps_per_execution": 4},
    "spe16": {"steps_per_execution": 16},
    "spe64": {"steps_per_execution": 64},
    "progressbar": {"progress": True},
    "nometric": {},  # handled in fit_once: compile without the accuracy metric
    "first": {},  # handled in fit_once: time the first batch (graph tracing) with a callback
    "uint8": {},  # handled in fit_once: feed uint8 pixels, divided by 255 in the model, per batch
    "lr3e-3": {"lr": 3e-3},
    "lr5e-3": {"lr": 5e-3},
    "lr2e-2": {"lr": 2e-2},
    "lr1.5e-2": {"lr": 1.5e-2},
    "ls0.2": {"label_smoothing": 0.2},
    "ls0": {"label_smoothing": 0.0},
    "const": {"schedule": "constant", "warmup": 0.0},
    "warm0.1": {"warmup": 0.1},
    "warm0.3": {"warmup": 0.3},
}


def fit_once(variant, images, labels, seed=0):
    import archs
    import keras

    from mnistlab.evaluation.bench import parse_recipe
    from mnistlab.models.registry import get_model, get_spec
    from mnistlab.training.config import resolve_config
    from mnistlab.training.optimization import make_loss, make_optimizer
    from mnistlab.training.runtime import precision_policy

    parts = variant.split("+")
    settings = {"progress": False, "seed": seed}
    for part in parts:
        if "=" in part and not part.startswith("arch:"):  # any training setting, e.g. lr=0.02
            settings.update(parse_recipe(f"fastcnn+{part}")[1])
        elif not part.startswith("arch:"):
            settings.update(SETTINGS[part])
    config = resolve_config({"model": "fastcnn", **settings}, get_spec("fastcnn").defaults)
    keras.utils.set_random_seed(config.seed)
    arch = [part.removeprefix("arch:") for part in parts if part.startswith("arch:")]
    with precision_policy(config.precision):
        model = archs.build(arch[0]) if arch else get_model("fastcnn", **config.architecture())
    if "uint8" in parts:  # the lever "normalise once in memory", measured from the other side
        images = np.round(images * 255).astype(np.uint8)
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255), model])
    steps = -(-len(images) // config.batch_size)
    model.compile(
        optimizer=make_optimizer(config, steps),
        loss=make_loss(config),
        metrics=[] if "nometric" in parts else ["accuracy"],
        steps_per_execution=config.steps_per_execution,
    )
    first_batch = [0.0]

    class FirstBatch(keras.callbacks.Callback):
        # a batch hook makes Keras hand logs over after every step; only on request ("first")
        def on_train_batch_end(self, batch, logs=None):
            if batch == 0:
                first_batch[0] = time.perf_counter() - start

    callbacks = [FirstBatch()] if "first" in parts else []
    if config.progress:
        callbacks.append(keras.callbacks.ProgbarLogger())
    start, start_cpu = time.perf_counter(), time.process_time()
    model.fit(
        images, labels, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0, callbacks=callbacks
    )
    return time.perf_counter() - start, time.process_time() - start_cpu, first_batch[0], model


def _mean_std(values):
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="TF intra- and inter-op threads (0: default)")
    parser.add_argument("--grappler", default="on", choices=["on", "off"], help="TF graph optimizer")
    args = parser.parse_args()
    if args.grappler == "off":  # fewer seconds tracing the first step, maybe slower steps
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    if args.threads:
        from mnistlab.training.runtime import limit_threads

        limit_threads(args.threads)  # one thread: CPU time counts work, not spinning on a busy machine
    (train_images, train_labels), _ = load_mnist()
    images, labels = train_images[: args.images], train_labels[: args.images]
    results = {name: {"wall": [], "cpu": [], "first": []} for name in args.variants}
    for round_index in range(args.rounds):
        order = args.variants if round_index % 2 == 0 else args.variants[::-1]
        for name in order:
            wall, cpu, first, _ = fit_once(name, images, labels)
            for key, value in zip(("wall", "cpu", "first"), (wall, cpu, first), strict=True):
                results[name][key].append(value)
            print(
                f"round {round_index} {name}: wall {wall:.2f}s cpu {cpu:.2f}s first batch {first:.2f}s",
                flush=True,
            )
    base_wall = statistics.mean(results[args.variants[0]]["wall"])
    base_cpu = statistics.mean(results[args.variants[0]]["cpu"])
    print(f"\n{args.images} images, {args.rounds} rounds")
    print(f"{'variant':<24} {'wall s':>13} {'cpu s':>13} {'first s':>7} {'wall x':>6} {'cpu x':>6}")
    for name in args.variants:
        wall, wall_std = _mean_std(results[name]["wall"])
        cpu, cpu_std = _mean_std(results[name]["cpu"])
        first = statistics.mean(results[name]["first"])
        print(
            f"{name:<24} {wall:6.2f} ± {wall_std:4.2f} {cpu:6.2f} ± {cpu_std:4.2f} {first:7.2f}"
            f" {wall / base_wall:6.2f} {cpu / base_cpu:6.2f}"
        )


if __name__ == "__main__":
    main()
