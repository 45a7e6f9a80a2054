"""What a task is (classification or regression), how it is inferred, and its metrics: in one place.

Training (:func:`mlp.fit`, :func:`mlp.evaluate`), tables, the command line and the scikit-learn estimators
all ask this module; none keeps its own list of tasks or its own R2.
"""

from __future__ import annotations

import numpy as np

#: the tasks, and the keys an epoch logs for each (``val_*`` are nan without validation data)
LOG_KEYS = {
    "classification": ("loss", "accuracy", "val_loss", "val_accuracy", "seconds", "lr"),
    "regression": ("loss", "mse", "mae", "r2", "val_loss", "val_mse", "val_mae", "val_r2", "seconds", "lr"),
}
TASKS = tuple(LOG_KEYS)
#: the metric a task is judged by (higher is better for both)
MAIN_METRIC = {"classification": "accuracy", "regression": "r2"}
#: a numeric target with at most this many distinct integer values is taken as class labels
MAX_CLASSES = 20


def check_task(task) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return task


def task_of_loss(loss, task=None) -> str:
    """``task`` checked against ``loss`` (a :class:`mlp.Loss`), or the loss's own task.

    Regression needs a loss on the outputs' values (mean squared error or quadratic).
    """
    if task is None:
        return loss.task
    check_task(task)
    if task == "regression" and loss.output != "values":
        raise ValueError(
            f"task='regression' needs a loss on the outputs' values (mse or quadratic), not "
            f"{type(loss).__name__}, whose outputs are {loss.output}"
        )
    return task


def task_of_target(values: np.ndarray) -> tuple[str, str]:
    """Classification or regression from a target column (host array), and the reason in words.

    Text or booleans are class labels; numbers are class labels when they are all integers with
    at most :data:`MAX_CLASSES` distinct values; any other numbers are regression targets.
    """
    if values.dtype == object:
        numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)
        if not numeric:
            n = len(set(values.tolist()))
            return "classification", f"it holds {n} distinct text/boolean labels"
        values = values.astype(np.float64)
    distinct = np.unique(values)
    if np.all(distinct == np.round(distinct)):
        if len(distinct) <= MAX_CLASSES:
            return "classification", f"it holds {len(distinct)} distinct integer values"
        return "regression", f"it holds {len(distinct)} distinct integer values (more than {MAX_CLASSES})"
    return "regression", "it holds non-integer numbers"


def r2_score(ss_res, ss_tot) -> float:
    """R2 from per-output residual and total sums of squares (host arrays ``(k,)``), averaged over outputs.

    scikit-learn's ``uniform_average``, and its convention for a constant target: 1 if predicted exactly, else 0.
    """
    ss_res, ss_tot = np.asarray(ss_res, dtype=np.float64), np.asarray(ss_tot, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(r2))


def regression_metrics(y_true, y_pred) -> dict:
    """``{"mse", "mae", "r2"}`` of predictions against targets (host arrays, any shape ``(n,)``/``(n, k)``).

    With several targets each metric is the mean over the targets (R2 as in :func:`r2_score`).
    """
    T = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    P = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    err = P - T
    ss_res = np.sum(err**2, axis=0)
    ss_tot = np.sum((T - T.mean(axis=0)) ** 2, axis=0)
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err))), "r2": r2_score(ss_res, ss_tot)}
