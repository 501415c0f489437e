"""Class balance and pixel statistics of a dataset, train vs test, with an optional bar chart.

stats = dataset_stats("mnist")
stats.counts["train"]          # (10,) examples per class
stats.percent("test")          # (10,) share of each class, in %
stats.distinct_pixel_values    # 256
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnistlab.data.info import dataset_info
from mnistlab.data.load import load


@dataclass(frozen=True)
class DatasetStats:
    name: str
    class_names: tuple[str, ...]
    counts: dict[str, np.ndarray]  # split -> (num_classes,) int64
    pixel_min: int
    pixel_max: int
    distinct_pixel_values: int  # over every split
    plot_path: Path | None = None

    def percent(self, split: str) -> np.ndarray:
        counts = self.counts[split]
        return 100.0 * counts / max(1, counts.sum())


def dataset_stats(
    name: str = "mnist", *, data_dir=None, download: bool = True, plot: str | Path | None = None
):
    """Examples per class for each split, the pixel range and distinct pixel values; `plot` saves a chart."""
    info = dataset_info(name)
    splits = load(name, data_dir=data_dir, download=download)
    num_classes = info.features["label"].num_classes
    counts = {split: np.bincount(data["label"], minlength=num_classes) for split, data in splits.items()}
    histogram = sum(np.bincount(data["image"].reshape(-1), minlength=256) for data in splits.values())
    present = np.flatnonzero(histogram)
    stats = DatasetStats(
        name=name,
        class_names=tuple(info.features["label"].names),
        counts=counts,
        pixel_min=int(present.min()),
        pixel_max=int(present.max()),
        distinct_pixel_values=len(present),
    )
    if plot is not None:
        stats = DatasetStats(**{**stats.__dict__, "plot_path": save_class_balance_plot(stats, plot)})
    return stats


def class_balance_figure(stats: DatasetStats):
    """A grouped bar chart of the share of each class per split (a matplotlib Figure, Agg backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(max(6.0, 0.7 * len(stats.class_names)), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = np.arange(len(stats.class_names))
    width = 0.8 / max(1, len(stats.counts))
    for offset, split in enumerate(stats.counts):
        axes.bar(
            positions + offset * width,
            stats.percent(split),
            width,
            label=f"{split} (n={stats.counts[split].sum()})",
        )
    axes.set_xticks(positions + width * (len(stats.counts) - 1) / 2, stats.class_names, rotation=0)
    axes.set_ylabel("share of examples (%)")
    axes.set_title(f"{stats.name}: examples per class")
    top = max(float(stats.percent(split).max()) for split in stats.counts)
    axes.set_ylim(0, top * 1.3)  # headroom so the legend never covers a bar
    axes.legend(loc="upper center", ncols=len(stats.counts))
    return figure


def save_class_balance_plot(stats: DatasetStats, path: str | Path) -> Path:
    from mnistlab.data.notebook import save_figure

    return save_figure(class_balance_figure(stats), path)
