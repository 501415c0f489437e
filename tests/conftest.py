"""Shared fixtures. Real MNIST comes from $MNISTLAB_DATA_DIR (../shared/datasets on these machines)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("MNISTLAB_DATA_DIR"):  # absolute: tests run commands from their own temporary folders
    os.environ["MNISTLAB_DATA_DIR"] = str(Path(os.environ["MNISTLAB_DATA_DIR"]).resolve())

MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder that holds mnist/<four IDX .gz files>. A missing folder fails; it never skips."""
    root = os.environ.get("MNISTLAB_DATA_DIR")
    if not root:
        pytest.fail("MNISTLAB_DATA_DIR is not set; run the tests with `make test` (see README.md)")
    missing = [name for name in MNIST_FILES if not (Path(root) / "mnist" / name).is_file()]
    if missing:
        pytest.fail(f"real MNIST files missing under {root}/mnist: {', '.join(missing)}")
    return Path(root)


# Modules whose tests train models or run `mnistlab` in subprocesses throughout: `slow` as a whole, so
# `make test-quick` leaves them out. Tests elsewhere that do so carry @pytest.mark.slow themselves, and
# every test that needs one of the trained models below (SLOW_FIXTURES) is slow too.
SLOW_MODULES = {
    "test_accuracy.py",
    "test_backend.py",
    "test_bench.py",
    "test_calibration.py",
    "test_data_cli.py",
    "test_data_verify.py",
    "test_evaluation_cli.py",
    "test_export.py",
    "test_predict.py",
    "test_recipes.py",
    "test_refusal.py",
    "test_report.py",
    "test_report_training.py",
    "test_resume.py",
    "test_run_safety.py",
    "test_server.py",
    "test_server_http.py",
    "test_train_cli.py",
    "test_untrusted_models.py",
}
SLOW_FIXTURES = {"fastcnn_run", "ensemble_run", "keras_run", "forest_file", "trained_run", "model_path"}


def pytest_ignore_collect(collection_path, config):
    """With slow tests deselected (`make test-quick`), the slow modules are not even imported: several
    import TensorFlow, whose import alone costs more than most quick tests."""
    if collection_path.name in SLOW_MODULES and "not slow" in (config.option.markexpr or ""):
        return True
    return None


# `make test` spreads the tests over every core with pytest-xdist (--dist loadscope --no-loadscope-reorder,
# scheduled by ModuleScheduling below): each module's tests go to one worker, so its module fixtures are
# built once, except in modules whose tests share nothing costly (EACH_TEST_ALONE), which are handed out one
# test at a time. Modules are handed out in the order below, the heaviest first (seconds of work on 2
# cores, from --durations), so that the light ones fill in at the end instead of one long module running on
# alone; the modules that mostly wait go early too.
HEAVIEST_FIRST = (
    "test_ray.py",  # 85-130 s, mostly waiting on its cluster
    "test_notebooks.py",  # 5 x 10-15 s, alone
    "test_models.py",  # the zoo contract, alone
    "test_sweep.py",
    "test_resume.py",
    "test_run_safety.py",
    "test_predict.py",  # the first to need fastcnn_run, once its scans are made (an empty cache: ~65 s)
    # Modules that wait more than they compute (a server's worker must run 10 s before it is replaced;
    # chromium): early, so that the other worker computes meanwhile, not at the end, when it has nothing
    # left to do (the suite once ended with 10 s of idle cores).
    "test_server_http.py",
    "test_browser.py",
    "test_backend.py",
    "test_audit.py",
    "test_train_cli.py",
    "test_export.py",
    "test_compare.py",
    "test_evaluation_cli.py",
    "test_recipes.py",
    "test_bench.py",
    "test_training_monitor.py",
)
EACH_TEST_ALONE = {"test_notebooks.py", "test_models.py"}


def pytest_collection_modifyitems(items):
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        if item.path.name in SLOW_MODULES or needs & SLOW_FIXTURES:
            item.add_marker(pytest.mark.slow)
    rank = {name: position for position, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the order within a module


def pytest_xdist_make_scheduler(config, log):
    """A module's tests as one unit of work (EACH_TEST_ALONE: each test), by the module's path rather than
    by xdist_group marks: xdist passes those as suffixes of the node ids, which pytest 9.2's node ids no
    longer take (pytest-dev/pytest-xdist#1386), and every test was then handed out alone, with module
    fixtures (a Ray cluster, a sweep) built on both workers."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return nodeid if Path(module).name in EACH_TEST_ALONE else module

    return ModuleScheduling(config, log)


def build_once(folder: Path, build: Callable[[Path], object]) -> Path:
    """folder, made by build(folder) once per session; under pytest-xdist one worker builds, the others wait.

    What it builds is shared, so it is read-only for its users: a test that changes it works on a copy
    (shutil.copytree). A build that failed part-way is removed and redone by the next user.
    """
    done = folder.with_name(f"{folder.name}.done")
    with open(folder.with_name(f"{folder.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory) -> Path:
    """The session's temporary folder that every xdist worker sees (each worker's own lies below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


# fastcnn_run's settings. Its recipe adds half of the training digits again as low-resolution scans, made
# once per user cache (~130 s of CPU on 2 cores) and so on every fresh machine, in CI too: the run here adds
# a quarter (the recipe's share until 2026-11-29: 99.03-99.17% on MNIST test, benchmarks/RESULTS.md), which
# halves that cost and runs the same code. Its training would make them in the worker that trains it, with
# every test that needs the run waiting. A run of the whole suite on several workers starts making them at
# once instead, in a process of its own that takes the cores the first tests leave idle; the training then
# finds them made, or waits for them on the cache's lock.
FASTCNN_RUN = {"epochs": 1, "seed": 0, "scans": 0.25}
MAKE_SCANS = """
import json, os, sys
from mnistlab.models.registry import get_spec
from mnistlab.training.config import resolve_config
from mnistlab.training.inputs import load_training_data
settings = {**json.loads(sys.argv[1]), "model": "fastcnn", "data_dir": os.environ["MNISTLAB_DATA_DIR"]}
load_training_data(resolve_config(settings, get_spec("fastcnn").defaults))
"""


def pytest_configure(config):
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return  # an xdist worker, or a run on one process (a module or a test at a time)
    whole_suite = config.args_source == pytest.Config.ArgsSource.TESTPATHS and not config.option.keyword
    if (
        not whole_suite
        or "not slow" in (config.option.markexpr or "")
        or not os.environ.get("MNISTLAB_DATA_DIR")
    ):
        return
    log = open(Path(tempfile.gettempdir()) / "mnistlab-tests-scans.log", "w")  # noqa: SIM115
    config.making_scans = subprocess.Popen(
        [sys.executable, "-c", MAKE_SCANS, json.dumps(FASTCNN_RUN)], stdout=log, stderr=log
    )
    log.close()


def pytest_unconfigure(config):
    making = getattr(config, "making_scans", None)
    if making is not None and making.poll() is None:
        making.terminate()  # an interrupted session: what it made is written atomically, or not at all
        making.wait()


@pytest.fixture(scope="session")
def fastcnn_run(mnist_dir, shared_tmp) -> Path:
    """A run directory of the fastcnn recipe, one epoch on all of MNIST through `mnistlab.train` (>= 99%).

    Trained once per session (about 30 s on 2 cores) for every test that needs a real, accurate model:
    accuracy, prediction, reading, serving, refusal, the drawing page and export. Its ONNX copy, which
    predicting from a run makes on first use, is made here too, so that the folder stays as built:
    read-only for its users (see build_once).
    """
    import mnistlab
    from mnistlab.recognition.onnx_copy import predicting_classifier

    def train(folder: Path) -> None:
        mnistlab.train("fastcnn", **FASTCNN_RUN, data_dir=str(mnist_dir), out=str(folder), progress=False)
        predicting_classifier(folder)

    return build_once(shared_tmp / "fastcnn-run", train)


# The zoo's ensemble at its smallest through `mnistlab.train`: asked for 4 `best` members with a budget every
# member passes, so it stops at its minimum, 2 (one epoch on 256 examples each). Shared by the zoo contract
# (test_models.py) and the ensemble tests (test_recipes.py).
ENSEMBLE_RUN = {
    "n_estimators": 4,
    "budget_minutes": 0.001,
    "epochs": 1,
    "train_split": "train[:256]",
    "progress": False,
}


@pytest.fixture(scope="session")
def ensemble_run(mnist_dir, shared_tmp) -> Path:
    """A finished tiny ensemble run directory (ENSEMBLE_RUN); read-only. What it said on stderr while
    training is kept beside it, in ensemble-run.stderr."""
    import contextlib
    import io

    import mnistlab

    def train(folder: Path) -> None:
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            mnistlab.train("ensemble", data_dir=str(mnist_dir), out=str(folder), **ENSEMBLE_RUN)
        folder.with_name("ensemble-run.stderr").write_text(said.getvalue())

    return build_once(shared_tmp / "ensemble-run", train)


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private user cache, so a test never reads or writes the real one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MNISTLAB_CACHE_DIR", str(cache))
    return cache


# A small synthetic dataset in the MNIST file layout (tests/fixtures_data/synthetic.py), for data tests.
@pytest.fixture
def contents() -> dict:
    """The synthetic dataset's four .gz files: {file name: bytes}."""
    from fixtures_data import synthetic

    return synthetic.file_contents()


@pytest.fixture
def spec(contents):
    """The synthetic dataset registered (its files not written anywhere)."""
    from fixtures_data import synthetic

    from mnistlab.data.registry import register_dataset, unregister_dataset

    registered = register_dataset(synthetic.spec_for(contents))
    yield registered
    unregister_dataset(registered.name)


@pytest.fixture
def tiny(tmp_path, isolated_cache, monkeypatch, contents, spec) -> Path:
    """The synthetic dataset written under tmp_path/data, registered, with a private cache."""
    from fixtures_data import synthetic

    monkeypatch.delenv("MNISTLAB_DATA_DIR", raising=False)
    synthetic.write_dataset(tmp_path / "data", contents)
    return tmp_path / "data"
