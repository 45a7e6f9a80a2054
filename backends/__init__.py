"""Backend selection: the only package that knows concrete array libraries.

A backend is a small value object (:class:`Backend`) holding an array API
namespace, a device and the host<->device transfers.  ``mlp`` receives one and
does all of its maths through ``backend.xp``.

Selecting a backend
-------------------
``get_backend(name=None)`` picks, in order: the explicit ``name``, the default
set with :func:`use`, the ``MLP_BACKEND`` environment variable, then ``numpy``.
``MLP_DEVICE`` picks the device where a backend has several.

Importing this package imports neither CuPy nor PyTorch: each backend module is
imported by name only when it is selected.
"""

from __future__ import annotations

import importlib
import os

from ._base import Backend, BackendUnavailableError

__all__ = [
    "Backend",
    "BackendUnavailableError",
    "KNOWN",
    "available",
    "backend_of",
    "default_name",
    "get_backend",
    "use",
    "unavailable",
]

#: Known backend names, mapped to the module (inside this package) that builds them.
KNOWN = {
    "numpy": "numpy_backend",
    "cupy": "cupy_backend",
    "torch": "torch_backend",
    "array_api_strict": "strict_backend",
    "jax": "jax_backend",
}

_default: str | None = None
_cache: dict[tuple[str, str | None], Backend] = {}


def _check_name(name, source):
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__} (from {source})")
    if name not in KNOWN:
        hint = ""
        if name.strip().lower() in KNOWN:
            hint = f" (did you mean {name.strip().lower()!r}? names are lower case, without spaces)"
        elif not name.strip():
            hint = " (unset the variable for the default, numpy)" if source == "MLP_BACKEND" else ""
        raise ValueError(f"unknown backend {name!r} (from {source}){hint}; known backends: {', '.join(KNOWN)}")
    return name


def _resolve(name):
    if name is not None:
        return _check_name(name, "argument")
    return default_name()


def default_name() -> str:
    """The name of the default backend: the one set with :func:`use`, else ``MLP_BACKEND``, else ``numpy``.

    The one reading of ``MLP_BACKEND`` that every command and function shares (``mlp info`` shows it,
    ``mlp train`` uses it): the exact name, or a ValueError. A value that differs from a known name only by
    case or spaces (``'NumPy'``, ``' numpy '``), or that is empty, is refused with a hint rather than
    guessed, so that a typo never silently selects another backend.
    """
    if _default is not None:
        return _default
    env = os.environ.get("MLP_BACKEND")
    if env is None:
        return "numpy"
    return _check_name(env, "MLP_BACKEND")


def get_backend(name: str | Backend | None = None, device: str | int | None = None) -> Backend:
    """Return the backend called ``name`` (see the module docstring for defaults).

    Parameters
    ----------
    name : str, Backend or None
        One of :data:`KNOWN`.  A :class:`Backend` is returned unchanged.
    device : str, int or None
        Device for backends with several. Default: ``MLP_DEVICE`` when the backend is the default
        one (``name`` None, or the name in ``MLP_BACKEND``), else the backend's default device.

    Raises
    ------
    ValueError
        ``name`` is not a known backend (the message lists them).
    BackendUnavailableError
        The backend is known but cannot run here (library missing, no device);
        the message says why and how to install it.  There is never a silent fallback.
    """
    if isinstance(name, Backend):
        return name
    resolved = _resolve(name)
    if device is None and (name is None or name == os.environ.get("MLP_BACKEND")):
        # MLP_DEVICE belongs to the default backend (MLP_BACKEND's), not to every backend asked for by name
        device = os.environ.get("MLP_DEVICE") or None
    key = (resolved, None if device is None else str(device))
    if key not in _cache:
        module = importlib.import_module(f"{__name__}.{KNOWN[resolved]}")
        _cache[key] = module.create(device)
    return _cache[key]


def device_for_rank(name, device, local_rank: int):
    """The device of the process of local rank ``local_rank`` (its place among the processes of its machine): a GPU
    named without its number (``cuda``, ``gpu``; CuPy's default) becomes that rank's GPU, so that the processes of
    one machine take one GPU each; anything else (a CPU, a GPU named with its number) stays as it is.

    A process that sees one GPU alone (``CUDA_VISIBLE_DEVICES`` naming one, as ``srun --gpus-per-task=1`` sets it)
    takes that one, whatever its local rank."""
    resolved = _resolve(name or None)
    visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    index = 0 if len(visible) == 1 else local_rank
    if resolved == "cupy" and device in (None, ""):
        return str(index)
    if resolved == "torch" and device == "cuda":
        return f"cuda:{index}"
    if resolved == "jax" and device == "gpu":
        return f"gpu:{index}"
    return device


class use:
    """Set the process-wide default backend; also usable as a context manager.

    ``backends.use("torch")`` changes the default until changed again;
    ``with backends.use("torch"): ...`` restores the previous default on exit.
    The name is validated (and the backend built) immediately.
    """

    def __init__(self, name: str):
        global _default
        _check_name(name, "use()")
        get_backend(name)  # fail now, not at first use
        self._previous = _default
        self.name = name
        _default = name

    def __enter__(self):
        return get_backend(self.name)

    def __exit__(self, *exc):
        global _default
        _default = self._previous
        return False


def backend_of(x) -> Backend:
    """The backend an array belongs to, on the array's own device.

    Each backend module recognises its own arrays (``device_of``) without importing
    its library; ``MLP_DEVICE`` is not consulted: it names the default backend's device,
    not this array's.

    Raises
    ------
    TypeError
        ``x`` is not an array of a known backend.
    """
    for name, module_name in KNOWN.items():
        module = importlib.import_module(f"{__name__}.{module_name}")
        device = module.device_of(x)
        if device is not None:
            return get_backend(name, device=device)
    raise TypeError(f"{type(x).__name__} is not an array of a known backend ({', '.join(KNOWN)})")


def unavailable() -> dict[str, str]:
    """Map each known backend that cannot run here to the reason why."""
    reasons = {}
    for name in KNOWN:
        try:
            get_backend(name)
        except (BackendUnavailableError, ValueError) as e:  # ValueError: MLP_DEVICE names no device of it
            reasons[name] = str(e)
    return reasons


def available() -> list[str]:
    """Names of the backends usable on this machine (see :func:`unavailable` for the others)."""
    missing = unavailable()
    return [name for name in KNOWN if name not in missing]
