"""The preprocessing that travels with a model: the feature columns, their encoders, the standardisation.

:class:`Preprocessor` holds what a model needs to read new data the way it read its training data: the
feature columns and their encoders (kind, fill values, indicators, categories; :mod:`mlp.io.columns`), the
standardisation statistics (from the training split only), the task, and the classes (the original labels:
strings, integers, booleans).  Its :meth:`Preprocessor.to_dict` is plain JSON that :mod:`mlp.io.checkpoint`
stores in the checkpoint.  :mod:`mlp.io.tables` reads tables into the parsed matrix it is fitted on and
applied to; both are public there (``mlp.tables.Preprocessor``).

Memory: the model's inputs are made block by block (:data:`_BLOCK_CELLS` values at a time) into one array of
the model's dtype, and fitting takes its statistics block by block, so that no float64 copy of a table or of a
split is made beside the parsed matrix (docs/reliability.md, "Memory of the million-row table").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import TASKS

from .columns import Column, guess_kind, parse_column, parse_labels, parse_numeric
from .columns import is_missing as _is_missing
from .columns import label_key as _key
from .columns import python_label as _python_label
from .columns import sort_key as _sort_key
from .frames import as_table
from .readers import Table, check_cast, check_spread

__all__ = ["PREPROCESSING_FORMAT", "Preprocessor", "class_labels"]

#: the values :meth:`Preprocessor.transform` and :meth:`Preprocessor.fit` encode at a time (2 MB of float64)
_BLOCK_CELLS = 1 << 18
#: the version of :meth:`Preprocessor.to_dict`'s layout (2: per-column encoders; 1, read still: numbers only)
PREPROCESSING_FORMAT = 2

def class_labels(y) -> list:
    """The distinct labels of ``y`` as JSON-able Python values, sorted (numbers first, then text)."""
    labels = {_key(_python_label(v)): _python_label(v) for v in np.asarray(y, dtype=object).ravel()}
    return sorted(labels.values(), key=_sort_key)


# -- preprocessing --------------------------------------------------------------------------------
@dataclass
class Preprocessor:
    """What turns a table into the arrays a model reads, and outputs back into labels or values.

    Attributes
    ----------
    features : list of str
        The feature columns the model reads, in order (dropped columns are not among them).
    targets : list of str
        Target column names (one for classification).
    task : {"classification", "regression"}
    classes : list or None
        The original class labels (str, int, float or bool), sorted; the model's output ``k`` is
        ``classes[k]``.  None for regression.
    mean, scale : numpy.ndarray or None
        Standardisation ``(x - mean) / scale`` of the model's inputs (after the column encoders),
        from the training split only; one-hot slots and indicators keep 0 and 1.  None: off.
    target_mean, target_scale : numpy.ndarray or None
        Regression targets standardised the same way (predictions are mapped back); None: off.
    columns : list of mlp.io.columns.Column
        One encoder per feature (default: numbers without fill values, as in format-1 checkpoints).
    """

    features: list
    targets: list
    task: str
    classes: list | None = None
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    target_mean: np.ndarray | None = None
    target_scale: np.ndarray | None = None
    columns: list | None = None

    def __post_init__(self):
        if self.columns is None:
            self.columns = [Column(f, "numeric") for f in self.features]

    # -- building --
    @classmethod
    def fit(cls, X, y, features, targets, task, standardize=True, classes=None, kinds=None, rows=None):
        """Encoders and statistics from ``X`` (the training split) and ``y`` (its raw targets).

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, n_features)
            Parsed feature values (float64 with NaN gaps, or an object array; see :func:`load_table`).
        y : numpy.ndarray, shape (n_samples,) or (n_samples, n_targets)
            Raw labels (classification) or numbers (regression).
        features, targets : list of str
        task : {"classification", "regression"}
        standardize : bool
            Standardise numeric inputs (and regression targets) with the mean and standard deviation
            of the training rows; a constant input gets scale 1.
        classes : list, optional
            The labels to encode against (default: the sorted distinct values of ``y``).
        kinds : dict or list, optional
            Each feature's kind (``{name: kind}`` or ``{name: (kind, reason)}``, or a list in
            ``features`` order); default guessed from the values (:func:`mlp.io.columns.guess_kind`:
            numbers are numeric, dates datetime, anything else categorical).
        rows : array of int, optional
            Fit on these rows of ``X`` and ``y`` only (the training split), without copying them out first;
            default every row.
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        features = list(features)
        X = np.asarray(X)
        if rows is not None:
            rows = np.asarray(rows)
            y = np.asarray(y)[rows]

        def values(j):  # one column of the fitted rows (a copy of one column, never of the matrix)
            return X[:, j] if rows is None else X[rows, j]

        if kinds is None:
            kinds = [guess_kind(values(j)) for j in range(X.shape[1])]
        elif isinstance(kinds, dict):
            kinds = [kinds[f] for f in features]
        kinds = [k[0] if isinstance(k, tuple) else k for k in kinds]
        columns = [Column.fit(f, k, values(j)) for j, (f, k) in enumerate(zip(features, kinds, strict=True))]
        pre = cls(features, list(targets), task, columns=columns)
        if task == "classification":
            pre.classes = class_labels(y) if classes is None else list(classes)
        if standardize:
            pre.mean, pre.scale = _stats(E for _, _, E in pre._encoded(X, rows))
            keep = np.array([s for c in columns for s in c.scaled()], dtype=bool)
            pre.mean, pre.scale = np.where(keep, pre.mean, 0.0), np.where(keep, pre.scale, 1.0)
            if task == "regression":
                Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
                pre.target_mean, pre.target_scale = _stats([Y])
        return pre

    # -- applying --
    def n_inputs(self) -> int:
        """The width of the model's input layer: the sum of the columns' encoded widths."""
        return sum(c.width for c in self.columns)

    def input_names(self) -> list:
        """A name for each model input (``age``, ``age:missing``, ``sex=male``, ``sex:unknown``, ...)."""
        return [n for c in self.columns for n in c.input_names()]

    def code_inputs(self) -> list:
        """``[(input position, number of codes), ...]`` of the categorical columns encoded as codes (many levels),
        for the :class:`mlp.Embedding` a model of this table starts with; ``[]`` when every column is one-hot."""
        out, start = [], 0
        for c in self.columns:
            if c.kind == "categorical" and c.codes:
                out.append((start, c.n_slots))
            start += c.width
        return out

    def select(self, table, need_target: bool = False, release: bool = False):
        """``(X, y)`` from ``table``: the features by name (or by position in a file without names), parsed.

        ``table`` is a :class:`Table`, or a pandas DataFrame or pyarrow Table (see :func:`from_frame`).
        ``X`` is ``(n, n_features)``: float64 when every feature is numeric, else an object array;
        :meth:`transform` makes the model's inputs from it.  ``y`` is the raw target (labels or
        numbers), or None when the table lacks the target columns and ``need_target`` is False; with
        ``need_target``, rows whose target is missing are left out of both.  ``release``: each feature
        column is dropped from ``table`` once copied into ``X`` (for a table read only for this), so that
        the two are not held whole together.
        """
        table = as_table(table)
        names = table.names
        if all(f in names for f in self.features):
            chosen = self.features
        elif not table.named and len(names) == len(self.features):
            chosen = names
        else:
            missing = [f for f in self.features if f not in names]
            raise DataError(f"{table.path}: the model was trained with feature column"
                            f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing[:10])}"
                            f"{', ...' if len(missing) > 10 else ''}, missing here (it has {len(names)} columns)")
        y, rows = None, None
        if all(t in names for t in self.targets) and (table.named or len(names) > len(self.features)):
            y = self.raw_targets(table)
            if need_target:
                keep = ~_target_gaps(y)
                if not keep.any():
                    raise DataError(f"{table.path}: every value of the target column "
                                    f"{', '.join(repr(t) for t in self.targets)} is missing")
                rows = None if keep.all() else np.flatnonzero(keep)
                y = y if rows is None else y[rows]
        elif need_target:
            raise DataError(f"{table.path}: no target column {', '.join(repr(t) for t in self.targets)} "
                            "to evaluate against")
        X = _feature_matrix(table, chosen, [c.kind for c in self.columns], rows, release=release)
        return X, y

    def raw_targets(self, table: Table):
        """The target columns of ``table``: labels (None where missing) or float64 numbers (NaN where missing)."""
        if self.task == "classification":
            return parse_labels(table.column(self.targets[0]))
        cols = [parse_numeric(table, t, table.column(t), role="target") for t in self.targets]
        return cols[0] if len(cols) == 1 else np.stack(cols, axis=1)

    def _check_shape(self, X):
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"features have shape {X.shape}, but the model reads {len(self.features)} columns "
                             f"({', '.join(self.features[:5])}{', ...' if len(self.features) > 5 else ''})")

    def _encoded(self, X, rows=None, row_numbers=None):
        """``(start, positions, E)`` block by block: ``E`` the encodings of rows ``rows`` of ``X`` (default all)
        in blocks of about :data:`_BLOCK_CELLS` values, ``start`` the block's first row among them, and
        ``positions`` those rows' numbers for messages: their places in ``X`` (a range or an index array), or
        ``row_numbers`` at those places.

        What :meth:`fit` and :meth:`transform` walk, so that no float64 copy of the whole table is made.
        """
        self._check_shape(X)
        n = len(X) if rows is None else len(rows)
        step = max(1, _BLOCK_CELLS // max(1, self.n_inputs()))
        for a in range(0, n, step):
            b = min(a + step, n)
            at = range(a, b) if rows is None else rows[a:b]
            named = at if row_numbers is None else np.asarray(row_numbers)[at]
            yield a, named, self.encode_features(X[a:b] if rows is None else X[at], rows=named)

    def encode_features(self, X, rows=None) -> np.ndarray:
        """The columns' encodings side by side, float64 ``(n_samples, n_inputs)``, before standardisation.

        ``rows``: the 0-based row number of each row of ``X``, for messages (default its position).
        """
        X = np.asarray(X)
        self._check_shape(X)
        if X.dtype != object and all(c.kind == "numeric" and not c.indicator for c in self.columns):
            X = X.astype(np.float64)  # the all-numbers fast path: only gaps to fill
            if self.columns and np.isnan(X).any():
                return np.concatenate([c.encode(X[:, j], rows) for j, c in enumerate(self.columns)], axis=1)
            return X
        return np.concatenate([c.encode(X[:, j], rows) for j, c in enumerate(self.columns)], axis=1)

    def transform(self, X, dtype="float32", source: str = "data", rows=None, row_numbers=None) -> np.ndarray:
        """The model's inputs ``(n_samples, n_inputs)`` in ``dtype``: encoded, gaps filled, standardised.

        ``rows`` (an index array): only these rows of ``X``, in this order (``transform(X, rows=i)`` is
        ``transform(X[i])`` without the copy).  The output is allocated once in ``dtype`` and filled block by
        block, so that no float64 copy of the whole table is held.  A value too large for ``dtype`` once
        standardised is refused, naming ``source``, the row and the input: the row of ``X``, or
        ``row_numbers[i]`` (0-based) for row ``i`` of ``X`` (the rows of the file, when some were left out).
        """
        X = np.asarray(X)
        if rows is not None:
            rows = np.asarray(rows)
        names = self.input_names()
        out = np.empty((len(X) if rows is None else len(rows), self.n_inputs()), dtype=dtype)
        for a, at, E in self._encoded(X, rows, row_numbers):
            if self.mean is not None:
                with np.errstate(over="ignore", invalid="ignore"):
                    E = (E - self.mean) / self.scale
            check_cast(E, names, dtype, source, rows=at)
            out[a:a + len(E)] = E
        return out

    def encode(self, y, source: str = "data") -> np.ndarray:
        """Targets for training: class indices (int64) or (standardised) float targets."""
        if self.task == "classification":
            index = {_key(c): k for k, c in enumerate(self.classes)}
            out = np.empty(len(y), dtype=np.int64)
            for i, v in enumerate(np.asarray(y, dtype=object)):
                k = None if _is_missing(v) else index.get(_key(_python_label(v)))
                if k is None:
                    raise DataError(f"{source}, row {i + 1}: label {None if _is_missing(v) else _python_label(v)!r} "
                                    f"is not one of the model's classes {self.classes!r}")
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
        """JSON-able metadata (floats exact: JSON keeps a float64's shortest round-trip digits).

        Layout (format 2): ``format``, ``task``, ``features``, ``targets``, ``classes``, ``columns``
        (one object per feature, see :mod:`mlp.io.columns`), and ``mean``, ``scale`` (one number per
        model input, in the columns' input order; or null), ``target_mean``, ``target_scale`` (one per
        target, or null).
        """
        def listed(a):
            return None if a is None else [float(v) for v in np.asarray(a).ravel()]

        return {"format": PREPROCESSING_FORMAT, "task": self.task, "features": list(self.features),
                "targets": list(self.targets), "classes": self.classes,
                "columns": [c.to_dict() for c in self.columns], "mean": listed(self.mean),
                "scale": listed(self.scale), "target_mean": listed(self.target_mean),
                "target_scale": listed(self.target_scale)}

    @classmethod
    def from_dict(cls, d) -> "Preprocessor":
        """The inverse of :meth:`to_dict` (format 2, or format 1: numbers only), checking every field.

        Raises ValueError naming the field.
        """
        if not isinstance(d, dict):
            raise ValueError(f"preprocessing must be an object, got {type(d).__name__}")
        if d.get("format") not in (1, PREPROCESSING_FORMAT):
            raise ValueError(f"unsupported preprocessing format {d.get('format')!r}; this mlp reads 1 and "
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
        columns = None
        if d["format"] >= 2:
            if not isinstance(d.get("columns"), list):
                raise ValueError("preprocessing columns must be a list (one object per feature)")
            columns = [Column.from_dict(c) for c in d["columns"]]
            if [c.name for c in columns] != features:
                raise ValueError("preprocessing columns do not name the features, in their order")
        elif "columns" in d:
            raise ValueError("preprocessing format 1 has no columns")
        pre = cls(features, targets, task, classes, columns=columns)
        for stat, width, positive in (("mean", pre.n_inputs(), False), ("scale", pre.n_inputs(), True),
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


def _target_gaps(y) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype == object:
        return np.array([_is_missing(v) for v in y], dtype=bool)
    return np.isnan(y).reshape(len(y), -1).any(axis=1)


def _stats(blocks):
    """The mean and standard deviation of the rows of ``blocks`` (arrays ``(n_b, k)``, one after the other).

    Each block's mean and sum of squared deviations, combined with Chan, Golub and LeVeque's update (as
    stable as one pass over all the rows); one block gives numpy's ``mean`` and ``std`` bit for bit.
    """
    n, mean, m2 = 0, None, None
    for A in blocks:
        k = len(A)
        if not k:
            continue
        mu = A.mean(axis=0)
        d = A - mu
        q = (d * d).sum(axis=0)
        if not n:
            n, mean, m2 = k, mu, q
            continue
        delta = mu - mean
        mean = mean + delta * (k / (n + k))
        m2 = m2 + q + delta * delta * (n * k / (n + k))
        n += k
    if not n:
        raise ValueError("no rows to compute the standardisation from")
    scale = np.sqrt(m2 / n)
    # a constant column: nothing to scale (as scikit-learn's StandardScaler does)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)
    return mean, scale


def _feature_matrix(table: Table, names, kinds, rows=None, lenient=None, release=False, checked=False):
    """The parsed columns ``names`` of ``table`` (of ``kinds``), rows ``rows`` (default all), side by side.

    float64 ``(len(rows), len(names))`` when every column is numeric, else an object array, allocated
    once (column-major) and filled column by column; ``release``: each column of ``table`` is dropped from it once
    copied (a table read here, that nobody else holds), so that the table and the matrix are never both
    held whole.  ``checked``: numeric columns whose standardisation would overflow are refused (see
    :func:`mlp.io.readers.check_spread`).
    """
    all_rows = rows is None or len(rows) == table.n_rows
    n = table.n_rows if rows is None else len(rows)
    numeric = all(k == "numeric" for k in kinds)
    # column-major: filling a column touches that column's pages only, so the table's columns go as X grows
    X = np.empty((n, len(names)), dtype=np.float64 if numeric else object, order="F")
    for j, (name, kind) in enumerate(zip(names, kinds, strict=True)):
        col = parse_column(table, name, kind, lenient=bool(lenient[j]) if lenient is not None else False)
        if checked and kind == "numeric":
            check_spread(table, name, col)  # numbers whose standardisation would overflow, refused at the door
        X[:, j] = col if all_rows else col[rows]
        del col
        if release:
            table.columns[table.names.index(name)] = None
    return X
