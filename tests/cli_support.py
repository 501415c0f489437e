"""Running the `mnistlab` command in tests, two ways with one answer (a CompletedProcess).

    run_cli("predict", run, "seven.png")            # a fresh `python -m mnistlab`: what a user runs
    call_cli("evaluate", run, "--json")             # mnistlab.cli.main in this process: the same parsing,
                                                    # output and exit status, without a new interpreter

A fresh process is what start-up, signals, environment and "no TensorFlow imported" tests need. Everything
else calls the CLI in the test's own process, which has TensorFlow imported already: a command that would
spend 7-8 s importing it in a new interpreter costs only its own work.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def run_cli(*args, env: dict | None = None, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m mnistlab ARGS` in a fresh process, with env added to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "mnistlab", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def call_cli(*args, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """`mnistlab ARGS` through mnistlab.cli.main in this process, with env set and cwd entered meanwhile."""
    from mnistlab.cli import main

    argv = [str(arg) for arg in args]
    out, err = io.StringIO(), io.StringIO()
    status = 0
    with _environment(env or {}), _working_directory(cwd):
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(argv)
            except SystemExit as exited:
                status = _exit_status(exited.code, err)
    return subprocess.CompletedProcess(["mnistlab", *argv], status, out.getvalue(), err.getvalue())


def _exit_status(code, err: io.StringIO) -> int:
    """What a process would exit with for sys.exit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)  # sys.exit("text") prints the text and exits 1
    return 1


@contextlib.contextmanager
def _environment(changes: dict) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in changes}
    os.environ.update({name: str(value) for name, value in changes.items()})
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _working_directory(cwd) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = Path.cwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)
