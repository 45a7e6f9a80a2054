"""Typed columns and the :class:`Table` that holds them: what the read stage gives every later stage.

A column is one of three types, never an array of Python objects:

:class:`Numbers`
    float64 values, NaN for a gap (8 bytes a row).
:class:`Coded`
    Dictionary-encoded values (Arrow's dictionary encoding): ``codes`` int32, one per row (``-1`` for a gap),
    into ``levels``, the column's distinct values once each (text, booleans, or the numbers of a column named
    categorical).  A text column of a million rows and 40 distinct values costs 4 MB and 40 strings.
:class:`Dates`
    Dates and date-times: ``days`` since 1970-01-01 (with the time of day as a fraction) and the ``hours`` of the
    day, float64, NaN for a gap.

The rules that turn cells into these (numbers, booleans, gaps, dates) are :mod:`mlp.io.tables.cells`; the
readers that fill them are :mod:`mlp.io.tables.read` and the format modules beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .cells import label_key, python_label

__all__ = ["CODE_DTYPE", "Coded", "CodedBuilder", "Dates", "Numbers", "NumbersBuilder", "Table", "column_of"]

#: the dtype of a :class:`Coded` column's codes
CODE_DTYPE = np.int32


class Numbers:
    """A column of numbers: ``values`` float64 ``(n,)``, NaN for a gap; ``integers``: whether the file stores them as
    integers (an integer type, or text without a point or exponent), None when not known."""

    __slots__ = ("values", "integers")

    def __init__(self, values, integers=None):
        self.values = np.asarray(values, dtype=np.float64)
        self.integers = integers

    def __len__(self):
        return len(self.values)

    def gaps(self) -> np.ndarray:
        return np.isnan(self.values)

    def take(self, rows) -> "Numbers":
        return Numbers(self.values[rows], self.integers)

    def to_list(self) -> list:
        """The values as Python floats (NaN for a gap): for reading a column by eye, not for work."""
        return self.values.tolist()

    @property
    def nbytes(self) -> int:
        return self.values.nbytes

    def __repr__(self):
        return f"Numbers({len(self)} rows)"


class Coded:
    """A dictionary-encoded column: ``codes`` int32 ``(n,)`` (``-1``: a gap) into ``levels`` (distinct values)."""

    __slots__ = ("codes", "levels")

    def __init__(self, codes, levels):
        self.codes = np.asarray(codes, dtype=CODE_DTYPE)
        self.levels = list(levels)

    def __len__(self):
        return len(self.codes)

    def gaps(self) -> np.ndarray:
        return self.codes < 0

    def take(self, rows) -> "Coded":
        return Coded(self.codes[rows], self.levels)

    def to_list(self) -> list:
        """The values as Python values (None for a gap): for reading a column by eye, not for work."""
        levels = [*self.levels, None]
        return [levels[k] for k in self.codes.tolist()]

    def counts(self, rows=None) -> np.ndarray:
        """How many rows (of ``rows``, default all) hold each level: int64 ``(len(levels),)``."""
        codes = self.codes if rows is None else self.codes[rows]
        return np.bincount(codes[codes >= 0], minlength=len(self.levels))

    def labels(self) -> list:
        """Each level as a JSON-able label (:func:`mlp.io.tables.cells.python_label`)."""
        return [python_label(v) for v in self.levels]

    def first_row(self, levels_mask: np.ndarray):
        """The first row whose level is one of those marked in ``levels_mask`` (bool per level), or None."""
        hit = np.concatenate([np.asarray(levels_mask, dtype=bool), [False]])[self.codes]  # -1 (a gap) reads False
        rows = np.flatnonzero(hit)
        return int(rows[0]) if rows.size else None

    @property
    def nbytes(self) -> int:
        return self.codes.nbytes

    def __repr__(self):
        return f"Coded({len(self)} rows, {len(self.levels)} levels)"


class Dates:
    """A column of dates: ``days`` since 1970-01-01 and ``hours`` of the day, float64 ``(n,)``, NaN for a gap.

    ``days`` count from 1970-01-01 UTC for a date-time with a time zone, ``hours`` are of its own (local) day.
    ``style`` says how its values are written as text: ``"date"`` (``2024-05-31``), ``"naive"`` (``2024-05-31
    13:45:00``) or ``"zoned"`` (``2024-05-31 13:45:00+02:00``), as Python writes dates and date-times.
    """

    __slots__ = ("days", "hours", "style")

    def __init__(self, days, hours, style: str = "naive"):
        self.days = np.asarray(days, dtype=np.float64)
        self.hours = np.asarray(hours, dtype=np.float64)
        self.style = style

    def local_days(self) -> np.ndarray:
        """Days since 1970-01-01 of the local date-time (a zoned value's own day), NaN for a gap."""
        if self.style != "zoned":
            return self.days
        utc_hours = (self.days - np.floor(self.days)) * 24
        offset = np.round(((self.hours - utc_hours + 12) % 24 - 12) * 4) / 4  # zones are whole quarter hours
        return self.days + offset / 24

    def __len__(self):
        return len(self.days)

    def gaps(self) -> np.ndarray:
        return np.isnan(self.days)

    def take(self, rows) -> "Dates":
        return Dates(self.days[rows], self.hours[rows], self.style)

    def to_list(self) -> list:
        """The days since 1970 as Python floats (NaN for a gap): for reading a column by eye, not for work."""
        return self.days.tolist()

    @property
    def nbytes(self) -> int:
        return self.days.nbytes + self.hours.nbytes

    def __repr__(self):
        return f"Dates({len(self)} rows)"


def column_of(values):
    """Values handed over from Python (an array or a list) as a typed column: numbers as :class:`Numbers`, any
    other labels as :class:`Coded` (each distinct label once, booleans kept apart from numbers); ``None`` and
    NaN are gaps.  A typed column is returned as it is."""
    if isinstance(values, (Numbers, Coded, Dates)):
        return values
    if not isinstance(values, (list, tuple)):
        a = np.asarray(values)
        if a.dtype.kind in "fiu":
            return Numbers(a.astype(np.float64))
        if a.dtype.kind == "b":
            return Coded(a.astype(CODE_DTYPE), [False, True])
        values = a.tolist()
    elif values and all(type(v) in (int, float) for v in values):  # a list of numbers
        return Numbers(np.array(values, dtype=np.float64))
    distinct, codes = {}, np.empty(len(values), dtype=CODE_DTYPE)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and v != v):
            codes[i] = -1
            continue
        codes[i] = distinct.setdefault(label_key(python_label(v)), (len(distinct), v))[0]
    return Coded(codes, [v for _, v in distinct.values()])


class NumbersBuilder:
    """float64 values appended block by block into one array, allocated for ``rows_hint`` rows (grown if more)."""

    def __init__(self, rows_hint: int = 0):
        self.buf = np.empty(max(int(rows_hint), 16), dtype=np.float64)
        self.n = 0

    def reserve(self, n: int) -> np.ndarray:
        """A view of the next ``n`` rows, to be written in place."""
        if self.n + n > len(self.buf):
            grown = np.empty(max(2 * (self.n + n), 1024), dtype=np.float64)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        part = self.buf[self.n : self.n + n]
        self.n += n
        return part

    def finish(self) -> Numbers:
        buf, n = self.buf, self.n
        self.buf = None
        # a few spare rows (blank lines, the header) stay as a view; many are given back
        return Numbers(buf[:n] if len(buf) - n <= max(16, n // 16) else buf[:n].copy())


class CodedBuilder:
    """Codes appended block by block against one growing dictionary of levels.

    :meth:`add` takes a block's own codes into its own distinct values (Arrow's ``dictionary_encode`` of a
    record batch, or a dict over a block of text) and maps them onto the column's levels: Python runs once per
    distinct value of the block, NumPy once per row.
    """

    def __init__(self, rows_hint: int = 0):
        self.buf = np.empty(max(int(rows_hint), 16), dtype=CODE_DTYPE)
        self.n = 0
        self.index = {}  # level (text as it is; other values with their type: True is not 1) -> code
        self.levels = []

    def _map(self, values) -> np.ndarray:
        index, levels = self.index, self.levels
        out = np.empty(len(values) + 1, dtype=CODE_DTYPE)
        for k, v in enumerate(values):
            if v is None:  # a gap among a block's values
                out[k] = -1
                continue
            key = v if type(v) is str else (type(v).__name__, v)
            code = index.get(key)
            if code is None:
                code = index[key] = len(levels)
                levels.append(v)
            out[k] = code
        out[-1] = -1  # a block's -1 (a gap) stays -1
        return out

    def add(self, codes, values):
        """Rows with ``codes`` (int, ``-1``: a gap) into the block's distinct ``values``."""
        mapping = self._map(values)
        codes = np.asarray(codes)
        n = len(codes)
        if self.n + n > len(self.buf):
            grown = np.empty(max(2 * (self.n + n), 1024), dtype=CODE_DTYPE)
            grown[: self.n] = self.buf[: self.n]
            self.buf = grown
        self.buf[self.n : self.n + n] = mapping[codes]
        self.n += n

    def finish(self) -> Coded:
        buf, n = self.buf, self.n
        self.buf = None
        return Coded(buf[:n] if len(buf) - n <= max(16, n // 16) else buf[:n].copy(), self.levels)


@dataclass
class Table:
    """Typed columns read from a file (or a data frame), before any choice of features and target.

    Attributes
    ----------
    path : str
        The file, as messages name it.
    names : list of str
        Column names in file order (``"0"``, ``"1"``, ... for files without names).
    columns : list of Numbers, Coded or Dates
        One typed column per name (see the module docstring).
    named : bool
        Whether the names come from the file (CSV header, Parquet schema, ``feature_names``).
    line_offset : int or None
        For CSV: the line number of data row 1 (the header is line 1), used when ``lines`` is None.
    lines : callable or None
        For CSV: ``lines(row)`` is the line (1-based) where the 0-based data ``row`` starts, counting
        blank lines and the lines inside quoted cells (computed only when a message needs it).
    n_rows : int
        Rows of the file (every column has them; a table read with some columns only still counts them).
    offset : int
        The file's row of the table's first row (a block of a table read block by block), for messages.
    """

    path: str
    names: list
    columns: list
    named: bool = True
    line_offset: int | None = None
    lines: Callable[[int], int] | None = field(default=None, repr=False)
    n_rows: int = -1
    offset: int = 0

    def __post_init__(self):
        if self.n_rows < 0:
            self.n_rows = len(self.columns[0]) if self.columns else 0

    def where(self, row: int, column: str | None = None) -> str:
        """``"data.csv, row 17 (line 18), column 'age'"`` for 0-based ``row`` (of this table: its block's offset is
        added)."""
        row += self.offset
        text = f"{self.path}, row {row + 1}"
        if self.lines is not None:
            text += f" (line {self.lines(row)})"
        elif self.line_offset is not None:
            text += f" (line {row + self.line_offset})"
        if column is not None:
            text += f", column {column!r}"
        return text

    def column(self, name: str):
        return self.columns[self.names.index(name)]

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns if c is not None)
