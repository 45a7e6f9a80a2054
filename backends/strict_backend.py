"""array-api-strict: the standard and nothing more, on the CPU (proves mlp/ uses only the standard)."""

from __future__ import annotations

import numpy as np

from ._base import Backend, BackendUnavailableError
from .numpy_backend import _check_cpu


def create(device=None) -> Backend:
    _check_cpu(device, "array_api_strict")
    try:
        import array_api_strict as xp
    except ImportError as e:
        raise BackendUnavailableError(
            f"array_api_strict backend: array-api-strict is not installed ({e}); "
            "install it with: pip install array-api-strict"
        ) from None
    dev = xp.__array_namespace_info__().default_device()
    return Backend(
        name="array_api_strict",
        xp=xp,
        device=dev,
        version=xp.__version__,
        kernels=None,
        slow=True,
        _to_numpy=lambda x: np.asarray(x),
        _quiet=lambda: np.errstate(over="ignore", invalid="ignore"),  # array-api-strict computes with NumPy
    )


def device_of(x):
    """ "cpu" for an array-api-strict array, else None (the library is not imported to find out)."""
    return "cpu" if type(x).__module__.startswith("array_api_strict") else None
