"""Tables stored as NumPy arrays: ``.npy`` and ``.npz``, as named typed columns.

What :func:`mlp.io.tables.read.read_table` calls for these suffixes (see there for the formats).  Each reader
returns ``(names, columns, named)``: the column names, one typed column per name (:mod:`mlp.io.tables.typed`:
numbers as float64, booleans and text as codes), and whether the names come from the file.  The sizes an
``.npy``/``.npz`` header claims are checked against the file before anything is allocated; an array of Python
objects is refused, never unpickled.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .cells import utf8_text
from .typed import CODE_DTYPE, Coded, Numbers

__all__ = ["numpy_names", "read_numpy"]


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
        raise DataError(
            f"{where}: not a valid .npy file (its header cannot be read: {' '.join(str(e).split())})"
        ) from None
    return shape, dtype, f.tell(), bool(fortran)


def _check_npy_size(where: str, shape, dtype, available: int):
    """Refuse a header whose claimed size is not the data that follows it (before numpy allocates)."""
    if dtype.hasobject:
        raise DataError(
            f"{where}: cannot be read without unpickling Python objects (dtype {dtype}); save numeric "
            "arrays (or strings) instead"
        )
    need = math.prod(shape) * dtype.itemsize
    if need != available:
        what = "truncated" if need > available else "corrupt"
        raise DataError(
            f"{where}: {what}: the header claims shape {tuple(shape)} of {dtype} ({need:,} bytes of "
            f"data), but the file holds {available:,}"
        )


def numpy_names(path: Path, kind: str) -> list:
    """The column names of an ``.npy``/``.npz`` table, from the arrays' headers (and ``feature_names``), without
    reading their data (a file that does not read as a table is read in full, for its error)."""
    try:
        if kind == ".npy":
            with open(path, "rb") as f:
                shape, dtype, _, _ = _npy_header(f, str(path))
            if len(shape) == 2 and not dtype.hasobject:
                return [str(j) for j in range(shape[1])]
        else:
            with zipfile.ZipFile(path) as z:
                members = {info.filename[:-4]: info for info in z.infolist() if info.filename.endswith(".npy")}
                if set(members) <= {"X", "y", "feature_names"} and "X" in members and "feature_names" not in members:
                    with z.open(members["X"]) as member:
                        shape, dtype, _, _ = _npy_header(member, str(path))
                    y = []
                    if "y" in members:
                        with z.open(members["y"]) as member:
                            y_shape, _, _, _ = _npy_header(member, str(path))
                        y = (
                            ["y"]
                            if len(y_shape) == 1
                            else [f"y{j}" for j in range(y_shape[1] if len(y_shape) > 1 else 0)]
                        )
                    if len(shape) == 2 and not dtype.hasobject:
                        return [str(j) for j in range(shape[1])] + y
    except (DataError, OSError, zipfile.BadZipFile, ValueError):
        pass
    return read_numpy(path, kind)[0]


def read_numpy(path: Path, kind: str, columns=None):
    """``(names, columns, named)`` of the ``.npy`` or ``.npz`` (``kind``) file ``path``: of an ``.npy`` of
    numbers the columns named in ``columns`` only (default all); an ``.npz`` is read whole."""
    with open(path, "rb") as f:
        magic = f.read(6)
    signature = b"\x93NUMPY" if kind == ".npy" else b"PK\x03\x04"
    if not magic.startswith(signature):
        raise DataError(
            f"{path}: not a valid {kind} file (it does not start with the "
            f"{'NumPy' if kind == '.npy' else 'zip'} signature)"
        )
    if kind == ".npy":
        return _read_npy(path, columns)
    try:
        _check_npz_members(path)
        with np.load(path, allow_pickle=False) as data:
            return _read_npz(path, data)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - zipfile and zlib raise a dozen types (BadZipFile, zlib.error, ...)
        raise DataError(f"{path}: not a valid .npz file (truncated or corrupt: {' '.join(str(e).split())})") from None


def _read_npy(path: Path, columns=None):
    with open(path, "rb") as f:
        shape, dtype, offset, fortran = _npy_header(f, str(path))
    _check_npy_size(str(path), shape, dtype, path.stat().st_size - offset)
    try:
        if len(shape) == 2 and dtype.kind in "fiu":
            names = [str(j) for j in range(shape[1])]
            wanted = [j for j, n in enumerate(names) if columns is None or n in set(columns)]
            read = _npy_number_columns(path, shape, dtype, offset, fortran, wanted)
            return [names[j] for j in wanted], [Numbers(c) for c in read], False
        return _from_matrix(path, np.load(path, allow_pickle=False), None)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a valid .npy file ({' '.join(str(e).split())})") from None


def _npy_number_columns(path: Path, shape, dtype, offset: int, fortran: bool, wanted) -> list:
    """The float64 columns ``wanted`` (indices) of a 2-D numeric ``.npy`` file, read from the file a block of rows
    (or a column) at a time: one float64 copy of them is held, never the file's array and its columns both."""
    n, k = shape
    columns = {j: np.empty(n, dtype=np.float64) for j in wanted}
    with open(path, "rb") as f:
        f.seek(offset)
        if fortran:  # column after column in the file: the others are skipped
            for j in range(k):
                if j in columns:
                    columns[j][:] = _read_values(f, dtype, n)
                else:
                    f.seek(n * dtype.itemsize, 1)
        else:
            step = max(1, (4 << 20) // max(1, k * dtype.itemsize))
            for a in range(0, n, step):
                b = min(n, a + step)
                block = _read_values(f, dtype, (b - a) * k).reshape(b - a, k)
                for j, column in columns.items():
                    column[a:b] = block[:, j]
    return [columns[j] for j in wanted]


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
                raise DataError(f"{path}: holds {info.filename!r}, which is not an array (.npy); not an .npz table")
            where = f"{path}, array {info.filename[:-4]!r}"
            with z.open(info) as member:
                shape, dtype, offset, _ = _npy_header(member, where)
            _check_npy_size(where, shape, dtype, info.file_size - offset)


def _read_npz(path, data):
    keys = list(data.keys())
    if "X" not in keys:
        if len(keys) == 1:
            return _from_matrix(path, data[keys[0]], None)
        raise DataError(
            f"{path}: an .npz table needs an array 'X' (and optionally 'y', 'feature_names'); "
            f"it holds {', '.join(keys) or 'nothing'}"
        )
    unknown = set(keys) - {"X", "y", "feature_names"}
    if unknown:
        raise DataError(
            f"{path}: unexpected arrays {', '.join(sorted(unknown))}; an .npz table holds 'X', 'y' and 'feature_names'"
        )
    X = data["X"]
    names = None
    if "feature_names" in keys:
        fn = data["feature_names"]
        if fn.ndim != 1 or fn.dtype.kind not in "US":
            raise DataError(f"{path}: 'feature_names' must be a 1-D array of strings, got {fn.dtype} {fn.shape}")
        names = [utf8_text(v, f"{path}, 'feature_names'") for v in fn]
    names, columns, named = _from_matrix(path, X, names, what="'X'")
    if "y" in keys:
        _add_targets(path, data["y"], names, columns)
    return names, columns, named


def _add_targets(path, y, names: list, columns: list):
    """Append the target ``y`` (1-D: column ``y``; 2-D: ``y0``, ``y1``, ...) to the columns of ``X``."""
    n_rows = len(columns[0]) if columns else 0  # what Table.n_rows counts
    if y.ndim not in (1, 2) or len(y) != n_rows:
        raise DataError(f"{path}: 'y' has shape {y.shape}; it must have one row per row of 'X' ({n_rows})")
    if y.dtype.kind not in "fiubUS":
        raise DataError(f"{path}: 'y' has dtype {y.dtype}; targets are numbers, booleans or text")
    if y.ndim == 1:
        names.append("y")
        columns.append(_numpy_column(y, f"{path}, 'y'"))
    else:
        for j in range(y.shape[1]):
            names.append(f"y{j}")
            columns.append(_numpy_column(y[:, j], f"{path}, 'y' column {j}"))


def _numpy_column(a: np.ndarray, where: str = ""):
    """One column of an array as a typed column: numbers, booleans (codes of False/True) or text (codes)."""
    if a.dtype.kind in "fiu":
        return Numbers(a.astype(np.float64))
    if a.dtype.kind == "b":
        return Coded(a.astype(CODE_DTYPE), [False, True])
    if a.dtype.kind in "US":  # bytes are text only when they are UTF-8 (never a b'...' repr)
        levels, codes = np.unique(a, return_inverse=True)
        texts, bad = [], None
        for k, v in enumerate(levels.tolist()):
            try:
                texts.append(v.decode("utf-8") if isinstance(v, bytes) else str(v))
            except UnicodeDecodeError:  # the error names the first row holding a value that is not UTF-8
                row = int(np.flatnonzero(codes == k)[0])
                bad = row if bad is None else min(bad, row)
        if bad is not None:
            utf8_text(a[bad], f"{where}, row {bad + 1}")
        return Coded(codes.astype(CODE_DTYPE), texts)
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
