"""Process-wide settings a run applies once at its entry: seed, CPU threads, numeric precision.

seed_everything(config.seed)        # python, numpy, the backend and Keras' own generators
limit_threads(config.threads)       # TensorFlow only; must happen before TensorFlow runs anything
with precision_policy("bfloat16"):  # models built inside compute in bf16; restored on exit
    model = build()
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mnistlab.errors import MnistlabError
from mnistlab.rundir import BF16_FLAGS, cpu_flags

# config precision -> Keras dtype policy: "mixed_bfloat16" computes in bfloat16, keeps weights in float32
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def native_precision(cpuinfo: str = "/proc/cpuinfo") -> str:
    """ "bfloat16" where the CPU computes in bf16 natively, else "float32" (the meaning of precision=auto)."""
    import keras

    if keras.backend.backend() != "tensorflow":  # measured with TensorFlow's oneDNN kernels only
        return "float32"
    return "bfloat16" if BF16_FLAGS & cpu_flags(cpuinfo) else "float32"


def float32_config(config):
    """A Keras model config with every mixed-precision dtype policy, nested ones too, set to float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and isinstance(config.get("config"), dict):
            name = config["config"].get("name", "")
            if isinstance(name, str) and name.startswith("mixed_"):
                return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [float32_config(value) for value in config]
    return config


def seed_everything(seed: int) -> None:
    import keras

    keras.utils.set_random_seed(seed)


def limit_threads(threads: int) -> None:
    """Use `threads` CPU threads inside and between TensorFlow ops (0: TensorFlow decides).

    Other backends read their thread settings from the environment when they start (e.g. XLA_FLAGS
    for JAX), so there this setting has no effect.
    """
    import keras

    if threads == 0 or keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran something in this process; a same value is fine
        current = tf.config.threading.get_intra_op_parallelism_threads()
        raise MnistlabError(
            f"threads={threads}: TensorFlow in this process already runs with {current or 'its default'} "
            "threads and cannot change; start a new Python process or leave threads at 0"
        ) from None


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
