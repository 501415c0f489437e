"""The CLI shell: version, help, and the one-line error contract."""

import subprocess
import sys

from mnistlab.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnistlab", *args], capture_output=True, text=True, timeout=120
    )


def test_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mnistlab 0.")
    help_text = run_cli("--help").stdout
    for command in ("data", "train", "evaluate", "predict", "serve", "export", "models", "runs"):
        assert command in help_text


def test_unknown_command_is_a_usage_error():
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_user_error_is_one_line_and_debug_shows_traceback(monkeypatch, capsys):
    import pytest

    from mnistlab.cli import app
    from mnistlab.errors import MnistlabError

    @app.command("raise-for-test", hidden=True)
    def _raise():
        raise MnistlabError("the thing is wrong; do this instead")

    with pytest.raises(SystemExit) as exit_info:
        main(["raise-for-test"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: the thing is wrong; do this instead"

    with pytest.raises(SystemExit):
        main(["raise-for-test", "--debug"])
    assert "Traceback" in capsys.readouterr().err
