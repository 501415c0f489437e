"""The split grammar, branch by branch, as tensorflow-datasets resolves it (sizes of MNIST: 60000 / 10000)."""

from __future__ import annotations

import pytest

from mnistlab.data.splits import GRAMMAR, Slice, SplitSpec, SplitTerm, UnsupportedSplitError
from mnistlab.errors import SplitError

SIZES = {"train": 60000, "test": 10000}


def rows(spec: str, sizes=SIZES) -> list[tuple[str, int, int]]:
    return [(part.split, part.start, part.stop) for part in SplitSpec.parse(spec).resolve(sizes)]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("train", [("train", 0, 60000)]),
        ("test", [("test", 0, 10000)]),
        ("all", [("train", 0, 60000), ("test", 0, 10000)]),  # every split, in the dataset's order
        ("train[:80%]", [("train", 0, 48000)]),
        ("train[80%:]", [("train", 48000, 60000)]),
        ("train[15%:75%]", [("train", 9000, 45000)]),
        ("train[-10%:]", [("train", 54000, 60000)]),
        ("train[:-10%]", [("train", 0, 54000)]),
        ("train[-100%:]", [("train", 0, 60000)]),
        ("train[100:200]", [("train", 100, 200)]),
        ("test[:-1]", [("test", 0, 9999)]),
        ("test[-1:]", [("test", 9999, 10000)]),
        ("test[-10000:]", [("test", 0, 10000)]),
        ("train[:1000]+test[:1000]", [("train", 0, 1000), ("test", 0, 1000)]),
        ("train[:10] + test[-5:]", [("train", 0, 10), ("test", 9995, 10000)]),  # spaces around +
        ("test+train[:1]", [("test", 0, 10000), ("train", 0, 1)]),
        ("all+test[:2]", [("train", 0, 60000), ("test", 0, 10000), ("test", 0, 2)]),
        ("train[:1_000]", [("train", 0, 1000)]),  # int() accepts underscores, and so does tfds
        ("train\n", [("train", 0, 60000)]),  # tfds's `$` accepts one final newline
        ("train[10%:20]", [("train", 6000, 12000)]),  # one unit marks both bounds
        ("train[10:20%]", [("train", 6000, 12000)]),
        ("train[0shard]", [("train", 0, 60000)]),  # one shard per split
        ("train[:1shard]", [("train", 0, 60000)]),
        ("train[:0shard]", [("train", 0, 60000)]),  # stop <= 0 counts shards from the end
        ("train[-1shard:]", [("train", 0, 60000)]),
        ("train[5:4]", [("train", 5, 60000)]),  # tfds reads take=-1 as "to the end"
    ],
)
def test_resolves_like_tfds(spec, expected):
    assert rows(spec) == expected


@pytest.mark.parametrize(
    "spec, size, expected_stop",
    [
        # round(x * n / 100) with Python's round: halves go to the even neighbour, as in tfds
        ("test[:0.5%]", 100, 0),
        ("test[:1.5%]", 100, 2),
        ("test[:2.5%]", 100, 2),
        ("test[:33.333%]", 10000, 3333),
        ("test[:12.5%]", 20, 2),  # 2.5 -> 2
        ("test[:37.5%]", 20, 8),  # 7.5 -> 8
        ("test[:50%]", 3, 2),  # 1.5 -> 2
        ("test[:16.67%]", 60000, 10002),
    ],
)
def test_fractional_percentages_round_half_to_even(spec, size, expected_stop):
    assert SplitSpec.parse(spec).num_examples({"train": 1, "test": size}) == expected_stop


@pytest.mark.parametrize(
    "spec",
    [
        "train[:0]",
        "train[60000:]",
        "train[10:10]",
        "train[50%:50%]",
        "train[1shard]",
        "train[1shard:]",
        "test[:0.001%]",
    ],
)
def test_empty_selections_resolve_to_nothing(spec):
    assert rows(spec) == []
    assert SplitSpec.parse(spec).num_examples(SIZES) == 0


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("train[1:2:3]", "`train[1:2:3]`: expected `split[start:stop]`, e.g. `train[:80%]`"),
        ("train[abc]", "`train[abc]`: expected `split[start:stop]`"),
        ("train[:]", "`train[:]`: expected"),
        ("train[]", "`train[]`: expected"),
        ("train[::]", "expected"),
        ("train[5]", "a single index selects nothing"),
        ("train[5%]", "a single index selects nothing"),
        ("train[1.5:]", "'1.5' is not a whole number"),
        ("train[1.5shard:]", "not a whole number"),
        ("train[1__0:]", "not a whole number"),
        ("train[1..5%:]", "not a number"),
        ("train[_%:]", "not a number"),
        ("train[-:5]", "expected"),
        ("train[1e3:]", "expected"),
        ("train[ :5]", "expected"),
        (" train", "expected"),
        ("train ", "expected"),
        ("train+", "expected"),
        ("+test", "expected"),
        ("", "expected"),
        ("train[:101%]", "percentages must lie in [-100%, 100%]"),
        ("train[-100.5%:]", "percentages must lie in [-100%, 100%]"),
        ("tra in", "expected"),
        ("train[:10]extra", "expected"),
        ("train(:10)", "expected"),
    ],
)
def test_syntax_errors_teach_the_grammar(spec, fragment):
    with pytest.raises(SplitError) as error:
        SplitSpec.parse(spec)
    assert isinstance(error.value, ValueError)  # tfds raises ValueError; so do we
    assert fragment in str(error.value)
    assert "\n" not in str(error.value).replace(spec, "")


def test_all_takes_no_slice_like_tfds():
    with pytest.raises(UnsupportedSplitError, match="`all` takes no slice") as error:
        SplitSpec.parse("all[:50%]")
    assert isinstance(error.value, NotImplementedError)  # what tfds raises
    assert isinstance(error.value, ValueError)
    with pytest.raises(UnsupportedSplitError):
        SplitTerm("all", 0, 5)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("validation", "unknown split 'validation'; this dataset has 'train', 'test' (or `all`)"),
        ("Train", "unknown split 'Train'"),
        ("train-extra[:5]", "unknown split 'train-extra'"),
        ("train[:60001]", "slice [0:60001] is out of range for 'train', which has 60000 examples"),
        ("train[-60001:]", "out of range"),
        ("test[10001:]", "out of range"),
        ("train[10:5]", "start 10 comes after stop 5; write the smaller bound first, e.g. `train[5:10]`"),
        ("train[-5:10]", "start 59995 comes after stop 10"),
        ("train[75%:25%]", "comes after stop"),
    ],
)
def test_resolution_errors(spec, fragment):
    parsed = SplitSpec.parse(spec)  # parsing succeeds: sizes are checked only against a dataset
    with pytest.raises(SplitError) as error:
        parsed.resolve(SIZES)
    assert fragment in str(error.value)


def test_parse_gives_a_frozen_checked_value():
    spec = SplitSpec.parse("train[:80%]+test[-1000:]")
    assert spec.terms == (SplitTerm("train", None, 80.0, "%"), SplitTerm("test", -1000, None, "abs"))
    assert str(spec) == "train[:80%]+test[-1000:]"
    assert SplitSpec.parse(spec) is spec
    assert hash(spec) == hash(SplitSpec.parse("train[:80%] + test[-1000:]"))
    with pytest.raises(AttributeError):
        spec.terms = ()
    with pytest.raises(SplitError, match="unit 'rows'"):
        SplitTerm("train", 0, 5, "rows")
    with pytest.raises(SplitError, match="empty split"):
        SplitSpec(())
    with pytest.raises(SplitError, match="not a string"):
        SplitSpec.parse(5)
    assert str(SplitTerm("train", 2, None, "shard")) == "train[2shard:]"
    assert str(SplitTerm("train", None, 12.5, "%")) == "train[:12.5%]"


def test_slice_counts_and_grammar_text():
    assert Slice("train", 10, 25).num_examples == 15
    assert SplitSpec.parse("train[15%:75%]").num_examples(SIZES) == 36000
    assert SplitSpec.parse("train[:1000]+test[:1000]").num_examples(SIZES) == 2000
    assert GRAMMAR.startswith("expected `split[start:stop]`, e.g. `train[:80%]`")


def test_splits_with_no_examples_are_left_out_of_all():
    assert rows("all", {"train": 5, "validation": 0, "test": 2}) == [("train", 0, 5), ("test", 0, 2)]
