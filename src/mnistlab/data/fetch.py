"""Find a dataset's files on disk, or download them from its mirrors, verified and written atomically.

    path = ensure_file(get_dataset("mnist"), "train-images-idx3-ubyte.gz", data_dir=None, download=True)

Files are looked for as <dir>/<dataset>/<file>.gz in, in order: the `data_dir` argument,
$MNISTLAB_DATA_DIR, then the user cache ($MNISTLAB_CACHE_DIR, else the platform's user cache folder
"mnistlab"). Only then, with download=True, is each mirror tried in turn (or those in
$MNISTLAB_MIRRORS, space- or comma-separated base URLs, where `{name}` stands for the dataset name).
A download is retried with backoff on connection errors and HTTP 5xx, shown with a progress bar,
checked (gzip, IDX header, md5) and only then renamed into the user cache. urllib honours
HTTP(S)_PROXY and NO_PROXY.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from mnistlab.data import idx
from mnistlab.data.registry import DataFile, DatasetSpec
from mnistlab.errors import DataError
from mnistlab.files import atomic_write_bytes

CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30.0  # per socket operation
ATTEMPTS_PER_MIRROR = 3  # retries only for transient failures (connection errors, HTTP 5xx)
BACKOFF_S = 1.0  # waits 1 s, then 2 s, ... between attempts


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


def download_file(
    spec: DatasetSpec, data_file: DataFile, mirrors: tuple[str, ...], folder: Path, progress: bool = True
) -> Path:
    """Download `data_file` from the first mirror that serves a verified copy into `folder`."""
    target = folder / data_file.filename
    failures: list[str] = []
    for base in mirrors:
        url = base if base.endswith(data_file.filename) else base.rstrip("/") + "/" + data_file.filename
        try:
            data = _fetch_with_retries(url, progress)
            _verify(data, data_file, url)
        except _MirrorFailed as failure:
            failures.append(f"{url} ({failure})")
            continue
        return atomic_write_bytes(target, data)
    tried = "; ".join(failures) if failures else "no mirrors configured"
    raise DataError(
        f"could not download {spec.name}/{data_file.filename}: {tried}. To work offline, copy the files "
        f"into <dir>/{spec.name}/ and pass data_dir=<dir> (--data-dir) or set MNISTLAB_DATA_DIR=<dir>"
    )


class _MirrorFailed(Exception):
    """This mirror did not give a good copy; the next one is tried."""


def _fetch_with_retries(url: str, progress: bool) -> bytes:
    for attempt in range(1, ATTEMPTS_PER_MIRROR + 1):
        try:
            return _fetch(url, progress)
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code}"
            transient = error.code >= 500 or error.code == 429
        except (urllib.error.URLError, OSError, http.client.HTTPException, _Incomplete) as error:
            reason = str(getattr(error, "reason", None) or error)
            transient = True
        if not transient or attempt == ATTEMPTS_PER_MIRROR:
            raise _MirrorFailed(reason if attempt == 1 else f"{reason}, after {attempt} attempts")
        time.sleep(BACKOFF_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


class _Incomplete(Exception):
    """The connection closed before Content-Length bytes arrived."""


def _fetch(url: str, progress: bool) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "mnistlab"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        total = int(response.headers.get("Content-Length") or 0)
        chunks: list[bytes] = []
        with _ProgressBar(url, total, progress) as advance:
            while chunk := response.read(CHUNK_BYTES):
                chunks.append(chunk)
                advance(len(chunk))
    data = b"".join(chunks)
    if total and len(data) != total:
        raise _Incomplete(f"connection closed after {len(data)} of {total} bytes")
    return data


def _verify(data: bytes, data_file: DataFile, url: str) -> None:
    """Gzip stream, IDX header and checksum of a downloaded file; failures move on to the next mirror."""
    try:
        decompressed = idx.decompress(url, data)
        ndim = 3 if "images" in data_file.filename else 1
        idx.parse_idx(decompressed, url, ndim)
    except DataError as error:
        raise _MirrorFailed(str(error).split("; ")[0].removeprefix(f"{url}: ")) from None
    if not idx.md5_matches(data, decompressed, data_file.md5s):
        raise _MirrorFailed("checksum mismatch: md5 matches none of the published checksums")


class _ProgressBar:
    """A rich progress bar on stderr while downloading (silent when stderr is not a terminal)."""

    def __init__(self, url: str, total: int, enabled: bool):
        self.url, self.total, self.enabled = url, total, enabled
        self._progress = None

    def __enter__(self):
        from rich.console import Console
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

        console = Console(stderr=True)
        if not (self.enabled and console.is_terminal):
            return lambda n: None
        self._progress = Progress(
            *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=console
        )
        self._progress.start()
        task = self._progress.add_task(f"download {self.url.rsplit('/', 1)[-1]}", total=self.total or None)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.stop()
        return False


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
