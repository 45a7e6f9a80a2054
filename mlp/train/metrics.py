"""Metrics over device data, in large batches, in evaluation mode.

Classification: the mean loss and the accuracy; for a report, the confusion matrix
(:func:`confusion`) and what it tells that accuracy hides (:func:`class_report`: precision and
recall of each class, balanced accuracy, the majority-class baseline).  Regression: the mean loss,
the mean squared and mean absolute errors over every output, and R2 (per output, then averaged,
as scikit-learn's ``r2_score`` does).  Only small per-batch sums come back to the host.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from mlp.core.tasks import r2_score
from mlp.core.types import EVAL, Array

if TYPE_CHECKING:
    from mlp.core.losses import Loss
    from mlp.core.model import Sequential

#: the most bytes one evaluation batch's widest activation may take: very wide layers get smaller batches
BATCH_BYTES = 256 * 2**20


def _outputs(model: Sequential, Xd: Array, batch_size: int) -> Iterator[tuple[int, int, Array]]:
    forward, params, n = model.forward_function(), model.param_arrays(), Xd.shape[0]
    widest = max(model.sizes) * (4 if str(model.dtype) == "float32" else 8)
    batch_size = max(1, min(batch_size, BATCH_BYTES // widest))
    for i in range(0, n, batch_size):
        j = min(i + batch_size, n)
        yield i, j, forward(params, Xd[i:j, ...], EVAL)[0]


def _loss_total(model: Sequential, loss: Loss, Y: Array, T: Array, w: Array | None = None) -> float:
    """The batch's summed loss (weighted by ``w`` when given), as a host float."""
    if w is None:
        return float(model.backend.to_numpy(loss.apply(model.K, Y, T)[0])) * Y.shape[0]
    return float(model.backend.to_numpy(model.xp.sum(w * loss.rows(model.K, Y, T))))


def classification(
    model: Sequential,
    loss: Loss | None,
    Xd: Array,
    Td: Array,
    labels: np.ndarray,
    batch_size: int = 10_000,
    w: Array | None = None,
) -> dict[str, float]:
    """``{"loss", "accuracy"}`` (loss nan when ``loss`` is None); weighted means with weights ``w``."""
    return from_sums(
        classification_sums(model, loss, Xd, Td, labels, batch_size, w), "classification", loss is not None
    )


def classification_sums(
    model: Sequential,
    loss: Loss | None,
    Xd: Array,
    Td: Array,
    labels: np.ndarray,
    batch_size: int = 10_000,
    w: Array | None = None,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """``[correct, summed loss, rows]`` (weighted by ``w``): sums that add up over blocks and processes.

    ``counts``: a confusion matrix (see :func:`confusion`) to add this data's (unweighted) counts to, or None.
    """
    correct, total = 0.0, 0.0
    hw = None if w is None else np.asarray(model.backend.to_numpy(w), dtype=np.float64)
    for i, j, Y in _outputs(model, Xd, batch_size):
        pred = model.backend.to_numpy(model.classes(Y, loss))
        if counts is not None:
            _count(counts, labels[i:j], pred)
        hit = pred == labels[i:j]
        correct += float(np.count_nonzero(hit)) if hw is None else float(hw[i:j] @ hit)
        if loss is not None:
            total += _loss_total(model, loss, Y, Td[i:j, ...], None if w is None else w[i:j])
    n = Xd.shape[0] if hw is None else float(hw.sum())
    return np.array([correct, total, n], dtype=np.float64)


def regression(
    model: Sequential, loss: Loss | None, Xd: Array, Td: Array, batch_size: int = 10_000, w: Array | None = None
) -> dict[str, float]:
    """``{"loss", "mse", "mae", "r2"}`` (loss nan when ``loss`` is None); weighted as scikit-learn with ``w``."""
    return from_sums(regression_sums(model, loss, Xd, Td, batch_size, w), "regression", loss is not None)


def regression_sums(
    model: Sequential, loss: Loss | None, Xd: Array, Td: Array, batch_size: int = 10_000, w: Array | None = None
) -> np.ndarray:
    """``[summed loss, rows, sse (k), sae (k), sum of targets (k), sum of squared targets (k)]`` (weighted by ``w``):
    sums that add up over blocks and processes."""
    xp, be = model.xp, model.backend
    k = Td.shape[1]
    sse, sae, s1, s2 = (np.zeros(k) for _ in range(4))
    total = 0.0
    for i, j, Y in _outputs(model, Xd, batch_size):
        T = Td[i:j, ...]
        D = Y - T
        W = xp.ones((j - i, 1), dtype=Y.dtype) if w is None else xp.reshape(w[i:j], (-1, 1))
        parts = xp.stack(
            [xp.sum(W * D * D, axis=0), xp.sum(W * xp.abs(D), axis=0), xp.sum(W * T, axis=0), xp.sum(W * T * T, axis=0)]
        )
        host = np.asarray(be.to_numpy(parts), dtype=np.float64)
        sse += host[0]
        sae += host[1]
        s1 += host[2]
        s2 += host[3]
        if loss is not None:
            total += _loss_total(model, loss, Y, T, None if w is None else w[i:j])
    n = Xd.shape[0] if w is None else float(be.to_numpy(xp.sum(w)))
    return np.concatenate([[total, n], sse, sae, s1, s2])


def from_sums(sums: Any, task: str, has_loss: bool = True) -> dict[str, float]:
    """The metrics of :func:`classification_sums` or :func:`regression_sums` (added up over blocks)."""
    if task == "classification":
        correct, total, n = sums
        return {"loss": total / n if has_loss else math.nan, "accuracy": correct / n}
    total, n = sums[0], sums[1]
    sse, sae, s1, s2 = np.split(np.asarray(sums[2:]), 4)
    k = len(sse)
    return {
        "loss": total / n if has_loss else math.nan,
        "mse": float(sse.sum() / (n * k)),
        "mae": float(sae.sum() / (n * k)),
        "r2": r2_score(sse, s2 - s1 * s1 / n),
    }


def sums(
    model: Sequential,
    loss: Loss | None,
    Xd: Array,
    Td: Array,
    labels: np.ndarray | None,
    w: Array | None = None,
    *,
    task: str,
    batch_size: int = 10_000,
    counts: np.ndarray | None = None,
) -> np.ndarray:
    """The task's sums (see :func:`classification_sums`, :func:`regression_sums`)."""
    if task == "regression":
        return regression_sums(model, loss, Xd, Td, batch_size, w)
    # classification: the labels are given (None only for regression)
    return classification_sums(model, loss, Xd, Td, cast(np.ndarray, labels), batch_size, w, counts)


def measure(
    model: Sequential,
    loss: Loss | None,
    Xd: Array,
    Td: Array,
    labels: np.ndarray | None,
    w: Array | None = None,
    *,
    task: str,
    batch_size: int = 10_000,
    counts: np.ndarray | None = None,
) -> dict[str, float]:
    """The task's metrics (see the module docstring); ``w``: per-sample weights on the device, or None;
    ``counts``: a confusion matrix that classification adds its counts to (see :func:`confusion`)."""
    return from_sums(
        sums(model, loss, Xd, Td, labels, w, task=task, batch_size=batch_size, counts=counts), task, loss is not None
    )


def confusion(
    model: Sequential, loss: Loss | None, Xd: Array, labels: np.ndarray, n_classes: int, batch_size: int = 10_000
) -> np.ndarray:
    """Counts of (true class, predicted class), shape ``(n_classes, n_classes)``: sums that add up over blocks
    and processes.  ``labels``: the true classes (host integers in ``[0, n_classes)``)."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    for i, j, Y in _outputs(model, Xd, batch_size):
        _count(counts, labels[i:j], model.backend.to_numpy(model.classes(Y, loss)))
    return counts


def _count(counts: np.ndarray, labels: Any, predicted: Any) -> None:
    k = counts.shape[0]
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    counts += np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)


def class_report(counts: Any) -> dict[str, Any]:
    """What a confusion matrix (rows: true classes, columns: predicted) says beyond accuracy.

    ``support``, ``precision``, ``recall`` (one value per class; precision is nan for a class never predicted,
    recall nan for a class absent from the rows), ``balanced_accuracy`` (the mean recall over the classes
    present, as scikit-learn's ``balanced_accuracy_score``), ``baseline`` (the accuracy of always answering
    the most frequent class, ``majority``).
    """
    counts = np.asarray(counts, dtype=np.float64)
    support, predicted, hits = counts.sum(axis=1), counts.sum(axis=0), np.diag(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
    total = support.sum()
    present = support > 0
    return {
        "support": support.astype(np.int64).tolist(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "balanced_accuracy": float(recall[present].mean()) if present.any() else math.nan,
        "baseline": float(support.max() / total) if total else math.nan,
        "majority": int(np.argmax(support)),
    }
