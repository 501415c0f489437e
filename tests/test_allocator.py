"""`import mnistlab` tunes glibc malloc (training/allocator.py), seen in mallinfo2; MNISTLAB_MALLOPT=0 not."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mnistlab.training.allocator import GLIBC_VARIABLES, glibc

pytestmark = pytest.mark.skipif(glibc() is None, reason="malloc is tuned on Linux with glibc only")

BLOCK_MIB = 16  # above glibc's default mmap threshold (128 KiB), below the tuned one (32 MiB)

# In a fresh process: import mnistlab, then malloc and free one block, reading mallinfo2 around each step.
# hblkhd: bytes in mmapped blocks; arena: bytes of the heap (from brk).
PROBE = f"""
import ctypes, json
import mnistlab
from mnistlab.training.allocator import glibc, tune_malloc

FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
          "keepcost")

class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]

libc = glibc()
libc.mallinfo2.restype = Mallinfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
before = libc.mallinfo2()
block = libc.malloc({BLOCK_MIB} * 1024 * 1024)
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({{
    "applied": tune_malloc(),
    "mmapped": during.hblkhd - before.hblkhd,
    "heap_grown": during.arena - before.arena,
    "heap_trimmed": during.arena - after.arena,
}}))
"""


def probe(**env: str) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in GLIBC_VARIABLES}
    environment.pop("MNISTLAB_MALLOPT", None)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_import_keeps_large_blocks_in_the_heap():
    seen = probe()
    assert seen["applied"]
    assert seen["mmapped"] == 0  # M_MMAP_THRESHOLD 32 MiB: a 16 MiB block comes from the heap
    assert seen["heap_grown"] >= 256 * 1024 * 1024  # M_TOP_PAD: grown by 256 MiB more than it needed
    assert seen["heap_trimmed"] == 0  # M_TRIM_THRESHOLD 1 GiB: the freed block stays for reuse


def test_mallopt_0_leaves_glibc_defaults():
    seen = probe(MNISTLAB_MALLOPT="0")
    assert not seen["applied"]
    assert seen["mmapped"] >= BLOCK_MIB * 1024 * 1024  # glibc's default: its own mmap, unmapped when freed
    assert seen["heap_grown"] < BLOCK_MIB * 1024 * 1024


def test_glibc_settings_of_the_user_are_kept():
    seen = probe(MALLOC_MMAP_THRESHOLD_=str(64 * 1024))  # the user's own choice: 64 KiB
    assert not seen["applied"]
    assert seen["mmapped"] >= BLOCK_MIB * 1024 * 1024
