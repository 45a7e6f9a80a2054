"""NumPy on the CPU, through array-api-compat's NumPy namespace."""

from __future__ import annotations

import numpy as np

from ._base import Backend


def _check_cpu(device, name):
    if device not in (None, "cpu", "CPU"):
        raise ValueError(f"MLP_DEVICE={device!r} does not exist for the {name} backend: it has only 'cpu'")


def create(device=None) -> Backend:
    _check_cpu(device, "numpy")
    import array_api_compat.numpy as xp

    from .numpy_kernels import NumpyKernels

    return Backend(
        name="numpy",
        xp=xp,
        device="cpu",
        version=np.__version__,
        kernels=NumpyKernels,
        _to_numpy=np.asarray,
        _quiet=lambda: np.errstate(over="ignore", invalid="ignore"),
    )


def device_of(x):
    """ "cpu" for a NumPy array (or NumPy scalar, as reductions return), else None."""
    return "cpu" if isinstance(x, (np.ndarray, np.generic)) else None
