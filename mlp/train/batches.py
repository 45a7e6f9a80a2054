"""Data for training: checks, targets, and the batch order.

:func:`prepare` checks ``(X, y)`` once and puts it on the model's device;
:func:`batch_order` says which samples each epoch sees in which order (a
``(seed, epoch)`` permutation, so a resumed run sees the same batches), and
:func:`batch_bounds` where step ``s`` of an epoch starts and ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from mlp.core.types import Array
from mlp.core.util import describe, to_host
from mlp.core.validate import input_shape

if TYPE_CHECKING:
    from mlp.core.model import Sequential


def host_or_model(model: Sequential, name: str, a: Any) -> Any:
    """``a`` as it will be used: host NumPy data, or an array already on the model's backend."""
    if isinstance(a, (list, tuple)):
        try:
            a = np.asarray(a)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"{name} is a list that is not a rectangular table of numbers ({e})") from None
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got an array of dtype {a.dtype}")
        return a
    if model.backend.owns(a):
        return a
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        raise TypeError(
            f"{name} must be an array (host NumPy data, a list, or an array on the model's "
            f"{model.backend.name} backend), got {type(a).__name__}"
        )
    raise ValueError(
        f"{name} is {describe(a)} but the model is on the {model.backend.name} backend "
        f"({model.backend.device}); pass host NumPy data or move the model with model.to(...)"
    )


def check_features(model: Sequential, X: Any, name: str = "X") -> None:
    """Shape (n_samples, n_in), at least one row, every value finite."""
    input_shape(X.shape, model.sizes[0], model.layers[0], name)
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {tuple(X.shape)}): there is nothing to train on or evaluate")
    if isinstance(X, np.ndarray):
        # all finite, the usual case, in two vectorised reductions without a boolean copy of X (min and max
        # propagate NaN; an infinity is one of them): the rows are looked for only when one is not
        if X.dtype.kind != "f" or (np.isfinite(X.min()) and np.isfinite(X.max())):
            return
        finite = np.isfinite(X).all(axis=1)
    else:
        xp = model.xp
        finite = model.backend.to_numpy(xp.all(xp.isfinite(X), axis=1))
    if not finite.all():
        raise ValueError(f"{name} contains NaN or Inf in {rows(finite)}; clean the data before training")


def rows(finite: np.ndarray | np.bool_) -> str:
    """``"2 rows (rows 3, 7)"`` for the False entries of a per-row mask."""
    bad = np.flatnonzero(~finite)
    shown = ", ".join(map(str, bad[:10])) + (", ..." if bad.size > 10 else "")
    return f"{bad.size} rows (rows {shown})"


def targets_for(
    model: Sequential, y: Any, name: str = "y", task: str = "classification", dtype: Any = np.float64
) -> np.ndarray:
    """Host targets of shape ``(n, n_out)`` for ``y``.

    Classification: integer labels ``(n,)`` become one-hot rows (one output: 0/1) of ``dtype``, or
    ``y`` itself when it is ``(n, n_out)``.  Regression: float values ``(n,)`` (a one-output model)
    or ``(n, n_out)``.
    """
    n_out = model.sizes[-1]
    y = np.asarray(model.backend.to_numpy(y) if not isinstance(y, np.ndarray) else y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (integer labels or float targets), got dtype {y.dtype}")
    if task == "regression" and y.ndim == 1:
        if n_out != 1:
            raise ValueError(
                f"{name} has shape {y.shape}: one target per row, but the model has {n_out} outputs; "
                f"pass targets of shape (n, {n_out})"
            )
        y = y[:, None]
    if y.ndim == 2:
        if y.shape[1] != n_out:
            raise ValueError(f"{name} has shape {y.shape}, but the model outputs (n_samples, {n_out})")
        finite = np.isfinite(y).all(axis=1)
        if not finite.all():
            raise ValueError(f"{name} contains NaN or Inf in {rows(finite)}; clean the targets before training")
        return y
    if y.ndim != 1:
        raise ValueError(f"{name} must be labels of shape (n,) or targets of shape (n, {n_out}), got {y.shape}")
    if y.dtype.kind not in "iub":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            bad = np.flatnonzero(~whole)
            raise ValueError(
                f"{name}: class labels must be whole numbers; found {y[bad[0]]} at index {bad[0]} "
                f"({bad.size} labels are not, dtype {y.dtype}); for real-valued targets use task='regression'"
            )
        y = y.astype(np.int64)
    n_classes = n_out if n_out > 1 else 2
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        bad = np.flatnonzero((y < 0) | (y >= n_classes))
        raise ValueError(
            f"{name}: labels must be in [0, {n_classes}) for a model with {n_out} outputs; "
            f"found {y[bad[0]]} at index {bad[0]} ({bad.size} labels out of range)"
        )
    if n_out == 1:
        return y.astype(dtype)[:, None]
    return np.eye(n_out, dtype=dtype)[y]


def labels_of(T: np.ndarray) -> np.ndarray:
    """Class labels (host int64) from host targets."""
    return (T[:, 0] > 0.5).astype(np.int64) if T.shape[1] == 1 else np.argmax(T, axis=1)


class Data(NamedTuple):
    """Data checked once and on the model's device: features, targets, host labels, weights.

    ``labels`` (host int64) is None for regression; ``w`` (device ``(n,)``) is None without weights.
    """

    X: Array
    T: Array
    labels: np.ndarray | None
    w: Array | None = None

    def targets_with_weights(self) -> Array:
        """``T``, or ``T`` with the weights as one more column: what a weighted step slices batch by batch."""
        if self.w is None:
            return self.T
        xp = array_namespace_of(self.T)
        return xp.concat([self.T, xp.reshape(self.w, (-1, 1))], axis=1)


def array_namespace_of(x: Array) -> Any:
    """The array API namespace of a backend array (through the backend that owns it)."""
    from mlp.backends import backend_of

    return backend_of(x).xp


def sample_weights(
    sample_weight: Any,
    class_weight: str | Mapping[int, float] | None,
    labels: np.ndarray | None,
    n: int,
    name: str = "",
    task: str = "classification",
) -> np.ndarray | None:
    """Host float64 weights ``(n,)`` from ``sample_weight`` and ``class_weight``, or None when neither is given.

    ``class_weight``: ``"balanced"`` (``n / (n_classes * count)`` per class, as scikit-learn) or a mapping
    from class index to weight; it multiplies ``sample_weight``.  Weights must be finite, non-negative and
    not all zero.
    """
    if sample_weight is None and class_weight is None:
        return None
    w = np.ones(n)
    if sample_weight is not None:
        host = sample_weight if isinstance(sample_weight, (np.ndarray, list, tuple)) else to_host(sample_weight)
        w = np.asarray(host, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"{name}sample_weight has shape {w.shape}, expected ({n},): one weight per row")
        finite = np.isfinite(w)
        if not finite.all():
            raise ValueError(f"{name}sample_weight contains NaN or Inf in {rows(finite)}")
        if (w < 0).any():
            raise ValueError(
                f"{name}sample_weight must be non-negative; found {w[w < 0][0]} at index "
                f"{int(np.flatnonzero(w < 0)[0])}"
            )
    if class_weight is not None:
        if task != "classification":
            raise ValueError("class_weight applies to classification, not regression")
        w = w * class_weights(class_weight, cast(np.ndarray, labels))[labels]  # classification: labels are given
    if not w.sum() > 0:
        raise ValueError(f"{name}sample_weight sums to {w.sum()}: at least one row needs a positive weight")
    return w


def class_weights(class_weight: str | Mapping[int, float], labels: np.ndarray) -> np.ndarray:
    """Per-class weights (host float64, indexed by class) for ``"balanced"`` or a ``{class index: weight}``."""
    n_classes = int(labels.max()) + 1 if labels.size else 0
    return class_weights_of_counts(class_weight, np.bincount(labels, minlength=n_classes))


def class_weights_of_counts(class_weight: str | Mapping[int, float], counts: Any) -> np.ndarray:
    """:func:`class_weights` from the rows of each class (``counts[k]``: rows of class ``k``)."""
    counts = np.asarray(counts, dtype=np.float64)
    n_classes = len(counts)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a mapping of class to weight, got {class_weight!r}")
        present = counts > 0
        out = np.zeros(n_classes)
        out[present] = counts.sum() / (present.sum() * counts[present])
        return out
    out = np.ones(n_classes)
    for k, v in dict(class_weight).items():
        if not isinstance(k, (int, np.integer)) or not 0 <= int(k) < max(n_classes, 1):
            raise ValueError(f"class_weight names class {k!r}, but the classes are 0..{n_classes - 1}")
        v = float(v)
        if not (np.isfinite(v) and v >= 0):
            raise ValueError(f"class_weight for class {k} must be a finite non-negative number, got {v}")
        out[int(k)] = v
    return out


def prepare(
    model: Sequential,
    X: Any,
    y: Any,
    name: str = "",
    task: str = "classification",
    sample_weight: Any = None,
    class_weight: str | Mapping[int, float] | None = None,
) -> Data:
    """:class:`Data` on the model's device (labels on the host; None for regression), checked once."""
    X = host_or_model(model, name + "X", X)
    check_features(model, X, name + "X")
    # one-hot rows made in the model's dtype: no float64 copy of them on the way
    T = targets_for(model, host_or_model(model, name + "y", y), name + "y", task, dtype=np.dtype(model.dtype))
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"{name}y has {T.shape[0]} labels but {name}X has {X.shape[0]} rows")
    be = model.backend
    Xd = X if not isinstance(X, np.ndarray) else be.asarray(X, dtype=model.dtype)
    if Xd.dtype != model.input_dtype:
        Xd = model.xp.astype(Xd, model.input_dtype)
    labels = labels_of(T) if task == "classification" else None
    w = sample_weights(sample_weight, class_weight, labels, T.shape[0], name, task)
    wd = None if w is None else be.asarray(w, dtype=model.dtype)
    return Data(Xd, be.asarray(T, dtype=model.dtype), labels, wd)


def batch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray | None:
    """The order of the ``n`` samples in ``epoch``: ``default_rng((seed, epoch)).permutation(n)``, or None."""
    return np.random.default_rng((seed, epoch)).permutation(n) if shuffle else None


def n_steps(n: int, batch_size: int) -> int:
    """Steps in an epoch of ``n`` samples: the last batch may be smaller."""
    return -(-n // batch_size)


def batch_bounds(step: int, batch_size: int, n: int) -> tuple[int, int]:
    """``(i, j)``: step ``step`` takes samples ``i..j-1`` of the epoch's order."""
    i = step * batch_size
    return i, min(i + batch_size, n)  # the standard leaves out-of-range slice ends unspecified
