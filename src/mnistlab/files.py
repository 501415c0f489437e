"""Atomic writes: write a temporary file beside the target, then rename it over the target.

A reader never sees half a file, and a crash or Ctrl-C leaves the old file (or nothing) in place:

    with atomic_path(run_dir / "model.keras") as tmp:
        model.save(tmp)          # tmp ends in ".keras" too, for libraries that check suffixes
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics))
    remove_partial_files(run_dir)  # what a killed process left half-written
    with one_at_a_time(cache / "scans.lock"):  # what one process makes, the others wait for
        ...

Files get the permissions of an ordinary file under the user's umask (usually 0644), not the 0600 of a
temporary file: a report is meant to be shared. A full disk raises DiskFullError naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from mnistlab.errors import MnistlabError

PARTIAL = ".partial"  # in every temporary name: `.model.keras.k2j4.partial.keras`


class DiskFullError(MnistlabError):
    """The disk filled up while a file was being written; the old file (if any) is intact."""

    def __init__(self, target: Path, written: int, next_step: str = "run the command again", free=None):
        self.target, self.written = Path(target), written
        if free is None:  # measured now, while the partial file still holds its space
            try:
                free = f"{shutil.disk_usage(self.target.parent).free / 1e6:.1f} MB free"
            except OSError:
                free = "free space unknown"
        self.free = free
        needed = f", which needed more than {written / 1e6:.1f} MB" if written else ""
        super().__init__(
            f"the disk holding {self.target.parent} is full ({free}): could not write "
            f"{self.target.name}{needed}; free some space, then {next_step}"
        )

    def then(self, next_step: str) -> DiskFullError:
        """The same error with the next step that fits the caller, e.g. a --resume command."""
        return DiskFullError(self.target, self.written, next_step, self.free)


def is_disk_full(error: BaseException) -> bool:
    """ENOSPC, also where a library (h5py, zipfile) re-raised it with only the message kept."""
    return getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error)


def _umask() -> int:
    """The process's umask, read without changing it where /proc allows (os.umask can only swap)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it over the target on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    endings = "".join(target.suffixes[-2:])  # keeps ".weights.h5", which Keras insists on
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL + endings)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    except Exception as error:
        if not is_disk_full(error):
            raise
        written = tmp.stat().st_size if tmp.exists() else 0
        raise DiskFullError(target, written) from error
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def one_at_a_time(lock_file: str | os.PathLike, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Run the block while holding an exclusive lock on lock_file (made if missing): a second process
    (or thread) arriving meanwhile calls on_wait() and waits, then finds what the first one made.

    Where no lock can be had (a read-only folder, no fcntl on Windows) the block runs unguarded: the worst
    case is work done twice, as it would be without the lock.
    """
    try:
        import fcntl

        Path(lock_file).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
    except (ImportError, OSError):
        fd = None
    try:
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # a file system without locks (some network ones): unguarded, as above
                pass
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


def remove_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that a killed writer left in `folder`; returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = [path for path in folder.glob(f".*{PARTIAL}*") if path.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    try:
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    except DiskFullError as error:
        raise DiskFullError(error.target, len(data), free=error.free) from error  # the exact size
    return Path(target)


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj) -> Path:
    return atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=False) + "\n")
