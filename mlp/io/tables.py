"""Your own data: tables from files, checked, and the preprocessing that travels with a model.

Files are read by :mod:`mlp.io.readers` (CSV, TSV, Parquet, NPY, NPZ: the formats and their rules are
described there).

Every problem with the data is a :class:`mlp.core.errors.DataError` naming the file, the row (1-based,
counting data rows; for CSV files also the line) and the column: a value of the wrong kind (text in a
mostly numeric column), a target column that does not exist, a target with one class only.

Columns come as they are (:mod:`mlp.io.columns`): numbers, categories (text, booleans), dates; gaps are
filled (numbers: the training median plus a missing-indicator; categories: a category of their own);
identifier-like and constant columns are dropped.  Rows whose target is missing are left out.

:class:`Preprocessor` (defined in :mod:`mlp.io.preprocessing`, public here) holds what a model needs to
read new data the way it read its training data; :func:`load_table` gives the :class:`Dataset` it is fitted
on.  :func:`from_frame` reads a pandas DataFrame or a pyarrow Table into the same :class:`Table` as the
file readers, so the same preprocessing applies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import TASKS, task_of_target

from .columns import infer_kinds, kind_lines
from .columns import is_missing as _is_missing
from .columns import label_key as _key
from .frames import as_table, from_frame
from .preprocessing import PREPROCESSING_FORMAT, Preprocessor, _feature_matrix, _target_gaps, class_labels
from .readers import FORMATS, Table, check_spread, label_column, numeric_column, read_table

__all__ = [
    "FORMATS",
    "PREPROCESSING_FORMAT",
    "Dataset",
    "Preprocessor",
    "Table",
    "class_labels",
    "from_frame",
    "kind_lines",
    "label_column",
    "load_table",
    "numeric_column",
    "read_table",
    "resolve_targets",
    "split_indices",
]

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


# -- the whole path -------------------------------------------------------------------------------
@dataclass
class Dataset:
    """Features and targets of a table, ready for :class:`Preprocessor`.

    ``X`` holds the parsed features of the rows with a target (``rows``: their 0-based indices in the
    file, None when that is every row; ``left_out``: those whose target is missing); ``kinds`` is
    ``{name: (kind, reason)}`` and ``dropped`` ``{name: reason}`` (see :func:`mlp.io.columns.infer_kinds`).
    """

    X: np.ndarray
    y: np.ndarray
    features: list
    targets: list
    task: str
    reason: str
    source: str
    kinds: dict = field(default_factory=dict)
    dropped: dict = field(default_factory=dict)
    rows: np.ndarray | None = None
    left_out: np.ndarray | None = None

    def preprocessor(self, rows=None, standardize=True, classes=None) -> Preprocessor:
        """A :class:`Preprocessor` fitted on ``rows`` (indices into ``X``; default all), with this table's kinds.

        The classes default to those of every row, so that a class seen only in validation rows is known.
        """
        if classes is None and self.task == "classification":
            classes = class_labels(self.y)
        return Preprocessor.fit(self.X, self.y, self.features, self.targets, self.task, standardize=standardize,
                                classes=classes, kinds=self.kinds, rows=rows)

    def lines(self, pre: Preprocessor | None = None, verbose: bool = False) -> list:
        """What was made of the columns and rows, in words (one line per kind; ``verbose``: per column)."""
        columns = {c.name: c for c in pre.columns} if pre is not None else None
        out = kind_lines(self.kinds, self.dropped, columns, verbose)
        if self.left_out is not None and len(self.left_out):
            shown = ", ".join(str(int(i) + 1) for i in self.left_out[:8]) + (", ..." if len(self.left_out) > 8 else "")
            out.append(f"rows left out: {len(self.left_out)} with a missing target (rows {shown})")
        return out


def _names_arg(names) -> list:
    if names is None:
        return []
    return [n.strip() for n in names.split(",") if n.strip()] if isinstance(names, str) else list(names)


def _check_targets(table, targets, task, y, rows):
    """Refuse non-finite targets (``inf`` among labels or values) and target values whose spread overflows."""
    if task == "classification":
        for i, v in enumerate(y):
            if isinstance(v, (float, np.floating)) and not math.isfinite(v):
                raise DataError(f"{table.where(int(rows[i]), targets[0])}: {v} is not a finite number, so not a "
                                "class label")
        return
    Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    for k, name in enumerate(targets):
        bad = np.flatnonzero(~np.isfinite(Y[:, k]))
        if bad.size:
            raise DataError(f"{table.where(int(rows[bad[0]]), name)}: target value {Y[bad[0], k]} is not a finite "
                            "number")
        check_spread(table, name, Y[:, k], role="target")


def _task(table, targets, task):
    """``(task, why)``: ``task`` as asked, or inferred from the target column(s) (see :func:`task_of_target`)."""
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        return task, "as asked"
    if len(targets) > 1:
        task, reason = "regression", f"{len(targets)} target columns"
    else:
        col = table.column(targets[0])
        if col.dtype == object:
            present = np.array([v for v in col if not _is_missing(v)] + [None], dtype=object)[:-1]
        else:
            present = col[~np.isnan(col)]  # not a list of a million NumPy scalars (40 MB)
        if not len(present):
            raise DataError(f"{table.path}, column {targets[0]!r}: every target value is missing")
        task, reason = task_of_target(present)
    return task, f"inferred: target {', '.join(targets)!r} - {reason}; --task to override"


def load_table(path, target=None, task=None, categorical=None, numeric=None, drop=None, sep=None) -> Dataset:
    """Read ``path`` and split it into features and target, inferring each column's kind and checking both.

    Parameters
    ----------
    path : str, os.PathLike, Table, pandas.DataFrame or pyarrow.Table
    target : str or None
        The target column (comma-separated names: several regression targets); default the last.
    task : {"classification", "regression"} or None
        None: inferred from the target (see :func:`mlp.core.tasks.task_of_target`).
    categorical, numeric, drop : list of str or comma-separated str, optional
        Columns to read as categories, as numbers (text that is not a number: a gap), or to leave out;
        they override the inference (see :mod:`mlp.io.columns`).
    sep : str, optional
        A CSV file's delimiter (see :func:`read_table`).

    Returns
    -------
    Dataset
        ``X`` parsed features ``(n, n_features)`` of the rows whose target is present (float64 when all
        are numeric, else object), ``y`` raw labels ``(n,)`` or numbers ``(n,)``/``(n, k)``, the names,
        the kinds, the task and why it was chosen.

    Raises
    ------
    mlp.core.errors.DataError
        Any problem of the file or its values (see the module's docstring); a column named in
        ``categorical``, ``numeric`` or ``drop`` that is not there; a classification target with one
        class only; no feature left.
    """
    table = as_table(path, sep)
    targets = resolve_targets(table, target)
    overrides = {k: _names_arg(v) for k, v in (("categorical", categorical), ("numeric", numeric), ("drop", drop))}
    listing = ", ".join(repr(n) for n in table.names[:20]) + (", ..." if len(table.names) > 20 else "")
    for option, names in overrides.items():
        for n in names:
            if n not in table.names:
                raise DataError(f"{table.path}: no column {n!r} (--{option}); the columns are {listing}")
            if n in targets:
                raise DataError(f"{table.path}: column {n!r} is the target; --{option} names feature columns")
    both = set(overrides["categorical"]) & set(overrides["numeric"])
    if both:
        raise ValueError(f"column {sorted(both)[0]!r} is named both categorical and numeric")
    features = [n for n in table.names if n not in targets]
    kinds, dropped = infer_kinds(table, features, **overrides)
    if not kinds:
        raise DataError(f"{table.path}: no feature column left: "
                        + "; ".join(f"{n!r} {why}" for n, why in list(dropped.items())[:5]))
    task, reason = _task(table, targets, task)
    pre = Preprocessor(features, targets, task, columns=[])
    if task == "classification" and len(targets) > 1:
        raise DataError(f"{table.path}: classification takes one target column, got {', '.join(targets)}")
    y = pre.raw_targets(table)
    gaps = _target_gaps(y)
    rows, left_out = np.flatnonzero(~gaps), np.flatnonzero(gaps)
    if not len(rows):
        raise DataError(f"{table.path}, column {targets[0]!r}: every target value is missing")
    if len(left_out):
        y = y[rows]
    if task == "classification":
        distinct = {_key(v) for v in y}
        if len(distinct) < 2:
            raise DataError(f"{table.path}, column {targets[0]!r}: the target holds one class only "
                            f"({y[0]!r}); a classifier needs at least two")
    _check_targets(table, targets, task, y, rows)
    names = list(kinds)
    lenient = [kinds[n][1] == "--numeric" for n in names]  # text in a column named --numeric: a gap
    # a table read here is held by nobody else: its columns are dropped as the matrix takes them
    X = _feature_matrix(table, names, [kinds[n][0] for n in names], rows, lenient, release=table is not path,
                        checked=True)
    return Dataset(X, y, names, targets, task, reason, table.path, kinds, dropped,
                   rows if len(left_out) else None, left_out)
