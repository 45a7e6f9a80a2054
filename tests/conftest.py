"""Shared fixtures: the ``backend`` fixture, which honours ``MLP_BACKEND``, and the ``backend_independent`` mark.

Which backends a run tests
--------------------------
``MLP_BACKEND`` unset (the README's ``pytest -rs``): the ``backend`` fixture, :data:`BACKEND_PARAMS` and
:func:`backend_params` give every known backend in turn; those unusable here are skipped with their reason
(``pytest -rs`` shows it).  ``MLP_BACKEND=NAME``: they give NAME alone (skipped with the reason where it is
unusable), as Keras' own conftest honours ``KERAS_BACKEND``, and every test that takes the default backend (the
CLI, the estimators, the book's code, ``mlp.load``) takes NAME.  A value that is not a known backend name stops
the run at once, with the message ``mlp`` itself gives.

The ``backend_independent`` mark
--------------------------------
A test so marked gives the same result whatever ``MLP_BACKEND`` says, so a run without it has already given that
result: it touches no array backend (argument parsing, CSV parsing, docs checks), it names every backend it uses
itself (each case drawn from :func:`backend_params` is marked so here; so are tests that pin NumPy or clear
``MLP_*`` first), or what it adds to the tests that do run on the default backend is the same on every backend
(its comment says which test that is).  Mark a test so only when that is true.

CI's second and third passes (``.ci/run``: ``MLP_BACKEND=array_api_strict`` and ``MLP_BACKEND=jax``) add
``-m "not backend_independent"``: the first pass, without ``MLP_BACKEND``, has run those tests on every backend
already, so the later passes run only the tests whose result ``MLP_BACKEND`` can change. Nothing is deselected
unless ``-m`` says so: ``MLP_BACKEND=jax pytest tests/core`` runs every test there, the backend fixture's on JAX.
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


def _only_backend():
    if os.environ.get("MLP_BACKEND") is None:
        return None
    try:
        return backends.default_name()  # mlp's one reading of MLP_BACKEND: the exact name, or a ValueError
    except ValueError as e:
        raise pytest.UsageError(f"tests/conftest.py: {e}") from None


#: The backend ``MLP_BACKEND`` names, which this run tests alone; None when it is unset (every backend).
ONLY_BACKEND = _only_backend()


def backend_params(names=None):
    """``pytest.param`` s for the backends ``names`` (default: every known one) that this run tests.

    With ``MLP_BACKEND`` set, only that backend (nothing, when it is not among ``names``). Each case names its
    backend, so it is marked ``backend_independent``; one unusable here is also marked to be skipped, with the
    reason."""
    names = list(backends.KNOWN) if names is None else list(names)
    params = []
    for name in names:
        if ONLY_BACKEND is not None and name != ONLY_BACKEND:
            continue
        marks = [pytest.mark.backend_independent]
        try:
            backends.get_backend(name)
        except backends.BackendUnavailableError as e:
            marks.append(pytest.mark.skip(reason=f"backend {name} unavailable: {e}"))
        params.append(pytest.param(name, id=name, marks=marks))
    return params


BACKEND_PARAMS = backend_params()


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    """Each backend this run tests in turn (a backends.Backend): every usable one, or MLP_BACKEND's alone."""
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
