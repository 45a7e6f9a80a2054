"""The checks of the estimators' parameters and sample weights: one-line errors naming the parameter."""

from __future__ import annotations

import math
import numbers

import numpy as np

from mlp.core.util import to_host

#: scikit-learn's activation names -> mlp's layers
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
SOLVERS = ("lbfgs", "sgd", "adam")
SCHEDULES = ("constant", "invscaling", "adaptive")


def foreign(X) -> bool:
    """An array of another array library (torch, CuPy, JAX, array-api-strict), not host data."""
    if isinstance(X, np.ndarray) or not hasattr(X, "shape") or not hasattr(X, "dtype"):
        return False
    from array_api_compat import is_array_api_obj

    return is_array_api_obj(X) and type(X).__module__.split(".")[0] not in ("pandas", "numpy", "scipy")


def _number(value, lo, hi=math.inf, lo_closed=True, hi_closed=False):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.number)) or math.isnan(value):
        return False
    return (lo <= value if lo_closed else lo < value) and (value <= hi if hi_closed else value < hi)


def _integer(value, lo):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool) and value >= lo


def check_params(est):
    """The hidden sizes as a list, after checking every parameter (a ValueError names the first bad one)."""
    name = type(est).__name__
    hidden = est.hidden_layer_sizes
    hidden = [hidden] if isinstance(hidden, (numbers.Integral, np.integer)) else hidden
    try:
        hidden = list(hidden)
    except TypeError:
        hidden = None
    if hidden is None or not all(_integer(h, 1) for h in hidden):
        raise ValueError(f"{name}: hidden_layer_sizes must be positive integers, got {est.hidden_layer_sizes!r}")

    def choice(param, value, options):
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"{name}: {param} must be one of {', '.join(options)}, got {value!r}")

    choice("activation", est.activation, tuple(ACTIVATIONS))
    choice("solver", est.solver, SOLVERS)
    choice("learning_rate", est.learning_rate, SCHEDULES)
    for param, value, lo, lo_closed, hi, text in (
        ("alpha", est.alpha, 0.0, True, math.inf, "a finite number >= 0"),
        ("learning_rate_init", est.learning_rate_init, 0.0, False, math.inf, "a finite number > 0"),
        ("power_t", est.power_t, 0.0, True, math.inf, "a finite number >= 0"),
        ("tol", est.tol, 0.0, True, math.inf, "a finite number >= 0"),
        ("epsilon", est.epsilon, 0.0, False, math.inf, "a finite number > 0"),
        ("beta_1", est.beta_1, 0.0, True, 1.0, "in [0, 1)"),
        ("beta_2", est.beta_2, 0.0, True, 1.0, "in [0, 1)"),
        ("validation_fraction", est.validation_fraction, 0.0, True, 1.0, "in [0, 1)"),
    ):
        if not _number(value, lo, hi, lo_closed):
            raise ValueError(f"{name}: {param} must be {text}, got {value!r}")
    if not _number(est.momentum, 0.0, 1.0, True, True):
        raise ValueError(f"{name}: momentum must be in [0, 1], got {est.momentum!r}")
    for param, value in (("max_iter", est.max_iter), ("max_fun", est.max_fun)):
        if not _integer(value, 1):
            raise ValueError(f"{name}: {param} must be an integer >= 1, got {value!r}")
    if not (
        _integer(est.n_iter_no_change, 1)
        or (_number(est.n_iter_no_change, 1.0, math.inf, True, True) and est.n_iter_no_change == math.inf)
    ):
        raise ValueError(f"{name}: n_iter_no_change must be an integer >= 1 or np.inf, got {est.n_iter_no_change!r}")
    if not (est.batch_size == "auto" or _integer(est.batch_size, 1)):
        raise ValueError(f"{name}: batch_size must be 'auto' or a positive integer, got {est.batch_size!r}")
    if est.dtype not in (None, "float32", "float64"):
        raise ValueError(f"{name}: dtype must be None (follow X), 'float32' or 'float64', got {est.dtype!r}")
    if est.early_stopping and est.validation_fraction == 0:
        raise ValueError(f"{name}: early_stopping=True needs a validation_fraction > 0")
    return [int(h) for h in hidden]


def check_sample_weight(sample_weight, n):
    """``sample_weight`` as a float64 vector of ``n`` finite weights >= 0, not all 0 (None stays None)."""
    if sample_weight is None:
        return None
    w = np.asarray(to_host(sample_weight) if foreign(sample_weight) else sample_weight, dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected ({n},)!")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise ValueError(f"sample_weight must be finite and >= 0; found {w[bad]} at index {bad}")
    if not w.sum() > 0:
        raise ValueError("sample_weight is zero everywhere: there is nothing to fit")
    return w
