"""Bad data and arguments given to ``fit`` and ``evaluate``: refused before training starts, naming the array, the
rows and the values, with the model and optimizer untouched; a run that diverges stops naming epoch and step.

docs/reliability.md lists every case with its test; the model's own checks are in tests/core/test_bad_input.py.
"""

import numpy as np
import pytest

import mlp
from mlp.io import datasets
from tests_helpers import assert_untouched, quick_fit, raises, tiny_data, tiny_net

#: every model here names its backend (tiny_net's numpy, or the backend fixture's): MLP_BACKEND changes nothing
#: here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent

# -- the data --------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["fit", "evaluate", "validation_data"])
def test_labels_of_wrong_length(where):
    X, y = tiny_data(n=5)
    with raises(ValueError, "4 labels", "5 rows"):
        if where == "fit":
            quick_fit(tiny_net(), X, y[:4])
        elif where == "evaluate":
            mlp.evaluate(tiny_net(), X, y[:4])
        else:
            quick_fit(tiny_net(), X, y, validation_data=(X, y[:4]))


@pytest.mark.parametrize(
    "labels, n_out, needles",
    [
        ([0, 1, 2, 1, 0], 2, ["[0, 2)", "2 outputs", "found 2 at index 2"]),
        ([0, -1, 0, 1, 0], 2, ["[0, 2)", "found -1 at index 1"]),
        ([0, 1, 0, 1, 9], 3, ["[0, 3)", "found 9 at index 4"]),
        ([0, 1, 2, 1, 0], 1, ["[0, 2)", "1 outputs", "found 2 at index 2"]),  # one sigmoid output: labels 0/1
    ],
    ids=["too-large", "negative", "three-classes", "one-output"],
)
def test_labels_outside_the_classes(labels, n_out, needles):
    model = tiny_net(sizes=(3, 4, n_out))
    X, _ = tiny_data(n=5)
    with raises(ValueError, *needles):
        quick_fit(model, X, np.array(labels), loss="binary_cross_entropy" if n_out == 1 else "cross_entropy")
    with raises(ValueError, *needles):
        mlp.evaluate(model, X, np.array(labels))


def test_x_and_y_as_python_lists_train_like_arrays():
    X, y = tiny_data(n=8)
    a, b = tiny_net(dtype="float64"), tiny_net(dtype="float64")
    quick_fit(a, X, y, epochs=2)
    quick_fit(b, X.tolist(), y.tolist(), epochs=2)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    assert list(a.predict(X.tolist())) == list(a.predict(X))


@pytest.mark.parametrize(
    "X, exc, needles",
    [
        ([[1.0, 2.0, 3.0], [1.0, 2.0]], ValueError, ["X is a list", "not a rectangular table"]),
        (np.array([["a", "b", "c"]] * 2), TypeError, ["X must hold real numbers", "<U1"]),
        (np.ones((2, 3), dtype=complex), TypeError, ["X must hold real numbers", "complex128"]),
        (np.array([[1, None, 3]] * 2, dtype=object), TypeError, ["X must hold real numbers", "object"]),
        (None, TypeError, ["X must be an array", "NoneType"]),
        (3.0, TypeError, ["X must be an array", "float"]),
    ],
    ids=["ragged list", "strings", "complex", "objects", "None", "scalar"],
)
def test_x_that_is_not_a_table_of_real_numbers(X, exc, needles):
    with raises(exc, *needles):
        quick_fit(tiny_net(), X, [0, 1])


def test_labels_given_as_floats():
    X, y = tiny_data(n=6)
    a, b = tiny_net(dtype="float64"), tiny_net(dtype="float64")
    quick_fit(a, X, y)
    quick_fit(b, X, y.astype(np.float64))  # whole numbers stored as floats are labels
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    with raises(ValueError, "whole numbers", "found 0.5 at index 1"):
        quick_fit(tiny_net(), X, np.array([0, 0.5, 1, 0, 1, 1]))
    with raises(ValueError, "whole numbers", "found nan at index 2"):
        quick_fit(tiny_net(), X, np.array([0, 1, np.nan, 0, 1, 1]))
    with raises(TypeError, "y must hold real numbers", "<U1"):
        quick_fit(tiny_net(), X, np.array(list("abcdef")))


@pytest.mark.parametrize("where", ["fit", "evaluate", "validation_data"])
def test_empty_dataset(where):
    X, y = tiny_data(n=4)
    empty = (np.zeros((0, 3)), np.zeros(0, dtype=int))
    with raises(ValueError, "has no rows", "(0, 3)"):
        if where == "fit":
            quick_fit(tiny_net(), *empty)
        elif where == "evaluate":
            mlp.evaluate(tiny_net(), *empty, loss="cross_entropy")
        else:
            quick_fit(tiny_net(), X, y, validation_data=empty)


def test_data_already_on_the_models_backend_is_accepted(backend):
    """The other side of the check above: device arrays of the model's own backend train like host data."""
    X, y = tiny_data(n=8)
    a, b = tiny_net(backend, "float64"), tiny_net(backend, "float64")
    quick_fit(a, X, y, epochs=2)
    quick_fit(b, backend.asarray(X, dtype="float64"), backend.asarray(y), epochs=2)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    assert mlp.evaluate(b, backend.asarray(X, dtype="float64"), y) == mlp.evaluate(a, X, y)


# -- values: NaN, Inf, divergence ------------------------------------------------------------------


class _Spy(mlp.Callback):
    began = False

    def on_train_begin(self, state):
        self.began = True


@pytest.mark.parametrize("where", ["X", "device X", "validation X", "targets"])
def test_nan_or_inf_in_the_data_is_refused_before_training(backend, where):
    model = tiny_net(backend, "float64")
    before, opt, spy = model.state_dict(), mlp.SGD(0.1), _Spy()
    X, y = tiny_data(n=30)
    bad = X.copy()
    bad[[3, 17], 1] = [np.nan, np.inf]
    bad[25, 0] = -np.inf
    kw = {"optimizer": opt, "callbacks": [spy]}
    if where == "X":
        args, name = (bad, y), "X"
    elif where == "device X":
        args, name = (backend.asarray(bad, dtype="float64"), y), "X"
    elif where == "validation X":
        args, name = (X, y), "validation_data X"
        kw["validation_data"] = (bad, y)
    else:
        T = np.eye(2)[y]
        T[[3, 17, 25], 0] = [np.nan, np.inf, -np.inf]
        args, name = (X, T), "y"
    with raises(ValueError, f"{name} contains NaN or Inf in 3 rows (rows 3, 17, 25)"):
        quick_fit(model, *args, **kw)
    assert_untouched(model, before)
    assert opt.t == 0 and not spy.began


def test_many_bad_rows_are_summarised():
    X, y = tiny_data(n=40)
    X[::2, 0] = np.nan
    with raises(ValueError, "in 20 rows (rows 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, ...)"):
        quick_fit(tiny_net(), X, y)


def test_divergence_at_the_first_step_keeps_the_initial_weights(backend, dtype):
    """Inputs so large that the very first loss overflows: fit stops at epoch 1, step 1, weights as built."""
    model = mlp.Sequential([mlp.Linear(3, 4), mlp.Identity(), mlp.Linear(4, 2)], backend=backend, dtype=dtype)
    before, opt = model.state_dict(), mlp.SGD(0.1, momentum=0.9)
    X, y = tiny_data(n=8)
    X *= 1e200 if dtype == "float64" else 1e30
    with raises(mlp.DivergenceError, "epoch 1, step 1 of 4", "smaller learning rate", "lr=0.1"):
        quick_fit(model, X, np.eye(2)[y], loss="quadratic", optimizer=opt)
    assert_untouched(model, before)
    assert opt.t == 0


def test_divergence_mid_run_on_every_backend(backend):
    """A learning rate far too large: the error names epoch and step, the weights kept are finite and are
    those of the step before (one more update from them gives a non-finite loss)."""
    X, y = datasets.spirals(n_samples=64, seed=1)
    model = mlp.Sequential([mlp.Linear(2, 8), mlp.Tanh(), mlp.Linear(8, 2)], backend=backend, dtype="float32")
    opt = mlp.SGD(1e12)
    with raises(mlp.DivergenceError, "epoch", "step", "of 8", "smaller learning rate") as info:
        quick_fit(model, X * 100, y, optimizer=opt, batch_size=8, epochs=3, shuffle=False, loss="quadratic")
    message = str(info.value)
    epoch = int(message.split("epoch ")[1].split(",")[0])
    step = int(message.split("step ")[1].split()[0])
    state = model.state_dict()
    assert all(np.all(np.isfinite(v)) for v in state.values())
    assert opt.t == (epoch - 1) * 8 + step - 1  # every step before the bad one, and no more


# -- arguments of fit and evaluate -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"epochs": -2}, "epochs must be a positive integer, got -2"),
        ({"epochs": 1.5}, "epochs must be a positive integer, got 1.5"),
        ({"epochs": True}, "epochs must be a positive integer, got True"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"batch_size": -3}, "batch_size must be a positive integer, got -3"),
        ({"batch_size": "8"}, "batch_size must be a positive integer, got '8'"),
        ({"initial_epoch": -1}, "initial_epoch must be a non-negative integer, got -1"),
        ({"initial_step": 3}, "initial_step=3, but an epoch has only 3 steps"),
        ({"validation_data": ([[0, 0, 0]],)}, "validation_data must be a pair"),
    ],
    ids=[
        "epochs-0",
        "epochs-negative",
        "epochs-float",
        "epochs-bool",
        "batch_size-0",
        "batch_size-negative",
        "batch_size-str",
        "initial_epoch-negative",
        "initial_step-past-epoch",
        "validation_data-not-pair",
    ],
)
def test_fit_arguments(kw, needle):
    model = tiny_net()
    before = model.state_dict()
    with raises(ValueError, needle):
        quick_fit(model, *tiny_data(n=6), **kw)
    assert_untouched(model, before)


def test_evaluate_batch_size():
    with raises(ValueError, "batch_size must be a positive integer, got 0"):
        mlp.evaluate(tiny_net(), *tiny_data(), batch_size=0)


@pytest.mark.parametrize(
    "optimizer, needle",
    [
        (None, "optimizer must be an mlp optimizer (e.g. mlp.SGD(lr=0.1)), got None"),
        (mlp.SGD, "an instance, e.g. SGD(lr=0.1)"),
    ],
    ids=["None", "class"],
)
def test_fit_without_an_optimizer_instance(optimizer, needle):
    with raises(TypeError, needle):
        quick_fit(tiny_net(), *tiny_data(), optimizer=optimizer)
