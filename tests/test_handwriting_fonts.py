"""Fetching the refuser's handwriting fonts (benchmarks/handwriting_fonts.py) from an npm registry played by a
real HTTP server on 127.0.0.1: a pinned version, the registry's sha512 integrity checked, one face kept."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from fixtures_data.mirror import MirrorServer
from recognition_support import load_benchmark_module

from mnistlab.recognition import negatives

FAMILY = "caveat"
# A real font file stands in for the package's .woff: the fetched face must draw letters.
FONT = (Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf").read_bytes()


def package(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def publish(server: MirrorServer, tarball: bytes, integrity_of: bytes | None = None) -> None:
    """The registry's metadata for @fontsource/FAMILY at its pinned version, and its tarball."""
    fonts = load_benchmark_module("handwriting_fonts")
    version = fonts.VERSIONS.get(FAMILY, fonts.DEFAULT_VERSION)
    digest = base64.b64encode(hashlib.sha512(integrity_of or tarball).digest()).decode()
    tarball_path = f"/@fontsource/{FAMILY}/-/{FAMILY}-{version}.tgz"
    meta = {"dist": {"integrity": f"sha512-{digest}", "tarball": server.url + tarball_path}}
    server.routes[f"/@fontsource/{FAMILY}/{version}"] = (200, json.dumps(meta).encode())
    server.routes[tarball_path] = (200, tarball)


@pytest.fixture
def server():
    with MirrorServer() as mirror:
        yield mirror


def test_a_verified_face_is_kept_and_draws_letters(server, tmp_path, monkeypatch):
    fonts = load_benchmark_module("handwriting_fonts")
    name = negatives.handwriting_font_name(FAMILY)
    publish(server, package({f"files/{name}": FONT, "files/other-subset.woff2": b"x", "LICENSE": b"OFL"}))
    path = fonts.fetch_family(FAMILY, tmp_path, server.url)
    assert path == tmp_path / name and path.read_bytes() == FONT
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # only the Latin regular face
    monkeypatch.setenv("MNISTLAB_HANDWRITING_FONTS", str(tmp_path))
    assert negatives.handwriting_fonts((FAMILY, "zeyada")) == (name,)  # only what was fetched
    letters, kinds = negatives.not_digits(4, seed=0, kinds=("letter",), fonts=(name,))
    assert letters.shape == (4, 28, 28) and (letters.reshape(4, -1).max(axis=1) > 200).all()
    requests = dict(server.requests)
    assert fonts.fetch_family(FAMILY, tmp_path, server.url) == path  # kept: no second download
    assert server.requests == requests


def test_a_tarball_that_does_not_match_its_integrity_is_refused(server, tmp_path):
    fonts = load_benchmark_module("handwriting_fonts")
    name = negatives.handwriting_font_name(FAMILY)
    publish(server, package({f"files/{name}": FONT}), integrity_of=b"another tarball")
    with pytest.raises(ValueError, match="does not match its sha512"):
        fonts.fetch_family(FAMILY, tmp_path, server.url)
    assert list(tmp_path.iterdir()) == []


def test_a_package_without_the_face_is_refused(server, tmp_path):
    fonts = load_benchmark_module("handwriting_fonts")
    publish(server, package({"files/caveat-latin-700-normal.woff": FONT}))
    with pytest.raises(ValueError, match="holds no caveat-latin-400-normal.woff"):
        fonts.fetch_family(FAMILY, tmp_path, server.url)
    assert list(tmp_path.iterdir()) == []


def test_font_digits_are_labelled_digits_in_mnist_format(tmp_path, monkeypatch):
    name = negatives.handwriting_font_name(FAMILY)
    (tmp_path / name).write_bytes(FONT)
    monkeypatch.setenv("MNISTLAB_HANDWRITING_FONTS", str(tmp_path))
    images, labels = negatives.font_digits(20, seed=1, fonts=(name,))
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    assert set(labels.tolist()) <= set(range(10)) and len(set(labels.tolist())) > 3
    rows = np.flatnonzero(images.max(axis=(0, 2)) > 0)
    assert rows.min() >= 2 and rows.max() <= 25  # fitted into MNIST's 20 px box, centred
