"""Find a dataset's files on disk, or download them from its mirrors, verified and written atomically.

    path = ensure_file(get_dataset("mnist"), "train-images-idx3-ubyte.gz", data_dir=None, download=True)
    images = read_verified(spec, spec.splits["train"].images, path)   # (60000, 28, 28) uint8, checked

Files are looked for as <dir>/<dataset>/<file>.gz in, in order: the `data_dir` argument,
$MNISTLAB_DATA_DIR, then the user cache ($MNISTLAB_CACHE_DIR, else the platform's user cache folder
"mnistlab"). Only then, with download=True, is each mirror tried in turn (or those in
$MNISTLAB_MIRRORS, space- or comma-separated base URLs, where `{name}` stands for the dataset name).
A download is retried with backoff on connection errors and HTTP 5xx, shown with a progress bar,
checked (gzip, IDX header, md5) and only then renamed into the user cache. urllib honours
HTTP(S)_PROXY and NO_PROXY.

Every file is bounded by the size the registry gives it (`size_limits`): a download stops reading past
the most a gzip file of that size can take, whatever Content-Length says, and decompression stops
past the IDX size plus MARGIN_BYTES, for downloads and files on disk alike. Mirrors must be https
(plain http only to a loopback host, see urls.py), and no message shows a mirror's credentials.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
from pathlib import Path

import numpy as np

from mnistlab import reporter
from mnistlab.data import idx, urls
from mnistlab.data.registry import DataFile, DatasetSpec
from mnistlab.errors import DataError
from mnistlab.files import atomic_write_bytes

CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30.0  # per socket operation
ATTEMPTS_PER_MIRROR = 3  # retries only for transient failures (connection errors, HTTP 5xx)
BACKOFF_S = 1.0  # waits 1 s, then 2 s, ... between attempts
MARGIN_BYTES = 1 << 16  # a decompressed file may exceed its IDX size by this much before it is refused


def cache_root() -> Path:
    """The user cache: $MNISTLAB_CACHE_DIR, else the platform's user cache folder for mnistlab."""
    override = os.environ.get("MNISTLAB_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mnistlab"))


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders that may hold <name>/<file>.gz, in the order they are searched."""
    candidates = [data_dir, os.environ.get("MNISTLAB_DATA_DIR") or None, cache_root()]
    dirs: list[Path] = []
    for candidate in candidates:
        if candidate is not None and Path(candidate).expanduser() not in dirs:
            dirs.append(Path(candidate).expanduser())
    return dirs


def find_file(spec: DatasetSpec, filename: str, data_dir=None) -> Path | None:
    for folder in search_dirs(data_dir):
        path = folder / spec.name / filename
        if path.is_file():
            return path
    return None


def mirrors_for(spec: DatasetSpec, mirrors: list[str] | tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Base URLs to try: the `mirrors` argument, else $MNISTLAB_MIRRORS, else the dataset's own."""
    if mirrors is None and os.environ.get("MNISTLAB_MIRRORS"):
        mirrors = os.environ["MNISTLAB_MIRRORS"].replace(",", " ").split()
    chosen = spec.mirrors if mirrors is None else mirrors
    return tuple(base.replace("{name}", spec.name) for base in chosen)


def ensure_file(
    spec: DatasetSpec, data_file: DataFile, data_dir=None, download: bool = True, mirrors=None
) -> Path:
    """The path of `data_file`, found on disk or downloaded into the user cache."""
    found = find_file(spec, data_file.filename, data_dir)
    if found is not None:
        return found
    if not download:
        looked = ", ".join(str(folder / spec.name) for folder in search_dirs(data_dir))
        raise DataError(
            f"{spec.name}: {data_file.filename} not found (looked in {looked}); allow downloading "
            f"(drop --no-download / download=False) or copy the file there"
        )
    return download_file(spec, data_file, mirrors_for(spec, mirrors), cache_root() / spec.name)


def size_limits(spec: DatasetSpec, data_file: DataFile) -> tuple[int, int]:
    """(compressed, decompressed) bytes `data_file` may take: its IDX size plus MARGIN_BYTES once
    decompressed, and the most a gzip file of that size can take (incompressible data grows slightly)."""
    decompressed = spec.decompressed_size(data_file) + MARGIN_BYTES
    return idx.gzip_bound(decompressed), decompressed


def read_verified(spec: DatasetSpec, data_file: DataFile, path: Path) -> np.ndarray:
    """The array in `path` (a copy of `data_file`), once its size, gzip stream, IDX header and md5 pass."""
    compressed_limit, _ = size_limits(spec, data_file)
    return check_bytes(spec, data_file, idx.read_bounded(path, compressed_limit), path)


def check_bytes(spec: DatasetSpec, data_file: DataFile, data: bytes, where) -> np.ndarray:
    """The array in `data` (the bytes of a copy of `data_file`, named `where` in errors), checked."""
    _, limit = size_limits(spec, data_file)
    decompressed = idx.decompress(where, data, limit)
    images = any(split.images.filename == data_file.filename for split in spec.splits.values())
    values = idx.parse_idx(decompressed, where, 3 if images else 1)  # structure first: the precise error
    if not idx.md5_matches(data, decompressed, data_file.md5s):
        raise DataError(
            f"{where}: checksum mismatch (its md5 matches none of the published ones for "
            f"{spec.name}/{data_file.filename}); {idx.how_to_fix(where)}"
        )
    return values


def download_file(
    spec: DatasetSpec, data_file: DataFile, mirrors: tuple[str, ...], folder: Path, progress: bool = True
) -> Path:
    """Download `data_file` from the first mirror that serves a verified copy into `folder`."""
    for base in mirrors:  # a plain-http mirror is a mistake to fix, not one to skip
        urls.check_mirror(base)
    target = folder / data_file.filename
    max_bytes, _ = size_limits(spec, data_file)
    failures: list[str] = []
    for base in mirrors:
        url = urls.file_url(base, data_file.filename)
        shown = urls.redact(url)
        try:
            data = _fetch_with_retries(url, data_file.filename, max_bytes, progress)
            _verify(spec, data_file, data, shown)
        except _MirrorFailed as failure:
            failures.append(f"{shown} ({urls.scrub(str(failure), url)})")
            continue
        return atomic_write_bytes(target, data)
    tried = "; ".join(failures) if failures else "no mirrors configured"
    raise DataError(
        f"could not download {spec.name}/{data_file.filename}: {tried}. To work offline, copy the files "
        f"into <dir>/{spec.name}/ and pass data_dir=<dir> (--data-dir) or set MNISTLAB_DATA_DIR=<dir>"
    )


class _MirrorFailed(Exception):
    """This mirror did not give a good copy; the next one is tried."""


def _fetch_with_retries(url: str, label: str, max_bytes: int, progress: bool) -> bytes:
    for attempt in range(1, ATTEMPTS_PER_MIRROR + 1):
        try:
            return _fetch(url, label, max_bytes, progress)
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code}"
            transient = error.code >= 500 or error.code == 429
        except (_TooLarge, urls.RedirectRefused) as error:
            reason, transient = str(error), False
        except (urllib.error.URLError, OSError, http.client.HTTPException, _Incomplete) as error:
            reason = str(getattr(error, "reason", None) or error)
            transient = True
        if not transient or attempt == ATTEMPTS_PER_MIRROR:
            raise _MirrorFailed(reason if attempt == 1 else f"{reason}, after {attempt} attempts")
        time.sleep(BACKOFF_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


class _Incomplete(Exception):
    """The connection closed before Content-Length bytes arrived."""


class _TooLarge(Exception):
    """More bytes than the file can take were announced or arrived."""


def _fetch(url: str, label: str, max_bytes: int, progress: bool) -> bytes:
    """The body at `url`, never reading more than `max_bytes` + 1 bytes of it."""
    with urls.open_url(url, TIMEOUT_S) as response:
        declared = getattr(response, "length", None)  # Content-Length; None if absent or chunked
        if declared is not None and declared > max_bytes:
            raise _TooLarge(
                f"too large: the server announces {declared:,} bytes, more than the {max_bytes:,} "
                f"this file can take"
            )
        with reporter.bar(f"download {label}", declared, enabled=progress) as advance:
            data = idx.read_at_most(response, max_bytes, CHUNK_BYTES, advance)
    if data is None:
        raise _TooLarge(
            f"too large: more than the {max_bytes:,} bytes this file can take arrived "
            f"(announced: {'none' if declared is None else f'{declared:,}'}); stopped reading"
        )
    received = len(data)
    if declared is not None and received != declared:
        raise _Incomplete(f"connection closed after {received} of {declared} bytes")
    return data


def _verify(spec: DatasetSpec, data_file: DataFile, data: bytes, shown: str) -> None:
    """Size, gzip stream, IDX header and checksum of a download; failures move on to the next mirror."""
    try:
        check_bytes(spec, data_file, data, shown)
    except DataError as error:
        raise _MirrorFailed(str(error).split("; ")[0].removeprefix(f"{shown}: ")) from None


def dataset_locations(data_dir=None) -> list[tuple[str, Path | None, int]]:
    """(dataset, folder holding its files or None, how many of its files are found) for each dataset."""
    from mnistlab.data.registry import get_dataset, list_datasets

    rows = []
    for name in list_datasets():
        spec = get_dataset(name)
        found = [find_file(spec, data_file.filename, data_dir) for data_file in spec.files]
        present = [path for path in found if path is not None]
        rows.append((name, present[0].parent if present else None, len(present)))
    return rows
