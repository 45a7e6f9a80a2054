"""Data for training: checks, targets, and the batch order.

:func:`prepare` checks ``(X, y)`` once and puts it on the model's device;
:func:`batch_order` says which samples each epoch sees in which order (a
``(seed, epoch)`` permutation, so a resumed run sees the same batches), and
:func:`batch_bounds` where step ``s`` of an epoch starts and ends.
"""
from __future__ import annotations

import numpy as np

from mlp.core.util import describe
from mlp.core.validate import input_shape


def host_or_model(model, name, a):
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


def check_features(model, X, name="X"):
    """Shape (n_samples, n_in), at least one row, every value finite."""
    input_shape(X.shape, model.sizes[0], model.layers[0], name)
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {tuple(X.shape)}): there is nothing to train on or evaluate")
    xp = model.xp
    finite = np.isfinite(X).all(axis=1) if isinstance(X, np.ndarray) else \
        model.backend.to_numpy(xp.all(xp.isfinite(X), axis=1))
    if not finite.all():
        raise ValueError(f"{name} contains NaN or Inf in {rows(finite)}; clean the data before training")


def rows(finite):
    """``"2 rows (rows 3, 7)"`` for the False entries of a per-row mask."""
    bad = np.flatnonzero(~finite)
    shown = ", ".join(map(str, bad[:10])) + (", ..." if bad.size > 10 else "")
    return f"{bad.size} rows (rows {shown})"


def targets_for(model, y, name="y", task="classification"):
    """Host targets of shape ``(n, n_out)`` for ``y``.

    Classification: integer labels ``(n,)`` become one-hot rows (one output: 0/1), or ``y``
    itself when it is ``(n, n_out)``.  Regression: float values ``(n,)`` (a one-output model)
    or ``(n, n_out)``.
    """
    n_out = model.sizes[-1]
    y = np.asarray(model.backend.to_numpy(y) if not isinstance(y, np.ndarray) else y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (integer labels or float targets), got dtype {y.dtype}")
    if task == "regression" and y.ndim == 1:
        if n_out != 1:
            raise ValueError(f"{name} has shape {y.shape}: one target per row, but the model has {n_out} outputs; "
                             f"pass targets of shape (n, {n_out})")
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
        return y.astype(np.float64)[:, None]
    return np.eye(n_out)[y]


def labels_of(T):
    """Class labels (host int64) from host targets."""
    return (T[:, 0] > 0.5).astype(np.int64) if T.shape[1] == 1 else np.argmax(T, axis=1)


def prepare(model, X, y, name="", task="classification"):
    """``(X, T, labels)`` on the model's device (labels on the host; None for regression), checked once."""
    X = host_or_model(model, name + "X", X)
    check_features(model, X, name + "X")
    T = targets_for(model, host_or_model(model, name + "y", y), name + "y", task)
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"{name}y has {T.shape[0]} labels but {name}X has {X.shape[0]} rows")
    be = model.backend
    Xd = X if not isinstance(X, np.ndarray) else be.asarray(X, dtype=model.dtype)
    if Xd.dtype != model.input_dtype:
        Xd = model.xp.astype(Xd, model.input_dtype)
    return Xd, be.asarray(T, dtype=model.dtype), (labels_of(T) if task == "classification" else None)


def batch_order(n: int, seed: int, epoch: int, shuffle: bool = True):
    """The order of the ``n`` samples in ``epoch``: ``default_rng((seed, epoch)).permutation(n)``, or None."""
    return np.random.default_rng((seed, epoch)).permutation(n) if shuffle else None


def n_steps(n: int, batch_size: int) -> int:
    """Steps in an epoch of ``n`` samples: the last batch may be smaller."""
    return -(-n // batch_size)


def batch_bounds(step: int, batch_size: int, n: int):
    """``(i, j)``: step ``step`` takes samples ``i..j-1`` of the epoch's order."""
    i = step * batch_size
    return i, min(i + batch_size, n)  # the standard leaves out-of-range slice ends unspecified
