"""Tables stored as arrays: ``.npy``, ``.npz`` (NumPy) and ``.parquet`` (pyarrow), as named columns.

What :func:`mlp.io.readers.read_table` calls for these suffixes (see there for the formats).  Each reader
returns ``(names, columns, named)``: the column names, one 1-D numpy array per column (float64 with NaN
for a gap, or object), and whether the names come from the file.  The sizes an ``.npy``/``.npz`` header
claims are checked against the file before anything is allocated; an array of Python objects is refused,
never unpickled.  The pyarrow column conversion here also serves the CSV reader (:mod:`mlp.io.delimited`).
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .cells import _NULLS, _column_from_text, _text

_INSTALL_HINT = 'pip install "mlp-arrayapi[tables]" (or pip install pyarrow)'


# -- NPY, NPZ -------------------------------------------------------------------------------------
def _npy_header(f, where: str):
    """``(shape, dtype, data offset, fortran order)`` of the .npy stream ``f``, or a DataError naming ``where``."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except Exception as e:  # noqa: BLE001 - numpy parses the header as a Python literal: any error is possible
        raise DataError(f"{where}: not a valid .npy file (its header cannot be read: {' '.join(str(e).split())})") \
            from None
    return shape, dtype, f.tell(), bool(fortran)


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


def _read_numpy(path: Path, kind: str):
    """``(names, columns, named)`` of the ``.npy`` or ``.npz`` (``kind``) file ``path``."""
    with open(path, "rb") as f:
        magic = f.read(6)
    signature = b"\x93NUMPY" if kind == ".npy" else b"PK\x03\x04"
    if not magic.startswith(signature):
        raise DataError(f"{path}: not a valid {kind} file (it does not start with the "
                        f"{'NumPy' if kind == '.npy' else 'zip'} signature)")
    if kind == ".npy":
        return _read_npy(path)
    try:
        _check_npz_members(path)
        with np.load(path, allow_pickle=False) as data:
            return _read_npz(path, data)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile and zlib raise a dozen types (BadZipFile, zlib.error, ...)
        raise DataError(f"{path}: not a valid .npz file (truncated or corrupt: {' '.join(str(e).split())})") \
            from None


def _read_npy(path: Path):
    with open(path, "rb") as f:
        shape, dtype, offset, fortran = _npy_header(f, str(path))
    _check_npy_size(str(path), shape, dtype, path.stat().st_size - offset)
    try:
        if len(shape) == 2 and dtype.kind in "fiu":
            return [str(j) for j in range(shape[1])], _npy_number_columns(path, shape, dtype, offset, fortran), False
        return _from_matrix(path, np.load(path, allow_pickle=False), None)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a valid .npy file ({' '.join(str(e).split())})") from None


def _npy_number_columns(path: Path, shape, dtype, offset: int, fortran: bool) -> list:
    """The float64 columns of a 2-D numeric ``.npy`` file, read from the file a block of rows (or a column) at a
    time: one float64 copy is held, never the file's array and its columns both."""
    n, k = shape
    columns = [np.empty(n, dtype=np.float64) for _ in range(k)]
    with open(path, "rb") as f:
        f.seek(offset)
        if fortran:  # column after column in the file
            for column in columns:
                column[:] = _read_values(f, dtype, n)
        else:
            step = max(1, (4 << 20) // max(1, k * dtype.itemsize))
            for a in range(0, n, step):
                b = min(n, a + step)
                block = _read_values(f, dtype, (b - a) * k).reshape(b - a, k)
                for j, column in enumerate(columns):
                    column[a:b] = block[:, j]
    return columns


def _read_values(f, dtype, count: int) -> np.ndarray:
    values = np.fromfile(f, dtype=dtype, count=count)
    if len(values) != count:
        raise EOFError(f"the file ends {count - len(values)} values early")
    return values


def _check_npz_members(path: Path):
    """Every member of the zip an array whose header fits its size (read before numpy loads any)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                raise DataError(f"{path}: holds {info.filename!r}, which is not an array (.npy); not an .npz "
                                "table")
            where = f"{path}, array {info.filename[:-4]!r}"
            with z.open(info) as member:
                shape, dtype, offset, _ = _npy_header(member, where)
            _check_npy_size(where, shape, dtype, info.file_size - offset)


def _read_npz(path, data):
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
    names, columns, named = _from_matrix(path, X, names, what="'X'")
    if "y" in keys:
        _add_targets(path, data["y"], names, columns)
    return names, columns, named


def _add_targets(path, y, names: list, columns: list):
    """Append the target ``y`` (1-D: column ``y``; 2-D: ``y0``, ``y1``, ...) to the columns of ``X``."""
    n_rows = len(columns[0]) if columns else 0  # what Table.n_rows counts
    if y.ndim not in (1, 2) or len(y) != n_rows:
        raise DataError(f"{path}: 'y' has shape {y.shape}; it must have one row per row of 'X' "
                        f"({n_rows})")
    if y.dtype.kind not in "fiubUS":
        raise DataError(f"{path}: 'y' has dtype {y.dtype}; targets are numbers, booleans or text")
    if y.ndim == 1:
        names.append("y")
        columns.append(_numpy_column(y, f"{path}, 'y'"))
    else:
        for j in range(y.shape[1]):
            names.append(f"y{j}")
            columns.append(_numpy_column(y[:, j], f"{path}, 'y' column {j}"))


def _numpy_column(a: np.ndarray, where: str = "") -> np.ndarray:
    if a.dtype.kind in "fiu":
        return a.astype(np.float64)
    if a.dtype.kind == "b":
        return a.astype(object)
    if a.dtype.kind in "US":  # bytes are text only when they are UTF-8 (never a b'...' repr)
        return np.array([_text(v, f"{where}, row {i + 1}") for i, v in enumerate(a)] + [None], dtype=object)[:-1]
    raise ValueError(a.dtype)


def _from_matrix(path, a, names, what="the array"):
    if a.ndim != 2:
        raise DataError(f"{path}: {what} has shape {a.shape}; a table is 2-D (n_samples, n_columns)")
    if a.dtype.kind not in "fiubUS":
        raise DataError(f"{path}: {what} has dtype {a.dtype}; tables hold numbers (or text labels)")
    if names is not None and len(names) != a.shape[1]:
        raise DataError(f"{path}: {len(names)} feature_names for {a.shape[1]} columns of 'X'")
    columns = [_numpy_column(a[:, j], f"{path}, {what} column {j}") for j in range(a.shape[1])]
    return names or [str(j) for j in range(a.shape[1])], columns, names is not None


# -- pyarrow: Parquet, and the columns of CSV files ---------------------------------------------------
class _Compute:
    """``pyarrow.compute``, imported when first used: 9 MB that a table of numbers never needs."""

    def __getattr__(self, name):
        import pyarrow.compute as pc

        return getattr(pc, name)


def _arrow_modules(path: Path, kind: str):
    """``(pyarrow, pyarrow.compute)`` (the latter imported on first use), or a DataError saying how to install."""
    try:
        import pyarrow as pa
    except ImportError:
        raise DataError(f"{path}: reading {kind} files needs pyarrow: {_INSTALL_HINT}") from None
    return pa, _Compute()


def _read_parquet(path: Path, kind: str = ".parquet"):
    """``(names, columns, named)`` of the Parquet file ``path``, read one column at a time.

    Parquet stores each column apart: reading and converting them one by one holds one Arrow column beside
    the numpy columns (reading the whole table first held all of it in Arrow's buffers too).
    """
    pa, pc = _arrow_modules(path, kind)
    try:
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as f:
            names = [str(n) for n in f.schema_arrow.names]
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:
                raise DataError(f"{path}: column name {twice!r} appears twice")
            columns = []
            for name in names:
                # by name: read(columns=) matches column paths, so "s.a" also brings a struct column s
                col = f.read(columns=[name], use_threads=False).column(name)
                columns.append(_arrow_column(pa, pc, col, False, f"{path}, column {name!r}"))
                del col
                pa.default_memory_pool().release_unused()
            return names, columns, True
    except pa.ArrowInvalid as e:
        text = " ".join(str(e).split())
        raise DataError(f"{path}: cannot be read as {kind[1:].upper()} ({text})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None


class _BatchColumns:
    """Arrow record batches (of one schema) gathered into the numpy columns of a table, batch after batch.

    Numbers are written as each batch comes into a float64 array per column, allocated once for ``rows``
    rows (grown if more come); other columns keep their batches' Arrow arrays until :meth:`columns`
    converts them.  So a table of numbers is held once, as float64, and no batch's buffers outlive it
    (Arrow's pool is asked to give them back after each batch: mimalloc and jemalloc keep them otherwise).
    """

    def __init__(self, pa, pc, schema, rows: int, path, from_csv: bool):
        self.pa, self.pc, self.schema, self.path, self.from_csv = pa, pc, schema, path, from_csv
        self.names = [str(n) for n in schema.names]
        numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
                   for f in schema]
        self.numbers = {j: np.empty(max(int(rows), 1), dtype=np.float64) for j, yes in enumerate(numeric) if yes}
        self.parts = {j: [] for j, yes in enumerate(numeric) if not yes}
        self.filled = 0

    def add(self, batch):
        n, at = batch.num_rows, self.filled
        if self.numbers and at + n > len(next(iter(self.numbers.values()))):  # more rows than the hint (CR ends)
            size = max(2 * (at + n), 1024)
            for j, buf in self.numbers.items():
                grown = np.empty(size, dtype=np.float64)
                grown[:at] = buf[:at]
                self.numbers[j] = grown
        for j, col in enumerate(batch.columns):
            if j in self.numbers:
                _arrow_numbers(self.pa, self.pc, col, out=self.numbers[j][at:at + n])
            else:
                self.parts[j].append(col)
        self.filled += n
        batch = col = None
        self.pa.default_memory_pool().release_unused()

    def columns(self) -> list:
        """The columns (float64, NaN for a gap; or object arrays), each batch's pieces freed as converted."""
        pa, filled, out = self.pa, self.filled, []
        for j, field_ in enumerate(self.schema):
            if j in self.numbers:
                buf = self.numbers.pop(j)
                # a few spare rows (blank lines, the header, quoted line breaks) stay as a view; many are given back
                out.append(buf[:filled] if len(buf) - filled <= max(16, filled // 16) else buf[:filled].copy())
                del buf
            else:
                chunked = pa.chunked_array(self.parts.pop(j), type=field_.type)
                out.append(_arrow_column(pa, self.pc, chunked, self.from_csv, f"{self.path}, column {self.names[j]!r}"))
                del chunked
        pa.default_memory_pool().release_unused()
        return out


def _arrow_columns(pa, pc, names: list, arrow_columns: list, from_csv: bool, path) -> list:
    """The numpy columns of ``arrow_columns``, emptying that list as it goes (so the table is never held twice)."""
    columns = []
    for j in range(len(arrow_columns)):
        col, arrow_columns[j] = arrow_columns[j], None
        columns.append(_arrow_column(pa, pc, col, from_csv, f"{path}, column {names[j]!r}"))
        del col
    pa.default_memory_pool().release_unused()  # mimalloc/jemalloc keep freed pages otherwise
    return columns


def _arrow_numbers(pa, pc, col, out=None) -> np.ndarray:
    """An Arrow integer, float or decimal (chunked) array as float64, NaN for a null (into ``out`` if given).

    Integers and floats are read from the array's buffers: Arrow's own conversions (``to_numpy``,
    ``fill_null``, DLPack) import pandas when it is installed, 45 MB, more than the numbers of a
    500,000-cell table.
    """
    if pa.types.is_decimal(col.type):
        col = pc.cast(col, pa.float64())
    if out is None:
        out = np.empty(len(col), dtype=np.float64)
    at = 0
    for chunk in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):
        n, typ = len(chunk), chunk.type
        if pa.types.is_floating(typ):
            dtype = np.dtype(f"<f{typ.bit_width // 8}")
        else:
            dtype = np.dtype(f"<{'i' if pa.types.is_signed_integer(typ) else 'u'}{typ.bit_width // 8}")
        validity, data = chunk.buffers()[:2]
        part = out[at:at + n]
        if data is None or chunk.null_count == n:
            part[:] = math.nan
        else:
            part[:] = np.frombuffer(data, dtype=dtype, count=n, offset=chunk.offset * dtype.itemsize)
        if 0 < chunk.null_count < n:
            valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=chunk.offset + n,
                                  bitorder="little")[chunk.offset:]
            part[valid == 0] = math.nan
        at += n
    return out


def _arrow_column(pa, pc, col, from_csv: bool, where: str) -> np.ndarray:
    typ = col.type
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return _arrow_numbers(pa, pc, col)
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
