"""The CLI shell: version, help, and the one-line error contract (--debug anywhere adds the traceback)."""

import pytest
from cli_support import run_cli


def test_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mnistlab 0.")
    help_text = run_cli("--help").stdout
    for command in ("data", "train", "evaluate", "predict", "serve", "export", "models", "runs"):
        assert command in help_text
    assert "--debug" in help_text  # documented, though main() handles it
    from mnistlab.cli import JOURNEY

    listed = [line.split()[1] for line in help_text.splitlines() if line.startswith("│ ") and line[2] != " "]
    commands = [name for name in listed if name.isalpha() and name.islower()]
    assert commands == list(JOURNEY)  # every command, in the order a newcomer meets them: data first


def test_unknown_command_is_a_usage_error():
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_user_error_is_one_line_without_debug(tmp_path):
    result = run_cli("evaluate", "no-such-run", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and "no-such-run" in line


@pytest.mark.parametrize(
    "args",
    [["--debug", "evaluate", "no-such-run"], ["evaluate", "no-such-run", "--debug"]],
    ids=["before the command", "at the end"],
)
def test_debug_anywhere_shows_the_traceback(tmp_path, args):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1].startswith("error: ") and "no-such-run" in lines[-1]  # the same line, last
