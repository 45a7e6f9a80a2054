"""Stage 1 of the table pipeline, read: a file into typed, named, checked columns (:class:`Table`).

Formats, chosen by the file's suffix:

``.csv`` / ``.tsv`` (a header line, then one sample per line)
    Read with `pyarrow <https://arrow.apache.org/docs/python/csv.html>`_ when it is
    installed (the ``tables`` extra: ``pip install "mlp-arrayapi[tables]"``); without it, the
    standard library's :mod:`csv` reader reads it.  Both give the same table: numbers follow one
    strict rule (:func:`parse_number`), ``True``/``False`` columns are booleans, text is trimmed,
    quoted cells may hold the delimiter and line breaks.  The delimiter is ``sep`` when given, a tab
    for ``.tsv``, else sniffed from the header line (the most frequent of ``,`` ``;`` tab ``|``).
``.parquet`` / ``.pq``
    Needs pyarrow; read a column and a row group at a time, text as Parquet's own dictionary codes.
``.npy``
    A 2-D numeric array; its columns are named ``"0"``, ``"1"``, ... (so ``--target 3`` works).
``.npz``
    Arrays ``X`` (2-D) and optionally ``y`` (the target) and ``feature_names``; or a single
    2-D array, read like ``.npy``.  Read with ``allow_pickle=False``: a file holding Python
    objects is refused, never unpickled.

Only the columns asked for are read (``columns=``: the others are never converted; of Parquet and ``.npy``
files they are not even read, of CSV files they are parsed for their delimiters; an ``.npz`` is read whole).
Columns are typed (:mod:`mlp.io.tables.typed`): numbers float64, text and booleans codes into their distinct
values, dates days and hours.

Reading is strict: text must be UTF-8 (an invalid byte is refused naming the row and column); a row
with more or fewer cells than the header, or an unbalanced quote, is refused naming the row and the
line (lines count blank lines and the lines inside quoted cells); the sizes an ``.npy``/``.npz``
header claims are checked against the file before anything is allocated.

Every problem with the data is a :class:`mlp.core.errors.DataError` naming the file, the row (1-based,
counting data rows; for CSV files also the line) and the column.

The formats are read in :mod:`mlp.io.tables.delimited` (CSV, TSV), :mod:`mlp.io.tables.arrays` (NPY, NPZ)
and :mod:`mlp.io.tables.arrow` (Parquet), with the cell rules of :mod:`mlp.io.tables.cells`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlp.core.errors import DataError

from .arrays import numpy_names, read_numpy
from .arrow import parquet_names, read_parquet
from .cells import parse_number
from .delimited import SEPARATORS, csv_header, csv_separator, current_separator, read_csv, sniff_separator
from .overrides import override
from .typed import Table

__all__ = [
    "FORMATS",
    "SEPARATORS",
    "Table",
    "csv_separator",
    "parse_number",
    "read_table",
    "sniff_separator",
    "table_names",
]

#: file suffixes :func:`read_table` reads
FORMATS = (".csv", ".tsv", ".parquet", ".pq", ".npy", ".npz")


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(
            f"{path}: unknown table format {suffix or '(no suffix)'!r}; mlp reads {', '.join(FORMATS)} files"
        )
    return {".pq": ".parquet", ".tsv": ".csv"}.get(suffix, suffix)


def _checked(path, sep):
    """``(path, format, delimiter)`` of a table file that exists, or a DataError naming the problem."""
    path = Path(os.fspath(path))
    kind = _format_of(path)
    if sep is None:
        sep = current_separator()
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n'):
        raise DataError(
            f"{path}: the CSV delimiter must be one character other than a quote or a line break, got {sep!r}"
        )
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a table file")
    return path, kind, sep


def table_names(path, sep: str | None = None) -> list:
    """The column names of a table file, without reading its rows (the CSV header, the Parquet schema)."""
    path, kind, sep = _checked(path, sep)
    try:
        if kind == ".csv":
            return csv_header(path, sep)
        if kind == ".parquet":
            return parquet_names(path)
        return numpy_names(path, kind)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: text that is not valid UTF-8 ({e})") from None


def read_table(path, sep: str | None = None, columns=None) -> Table:
    """Read the columns of a CSV, TSV, Parquet, NPY or NPZ file as typed columns.

    Parameters
    ----------
    path : str or os.PathLike
    sep : str, optional
        The CSV delimiter (one character; ``"\\t"`` for a tab).  Default: the one set with
        :func:`csv_separator`, else a tab for ``.tsv`` files, else sniffed from the header line (see
        :func:`sniff_separator`).
    columns : list of str, optional
        Read these columns only (in file order); the others never leave the file.  A name the file
        lacks is a DataError listing its columns.  Default: every column.

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
    path, kind, sep = _checked(path, sep)
    if columns is not None:
        columns = list(columns)
        names = table_names(path, sep)
        _check_names(Table(str(path), names, [], n_rows=0))  # the whole header, the columns not read included
        missing = [c for c in columns if c not in names]
        if missing:
            listing = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
            raise DataError(f"{path}: no column {missing[0]!r}; the columns are {listing}")
    try:
        table = _read_kind(path, kind, sep, columns)
    except UnicodeDecodeError as e:  # a name in a Parquet schema or an .npz's feature_names
        raise DataError(f"{path}: text that is not valid UTF-8 ({e})") from None
    except MemoryError:
        raise DataError(
            f"{path}: too large to read into memory ({path.stat().st_size / 2**20:,.0f} MiB on disk); "
            f"mlp train reads it block by block with --stream; or read fewer columns ({override('drop')})"
        ) from None
    _check_names(table)
    if table.n_rows == 0:
        raise DataError(f"{path}: no data rows")
    return table


def _read_kind(path: Path, kind: str, sep, columns) -> Table:
    """The :class:`Table` of ``path``, read by the reader of its format ``kind``."""
    if kind in (".npy", ".npz"):
        names, typed, named = read_numpy(path, kind, columns)
        if columns is not None:
            keep = [j for j, n in enumerate(names) if n in set(columns)]
            names, typed = [names[j] for j in keep], [typed[j] for j in keep]
        return Table(str(path), names, typed, named=named)
    if kind == ".parquet":
        names, typed, n_rows = read_parquet(path, columns)
        return Table(str(path), names, typed, named=True, n_rows=n_rows)
    names, typed, n_rows, lines = read_csv(path, sep, columns)
    return Table(str(path), names, typed, named=True, line_offset=2, lines=lines, n_rows=n_rows)


def _check_names(table: Table):
    seen = set()
    for i, name in enumerate(table.names):
        if not name.strip():
            raise DataError(f"{table.path}: column {i + 1} has an empty name in the header")
        if name in seen:
            raise DataError(f"{table.path}: column name {name!r} appears twice in the header")
        seen.add(name)
