"""Downloading from mirrors, against a real HTTP server on 127.0.0.1 serving files the tests write."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from fixtures_data import synthetic
from fixtures_data.mirror import MirrorServer

import mnistlab
from mnistlab.data import fetch
from mnistlab.data.registry import get_dataset
from mnistlab.errors import DataError

IMAGES = "train-images-idx3-ubyte.gz"
LABELS = "train-labels-idx1-ubyte.gz"


@pytest.fixture
def server():
    with MirrorServer() as mirror_server:
        yield mirror_server


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(fetch, "BACKOFF_S", 0.0)
    monkeypatch.delenv("MNISTLAB_MIRRORS", raising=False)
    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)


def cache_files(cache):
    folder = cache / synthetic.NAME
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def download(spec, filename, mirrors, cache):
    data_file = next(f for f in spec.files if f.filename == filename)
    return fetch.download_file(spec, data_file, tuple(mirrors), cache / spec.name)


def test_success_writes_a_verified_file_into_the_cache(server, spec, contents, isolated_cache):
    mirror = server.serve("good", contents)
    path = download(spec, IMAGES, [mirror], isolated_cache)
    assert path == isolated_cache / synthetic.NAME / IMAGES
    assert path.read_bytes() == contents[IMAGES]
    assert cache_files(isolated_cache) == [IMAGES]


def test_404_on_the_first_mirror_then_the_second(server, spec, contents, isolated_cache):
    second = server.serve("second", contents)
    path = download(spec, LABELS, [f"{server.url}/missing/", second], isolated_cache)
    assert path.read_bytes() == contents[LABELS]
    assert server.requests[f"/missing/{LABELS}"] == 1  # a 404 is not retried


def test_500_is_retried_then_reported_with_every_mirror(server, spec, contents, isolated_cache):
    server.routes[f"/broken/{LABELS}"] = (500, b"oops")
    mirrors = [f"{server.url}/broken/", f"{server.url}/missing/"]
    with pytest.raises(DataError) as error:
        download(spec, LABELS, mirrors, isolated_cache)
    message = str(error.value)
    assert server.requests[f"/broken/{LABELS}"] == fetch.ATTEMPTS_PER_MIRROR
    assert f"{server.url}/broken/{LABELS} (HTTP 500, after 3 attempts)" in message
    assert f"{server.url}/missing/{LABELS} (HTTP 404)" in message
    assert "To work offline" in message and "MNISTLAB_DATA_DIR" in message
    assert cache_files(isolated_cache) == []


def test_500_then_success_on_retry(server, spec, contents, isolated_cache, monkeypatch):
    calls = {"count": 0}
    original = fetch._fetch

    def flaky(*args):
        calls["count"] += 1
        if calls["count"] == 1:
            server.routes[f"/flaky/{LABELS}"] = (500, b"busy")
        else:
            server.routes[f"/flaky/{LABELS}"] = (200, contents[LABELS])
        return original(*args)

    monkeypatch.setattr(fetch, "_fetch", flaky)
    path = download(spec, LABELS, [f"{server.url}/flaky/"], isolated_cache)
    assert path.read_bytes() == contents[LABELS]
    assert server.requests[f"/flaky/{LABELS}"] == 2


@pytest.mark.parametrize(
    "make_body, reason",
    [
        (lambda good: good[: len(good) // 2], "truncated (the gzip stream ends early)"),
        (lambda good: gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x03abc"), "checksum mismatch"),
        (lambda good: gzip.compress(b"\x00\x00\x08\x03" + gzip.decompress(good)[4:]), "wrong IDX magic"),
        (lambda good: gzip.compress(b"PK\x03\x04 not an idx file"), "not an IDX file"),
        (lambda good: b"<html>proxy login</html>", "not an IDX file"),
    ],
    ids=["truncated-gzip", "wrong-checksum", "wrong-ndim", "wrong-magic", "html-page"],
)
def test_bad_downloads_are_refused_and_leave_nothing(
    server, spec, contents, isolated_cache, make_body, reason
):
    server.routes[f"/bad/{LABELS}"] = (200, make_body(contents[LABELS]))
    with pytest.raises(DataError) as error:
        download(spec, LABELS, [f"{server.url}/bad/"], isolated_cache)
    assert reason in str(error.value)
    assert f"{server.url}/bad/{LABELS}" in str(error.value)
    assert cache_files(isolated_cache) == []
    assert not list(isolated_cache.rglob(".*"))  # no temporary files either


def test_connection_closed_early_is_retried_then_refused(server, spec, contents, isolated_cache):
    body = contents[LABELS]
    server.routes[f"/short/{LABELS}"] = (200, body[:10], len(body))  # promises more than it sends
    with pytest.raises(DataError, match="after 3 attempts"):
        download(spec, LABELS, [f"{server.url}/short/"], isolated_cache)
    assert cache_files(isolated_cache) == []


def test_unreachable_mirror_names_the_reason(spec, isolated_cache):
    with pytest.raises(DataError, match=r"http://127\.0\.0\.1:9/x/train-labels-idx1-ubyte\.gz \("):
        download(spec, LABELS, ["http://127.0.0.1:9/x/"], isolated_cache)


def test_load_downloads_every_file_then_works_offline(server, spec, contents, isolated_cache):
    mirror = server.serve("good", contents)
    ds = mnistlab.load(synthetic.NAME, split="test", mirrors=[mirror])
    expected_images, expected_labels = synthetic.stored_arrays("test")
    np.testing.assert_array_equal(ds["image"][..., 0], expected_images)
    np.testing.assert_array_equal(ds["label"], expected_labels)
    assert set(cache_files(isolated_cache)) >= {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}

    server.routes.clear()  # every mirror now answers 404; the cache is enough
    again = mnistlab.load(synthetic.NAME, split="test", download=False)
    np.testing.assert_array_equal(again["label"], expected_labels)


def test_mirrors_from_the_environment(server, spec, contents, isolated_cache, monkeypatch):
    server.serve(synthetic.NAME, contents)
    monkeypatch.setenv("MNISTLAB_MIRRORS", f"{server.url}/nowhere/, {server.url}/{{name}}/")
    assert fetch.mirrors_for(spec) == (f"{server.url}/nowhere/", f"{server.url}/{synthetic.NAME}/")
    ds = mnistlab.load(synthetic.NAME, split="train[:3]")
    assert ds["label"].tolist() == synthetic.stored_arrays("train")[1][:3].tolist()
    assert server.requests[f"/nowhere/{IMAGES}"] == 1


def test_download_false_refuses_with_the_folders_searched(spec, isolated_cache, tmp_path):
    with pytest.raises(DataError) as error:
        mnistlab.load(synthetic.NAME, split="train", data_dir=tmp_path / "mine", download=False)
    message = str(error.value)
    assert f"{tmp_path / 'mine' / synthetic.NAME}" in message
    assert f"{isolated_cache / synthetic.NAME}" in message
    assert "--no-download" in message


def test_search_order_data_dir_then_env_then_cache(spec, contents, isolated_cache, tmp_path, monkeypatch):
    for folder in ("arg", "env", "cache"):
        synthetic.write_dataset(tmp_path / folder, contents)
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(tmp_path / "cache"))
    assert fetch.find_file(spec, IMAGES, tmp_path / "arg") == tmp_path / "arg" / synthetic.NAME / IMAGES
    assert fetch.find_file(spec, IMAGES) == tmp_path / "env" / synthetic.NAME / IMAGES
    monkeypatch.delenv("MNISTLAB_DATA_DIR")
    assert fetch.find_file(spec, IMAGES) == tmp_path / "cache" / synthetic.NAME / IMAGES
    assert fetch.search_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "cache"]


def test_default_cache_is_the_platform_user_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv("MNISTLAB_CACHE_DIR", raising=False)
    assert str(fetch.cache_root()) == platformdirs.user_cache_dir("mnistlab")


def test_real_datasets_list_their_mirrors_in_order():
    mnist = get_dataset("mnist")
    assert mnist.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert fetch.mirrors_for(mnist, ["https://example.invalid/{name}/"]) == (
        "https://example.invalid/mnist/",
    )
    assert mnistlab.list_datasets() == ["fashion_mnist", "kmnist", "mnist"]
    for name in mnistlab.list_datasets():  # every published mirror is https
        assert all(mirror.startswith("https://") for mirror in get_dataset(name).mirrors), name


def test_progress_bar_on_a_terminal(server, spec, contents, isolated_cache, monkeypatch, capfd):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats stderr as a terminal
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    download(spec, LABELS, [server.serve("good", contents)], isolated_cache)
    assert f"download {LABELS}" in capfd.readouterr().err
