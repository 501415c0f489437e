"""The MNIST-family datasets: their files, mirrors, checksums, class names and citations.

    spec = get_dataset("fashion_mnist")
    spec.splits["train"].images.filename      # 'train-images-idx3-ubyte.gz'
    list_datasets()                           # ['fashion_mnist', 'kmnist', 'mnist']

A checksum is the md5 of either the decompressed or the compressed bytes of a file: MNIST publishes
the former, Fashion-MNIST and KMNIST only the latter, and a re-compressed file keeps only the former.
`spec.decompressed_size(data_file)` is the size the IDX format gives a file (60000 images: 16 + 60000 x
784 bytes); downloads and decompression are bounded by it. Mirrors are https addresses.
`register_dataset` adds another dataset in the same four-IDX-file layout (e.g. for tests).
"""

from __future__ import annotations

from dataclasses import dataclass

from mnistlab.errors import DataError

IMAGE_SHAPE = (28, 28, 1)  # (height, width, channels) of every example
IMAGE_BYTES = 28 * 28  # one uint8 image in an IDX file
IMAGES_HEADER_BYTES = 16  # IDX magic number, then 3 dimensions (count, rows, columns) as uint32
LABELS_HEADER_BYTES = 8  # IDX magic number, then 1 dimension (count)


@dataclass(frozen=True)
class DataFile:
    """One gzip-compressed IDX file and the md5s (of its compressed or decompressed bytes) it may have."""

    filename: str
    md5s: tuple[str, ...] = ()  # empty: no published checksum, the IDX structure is still checked


@dataclass(frozen=True)
class SplitFiles:
    images: DataFile
    labels: DataFile
    num_examples: int


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    class_names: tuple[str, ...]
    splits: dict[str, SplitFiles]  # in the dataset's order, which `all` follows
    mirrors: tuple[str, ...]  # base URLs, tried in order; a file's URL is mirror + filename
    homepage: str
    citation: str
    license: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def files(self) -> tuple[DataFile, ...]:
        return tuple(f for split in self.splits.values() for f in (split.images, split.labels))

    def decompressed_size(self, data_file: DataFile) -> int:
        """Bytes of `data_file` once decompressed: 16 + N x 784 for N images, 8 + N for N labels."""
        for split in self.splits.values():
            if data_file.filename == split.images.filename:
                return IMAGES_HEADER_BYTES + split.num_examples * IMAGE_BYTES
            if data_file.filename == split.labels.filename:
                return LABELS_HEADER_BYTES + split.num_examples
        raise DataError(f"{self.name} has no file {data_file.filename!r}")


def _mnist_layout(checksums: dict[str, tuple[str, ...]], train: int = 60000, test: int = 10000):
    def data_file(name: str) -> DataFile:
        return DataFile(name, checksums[name])

    return {
        "train": SplitFiles(
            data_file("train-images-idx3-ubyte.gz"), data_file("train-labels-idx1-ubyte.gz"), train
        ),
        "test": SplitFiles(
            data_file("t10k-images-idx3-ubyte.gz"), data_file("t10k-labels-idx1-ubyte.gz"), test
        ),
    }


_MNIST_CITATION = """\
@article{lecun2010mnist,
  title={MNIST handwritten digit database},
  author={LeCun, Yann and Cortes, Corinna and Burges, CJ},
  journal={ATT Labs [Online]. Available: http://yann.lecun.com/exdb/mnist},
  volume={2},
  year={2010}
}"""

_FASHION_MNIST_CITATION = """\
@article{DBLP:journals/corr/abs-1708-07747,
  author    = {Han Xiao and Kashif Rasul and Roland Vollgraf},
  title     = {Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning Algorithms},
  journal   = {CoRR},
  volume    = {abs/1708.07747},
  year      = {2017},
  url       = {http://arxiv.org/abs/1708.07747}
}"""

_KMNIST_CITATION = """\
@online{clanuwat2018deep,
  author       = {Tarin Clanuwat and Mikel Bober-Irizar and Asanobu Kitamoto and Alex Lamb and
                  Kazuaki Yamamoto and David Ha},
  title        = {Deep Learning for Classical Japanese Literature},
  date         = {2018-12-03},
  year         = {2018},
  eprintclass  = {cs.CV},
  eprinttype   = {arXiv},
  eprint       = {cs.CV/1812.01718}
}"""

_DATASETS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add (or replace) a dataset; its files are looked for under <data dir>/<spec.name>/."""
    _DATASETS[spec.name] = spec
    return spec


def unregister_dataset(name: str) -> None:
    _DATASETS.pop(name, None)


def get_dataset(name: str) -> DatasetSpec:
    try:
        return _DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; choose one of: {', '.join(list_datasets())}") from None


def list_datasets() -> list[str]:
    """Names of the datasets `mnistlab.load` knows, sorted."""
    return sorted(_DATASETS)


register_dataset(
    DatasetSpec(
        name="mnist",
        description="The MNIST database of handwritten digits.",
        class_names=tuple(str(digit) for digit in range(10)),
        splits=_mnist_layout(
            {  # md5 of the decompressed bytes (published), then of the mirrors' .gz files
                "train-images-idx3-ubyte.gz": (
                    "6bbc9ace898e44ae57da46a324031adb",
                    "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                ),
                "train-labels-idx1-ubyte.gz": (
                    "a25bea736e30d166cdddb491f175f624",
                    "d53e105ee54ea40749a09fcbcd1e9432",
                ),
                "t10k-images-idx3-ubyte.gz": (
                    "2646ac647ad5339dbf082846283269ea",
                    "9fb629c4189551a2d022fa330f9573f3",
                ),
                "t10k-labels-idx1-ubyte.gz": (
                    "27ae3e4e09519cfbb04c329615203637",
                    "ec29112dd5afa0611ce80d1b7f02629c",
                ),
            }
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        homepage="http://yann.lecun.com/exdb/mnist/",
        citation=_MNIST_CITATION,
        license="CC BY-SA 3.0",
    )
)

register_dataset(
    DatasetSpec(
        name="fashion_mnist",
        description=(
            "Fashion-MNIST is a dataset of Zalando's article images consisting of a training set of "
            "60,000 examples and a test set of 10,000 examples. Each example is a 28x28 grayscale image, "
            "associated with a label from 10 classes."
        ),
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        splits=_mnist_layout(
            {  # md5 of the published .gz files
                "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d",),
                "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe",),
                "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79",),
                "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310",),
            }
        ),
        # the publisher's repository holds the same files (data/fashion); its S3 website is http only
        mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        citation=_FASHION_MNIST_CITATION,
        license="MIT",
    )
)

register_dataset(
    DatasetSpec(
        name="kmnist",
        description=(
            "Kuzushiji-MNIST is a drop-in replacement for the MNIST dataset (28x28 grayscale, 70,000 "
            "images). Since MNIST restricts us to 10 classes, one character was chosen to represent each "
            "of the 10 rows of Hiragana."
        ),
        class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        splits=_mnist_layout(
            {  # md5 of the published .gz files
                "train-images-idx3-ubyte.gz": ("bdb82020997e1d708af4cf47b453dcf7",),
                "train-labels-idx1-ubyte.gz": ("e144d726b3acfaa3e44228e80efcd344",),
                "t10k-images-idx3-ubyte.gz": ("5c965bf0a639b31b8f53240b1b52f4d7",),
                "t10k-labels-idx1-ubyte.gz": ("7320c461ea6c1c855c0b718fb2a4b134",),
            }
        ),
        mirrors=("https://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        homepage="http://codh.rois.ac.jp/kmnist/index.html.en",
        citation=_KMNIST_CITATION,
        license="CC BY-SA 4.0",
    )
)
