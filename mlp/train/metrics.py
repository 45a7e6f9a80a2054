"""Metrics over device data, in large batches, in evaluation mode.

Classification: the mean loss and the accuracy.  Regression: the mean loss, the mean
squared and mean absolute errors over every output, and R2 (per output, then averaged,
as scikit-learn's ``r2_score`` does).  Only small per-batch sums come back to the host.
"""
from __future__ import annotations

import math

import numpy as np

from mlp.core.layers import EVAL
from mlp.core.tasks import r2_score


def _outputs(model, Xd, batch_size):
    forward, params, n = model.forward_function(), model.param_arrays(), Xd.shape[0]
    for i in range(0, n, batch_size):
        j = min(i + batch_size, n)
        yield i, j, forward(params, Xd[i:j, ...], EVAL)[0]


def _loss_total(model, loss, Y, T):
    return float(model.backend.to_numpy(loss.apply(model.K, Y, T)[0])) * Y.shape[0]


def classification(model, loss, Xd, Td, labels, batch_size=10_000) -> dict:
    """``{"loss", "accuracy"}`` (loss nan when ``loss`` is None)."""
    correct, total = 0, 0.0
    for i, j, Y in _outputs(model, Xd, batch_size):
        pred = model.backend.to_numpy(model.classes(Y, loss))
        correct += int(np.count_nonzero(pred == labels[i:j]))
        if loss is not None:
            total += _loss_total(model, loss, Y, Td[i:j, ...])
    n = Xd.shape[0]
    return {"loss": total / n if loss is not None else math.nan, "accuracy": correct / n}


def regression(model, loss, Xd, Td, batch_size=10_000) -> dict:
    """``{"loss", "mse", "mae", "r2"}`` (loss nan when ``loss`` is None)."""
    xp, be = model.xp, model.backend
    k = Td.shape[1]
    sse, sae, s1, s2 = (np.zeros(k) for _ in range(4))
    total = 0.0
    for i, j, Y in _outputs(model, Xd, batch_size):
        T = Td[i:j, ...]
        D = Y - T
        parts = xp.stack([xp.sum(D * D, axis=0), xp.sum(xp.abs(D), axis=0), xp.sum(T, axis=0), xp.sum(T * T, axis=0)])
        host = np.asarray(be.to_numpy(parts), dtype=np.float64)
        sse += host[0]
        sae += host[1]
        s1 += host[2]
        s2 += host[3]
        if loss is not None:
            total += _loss_total(model, loss, Y, T)
    n = Xd.shape[0]
    return {"loss": total / n if loss is not None else math.nan, "mse": float(sse.sum() / (n * k)),
            "mae": float(sae.sum() / (n * k)), "r2": r2_score(sse, s2 - s1 * s1 / n)}


def measure(model, loss, Xd, Td, labels, task, batch_size=10_000) -> dict:
    """The task's metrics (see the module docstring)."""
    if task == "regression":
        return regression(model, loss, Xd, Td, batch_size)
    return classification(model, loss, Xd, Td, labels, batch_size)
