"""Downloads and files on disk are bounded and private: size limits, gzip bombs, https only, redirects,
credentials. Real files, a real HTTP(S) server on 127.0.0.1 (fixtures_data/mirror.py), no mocks."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib

import numpy as np
import pytest
from fixtures_data import synthetic
from fixtures_data.mirror import STREAM_CAP_BYTES, TLS_CERT, MirrorServer, Route, endless_zeros

import mnistlab
from mnistlab.data import fetch, idx, urls
from mnistlab.data.registry import get_dataset
from mnistlab.errors import DataError, MnistlabError

NAME = synthetic.NAME
IMAGES = "train-images-idx3-ubyte.gz"
LABELS = "train-labels-idx1-ubyte.gz"
BOMB_BYTES = 100 << 20  # what the bomb expands to; the synthetic images file may hold 104,752 bytes
PEAK_BOUND_BYTES = 8 << 20  # memory a refused bomb may cost: its limit, a 1 MiB piece and the download


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """~100 KB of gzip that expands to 100 MB of zeros: inside the images file's download limit."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(BOMB_BYTES >> 20)) + compressor.flush()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    monkeypatch.setattr(fetch, "BACKOFF_S", 0.0)
    for variable in ("MNISTLAB_MIRRORS", "MNISTLAB_DATA_DIR", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("https_proxy", raising=False)


@pytest.fixture
def server():
    with MirrorServer() as mirror_server:
        yield mirror_server


@pytest.fixture
def tls_server(monkeypatch):
    """An https mirror on 127.0.0.1 whose self-signed certificate the client trusts."""
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_CERT))
    with MirrorServer(tls=True) as mirror_server:
        yield mirror_server


def download(spec, filename, mirrors, cache):
    data_file = next(f for f in spec.files if f.filename == filename)
    return fetch.download_file(spec, data_file, tuple(mirrors), cache / spec.name)


def limits(spec, filename):
    return fetch.size_limits(spec, next(f for f in spec.files if f.filename == filename))


def peak_bytes(function) -> tuple[int, Exception | None]:
    """Peak Python memory while `function` runs, and the exception it raised."""
    tracemalloc.start()
    try:
        function()
        raised = None
    except Exception as error:  # noqa: BLE001 - handed back to the test
        raised = error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


# Sizes


def test_limits_follow_the_registry():
    mnist = get_dataset("mnist")
    train_images = mnist.splits["train"].images
    assert mnist.decompressed_size(train_images) == 47040016  # 16 + 60000 x 784
    assert mnist.decompressed_size(mnist.splits["test"].labels) == 10008  # 8 + 10000
    compressed, decompressed = fetch.size_limits(mnist, train_images)
    assert decompressed == 47040016 + fetch.MARGIN_BYTES
    assert decompressed < compressed < decompressed * 1.001 + (1 << 17)  # gzip of noise grows a little
    noise = np.random.default_rng(0).bytes(3_000_000)  # incompressible: gzip stores it, a little larger
    assert len(noise) < len(gzip.compress(noise, compresslevel=9)) <= idx.gzip_bound(len(noise))
    assert len(noise) < len(gzip.compress(noise, compresslevel=1)) <= idx.gzip_bound(len(noise))


@pytest.mark.parametrize(
    "route, reason",
    [
        pytest.param(lambda size: Route(200, bytes(size * 4)), "the server announces", id="honest-length"),
        pytest.param(
            lambda size: Route(200, endless_zeros(), length=100, chunked=True),
            "announced: none); stopped reading",  # urllib ignores Content-Length with chunked encoding
            id="lying-length",
        ),
        pytest.param(
            lambda size: Route(200, endless_zeros(), length=None),
            "announced: none); stopped reading",
            id="no-length",
        ),
    ],
)
def test_a_file_over_its_size_limit_is_refused_while_streaming(server, spec, isolated_cache, route, reason):
    max_bytes, _ = limits(spec, LABELS)
    server.routes[f"/big/{LABELS}"] = route(max_bytes)
    with pytest.raises(DataError) as error:
        download(spec, LABELS, [f"{server.url}/big/"], isolated_cache)
    message = str(error.value)
    assert f"{server.url}/big/{LABELS} (too large:" in message and f"{max_bytes:,}" in message
    assert reason in message
    assert "\n" not in message and "To work offline" in message
    assert server.requests[f"/big/{LABELS}"] == 1  # not retried
    assert server.sent[f"/big/{LABELS}"] < STREAM_CAP_BYTES // 4  # it stopped reading, far before the end
    assert not (isolated_cache / NAME).exists()


def test_a_length_that_promises_less_is_never_read_past(server, spec, isolated_cache):
    server.routes[f"/short/{LABELS}"] = Route(200, endless_zeros(), length=100)
    with pytest.raises(DataError, match="not an IDX file"):  # 100 zero bytes were read, and refused
        download(spec, LABELS, [f"{server.url}/short/"], isolated_cache)
    assert server.sent[f"/short/{LABELS}"] < STREAM_CAP_BYTES // 4


def test_a_downloaded_gzip_bomb_is_refused_within_its_limit(server, spec, isolated_cache, bomb):
    _, limit = limits(spec, IMAGES)
    server.routes[f"/bomb/{IMAGES}"] = (200, bomb)
    peak, error = peak_bytes(lambda: download(spec, IMAGES, [f"{server.url}/bomb/"], isolated_cache))
    assert isinstance(error, DataError), error
    assert f"(decompresses to more than {limit:,} bytes" in str(error)
    assert peak < PEAK_BOUND_BYTES, f"{peak:,} bytes"  # not the 100 MB it expands to
    assert not (isolated_cache / NAME).exists()


@pytest.mark.parametrize("where", ["data_dir", "env", "cache"])
def test_a_gzip_bomb_on_disk_is_refused_within_its_limit(
    tmp_path, spec, contents, isolated_cache, monkeypatch, bomb, where
):
    root = {"data_dir": tmp_path / "data", "env": tmp_path / "env", "cache": isolated_cache}[where]
    synthetic.write_dataset(root, {**contents, IMAGES: bomb})
    if where == "env":
        monkeypatch.setenv("MNISTLAB_DATA_DIR", str(root))
    data_dir = root if where == "data_dir" else None
    peak, error = peak_bytes(lambda: mnistlab.load(NAME, split="train", data_dir=data_dir, download=False))
    assert isinstance(error, DataError), error
    _, limit = limits(spec, IMAGES)
    assert str(error).startswith(f"{root / NAME / IMAGES}: decompresses to more than {limit:,} bytes")
    assert "delete" in str(error)
    assert peak < PEAK_BOUND_BYTES, f"{peak:,} bytes"
    assert not (isolated_cache / NAME / "arrays" / "train.json").exists()


def test_a_huge_file_on_disk_is_refused_before_it_is_read(tmp_path, spec, contents, isolated_cache):
    folder = synthetic.write_dataset(tmp_path / "data", contents)
    with open(folder / IMAGES, "wb") as stream:
        stream.truncate(1 << 30)  # a sparse 1 GiB file: costs no disk
    peak, error = peak_bytes(lambda: mnistlab.load(NAME, split="train", data_dir=tmp_path / "data"))
    assert isinstance(error, DataError), error
    compressed_limit, _ = limits(spec, IMAGES)
    assert f"1,073,741,824 bytes, more than the {compressed_limit:,} this file can take" in str(error)
    assert peak < PEAK_BOUND_BYTES


# https only


@pytest.mark.parametrize(
    "mirror",
    ["http://example.org/mnist/", "ftp://example.org/mnist/", "file:///tmp/mnist/", "http://10.0.0.1/x/"],
)
def test_a_plain_http_mirror_is_refused_before_any_request(server, spec, contents, isolated_cache, mirror):
    good = server.serve("good", contents)
    with pytest.raises(DataError) as error:
        download(spec, LABELS, [mirror, good], isolated_cache)
    message = str(error.value)
    assert message.startswith(f"mirror {mirror} refused: only https:// mirrors are allowed")
    assert "127.0.0.1, ::1 or localhost" in message
    assert server.requests == {}  # refused before anything was fetched, the good mirror included


def test_a_plain_http_mirror_from_the_environment_is_refused(spec, isolated_cache, monkeypatch):
    monkeypatch.setenv("MNISTLAB_MIRRORS", "http://mirror.example.org/{name}/")
    with pytest.raises(MnistlabError, match=r"mirror http://mirror\.example\.org/tiny_digits/ refused"):
        mnistlab.load(NAME, split="test")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_a_loopback_host_is_allowed(server, spec, contents, isolated_cache, host):
    server.serve("local", contents)
    port = server.httpd.server_port
    path = download(spec, LABELS, [f"http://{host}:{port}/local/"], isolated_cache)
    assert path.read_bytes() == contents[LABELS]


def test_which_mirrors_are_allowed():
    for allowed in (
        "https://example.org/x/",
        "http://127.0.0.1:8000/",
        "http://[::1]:8000/",
        "http://localhost/",
    ):
        urls.check_mirror(allowed)
    for refused in (
        "http://example.org/",
        "http://127.0.0.2/",
        "http://localhost.example.org/",
        "https:///x",
    ):
        with pytest.raises(DataError):
            urls.check_mirror(refused)


def test_an_https_mirror_works(tls_server, spec, contents, isolated_cache):
    path = download(spec, IMAGES, [tls_server.serve("secure", contents)], isolated_cache)
    assert path.read_bytes() == contents[IMAGES]


# redirects


def test_a_redirect_from_https_to_http_is_refused(tls_server, server, spec, contents, isolated_cache):
    plain = server.serve("plain", contents)  # a loopback http mirror that would serve a good file
    tls_server.routes[f"/moved/{LABELS}"] = Route(302, b"", headers={"Location": plain + LABELS})
    with pytest.raises(DataError) as error:
        download(spec, LABELS, [f"{tls_server.url}/moved/"], isolated_cache)
    assert f"redirected (HTTP 302) from https to {plain}{LABELS}: refused" in str(error.value)
    assert server.requests == {}  # the http address was never asked
    assert not (isolated_cache / NAME).exists()


def test_redirects_that_keep_to_the_rules_are_followed(tls_server, server, spec, contents, isolated_cache):
    secure = tls_server.serve("secure", contents)
    tls_server.routes[f"/moved/{LABELS}"] = Route(301, b"", headers={"Location": f"{secure}{LABELS}"})
    assert (
        download(spec, LABELS, [f"{tls_server.url}/moved/"], isolated_cache).read_bytes() == contents[LABELS]
    )

    plain = server.serve("plain", contents)  # http -> http, both loopback
    server.routes[f"/moved/{IMAGES}"] = Route(302, b"", headers={"Location": f"{plain}{IMAGES}"})
    assert download(spec, IMAGES, [f"{server.url}/moved/"], isolated_cache).read_bytes() == contents[IMAGES]

    server.routes[f"/away/{IMAGES}"] = Route(302, b"", headers={"Location": "http://example.org/x.gz"})
    with pytest.raises(DataError, match=r"redirected \(HTTP 302\) from http to http://example\.org/x\.gz"):
        download(spec, IMAGES, [f"{server.url}/away/"], isolated_cache)


# credentials

SECRETS = ("alice", "pa55-w0rd-secret", "t0k3n-value-42")


def private_mirror(tls_server, folder: str) -> str:
    port = tls_server.httpd.server_port
    return f"https://alice:pa55-w0rd-secret@127.0.0.1:{port}/{folder}/?token=t0k3n-value-42"


def test_credentials_in_a_mirror_url_are_sent_as_basic_auth(tls_server, spec, contents, isolated_cache):
    tls_server.routes[f"/private/{LABELS}?token=t0k3n-value-42"] = (200, contents[LABELS])
    path = download(spec, LABELS, [private_mirror(tls_server, "private")], isolated_cache)
    assert path.read_bytes() == contents[LABELS]
    expected = "Basic " + base64.b64encode(b"alice:pa55-w0rd-secret").decode()
    assert tls_server.auth[f"/private/{LABELS}?token=t0k3n-value-42"] == expected


@pytest.mark.parametrize("failure", ["http-500", "bad-checksum", "too-large", "unreachable"])
def test_credentials_never_appear_in_errors_or_progress(
    tls_server, spec, contents, isolated_cache, monkeypatch, capfd, failure
):
    monkeypatch.setenv("FORCE_COLOR", "1")  # a progress bar on stderr, as on a terminal
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    path = f"/private/{LABELS}?token=t0k3n-value-42"
    mirror = private_mirror(tls_server, "private")
    if failure == "http-500":
        tls_server.routes[path] = (500, b"oops")
    elif failure == "bad-checksum":
        tls_server.routes[path] = (200, gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x03abc"))
    elif failure == "too-large":
        tls_server.routes[path] = Route(200, endless_zeros(), length=None)
    else:
        mirror = "https://alice:pa55-w0rd-secret@127.0.0.1:9/private/?token=t0k3n-value-42"
    with pytest.raises(DataError) as error:
        download(spec, LABELS, [mirror], isolated_cache)
    message = str(error.value)
    assert "https://***@127.0.0.1:" in message and f"/private/{LABELS}?token=***" in message
    output = capfd.readouterr()
    for secret in SECRETS:
        assert secret not in message and secret not in output.err and secret not in output.out


def test_a_refused_http_mirror_does_not_show_its_credentials(spec, isolated_cache):
    with pytest.raises(DataError) as error:
        download(
            spec,
            LABELS,
            ["http://alice:pa55-w0rd-secret@example.org/d/?token=t0k3n-value-42"],
            isolated_cache,
        )
    assert str(error.value).startswith("mirror http://***@example.org/d/?token=*** refused")
    assert not any(secret in str(error.value) for secret in SECRETS)


def test_credentials_are_not_sent_to_the_host_a_mirror_redirects_to(
    tls_server, spec, contents, isolated_cache
):
    other_host = f"https://localhost:{tls_server.httpd.server_port}/elsewhere/{LABELS}"
    tls_server.routes[f"/private/{LABELS}?token=t0k3n-value-42"] = Route(
        302, b"", headers={"Location": other_host}
    )
    tls_server.routes[f"/elsewhere/{LABELS}"] = (200, contents[LABELS])
    download(spec, LABELS, [private_mirror(tls_server, "private")], isolated_cache)
    assert tls_server.auth[f"/private/{LABELS}?token=t0k3n-value-42"] is not None
    assert tls_server.auth[f"/elsewhere/{LABELS}"] is None


def test_redact_and_scrub():
    url = "https://bob:hunter2-long@host.example:8443/data/f.gz?X-Amz-Signature=abcdef123&plain"
    assert urls.redact(url) == "https://***@host.example:8443/data/f.gz?X-Amz-Signature=***&***"
    assert urls.redact("https://host/a/") == "https://host/a/"
    scrubbed = urls.scrub(f"failed {url}: nonnumeric port 'hunter2-long@host.example'", url)
    assert "hunter2-long" not in scrubbed and "abcdef123" not in scrubbed and "bob" not in scrubbed
    assert urls.file_url("https://h/d/?t=1", "f.gz") == "https://h/d/f.gz?t=1"
    assert urls.file_url("https://h/d/f.gz", "f.gz") == "https://h/d/f.gz"
