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
"""
from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import math
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

__all__ = ["FORMATS", "Table", "check_cast", "check_spread", "csv_separator", "label_column", "numeric_column",
           "parse_number", "read_table", "sniff_separator"]

#: file suffixes :func:`read_table` reads
FORMATS = (".csv", ".tsv", ".parquet", ".pq", ".npy", ".npz")

_INSTALL_HINT = 'pip install "mlp-arrayapi[tables]" (or pip install pyarrow)'

#: the delimiters :func:`sniff_separator` chooses from, in the order that breaks ties
SEPARATORS = (",", ";", "\t", "|")

#: the spellings of a missing value, as pyarrow's CSV reader takes them
_NULLS = frozenset(["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                    "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"])
#: the spellings of a boolean, as pyarrow's CSV reader takes them
_TRUE = frozenset(["1", "True", "TRUE", "true"])
_FALSE = frozenset(["0", "False", "FALSE", "false"])

# One rule for numbers, whichever reader reads the file: decimal digits with an optional sign, point and
# exponent, or inf/infinity. No underscores (Python's float takes "1_5"), no hex, no spaces inside.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.IGNORECASE)


#: the delimiter :func:`read_table` uses when it is given none (set with :func:`csv_separator`)
_SEP = contextvars.ContextVar("mlp_csv_separator", default=None)


@contextlib.contextmanager
def csv_separator(sep):
    """Within the block, :func:`read_table` reads CSV files with delimiter ``sep`` (None: sniffed).

    What ``--sep`` of ``mlp train``, ``mlp evaluate`` and ``mlp predict`` sets, for every table the
    command reads (``--data``, ``--val-data``).
    """
    token = _SEP.set(sep)
    try:
        yield
    finally:
        _SEP.reset(token)


def parse_number(text: str):
    """``text`` (already trimmed) as a float under the strict rule, or None when it is not a number.

    Accepted: ``12``, ``-1.5``, ``.5``, ``1.``, ``1e-3``, ``+2E5``, ``inf``, ``-Infinity``.
    Refused: ``1_5``, ``0x10``, ``1,5``, ``1 5``, ``1e``, ``--1``.
    """
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


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
        if kind in (".npy", ".npz"):
            table = _read_numpy(path, kind)
        elif kind == ".parquet":
            table = _read_arrow(path, kind, None)
        else:
            _check_utf8(path, sep)
            if sep is None:
                sep = "\t" if path.suffix.lower() == ".tsv" else sniff_separator(path)
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                table = _read_csv_stdlib(path, sep)
            else:
                table = _read_arrow(path, kind, sep)
    except UnicodeDecodeError as e:  # a name in a Parquet schema or an .npz's feature_names
        raise DataError(f"{path}: text that is not valid UTF-8 ({e})") from None
    except MemoryError:
        raise DataError(f"{path}: too large to read into memory") from None
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


# -- NPY, NPZ -------------------------------------------------------------------------------------
def _npy_header(f, where: str):
    """``(shape, dtype, data offset)`` of the .npy stream ``f``, or a DataError naming ``where``."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    except Exception as e:  # noqa: BLE001 - numpy parses the header as a Python literal: any error is possible
        raise DataError(f"{where}: not a valid .npy file (its header cannot be read: {' '.join(str(e).split())})") \
            from None
    return shape, dtype, f.tell()


def _check_npy_size(where: str, shape, dtype, available: int):
    """Refuse a header whose claimed size is not the data that follows it (before numpy allocates)."""
    if dtype.hasobject:
        raise DataError(f"{where}: cannot be read without unpickling Python objects (dtype {dtype}); save numeric "
                        "arrays (or strings) instead")
    need = math.prod(shape) * dtype.itemsize
    if need != available:
        what = "truncated" if need > available else "corrupt"
        raise DataError(f"{where}: {what}: the header claims shape {tuple(shape)} of {dtype} ({need:,} bytes of "
                        f"data), but the file holds {available:,}")


def _read_numpy(path: Path, kind: str) -> Table:
    with open(path, "rb") as f:
        magic = f.read(6)
    signature = b"\x93NUMPY" if kind == ".npy" else b"PK\x03\x04"
    if not magic.startswith(signature):
        raise DataError(f"{path}: not a valid {kind} file (it does not start with the "
                        f"{'NumPy' if kind == '.npy' else 'zip'} signature)")
    if kind == ".npy":
        with open(path, "rb") as f:
            shape, dtype, offset = _npy_header(f, str(path))
        _check_npy_size(str(path), shape, dtype, path.stat().st_size - offset)
        try:
            return _from_matrix(path, np.load(path, allow_pickle=False), None)
        except (ValueError, OSError, EOFError) as e:
            raise DataError(f"{path}: not a valid .npy file ({' '.join(str(e).split())})") from None
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    raise DataError(f"{path}: holds {info.filename!r}, which is not an array (.npy); not an .npz "
                                    "table")
                where = f"{path}, array {info.filename[:-4]!r}"
                with z.open(info) as member:
                    shape, dtype, offset = _npy_header(member, where)
                _check_npy_size(where, shape, dtype, info.file_size - offset)
        with np.load(path, allow_pickle=False) as data:
            return _read_npz(path, data)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile and zlib raise a dozen types (BadZipFile, zlib.error, ...)
        raise DataError(f"{path}: not a valid .npz file (truncated or corrupt: {' '.join(str(e).split())})") \
            from None


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
        names = [_text(v, f"{path}, 'feature_names'") for v in fn]
    table = _from_matrix(path, X, names, what="'X'")
    if "y" in keys:
        y = data["y"]
        if y.ndim not in (1, 2) or len(y) != table.n_rows:
            raise DataError(f"{path}: 'y' has shape {y.shape}; it must have one row per row of 'X' "
                            f"({table.n_rows})")
        if y.dtype.kind not in "fiubUS":
            raise DataError(f"{path}: 'y' has dtype {y.dtype}; targets are numbers, booleans or text")
        if y.ndim == 1:
            table.names.append("y")
            table.columns.append(_numpy_column(y, f"{path}, 'y'"))
        else:
            for j in range(y.shape[1]):
                table.names.append(f"y{j}")
                table.columns.append(_numpy_column(y[:, j], f"{path}, 'y' column {j}"))
    return table


def _text(v, where: str) -> str:
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{where}: {v!r} is not valid UTF-8 text ({e.reason} at byte {e.start})") from None
    return str(v)


def _numpy_column(a: np.ndarray, where: str = "") -> np.ndarray:
    if a.dtype.kind in "fiu":
        return a.astype(np.float64)
    if a.dtype.kind == "b":
        return a.astype(object)
    if a.dtype.kind in "US":  # bytes are text only when they are UTF-8 (never a b'...' repr)
        return np.array([_text(v, f"{where}, row {i + 1}") for i, v in enumerate(a)] + [None], dtype=object)[:-1]
    raise ValueError(a.dtype)


def _from_matrix(path, a, names, what="the array") -> Table:
    if a.ndim != 2:
        raise DataError(f"{path}: {what} has shape {a.shape}; a table is 2-D (n_samples, n_columns)")
    if a.dtype.kind not in "fiubUS":
        raise DataError(f"{path}: {what} has dtype {a.dtype}; tables hold numbers (or text labels)")
    if names is not None and len(names) != a.shape[1]:
        raise DataError(f"{path}: {len(names)} feature_names for {a.shape[1]} columns of 'X'")
    columns = [_numpy_column(a[:, j], f"{path}, {what} column {j}") for j in range(a.shape[1])]
    return Table(str(path), names or [str(j) for j in range(a.shape[1])], columns, named=names is not None)


# -- CSV: bytes, delimiter, structure ----------------------------------------------------------------
_CHUNK = 1 << 20


def _check_utf8(path: Path, sep):
    """Decode the whole file as UTF-8 in chunks (constant memory); locate the first invalid byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        try:
            while True:
                chunk = f.read(_CHUNK)
                decoder.decode(chunk, final=not chunk)
                if not chunk:
                    return
        except UnicodeDecodeError:
            pass
    if sep is None:
        sep = "\t" if path.suffix.lower() == ".tsv" else sniff_separator(path)
    for line, row_index, row in _csv_rows(path, sep, errors="surrogateescape"):
        for j, cell in enumerate(row):
            bad = re.search("[\udc80-\udcff]", cell)
            if bad:
                raw = cell.encode("utf-8", "surrogateescape")
                where = (f"{path}, line 1 (the header), column {j + 1}" if row_index < 0
                         else f"{path}, row {row_index + 1} (line {line}), column {j + 1}")
                raise DataError(f"{where}: {raw[:40]!r} is not valid UTF-8 text (byte "
                                f"0x{ord(bad.group()) - 0xDC00:02x}); save the file as UTF-8")
    raise DataError(f"{path}: not valid UTF-8 text; save the file as UTF-8")  # pragma: no cover


def sniff_separator(path) -> str:
    """The delimiter of a CSV file: the most frequent of ``,`` ``;`` tab ``|`` in its header line.

    Quoted text is not counted; a header without any of them (one column) is read with ``,``.
    """
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    line, quoted = [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            break
        elif not quoted:
            line.append(ch)
    counts = {s: line.count(s) for s in SEPARATORS}
    best = max(SEPARATORS, key=lambda s: (counts[s], -SEPARATORS.index(s)))
    return best if counts[best] else ","


def _csv_rows(path: Path, sep: str, errors: str = "strict"):
    """``(line, row index, cells)`` for the header (row index -1) and each data row, skipping blank lines.

    ``line`` is the 1-based line where the row starts, counting blank lines and the lines of quoted cells.
    """
    with open(path, newline="", encoding="utf-8-sig", errors=errors) as f:
        reader = csv.reader(f, delimiter=sep)
        row_index, previous = -1, 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataError(f"{path}, {'the header' if row_index < 0 else f'row {row_index + 2}'} (line "
                                f"{previous + 1}): cannot be read as CSV ({e}); an unbalanced quote \" opens a cell "
                                "that never closes?") from None
            start, previous = previous + 1, reader.line_num
            if not row:  # a blank line is not a row (as pyarrow reads it)
                continue
            yield start, row_index, row
            row_index += 1


def _structure_error(path: Path, sep: str, width: int, line: int, row_index: int, row: list) -> DataError:
    where = f"{path}, row {row_index + 1} (line {line})"
    text = f"{where}: {len(row)} value{'s' if len(row) != 1 else ''}, but the header has {width} columns"
    spans = [c for c in row if "\n" in c or "\r" in c]
    if spans:
        n = max(c.count("\n") for c in spans)
        text += f"; a quoted cell spans {n + 1} lines from line {line}: an unbalanced quote \"?"
    elif len(row) < width:
        text += f" (a missing delimiter {'tab' if sep == chr(9) else repr(sep)}?)"
    else:
        text += " (an extra delimiter, or a value that needs quotes?)"
    return DataError(text)



def _scan_structure(path: Path, sep: str):
    """The first row whose width differs from the header's, as a DataError, or None."""
    rows = _csv_rows(path, sep)
    first = next(rows, None)
    if first is None:
        return None
    width = len(first[2])
    for line, row_index, row in rows:
        if len(row) != width:
            return _structure_error(path, sep, width, line, row_index, row)
    return None


def _line_finder(path: Path, sep: str) -> Callable[[int], int]:
    def line_of(row: int) -> int:
        for line, index, _ in _csv_rows(path, sep, errors="replace"):
            if index == row:
                return line
        return row + 2  # pragma: no cover - the row exists: the table was read from this file

    return line_of


def _column_from_text(values: list) -> np.ndarray:
    """Trimmed cells of one column (None: missing) as float64 (numbers) or object (booleans, text)."""
    present = [v for v in values if v is not None]
    numbers = [parse_number(v) for v in present]
    if all(x is not None for x in numbers):
        it = iter(numbers)
        return np.array([math.nan if v is None else next(it) for v in values], dtype=np.float64)
    if present and all(v in _TRUE or v in _FALSE for v in present):
        return np.array([None if v is None else v in _TRUE for v in values] + [None], dtype=object)[:-1]
    return np.array(values + [None], dtype=object)[:-1]


def _read_csv_stdlib(path: Path, sep: str) -> Table:
    """CSV without pyarrow: the standard library's reader, numbers parsed by :func:`parse_number`."""
    rows = _csv_rows(path, sep)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: empty file (a CSV table needs a header line)")
    header = [h.strip() for h in first[2]]
    width = len(header)
    cells = [[] for _ in range(width)]
    for line, row_index, row in rows:
        if len(row) != width:
            if len(row) == 1 and not row[0].strip():  # a line of spaces only is not a row
                continue
            raise _structure_error(path, sep, width, line, row_index, row)
        for j, v in enumerate(row):
            v = v.strip()
            cells[j].append(None if v in _NULLS else v)
    columns = []
    for j in range(width):
        columns.append(_column_from_text(cells[j]))
        cells[j] = None  # free each column's text once it is converted
    return Table(str(path), header, columns, named=True, line_offset=2, lines=_line_finder(path, sep))


# -- pyarrow: CSV and Parquet -----------------------------------------------------------------------
def _read_arrow(path: Path, kind: str, sep) -> Table:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        raise DataError(f"{path}: reading {kind} files needs pyarrow: {_INSTALL_HINT}") from None
    try:
        if kind == ".parquet":
            import pyarrow.parquet as pq

            t = pq.read_table(path)
        else:
            import pyarrow.csv as pacsv

            # strings_can_be_null: an empty label is a missing value, not the class "";
            # newlines_in_values: a quoted cell may hold a line break, as the csv module reads it
            options = {"parse_options": pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                       "convert_options": pacsv.ConvertOptions(strings_can_be_null=True)}
            table = _stream_csv(pa, pc, pacsv, path, sep, options)
            if table is not None:
                return table
            t = pacsv.read_csv(path, **options)  # the types change after the first block: infer from all rows
    except pa.ArrowInvalid as e:
        if kind == ".csv":  # pyarrow names neither row nor line: find them
            located = _scan_structure(path, sep)
            if located is not None:
                raise located from None
        text = " ".join(str(e).split())
        raise DataError(f"{path}: cannot be read as {kind[1:].upper()} ({text})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    names = [str(n) for n in t.column_names]
    arrow_columns = list(t.columns)
    del t
    columns = []
    # one column at a time, each arrow column released once converted, so the whole table is never held twice
    for j in range(len(arrow_columns)):
        col, arrow_columns[j] = arrow_columns[j], None
        columns.append(_arrow_column(pa, pc, col, kind == ".csv", f"{path}, column {names[j]!r}"))
        del col
    del arrow_columns
    pa.default_memory_pool().release_unused()  # mimalloc/jemalloc keep freed pages otherwise
    if kind == ".csv":
        return Table(str(path), names, columns, named=True, line_offset=2, lines=_line_finder(path, sep))
    return Table(str(path), names, columns, named=True)


def _stream_csv(pa, pc, pacsv, path: Path, sep: str, options: dict):
    """A CSV file read block by block, each block's columns converted at once: about one float64 copy of
    the numbers is ever held (reading the whole file first held 2.5 to 3 times that in Arrow's buffers).

    None when a later block does not fit the column types the first block showed (a column of integers
    that turns to text): the caller then reads the whole file, inferring the types from every row.
    """
    pool = pa.default_memory_pool()
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(use_threads=False, block_size=4 << 20),
                            **options)
    schema = reader.schema
    names = [str(n) for n in schema.names]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
               for f in schema]
    parts = [[] for _ in names]
    try:
        for batch in reader:
            for j, col in enumerate(batch.columns):
                if numeric[j]:
                    values = pc.cast(col, pa.float64())
                    if values.null_count:
                        values = pc.fill_null(values, math.nan)
                    parts[j].append(values.to_numpy(zero_copy_only=False).copy())
                else:
                    parts[j].append(col)
            del batch
            pool.release_unused()  # the pool keeps each block's freed buffers otherwise (mimalloc, jemalloc)
    except pa.ArrowInvalid as e:
        if "conversion error" in str(e):
            return None
        raise
    finally:
        reader.close()
    columns = []
    for j, field_ in enumerate(schema):
        if numeric[j]:
            columns.append(np.concatenate(parts[j]) if parts[j] else np.empty(0, dtype=np.float64))
        else:
            columns.append(_arrow_column(pa, pc, pa.chunked_array(parts[j], type=field_.type), True,
                                         f"{path}, column {names[j]!r}"))
        parts[j] = None  # each column's blocks freed once joined
    pa.default_memory_pool().release_unused()  # mimalloc/jemalloc keep freed pages otherwise
    return Table(str(path), names, columns, named=True, line_offset=2, lines=_line_finder(path, sep))


def _arrow_column(pa, pc, col, from_csv: bool, where: str) -> np.ndarray:
    typ = col.type
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        values = pc.cast(col, pa.float64()) if not pa.types.is_float64(typ) else col
        if values.null_count:
            values = pc.fill_null(values, math.nan)
        return values.to_numpy()
    if pa.types.is_null(typ):
        return np.full(len(col), None, dtype=object)
    if pa.types.is_boolean(typ):
        return np.array(col.to_pylist() + [None], dtype=object)[:-1]
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        for i, v in enumerate(col.to_pylist()):
            if v is not None:
                _text(v, f"{where}, row {i + 1}")
        col = pc.cast(col, pa.string())
        typ = col.type
    if from_csv and (pa.types.is_temporal(typ)):
        col = pc.cast(col, pa.string())  # dates stay text, as the csv module reads them
        typ = col.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        values = pc.utf8_trim_whitespace(col).to_pylist()
        if from_csv:  # the same rule as without pyarrow: numbers, booleans, then text
            return _column_from_text([None if v is None or v in _NULLS else v for v in values])
        return np.array(values + [None], dtype=object)[:-1]
    return np.array(col.to_pylist() + [None], dtype=object)[:-1]  # dates, lists... for the checks to name


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


def check_cast(X: np.ndarray, names, dtype, source: str, what: str = "feature"):
    """Refuse values of ``X`` (n, k) too large for the model's ``dtype``, naming the row and column.

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
        raise DataError(f"{source}, row {i + 1}, column {list(names)[j]!r}: {what} value {X[i, j]:g} (after "
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
