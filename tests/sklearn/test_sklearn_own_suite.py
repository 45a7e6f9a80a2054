"""scikit-learn's own MLP tests, run on :mod:`mlp.sklearn`.

The file ``sklearn/neural_network/tests/test_mlp.py`` ships in scikit-learn's wheel.  It is read from the
installed scikit-learn, its one import of the estimators is swapped for ``from mlp.sklearn import MLPClassifier,
MLPRegressor``, and its tests are collected here as they are: the contract a user relies on when changing that
import in their own code.

The tests listed in :data:`NOT_PASSED` reach into scikit-learn's private internals; they are marked as expected
failures with the reason (``strict``: one that starts passing fails the run, so the list stays true).

The suite runs on the NumPy backend: it tests the scikit-learn interface, the same on every backend (the engine's
own tests run on each), and on array-api-strict its 3000-epoch tests would take minutes.
"""

import pathlib

import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.7")

import mlp  # noqa: E402

#: every test runs on NumPy (numpy_backend_one_blas_thread below): MLP_BACKEND changes nothing here
pytestmark = pytest.mark.backend_independent

#: The import line of scikit-learn's file, and what it becomes.
ORIGINAL_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OUR_IMPORT = "from mlp.sklearn import MLPClassifier, MLPRegressor"

#: Tests of the file that mlp.sklearn does not pass, and why (each reaches into scikit-learn's private internals).
NOT_PASSED = {}

SOURCE_PATH = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"


def _load():
    if not SOURCE_PATH.is_file():
        pytest.skip(
            f"this scikit-learn ({sklearn.__version__}) does not ship {SOURCE_PATH.name}", allow_module_level=True
        )
    source = SOURCE_PATH.read_text(encoding="utf-8")
    if source.count(ORIGINAL_IMPORT) != 1:
        raise AssertionError(f"{SOURCE_PATH} no longer has the line {ORIGINAL_IMPORT!r} once; update this loader")
    namespace = {"__name__": "sklearn_test_mlp_on_mlp", "__file__": str(SOURCE_PATH)}
    # compiled under scikit-learn's own file name: tracebacks point at its lines
    exec(compile(source.replace(ORIGINAL_IMPORT, OUR_IMPORT), str(SOURCE_PATH), "exec"), namespace)
    return namespace


_namespace = _load()
_tests = sorted(name for name, obj in _namespace.items() if name.startswith("test_") and callable(obj))
_unknown = set(NOT_PASSED) - set(_tests)
if _unknown:
    raise AssertionError(f"NOT_PASSED names tests that scikit-learn's file does not have: {sorted(_unknown)}")
for _name in _tests:
    _test = _namespace[_name]
    if _name in NOT_PASSED:
        _test = pytest.mark.xfail(reason=NOT_PASSED[_name], strict=True)(_test)
    globals()[_name] = _test


@pytest.fixture(autouse=True)
def numpy_backend_one_blas_thread():
    """The NumPy backend, and one BLAS thread (tiny matrices: threads only add contention)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), mlp.use_backend("numpy"):
        yield


@pytest.fixture
def global_random_seed():
    """scikit-learn's conftest fixture of that name, at its default seed (42)."""
    return 42


def test_the_import_was_swapped():
    assert _namespace["MLPClassifier"] is __import__("mlp.sklearn", fromlist=["MLPClassifier"]).MLPClassifier
    assert _namespace["MLPRegressor"].__module__.startswith("mlp.sklearn")
