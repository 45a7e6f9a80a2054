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
from dataclasses import dataclass

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import TASKS, task_of_target

from .readers import FORMATS, Table, label_column, numeric_column, read_table

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

#: the version of :meth:`Preprocessor.to_dict`'s layout
PREPROCESSING_FORMAT = 1

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
