"""Reading tables from files: CSV, Parquet, NPY, NPZ, into named columns, checked.

Formats, chosen by the file's suffix:

``.csv`` (a header line, then one sample per line)
    Read with `pyarrow <https://arrow.apache.org/docs/python/csv.html>`_ when it is
    installed (the ``tables`` extra: ``pip install "mlp-arrayapi[tables]"``); without it, the
    standard library's :mod:`csv` reader still reads it (numeric features, any target).
``.parquet`` / ``.pq``
    Needs pyarrow.
``.npy``
    A 2-D numeric array; its columns are named ``"0"``, ``"1"``, ... (so ``--target 3`` works).
``.npz``
    Arrays ``X`` (2-D) and optionally ``y`` (the target) and ``feature_names``; or a single
    2-D array, read like ``.npy``.  Read with ``allow_pickle=False``: a file holding Python
    objects is refused, never unpickled.

Every problem with the data is a :class:`mlp.core.errors.DataError` naming the file, the row (1-based,
counting data rows; for CSV files also the line) and the column.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

__all__ = ["FORMATS", "Table", "label_column", "numeric_column", "read_table"]

#: file suffixes :func:`read_table` reads
FORMATS = (".csv", ".parquet", ".pq", ".npy", ".npz")

_INSTALL_HINT = 'pip install "mlp-arrayapi[tables]" (or pip install pyarrow)'


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
        For CSV: the line number of data row 1 (the header is line 1), to name lines in messages.
    """

    path: str
    names: list
    columns: list
    named: bool = True
    line_offset: int | None = None
    n_rows: int = field(init=False)

    def __post_init__(self):
        self.n_rows = len(self.columns[0]) if self.columns else 0

    def where(self, row: int, column: str | None = None) -> str:
        """``"data.csv, row 17 (line 18), column 'age'"`` for 0-based ``row``."""
        text = f"{self.path}, row {row + 1}"
        if self.line_offset is not None:
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
    return ".parquet" if suffix == ".pq" else suffix


def read_table(path) -> Table:
    """Read every column of a CSV, Parquet, NPY or NPZ file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Table

    Raises
    ------
    mlp.core.errors.DataError
        No such file, an unknown suffix, an empty or malformed file, duplicate or empty column
        names, a Parquet file without pyarrow installed.  The message names the file.
    """
    path = Path(os.fspath(path))
    kind = _format_of(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a table file")
    if kind in (".npy", ".npz"):
        table = _read_numpy(path, kind)
    elif kind == ".parquet":
        table = _read_arrow(path, kind)
    else:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            table = _read_csv_stdlib(path)
        else:
            table = _read_arrow(path, kind)
    _check_names(table)
    if table.n_rows == 0:
        raise DataError(f"{path}: no data rows")
    return table


def _check_names(table: Table):
    seen = set()
    for i, name in enumerate(table.names):
        if not name.strip():
            raise DataError(f"{table.path}: column {i + 1} has an empty name in the header")
        if name in seen:
            raise DataError(f"{table.path}: column name {name!r} appears twice in the header")
        seen.add(name)


def _read_numpy(path: Path, kind: str) -> Table:
    with open(path, "rb") as f:
        magic = f.read(6)
    signature = b"\x93NUMPY" if kind == ".npy" else b"PK\x03\x04"
    if not magic.startswith(signature):
        raise DataError(f"{path}: not a valid {kind} file (it does not start with the "
                        f"{'NumPy' if kind == '.npy' else 'zip'} signature)")
    try:
        data = np.load(path, allow_pickle=False)
        if kind == ".npy":
            return _from_matrix(path, data, None)
        with data:
            return _read_npz(path, data)
    except DataError:
        raise
    except ValueError as e:  # object arrays need pickle: refused, never executed
        raise DataError(f"{path}: cannot be read without unpickling Python objects ({e}); save numeric arrays "
                        "(or strings) instead") from None
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a valid {kind} file ({e})") from None


def _read_npz(path, data) -> Table:
    keys = list(data.keys())
    if "X" not in keys:
        if len(keys) == 1:
            return _from_matrix(path, data[keys[0]], None)
        raise DataError(f"{path}: an .npz table needs an array 'X' (and optionally 'y', 'feature_names'); "
                        f"it holds {', '.join(keys) or 'nothing'}")
    unknown = set(keys) - {"X", "y", "feature_names"}
    if unknown:
        raise DataError(f"{path}: unexpected arrays {', '.join(sorted(unknown))}; an .npz table holds 'X', "
                        "'y' and 'feature_names'")
    X = data["X"]
    names = None
    if "feature_names" in keys:
        fn = data["feature_names"]
        if fn.ndim != 1 or fn.dtype.kind not in "US":
            raise DataError(f"{path}: 'feature_names' must be a 1-D array of strings, got {fn.dtype} {fn.shape}")
        names = [str(v) for v in fn]
    table = _from_matrix(path, X, names, what="'X'")
    if "y" in keys:
        y = data["y"]
        if y.ndim not in (1, 2) or len(y) != table.n_rows:
            raise DataError(f"{path}: 'y' has shape {y.shape}; it must have one row per row of 'X' "
                            f"({table.n_rows})")
        if y.ndim == 1:
            table.names.append("y")
            table.columns.append(_numpy_column(y))
        else:
            for j in range(y.shape[1]):
                table.names.append(f"y{j}")
                table.columns.append(_numpy_column(y[:, j]))
    return table


def _numpy_column(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind in "fiu":
        return a.astype(np.float64)
    if a.dtype.kind == "b":
        return a.astype(object)
    if a.dtype.kind in "US":
        return np.array([str(v) for v in a], dtype=object)
    raise ValueError(a.dtype)


def _from_matrix(path, a, names, what="the array") -> Table:
    if a.ndim != 2:
        raise DataError(f"{path}: {what} has shape {a.shape}; a table is 2-D (n_samples, n_columns)")
    if a.dtype.kind not in "fiubUS":
        raise DataError(f"{path}: {what} has dtype {a.dtype}; tables hold numbers (or text labels)")
    if names is not None and len(names) != a.shape[1]:
        raise DataError(f"{path}: {len(names)} feature_names for {a.shape[1]} columns of 'X'")
    columns = [_numpy_column(a[:, j]) for j in range(a.shape[1])]
    return Table(str(path), names or [str(j) for j in range(a.shape[1])], columns, named=names is not None)


def _read_arrow(path: Path, kind: str) -> Table:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        raise DataError(f"{path}: reading {kind} files needs pyarrow: {_INSTALL_HINT}") from None
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(path)
            offset = None
        else:
            import pyarrow.csv as pacsv

            # strings_can_be_null: an empty label is a missing value, not the class ""
            t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
            offset = 2
    except pa.ArrowInvalid as e:
        text = " ".join(str(e).split())
        raise DataError(f"{path}: cannot be read as {kind[1:].upper()} ({text})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    columns = []
    for name, col in zip(t.column_names, t.columns):
        typ = col.type
        if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
            values = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
            values = np.where(pc.is_null(col).to_numpy(zero_copy_only=False), np.nan, values)
        elif pa.types.is_null(typ):
            values = np.full(len(col), None, dtype=object)
        else:  # text, booleans, dates, ...: kept as Python objects for the checks to name
            values = np.array(col.to_pylist() + [None], dtype=object)[:-1]
        columns.append(values)
    return Table(str(path), [str(n) for n in t.column_names], columns, named=True, line_offset=offset)


#: the spellings of a missing value, as pyarrow's CSV reader takes them
_NULLS = frozenset(["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                    "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"])


def _read_csv_stdlib(path: Path) -> Table:
    """CSV without pyarrow: the standard library's reader, numbers parsed with ``float``."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: the BOM spreadsheets write
            rows = list(csv.reader(f))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e})") from None
    except csv.Error as e:
        raise DataError(f"{path}: cannot be read as CSV ({e})") from None
    if not rows:
        raise DataError(f"{path}: empty file (a CSV table needs a header line)")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    while body and not any(v.strip() for v in body[-1]):  # a trailing empty line is not a row
        body.pop()
    width = len(header)
    for i, row in enumerate(body):
        if len(row) != width:
            raise DataError(f"{path}, line {i + 2}: {len(row)} values, but the header has {width} columns")
    columns = []
    for j in range(width):
        raw = [row[j].strip() for row in body]
        try:
            values = np.array([math.nan if v in _NULLS else float(v) for v in raw], dtype=np.float64)
        except ValueError:
            values = np.array([None if v in _NULLS else v for v in raw] + [None], dtype=object)[:-1]
        columns.append(values)
    return Table(str(path), header, columns, named=True, line_offset=2)


# -- checks ---------------------------------------------------------------------------------------
def _first_missing(col: np.ndarray):
    if col.dtype == object:
        hits = np.flatnonzero(np.array([v is None for v in col], dtype=bool))
    else:
        hits = np.flatnonzero(np.isnan(col))
    return int(hits[0]) if hits.size else None


def numeric_column(table: Table, name: str, role: str = "feature") -> np.ndarray:
    """Column ``name`` as float64, or a DataError naming the first missing or non-numeric value."""
    col = table.column(name)
    row = _first_missing(col)
    if row is not None:
        raise DataError(f"{table.where(row, name)}: missing value ({role}s must be present in every row; "
                        "drop or fill such rows first)")
    if col.dtype == object:
        for i, v in enumerate(col):
            if isinstance(v, bool):
                continue
            try:
                float(v)
            except (TypeError, ValueError):
                hint = ("features must be numbers: encode categories as numbers (one-hot columns) first"
                        if role == "feature" else "regression targets must be numbers")
                raise DataError(f"{table.where(i, name)}: {v!r} is not a number ({hint})") from None
        col = np.array([float(v) for v in col], dtype=np.float64)  # booleans and numbers written as text
    bad = np.flatnonzero(~np.isfinite(col))
    if bad.size:
        raise DataError(f"{table.where(int(bad[0]), name)}: {col[bad[0]]} is not a finite number")
    return col


def label_column(table: Table, name: str) -> np.ndarray:
    """Column ``name`` as class labels (any type), or a DataError naming the first missing one."""
    col = table.column(name)
    row = _first_missing(col)
    if row is not None:
        raise DataError(f"{table.where(row, name)}: missing target value")
    return col


