"""The `mnistlab` command line: parse, call one library function, print. No logic lives here.

    mnistlab data info mnist
    mnistlab train --model fastcnn --epochs 1
    mnistlab --debug evaluate runs/2026-11-23-fastcnn      # --debug (anywhere) shows tracebacks
    mnistlab evaluate runs/2026-11-23-fastcnn --debug      # the same

Each command group lives in its own module in this package and adds itself with `register(app)`.
Errors a user can cause (`MnistlabError`) print one line on stderr and exit non-zero. `--debug` belongs to no
command: main() takes it out of the arguments wherever it stands, and then prints tracebacks as well.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback

import typer
from typer.core import TyperGroup

from mnistlab import __version__
from mnistlab.errors import MnistlabError
from mnistlab.imports import skip_unused_imports

# --help lists the commands in the order a newcomer meets them, not in the order they are registered
JOURNEY = (
    "data", "models", "train", "sweep", "evaluate", "runs", "audit",
    "predict", "read", "serve", "export", "bench",
)  # fmt: skip


class JourneyOrder(TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        rank = {name: position for position, name in enumerate(JOURNEY)}
        return sorted(super().list_commands(ctx), key=lambda name: (rank.get(name, len(JOURNEY)), name))


app = typer.Typer(
    cls=JourneyOrder,
    name="mnistlab",
    help="Handwritten-digit recognition workbench: data, models, training, evaluation, serving.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    epilog="Add --debug anywhere on the command line to see the full traceback of an error.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mnistlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """mnistlab: MNIST-family data, a model zoo, reports, recognition of real images, a REST API."""


def _register_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """The `mnistlab` command: run the app; an error prints one line, with --debug after its traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args  # accepted anywhere, so it is taken out before Typer parses the rest
    args = [arg for arg in args if arg != "--debug"]
    skip_unused_imports()  # this process is mnistlab's own: Keras loads in 1.4 s less
    try:
        # Standalone mode: Typer reports usage errors itself (exit 2) and turns Ctrl-C into exit 1.
        app(args=args, prog_name="mnistlab")
    except MnistlabError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except Exception as error:  # a bug or an environment problem: one line, traceback on request
        if debug:
            traceback.print_exc()
        print(
            f"error: {type(error).__name__}: {error} (run again with --debug for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
