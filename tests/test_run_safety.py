"""Run folders run no code unless asked, and runs lose nothing: kills, orphans, full disks, races, umask."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mnistlab.cli import main
from mnistlab.errors import MnistlabError
from mnistlab.files import PARTIAL, atomic_write_text
from mnistlab.rundir import existing_run, new_run_dir, release

TINY = ["--epochs", "1", "--train-split", "train[:2%]", "--no-progress"]


def call(*args: str) -> int:
    """Run the CLI in this process; returns its exit status."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture
def in_tmp(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNISTLAB_DATA_DIR", str(mnist_dir))
    return tmp_path


def write_net(path: Path, log: Path) -> None:
    """A build_model file that records each time it runs."""
    path.write_text(
        textwrap.dedent(f"""\
            import keras
            with open({str(log)!r}, "a") as log:
                log.write("ran\\n")

            def build_model(input_shape, num_classes):
                return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                                         keras.layers.Dense(num_classes, activation="softmax")])
            """)
    )


def test_resuming_a_python_file_run_needs_allow_code(in_tmp, capsys):
    log = in_tmp / "ran.log"
    write_net(in_tmp / "net.py", log)
    assert call("train", "--model", "net.py", *TINY, "--out", "run") == 0  # naming the file: consent
    assert log.read_text().count("ran") == 1
    (in_tmp / "run" / "metrics.json").unlink()  # as if killed before the end

    capsys.readouterr()
    assert call("train", "--resume", "run") == 2
    err = one_error_line(capsys)
    assert "net.py" in err and "--allow-code" in err
    assert log.read_text().count("ran") == 1, "the file ran without consent"

    assert call("train", "--resume", "run", "--allow-code") == 0
    assert log.read_text().count("ran") == 2
    assert (in_tmp / "run" / "metrics.json").is_file()


def test_a_foreign_config_json_runs_nothing(in_tmp, capsys, tmp_path_factory):
    """A run folder from someone else whose config.json names a Python file elsewhere on the disk."""
    assert call("train", "--model", "logreg", *TINY, "--out", "shared") == 0
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    marker = elsewhere / "code-ran"
    (elsewhere / "payload.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    config = json.loads((in_tmp / "shared" / "config.json").read_text())
    (in_tmp / "shared" / "config.json").write_text(
        json.dumps({**config, "model": str(elsewhere / "payload.py")})
    )
    (in_tmp / "shared" / "metrics.json").unlink()

    capsys.readouterr()
    assert call("train", "--resume", "shared") == 2
    assert "--allow-code" in one_error_line(capsys)
    assert not marker.exists()


def test_resume_after_a_kill_past_metrics_finishes_the_report_and_sweeps_orphans(in_tmp, capsys):
    assert call("train", "--model", "mlp", *TINY, "--out", "run") == 0
    run = in_tmp / "run"
    (run / "report.html").unlink()  # killed between metrics.json and report.html
    orphans = [
        run / f".model.keras.x1y2{PARTIAL}.keras",
        run / "checkpoints" / f".epoch-0002.keras.z9{PARTIAL}.keras",
    ]
    for orphan in orphans:
        orphan.write_bytes(b"\0" * 1000)

    assert call("train", "--resume", "run") == 0
    assert (run / "report.html").is_file() and "<html" in (run / "report.html").read_text()[:500].lower()
    assert not any(orphan.exists() for orphan in orphans)

    capsys.readouterr()
    assert call("train", "--resume", "run") == 2
    assert "already complete" in one_error_line(capsys)


def test_written_files_follow_the_umask(in_tmp):
    previous = os.umask(0o027)
    try:
        assert call("train", "--model", "logreg", *TINY, "--out", "run") == 0
    finally:
        os.umask(previous)
    files = [path for path in (in_tmp / "run").rglob("*") if path.is_file()]
    assert {"report.html", "metrics.json", "config.json", "model.keras"} <= {path.name for path in files}
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in files}
    assert set(modes.values()) == {0o640}, modes

    previous = os.umask(0o022)  # the usual umask: the usual 0644
    try:
        atomic_write_text(in_tmp / "plain.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((in_tmp / "plain.txt").stat().st_mode) == 0o644


def _claim_in_another_process(folder: Path) -> subprocess.Popen:
    code = (
        "import sys, time\n"
        "from mnistlab.rundir import new_run_dir\n"
        "new_run_dir('mlp', sys.argv[1])\n"
        "print('claimed', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "claimed"
    return process


def test_a_run_directory_in_use_cannot_be_taken_or_resumed(tmp_path):
    folder = tmp_path / "busy"
    holder = _claim_in_another_process(folder)
    try:
        with pytest.raises(MnistlabError, match="in use by another mnistlab process"):
            new_run_dir("mlp", str(folder))
        (folder / "config.json").write_text("{}")
        with pytest.raises(MnistlabError, match="in use by another mnistlab process"):
            existing_run(folder)
    finally:
        holder.kill()
        holder.wait()
    assert existing_run(folder) == folder  # the kernel dropped the dead process's lock
    release(folder)


def test_processes_started_at_once_never_share_a_run_directory(tmp_path):
    folder = tmp_path / "contested"
    folder.mkdir()  # an existing empty folder: the check-then-create case
    code = (
        "import sys\n"
        "from mnistlab.errors import MnistlabError\n"
        "from mnistlab.rundir import new_run_dir\n"
        "try:\n"
        "    new_run_dir('mlp', sys.argv[1])\n"
        "    (__import__('pathlib').Path(sys.argv[1]) / 'config.json').write_text('{}')\n"
        "    print('won', flush=True)\n"
        "    sys.stdin.read()\n"  # hold the folder until the test is done looking
        "except MnistlabError:\n"
        "    print('lost', flush=True)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(folder)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outcomes = [process.stdout.readline().strip() for process in processes]
    for process in processes:
        process.communicate(input="", timeout=60)
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]


def _can_mount_a_small_disk() -> bool:
    probe = ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m none /mnt || mount -t tmpfs none /tmp"]
    return shutil.which("unshare") is not None and subprocess.run(probe, capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_mount_a_small_disk(), reason="needs unshare and tmpfs mounts (Linux namespaces)")
def test_a_full_disk_names_the_path_and_the_run_resumes_after_space_is_freed(tmp_path, mnist_dir):
    """A real 1 MB disk (tmpfs in a private mount namespace): the run stops cleanly, then finishes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    # One Python process in its own mount namespace: the disk is mounted 1 MB small and the run fails; the
    # disk grows and the resume finishes (both through the CLI, in that process).
    script = textwrap.dedent(f"""\
        import json, os, subprocess, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from cli_support import call_cli
        disk = sys.argv[1]
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "none", disk], check=True)
        first = call_cli("train", "--model", "mlp", *{TINY!r}, "--out", f"{{disk}}/run")
        subprocess.run(["mount", "-o", "remount,size=64m", disk], check=True)
        second = call_cli("train", "--resume", f"{{disk}}/run")
        listing = os.listdir(f"{{disk}}/run") + os.listdir(f"{{disk}}/run/checkpoints")
        answer = {{"first": [first.returncode, first.stderr], "second": [second.returncode, second.stderr]}}
        print(json.dumps({{**answer, "listing": listing}}))
        """)
    command = ["unshare", "-rm", sys.executable, "-c", script, str(disk)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    first_rc, first_err = found["first"]
    first_err = first_err.strip()
    assert first_rc == 2, first_err
    assert len(first_err.splitlines()) == 1 and "Traceback" not in first_err, first_err
    assert f"the disk holding {disk}/run" in first_err and "is full" in first_err
    assert f"free some space, then continue with: mnistlab train --resume {disk}/run" in first_err

    second_rc, second_err = found["second"]
    assert second_rc == 0, second_err
    listing = found["listing"]
    assert "metrics.json" in listing and "report.html" in listing
    assert not [name for name in listing if PARTIAL in name]
