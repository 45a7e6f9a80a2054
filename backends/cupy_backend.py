"""CuPy on an NVIDIA GPU, through array-api-compat's CuPy namespace.

``MLP_DEVICE`` (or ``device=``) is the CUDA device index, default 0.
"""

from __future__ import annotations

from ._base import Backend, BackendUnavailableError

INSTALL = "pip install cupy-cuda12x (CUDA 12) or cupy-cuda13x (CUDA 13), on a machine with an NVIDIA GPU"


def create(device=None) -> Backend:
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailableError(
            f"cupy backend: CuPy is not installed ({e}); install it with: {INSTALL}"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, no device, CUDA_VISIBLE_DEVICES=""
        raise BackendUnavailableError(
            f"cupy backend: CuPy is installed but no CUDA device is usable ({type(e).__name__}: {e}); "
            "check the NVIDIA driver, nvidia-smi and CUDA_VISIBLE_DEVICES"
        ) from None
    if count == 0:
        raise BackendUnavailableError(
            "cupy backend: CuPy is installed but no CUDA device is visible; "
            "check the NVIDIA driver, nvidia-smi and CUDA_VISIBLE_DEVICES"
        )
    index = 0
    if device is not None:
        text = str(device).removeprefix("cuda:")
        if not text.isdigit() or int(text) >= count:
            raise ValueError(
                f"MLP_DEVICE={device!r} does not exist for the cupy backend: "
                f"use a CUDA device index from 0 to {count - 1}"
            )
        index = int(text)
    import array_api_compat.cupy as xp

    dev = cupy.cuda.Device(index)
    dev.use()  # cupy runs kernels on the current device; make it the one asked for

    def device_memory(x):
        x = cupy.ascontiguousarray(x)
        return x, x.data.ptr, cupy.cuda.get_current_stream().ptr, x.device.id

    return Backend(
        name="cupy",
        xp=xp,
        device=dev,
        label=f"cuda:{index}",
        version=cupy.__version__,
        kernels=None,
        _to_numpy=cupy.asnumpy,
        _synchronize=dev.synchronize,
        _device_memory=device_memory,
    )


def device_of(x):
    """The CUDA device index of a CuPy array, else None (CuPy is not imported to find out)."""
    if type(x).__module__.startswith("cupy") and hasattr(x, "device"):
        return x.device.id
    return None
