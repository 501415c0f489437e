"""`mnistlab.load`: tfds.load's arguments and split grammar, returning numpy arrays.

    import mnistlab
    train = mnistlab.load("mnist", split="train[:80%]")         # {'image': (48000, 28, 28, 1) uint8,
                                                                 #  'label': (48000,) int64}
    (images, labels), info = mnistlab.load("mnist", split="test", as_supervised=True, with_info=True)
    everything = mnistlab.load("mnist")                          # {'train': {...}, 'test': {...}}
    parts = mnistlab.load("mnist", split=["train[:10%]", "train[10%:]"])   # a list, one per spec

Examples come in tfds's order, so a split string gives the same examples in the same order as tfds,
`+` included (order.py); order="idx" gives the order of the original IDX files, and `+` concatenates.
Split strings are parsed and checked before any file is read or downloaded. A whole split, or a slice
of one, is a read-only view of the memory-mapped user cache (in tfds's order); anything else is a new
array.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mnistlab.data.cache import split_arrays
from mnistlab.data.info import dataset_info
from mnistlab.data.order import ORDERS, interleave_positions, inverse
from mnistlab.data.registry import get_dataset
from mnistlab.data.splits import Slice, SplitSpec
from mnistlab.errors import DataError, MnistlabError, SplitError


def load(
    name: str = "mnist",
    split=None,
    *,
    as_supervised: bool = False,
    with_info: bool = False,
    data_dir=None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    order: str = "tfds",
    batch_size: int | None = None,
    shuffle_files: bool = False,
):
    """Load a dataset like `tfds.load`, as numpy arrays.

    Args:
      name: 'mnist', 'fashion_mnist' or 'kmnist' (see `mnistlab.list_datasets()`).
      split: None (a dict of every split), a split string such as 'train[:80%]', or a list (or dict)
        of them, giving a list (or dict) of results.
      as_supervised: return (images, labels) tuples instead of {'image', 'label'} dicts.
      with_info: also return the DatasetInfo: (result, info).
      data_dir: a folder holding <name>/<file>.gz, searched before $MNISTLAB_DATA_DIR and the user cache.
      download: fetch missing files from the mirrors into the user cache; False raises DataError instead.
      mirrors: base URLs to download from instead of the dataset's own (or $MNISTLAB_MIRRORS): https,
        or plain http to 127.0.0.1, ::1 or localhost only.
      order: "tfds" (the examples tfds returns, in its order) or "idx" (the original files' order).
      batch_size: tfds's argument; None or -1 (the whole split as one batch, tfds's way to get numpy
        arrays) are what mnistlab returns; other sizes raise an error that says how to batch.
      shuffle_files: tfds's argument, accepted as tfds treats it for these datasets: each split is one
        file, so there is no file order to shuffle and the examples come in the same order either way.

    Each result is {'image': uint8 (N, 28, 28, 1), 'label': int64 (N,)}.
    """
    if batch_size not in (None, -1):
        raise MnistlabError(
            f"batch_size={batch_size!r}: mnistlab.load returns each split whole, as numpy arrays (tfds's "
            "batch_size=-1); slice them into batches, e.g. images[i:i + 32], or leave batch_size out"
        )
    if not isinstance(shuffle_files, bool):
        raise MnistlabError(f"shuffle_files must be True or False, not {shuffle_files!r}")
    if order not in ORDERS:
        raise MnistlabError(f"order must be one of {', '.join(map(repr, ORDERS))}, got {order!r}")
    spec = get_dataset(name)
    info = dataset_info(spec)
    sizes = {split_name: files.num_examples for split_name, files in spec.splits.items()}
    if split is None:
        split = {split_name: split_name for split_name in sizes}
    requested = _map_structure(SplitSpec.parse, split, sequences=(list, tuple))  # checked before any I/O
    resolved = _map_structure(lambda split_spec: _resolve_nonempty(split_spec, sizes), requested)

    needed = {part.split for parts in _leaves(resolved) for part in parts}
    arrays = {}
    for split_name in sizes:  # in the dataset's order, so downloads and errors come in a stable order
        if split_name in needed:
            images, labels, positions = split_arrays(spec, split_name, data_dir, download, mirrors)
            if len(labels) != sizes[split_name]:
                raise DataError(
                    f"{spec.name}/{split_name} has {len(labels)} examples, expected {sizes[split_name]}; "
                    f"replace its files with the published ones"
                )
            rows = inverse(positions) if order == "idx" else None  # stored row of each IDX example
            arrays[split_name] = (images.view(np.ndarray), labels.view(np.ndarray), rows)

    def build(parts: tuple[Slice, ...]):
        images, labels = _gather(parts, arrays, interleave=order == "tfds")
        return (images, labels) if as_supervised else {"image": images, "label": labels}

    result = _map_structure(build, resolved)
    return (result, info) if with_info else result


def _resolve_nonempty(split_spec: SplitSpec, sizes: dict[str, int]) -> tuple[Slice, ...]:
    parts = split_spec.resolve(sizes)
    if not parts:  # tfds refuses these too ("corresponds to no data")
        raise SplitError(f"`{split_spec}` selects no examples; choose a non-empty range, e.g. `train[:80%]`")
    return parts


def _gather(parts: tuple[Slice, ...], arrays: dict, interleave: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the slices: a view for one slice, new arrays for several.

    `arrays[split]` is (images, labels, rows): rows is None for tfds's order (the stored order), else
    the stored row of each example in the requested order, gathered into new arrays. Several slices
    are concatenated, then, if `interleave`, put in the order tfds's reader interleaves them.
    """
    pieces = []
    for part in parts:
        images, labels, rows = arrays[part.split]
        if rows is None:
            pieces.append((images[part.start : part.stop], labels[part.start : part.stop]))
        else:
            selected = rows[part.start : part.stop]
            pieces.append((images[selected], labels[selected]))
    if len(pieces) == 1:
        return pieces[0]
    images = np.concatenate([images for images, _ in pieces])
    labels = np.concatenate([labels for _, labels in pieces])
    if interleave:
        positions = interleave_positions([len(piece_labels) for _, piece_labels in pieces])
        images, labels = images[positions], labels[positions]
    return images, labels


def _map_structure(function, structure, sequences=(list,)):
    """Apply `function` to each leaf of a dict (-> dict) or sequence (-> list) of splits."""
    if isinstance(structure, Mapping):
        return {key: _map_structure(function, value, sequences) for key, value in structure.items()}
    if isinstance(structure, sequences):
        return [_map_structure(function, value, sequences) for value in structure]
    return function(structure)


def _leaves(structure):
    if isinstance(structure, Mapping):
        for value in structure.values():
            yield from _leaves(value)
    elif isinstance(structure, list):
        for value in structure:
            yield from _leaves(value)
    else:
        yield structure
