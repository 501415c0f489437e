"""Execute the example notebooks, as a newcomer would run them, and keep what they showed.

    .venv/bin/python examples/run_notebooks.py          # every notebook in full, into examples/out/
    .venv/bin/python examples/run_notebooks.py --tiny 01_tfds_tour.ipynb   # small data, as CI runs them

The notebooks in git hold no outputs; this writes executed copies (with their pictures and numbers) to
--out. --tiny sets MNISTLAB_TINY=1, which each notebook reads to train on a small split for an epoch or
two, so that the whole set runs in the test suite in seconds; its checks then use looser thresholds.
Each notebook runs in a fresh folder, so its runs/ land there and not in the project.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 1800  # per cell: a full-size training run


def run_notebook(path: Path, out: Path | None, tiny: bool, workdir: Path) -> Path | None:
    """Execute one notebook in `workdir` (CellExecutionError on a failing cell); write it to `out`."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get("MNISTLAB_TINY")
    os.environ["MNISTLAB_TINY"] = "1" if tiny else "0"  # the kernel inherits this process's environment
    try:
        NotebookClient(
            notebook, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        ).execute()
    finally:
        if previous is None:
            os.environ.pop("MNISTLAB_TINY", None)
        else:
            os.environ["MNISTLAB_TINY"] = previous
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out / path.name)
    return out / path.name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", help="file names in examples/ (default: all)")
    parser.add_argument("--tiny", action="store_true", help="small data, as the test suite runs them")
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where the executed copies go")
    args = parser.parse_args()
    names = args.notebooks or sorted(path.name for path in HERE.glob("*.ipynb"))
    for name in names:
        with tempfile.TemporaryDirectory(prefix="mnistlab-notebook-") as workdir:
            written = run_notebook(HERE / name, args.out, args.tiny, Path(workdir))
        print(f"{name}: ran, written to {written}", file=sys.stderr)


if __name__ == "__main__":
    main()
