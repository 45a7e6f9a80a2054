"""Shared fixtures: one backend fixture parametrised over every known backend.

Backends unusable here are skipped with their reason (``pytest -rs`` shows it).
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from mlp import backends

ROOT = Path(__file__).resolve().parent.parent
#: MNIST/Fashion-MNIST for the tests that need them: $MLP_DATA_DIR when set, else ../shared/data
SHARED_DATA = (
    Path(os.environ["MLP_DATA_DIR"]).expanduser() if os.environ.get("MLP_DATA_DIR") else ROOT.parent / "shared" / "data"
)


def _backend_params():
    params = []
    for name in backends.KNOWN:
        try:
            backends.get_backend(name)
            marks = ()
        except backends.BackendUnavailableError as e:
            marks = (pytest.mark.skip(reason=f"backend {name} unavailable: {e}"),)
        params.append(pytest.param(name, id=name, marks=marks))
    return params


BACKEND_PARAMS = _backend_params()


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    """Each usable backend in turn (a backends.Backend)."""
    return backends.get_backend(request.param)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def shared_data():
    """The data root holding mnist/ and fashion-mnist/ ($MLP_DATA_DIR, else ../shared/data), or a skip when absent."""
    if not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"no MNIST files at {SHARED_DATA} (set MLP_DATA_DIR to a folder holding mnist/)")
    return SHARED_DATA


@pytest.fixture
def fresh(monkeypatch):
    """No cached backends, no process default, no MLP_* variables."""
    monkeypatch.setattr(backends, "_cache", {})
    monkeypatch.setattr(backends, "_default", None)
    monkeypatch.delenv("MLP_BACKEND", raising=False)
    monkeypatch.delenv("MLP_DEVICE", raising=False)
    return monkeypatch


@pytest.fixture(autouse=True)
def _no_process_default_leak():
    """Tests that call backends.use() must not change the default for the next test."""
    before = backends._default
    yield
    backends._default = before


@pytest.fixture(params=["pyarrow", "stdlib"])
def reader(request, monkeypatch):
    """Each CSV reader in turn: pyarrow, and the standard library's when pyarrow is missing."""
    if request.param == "pyarrow":
        pytest.importorskip("pyarrow")
    else:
        monkeypatch.setitem(sys.modules, "pyarrow", None)
    return request.param
