"""PyTorch tensors (CPU or CUDA), through array-api-compat's torch namespace.

``MLP_DEVICE`` (or ``device=``) is ``cpu`` (default), ``cuda`` or ``cuda:N``.
PyTorch is an optional backend, never a dependency of mlp.
"""

from __future__ import annotations

from ._base import Backend, BackendUnavailableError


def create(device=None) -> Backend:
    try:
        import torch
    except ImportError as e:
        raise BackendUnavailableError(
            f"torch backend: PyTorch is not installed ({e}); install it with: pip install torch"
        ) from None
    try:
        dev = torch.device(device if device is not None else "cpu")
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"MLP_DEVICE={device!r} is not a torch device ({e}); use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"torch backend: device {device!r} asked for, but this PyTorch build sees no CUDA device "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); use MLP_DEVICE=cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"MLP_DEVICE={device!r} does not exist for the torch backend: "
                f"there are {torch.cuda.device_count()} CUDA devices"
            )
        if dev.index is None:  # tensors report "cuda:0", never "cuda": name the device the same way
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise ValueError(f"MLP_DEVICE={device!r} is not supported by the torch backend; use cpu, cuda or cuda:N")
    import array_api_compat.torch as xp

    def to_numpy(x):
        return x.detach().cpu().numpy()

    def synchronize():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def device_memory(x):
        if x.device.type != "cuda":
            return None
        x = x.contiguous()  # the tensor itself when it already is
        return x, x.data_ptr(), torch.cuda.current_stream(x.device).cuda_stream, x.device.index

    return Backend(
        name="torch",
        xp=xp,
        device=dev,
        label="cpu" if dev.type == "cpu" else str(dev),
        version=torch.__version__,
        kernels=None,
        _to_numpy=to_numpy,
        _synchronize=synchronize,
        _device_memory=device_memory,
    )


def device_of(x):
    """The device of a torch tensor ("cpu", "cuda:0"), else None (torch is not imported to find out)."""
    if type(x).__module__.startswith("torch") and hasattr(x, "device"):
        return str(x.device)
    return None
