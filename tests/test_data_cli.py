"""`mnistlab data ...` through the real CLI (subprocess), including its one-line errors."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image


def run_cli(*args: str, cache=None, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if cache is not None:
        env["MNISTLAB_CACHE_DIR"] = str(cache)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "mnistlab", "data", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_list_info_and_help(mnist_dir, tmp_path):
    listing = run_cli("list", cache=tmp_path / "cache")
    assert listing.returncode == 0, listing.stderr
    assert "mnist" in listing.stdout and str(mnist_dir / "mnist") in listing.stdout
    assert "fashion_mnist" in listing.stdout and "not downloaded" in listing.stdout
    info = run_cli("info", "fashion_mnist")
    assert info.returncode == 0 and "name='fashion_mnist'" in info.stdout and "num_classes=10" in info.stdout
    assert "'train': <SplitInfo num_examples=60000" in info.stdout
    help_text = run_cli("--help").stdout
    for command in ("list", "info", "show", "stats", "bench", "verify"):
        assert command in help_text


def test_show_stats_and_bench_on_real_mnist(mnist_dir, tmp_path):
    out = tmp_path / "grid.png"
    shown = run_cli("show", "mnist", "--split", "train[:25]", "--out", str(out), "--cols", "5")
    assert shown.returncode == 0, shown.stderr
    assert Image.open(out).size[0] > 300

    plot = tmp_path / "balance.png"
    stats = run_cli("stats", "mnist", "--plot", str(plot))
    assert stats.returncode == 0, stats.stderr
    assert "5923" in stats.stdout and "1135" in stats.stdout  # train zeros, test ones
    assert "11.35" in stats.stdout  # share of ones in test, %
    assert "pixels: uint8 in [0, 255], 256 distinct values" in stats.stdout
    assert Image.open(plot).format == "PNG"

    bench = run_cli("bench", "mnist", "--split", "test", "--batch-size", "32", "--batches", "50")
    assert bench.returncode == 0, bench.stderr
    assert "50 batches of 32 (1600 examples)" in bench.stdout
    assert "examples/s (first included)" in bench.stdout and "examples/s (first excluded)" in bench.stdout


@pytest.mark.parametrize("split", ["train[1:2:3]", "train[abc]", "train[:101%]", "validation"])
def test_bad_split_is_one_line_with_the_grammar(split):
    result = run_cli("show", "--split", split, "--no-download", "--out", os.devnull + ".png")
    assert_one_line_error(result, f"`{split}`")
    assert "expected `split[start:stop]`" in result.stderr or "unknown split" in result.stderr


def corrupted_copy(mnist_dir, tmp_path, damage):
    """tmp_path/data/mnist holding the real test files, with the labels file damaged."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / "mnist" / name, folder / name)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    good = labels.read_bytes()
    if damage == "truncated":
        labels.write_bytes(good[: len(good) // 2])
    elif damage == "checksum":
        raw = bytearray(gzip.decompress(good))
        raw[100] = (raw[100] + 1) % 10
        labels.write_bytes(gzip.compress(bytes(raw)))
    elif damage == "magic":
        raw = gzip.decompress(good)
        labels.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + raw[4:]))
    elif damage == "not-gzip-garbage":
        labels.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    return folder.parent, labels


@pytest.mark.parametrize(
    "damage, reason",
    [
        ("truncated", "truncated (the gzip stream ends early)"),
        ("checksum", "checksum mismatch"),
        ("magic", "wrong IDX magic number"),
        ("not-gzip-garbage", "corrupt gzip data"),
    ],
)
def test_damaged_file_is_one_line_naming_it_and_the_fix(mnist_dir, tmp_path, damage, reason):
    data_dir, labels = corrupted_copy(mnist_dir, tmp_path, damage)
    cache = tmp_path / "cache"
    out = tmp_path / "grid.png"
    result = run_cli(
        "show", "--split", "test[:4]", "--data-dir", str(data_dir), "--out", str(out), cache=cache
    )
    assert_one_line_error(result, str(labels), reason, "delete", "re-download")
    assert not out.exists()
    assert not (cache / "mnist" / "arrays" / "test.json").exists()  # nothing poisoned
    assert not list(cache.rglob("*.npy")) or damage != "truncated"


def test_no_download_names_where_it_looked(tmp_path):
    result = run_cli(
        "stats", "kmnist", "--no-download", "--data-dir", str(tmp_path / "none"), cache=tmp_path / "cache"
    )
    assert_one_line_error(result, "kmnist", "not found", str(tmp_path / "none" / "kmnist"), "--no-download")
