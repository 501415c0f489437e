"""Record what tensorflow-datasets itself returns for split strings of real MNIST, as digests.

For tests/test_data_tfds_examples.py: each record is a split string, the number of examples tfds
returns, and the sha256 of its images (uint8, (N, 28, 28, 1), C order) then labels (int64). tfds must
first prepare MNIST from the same four IDX files (no network: its download step is pointed at them):

    python -m venv /tmp/tfdsenv && /tmp/tfdsenv/bin/pip install tensorflow-datasets importlib_resources
    gunzip -k -c ../shared/datasets/mnist/X.gz > /tmp/mnist_raw/X     # for each of the four files
    PYTHONPATH=/tmp/tfdsenv/lib/python3.11/site-packages .venv/bin/python \\
        tests/fixtures_data/make_tfds_mnist_digests.py > tests/fixtures_data/tfds_mnist_digests.json

(.venv provides TensorFlow, which tfds needs to write and read its files.)
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np
import tensorflow_datasets as tfds

RAW_DIR = "/tmp/mnist_raw"  # the decompressed IDX files
DATA_DIR = "/tmp/tfds_data"  # where tfds prepares MNIST

SPECS = [
    "train",
    "test",
    "all",
    "train[:80%]",
    "train[80%:]",
    "train[15%:75%]",
    "train[-10%:]",
    "train[:-10%]",
    "train[100:200]",
    "test[:-1]",
    "test[-1:]",
    "train[:1000]+test[:1000]",
    "train[:33.5%]",
    "test[:0.5%]",
    "test[12.5%:37.5%]",
    "train[5:4]",
    "test[0shard]",
    "train[:1shard]",
    "train[10%:20]",
    "train[1_000:2_000]",
    "train + test",
    "test+train[:1]",
    "all+test[:2]",
    "test[:16]+train[:32]+test[16:40]",
    "train[:15]+test[:17]+train[100:148]",
    "train[:10%]+train[-80%:]",
    "test[:-5%]+train[40%:60%]",
    "+".join(f"train[{i * 100}:{i * 100 + (i * 7) % 40 + 1}]" for i in range(40)),
    "+".join(f"test[{i * 50}:{i * 50 + 16 * (1 + i % 3)}]" for i in range(25)),
    "+".join(["test[:5]"] * 3 + ["train[:40]"] * 20),
]


def prepare() -> None:
    def local_files(self, urls):  # the files are already here; tfds would download them
        return {key: f"{RAW_DIR}/{url.rsplit('/', 1)[1][:-3]}" for key, url in urls.items()}

    tfds.download.DownloadManager.download_and_extract = local_files
    tfds.builder("mnist", data_dir=DATA_DIR).download_and_prepare()


def digest(images: np.ndarray, labels: np.ndarray) -> str:
    sha = hashlib.sha256(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    sha.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return sha.hexdigest()


def main() -> None:
    prepare()
    records = []
    for spec in SPECS:
        dataset = tfds.load("mnist", split=spec, data_dir=DATA_DIR, download=False).batch(100_000)
        images = np.concatenate([batch["image"] for batch in tfds.as_numpy(dataset)])
        labels = np.concatenate([batch["label"] for batch in tfds.as_numpy(dataset)])
        records.append({"spec": spec, "num_examples": len(labels), "sha256": digest(images, labels)})
    json.dump({"tfds_version": tfds.__version__, "records": records}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
