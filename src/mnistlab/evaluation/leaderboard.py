"""The runs leaderboard: one row per run directory under a folder, best first.

    rows = list_runs("runs", sort="test_accuracy")
    rows[0]["model"], rows[0]["test_accuracy"], rows[0]["status"]      # "ok", "incomplete" or "corrupt"

A run is "ok" when it has config.json, metrics.json and a model file; "incomplete" when training has not
finished (or was stopped) and files are missing; "corrupt" when a JSON file does not parse. Such runs are
listed, at the bottom, never skipped and never an error.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from mnistlab.errors import MnistlabError
from mnistlab.rundir import CHECKPOINTS_DIR, CONFIG_FILE, HISTORY_FILE, METRICS_FILE, MODEL_FILES, read_json

COLUMNS = ("model", "dataset", "epochs", "test_accuracy", "train_seconds", "date", "status", "path")
# Sort direction per column: best, newest or fastest first.
DESCENDING = {"test_accuracy": True, "epochs": True, "date": True, "train_seconds": False}
_DATE_IN_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})")


def _run_date(run_dir: Path, config: dict) -> str:
    """ISO date of the run: its recorded start time, else the date in the folder name, else the time
    config.json (written when the run starts) or the folder was last modified."""
    for key in ("started_at", "created", "date"):
        if isinstance(config.get(key), str) and config[key]:
            return config[key][:19]
    match = _DATE_IN_NAME.match(run_dir.name)
    if match:
        return match.group(1)
    stamped = run_dir / CONFIG_FILE if (run_dir / CONFIG_FILE).is_file() else run_dir
    return dt.datetime.fromtimestamp(stamped.stat().st_mtime).isoformat(timespec="seconds")


def read_run(run_dir: Path) -> dict:
    """One leaderboard row for a run directory; never raises for a broken run."""
    config, config_problem = read_json(run_dir / CONFIG_FILE)
    metrics, metrics_problem = read_json(run_dir / METRICS_FILE)
    config, metrics = config or {}, metrics or {}
    has_model = any((run_dir / name).is_file() for name in MODEL_FILES)
    problems = [problem for problem in (config_problem, metrics_problem) if problem]
    if problems:
        status = "corrupt"
    elif not (config and metrics and has_model):
        status = "incomplete"
        missing = [name for name, present in ((CONFIG_FILE, config), (METRICS_FILE, metrics)) if not present]
        problems = [f"no {name}" for name in missing] + ([] if has_model else ["no model file"])
    else:
        status = "ok"
    return {
        "model": config.get("model"),
        "dataset": config.get("dataset"),
        "epochs": metrics.get("epochs", config.get("epochs")),
        "test_accuracy": metrics.get("test_accuracy"),
        "train_seconds": metrics.get("train_seconds"),
        "date": _run_date(run_dir, config),
        "status": status,
        "problems": problems,
        "path": str(run_dir),
    }


def _is_run_dir(path: Path) -> bool:
    """A folder that looks like a run: it holds a run file (a brand-new run may have only config.json)."""
    markers = (CONFIG_FILE, METRICS_FILE, HISTORY_FILE, CHECKPOINTS_DIR, *MODEL_FILES)
    return path.is_dir() and any((path / name).exists() for name in markers)


def list_runs(runs_dir: str | Path = "runs", sort: str = "test_accuracy") -> list[dict]:
    """Rows for every run directory directly under runs_dir, complete runs sorted by `sort`, then the rest."""
    runs_dir = Path(runs_dir)
    if sort not in COLUMNS:
        raise MnistlabError(f"cannot sort runs by {sort!r}; choose one of: {', '.join(COLUMNS)}")
    if not runs_dir.is_dir():
        raise MnistlabError(f"{runs_dir} is not a folder; pass the folder that holds run directories")
    # runs/latest is a link to one of the others, not a run of its own
    rows = [
        read_run(path) for path in sorted(runs_dir.iterdir()) if _is_run_dir(path) and not path.is_symlink()
    ]
    # Rows without a value for the sort column go last, whatever the direction.
    ranked, unranked = [], []
    for row in rows:
        (ranked if row["status"] == "ok" and row[sort] is not None else unranked).append(row)
    ranked.sort(key=lambda row: _sort_key(row[sort]), reverse=DESCENDING.get(sort, False))
    return ranked + unranked


def _sort_key(value):
    """Numbers compare as numbers, anything else as text."""
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))
