"""Backend selection: names, environment, context manager, and clear errors."""

import subprocess
import sys
import types

import numpy as np
import pytest

from mlp import backends
from tests_helpers import ROOT


def test_default_is_numpy(fresh):
    assert backends.get_backend().name == "numpy"


def test_env_var_selects(fresh):
    fresh.setenv("MLP_BACKEND", "array_api_strict")
    assert backends.get_backend().name == "array_api_strict"


def test_explicit_name_overrides_env(fresh):
    fresh.setenv("MLP_BACKEND", "array_api_strict")
    assert backends.get_backend("numpy").name == "numpy"


def test_use_sets_default_and_restores_as_context_manager(fresh):
    with backends.use("array_api_strict") as be:
        assert be.name == "array_api_strict"
        assert backends.get_backend().name == "array_api_strict"
    assert backends.get_backend().name == "numpy"
    backends.use("array_api_strict")
    assert backends.get_backend().name == "array_api_strict"


def test_unknown_name_lists_known(fresh):
    with pytest.raises(ValueError) as e:
        backends.get_backend("tensorflow")
    for name in backends.KNOWN:
        assert name in str(e.value)


@pytest.mark.parametrize("value", ["", "NumPy", " numpy", "numpy "])
def test_malformed_env_value_is_refused(fresh, value):
    fresh.setenv("MLP_BACKEND", value)
    with pytest.raises(ValueError, match="MLP_BACKEND"):
        backends.get_backend()


def test_missing_cupy_is_unavailable_with_hint(fresh):
    fresh.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(backends.BackendUnavailableError, match="pip install cupy"):
        backends.get_backend("cupy")
    assert "cupy" not in backends.available()
    assert "not installed" in backends.unavailable()["cupy"]


def test_cupy_without_device_is_unavailable(fresh):
    class NoDevice(Exception):
        pass

    def count():
        raise NoDevice("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=count))
    fresh.setitem(sys.modules, "cupy", fake)
    with pytest.raises(backends.BackendUnavailableError, match="no CUDA device"):
        backends.get_backend("cupy")


def test_missing_torch_is_unavailable(fresh):
    fresh.setitem(sys.modules, "torch", None)
    with pytest.raises(backends.BackendUnavailableError, match="pip install torch"):
        backends.get_backend("torch")


def test_numpy_device_that_does_not_exist(fresh):
    fresh.setenv("MLP_DEVICE", "cuda:3")
    with pytest.raises(ValueError, match="MLP_DEVICE='cuda:3'"):
        backends.get_backend()


def test_mlp_device_is_the_default_backends_not_every_backends(fresh):
    """MLP_BACKEND=torch MLP_DEVICE=cuda must not break NumPy, which has only a CPU."""
    fresh.setenv("MLP_BACKEND", "array_api_strict")
    fresh.setenv("MLP_DEVICE", "cuda")
    with pytest.raises(ValueError, match="MLP_DEVICE='cuda'"):
        backends.get_backend()
    assert backends.get_backend("numpy").device == "cpu"
    assert "numpy" in backends.available()


def test_use_nests_as_a_context_manager(fresh):
    with backends.use("array_api_strict"):
        with backends.use("numpy"):
            assert backends.get_backend().name == "numpy"
        assert backends.get_backend().name == "array_api_strict"
    assert backends.get_backend().name == "numpy"


def test_available_lists_local_backends():
    names = backends.available()
    assert "numpy" in names
    assert set(names) | set(backends.unavailable()) == set(backends.KNOWN)


def test_transfers_round_trip(backend):
    host = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = backend.asarray(host)
    assert backend.owns(x)
    back = backend.to_numpy(x)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, host)
    backend.synchronize()


def test_import_has_no_gpu_side_effects():
    """`import mlp, backends` (and choosing numpy) must not import cupy or torch."""
    code = (
        "import sys, mlp, mlp.cli, mlp.bench, backends; backends.get_backend('numpy'); "
        "bad = [m for m in ('cupy', 'torch') if m in sys.modules]; "
        "print('imported:', bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
