"""glibc malloc tuned for training: freed tensors stay in the heap instead of going back to the kernel.

    from mnistlab.training.allocator import tune_malloc
    tune_malloc()     # True where applied; `import mnistlab` calls it, before Keras or TensorFlow load

By default glibc serves every block above a (dynamic) threshold of 128 KiB-32 MiB with its own mmap and
returns it with munmap when freed, and trims the heap top above 128 KiB: TensorFlow frees and allocates
its activations and gradients every step, so a step spends much of its time in mmap, munmap and the page
faults of fresh pages. The three settings below are those of the environment variables
MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_TOP_PAD_=268435456, which glibc
reads only when a process starts; mallopt sets them from inside one.

MNISTLAB_MALLOPT=0 leaves malloc as it is (to measure the difference), and so does any of glibc's own
MALLOC_*_ or GLIBC_TUNABLES variables: whoever set them chose already. Elsewhere than Linux with glibc
(macOS, Windows, musl) there is nothing to tune and nothing is done.
"""

from __future__ import annotations

import os
import sys

# mallopt parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MIB = 1024 * 1024
# parameter -> value (bytes). One fastcnn epoch on full MNIST, AMD EPYC Zen 3 (AVX2), 2 busy cores: 27.3 s
# of training with glibc's defaults, 15.1 s with these (1.80x), system CPU 15.3 s -> 2.1 s, peak memory
# 1198 -> 1363 MiB (medians of 4 each, benchmarks/bench_allocator.py; benchmarks/RESULTS.md, "Memory
# allocator (AVX2 kind)"). On the AVX-512 (Zen 5) kind (AMD EPYC with AVX512-BF16) the same comparison
# gave 3.50 s against 3.37 s (1.04x, within the noise), system CPU 1.52 -> 1.31 s, 29 MiB more: no gain
# there and no harm, so the settings apply everywhere glibc does (RESULTS.md, "The AVX-512 (Zen 5) kind").
SETTINGS = {
    M_MMAP_THRESHOLD: 32 * MIB,  # blocks below it come from the heap; 32 MiB is glibc's largest allowed
    M_TRIM_THRESHOLD: 1024 * MIB,  # free heap top kept up to 1 GiB instead of 128 KiB
    M_TOP_PAD: 256 * MIB,  # grow the heap in steps of 256 MiB: fewer brk calls (untouched pages cost no RAM)
}
ENV_SWITCH = "MNISTLAB_MALLOPT"  # "0": leave glibc's defaults
# glibc's own settings of the same parameters, read at process start; any of them set wins over ours
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")

_applied: bool | None = None  # the outcome of the first tune_malloc() in this process


def glibc():
    """The process's C library as a ctypes.CDLL where it is glibc on Linux, else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
    except (ValueError, OSError):  # musl and others do not know the name
        return None
    import ctypes

    return ctypes.CDLL(None)


def tune_malloc() -> bool:
    """Apply SETTINGS with mallopt, once per process -> whether they are in effect."""
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get(ENV_SWITCH, "1").strip() == "0" or any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    libc = glibc()
    if libc is None:
        return False
    return all(libc.mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
