"""Small helpers shared inside mlp."""

from __future__ import annotations

import numpy as np

from mlp.backends import backend_of


def to_host(x) -> np.ndarray:
    """Any supported array, of any backend, as a host NumPy array."""
    if isinstance(x, np.ndarray):
        return x
    return np.asarray(backend_of(x).to_numpy(x))


def describe(x) -> str:
    """How an error message names ``x``: "a torch array (device cuda:0)", "a list", ..."""
    try:
        be = backend_of(x)
    except TypeError:
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            return f"a {type(x).__module__}.{type(x).__name__}"
        return f"a {type(x).__name__}"
    return f"a {be.name} array (device {be.device})"
