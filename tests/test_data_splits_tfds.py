"""Split strings resolve here exactly as tensorflow-datasets resolved them (fixtures_data/tfds_splits.json).

The fixture holds tfds's own answers (made by fixtures_data/make_tfds_splits.py with tensorflow-datasets
installed): the skip/take it reads from each split, or the exception it raises. tfds reads `take` rows after
skipping `skip`; a take below -1 is a negative example count that tfds fails on when reading, so those
strings must be refused here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mnistlab.data.splits import SplitSpec
from mnistlab.errors import SplitError

EXCEPTIONS = {"ValueError": ValueError, "NotImplementedError": NotImplementedError}
FIXTURE = Path(__file__).parent / "fixtures_data" / "tfds_splits.json"


def _record() -> dict:
    return json.loads(FIXTURE.read_text())


def _ours(spec: str, sizes: dict[str, int]):
    try:
        parts = SplitSpec.parse(spec).resolve(sizes)
    except SplitError as error:
        return error
    return [[part.split, part.start, part.num_examples] for part in parts]


def test_fixture_covers_the_grammar():
    record = _record()
    answers = [answer for _, _, answer in record["cases"]]
    assert record["tfds_version"].startswith("4.")
    assert len(answers) > 10000
    assert sum(isinstance(a, list) and len(a) > 0 for a in answers) > 1000  # selections
    assert sum(a == [] for a in answers) > 50  # empty selections
    assert sum(a == "ValueError" for a in answers) > 1000
    assert sum(a == "NotImplementedError" for a in answers) > 50


@pytest.mark.parametrize("size_set", [0, 1])
def test_every_recorded_split_string_matches_tfds(size_set):
    record = _record()
    sizes = record["size_sets"][size_set]
    mismatches = []
    for spec, index, tfds_answer in record["cases"]:
        if index != size_set:
            continue
        ours = _ours(spec, sizes)
        if isinstance(tfds_answer, str):  # tfds raised this exception type
            agrees = isinstance(ours, EXCEPTIONS[tfds_answer])
        elif any(take < -1 for _, _, take in tfds_answer):  # tfds fails when it reads these
            agrees = isinstance(ours, SplitError)
        else:
            agrees = ours == tfds_answer
        if not agrees:
            mismatches.append((spec, tfds_answer, ours))
    assert mismatches == []
