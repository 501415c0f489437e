"""The one way mnistlab tells a person what it is doing: status lines, warnings and live progress bars.

    from mnistlab import reporter
    reporter.say("training fastcnn on mnist")            # a status line on stdout
    reporter.warn("stopping at 9 members")               # a line on stderr
    with reporter.bar("download t10k-images", total) as advance: advance(n)   # live on a terminal only

Library code never prints: it calls these, so the command line, a notebook and a test all see the same
lines, and `quiet()` silences everything at once (results the caller asked for, such as `--json`, are
printed by the CLI itself, never here). Output goes through rich, so a terminal gets live bars and a log
file or pipe gets plain lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console

_out = Console(highlight=False, soft_wrap=True)  # writes to sys.stdout as it is at print time
_err = Console(stderr=True, highlight=False, soft_wrap=True)
_silent = False


def quiet(silent: bool = True) -> None:
    """Silence (or restore) every status line, warning and bar."""
    global _silent
    _silent = silent


def console() -> Console | None:
    """The console status lines go to, or None while quiet (for live displays such as epoch bars)."""
    return None if _silent else _out


def say(text: str) -> None:
    """A status line a person watching wants to see (stdout)."""
    if not _silent:
        _out.print(text)


def warn(text: str) -> None:
    """Something the person should know that is not an error (stderr)."""
    if not _silent:
        _err.print(text)


@contextlib.contextmanager
def bar(label: str, total: int | None, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A live byte-progress bar on stderr while the block runs; advance(n) moves it (a no-op off-terminal)."""
    if _silent or not enabled or not _err.is_terminal:
        yield lambda n: None
        return
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        *Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=_err
    ) as shown:
        task = shown.add_task(label, total=total or None)
        yield lambda n: shown.advance(task, n)
