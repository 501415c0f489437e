"""`mnistlab data`: see what the datasets hold before training on them.

mnistlab data list                                   # where each dataset's files are, or "not downloaded"
mnistlab data info fashion_mnist                     # features, splits, citation
mnistlab data show mnist --split 'train[:25]' --out grid.png --cols 5
mnistlab data stats mnist --plot balance.png         # examples per class, train vs test; pixel range
mnistlab data bench mnist --batch-size 32            # examples/s of shuffled float32 batches
mnistlab data verify mnist                           # every byte against the published checksums

Commands that read data accept --data-dir DIR (searched before $MNISTLAB_DATA_DIR and the user cache)
and --no-download (fail instead of downloading missing files); `verify` never downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

data_app = typer.Typer(
    help="Datasets: list, info, show examples, class statistics, input speed, verify.", no_args_is_help=True
)

NameArgument = Annotated[str, typer.Argument(help="mnist | fashion_mnist | kmnist.")]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Folder holding <dataset>/<file>.gz, searched first.")
]
DownloadOption = Annotated[
    bool, typer.Option("--download/--no-download", help="Download missing files from the mirrors.")
]


def _console():
    from rich.console import Console

    return Console()


@data_app.command("list")
def list_command(data_dir: DataDirOption = None) -> None:
    """List the datasets and where each one's files are found."""
    from rich.table import Table

    from mnistlab.data.fetch import dataset_locations

    table = Table("dataset", "files", "location")
    for name, folder, found in dataset_locations(data_dir):
        if found == 0:
            table.add_row(name, "0/4", "not downloaded")
        else:
            table.add_row(name, f"{found}/4", str(folder) + ("" if found == 4 else " (incomplete)"))
    _console().print(table)


@data_app.command("info")
def info_command(name: NameArgument = "mnist") -> None:
    """Show a dataset's features, splits, homepage and citation."""
    from mnistlab.data.info import dataset_info

    typer.echo(repr(dataset_info(name)))


@data_app.command("show")
def show_command(
    name: NameArgument = "mnist",
    split: Annotated[str, typer.Option(help="Examples to draw, in tfds split grammar.")] = "train[:9]",
    out: Annotated[Path, typer.Option(help="Picture file to write (.png, .pdf, .svg ...).")] = Path(
        "examples.png"
    ),
    cols: Annotated[int | None, typer.Option(help="Columns of the grid (default: square).")] = None,
    data_dir: DataDirOption = None,
    download: DownloadOption = True,
) -> None:
    """Draw examples in a grid, each titled with its label."""
    from mnistlab.data.notebook import save_examples

    path = save_examples(name, split, out, cols, data_dir=data_dir, download=download)
    typer.echo(f"wrote {path}")


@data_app.command("stats")
def stats_command(
    name: NameArgument = "mnist",
    plot: Annotated[Path | None, typer.Option(help="Also save a bar chart of the class balance.")] = None,
    data_dir: DataDirOption = None,
    download: DownloadOption = True,
) -> None:
    """Examples per class (count and %) in each split, the pixel range and distinct pixel values."""
    from rich.table import Table

    from mnistlab.data.stats import dataset_stats

    stats = dataset_stats(name, data_dir=data_dir, download=download, plot=plot)
    table = Table("class", title=f"{stats.name}: examples per class")
    for split in stats.counts:
        table.add_column(f"{split}", justify="right")
        table.add_column(f"{split} %", justify="right")
    for index, class_name in enumerate(stats.class_names):
        cells = []
        for split, counts in stats.counts.items():
            cells += [str(counts[index]), f"{stats.percent(split)[index]:.2f}"]
        table.add_row(f"{index} {class_name}" if class_name != str(index) else class_name, *cells)
    table.add_row("total", *[cell for c in stats.counts.values() for cell in (str(c.sum()), "100.00")])
    console = _console()
    console.print(table)
    console.print(
        f"pixels: uint8 in [{stats.pixel_min}, {stats.pixel_max}], "
        f"{stats.distinct_pixel_values} distinct values"
    )
    if stats.plot_path is not None:
        console.print(f"wrote {stats.plot_path}")


@data_app.command("bench")
def bench_command(
    name: NameArgument = "mnist",
    batch_size: Annotated[int, typer.Option(min=1, help="Examples per batch.")] = 32,
    split: Annotated[str, typer.Option(help="Split to stream, in tfds split grammar.")] = "train",
    batches: Annotated[int | None, typer.Option(min=1, help="Batches to time (default: one epoch).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the shuffle.")] = 0,
    data_dir: DataDirOption = None,
    download: DownloadOption = True,
) -> None:
    """Examples per second of a shuffled stream of float32 batches, like tfds.benchmark."""
    from mnistlab.data.benchmark import benchmark

    result = benchmark(name, split, batch_size, batches, seed=seed, data_dir=data_dir, download=download)
    typer.echo(
        f"{result.dataset} {result.split}: {result.num_batches} batches of {result.batch_size} "
        f"({result.num_examples} examples), shuffled, float32 in [0, 1]\n"
        f"load (memory map):              {result.load_s * 1000:10.1f} ms\n"
        f"first batch:                    {result.first_batch_s * 1000:10.3f} ms\n"
        f"examples/s (first included):    {result.examples_per_s_first_included:12,.0f}\n"
        f"examples/s (first excluded):    {result.examples_per_s_first_excluded:12,.0f}\n"
        f"examples per CPU second:        {result.examples_per_cpu_s:12,.0f}"
    )


@data_app.command("verify")
def verify_command(name: NameArgument = "mnist", data_dir: DataDirOption = None) -> None:
    """Check every byte of a dataset's files against the published checksums, and its cache against them."""
    from mnistlab.data.integrity import verify
    from mnistlab.errors import DataError

    checks = verify(name, data_dir)
    for check in checks:
        typer.echo(str(check))
    problems = [check for check in checks if check.problem]
    if problems:
        raise DataError(f"{name}: {len(problems)} of {len(checks)} files failed verification (see above)")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
