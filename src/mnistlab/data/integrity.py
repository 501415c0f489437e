"""Check every byte of a dataset's files against their published checksums, and its cache against them.

    checks = verify("mnist", data_dir=None)      # one FileCheck per file, in the dataset's order
    [f"{check.status} {check.path}" for check in checks if check.problem]

Each source .gz file is found where `load` would find it (data_dir, $MNISTLAB_DATA_DIR, the user
cache; nothing is downloaded) and read whole: size bound, gzip stream, IDX header and md5 against the
published checksums. When a split's cached .npy arrays were made from those very files, each is
compared, every byte, with the arrays the files give. Statuses: "ok"; "missing" and "mismatch" are
problems (the detail says what to do); "not cached" and "skipped" are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab.data import cache, fetch
from mnistlab.data.registry import DatasetSpec, get_dataset
from mnistlab.errors import DataError

OK, MISSING, MISMATCH, NOT_CACHED, SKIPPED = "ok", "missing", "mismatch", "not cached", "skipped"
PROBLEMS = (MISSING, MISMATCH)


@dataclass(frozen=True)
class FileCheck:
    path: Path  # where the file is (or, when missing, where it was looked for first)
    status: str  # ok | missing | mismatch | not cached | skipped
    detail: str  # what was checked, or what is wrong and what to do

    @property
    def problem(self) -> bool:
        return self.status in PROBLEMS

    def __str__(self) -> str:
        return f"{self.status:<10} {self.path}: {self.detail}"


def verify(name: str = "mnist", data_dir=None) -> list[FileCheck]:
    """Check a dataset's source files and cached arrays; see the module docstring."""
    spec = get_dataset(name)
    checks: list[FileCheck] = []
    for split, files in spec.splits.items():
        sources: dict[str, Path] = {}
        parsed: dict[str, np.ndarray] = {}
        for kind in ("images", "labels"):
            data_file = getattr(files, kind)
            path = fetch.find_file(spec, data_file.filename, data_dir)
            if path is None:
                checks.append(_missing(spec, data_file.filename, data_dir))
                continue
            try:
                parsed[kind] = fetch.read_verified(spec, data_file, path)
            except DataError as error:
                checks.append(FileCheck(path, MISMATCH, str(error).removeprefix(f"{path}: ")))
                continue
            sources[kind] = path
            checked = "md5 matches the published checksum" if data_file.md5s else "no published checksum"
            checks.append(FileCheck(path, OK, f"{checked}; gzip stream and IDX header sound"))
        checks += _check_cache(spec, split, sources, parsed)
    return checks


def _missing(spec: DatasetSpec, filename: str, data_dir) -> FileCheck:
    folders = [folder / spec.name for folder in fetch.search_dirs(data_dir)]
    return FileCheck(
        folders[0] / filename,
        MISSING,
        f"not found in {', '.join(map(str, folders))}; load the dataset once to download it "
        f"(e.g. `mnistlab data stats {spec.name}`), or copy the file into one of these folders",
    )


def _check_cache(
    spec: DatasetSpec, split: str, sources: dict[str, Path], parsed: dict[str, np.ndarray]
) -> list[FileCheck]:
    folder = cache.cache_folder(spec)
    paths = {kind: folder / f"{split}-{kind}.npy" for kind in cache.KINDS}
    record = cache.read_record(spec, split)
    if record is None:
        return [FileCheck(folder / f"{split}-*.npy", NOT_CACHED, "the first load builds the cache")]
    if len(sources) < 2:
        return [FileCheck(path, SKIPPED, "not compared: its source files failed") for path in paths.values()]
    if record.get("version") != cache.FORMAT_VERSION or record.get("sources") != cache.source_key(sources):
        return [
            FileCheck(
                folder / f"{split}-*.npy",
                NOT_CACHED,
                "made from other source files or by another mnistlab version; the next load rebuilds it",
            )
        ]
    try:
        expected = cache.arrange(spec, split, sources, parsed["images"], parsed["labels"])
    except DataError as error:
        return [FileCheck(path, SKIPPED, f"not compared: {error}") for path in paths.values()]
    checks = []
    for kind, path in paths.items():
        wanted = getattr(expected, kind)
        try:
            stored = np.load(path, mmap_mode="r", allow_pickle=False)
            same = (
                stored.dtype == wanted.dtype
                and stored.shape == wanted.shape
                and np.array_equal(stored, wanted)
            )
        except (OSError, ValueError) as error:
            same, reason = False, f"cannot be read ({error})"
        else:
            reason = "differs from the arrays its source files give"
        if same:
            checks.append(FileCheck(path, OK, "every value matches its source files"))
        else:
            checks.append(FileCheck(path, MISMATCH, f"{reason}; delete it, and the next load rebuilds it"))
    return checks
