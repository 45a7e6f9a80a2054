"""The backend value object shared by every backend module."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class BackendUnavailableError(RuntimeError):
    """A known backend cannot be used on this machine; the message says why and how to fix it."""


@dataclass(frozen=True, eq=False)
class Backend:
    """An array library as ``mlp`` sees it.

    Attributes
    ----------
    name : str
        The backend's name (``numpy``, ``cupy``, ``torch``, ``array_api_strict``).
    xp : module
        The array API namespace used for all maths.
    device : object
        The device arrays are created on (as ``xp`` understands it).
    kernels : type or None
        A mixin class of backend-specific fast paths, combined with the generic
        array API kernels by :func:`mlp.core.kernels.get_kernels`.  ``None``: generic only.
    version : str
        Version of the underlying library, for ``mlp info`` and reports.
    label : str
        The device as reports name it: ``cpu``, ``cuda:0``, ``gpu:0``.
    slow : bool
        A reference namespace, not made for speed (array-api-strict): benchmarks time it on part of an epoch.
    compiler : object or None
        For a library that compiles (JAX): ``compiler.jit(fn)`` and ``compiler.loop(step, max_steps)``,
        which turn mlp's pure step into one compiled call per chunk of steps.  None: steps run one by one.
    """

    name: str
    xp: Any
    device: Any
    version: str = ""
    kernels: type | None = None
    compiler: Any = None
    label: str = "cpu"
    slow: bool = False
    _to_numpy: Callable[[Any], np.ndarray] = field(default=np.asarray, repr=False)
    _synchronize: Callable[[], None] = field(default=lambda: None, repr=False)
    _wait: Callable[..., None] | None = field(default=None, repr=False)
    _quiet: Callable[[], contextlib.AbstractContextManager] = field(default=contextlib.nullcontext, repr=False)
    _device_memory: Callable[[Any], Any] | None = field(default=None, repr=False)

    def asarray(self, obj, dtype=None):
        """Copy host data (NumPy array, list, scalar) to an array on this backend's device."""
        if isinstance(dtype, str):
            dtype = getattr(self.xp, dtype)
        return self.xp.asarray(obj, dtype=dtype, device=self.device)

    def to_numpy(self, x) -> np.ndarray:
        """Return ``x`` as a host :class:`numpy.ndarray` (a copy where it lives elsewhere)."""
        return self._to_numpy(x)

    def synchronize(self) -> None:
        """Block until all queued work on the device is finished (a no-op on the CPU)."""
        self._synchronize()

    def wait(self, *arrays) -> None:
        """Block until ``arrays`` are computed: :meth:`synchronize`, or the library's wait on those arrays where
        it has no device-wide one (JAX dispatches asynchronously and has no global synchronisation)."""
        if self._wait is None:
            self._synchronize()
        else:
            self._wait(*arrays)

    def device_memory(self, x):
        """``(array, pointer, stream pointer, device index)`` for an array in CUDA memory that a collective may sum
        in place (``array``: ``x`` itself, or a contiguous copy of it on the device), or None: the array is in host
        memory, or its library's arrays are not to be written in place (JAX)."""
        return None if self._device_memory is None else self._device_memory(x)

    def quiet_float_errors(self):
        """Context in which overflow/invalid floating-point warnings are not printed.

        Training detects a diverging loss itself and says so clearly; the library's own
        "overflow encountered" warnings on the way there would only add noise.
        """
        return self._quiet()

    def owns(self, x) -> bool:
        """Whether ``x`` is an array of this backend (namespace and device)."""
        try:
            from array_api_compat import array_namespace
            from array_api_compat import device as device_of
        except ImportError:  # pragma: no cover - array-api-compat is a dependency
            return True
        try:
            ns = array_namespace(x)
        except TypeError:
            return False
        if getattr(ns, "__name__", None) != getattr(self.xp, "__name__", None):
            return False
        return str(device_of(x)) == str(self.device)

    def __repr__(self):
        return f"Backend(name={self.name!r}, device={self.device!r}, version={self.version!r})"
