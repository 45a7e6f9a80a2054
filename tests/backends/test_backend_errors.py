"""A backend or device that does not exist, however it is named (``MLP_BACKEND``, ``MLP_DEVICE``, ``use``): a clear
error that names the value and where it came from, and nothing changed."""

import pytest

import mlp
from mlp import backends
from tests_helpers import raises, usable

#: each test clears MLP_* first (the fresh fixture) and names its backends: MLP_BACKEND changes nothing
pytestmark = pytest.mark.backend_independent


@pytest.mark.parametrize(
    "value",
    ["", "NumPy", "NUMPY", " numpy", "numpy ", "num py", "torch\n"],
    ids=["empty", "NumPy", "NUMPY", "leading-space", "trailing-space", "inner-space", "newline"],
)
def test_mlp_backend_malformed(fresh, value):
    fresh.setenv("MLP_BACKEND", value)
    with raises(ValueError, f"unknown backend {value!r} (from MLP_BACKEND)", "numpy, cupy, torch, array_api_strict"):
        backends.get_backend()
    if value.strip().lower() in backends.KNOWN:
        with raises(ValueError, f"did you mean {value.strip().lower()!r}?"):
            backends.get_backend()


@pytest.mark.parametrize(
    "name, device, exc, needle",
    [
        ("numpy", "cuda:0", ValueError, "MLP_DEVICE='cuda:0' does not exist for the numpy backend"),
        ("array_api_strict", "gpu", ValueError, "MLP_DEVICE='gpu' does not exist for the array_api_strict backend"),
        ("torch", "tpu", ValueError, "MLP_DEVICE='tpu' is not a torch device"),
        ("torch", "cpu:x", ValueError, "MLP_DEVICE='cpu:x' is not a torch device"),
        ("torch", "cuda:0", backends.BackendUnavailableError, "no CUDA device"),
        ("torch", "cuda:99", ValueError, "MLP_DEVICE='cuda:99' does not exist"),
    ],
    ids=[
        "numpy-cuda:0",
        "array_api_strict-gpu",
        "torch-tpu",
        "torch-cpu:x",
        "torch-cuda:0-without-CUDA",
        "torch-cuda:99-with-CUDA",
    ],
)
def test_mlp_device_that_does_not_exist(fresh, name, device, exc, needle):
    if not usable(name):
        pytest.skip(f"{name} is not usable here")
    if name == "torch" and device.startswith("cuda"):
        import torch

        if (device == "cuda:0") == torch.cuda.is_available():
            pytest.skip("depends on whether this machine has CUDA")
    fresh.setenv("MLP_DEVICE", device)
    fresh.setenv("MLP_BACKEND", name)  # MLP_DEVICE belongs to the default backend
    with raises(exc, needle):
        backends.get_backend()
    with raises(exc, needle):
        backends.get_backend(name)
    with raises(exc, needle):
        mlp.Sequential([mlp.Linear(2, 2)], backend=name)


def test_use_of_an_unknown_backend_changes_nothing(fresh):
    with raises(ValueError, "unknown backend 'nope' (from use())", "numpy, cupy, torch, array_api_strict"):
        backends.use("nope")
    assert backends._default is None and backends.get_backend().name == "numpy"
    with raises(TypeError, "backend name must be a str, got int"):
        backends.get_backend(3)
