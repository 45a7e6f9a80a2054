"""Stage 5 of the table pipeline, preprocessing: fitted on the training rows, applied to any table.

:class:`Preprocessor` holds what a model needs to read new data the way it read its training data: the
feature columns and their encoders (kind, fill values, indicators, categories; :mod:`mlp.io.tables.encoders`),
the standardisation statistics (from the training split only), the task, and the classes (the original labels:
strings, integers, booleans).  Its :meth:`Preprocessor.to_dict` is plain JSON that :mod:`mlp.io.checkpoint`
stores in the checkpoint.

Model inputs are made block by block (:mod:`mlp.io.tables.batches`) from the typed columns, into the model's
dtype: a categorical column is one input, its slot's number, which the model's
first layers (:meth:`Preprocessor.input_layers`: :class:`mlp.OneHot`, :class:`mlp.Embedding`) expand a batch at
a time.  So a table of a million rows with text columns costs its numbers and one code per text column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import TASKS

from .batches import model_inputs
from .cells import current_decimal, label_key, sort_key
from .encoders import MAX_LEVELS, Column
from .frames import as_table
from .kinds import ColumnKind, infer_kinds
from .read import table_names
from .typed import Table, column_of
from .values import as_levels, as_numbers

__all__ = [
    "CLIP",
    "EMBEDDING_MOST",
    "NUMERIC_EMBEDDINGS",
    "PREPROCESSING_FORMAT",
    "Preprocessor",
    "SCALINGS",
    "class_labels",
    "embedding_dim",
    "robust_statistics",
]

#: the version of :meth:`Preprocessor.to_dict`'s layout (4: the scaling's name, the smooth clip and the targets'
#: range; 3, read still: categorical columns as codes the model expands; 2, read still: per-column encoders,
#: one-hot made here; 1, read still: numbers only)
PREPROCESSING_FORMAT = 4
#: how numeric inputs are scaled: ``"robust"`` (the default: centred on the median, divided by the interquartile
#: range, then smoothly clipped to +-:data:`CLIP`, as RealMLP-TD does) or ``"standard"`` (mean and standard deviation)
SCALINGS = ("robust", "standard")
#: where the smooth clip of robustly scaled inputs levels off: ``x / sqrt(1 + (x / CLIP)**2)``
CLIP = 3.0
#: the numeric embeddings :meth:`Preprocessor.input_layers` can put first (None: the numbers as they are)
NUMERIC_EMBEDDINGS = (None, "periodic")
#: the widest learned vector of a categorical column of many levels (see :func:`embedding_dim`)
EMBEDDING_MOST = 16


def embedding_dim(n_codes: int) -> int:
    """The width of the learned vectors for a column of ``n_codes`` codes: ``1.6 * n**0.56`` (fast.ai's rule of
    thumb), at most :data:`EMBEDDING_MOST`."""
    return max(1, min(EMBEDDING_MOST, round(1.6 * n_codes**0.56)))


def class_labels(y) -> list:
    """The distinct labels of ``y`` (an array, a list, or a typed column of labels) as JSON-able Python values,
    sorted (numbers first, then text)."""
    coded = as_levels(_Labels("labels"), "labels", column=column_of(y if not isinstance(y, np.ndarray) else y.ravel()))
    return sorted((coded.levels[k] for k in np.flatnonzero(coded.counts())), key=sort_key)


def robust_statistics(values, weights=None) -> tuple:
    """``(median, scale)`` of ``values`` (1-D; each repeated ``weights`` times when given, as counted distinct
    values are): RealMLP-TD's robust scaling, the scale the interquartile range (NumPy's linear quantiles), or half
    the range where the middle half is one value; 1 for a constant (or empty) column."""
    v = np.asarray(values, dtype=np.float64)
    if weights is not None:
        keep = np.asarray(weights) > 0
        v, weights = v[keep], np.asarray(weights, dtype=np.float64)[keep]
    if not v.size:
        return 0.0, 1.0
    if weights is None:
        q25, median, q75 = (float(q) for q in np.quantile(v, [0.25, 0.5, 0.75]))
    else:
        q25, median, q75 = (_weighted_quantile(v, weights, q) for q in (0.25, 0.5, 0.75))
    scale = q75 - q25
    if not scale > 0:
        scale = 0.5 * (float(v.max()) - float(v.min()))
    return median, scale if scale > 1e-12 * max(1.0, abs(median)) else 1.0


def _weighted_quantile(values, weights, q: float) -> float:
    """NumPy's (linear) ``quantile(q)`` of ``values`` each repeated ``weights`` times, without repeating them."""
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(weights[order])

    def at(position):  # the value at 0-based ``position`` of the multiset, in order
        return float(values[min(int(np.searchsorted(cum, position, side="right")), len(values) - 1)])

    position = q * (cum[-1] - 1)
    below = math.floor(position)
    low, high = at(below), at(below + 1)
    t = position - below
    # NumPy's linear interpolation, to the last bit: from the nearer end (numpy.lib._function_base_impl._lerp)
    return high - (high - low) * (1 - t) if t >= 0.5 else low + (high - low) * t


def _robust(A: np.ndarray, present: np.ndarray | None = None):
    """:func:`robust_statistics` of each column of ``A`` (n, k), over the rows ``present`` (a boolean mask;
    default all)."""
    if present is not None:
        A = A[present]
    stats = [robust_statistics(A[:, j]) for j in range(A.shape[1])]
    return np.array([m for m, _ in stats]), np.array([s for _, s in stats])


def _moments(A: np.ndarray):
    """Mean and standard deviation of the columns of ``A`` (n, k); a constant column gets scale 1 (as
    scikit-learn's StandardScaler)."""
    if not len(A):
        raise ValueError("no rows to compute the standardisation from")
    mean = A.mean(axis=0)
    scale = A.std(axis=0)
    return mean, np.where(scale > 1e-12 * np.maximum(1.0, np.abs(mean)), scale, 1.0)


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
        Scaling ``(x - mean) / scale`` of the model's inputs (after the column encoders), from the training split
        only: the median and interquartile range (``scaling="robust"``) or the mean and standard deviation
        (``"standard"``); codes, one-hot slots and indicators keep 0 and 1.  None: off.
    scaling : {"robust", "standard"} or None
        Which statistics ``mean`` and ``scale`` are (None: not scaled); said in messages.
    clip : float or None
        The smooth clip ``x / sqrt(1 + (x / clip)**2)`` applied to the scaled inputs (not to codes nor indicators)
        after the scaling: a value far out in a heavy tail reaches the network near ``+-clip``, not at 50.  None: off.
    target_mean, target_scale : numpy.ndarray or None
        Regression targets standardised (with their mean and standard deviation; predictions are mapped back);
        None: off.
    target_low, target_high : numpy.ndarray or None
        Regression: the smallest and largest target of the training rows; predictions are kept within them (a
        network extrapolating from an input far outside the training rows cannot predict ten times the largest
        price seen).  None: not kept.
    columns : list of mlp.io.tables.encoders.Column
        One encoder per feature (default: numbers without fill values, as in format-1 checkpoints).
    decimal : {".", ","}
        The decimal point of the numbers of the CSV table it was fitted on (``mlp train --decimal ,``; default:
        the one in force when it is made, see :func:`mlp.io.tables.decimal_point`): the one ``mlp predict`` and
        ``mlp evaluate`` read their tables with unless ``--decimal`` says otherwise.
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
    decimal: str = field(default_factory=current_decimal)
    scaling: str | None = None
    clip: float | None = None
    target_low: np.ndarray | None = None
    target_high: np.ndarray | None = None

    def __post_init__(self):
        if self.columns is None:
            self.columns = [Column(f, "numeric") for f in self.features]

    # -- building --
    @classmethod
    def fit(
        cls,
        data,
        features,
        targets,
        task,
        *,
        y=None,
        kinds=None,
        rows=None,
        standardize=True,
        classes=None,
        max_levels=MAX_LEVELS,
        scaling="robust",
        clip=CLIP,
        clamp=True,
    ):
        """Encoders and statistics from the rows ``rows`` (default all) of a table.

        Parameters
        ----------
        data : Table, str, os.PathLike, pandas.DataFrame, pyarrow.Table or 2-D array
            The table (an array's columns are the ``features``, in order: numbers, or any labels).
        features, targets : list of str
        task : {"classification", "regression"}
        kinds : dict, optional
            ``{name: ColumnKind or kind}`` for the features (default: inferred, :func:`infer_kinds`, keeping
            every column); columns whose kind is ``"dropped"`` are left out.
        rows : array of int, optional
            The training rows of the table; default every row.
        standardize : bool
            Scale numeric inputs (and standardise regression targets) with statistics of the training rows.
        scaling : {"robust", "standard"}
            ``"robust"``: the inputs centred on their median and divided by their interquartile range (over the
            values present: gaps do not count), then smoothly clipped to ``+-clip``; ``"standard"``: the mean and
            standard deviation (of the filled values), no clip.  A constant input gets scale 1.
        clip : float or None
            Where the smooth clip of robustly scaled inputs levels off (None: no clip).
        clamp : bool
            Regression: keep predictions within the training targets' range.
        classes : list, optional
            Classification: the labels to encode against (default: the sorted distinct target labels).
        y : array, optional
            The targets of the table's rows (or of ``rows``, when it has as many): labels, or values ``(n,)``
            or ``(n, k)``; default: read from the table's target columns.
        """
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        table = _feature_table(data, features)
        if kinds is None:
            kinds = infer_kinds(table, features, keep_all=True)
        # a kind handed over as a word is read strictly (text in a numeric column is an error, not a gap)
        kinds = {n: (k if isinstance(k, ColumnKind) else ColumnKind(k, "given", "")) for n, k in kinds.items()}
        used = [f for f in features if kinds[f].used]
        rows = None if rows is None else np.asarray(rows)
        columns = [
            Column.fit(table, f, kinds[f].kind, rows, lenient=_lenient(kinds[f]), max_levels=max_levels) for f in used
        ]
        pre = cls(used, list(targets), task, columns=columns)
        if y is not None and rows is not None and len(y) == table.n_rows != len(rows):
            y = np.asarray(y)[rows]  # the targets of every row: those of the training rows
        if task == "classification":
            if classes is None and y is not None:
                classes = class_labels(y)
            elif classes is None:
                coded = as_levels(table, targets[0])
                counts = coded.counts(rows)
                classes = sorted((coded.levels[k] for k in np.flatnonzero(counts)), key=sort_key)
            pre.classes = list(classes)
        if scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
        if standardize:
            means, scales = [], []
            for c in columns:
                E = c.encode(c.parse(table), slice(None) if rows is None else rows)
                if scaling == "robust":  # over the values present: a column's gaps are its indicator's ones
                    mean, scale = _robust(E, E[:, -1] == 0 if c.indicator else None)
                else:
                    mean, scale = _moments(E)
                keep = np.array(c.scaled(), dtype=bool)
                means.append(np.where(keep, mean, 0.0))
                scales.append(np.where(keep, scale, 1.0))
            pre.mean, pre.scale = np.concatenate(means), np.concatenate(scales)
            pre.scaling = scaling
            pre.clip = float(clip) if scaling == "robust" and clip is not None else None
        if task == "regression" and (standardize or clamp):
            if y is None:
                y = np.stack([as_numbers(table, t, role="target") for t in targets], axis=1)
                y = y if rows is None else y[rows]
            Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
            Y = Y[~np.isnan(Y).any(axis=1)]  # rows without a target: not trained on, not counted
            if standardize:
                pre.target_mean, pre.target_scale = _moments(Y)
            if clamp and len(Y):
                pre.target_low, pre.target_high = Y.min(axis=0), Y.max(axis=0)
        return pre

    def inverse_clip(self) -> np.ndarray | None:
        """``1 / clip`` for each model input the smooth clip applies to, 0 for the others (codes, indicators: 0
        leaves them exactly as they are); None when there is no clip."""
        if self.clip is None:
            return None
        scaled = np.array([s for c in self.columns for s in c.scaled()], dtype=bool)
        return np.where(scaled, 1.0 / self.clip, 0.0)

    # -- the model's inputs --
    def n_inputs(self) -> int:
        """The width of the model's input: the sum of the columns' encoded widths (a code is one input)."""
        return sum(c.width for c in self.columns)

    def input_names(self) -> list:
        """A name for each model input (``age``, ``age:missing``, ``sex:code``, ...)."""
        return [n for c in self.columns for n in c.input_names()]

    def code_inputs(self, layer=None) -> list:
        """``[(input position, number of codes), ...]`` of the categorical columns given as codes (those read by
        ``layer``, ``"OneHot"`` or ``"Embedding"``, when given); ``[]`` when there are none."""
        out, start = [], 0
        for c in self.columns:
            if c.kind == "categorical" and c.codes and layer in (None, c.layer):
                out.append((start, c.n_slots))
            start += c.width
        return out

    def input_layers(self, embedding_dim=embedding_dim, numeric_embedding=None) -> list:
        """The layers a model of this table starts with: with ``numeric_embedding="periodic"``, a
        :class:`mlp.PeriodicEmbedding` of the scaled numbers (and date parts; its features come after the inputs,
        which keep their places); a :class:`mlp.OneHot` that expands the codes of the categorical columns of few
        levels, then an :class:`mlp.Embedding` of learned vectors for those of many (``embedding_dim(n_codes)``:
        their width; default :func:`embedding_dim` of the most codes); ``[]`` for a table of numbers without a
        numeric embedding.  ``mlp.build_mlp(sizes, input_layers=pre.input_layers())`` puts them first."""
        from mlp.core.layers import Embedding, OneHot, PeriodicEmbedding

        if numeric_embedding not in NUMERIC_EMBEDDINGS:
            raise ValueError(
                f"numeric_embedding must be one of {', '.join(map(repr, NUMERIC_EMBEDDINGS))}, got "
                f"{numeric_embedding!r}"
            )
        layers, width = [], self.n_inputs()
        numbers = [j for j, scaled in enumerate(s for c in self.columns for s in c.scaled()) if scaled]
        if numeric_embedding == "periodic" and numbers:
            layers.append(PeriodicEmbedding(width, numbers))
            width = layers[-1].n_out
        onehot = self.code_inputs("OneHot")
        if onehot:
            layer = OneHot(width, [j for j, _ in onehot], [k for _, k in onehot])
            layers.append(layer)
            source = layer.source_columns()
            moved = {j: source.index(j) for j in range(width) if j in source}
            width = layer.n_out
        else:
            moved = {j: j for j in range(width)}
        embedded = self.code_inputs("Embedding")
        if embedded:
            counts = [k for _, k in embedded]
            layers.append(Embedding(width, [moved[j] for j, _ in embedded], counts, embedding_dim(max(counts))))
        return layers

    def _table_columns(self, table: Table) -> dict:
        """``{feature: name in table}``: the features by name (a name with spaces around it, as earlier versions
        kept them, also by its trimmed name), or by position in a file without names."""
        found = feature_names_in(table.names, self.features)
        if found is not None:
            return found
        if not table.named and len(table.names) == len(self.features):
            return dict(zip(self.features, table.names, strict=True))
        missing = [f for f in self.features if f not in table.names and f.strip() not in table.names]
        raise DataError(
            f"{table.path}: the model was trained with feature column"
            f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing[:10])}"
            f"{', ...' if len(missing) > 10 else ''}, missing here (it has {len(table.names)} columns)"
        )

    def parse_check(self, table: Table):
        """A DataError naming the features ``table`` lacks (by name; by position in a file without names)."""
        self._table_columns(table)

    def parse(self, table: Table, check: bool = False) -> list:
        """Each column of ``table`` ready to encode (see :meth:`mlp.io.tables.encoders.Column.parse`), in order.

        ``check``: a new table (``mlp predict``, ``mlp evaluate``): values the model does not know are said, and a
        column of another type of values, none known, refused."""
        found = self._table_columns(table)
        parsed = []
        for c in self.columns:
            name = found[c.name]
            if name != c.name:  # a file without names (its columns by position), or a name trimmed
                parsed.append(Column(**{**c.__dict__, "name": name}).parse(table, check))
            else:
                parsed.append(c.parse(table, check))
        return parsed

    def transform(
        self, data, dtype="float32", source: str | None = None, rows=None, row_numbers=None, check: bool = False
    ) -> np.ndarray:
        """The model's inputs ``(n_samples, n_inputs)`` in ``dtype``: encoded, gaps filled, standardised.

        ``data``: a :class:`Table`, a table file, a pandas DataFrame or a pyarrow Table (features matched by
        name; a file is read for the features only).  ``rows`` (indices): only these rows, in this order.  The
        output is allocated once in ``dtype`` and filled block by block.  ``source`` names the data in
        messages; ``row_numbers[i]`` (0-based) is the file's row of the table's row ``i``.
        """
        table = _feature_table(data, self.features, columns=self.features)
        return model_inputs(
            self,
            self.parse(table, check),
            table.n_rows,
            dtype,
            None if rows is None else np.asarray(rows),
            row_numbers,
            source or table.path,
        )

    # -- targets --
    def encode(self, y, source: str = "data") -> np.ndarray:
        """Targets for training: class indices (int64) from labels, or (standardised) float targets.

        ``y``: labels or values (an array or list), or a typed column (:mod:`mlp.io.tables.typed`).
        """
        if self.task == "classification":
            coded = as_levels(_Labels(source), "target", column=column_of(y))
            return self.class_indices(coded, source)
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if self.target_mean is not None:
            Y = (Y - self.target_mean) / self.target_scale
        return Y

    def class_indices(self, coded, source: str = "data", row_numbers=None, where=None) -> np.ndarray:
        """int64 class index of each row of a column of labels (``coded``: codes into distinct labels, see
        :func:`mlp.io.tables.values.as_levels`); a label that is not one of :attr:`classes` (or a gap) is a
        DataError naming the row."""
        index = {label_key(c): k for k, c in enumerate(self.classes)}
        of_level = np.array([index.get(label_key(v), -1) for v in coded.levels] + [-1], dtype=np.int64)
        out = of_level[coded.codes]
        bad = np.flatnonzero(out < 0)
        if bad.size:
            i = int(bad[0])
            row = i if row_numbers is None else int(row_numbers[i])
            label = None if coded.codes[i] < 0 else coded.levels[coded.codes[i]]
            at = where(row) if where is not None else f"{source}, row {row + 1}"
            raise DataError(f"{at}: label {label!r} is not one of the model's classes {self.classes!r}")
        return out

    def decode(self, indices) -> list:
        """Class indices back to the original labels."""
        return [self.classes[int(k)] for k in np.asarray(indices)]

    def values(self, outputs, clamp: bool = True) -> np.ndarray:
        """Model outputs ``(n, n_targets)`` back in the targets' own units, kept within the training targets' range
        (``clamp=False``: not kept; for encoded true targets, which are what they are)."""
        Y = np.asarray(outputs, dtype=np.float64)
        if self.target_mean is not None:
            Y = Y * self.target_scale + self.target_mean
        if clamp and self.target_low is not None:
            Y = np.minimum(np.maximum(Y, self.target_low), self.target_high)  # NaN stays NaN
        return Y

    def n_outputs(self) -> int:
        """The width of the model's output layer for this task."""
        return len(self.classes) if self.task == "classification" else len(self.targets)

    # -- storing --
    def to_dict(self) -> dict:
        """JSON-able metadata (floats exact: JSON keeps a float64's shortest round-trip digits).

        Layout (format 4): ``format``, ``task``, ``features``, ``targets``, ``classes``, ``columns``
        (one object per feature, see :mod:`mlp.io.tables.encoders`), and ``mean``, ``scale`` (one number per
        model input, in the columns' input order; or null), ``target_mean``, ``target_scale`` (one per
        target, or null); ``decimal``: ``","`` when the table was read with a decimal comma (absent: ``"."``, as
        in every checkpoint written before it was stored); ``scaling`` (``"robust"``, ``"standard"`` or null),
        ``clip`` (a number or null), ``target_low``, ``target_high`` (one per target, or null).  Format 3 is
        format 4 without the last four (standard scaling where ``mean`` is set, no clip, no range).
        """

        def listed(a):
            return None if a is None else [float(v) for v in np.asarray(a).ravel()]

        return {
            "format": PREPROCESSING_FORMAT,
            "task": self.task,
            "features": list(self.features),
            "targets": list(self.targets),
            "classes": self.classes,
            "columns": [c.to_dict() for c in self.columns],
            "mean": listed(self.mean),
            "scale": listed(self.scale),
            "target_mean": listed(self.target_mean),
            "target_scale": listed(self.target_scale),
            **({"decimal": ","} if self.decimal == "," else {}),
            "scaling": None if self.mean is None else (self.scaling or "standard"),
            "clip": self.clip,
            "target_low": listed(self.target_low),
            "target_high": listed(self.target_high),
        }

    @classmethod
    def from_dict(cls, d) -> "Preprocessor":
        """The inverse of :meth:`to_dict` (format 3, 2, or 1: numbers only), checking every field.

        Raises ValueError naming the field.
        """
        if not isinstance(d, dict):
            raise ValueError(f"preprocessing must be an object, got {type(d).__name__}")
        if d.get("format") not in (1, 2, 3, PREPROCESSING_FORMAT) or isinstance(d.get("format"), bool):
            raise ValueError(
                f"unsupported preprocessing format {d.get('format')!r}; this mlp reads 1 to {PREPROCESSING_FORMAT}"
            )
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
                isinstance(c, (str, int, bool)) or (isinstance(c, float) and math.isfinite(c)) for c in classes
            )
            if not ok or len(classes) < 2:
                raise ValueError("preprocessing classes must be a list of at least two labels (str, int, float, bool)")
            if len({label_key(c) for c in classes}) != len(classes):
                raise ValueError("preprocessing classes hold a label twice")
        elif classes is not None:
            raise ValueError("preprocessing: a regression model has no classes")
        columns = None
        if d["format"] >= 2:
            if not isinstance(d.get("columns"), list):
                raise ValueError("preprocessing columns must be a list (one object per feature)")
            columns = [Column.from_dict(c, d["format"]) for c in d["columns"]]
            if [c.name for c in columns] != features:
                raise ValueError("preprocessing columns do not name the features, in their order")
        elif "columns" in d:
            raise ValueError("preprocessing format 1 has no columns")
        decimal = d.get("decimal", ".")
        if decimal not in (".", ","):
            raise ValueError(f"preprocessing decimal must be '.' or ',', got {decimal!r}")
        pre = cls(features, targets, task, classes, columns=columns, decimal=decimal)
        later = ("scaling", "clip", "target_low", "target_high")
        if d["format"] < 4 and any(d.get(k) is not None for k in later):
            raise ValueError(
                f"preprocessing format {d['format']} has no {', '.join(k for k in later if d.get(k) is not None)}"
            )
        for stat, width, positive in (
            ("mean", pre.n_inputs(), False),
            ("scale", pre.n_inputs(), True),
            ("target_mean", len(targets), False),
            ("target_scale", len(targets), True),
            ("target_low", len(targets), False),
            ("target_high", len(targets), False),
        ):
            v = d.get(stat)
            if v is None:
                continue
            if (
                not isinstance(v, list)
                or len(v) != width
                or not all(
                    isinstance(x, (int, float))
                    and not isinstance(x, bool)
                    and math.isfinite(x)
                    and (x > 0 or not positive)
                    for x in v
                )
            ):
                raise ValueError(
                    f"preprocessing {stat} must be a list of {width} finite{' positive' if positive else ''} numbers"
                )
            setattr(pre, stat, np.asarray(v, dtype=np.float64))
        if (pre.mean is None) != (pre.scale is None) or (pre.target_mean is None) != (pre.target_scale is None):
            raise ValueError("preprocessing: a mean without its scale (or the reverse)")
        if task == "classification" and pre.target_mean is not None:
            raise ValueError("preprocessing: class labels are never standardised")
        if (pre.target_low is None) != (pre.target_high is None):
            raise ValueError("preprocessing: a target_low without its target_high (or the reverse)")
        if pre.target_low is not None and (task == "classification" or np.any(pre.target_low > pre.target_high)):
            raise ValueError("preprocessing target_low and target_high must be a regression's range (low <= high)")
        scaling = d.get("scaling", "standard" if pre.mean is not None else None)
        if scaling not in (*SCALINGS, None) or (scaling is None) != (pre.mean is None):
            raise ValueError(
                f"preprocessing scaling must be one of {', '.join(SCALINGS)} (or null without a mean), got {scaling!r}"
            )
        clip = d.get("clip")
        if clip is not None and (
            isinstance(clip, bool)
            or not isinstance(clip, (int, float))
            or not math.isfinite(clip)
            or clip <= 0
            or scaling != "robust"
        ):
            raise ValueError(f"preprocessing clip must be a positive number on robust scaling, or null; got {clip!r}")
        pre.scaling, pre.clip = scaling, None if clip is None else float(clip)
        return pre


def _lenient(kind: ColumnKind) -> bool:
    """Whether a column's values that are not of its kind are gaps: a column named numeric, and a column inferred
    to be dates though some of its values are not (said in its note)."""
    return (kind.kind == "numeric" and kind.asked) or (kind.kind == "datetime" and bool(kind.note))


def feature_names_in(names, features):
    """``{feature: its name among names}`` when every feature is there (by name, or by its trimmed name), else None."""
    found = {}
    for f in features:
        if f in names:
            found[f] = f
        elif f.strip() in names:
            found[f] = f.strip()
        else:
            return None
    return found


def _feature_table(data, features, columns=None) -> Table:
    """``data`` as a :class:`Table`: a 2-D array's columns named ``features``; anything else by :func:`as_table`
    (a file: its columns ``columns`` only, when it has them by name)."""
    if isinstance(data, (np.ndarray, list, tuple)):
        X = np.asarray(data) if not isinstance(data, np.ndarray) else data
        if X.ndim != 2 or X.shape[1] != len(features):
            raise ValueError(
                f"features have shape {X.shape}, but the model reads {len(features)} columns "
                f"({', '.join(features[:5])}{', ...' if len(features) > 5 else ''})"
            )
        return Table("data", list(features), [column_of(X[:, j]) for j in range(X.shape[1])], named=True)
    if (
        columns is not None
        and not isinstance(data, Table)
        and not hasattr(data, "dtypes")
        and not hasattr(data, "schema")
    ):
        found = feature_names_in(table_names(data), columns)
        columns = None if found is None else list(found.values())  # else by position: every column
    return as_table(data, columns=columns)


class _Labels:
    """A stand-in table for labels handed over as an array: messages name ``source`` and the row."""

    def __init__(self, source):
        self.path = source

    def where(self, row, column=None):
        return f"{self.path}, row {row + 1}"
