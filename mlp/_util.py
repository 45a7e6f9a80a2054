"""Small helpers shared inside mlp."""
from __future__ import annotations

import numpy as np


def backend_of(x):
    """The backend an array belongs to (for arrays that did not come from a model)."""
    from array_api_compat import is_cupy_array, is_numpy_array, is_torch_array

    from backends import get_backend

    # always the array's own device: MLP_DEVICE names the default backend's device, not this array's
    if is_numpy_array(x):
        return get_backend("numpy", device="cpu")
    if is_torch_array(x):
        return get_backend("torch", device=str(x.device))
    if is_cupy_array(x):
        return get_backend("cupy", device=x.device.id)
    if type(x).__module__.startswith("array_api_strict"):
        return get_backend("array_api_strict", device="cpu")
    raise TypeError(f"{type(x).__name__} is not an array of a known backend")


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
