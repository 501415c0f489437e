"""What a dataset holds, in the shape of tfds's DatasetInfo: features, splits, citation.

info = dataset_info("mnist")
info.features["label"].num_classes            # 10
info.features["label"].int2str(7)             # '7'
info.features["image"].shape                  # (28, 28, 1)
info.splits["train"].num_examples             # 60000
info.splits["train[15%:75%]"].num_examples    # 36000
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from mnistlab.data.registry import IMAGE_SHAPE, DatasetSpec, get_dataset
from mnistlab.data.splits import SplitSpec
from mnistlab.errors import MnistlabError


class LabelError(MnistlabError, ValueError):
    """A class index or name that the dataset does not have."""


@dataclass(frozen=True)
class Image:
    """An image feature: `shape` (height, width, channels) of `dtype` pixels."""

    shape: tuple[int, ...] = IMAGE_SHAPE
    dtype: np.dtype = np.dtype(np.uint8)

    def __repr__(self) -> str:
        return f"Image(shape={self.shape}, dtype={self.dtype})"


class ClassLabel:
    """An integer class label in [0, num_classes), with a name per class (`names` is a list, as in tfds)."""

    shape: tuple[int, ...] = ()
    dtype: np.dtype = np.dtype(np.int64)

    def __init__(self, names):
        self._names = tuple(str(name) for name in names)

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def num_classes(self) -> int:
        return len(self._names)

    def __eq__(self, other) -> bool:
        return isinstance(other, ClassLabel) and other._names == self._names

    def __hash__(self) -> int:
        return hash(self._names)

    def int2str(self, index: int) -> str:
        if not 0 <= int(index) < self.num_classes:
            raise LabelError(f"class index {index} is out of range [0, {self.num_classes})")
        return self._names[int(index)]

    def str2int(self, name: str) -> int:
        try:
            return self._names.index(str(name))
        except ValueError:
            raise LabelError(f"unknown class name {name!r}; the classes are {self.names}") from None

    def __repr__(self) -> str:
        return f"ClassLabel(shape={self.shape}, dtype={self.dtype}, num_classes={self.num_classes})"


class FeaturesDict(Mapping):
    """The features of one example, by name: 'image' and 'label'."""

    def __init__(self, features: dict):
        self._features = dict(features)

    def __getitem__(self, key: str):
        return self._features[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._features)

    def __len__(self) -> int:
        return len(self._features)

    def __repr__(self) -> str:
        lines = [f"    {name!r}: {feature!r}," for name, feature in self._features.items()]
        return "FeaturesDict({\n" + "\n".join(lines) + "\n})"


@dataclass(frozen=True)
class SplitInfo:
    """A split of the dataset, or any split string (`train[:80%]`) resolved against it."""

    name: str
    num_examples: int
    num_shards: int = 1

    def __repr__(self) -> str:
        return f"<SplitInfo num_examples={self.num_examples}, num_shards={self.num_shards}>"


class SplitDict(Mapping):
    """Split name -> SplitInfo; any split string also works as a key: `splits['train[15%:75%]']`."""

    def __init__(self, sizes: dict[str, int]):
        self._sizes = dict(sizes)  # in the dataset's order

    def __getitem__(self, key: str) -> SplitInfo:
        if key in self._sizes:
            return SplitInfo(key, self._sizes[key])
        spec = SplitSpec.parse(key)
        slices = spec.resolve(self._sizes)
        return SplitInfo(str(key), sum(part.num_examples for part in slices), num_shards=len(slices))

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, key) -> bool:
        return key in self._sizes

    @property
    def total_num_examples(self) -> int:
        return sum(self._sizes.values())

    def __repr__(self) -> str:
        lines = [f"    {name!r}: {self[name]!r}," for name in self._sizes]
        return "{\n" + "\n".join(lines) + "\n}"


@dataclass(frozen=True)
class DatasetInfo:
    """Everything known about a dataset without reading its files."""

    name: str
    description: str
    homepage: str
    citation: str
    license: str
    features: FeaturesDict
    splits: SplitDict
    supervised_keys: tuple[str, str] = ("image", "label")
    mirrors: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        def indent(text: str) -> str:
            return textwrap.indent(text, "    ").lstrip()

        return (
            "mnistlab.DatasetInfo(\n"
            f"    name={self.name!r},\n"
            f'    description="""\n{textwrap.indent(textwrap.fill(self.description, 96), "    ")}\n    """,\n'
            f"    homepage={self.homepage!r},\n"
            f"    license={self.license!r},\n"
            f"    features={indent(repr(self.features))},\n"
            f"    supervised_keys={self.supervised_keys!r},\n"
            f"    splits={indent(repr(self.splits))},\n"
            f'    citation="""{indent(self.citation)}""",\n'
            ")"
        )


def dataset_info(name_or_spec: str | DatasetSpec) -> DatasetInfo:
    """The DatasetInfo of a registered dataset (no file is read)."""
    spec = get_dataset(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    return DatasetInfo(
        name=spec.name,
        description=spec.description,
        homepage=spec.homepage,
        citation=spec.citation,
        license=spec.license,
        features=FeaturesDict({"image": Image(), "label": ClassLabel(names=spec.class_names)}),
        splits=SplitDict({name: files.num_examples for name, files in spec.splits.items()}),
        mirrors=spec.mirrors,
    )
