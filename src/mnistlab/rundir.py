"""A run directory: what one training run leaves behind, every file written atomically.

runs/2026-11-23-mlp/
    config.json     the resolved config + seed + library versions + hardware
    history.csv     one row per finished epoch: epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds
    checkpoints/    epoch-0003.keras (+ .json loop state) per epoch, the last `keep_checkpoints` kept
    model.keras     the final model (best val_loss weights when there is validation data), or model.skops
    members/0/ ...  an ensemble's member runs, each a run directory of its own
    metrics.json    test_accuracy, test_loss, train_seconds, epochs, ...: marks the training complete
    calibration.json  the temperature scaling the model's probabilities, fitted on validation examples
    report.html     the evaluation report, written after metrics.json (a resume writes it if missing)
    model.onnx, saved_model/   `mnistlab export` copies of the model (predict makes model.onnx on first use)
    .lock           held (flock) by the process writing the run, so two processes never share one
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from mnistlab import files
from mnistlab.errors import MnistlabError, setting
from mnistlab.files import atomic_write_json, atomic_write_text

RUNS_ROOT = Path("runs")
LATEST_LINK = "latest"  # runs/latest: a link to the newest run started under RUNS_ROOT
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
CHECKPOINTS_DIR = "checkpoints"
MEMBERS_DIR = "members"
LOCK_FILE = ".lock"
MODEL_KERAS = "model.keras"
MODEL_SKOPS = "model.skops"
MODEL_ONNX = "model.onnx"
MODEL_FILES = (MODEL_KERAS, MODEL_SKOPS, MODEL_ONNX)  # looked for in a run directory, in this order
CALIBRATION_FILE = "calibration.json"  # the temperature that calibrates the model's probabilities
SUMMARY_FILE = "model-summary.json"  # a Keras model's parameters and layer table, recorded with its report
FEATURE_MAPS_FILE = "feature-maps.npz"  # its Conv2D activations for the test image its report shows
SAVED_MODEL_DIR = "saved_model"  # `mnistlab export --format saved_model` of the run's model

_CLAIMED: dict[Path, int] = {}  # run directory -> open descriptor of its locked .lock file


def claim(run_dir: Path) -> None:
    """Lock `run_dir` for this process until release() or exit (the kernel frees it if we are killed).

    Re-entrant within one process, so that a run interrupted in a notebook can be resumed there.
    """
    key = run_dir.resolve()
    if key in _CLAIMED:
        return
    try:
        import fcntl
    except ImportError:  # Windows: exclusive mkdir alone guards new run directories
        return
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise MnistlabError(
            f"{run_dir} is in use by another mnistlab process (still training?); wait for it to end, "
            "or use another run directory"
        ) from None
    _CLAIMED[key] = fd


def release(run_dir: Path, finished: bool = False) -> None:
    """Give up the lock taken by claim(); a finished run keeps no .lock file (nothing resumes it)."""
    fd = _CLAIMED.pop(run_dir.resolve(), None)
    if fd is None:
        return
    if finished:
        (run_dir / LOCK_FILE).unlink(missing_ok=True)  # while still held: no one else is in between
    os.close(fd)  # closing the descriptor drops the flock


def new_run_dir(model_name: str, out: str | None) -> Path:
    """`out` (absent or empty), or the first free runs/<YYYY-MM-DD>-<model>[-N]; created and claimed."""
    if out is not None:
        path = Path(out).expanduser()
        if path.exists() and not path.is_dir():
            raise MnistlabError(f"{path} is a file, not a folder; choose another {setting('out')}")
        path.mkdir(parents=True, exist_ok=True)
        claim(path)  # first claim, then look: whoever holds the lock sees the folder as it is
        if any(entry.name != LOCK_FILE for entry in path.iterdir()):
            release(path)
            raise MnistlabError(
                f"{path} already exists and is not empty; choose another {setting('out')}, "
                f"or continue it with {setting('resume', str(path))}"
            )
        return path
    path = fresh_folder(f"{datetime.date.today().isoformat()}-{model_name}")
    claim(path)
    point_latest(path)
    return path


def fresh_folder(stem: str) -> Path:
    """A new, empty RUNS_ROOT/<stem>, or <stem>-2, -3, ... when it is taken; made here, so that two runs (or
    sweeps) started at once never share a folder."""
    for number in range(1, 10_000):
        path = RUNS_ROOT / (stem if number == 1 else f"{stem}-{number}")
        try:
            path.mkdir(parents=True)  # exist_ok=False: whoever makes the folder owns it
        except FileExistsError:
            continue
        return path
    raise MnistlabError(
        f"{RUNS_ROOT} holds 10000 folders named {stem}-N; clean up or choose {setting('out')}"
    )


def point_latest(run_dir: Path) -> None:
    """Make runs/latest a link to the run just started, so that commands need not spell its date:
    `mnistlab evaluate runs/latest`, `mnistlab train --resume runs/latest`. Replaced atomically; where
    links cannot be made (some Windows set-ups) there is simply no runs/latest."""
    link = run_dir.parent / LATEST_LINK
    staging = run_dir.parent / f".{LATEST_LINK}.{os.getpid()}"
    try:
        staging.unlink(missing_ok=True)
        staging.symlink_to(run_dir.name, target_is_directory=True)  # relative: the runs folder can move
        os.replace(staging, link)
    except OSError:
        staging.unlink(missing_ok=True)


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's model name, e.g. 'AMD EPYC', for config.json and benchmark headers."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# /proc/cpuinfo flags of x86 CPUs with bfloat16 arithmetic (oneDNN's bf16 kernels); elsewhere bf16 is
# emulated and slower than float32
BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none: not Linux)."""
    try:
        with open(cpuinfo) as handle:
            line = next((line for line in handle if line.startswith("flags")), "flags:")
    except OSError:
        return set()
    return set(line.split(":", 1)[1].split())


def cpu_kind(flags: set[str] | None = None) -> str:
    """What decides training speed on this CPU: "AVX-512 + BF16" (e.g. AMD Zen 4/5), "AVX-512", "AVX2"
    (e.g. AMD Zen 3, most laptops), or the machine type where none of them is known (Arm, old x86)."""
    flags = cpu_flags() if flags is None else flags
    if "avx512f" in flags:
        return "AVX-512 + BF16" if BF16_FLAGS & flags else "AVX-512"
    return "AVX2" if "avx2" in flags else platform.machine()


def environment() -> dict[str, Any]:
    """Library versions and hardware, so a result can be traced to where it was measured."""
    from importlib.metadata import version

    import keras
    import numpy

    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "tensorflow": None,
        "numpy": numpy.__version__,
        "sklearn": version("scikit-learn"),  # read from its metadata: importing it costs ~0.7 s
    }
    if "tensorflow" in sys.modules or keras.backend.backend() == "tensorflow":
        import tensorflow

        versions["tensorflow"] = tensorflow.__version__
    if keras.backend.backend() == "jax":
        import jax

        versions["jax"] = jax.__version__
    hardware = {
        "cpu": cpu_model(),
        "kind": cpu_kind(),
        "cores": os.cpu_count(),
        "accelerators": accelerators(keras.backend.backend()),
        "platform": platform.platform(),
    }
    return {"versions": versions, "hardware": hardware}


def accelerators(backend: str) -> list[str]:
    """The GPUs the Keras backend computes on here, by name ([]: the CPU alone)."""
    if backend == "jax":
        import jax

        found = [device for device in jax.devices() if device.platform != "cpu"]
        return [f"{device.platform}: {device.device_kind}" for device in found]
    if backend == "tensorflow":
        import tensorflow as tf

        return [
            tf.config.experimental.get_device_details(device).get("device_name", device.name)
            for device in tf.config.list_physical_devices("GPU")
        ]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    return []


def write_config(run_dir: Path, config: dict[str, Any], extra: dict[str, Any]) -> None:
    atomic_write_json(run_dir / CONFIG_FILE, {**config, **extra})


def read_config(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / CONFIG_FILE).read_text())


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """metrics.json, or {} while the run is unfinished (or the file unreadable)."""
    content, _ = read_json(run_dir / METRICS_FILE)
    return content or {}


def read_temperature(run_dir: Path) -> float:
    """The run's calibration temperature (1.0: none recorded)."""
    content, _ = read_json(run_dir / CALIBRATION_FILE)
    return float((content or {}).get("temperature", 1.0))


def read_json(path: Path) -> tuple[dict | None, str | None]:
    """(content, None), (None, None) if the file is missing, or (None, problem) if it is not a JSON object."""
    if not path.is_file():
        return None, None
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return None, f"{path.name}: {type(error).__name__}"
    if not isinstance(content, dict):
        return None, f"{path.name}: not a JSON object"
    return content, None


def is_run_dir(path: Path) -> bool:
    """Whether `path` was made by `mnistlab train` (it holds config.json)."""
    return (path / CONFIG_FILE).is_file()


def member_dir(run_dir: Path, index: int) -> Path:
    """The folder of an ensemble's member `index` (0-based)."""
    return run_dir / MEMBERS_DIR / str(index)


def write_history(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    """All finished epochs so far; rewritten whole after each epoch (a few kB)."""
    columns: list[str] = []
    for row in rows:
        columns += [name for name in row if name not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(run_dir / HISTORY_FILE, buffer.getvalue())


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    atomic_write_json(run_dir / METRICS_FILE, metrics)


def fresh_record(run_dir: Path, name: str) -> Path | None:
    """run_dir/name where it was written after the run's model.keras (so made from this model), else None:
    the ONNX copy (MODEL_ONNX), SUMMARY_FILE and FEATURE_MAPS_FILE."""
    model, record = run_dir / MODEL_KERAS, run_dir / name
    if not (model.is_file() and record.is_file()):
        return None
    return record if record.stat().st_mtime_ns >= model.stat().st_mtime_ns else None


def is_complete(run_dir: Path) -> bool:
    """Training and its metrics are done (the report may still be missing, see needs_report)."""
    return (run_dir / METRICS_FILE).is_file()


def needs_report(run_dir: Path) -> bool:
    return is_complete(run_dir) and not (run_dir / REPORT_FILE).is_file()


def existing_run(run_dir: str | os.PathLike) -> Path:
    """A run directory that can be resumed: made by `mnistlab train`, unfinished, and now claimed."""
    path = Path(run_dir).expanduser()
    if not (path / CONFIG_FILE).is_file():
        raise MnistlabError(
            f"{path} is not a run directory (no {CONFIG_FILE}); pass the folder `mnistlab train` made"
        )
    if is_complete(path) and not needs_report(path):
        raise MnistlabError(f"{path} is already complete ({METRICS_FILE} exists); start a new run instead")
    claim(path)
    return path


def finish_run(run_dir: Path) -> None:
    """A run is written: drop what killed writers left behind and let other processes at it."""
    remove_partial_files(run_dir)
    release(run_dir, finished=True)


def remove_partial_files(run_dir: Path) -> None:
    """What a killed process left half-written in the run (checkpoints of several MB among it)."""
    for folder in (run_dir, run_dir / CHECKPOINTS_DIR):
        files.remove_partial_files(folder)
