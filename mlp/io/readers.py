"""Reading tables from files: CSV, TSV, Parquet, NPY, NPZ, into named columns, checked.

Formats, chosen by the file's suffix:

``.csv`` / ``.tsv`` (a header line, then one sample per line)
    Read with `pyarrow <https://arrow.apache.org/docs/python/csv.html>`_ when it is
    installed (the ``tables`` extra: ``pip install "mlp-arrayapi[tables]"``); without it, the
    standard library's :mod:`csv` reader reads it.  Both give the same table: numbers follow one
    strict rule (:func:`parse_number`), ``True``/``False`` columns are booleans, text is trimmed,
    quoted cells may hold the delimiter and line breaks.  The delimiter is ``sep`` when given, a tab
    for ``.tsv``, else sniffed from the header line (the most frequent of ``,`` ``;`` tab ``|``).
``.parquet`` / ``.pq``
    Needs pyarrow.
``.npy``
    A 2-D numeric array; its columns are named ``"0"``, ``"1"``, ... (so ``--target 3`` works).
``.npz``
    Arrays ``X`` (2-D) and optionally ``y`` (the target) and ``feature_names``; or a single
    2-D array, read like ``.npy``.  Read with ``allow_pickle=False``: a file holding Python
    objects is refused, never unpickled.

Reading is strict: text must be UTF-8 (an invalid byte is refused naming the row and column); a row
with more or fewer cells than the header, or an unbalanced quote, is refused naming the row and the
line (lines count blank lines and the lines inside quoted cells); the sizes an ``.npy``/``.npz``
header claims are checked against the file before anything is allocated.

Every problem with the data is a :class:`mlp.core.errors.DataError` naming the file, the row (1-based,
counting data rows; for CSV files also the line) and the column.

The formats are read in :mod:`mlp.io.delimited` (CSV, TSV) and :mod:`mlp.io.arrays` (NPY, NPZ, Parquet),
with the cell rules of :mod:`mlp.io.cells`; this module holds the :class:`Table` they fill and the checks
of its columns.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .arrays import _read_numpy, _read_parquet
from .cells import _NULLS, parse_number  # noqa: F401 - _NULLS: mlp.io.onnx imports it from here
from .delimited import _SEP, SEPARATORS, _read_csv, csv_separator, sniff_separator  # noqa: F401 - as before the split

__all__ = ["FORMATS", "Table", "check_cast", "check_spread", "csv_separator", "label_column", "numeric_column",
           "parse_number", "read_table", "sniff_separator"]

#: file suffixes :func:`read_table` reads
FORMATS = (".csv", ".tsv", ".parquet", ".pq", ".npy", ".npz")


# -- reading ------------------------------------------------------------------------------------
@dataclass
class Table:
    """Columns read from a file, before any choice of features and target.

    Attributes
    ----------
    path : str
        The file, as messages name it.
    names : list of str
        Column names in file order (``"0"``, ``"1"``, ... for files without names).
    columns : list of numpy.ndarray
        One 1-D array per column: float64 with NaN where a value is missing, or an object
        array (text, booleans; None where missing).
    named : bool
        Whether the names come from the file (CSV header, Parquet schema, ``feature_names``).
    line_offset : int or None
        For CSV: the line number of data row 1 (the header is line 1), used when ``lines`` is None.
    lines : callable or None
        For CSV: ``lines(row)`` is the line (1-based) where the 0-based data ``row`` starts, counting
        blank lines and the lines inside quoted cells (computed only when a message needs it).
    """

    path: str
    names: list
    columns: list
    named: bool = True
    line_offset: int | None = None
    lines: Callable[[int], int] | None = field(default=None, repr=False)
    n_rows: int = field(init=False)

    def __post_init__(self):
        self.n_rows = len(self.columns[0]) if self.columns else 0

    def where(self, row: int, column: str | None = None) -> str:
        """``"data.csv, row 17 (line 18), column 'age'"`` for 0-based ``row``."""
        text = f"{self.path}, row {row + 1}"
        if self.lines is not None:
            text += f" (line {self.lines(row)})"
        elif self.line_offset is not None:
            text += f" (line {row + self.line_offset})"
        if column is not None:
            text += f", column {column!r}"
        return text

    def column(self, name: str) -> np.ndarray:
        return self.columns[self.names.index(name)]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: unknown table format {suffix or '(no suffix)'!r}; "
                        f"mlp reads {', '.join(FORMATS)} files")
    return {".pq": ".parquet", ".tsv": ".csv"}.get(suffix, suffix)


def read_table(path, sep: str | None = None) -> Table:
    """Read every column of a CSV, TSV, Parquet, NPY or NPZ file.

    Parameters
    ----------
    path : str or os.PathLike
    sep : str, optional
        The CSV delimiter (one character; ``"\\t"`` for a tab).  Default: the one set with
        :func:`csv_separator`, else a tab for ``.tsv`` files, else sniffed from the header line (see
        :func:`sniff_separator`).

    Returns
    -------
    Table

    Raises
    ------
    mlp.core.errors.DataError
        No such file, an unknown suffix, an empty or malformed file (invalid UTF-8, rows of another
        width than the header, an unbalanced quote, sizes that do not fit the file), duplicate or empty
        column names, a Parquet file without pyarrow installed.  The message names the file.
    """
    path = Path(os.fspath(path))
    kind = _format_of(path)
    if sep is None:
        sep = _SEP.get()
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in "\"\r\n"):
        raise DataError(f"{path}: the CSV delimiter must be one character other than a quote or a line break, "
                        f"got {sep!r}")
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a table file")
    try:
        table = _read_kind(path, kind, sep)
    except UnicodeDecodeError as e:  # a name in a Parquet schema or an .npz's feature_names
        raise DataError(f"{path}: text that is not valid UTF-8 ({e})") from None
    except MemoryError:
        raise DataError(f"{path}: too large to read into memory") from None
    _check_names(table)
    if table.n_rows == 0:
        raise DataError(f"{path}: no data rows")
    return table


def _read_kind(path: Path, kind: str, sep) -> Table:
    """The :class:`Table` of ``path``, read by the reader of its format ``kind``."""
    if kind in (".npy", ".npz"):
        names, columns, named = _read_numpy(path, kind)
        return Table(str(path), names, columns, named=named)
    if kind == ".parquet":
        names, columns, named = _read_parquet(path, kind)
        return Table(str(path), names, columns, named=named)
    names, columns, lines = _read_csv(path, sep)
    return Table(str(path), names, columns, named=True, line_offset=2, lines=lines)


def _check_names(table: Table):
    seen = set()
    for i, name in enumerate(table.names):
        if not name.strip():
            raise DataError(f"{table.path}: column {i + 1} has an empty name in the header")
        if name in seen:
            raise DataError(f"{table.path}: column name {name!r} appears twice in the header")
        seen.add(name)


# -- checks ---------------------------------------------------------------------------------------
def _first_missing(col: np.ndarray):
    if col.dtype == object:
        hits = np.flatnonzero(np.array([v is None for v in col], dtype=bool))
    else:
        hits = np.flatnonzero(np.isnan(col))
    return int(hits[0]) if hits.size else None


def numeric_column(table: Table, name: str, role: str = "feature") -> np.ndarray:
    """Column ``name`` as float64, or a DataError naming the first missing, non-numeric or unusable value.

    Unusable: not finite, or so large that the column's mean and standard deviation (what
    standardisation computes) overflow float64.
    """
    col = table.column(name)
    row = _first_missing(col)
    if row is not None:
        raise DataError(f"{table.where(row, name)}: missing value ({role}s must be present in every row; "
                        "drop or fill such rows first)")
    if col.dtype == object:
        for i, v in enumerate(col):
            if isinstance(v, bool):
                continue
            if isinstance(v, str) and parse_number(v.strip()) is not None:
                continue
            if isinstance(v, (int, float)):
                continue
            hint = ("features must be numbers: encode categories as numbers (one-hot columns) first"
                    if role == "feature" else "regression targets must be numbers")
            raise DataError(f"{table.where(i, name)}: {v!r} is not a number ({hint})")
        col = np.array([float(v) if not isinstance(v, str) else parse_number(v.strip()) for v in col],
                       dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(col))
    if bad.size:
        raise DataError(f"{table.where(int(bad[0]), name)}: {col[bad[0]]} is not a finite number")
    check_spread(table, name, col, role)
    return col


def check_spread(table: Table, name: str, col: np.ndarray, role: str = "feature"):
    """Refuse a numeric column whose mean or standard deviation overflows float64 (values near 1e300).

    What standardisation computes; without this check such a column trains an epoch and then fails at save
    (a scale of inf). ``col`` is float64, NaN for a gap (gaps are ignored).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        big = float(np.nanmax(np.abs(col))) if col.size and not np.isnan(col).all() else 0.0
        if big < 1e150:  # squares and sums of n < 1e8 such values stay finite: nothing to compute
            return
        mean = np.nanmean(col)
        std = np.nanstd(col)
    if not (np.isfinite(mean) and np.isfinite(std)):
        row = int(np.nanargmax(np.abs(col)))
        raise DataError(f"{table.where(row, name)}: {col[row]:g} is too large: the {role}'s mean and standard "
                        "deviation overflow float64, so it cannot be standardised; rescale the column")


def check_cast(X: np.ndarray, names, dtype, source: str, what: str = "feature", rows=None):
    """Refuse values of ``X`` (n, k) too large for the model's ``dtype``, naming the row and column.

    ``rows``: the 0-based row number of each row of ``X`` in ``source`` (default ``0..n-1``), for the message.

    Too large: past the square root of the dtype's largest number (1.8e19 for float32), whose square, and
    so the model's products and losses, overflow to inf.  Call it on the standardised features just before
    they are cast to the model's dtype: a 1e30 outlier among the validation rows is 1e30 / scale there, and
    would otherwise show as ``(loss inf)`` with RuntimeWarnings.
    """
    limit = math.sqrt(float(np.finfo(dtype).max))
    X = np.asarray(X)
    with np.errstate(invalid="ignore"):
        over = np.abs(X) > limit
    if X.ndim == 1:
        over = over[:, None]
        X = X[:, None]
    if over.any():
        i, j = (int(v[0]) for v in np.nonzero(over))
        row = i if rows is None else int(rows[i])
        raise DataError(f"{source}, row {row + 1}, column {list(names)[j]!r}: {what} value {X[i, j]:g} (after "
                        f"standardisation) is too large for {np.dtype(dtype).name}: past {limit:.3g} its square "
                        "overflows, and so would the model's outputs and loss; check that value")


def label_column(table: Table, name: str) -> np.ndarray:
    """Column ``name`` as class labels (any type), or a DataError naming the first missing or infinite one."""
    col = table.column(name)
    row = _first_missing(col)
    if row is not None:
        raise DataError(f"{table.where(row, name)}: missing target value")
    if col.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise DataError(f"{table.where(int(bad[0]), name)}: {col[bad[0]]} is not a finite number, so not a "
                            "class label")
    return col
