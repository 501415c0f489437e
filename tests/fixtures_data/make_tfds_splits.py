"""Record how tensorflow-datasets itself resolves split strings, for tests/test_data_splits_tfds.py.

The project does not depend on tensorflow-datasets; this script runs in a separate environment:

    python -m venv /tmp/tfdsenv && /tmp/tfdsenv/bin/pip install tensorflow-datasets
    /tmp/tfdsenv/bin/python tests/fixtures_data/make_tfds_splits.py > tests/fixtures_data/tfds_splits.json

Each case is a split string, the split sizes (one shard per split, as MNIST is stored by tfds), and
tfds's answer: the (split, skip, take) file instructions of `SplitDict[spec]`, or the exception type.
The strings are the tfds guide's examples, systematic combinations of bounds and units, and
seeded random strings over the grammar's alphabet.
"""

from __future__ import annotations

import itertools
import json
import random
import sys

import tensorflow_datasets as tfds
from tensorflow_datasets.core import naming
from tensorflow_datasets.core import splits as tfds_splits

SIZE_SETS = ({"train": 60000, "test": 10000}, {"train": 50, "test": 7})
NAMES = ("train", "test", "all", "validation", "Train", "tr-ain", "train_1")
BOUNDS = (
    "",
    "0",
    "1",
    "-1",
    "2",
    "5",
    "-5",
    "7",
    "10",
    "49",
    "50",
    "51",
    "-50",
    "-51",
    "100",
    "-100",
    "101",
    "200",
    "9999",
    "10000",
    "10001",
    "-10000",
    "59999",
    "60000",
    "60001",
    "-60000",
    "-60001",
    "1_000",
    "00",
    "-0",
    "_1",
    "1__0",
    "1_",
    "0.5",
    "1.5",
    "2.5",
    "12.5",
    "33.333",
    "66.67",
    ".5",
    "5.",
    "1.2.3",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: \\d and int() both accept it
)
PAIR_BOUNDS = (
    "",
    "0",
    "1",
    "-1",
    "5",
    "-5",
    "50",
    "-50",
    "51",
    "100",
    "101",
    "-100",
    "10000",
    "10001",
    "60000",
    "60001",
    "-60001",
    "1_000",
    "0.5",
    "12.5",
    "33.333",
)
UNITS = ("", "%", "shard")
UNIT_PAIRS = (("", ""), ("%", "%"), ("%", ""), ("", "%"), ("shard", "shard"), ("shard", "%"))
GUIDE = (
    "train",
    "test",
    "all",
    "train+test",
    "train[:10%]",
    "train[10%:]",
    "train[:75%]",
    "train[75%:]",
    "train[25%:75%]",
    "train[:4000]",
    "train[-10%:]",
    "train[:-10%]",
    "test[:-1]",
    "train[100:200]",
    "train[:1000]+test[:1000]",
    "train[:50%]+test",
    "train[:10%]+train[-80%:]",
    "train[:33.5%]",
    "train[15%:75%]",
    "train[1shard]",
    "train[:2shard]",
    "train[-1shard:]",
    "train[0shard:1shard]",
    "train[1:2:3]",
    "train[abc]",
    "train[:101%]",
    "all[:5%]",
    "train[5]",
    "train[5%]",
    "train[:]",
    "",
    " train",
    "train ",
    "train\n",
    "train + test",
    "train +test",
    "train[ :5]",
    "train[:5] ",
    "train++test",
)


def split_dict(sizes: dict[str, int]):
    template = naming.ShardedFileTemplate(
        data_dir="/tmp/none", dataset_name="mnist", split="train", filetype_suffix="tfrecord"
    )
    return tfds_splits.SplitDict(
        [
            tfds_splits.SplitInfo(
                name=name, shard_lengths=[size], num_bytes=0, filename_template=template.replace(split=name)
            )
            for name, size in sizes.items()
        ]
    )


def answer(spec: str, sizes: dict[str, int]) -> dict:
    try:
        instructions = split_dict(sizes)[spec].file_instructions
    except Exception as error:  # noqa: BLE001 - every exception type is part of the record
        return {"error": type(error).__name__}
    names = {f"{name}.tfrecord": name for name in sizes}
    return {
        "instructions": [
            [names[instruction.filename.rsplit("-", 4)[1]], instruction.skip, instruction.take]
            for instruction in instructions
        ]
    }


def specs() -> list[str]:
    found = list(GUIDE)
    for start, stop, (unit_start, unit_stop) in itertools.product(PAIR_BOUNDS, PAIR_BOUNDS, UNIT_PAIRS):
        found.append(f"train[{start}{unit_start}:{stop}{unit_stop}]")
    for name, value, unit in itertools.product(("train",), BOUNDS, UNITS):
        found += [f"{name}[{value}{unit}]", f"{name}[{value}{unit}:]", f"{name}[:{value}{unit}]"]
    rng = random.Random(0)
    alphabet = "traintestall[]:%-+_. 0123456789shard"
    for _ in range(1000):
        found.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 16))))
    for _ in range(1500):  # well-formed-looking terms joined by +
        terms = []
        for _ in range(rng.randint(1, 3)):
            name = rng.choice(NAMES)
            if rng.random() < 0.3:
                terms.append(name)
                continue
            unit_start, unit_stop = rng.choice(UNITS), rng.choice(UNITS)
            terms.append(f"{name}[{rng.choice(BOUNDS)}{unit_start}:{rng.choice(BOUNDS)}{unit_stop}]")
        found.append(rng.choice(["+", " + ", "+ "]).join(terms))
    return list(dict.fromkeys(found))


def main() -> None:
    """JSON: {"tfds_version", "size_sets": [sizes...], "cases": [[spec, size set index, answer], ...]},
    where an answer is an exception type name or a list of [split, skip, take]."""
    cases = []
    for index, sizes in enumerate(SIZE_SETS):
        for spec in specs():
            result = answer(spec, sizes)
            cases.append([spec, index, result.get("error", result.get("instructions"))])
    record = {"tfds_version": tfds.__version__, "size_sets": SIZE_SETS, "cases": cases}
    json.dump(record, sys.stdout, ensure_ascii=True, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
