"""`mnistlab data verify` and `mnistlab.data.verify`: every byte of the source files against the published
checksums, and the cached arrays against the sources, on real MNIST and on damaged copies of it."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import numpy as np
from fixtures_data import synthetic

import mnistlab
from mnistlab.data import integrity

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def run_verify(*args: str, cache, data_dir_env=None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "MNISTLAB_DATA_DIR"}
    env["MNISTLAB_CACHE_DIR"] = str(cache)
    if data_dir_env is not None:
        env["MNISTLAB_DATA_DIR"] = str(data_dir_env)
    return subprocess.run(
        [sys.executable, "-m", "mnistlab", "data", "verify", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def statuses(checks) -> list[tuple[str, str]]:
    return [(check.path.name, check.status) for check in checks]


def test_real_mnist_verifies_and_so_does_its_cache(mnist_dir, isolated_cache):
    checks = mnistlab.data.verify("mnist", data_dir=mnist_dir)
    assert statuses(checks) == [
        ("train-images-idx3-ubyte.gz", "ok"),
        ("train-labels-idx1-ubyte.gz", "ok"),
        ("train-*.npy", "not cached"),
        ("t10k-images-idx3-ubyte.gz", "ok"),
        ("t10k-labels-idx1-ubyte.gz", "ok"),
        ("test-*.npy", "not cached"),
    ]
    assert not any(check.problem for check in checks)
    assert checks[0].path == mnist_dir / "mnist" / "train-images-idx3-ubyte.gz"

    mnistlab.load("mnist", data_dir=mnist_dir)  # builds the cache of both splits
    checks = integrity.verify("mnist", data_dir=mnist_dir)
    cached = [check for check in checks if check.path.suffix == ".npy"]
    assert [check.path.name for check in cached] == [
        f"{split}-{kind}.npy" for split in ("train", "test") for kind in ("images", "labels", "positions")
    ]
    assert all(check.status == "ok" for check in checks), [str(check) for check in checks]


def test_the_command_on_real_mnist_prints_one_ok_line_per_file(mnist_dir, tmp_path):
    result = run_verify("mnist", "--data-dir", str(mnist_dir), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6 and result.stderr == ""
    for name in MNIST_FILES:
        assert f"ok         {mnist_dir / 'mnist' / name}: md5 matches the published checksum" in result.stdout


def test_the_command_names_each_problem_on_a_damaged_copy(mnist_dir, tmp_path):
    folder = tmp_path / "data" / "mnist"  # a copy: /work/shared is never touched
    folder.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(mnist_dir / "mnist" / name, folder / name)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[5000] = (raw[5000] + 1) % 10  # one label: still a sound IDX file
    labels.write_bytes(gzip.compress(bytes(raw)))
    images = folder / "t10k-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    (folder / "train-labels-idx1-ubyte.gz").unlink()

    result = run_verify("mnist", "--data-dir", str(folder.parent), cache=tmp_path / "cache")
    assert result.returncode == 2
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 6, result.stdout
    assert lines[0].startswith(f"ok         {folder / 'train-images-idx3-ubyte.gz'}: ")
    assert lines[1].startswith(f"missing    {folder / 'train-labels-idx1-ubyte.gz'}: not found in {folder}, ")
    assert "copy the file into one of these folders" in lines[1]
    assert lines[3].startswith(
        f"mismatch   {images}: truncated (the gzip stream ends early); delete {images}"
    )
    assert lines[4].startswith(
        f"mismatch   {labels}: checksum mismatch (its md5 matches none of the published"
    )
    assert "re-download" in lines[4]
    assert result.stderr == "error: mnist: 3 of 6 files failed verification (see above)\n"


def test_a_cached_image_changed_in_place_is_a_mismatch_until_the_next_load(tiny, isolated_cache):
    mnistlab.load(synthetic.NAME, split="train", data_dir=tiny)
    images_npy = isolated_cache / synthetic.NAME / "arrays" / "train-images.npy"
    before = os.stat(images_npy)
    stored = np.load(images_npy, mmap_mode="r+")
    stored[7, 10, 10, 0] ^= 0xFF
    stored.flush()
    del stored
    os.utime(images_npy, ns=(before.st_atime_ns, before.st_mtime_ns))

    checks = {check.path.name: check for check in integrity.verify(synthetic.NAME, data_dir=tiny)}
    assert checks["train-images.npy"].status == "mismatch"
    assert "differs from the arrays its source files give; delete it" in checks["train-images.npy"].detail
    assert checks["train-labels.npy"].status == "ok" and checks["train-positions.npy"].status == "ok"

    mnistlab.load(synthetic.NAME, split="train", data_dir=tiny)  # detects it and rebuilds
    assert not any(check.problem for check in integrity.verify(synthetic.NAME, data_dir=tiny))


def test_a_bomb_and_a_stale_cache(tiny, isolated_cache):
    mnistlab.load(synthetic.NAME, split="test", data_dir=tiny)
    bomb = gzip.compress(bytes(10 << 20), mtime=0)
    (tiny / synthetic.NAME / "train-images-idx3-ubyte.gz").write_bytes(bomb)
    test_labels = tiny / synthetic.NAME / "t10k-labels-idx1-ubyte.gz"
    os.utime(test_labels, ns=(1, 1))  # same bytes, new mtime: the cache no longer matches its record

    checks = {check.path.name: check for check in integrity.verify(synthetic.NAME, data_dir=tiny)}
    assert checks["train-images-idx3-ubyte.gz"].status == "mismatch"
    assert checks["train-images-idx3-ubyte.gz"].detail.startswith("decompresses to more than 104,752 bytes")
    assert checks["test-*.npy"].status == "not cached" and not checks["test-*.npy"].problem
    assert "the next load rebuilds it" in checks["test-*.npy"].detail
    assert checks["t10k-labels-idx1-ubyte.gz"].status == "ok"
