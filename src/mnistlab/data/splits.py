"""The split grammar of tensorflow-datasets, parsed into small frozen values.

    spec = SplitSpec.parse("train[:80%]+test[-1000:]")
    spec.resolve({"train": 60000, "test": 10000})
    # -> (Slice("train", 0, 48000), Slice("test", 9000, 10000))

Grammar (https://www.tensorflow.org/datasets/splits), resolved exactly as tfds resolves it:
- `train`, `test`, `all` (every split, in the dataset's order; `all` takes no slice);
- `split[start:stop]` with absolute indices (`train[100:200]`, `test[:-1]`), percentages
  (`train[15%:75%]`, `train[-10%:]`, fractional `train[:33.5%]`, rounded half to even like Python's
  `round`) or shards (`train[1shard]`, `train[:2shard]`); one unit marks both bounds;
- `+` joins terms (`train[:1000]+test[:1000]`), optionally with spaces around it.

A slice past the end selects nothing (`train[60000:]`); `load` refuses a spec that selects nothing at
all, as tfds does. A reversed slice is refused, except tfds's off-by-one case: it reads
`train[5:4]` as `train[5:]`, and so does this module. tests/test_data_splits_tfds.py checks all this
against answers recorded from tensorflow-datasets itself.

Parsing checks only the syntax; sizes are checked when a spec is resolved against the splits of a
dataset. Every error is a `SplitError` (a ValueError) that shows the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mnistlab.errors import SplitError

GRAMMAR = (
    "expected `split[start:stop]`, e.g. `train[:80%]`; also `train`, `all`, `train[100:200]`, "
    "`test[-10%:]`, `train[:1000]+test[:1000]`"
)
ALL = "all"
ALL_TAKES_NO_SLICE = "`all` takes no slice (as in tfds); slice each split instead, e.g. `train[:50%]+test`"
UNITS = ("abs", "%", "shard")

# The same patterns as tfds (tensorflow_datasets/core/splits.py), so that exactly the same strings are
# accepted: `$` also matches before a final newline, `\d` and `\w` match any Unicode digit or letter,
# and a number may hold underscores (`1_000`), as Python's int() and float() allow.
_TERM_RE = re.compile(r"^(?P<split>[\w-]+)(\[(?P<selector>[\d\w%:.-]+)\])?$")
_BOUND_RE = re.compile(r"^((?P<value>-?[\d_.]+)(?P<unit>%|shard)?)?$")
_PLUS_RE = re.compile(r"\s*\+\s*")


class UnsupportedSplitError(SplitError, NotImplementedError):
    """A split tfds parses but does not support (`all[:50%]`); tfds raises NotImplementedError."""


def _term_error(term: str, why: str = "") -> SplitError:
    reason = f" ({why})" if why else ""
    return SplitError(f"`{term}`: {GRAMMAR}{reason}")


@dataclass(frozen=True)
class Slice:
    """Absolute rows [start, stop) of one split, 0 <= start < stop <= size."""

    split: str
    start: int
    stop: int

    @property
    def num_examples(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class SplitTerm:
    """One `name[start:stop]` term. Bounds are ints (abs, shard) or floats (%); None means open."""

    split: str
    start: int | float | None = None
    stop: int | float | None = None
    unit: str = "abs"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise SplitError(f"unit {self.unit!r} of split `{self.split}`: use one of {', '.join(UNITS)}")
        if self.unit == "%" and (abs(self.start or 0) > 100 or abs(self.stop or 0) > 100):
            raise SplitError(f"`{self}`: percentages must lie in [-100%, 100%]; {GRAMMAR}")
        if self.split == ALL and (self.start is not None or self.stop is not None):
            raise UnsupportedSplitError(f"`{self}`: {ALL_TAKES_NO_SLICE}")

    def __str__(self) -> str:
        if self.start is None and self.stop is None:
            return self.split
        unit = "" if self.unit == "abs" else self.unit
        start = "" if self.start is None else f"{self.start:g}{unit}"
        stop = "" if self.stop is None else f"{self.stop:g}{unit}"
        return f"{self.split}[{start}:{stop}]"

    @classmethod
    def parse(cls, term: str) -> SplitTerm:
        match = _TERM_RE.match(term)
        if not match:
            raise _term_error(term)
        split, selector = match["split"], match["selector"]
        if split == ALL:
            if selector:
                raise UnsupportedSplitError(f"`{term}`: {ALL_TAKES_NO_SLICE}")
            return cls(ALL)
        if selector is None:
            return cls(split)

        bounds = [_BOUND_RE.match(part) for part in selector.split(":")]
        if not all(bounds) or not any(bound[0] for bound in bounds):
            raise _term_error(term)
        if len(bounds) == 1:  # `train[3shard]`; a single index or percentage is refused, as in tfds
            (bound,) = bounds
            unit = bound["unit"] or "abs"
            start_text = bound["value"]
            start = _number(start_text, "abs", term)
            if unit != "shard":
                raise _term_error(term, "a single index selects nothing; write a slice like `train[5:6]`")
            return cls(split, start, start + 1, "shard")
        if len(bounds) != 2:
            raise _term_error(term, "one `:` only")
        start_match, stop_match = bounds
        unit = start_match["unit"] or stop_match["unit"] or "abs"  # one unit marks both bounds
        start = None if start_match["value"] is None else _number(start_match["value"], unit, term)
        stop = None if stop_match["value"] is None else _number(stop_match["value"], unit, term)
        return cls(split, start, stop, unit)

    def resolve(self, sizes: Mapping[str, int]) -> list[Slice]:
        """Absolute rows of this term, for splits of `sizes[name]` examples stored as one shard each."""
        if self.split == ALL:
            return [Slice(name, 0, size) for name, size in sizes.items() if size > 0]
        if self.split not in sizes:
            raise SplitError(
                f"`{self}`: unknown split {self.split!r}; this dataset has "
                f"{', '.join(map(repr, sizes))} (or `all`)"
            )
        size = sizes[self.split]
        start, stop = self._absolute_bounds(size)
        if abs(start) > size or abs(stop) > size:
            raise SplitError(
                f"`{self}`: slice [{start}:{stop}] is out of range for {self.split!r}, which has {size} "
                f"examples; use bounds within [-{size}, {size}] or percentages, e.g. `{self.split}[:80%]`"
            )
        start = start + size if start < 0 else start
        stop = stop + size if stop < 0 else stop
        return _read_rows(self, start, stop, size)

    def _absolute_bounds(self, size: int) -> tuple[int, int]:
        if self.unit == "%":
            # tfds's default "closest" rounding: round() halves to even, e.g. 0.5% of 100 -> 0.
            start = 0 if self.start is None else int(round(self.start * size / 100.0))
            stop = size if self.stop is None else int(round(self.stop * size / 100.0))
        elif self.unit == "shard":
            shard_lengths = [size]  # MNIST-family splits are one shard each in tfds
            start = 0 if self.start is None else sum(shard_lengths[: self.start])
            stop = self.stop
            if stop is not None and stop <= 0:
                stop = len(shard_lengths) + stop
            stop = size if stop is None else sum(shard_lengths[:stop])
        else:
            start = 0 if self.start is None else self.start
            stop = size if self.stop is None else self.stop
        return start, stop


def _number(text: str, unit: str, term: str) -> int | float:
    try:
        return float(text) if unit == "%" else int(text)
    except ValueError:
        kind = "a number" if unit == "%" else "a whole number"
        raise _term_error(term, f"{text!r} is not {kind}") from None


def _read_rows(term: SplitTerm, start: int, stop: int, size: int) -> list[Slice]:
    """The rows tfds reads for [start, stop): it skips `start` rows, then takes `stop - start`.

    tf.data reads a take of -1 as "to the end", so tfds turns `train[5:4]` into `train[5:]`; any other
    reversed slice gives a negative example count that tfds fails on when read, so it is refused here.
    """
    if start >= size or stop <= 0 or stop == start:
        return []  # nothing to take (tfds drops this term)
    take = stop - start
    if take == -1:
        return [Slice(term.split, start, size)]
    if take < 0:
        raise SplitError(
            f"`{term}`: start {start} comes after stop {stop}; write the smaller bound first, "
            f"e.g. `{term.split}[{stop}:{start}]`"
        )
    return [Slice(term.split, start, stop)]


@dataclass(frozen=True)
class SplitSpec:
    """A parsed split string: terms joined by `+`. Frozen, hashable, and checked on creation."""

    terms: tuple[SplitTerm, ...]
    text: str = field(default="", compare=False)  # as the user wrote it, for messages

    def __post_init__(self) -> None:
        if not self.terms:
            raise SplitError(f"an empty split: {GRAMMAR}")

    def __str__(self) -> str:
        return self.text or "+".join(str(term) for term in self.terms)

    @classmethod
    def parse(cls, spec: str | SplitSpec) -> SplitSpec:
        if isinstance(spec, SplitSpec):
            return spec
        if not isinstance(spec, str):
            raise SplitError(f"split {spec!r} is a {type(spec).__name__}, not a string: {GRAMMAR}")
        return cls(tuple(SplitTerm.parse(term) for term in _PLUS_RE.split(spec)), text=spec.strip())

    def resolve(self, sizes: Mapping[str, int]) -> tuple[Slice, ...]:
        """Absolute slices, in order; may be empty (tfds's load refuses that, info.splits counts 0)."""
        return tuple(part for term in self.terms for part in term.resolve(sizes))

    def num_examples(self, sizes: Mapping[str, int]) -> int:
        return sum(part.num_examples for part in self.resolve(sizes))
