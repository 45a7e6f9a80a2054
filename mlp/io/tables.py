"""Your own data: tables from files, checked, and the preprocessing that travels with a model.

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
counting data rows; for CSV files also the line) and the column: a missing value, a feature that
is not a number, a target column that does not exist, a target with one class only.

:class:`Preprocessor` holds what a model needs to read new data the way it read its training
data: the feature names, the standardisation statistics (from the training split only), the
task, and the classes (the original labels: strings, integers, booleans).  Its
:meth:`Preprocessor.to_dict` is plain JSON that :mod:`mlp.io.checkpoint` stores in the checkpoint.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import MAX_CLASSES, TASKS, task_of_target

__all__ = [
    "FORMATS",
    "Dataset",
    "Preprocessor",
    "Table",
    "class_labels",
    "label_column",
    "load_table",
    "numeric_column",
    "read_table",
    "resolve_targets",
    "split_indices",
]

#: file suffixes :func:`read_table` reads
FORMATS = (".csv", ".parquet", ".pq", ".npy", ".npz")
#: an integer-valued target with at most this many distinct values is inferred to be class labels
#: the version of :meth:`Preprocessor.to_dict`'s layout
PREPROCESSING_FORMAT = 1

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


def resolve_targets(table: Table, target) -> list:
    """The target column names: ``target`` (a name, or comma-separated names), default the last column."""
    if target is None:
        if len(table.names) < 2:
            raise DataError(f"{table.path}: only one column ({table.names[0]!r}); a table needs feature columns "
                            "and a target column")
        return [table.names[-1]]
    names = [target] if target in table.names else [t.strip() for t in str(target).split(",")]
    missing = [t for t in names if t not in table.names]
    if missing:
        listing = ", ".join(repr(n) for n in table.names[:20]) + (", ..." if len(table.names) > 20 else "")
        raise DataError(f"{table.path}: no target column {missing[0]!r}; the columns are {listing}")
    if len(names) >= len(table.names):
        raise DataError(f"{table.path}: every column is a target ({', '.join(names)}); no features left")
    return names


def _python_label(v):
    """A label as a JSON-able Python value: integral floats become ints (1.0 -> 1)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if float(v).is_integer() else float(v)
    return str(v)


def class_labels(y) -> list:
    """The distinct labels of ``y`` as JSON-able Python values, sorted (numbers first, then text)."""
    labels = {_key(_python_label(v)): _python_label(v) for v in np.asarray(y, dtype=object).ravel()}
    return sorted(labels.values(), key=_sort_key)


def _sort_key(v):
    # numbers before text, each in its natural order, so mixed columns still sort
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


# -- split --------------------------------------------------------------------------------------
def split_indices(n: int, fraction: float, seed: int = 0, labels=None, source: str = "data"):
    """Row indices of a training and a validation part, shuffled with ``seed``.

    Parameters
    ----------
    n : int
        Number of rows.
    fraction : float
        Share of rows for validation, in (0, 1).
    seed : int
    labels : array of int, optional
        Class indices: the split is then stratified (each class keeps its share in both parts).
    source : str
        How messages name the data.

    Returns
    -------
    (train_idx, val_idx) : tuple of numpy.ndarray
        int64 indices, each sorted (rows keep their file order).
    """
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation split must be a fraction in (0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
        n_val = int(round(n * fraction))
        val = order[:n_val]
    else:
        labels = np.asarray(labels)
        val_parts = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            rng.shuffle(rows)
            val_parts.append(rows[: int(round(len(rows) * fraction))])
        val = np.concatenate(val_parts)
    if len(val) == 0 or len(val) == n:
        raise ValueError(f"a validation split of {fraction:g} leaves {'no' if len(val) == 0 else 'every'} row of "
                         f"the {n} rows of {source} for validation; choose another fraction")
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


# -- preprocessing --------------------------------------------------------------------------------
@dataclass
class Preprocessor:
    """What turns a table into the arrays a model reads, and outputs back into labels or values.

    Attributes
    ----------
    features : list of str
        Feature column names, in the order of the model's inputs.
    targets : list of str
        Target column names (one for classification).
    task : {"classification", "regression"}
    classes : list or None
        The original class labels (str, int, float or bool), sorted; the model's output ``k`` is
        ``classes[k]``.  None for regression.
    mean, scale : numpy.ndarray or None
        Feature standardisation ``(x - mean) / scale`` from the training split only; None: off.
    target_mean, target_scale : numpy.ndarray or None
        Regression targets standardised the same way (predictions are mapped back); None: off.
    """

    features: list
    targets: list
    task: str
    classes: list | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None

    # -- building --
    @classmethod
    def fit(cls, X, y, features, targets, task, standardize=True, classes=None):
        """Statistics from ``X`` (the training split) and ``y`` (its raw targets).

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, n_features)
        y : numpy.ndarray, shape (n_samples,) or (n_samples, n_targets)
            Raw labels (classification) or numbers (regression).
        features, targets : list of str
        task : {"classification", "regression"}
        standardize : bool
            Standardise features (and regression targets) with the mean and standard deviation of
            ``X`` (and ``y``); a constant column gets scale 1.
        classes : list, optional
            The labels to encode against (default: the sorted distinct values of ``y``).
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        pre = cls(list(features), list(targets), task)
        if task == "classification":
            pre.classes = class_labels(y) if classes is None else list(classes)
        if standardize:
            pre.mean, pre.scale = _stats(np.asarray(X, dtype=np.float64))
            if task == "regression":
                Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
                pre.target_mean, pre.target_scale = _stats(Y)
        return pre

    # -- applying --
    def select(self, table: Table, need_target: bool = False):
        """``(X, y)`` from ``table``: the features by name (or by position in a file without names).

        ``y`` is the raw target (labels or numbers), or None when the table lacks the target
        columns and ``need_target`` is False.
        """
        names = table.names
        if all(f in names for f in self.features):
            X = np.stack([numeric_column(table, f) for f in self.features], axis=1)
        elif not table.named and len(names) == len(self.features):
            X = np.stack([numeric_column(table, f) for f in names], axis=1)
        else:
            missing = [f for f in self.features if f not in names]
            raise DataError(f"{table.path}: the model was trained with feature column"
                            f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing[:10])}"
                            f"{', ...' if len(missing) > 10 else ''}, missing here (it has {len(names)} columns)")
        y = None
        if all(t in names for t in self.targets) and (table.named or len(names) > len(self.features)):
            y = self.raw_targets(table)
        elif need_target:
            raise DataError(f"{table.path}: no target column {', '.join(repr(t) for t in self.targets)} "
                            "to evaluate against")
        return X, y

    def raw_targets(self, table: Table):
        if self.task == "classification":
            return label_column(table, self.targets[0])
        cols = [numeric_column(table, t, role="target") for t in self.targets]
        return cols[0] if len(cols) == 1 else np.stack(cols, axis=1)

    def transform(self, X, dtype="float32") -> np.ndarray:
        """Standardised features ``(n_samples, n_features)`` in ``dtype``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"features have shape {X.shape}, but the model reads {len(self.features)} columns "
                             f"({', '.join(self.features[:5])}{', ...' if len(self.features) > 5 else ''})")
        if self.mean is not None:
            X = (X - self.mean) / self.scale
        return X.astype(dtype)

    def encode(self, y, source: str = "data") -> np.ndarray:
        """Targets for training: class indices (int64) or (standardised) float targets."""
        if self.task == "classification":
            index = {_key(c): k for k, c in enumerate(self.classes)}
            out = np.empty(len(y), dtype=np.int64)
            for i, v in enumerate(np.asarray(y, dtype=object)):
                k = index.get(_key(_python_label(v)))
                if k is None:
                    raise DataError(f"{source}, row {i + 1}: label {_python_label(v)!r} is not one of the "
                                    f"model's classes {self.classes!r}")
                out[i] = k
            return out
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if self.target_mean is not None:
            Y = (Y - self.target_mean) / self.target_scale
        return Y

    def decode(self, indices) -> list:
        """Class indices back to the original labels."""
        return [self.classes[int(k)] for k in np.asarray(indices)]

    def values(self, outputs) -> np.ndarray:
        """Model outputs ``(n, n_targets)`` back in the targets' own units."""
        Y = np.asarray(outputs, dtype=np.float64)
        if self.target_mean is not None:
            Y = Y * self.target_scale + self.target_mean
        return Y

    def n_outputs(self) -> int:
        """The width of the model's output layer for this task."""
        return len(self.classes) if self.task == "classification" else len(self.targets)

    # -- storing --
    def to_dict(self) -> dict:
        """JSON-able metadata (floats exact: JSON keeps a float64's shortest round-trip digits)."""
        def listed(a):
            return None if a is None else [float(v) for v in np.asarray(a).ravel()]

        return {"format": PREPROCESSING_FORMAT, "task": self.task, "features": list(self.features),
                "targets": list(self.targets), "classes": self.classes, "mean": listed(self.mean),
                "scale": listed(self.scale), "target_mean": listed(self.target_mean),
                "target_scale": listed(self.target_scale)}

    @classmethod
    def from_dict(cls, d) -> "Preprocessor":
        """The inverse of :meth:`to_dict`, checking every field (ValueError naming the field)."""
        if not isinstance(d, dict):
            raise ValueError(f"preprocessing must be an object, got {type(d).__name__}")
        if d.get("format") != PREPROCESSING_FORMAT:
            raise ValueError(f"unsupported preprocessing format {d.get('format')!r}; this mlp reads "
                             f"{PREPROCESSING_FORMAT}")
        task = d.get("task")
        if task not in TASKS:
            raise ValueError(f"preprocessing task must be one of {', '.join(TASKS)}, got {task!r}")
        features, targets = d.get("features"), d.get("targets")
        for name, names in (("features", features), ("targets", targets)):
            if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
                raise ValueError(f"preprocessing {name} must be a non-empty list of strings")
            if len(set(names)) != len(names):
                raise ValueError(f"preprocessing {name} holds a name twice")
        classes = d.get("classes")
        if task == "classification":
            if len(targets) != 1:
                raise ValueError("preprocessing: a classifier has exactly one target column")
            ok = isinstance(classes, list) and all(
                isinstance(c, (str, int, bool)) or (isinstance(c, float) and math.isfinite(c)) for c in classes)
            if not ok or len(classes) < 2:
                raise ValueError("preprocessing classes must be a list of at least two labels (str, int, float, bool)")
            if len({_key(c) for c in classes}) != len(classes):
                raise ValueError("preprocessing classes hold a label twice")
        elif classes is not None:
            raise ValueError("preprocessing: a regression model has no classes")
        pre = cls(features, targets, task, classes)
        for stat, width, positive in (("mean", len(features), False), ("scale", len(features), True),
                                      ("target_mean", len(targets), False), ("target_scale", len(targets), True)):
            v = d.get(stat)
            if v is None:
                continue
            if (not isinstance(v, list) or len(v) != width
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                               and (x > 0 or not positive) for x in v)):
                raise ValueError(f"preprocessing {stat} must be a list of {width} finite"
                                 f"{' positive' if positive else ''} numbers")
            setattr(pre, stat, np.asarray(v, dtype=np.float64))
        if (pre.mean is None) != (pre.scale is None) or (pre.target_mean is None) != (pre.target_scale is None):
            raise ValueError("preprocessing: a mean without its scale (or the reverse)")
        if task == "classification" and pre.target_mean is not None:
            raise ValueError("preprocessing: class labels are never standardised")
        return pre


def _key(label):
    # True == 1 in Python: keep booleans apart from integers when matching labels
    return (type(label) is bool, label)


def _stats(A: np.ndarray):
    mean = A.mean(axis=0)
    scale = A.std(axis=0)
    # a constant column: nothing to scale (as scikit-learn's StandardScaler does)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
    return mean, scale


# -- the whole path -------------------------------------------------------------------------------
@dataclass
class Dataset:
    """Features and targets of a table, ready for :class:`Preprocessor`."""

    X: np.ndarray
    y: np.ndarray
    features: list
    targets: list
    task: str
    reason: str
    source: str


def load_table(path, target=None, task=None) -> Dataset:
    """Read ``path`` and split it into features and target, checking both.

    Parameters
    ----------
    path : str or os.PathLike
    target : str or None
        The target column (comma-separated names: several regression targets); default the last.
    task : {"classification", "regression"} or None
        None: inferred from the target (see :func:`mlp.core.tasks.task_of_target`).

    Returns
    -------
    Dataset
        ``X`` float64 ``(n, n_features)``, ``y`` raw labels ``(n,)`` or numbers ``(n,)``/``(n, k)``,
        the names, the task and why it was chosen.

    Raises
    ------
    mlp.core.errors.DataError
        Any problem of the file or its values (see the module's docstring); a classification target
        with one class only.
    """
    table = read_table(path)
    targets = resolve_targets(table, target)
    features = [n for n in table.names if n not in targets]
    X = np.stack([numeric_column(table, f) for f in features], axis=1)
    if task is None:
        if len(targets) > 1:
            task, reason = "regression", f"{len(targets)} target columns"
        else:
            task, reason = task_of_target(label_column(table, targets[0]))
        reason = f"inferred: target {', '.join(targets)!r} - {reason}; --task to override"
    elif task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    else:
        reason = "as asked"
    if task == "classification":
        if len(targets) > 1:
            raise DataError(f"{table.path}: classification takes one target column, got {', '.join(targets)}")
        y = label_column(table, targets[0])
        distinct = {_key(_python_label(v)) for v in y}
        if len(distinct) < 2:
            raise DataError(f"{table.path}, column {targets[0]!r}: the target holds one class only "
                            f"({_python_label(y[0])!r}); a classifier needs at least two")
    else:
        cols = [numeric_column(table, t, role="target") for t in targets]
        y = cols[0] if len(cols) == 1 else np.stack(cols, axis=1)
    return Dataset(X, y, features, targets, task, reason, table.path)
