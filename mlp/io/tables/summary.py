"""What a column's kind is inferred from: its values counted by what they are, and its distinct labels.

A :class:`ColumnSummary` is made from a whole typed column (:meth:`ColumnSummary.of`) or block by block
(:meth:`ColumnSummary.add`, for a table read a block at a time; :meth:`ColumnSummary.merge`, for the shares of
several processes), and :func:`mlp.io.tables.kinds.infer_kinds` reads only summaries, so that a table in memory
and a table streamed get their kinds by the same rules.  Distinct labels are kept up to :data:`CAP` per column
(:class:`Levels`); past it, the :data:`CAP` labels of smallest keyed hash, exactly counted, whatever the order the
rows come in and however they are split between processes.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from .cells import decimal_comma_like, label_key, level_dates, number_of, python_label
from .typed import Dates, Numbers

__all__ = ["CAP", "ColumnSummary", "IntSketch", "Levels"]

#: distinct labels a summary keeps per column (a text column with more is an identifier, or keeps the first ones)
CAP = 100_000


def _label_hash(key) -> int:
    """A 64-bit hash of a label key that every process computes alike (Python's ``hash`` of text is salted per
    process); numbers by their float value, so that 3 and 3.0 hash alike as they compare alike."""
    flag, label = key
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        label = float(label)
    text = f"{flag}|{type(label).__name__}|{label!r}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


class Levels:
    """A column's distinct labels, ``label key -> [label, rows, first row]``, kept up to :data:`CAP`.

    Past :data:`CAP` distinct labels it keeps those of the :data:`CAP` smallest keyed hashes (a bottom-k sample of
    the distinct labels, pruned lazily at twice the cap): a label in the final sample was kept from its first row
    on, so its count is exact, and the sample is the same whatever the order of the rows and of the merges, so that
    any number of processes gets the same labels.  ``capped``: labels were left out.
    """

    def __init__(self):
        self.entries, self.capped, self._below = {}, False, None  # _below: a new label's hash must be under it

    def __len__(self):
        return len(self.entries)

    def values(self):
        return self.entries.values()

    def add(self, key, label, count: int, first: int = 0):
        entry = self.entries.get(key)
        if entry is not None:
            entry[1] += count
            entry[2] = min(entry[2], first)
            return
        if self._below is not None and _label_hash(key) >= self._below:
            return
        self.entries[key] = [label, count, first]
        if len(self.entries) >= 2 * CAP:
            self._prune()

    def merge(self, other: "Levels"):
        self.capped = self.capped or other.capped
        if other._below is not None:
            self._below = other._below if self._below is None else min(self._below, other._below)
            self.capped = True
            self._drop_above()
        for key, (label, count, first) in other.entries.items():
            self.add(key, label, count, first)
        self.finish()

    def finish(self) -> "Levels":
        """Keep :data:`CAP` labels at most (call once the rows are counted; adding then goes on as before)."""
        if len(self.entries) > CAP:
            self._prune()
        return self

    def _prune(self):
        hashes = sorted((_label_hash(k), k) for k in self.entries)
        self._below = hashes[CAP - 1][0] + 1 if len(hashes) >= CAP else self._below
        self.capped = True
        self._drop_above()

    def _drop_above(self):
        if self._below is not None:
            self.entries = {k: e for k, e in self.entries.items() if _label_hash(k) < self._below}


_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _int_hash(values: np.ndarray) -> np.ndarray:
    """A 64-bit hash (splitmix64's finaliser) of int64 ``values``, vectorised: the same in every process."""
    with np.errstate(over="ignore"):
        z = values.astype(np.int64).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


class IntSketch:
    """The distinct integers of a column of numbers and how many rows hold each, kept up to :data:`CAP` (past it,
    those of the :data:`CAP` smallest hashes, exactly counted: a bottom-k sample, as :class:`Levels` keeps labels),
    made with NumPy a block at a time: whether a column of whole numbers holds each value once (an identifier)."""

    def __init__(self):
        self.hashes, self.counts = np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
        self.below = None  # a hash at or above it is not kept (set once the sample was cut to CAP)

    def add(self, values: np.ndarray, counts=None):
        """Count integer ``values`` (float64 holding whole numbers, or their hashes with ``counts``)."""
        h = _int_hash(values) if counts is None else values
        c = np.ones(len(h), dtype=np.int64) if counts is None else counts
        if self.below is not None:
            keep = h < self.below
            h, c = h[keep], c[keep]
        merged, inverse = np.unique(np.concatenate([self.hashes, h]), return_inverse=True)
        self.counts = np.bincount(inverse, weights=np.concatenate([self.counts, c]), minlength=len(merged)).astype(
            np.int64
        )
        self.hashes = merged
        if len(self.hashes) > CAP:
            self.below = self.hashes[CAP]
            self.hashes, self.counts = self.hashes[:CAP], self.counts[:CAP]

    def merge(self, other: "IntSketch"):
        if other.below is not None:
            self.below = other.below if self.below is None else min(self.below, other.below)
        if self.below is not None:
            keep = self.hashes < self.below
            self.hashes, self.counts = self.hashes[keep], self.counts[keep]
        self.add(other.hashes, other.counts)

    @property
    def unique(self) -> bool:
        """Every value (of those kept) held by one row."""
        return bool(len(self.counts)) and bool((self.counts == 1).all())


class ColumnSummary:
    """A column's values counted by what they are (see the module docstring).

    Attributes
    ----------
    n : int
        Rows.
    numbers, dates : int
        Rows stored as numbers (float64) or as dates, present; ``lo``/``hi`` and ``date_lo``/``date_hi`` their range.
    bools, coded_numbers, coded_dates, texts : int
        Rows stored as codes, present, whose value is a boolean, text that is a number, text that is a date (a number
        may be both), and any text (booleans excluded).
    levels : Levels
        ``label key -> [label, rows, first row]`` of the coded values (at most :data:`CAP`; ``capped`` past it).
    first_not_number, first_not_date : tuple or None
        ``(row, value)`` of the first coded text that is not a number, not a date (for messages).
    """

    def __init__(self):
        self.n = 0
        self.numbers, self.lo, self.hi = 0, math.inf, -math.inf
        self.dates, self.date_lo, self.date_hi, self.first_date = 0, math.inf, -math.inf, None
        self.bools = self.coded_numbers = self.coded_dates = self.texts = 0
        self.levels = Levels()
        self.first_not_number = self.first_not_date = None
        # numbers: how many are not whole, and the whole ones' distinct values (identifiers: see kinds.py)
        self.fractional, self.ints = 0, IntSketch()
        self.stored_ints = True  # every block of numbers stored as integers by the file (Numbers.integers)
        self.coded_commas = 0  # text that reads as a number with a decimal comma (46,2) while none is set

    @classmethod
    def of(cls, column) -> "ColumnSummary":
        return cls().add(column).finish()

    @property
    def present(self) -> int:
        return self.numbers + self.dates + self.bools + self.texts

    def add(self, col, start: int = 0) -> "ColumnSummary":
        """Count the rows of a typed column ``col`` whose first row is row ``start`` of the table; returns self."""
        self.n += len(col)
        if isinstance(col, Numbers):
            present = col.values[~np.isnan(col.values)]
            if present.size:
                self.numbers += present.size
                self.lo, self.hi = min(self.lo, float(present.min())), max(self.hi, float(present.max()))
                self.stored_ints = self.stored_ints and bool(getattr(col, "integers", False))
                if not self.fractional:
                    whole = (present == np.round(present)) & (np.abs(present) < 2.0**62)
                    self.fractional += int(present.size - whole.sum())
                    if not self.fractional:
                        self.ints.add(present)
            return self
        if isinstance(col, Dates):
            present = np.flatnonzero(~np.isnan(col.days))
            if present.size:
                days = col.days[present]
                self.dates += present.size
                self.date_lo, self.date_hi = min(self.date_lo, float(days.min())), max(self.date_hi, float(days.max()))
                if self.first_date is None:
                    first = int(present[0])
                    self.first_date = (float(col.days[first]), float(col.hours[first]), col.style)
            return self
        counts = col.counts()
        used = np.flatnonzero(counts)
        levels = [col.levels[k] for k in used]
        rows = counts[used]
        is_bool = np.array([isinstance(v, (bool, np.bool_)) for v in levels], dtype=bool)
        is_number = np.array(
            [not b and number_of(v) is not None for v, b in zip(levels, is_bool, strict=True)], dtype=bool
        )
        is_date = ~np.isnan(level_dates(levels)[0]) & ~is_bool if levels else np.zeros(0, dtype=bool)
        self.bools += int(rows[is_bool].sum())
        self.texts += int(rows[~is_bool].sum())
        self.coded_numbers += int(rows[is_number].sum())
        self.coded_dates += int(rows[is_date].sum())
        self.coded_commas += sum(int(r) for v, r in zip(levels, rows.tolist(), strict=True) if decimal_comma_like(v))
        for mask, attr in ((~is_number & ~is_bool, "first_not_number"), (~is_date & ~is_bool, "first_not_date")):
            if getattr(self, attr) is None and mask.any():
                flags = np.zeros(len(col.levels), dtype=bool)
                flags[used[mask]] = True
                row = col.first_row(flags)
                setattr(self, attr, (start + row, col.levels[col.codes[row]]))
        if used.size:
            firsts = self._first_rows(col, used) + start
            for value, count, first in zip(levels, rows.tolist(), firsts.tolist(), strict=True):
                label = python_label(value)
                self.levels.add(label_key(label), label, count, first)
        return self

    @property
    def capped(self) -> bool:
        return self.levels.capped

    def finish(self) -> "ColumnSummary":
        """Keep :data:`CAP` labels at most (see :class:`Levels`); returns self."""
        self.levels.finish()
        return self

    @staticmethod
    def _first_rows(col, used) -> np.ndarray:
        """The first row of each level in ``used`` (indices into ``col.levels``)."""
        codes = col.codes
        present = np.flatnonzero(codes >= 0)
        first = np.full(len(col.levels), len(codes), dtype=np.int64)
        np.minimum.at(first, codes[present], present)
        return first[used]

    def merge(self, other: "ColumnSummary") -> "ColumnSummary":
        """Add the counts of ``other`` (a later block, or another process's share of the rows); returns self."""
        self.n += other.n
        self.numbers += other.numbers
        self.lo, self.hi = min(self.lo, other.lo), max(self.hi, other.hi)
        self.dates += other.dates
        self.date_lo, self.date_hi = min(self.date_lo, other.date_lo), max(self.date_hi, other.date_hi)
        self.first_date = self.first_date or other.first_date
        self.fractional += other.fractional
        self.stored_ints = self.stored_ints and other.stored_ints
        if not self.fractional:
            self.ints.merge(other.ints)
        for attr in ("bools", "coded_numbers", "coded_dates", "texts", "coded_commas"):
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))
        for attr in ("first_not_number", "first_not_date"):
            mine, theirs = getattr(self, attr), getattr(other, attr)
            if theirs is not None and (mine is None or theirs[0] < mine[0]):
                setattr(self, attr, theirs)
        self.levels.merge(other.levels)
        return self

    def labels(self) -> list:
        """The coded labels, in order of their first row."""
        return [label for label, _, _ in sorted(self.levels.values(), key=lambda e: e[2])]
