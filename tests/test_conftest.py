"""tests/conftest.py honours MLP_BACKEND: every backend when it is unset, that one alone when it is set; and
``-m "not backend_independent"`` (CI's later passes) leaves only the tests whose result MLP_BACKEND can change.

A small test file is collected (``pytest --collect-only``, nothing run) in a subprocess, beside a copy of the
conftest, with MLP_BACKEND unset, set, and set to a name that does not exist.
"""

import os
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT

from mlp import backends

SMALL_TEST_FILE = """
import pytest
from conftest import BACKEND_PARAMS, backend_params


def test_fixture(backend):
    pass


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_params(name):
    pass


@pytest.mark.parametrize("name", backend_params(["numpy", "jax"]))
def test_some(name):
    pass


@pytest.mark.backend_independent
def test_independent():
    pass


def test_on_the_default_backend():
    pass
"""


def collect(tmp_path, mlp_backend, *args):
    """``(exit status, collected test ids, output)`` of ``pytest --collect-only -q ARGS`` on the small file."""
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_small.py").write_text(SMALL_TEST_FILE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    backend_independent: see conftest.py\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "PYTEST_"))}
    if mlp_backend is not None:
        env["MLP_BACKEND"] = mlp_backend
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args, "test_small.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    ids = [line.strip().split("::", 1)[1] for line in proc.stdout.splitlines() if line.startswith("test_small.py::")]
    return proc.returncode, ids, proc.stdout + proc.stderr


@pytest.mark.backend_independent
def test_without_mlp_backend_every_backend_is_collected(tmp_path):
    code, ids, out = collect(tmp_path, None)
    assert code == 0, out
    every = list(backends.KNOWN)
    assert ids == (
        [f"test_fixture[{name}]" for name in every]
        + [f"test_params[{name}]" for name in every]
        + ["test_some[numpy]", "test_some[jax]", "test_independent", "test_on_the_default_backend"]
    ), out


@pytest.mark.backend_independent
def test_with_mlp_backend_that_backend_alone_is_collected(tmp_path):
    code, ids, out = collect(tmp_path, "numpy")
    assert code == 0, out
    assert ids == [
        "test_fixture[numpy]",
        "test_params[numpy]",
        "test_some[numpy]",
        "test_independent",
        "test_on_the_default_backend",
    ], out


@pytest.mark.backend_independent
def test_a_list_of_backends_without_mlp_backends_gives_no_case(tmp_path):
    code, ids, out = collect(tmp_path, "array_api_strict")
    assert code == 0, out
    assert ids[:2] == ["test_fixture[array_api_strict]", "test_params[array_api_strict]"], out
    assert not any("numpy" in i or "jax" in i for i in ids), out  # test_some: an empty parameter set, skipped


@pytest.mark.backend_independent
def test_ci_later_passes_keep_only_the_tests_mlp_backend_can_change(tmp_path):
    code, ids, out = collect(tmp_path, "numpy", "-m", "not backend_independent")
    assert code == 0, out
    assert ids == ["test_on_the_default_backend"], out  # each backend's case was run by the pass without it


@pytest.mark.backend_independent
def test_an_mlp_backend_that_does_not_exist_stops_the_run(tmp_path):
    code, ids, out = collect(tmp_path, "NumPy")
    assert code == pytest.ExitCode.USAGE_ERROR and ids == [], out
    assert "unknown backend 'NumPy' (from MLP_BACKEND)" in out and "did you mean 'numpy'?" in out, out
