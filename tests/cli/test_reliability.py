"""Bad input, faults and interruptions: every case gets a clear error, and nothing is lost.

Each test names the case it proves; docs/reliability.md lists them all (with the tests of
test_checkpoints.py, test_datasets.py, test_cli.py, test_backends.py, test_training.py and
test_model.py that cover the rest).  A clear error is one of mlp's own (or a builtin
ValueError/TypeError) raised by mlp, whose message names the layer, argument or file and
the shapes or values involved: never a traceback from deep inside an array library.
"""

import os
import pickle
import signal
import traceback
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp import backends
from mlp.core.errors import CheckpointError
from mlp.io import datasets, download
from tests_helpers import interrupt_after, rewrite_checkpoint, run_cli, small_net

MLP_DIR = Path(mlp.__file__).resolve().parent
BACKENDS_DIR = Path(backends.__file__).resolve().parent


def _usable(name):
    try:
        backends.get_backend(name)
        return True
    except backends.BackendUnavailableError:
        return False


def _raised_by_us(info):
    """The exception was raised by mlp/backends code, not from inside an array library."""
    frame = traceback.extract_tb(info.tb)[-1]
    where = Path(frame.filename).resolve()
    assert MLP_DIR in where.parents or BACKENDS_DIR in where.parents, f"raised from {frame.filename}:{frame.lineno}"


def raises(exc, *needles, match=None):
    """``pytest.raises`` that also checks the error comes from mlp and its message holds ``needles``."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *a):
            suppressed = self.ctx.__exit__(*a)
            _raised_by_us(self.info)
            message = str(self.info.value)
            for needle in needles:
                assert needle in message, f"{needle!r} not in {message!r}"
            return suppressed

    return _Check()


def net(backend="numpy", dtype="float32", sizes=(3, 4, 2), activation=mlp.Sigmoid, seed=0):
    return small_net(backend, dtype, activation, None, sizes=sizes, seed=seed)


def data(n=6, n_in=3, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)), rng.integers(0, n_classes, n)


def fit(model, X, y, **kw):
    kw = {"loss": "cross_entropy", "epochs": 1, "batch_size": 2, "progress": False, **kw}
    kw.setdefault("optimizer", mlp.SGD(0.1))
    return mlp.fit(model, X, y, **kw)


def untouched(model, before):
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


# ================================================================================================
# Shapes
# ================================================================================================


@pytest.mark.parametrize(
    "layers, names",
    [
        ([mlp.Linear(3, 4), mlp.Linear(5, 2)], ["layer 1", "n_in=5", "layer 0", "n_out=4"]),
        (
            [mlp.Linear(3, 4), mlp.Tanh(), mlp.Linear(4, 6), mlp.ReLU(), mlp.Linear(7, 2)],
            ["layer 4", "n_in=7", "layer 2", "n_out=6"],
        ),
    ],
    ids=["adjacent", "behind-activations"],
)
def test_linear_width_mismatch_is_refused_at_build(layers, names):
    with raises(ValueError, *names):
        mlp.Sequential(layers)


@pytest.mark.parametrize("where", ["forward", "predict", "fit", "evaluate", "gradcheck"])
def test_input_of_wrong_width(backend, where):
    model = net(backend, "float64")
    X = np.zeros((5, 4))
    y = np.zeros(5, dtype=int)
    with raises(ValueError, "(5, 4)", "layer 0", "Linear(n_in=3", "(n_samples, 3)"):
        if where == "forward":
            model.forward(backend.asarray(X, dtype="float64"))
        elif where == "predict":
            model.predict(X)
        elif where == "fit":
            fit(model, X, y)
        elif where == "evaluate":
            mlp.evaluate(model, X, y)
        else:
            mlp.gradcheck(model, "quadratic", X, np.zeros((5, 2)))


@pytest.mark.parametrize("where", ["forward", "fit"])
def test_one_dimensional_input(where):
    model = net()
    with raises(ValueError, "shape (3,)", "(n_samples, 3)"):
        if where == "forward":
            model.forward(model.backend.asarray(np.zeros(3), dtype="float32"))
        else:
            fit(model, np.zeros(3), np.zeros(1, dtype=int))


@pytest.mark.parametrize("where", ["fit", "evaluate", "validation_data"])
def test_labels_of_wrong_length(where):
    X, y = data(n=5)
    with raises(ValueError, "4 labels", "5 rows"):
        if where == "fit":
            fit(net(), X, y[:4])
        elif where == "evaluate":
            mlp.evaluate(net(), X, y[:4])
        else:
            fit(net(), X, y, validation_data=(X, y[:4]))


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
    model = net(sizes=(3, 4, n_out))
    X, _ = data(n=5)
    with raises(ValueError, *needles):
        fit(model, X, np.array(labels), loss="binary_cross_entropy" if n_out == 1 else "cross_entropy")
    with raises(ValueError, *needles):
        mlp.evaluate(model, X, np.array(labels))


def test_targets_whose_shape_does_not_match_the_output(backend):
    model = net(backend, "float64")
    X, _ = data(n=5)
    with raises(ValueError, "y has shape (5, 3)", "(n_samples, 2)"):
        fit(model, X, np.zeros((5, 3)))
    with raises(ValueError, "y has shape (5, 3)", "(n_samples, 2)"):
        mlp.evaluate(model, X, np.zeros((5, 3)))
    with raises(ValueError, "(5, 2, 1)", "(n, 2)"):
        fit(model, X, np.zeros((5, 2, 1)))
    Y = model.forward(backend.asarray(X, dtype="float64"))
    for loss in (mlp.Quadratic(), mlp.CrossEntropy(), mlp.BinaryCrossEntropy()):
        with raises(ValueError, type(loss).__name__, "T of shape (5, 3)", "Y of shape (5, 2)"):
            loss.forward(Y, backend.asarray(np.zeros((5, 3)), dtype="float64"))


def test_backward_with_a_gradient_of_the_wrong_shape():
    model = net()
    model.forward(model.backend.asarray(np.zeros((5, 3)), dtype="float32"))
    with raises(ValueError, "dY has shape (5, 3)", "(n_samples, 2)"):
        model.backward(model.backend.asarray(np.zeros((5, 3)), dtype="float32"))


def test_gradcheck_with_mismatched_shapes():
    model = net(dtype="float64")
    with raises(ValueError, "(2, 4)", "layer 0", "(n_samples, 3)"):
        mlp.gradcheck(model, "quadratic", np.zeros((2, 4)), np.zeros((2, 2)))
    with raises(ValueError, "T of shape (2, 5)", "Y of shape (2, 2)"):
        mlp.gradcheck(model, "quadratic", np.zeros((2, 3)), np.zeros((2, 5)))


def test_x_and_y_as_python_lists_train_like_arrays():
    X, y = data(n=8)
    a, b = net(dtype="float64"), net(dtype="float64")
    fit(a, X, y, epochs=2)
    fit(b, X.tolist(), y.tolist(), epochs=2)
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
        fit(net(), X, [0, 1])


def test_forward_given_a_list_or_host_data_of_another_dtype():
    model = net()
    with raises(TypeError, "input X is a list, not an array", "model.backend.asarray"):
        model.forward([[0.0, 1.0, 2.0]])
    with raises(TypeError, "dtype float64", "model is float32", "never promoted"):
        model.forward(np.zeros((2, 3)))


def test_labels_given_as_floats():
    X, y = data(n=6)
    a, b = net(dtype="float64"), net(dtype="float64")
    fit(a, X, y)
    fit(b, X, y.astype(np.float64))  # whole numbers stored as floats are labels
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    with raises(ValueError, "whole numbers", "found 0.5 at index 1"):
        fit(net(), X, np.array([0, 0.5, 1, 0, 1, 1]))
    with raises(ValueError, "whole numbers", "found nan at index 2"):
        fit(net(), X, np.array([0, 1, np.nan, 0, 1, 1]))
    with raises(TypeError, "y must hold real numbers", "<U1"):
        fit(net(), X, np.array(list("abcdef")))


@pytest.mark.parametrize("where", ["fit", "evaluate", "validation_data"])
def test_empty_dataset(where):
    X, y = data(n=4)
    empty = (np.zeros((0, 3)), np.zeros(0, dtype=int))
    with raises(ValueError, "has no rows", "(0, 3)"):
        if where == "fit":
            fit(net(), *empty)
        elif where == "evaluate":
            mlp.evaluate(net(), *empty, loss="cross_entropy")
        else:
            fit(net(), X, y, validation_data=empty)


# ================================================================================================
# Values
# ================================================================================================


class _Spy(mlp.Callback):
    began = False

    def on_train_begin(self, state):
        self.began = True


@pytest.mark.parametrize("where", ["X", "device X", "validation X", "targets"])
def test_nan_or_inf_in_the_data_is_refused_before_training(backend, where):
    model = net(backend, "float64")
    before, opt, spy = model.state_dict(), mlp.SGD(0.1), _Spy()
    X, y = data(n=30)
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
        fit(model, *args, **kw)
    untouched(model, before)
    assert opt.t == 0 and not spy.began


def test_many_bad_rows_are_summarised():
    X, y = data(n=40)
    X[::2, 0] = np.nan
    with raises(ValueError, "in 20 rows (rows 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, ...)"):
        fit(net(), X, y)


def test_divergence_at_the_first_step_keeps_the_initial_weights(backend, dtype):
    """Inputs so large that the very first loss overflows: fit stops at epoch 1, step 1, weights as built."""
    model = mlp.Sequential([mlp.Linear(3, 4), mlp.Identity(), mlp.Linear(4, 2)], backend=backend, dtype=dtype)
    before, opt = model.state_dict(), mlp.SGD(0.1, momentum=0.9)
    X, y = data(n=8)
    X *= 1e200 if dtype == "float64" else 1e30
    with raises(mlp.DivergenceError, "epoch 1, step 1 of 4", "smaller learning rate", "lr=0.1"):
        fit(model, X, np.eye(2)[y], loss="quadratic", optimizer=opt)
    untouched(model, before)
    assert opt.t == 0


def test_divergence_mid_run_on_every_backend(backend):
    """A learning rate far too large: the error names epoch and step, the weights kept are finite and are
    those of the step before (one more update from them gives a non-finite loss)."""
    X, y = datasets.spirals(n_samples=64, seed=1)
    model = mlp.Sequential([mlp.Linear(2, 8), mlp.Tanh(), mlp.Linear(8, 2)], backend=backend, dtype="float32")
    opt = mlp.SGD(1e12)
    with raises(mlp.DivergenceError, "epoch", "step", "of 8", "smaller learning rate") as info:
        fit(model, X * 100, y, optimizer=opt, batch_size=8, epochs=3, shuffle=False, loss="quadratic")
    message = str(info.value)
    epoch = int(message.split("epoch ")[1].split(",")[0])
    step = int(message.split("step ")[1].split()[0])
    state = model.state_dict()
    assert all(np.all(np.isfinite(v)) for v in state.values())
    assert opt.t == (epoch - 1) * 8 + step - 1  # every step before the bad one, and no more


# ================================================================================================
# Configuration
# ================================================================================================


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
    if not _usable(name):
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


@pytest.mark.parametrize(
    "dtype",
    ["float16", "int32", "float", "bfloat16", np.float16, np.int64, "complex64"],
    ids=["float16", "int32", "float", "bfloat16", "np.float16", "np.int64", "complex64"],
)
def test_unsupported_dtype(dtype):
    with raises(ValueError, "is not supported", "float32, float64"):
        mlp.Sequential([mlp.Linear(2, 2)], dtype=dtype)


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: mlp.SGD(0), "SGD: lr must be a positive number"),
        (lambda: mlp.SGD(-0.5), "SGD: lr must be a positive number"),
        (lambda: mlp.SGD(float("nan")), "got nan"),
        (lambda: mlp.SGD(float("inf")), "(finite), got inf"),
        (lambda: mlp.SGD("0.1"), "got '0.1'"),
        (lambda: mlp.SGD(True), "got True"),
        (lambda: mlp.Adam(lr=0), "Adam: lr must be a positive number"),
        (lambda: mlp.Adam(lr=-1e-3), "Adam: lr must be a positive number"),
        (lambda: mlp.SGD(0.1, momentum=1.5), "SGD: momentum must be in [0, 1), got 1.5"),
        (lambda: mlp.SGD(0.1, momentum=1.0), "SGD: momentum must be in [0, 1), got 1.0"),
        (lambda: mlp.SGD(0.1, momentum=-0.1), "SGD: momentum must be in [0, 1), got -0.1"),
        (lambda: mlp.SGD(0.1, nesterov=True), "nesterov=True needs a momentum > 0"),
        (lambda: mlp.SGD(0.1, weight_decay=-1), "weight_decay must be a finite number >= 0, got -1"),
        (lambda: mlp.SGD(0.1, weight_decay=float("inf")), "weight_decay must be a finite number >= 0, got inf"),
        (lambda: mlp.Adam(betas=(1.0, 0.9)), "Adam: betas[0] must be in [0, 1), got 1.0"),
        (lambda: mlp.Adam(betas=(0.9, 1.0)), "Adam: betas[1] must be in [0, 1), got 1.0"),
        (lambda: mlp.Adam(betas=(0.9,)), "Adam: betas must be a pair"),
        (lambda: mlp.Adam(betas=0.9), "Adam: betas must be a pair"),
        (lambda: mlp.Adam(eps=0), "Adam: eps must be a positive number"),
    ],
    ids=[
        "SGD-lr-0",
        "SGD-lr-negative",
        "SGD-lr-nan",
        "SGD-lr-inf",
        "SGD-lr-str",
        "SGD-lr-bool",
        "Adam-lr-0",
        "Adam-lr-negative",
        "SGD-momentum-1.5",
        "SGD-momentum-1",
        "SGD-momentum-negative",
        "SGD-nesterov-no-momentum",
        "SGD-weight_decay-negative",
        "SGD-weight_decay-inf",
        "Adam-beta1-1",
        "Adam-beta2-1",
        "Adam-betas-one",
        "Adam-betas-scalar",
        "Adam-eps-0",
    ],
)
def test_optimizer_hyperparameters(make, needle):
    with raises(ValueError, needle):
        make()


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
    model = net()
    before = model.state_dict()
    with raises(ValueError, needle):
        fit(model, *data(n=6), **kw)
    untouched(model, before)


def test_evaluate_batch_size():
    with raises(ValueError, "batch_size must be a positive integer, got 0"):
        mlp.evaluate(net(), *data(), batch_size=0)


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
        fit(net(), *data(), optimizer=optimizer)


@pytest.mark.parametrize(
    "make, exc, needle",
    [
        (lambda: mlp.Linear(0, 3), ValueError, "Linear: n_in must be a positive integer, got 0"),
        (lambda: mlp.Linear(3, -1), ValueError, "Linear: n_out must be a positive integer, got -1"),
        (lambda: mlp.Linear(3, "4"), ValueError, "Linear: n_out must be a positive integer, got '4'"),
        (lambda: mlp.Linear(3, 2.0), ValueError, "Linear: n_out must be a positive integer, got 2.0"),
        (lambda: mlp.Linear(True, 3), ValueError, "Linear: n_in must be a positive integer, got True"),
        (
            lambda: mlp.Linear(3, 4, init="glorot"),
            ValueError,
            "unknown init 'glorot'; choose one of normal, nielsen, xavier, he",
        ),
        (lambda: mlp.LeakyReLU("x"), ValueError, "LeakyReLU: slope must be a finite number, got 'x'"),
        (lambda: mlp.LeakyReLU(float("nan")), ValueError, "LeakyReLU: slope must be a finite number, got nan"),
        (lambda: mlp.Sequential([]), ValueError, "Sequential needs at least one layer"),
        (lambda: mlp.Sequential([mlp.ReLU()]), ValueError, "needs at least one Linear layer"),
        (lambda: mlp.Sequential([mlp.Linear(2, 2), "relu"]), TypeError, "layer 1 is 'relu', not an mlp layer"),
        (
            lambda: mlp.Sequential([mlp.Linear(2, 2)], seed="a"),
            ValueError,
            "seed must be a non-negative integer, got 'a'",
        ),
        (
            lambda: mlp.Sequential([mlp.Linear(2, 2)], seed=-1),
            ValueError,
            "seed must be a non-negative integer, got -1",
        ),
        (lambda: mlp.Sequential.from_config({"layers": [{"type": "Conv2d"}]}), ValueError, "unknown layer description"),
        (
            lambda: mlp.build_mlp([2, 3, 2], "swish", "quadratic", "he", "numpy", "float32", 0),
            ValueError,
            "unknown activation 'swish'; choose one of sigmoid, tanh, relu, leaky_relu, identity",
        ),
        (
            lambda: mlp.get_loss("hinge"),
            ValueError,
            "unknown loss 'hinge'; choose one of quadratic, mse, cross_entropy",
        ),
        (lambda: mlp.get_loss(None), ValueError, "unknown loss None"),
        (lambda: fit(net(), *data(), loss="hinge"), ValueError, "unknown loss 'hinge'"),
    ],
    ids=[
        "Linear-0-3",
        "Linear-3-negative",
        "Linear-3-str",
        "Linear-3-float",
        "Linear-bool",
        "Linear-init",
        "LeakyReLU-slope-str",
        "LeakyReLU-slope-nan",
        "Sequential-empty",
        "Sequential-no-Linear",
        "Sequential-not-a-layer",
        "Sequential-seed-str",
        "Sequential-seed-negative",
        "from_config-unknown-layer",
        "cli-unknown-activation",
        "get_loss-unknown",
        "get_loss-None",
        "fit-unknown-loss",
    ],
)
def test_layers_losses_and_names(make, exc, needle):
    with raises(exc, needle):
        make()


@pytest.mark.parametrize(
    "edit, exc, needles",
    [
        (lambda s: s.pop("W1"), ValueError, ["missing ['W1']", "unexpected []"]),
        (lambda s: s.update(W9=np.zeros(2)), ValueError, ["missing []", "unexpected ['W9']"]),
        (lambda s: s.update(W0=s["W0"].T), ValueError, ["W0 has shape (4, 3)", "needs (3, 4)"]),
        (
            lambda s: s.update(b1=np.zeros(2, dtype=np.int64), W0=s["W0"] + 1),
            ValueError,
            ["b1 has dtype int64", "float"],
        ),
        (lambda s: s.update(b1=np.zeros(3), W0=s["W0"] + 1), ValueError, ["b1 has shape (3,)", "needs (2,)"]),
    ],
    ids=["missing key", "extra key", "wrong shape", "integer dtype", "last entry wrong"],
)
def test_load_state_dict_that_does_not_fit(edit, exc, needles):
    model = net()
    state = model.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    edit(state)
    with raises(exc, *needles):
        model.load_state_dict(state)
    untouched(model, before)  # nothing half-loaded: W0 (valid, changed) is not copied either
    with raises(TypeError, "load_state_dict needs a dict"):
        model.load_state_dict([1, 2])


# -- a model and data on different backends ----------------------------------------------------

PAIRS = [(m, d) for m in backends.KNOWN for d in backends.KNOWN if m != d]


@pytest.mark.parametrize("model_be, data_be", PAIRS, ids=[f"{m}-model-{d}-data" for m, d in PAIRS])
def test_model_and_data_on_different_backends(model_be, data_be):
    if not (_usable(model_be) and _usable(data_be)):
        pytest.skip(f"needs both {model_be} and {data_be}")
    model = net(model_be)
    other = backends.get_backend(data_be)
    X, y = data(n=4)
    Xo, yo = other.asarray(X, dtype="float32"), other.asarray(y)
    Y = model.forward(model.backend.asarray(X, dtype="float32"))
    with raises(TypeError, f"input X is a {data_be} array", f"the model is on the {model_be} backend"):
        model.forward(Xo)
    with raises(TypeError, f"targets T are a {data_be} array", f"outputs Y are a {model_be} array"):
        mlp.CrossEntropy().forward(Y, other.asarray(np.eye(2)[y], dtype="float32"))
    if data_be == "numpy":  # host NumPy data is what fit/evaluate/predict take on any backend
        fit(model, Xo, yo)
        mlp.evaluate(model, Xo, yo)
        model.predict(Xo)
        return
    with raises(TypeError, f"input X is a {data_be} array"):
        model.predict(Xo)
    for name, call in [
        ("X", lambda: fit(model, Xo, y)),
        ("y", lambda: fit(model, X, yo)),
        ("X", lambda: mlp.evaluate(model, Xo, y)),
        ("y", lambda: mlp.evaluate(model, X, yo)),
        ("validation_data X", lambda: fit(model, X, y, validation_data=(Xo, y))),
    ]:
        with raises(ValueError, f"{name} is a {data_be} array", f"the model is on the {model_be} backend"):
            call()


def test_data_already_on_the_models_backend_is_accepted(backend):
    """The other side of the check above: device arrays of the model's own backend train like host data."""
    X, y = data(n=8)
    a, b = net(backend, "float64"), net(backend, "float64")
    fit(a, X, y, epochs=2)
    fit(b, backend.asarray(X, dtype="float64"), backend.asarray(y), epochs=2)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
    assert mlp.evaluate(b, backend.asarray(X, dtype="float64"), y) == mlp.evaluate(a, X, y)


def test_loss_targets_of_another_dtype_or_not_an_array(backend):
    model = net(backend, "float32")
    Y = model.forward(backend.asarray(np.zeros((2, 3)), dtype="float32"))
    with raises(TypeError, "T have dtype float64", "Y are float32", "never promoted"):
        mlp.Quadratic().forward(Y, backend.asarray(np.zeros((2, 2)), dtype="float64"))
    with raises(TypeError, "targets T are a list"):
        mlp.Quadratic().forward(Y, [[0.0, 0.0], [0.0, 0.0]])


# ================================================================================================
# CLI: one readable line, non-zero status, no traceback
# ================================================================================================


def one_line_error(code, err, *needles, status=2):
    assert code == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and ": error: " in lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


TRAIN = ["train", "--data", "spirals", "--quiet", "--epochs", "1"]


@pytest.mark.parametrize(
    "argv, needles",
    [
        (["train", "--activation", "swish"], ["mlp train: error: argument --activation: invalid choice: 'swish'"]),
        (["train", "--dtype", "float16"], ["argument --dtype: invalid choice: 'float16'"]),
        (["train", "--sizes", "abc"], ["--sizes must be comma-separated integers"]),
        (["train", "--sizes", "2,0,2"], ["--sizes needs at least two positive widths"]),
        (["train", "--lr", "fast"], ["argument --lr: invalid float value: 'fast'"]),
        (["train", "--loss", "hinge"], ["argument --loss: invalid choice: 'hinge'"]),
        (["train", "--init", "glorot"], ["argument --init: invalid choice: 'glorot'"]),
        (["evaluate"], ["the following arguments are required: path"]),
        ([], ["mlp: error: the following arguments are required: COMMAND"]),
    ],
    ids=[
        "activation",
        "dtype",
        "sizes-text",
        "sizes-zero",
        "lr-text",
        "loss",
        "init",
        "evaluate-no-path",
        "no-command",
    ],
)
def test_cli_usage_errors_are_one_line(capsys, argv, needles):
    code, _, err = run_cli(argv, capsys)
    line = one_line_error(code, err, *needles)
    assert "--help" in line


@pytest.mark.parametrize(
    "extra, env, needles",
    [
        (["--lr", "inf"], {}, ["mlp: error: SGD: lr must be a positive number (finite), got inf"]),
        (["--lr", "0"], {}, ["lr must be a positive number"]),
        (["--momentum", "1.5"], {}, ["SGD: momentum must be in [0, 1), got 1.5"]),
        (["--epochs", "0"], {}, ["epochs must be a positive integer, got 0"]),
        (["--batch-size", "-1"], {}, ["batch_size must be a positive integer, got -1"]),
        (["--l2", "-1"], {}, ["lmbda must be a finite number >= 0"]),
        (["--sizes", "2,8,3"], {}, ["--sizes 2,8,3 does not fit --data spirals", "output width 2"]),
        (["--lr", "1e9"], {}, ["the loss became", "epoch 1, step", "try a smaller learning rate"]),
        ([], {"MLP_BACKEND": "NumPy"}, ["unknown backend 'NumPy' (from MLP_BACKEND)", "did you mean 'numpy'?"]),
        ([], {"MLP_BACKEND": "numpy "}, ["unknown backend 'numpy ' (from MLP_BACKEND)"]),
        (["--backend", "tensorflow"], {}, ["unknown backend 'tensorflow' (from argument)"]),
        (
            ["--backend", "numpy"],
            {"MLP_DEVICE": "cuda:1"},
            ["MLP_DEVICE='cuda:1' does not exist for the numpy backend"],
        ),
        (["--backend", "torch"], {"MLP_DEVICE": "tpu"}, ["MLP_DEVICE='tpu' is not a torch device"]),
    ],
    ids=[
        "lr-inf",
        "lr-0",
        "momentum",
        "epochs",
        "batch-size",
        "l2",
        "sizes",
        "diverges",
        "MLP_BACKEND-case",
        "MLP_BACKEND-space",
        "backend-unknown",
        "MLP_DEVICE-numpy",
        "MLP_DEVICE-torch",
    ],
)
def test_cli_library_errors_are_one_line(capsys, fresh, tmp_path, extra, env, needles):
    if "torch" in extra and not _usable("torch"):
        pytest.skip("torch is not usable here")
    for k, v in env.items():
        fresh.setenv(k, v)
    code, _, err = run_cli([*TRAIN, "--save", str(tmp_path / "run.safetensors"), *extra], capsys)
    line = one_line_error(code, err, *needles)
    assert line.startswith("mlp: error: ")


def test_cli_hostile_checkpoints_are_one_line_and_run_nothing(capsys, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"W0": Payload()}))
    for command in (["evaluate", str(evil), "--data", "spirals"], ["train", "--resume", str(evil), "--quiet"]):
        code, _, err = run_cli(command, capsys)
        one_line_error(code, err, "evil.safetensors", "looks like a pickle", "never loaded")
    assert not marker.exists()

    good = tmp_path / "good.safetensors"
    assert run_cli([*TRAIN, "--save", str(good)], capsys)[0] == 0
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-10])
    for command in (["evaluate", str(cut), "--data", "spirals"], ["train", "--resume", str(cut), "--quiet"]):
        code, _, err = run_cli(command, capsys)
        one_line_error(code, err, "cut.safetensors", "truncated")
    code, _, err = run_cli(["evaluate", str(tmp_path / "none.safetensors"), "--data", "spirals"], capsys)
    one_line_error(code, err, "none.safetensors", "no such file")
    code, _, err = run_cli(["train", "--resume", str(good), "--lr", "0.5"], capsys)
    one_line_error(code, err, "--resume continues the saved run with its own settings; drop --lr")


def test_cli_corrupt_data_files_are_one_line(capsys, tmp_path, monkeypatch):
    def no_network(url, timeout):
        raise AssertionError(f"tried to reach {url}")

    monkeypatch.setattr(download, "_urlopen", no_network)
    for name in datasets.FILES:
        (tmp_path / name).write_bytes(b"\x1f\x8b not the canonical file")
    code, _, err = run_cli(["train", "--data", "mnist", "--data-dir", str(tmp_path), "--quiet"], capsys)
    one_line_error(code, err, str(tmp_path / datasets.FILES[0]), "SHA-256", "not used")


# ================================================================================================
# Checkpoints: disagreements not covered by test_checkpoints.py
# ================================================================================================


@pytest.fixture
def even_checkpoint(tmp_path):
    """A float32 checkpoint whose W0 (4 x 6) has as many bytes as a float64 (4 x 3)."""
    model = mlp.Sequential([mlp.Linear(4, 6), mlp.ReLU(), mlp.Linear(6, 2)], backend="numpy", dtype="float32")
    return mlp.save(model, tmp_path / "even.safetensors")


def test_checkpoint_header_dtype_edited_with_consistent_sizes(even_checkpoint):
    rewrite_checkpoint(even_checkpoint, lambda header, meta: header["model.W0"].update(dtype="F64", shape=[4, 3]))
    with raises(
        CheckpointError,
        "even.safetensors",
        "'model.W0' is float64 [4, 3] in the header",
        "float32 [4, 6] in the metadata",
        "edited",
    ):
        mlp.load_checkpoint(even_checkpoint)


def test_checkpoint_metadata_dtype_edited(even_checkpoint):
    rewrite_checkpoint(even_checkpoint, lambda header, meta: meta["tensors"]["model.b0"].update(dtype="float64"))
    with raises(
        CheckpointError, "even.safetensors", "'model.b0' is float32 [6] in the header", "float64 [6] in the metadata"
    ):
        mlp.load_checkpoint(even_checkpoint)


def test_checkpoint_model_dtype_edited(even_checkpoint):
    rewrite_checkpoint(even_checkpoint, lambda header, meta: meta.update(dtype="float64"))
    with raises(CheckpointError, "even.safetensors", "float64"):
        mlp.load_checkpoint(even_checkpoint)


# ================================================================================================
# Saves and interruptions
# ================================================================================================


class _ReadBack(mlp.Callback):
    """After each epoch (and after ModelCheckpoint), read the file back."""

    def __init__(self, path):
        self.path, self.epochs = path, []

    def on_epoch_end(self, epoch, logs, state):
        ckpt = mlp.load_checkpoint(self.path)
        self.epochs.append(ckpt.extra["epoch"])
        for k, v in state.model.state_dict().items():
            np.testing.assert_array_equal(ckpt.model.state_dict()[k], v)


def test_model_checkpoint_saves_every_epoch(tmp_path):
    path = tmp_path / "run.safetensors"
    spy = _ReadBack(path)
    fit(net(), *data(n=10), epochs=3, callbacks=[mlp.ModelCheckpoint(path), spy])
    assert spy.epochs == [1, 2, 3]


def test_interrupt_mid_epoch_checkpoint_and_resume_equal_an_uninterrupted_run(tmp_path, monkeypatch):
    """Ctrl-C in the middle of epoch 2: TrainingInterrupted says where, the checkpoint written from it
    resumes through the file to exactly the weights of a run that was never stopped."""
    import mlp.train.runner as training

    monkeypatch.setattr(training, "CHECK_EVERY", 1)  # notice Ctrl-C after the very step it came in
    X, y = datasets.spirals(n_samples=160, seed=7)
    kw = dict(epochs=3, batch_size=16, seed=5)  # 10 steps per epoch
    ref, ref_opt = net(dtype="float64", sizes=(2, 8, 2)), mlp.Adam(0.01)
    fit(ref, X, y, optimizer=ref_opt, **kw)

    model, opt = net(dtype="float64", sizes=(2, 8, 2)), mlp.Adam(0.01)
    interrupt_after(monkeypatch, 10 + 4)  # epoch 1: 10 steps; then the 4th step of epoch 2
    with pytest.raises(mlp.TrainingInterrupted) as stop:
        fit(model, X, y, optimizer=opt, **kw)
    assert (stop.value.epoch, stop.value.step) == (1, 4)
    assert "epoch 2, after step 4" in str(stop.value)
    assert opt.t == 14 and signal.getsignal(signal.SIGINT) is signal.default_int_handler

    path = tmp_path / "stopped.safetensors"
    mlp.save(model, path, opt, epoch=stop.value.epoch, step=stop.value.step, history=stop.value.history.to_dict())
    ckpt = mlp.load_checkpoint(path)
    extra = ckpt.extra
    fit(
        ckpt.model,
        X,
        y,
        optimizer=ckpt.optimizer,
        initial_epoch=extra["epoch"],
        initial_step=extra["step"],
        history=mlp.History.from_dict(extra["history"]),
        **kw,
    )
    assert ckpt.optimizer.t == ref_opt.t == 30
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(ckpt.model.state_dict()[k], v, rtol=1e-12, atol=1e-14, err_msg=k)


def test_cli_ctrl_c_mid_epoch_saves_and_resumes_exactly(tmp_path, monkeypatch, capsys):
    """`mlp train` stopped by SIGINT in the middle of epoch 2: status 130, one line naming the checkpoint,
    a checkpoint with epoch 1 and step 7; `mlp train --resume` then ends where an unbroken run ends."""
    import mlp.train.runner as training

    monkeypatch.setattr(training, "CHECK_EVERY", 1)
    common = ["train", "--data", "spirals", "--quiet", "--dtype", "float64", "--batch-size", "100"]  # 16 steps/epoch
    whole, stopped = tmp_path / "whole.safetensors", tmp_path / "stopped.safetensors"
    assert run_cli([*common, "--epochs", "3", "--save", str(whole)], capsys)[0] == 0

    import mlp.train.runner as training

    real_run = training.StepRunner.run
    interrupt_after(monkeypatch, 16 + 7)  # epoch 1 (16 steps), then 7 steps of epoch 2
    code, _, err = run_cli([*common, "--epochs", "3", "--save", str(stopped)], capsys)
    monkeypatch.setattr(training.StepRunner, "run", real_run)
    assert code == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0] == (
        f"mlp: interrupted at epoch 2, step 7; checkpoint saved to {stopped} "
        f"(continue with: mlp train --resume {stopped})"
    )
    extra = mlp.load_checkpoint(stopped).extra
    assert (extra["epoch"], extra["step"]) == (1, 7) and len(extra["history"]["epoch"]) == 1

    code, _, err = run_cli(["train", "--resume", str(stopped), "--epochs", "2", "--quiet"], capsys)
    assert code == 0, err
    a, b = mlp.load_checkpoint(whole), mlp.load_checkpoint(stopped)
    assert b.extra["epoch"] == 3 and "step" not in b.extra and b.extra["history"]["epoch"] == [0, 1, 2]
    assert b.optimizer.t == a.optimizer.t == 48
    for k, v in a.model.state_dict().items():
        np.testing.assert_allclose(b.model.state_dict()[k], v, rtol=1e-12, atol=1e-14, err_msg=k)


# ================================================================================================
# Issue 18: nothing lost, nothing silent (items numbered as in the issue)
# ================================================================================================
import subprocess  # noqa: E402
import sys  # noqa: E402

from mlp.core.errors import DataError  # noqa: E402
from mlp.io import tables as readers  # noqa: E402
from mlp.io.checkpoint import load_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def _table_csv(tmp_path, name="data.csv"):
    path = tmp_path / name
    rows = "".join(f"{i % 7},{(i * 3) % 5},{'ab'[i % 2]}\n" for i in range(20))
    path.write_text("a,b,label\n" + rows)
    return path


# -- 1. a typo never destroys the user's data --------------------------------------------------------
@pytest.mark.parametrize("how", ["same-name", "symlink", "hard-link"])
def test_18_1_train_save_onto_its_own_table_is_refused(tmp_path, capsys, how, monkeypatch):
    data = _table_csv(tmp_path)
    before = data.read_bytes()
    target = data
    if how == "symlink":
        target = tmp_path / "alias.csv"
        target.symlink_to(data)
    elif how == "hard-link":
        target = tmp_path / "hard.csv"
        os.link(data, target)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["train", "--data", "data.csv", "--quiet", "--epochs", "1", "--save", target.name], capsys)
    one_line_error(code, err, f"--save {target.name} is the same file as --data data.csv")
    assert data.read_bytes() == before


def test_18_1_predict_out_onto_its_inputs_is_refused(tmp_path, capsys):
    data = _table_csv(tmp_path)
    ckpt = tmp_path / "m.safetensors"
    code, _, err = run_cli(["train", "--data", str(data), "--quiet", "--epochs", "1", "--save", str(ckpt)], capsys)
    assert code == 0, err
    before, saved = data.read_bytes(), ckpt.read_bytes()
    code, out, err = run_cli(["predict", str(ckpt), str(data), "--out", str(data)], capsys)
    one_line_error(code, err, f"--out {data} is the same file as the table {data}")
    code, out, err = run_cli(["predict", str(ckpt), str(data), "--out", str(ckpt)], capsys)
    one_line_error(code, err, f"--out {ckpt} is the same file as the checkpoint {ckpt}")
    assert data.read_bytes() == before and ckpt.read_bytes() == saved
    # another path still works, and --save onto the checkpoint being resumed goes on as before
    code, _, err = run_cli(["predict", str(ckpt), str(data), "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 0 and (tmp_path / "p.csv").exists(), err


# -- 2. nothing silently wrong: invalid UTF-8, a number with an underscore ----------------------------------
def test_18_2_invalid_utf8_in_a_label_is_refused_naming_row_and_column(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,label\n1,0\n2,1\n3,\xff1\n4,0\n")
    with raises(DataError, f"{path}, row 3 (line 4), column 2", "is not valid UTF-8"):
        readers.read_table(path)


def test_18_2_a_number_with_an_underscore_is_not_a_number(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1_5,1\n2,2\n")
    table = readers.read_table(path)
    assert table.column("a").to_list() == ["1_5", "2"]  # text, never 15.0
    with raises(DataError, "row 1 (line 2), column 'a': '1_5' is not a number"):
        readers.numeric_column(table, "a")
    assert [readers.parse_number(t) for t in ("1_5", "0x10", "1e", "1 5")] == [None] * 4
    assert [readers.parse_number(t) for t in ("12", "-1.5", ".5", "1.", "+2E5")] == [12.0, -1.5, 0.5, 1.0, 2e5]


def test_18_2_npz_bytes_labels_are_text_not_reprs(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.eye(4)[:, :2], y=np.array([b"0", b"1", b"0", b"1"]))
    assert readers.read_table(path).column("y").to_list() == ["0", "1", "0", "1"]
    np.savez(path, X=np.eye(4)[:, :2], y=np.array([b"0", b"\xff", b"0", b"1"]))
    with raises(DataError, "row 2", "is not valid UTF-8"):
        readers.read_table(path)


# -- 3. the documented error types, never internals --------------------------------------------------
@pytest.fixture
def full_checkpoint(tmp_path):
    from mlp.io.tables import Preprocessor

    model = mlp.Sequential(
        [mlp.Linear(2, 3), mlp.LeakyReLU(0.1), mlp.Dropout(0.2), mlp.Linear(3, 2)], backend="numpy", seed=0
    )
    X, y = np.random.default_rng(0).standard_normal((8, 2)), np.array([0, 1] * 4)
    opt = mlp.Adam(lr=0.01, weight_decay=1e-4)
    mlp.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=4, progress=False)
    pre = Preprocessor.fit(X, ["a", "b"], ["t"], "classification", y=y)
    return mlp.save(model, tmp_path / "full.safetensors", optimizer=opt, preprocessor=pre)


def _edit_layer(i, key, value):
    def edit(header, meta):
        meta["architecture"]["layers"][i][key] = value

    return edit


def _edit_hyper(key, value):
    def edit(header, meta):
        meta["optimizer"]["hyper"][key] = value

    return edit


def _edit_pre(key, value):
    def edit(header, meta):
        meta["extra"]["preprocessing"][key][0] = value

    return edit


HUGE = 10**400


@pytest.mark.parametrize(
    "edit",
    [
        lambda h, m: _edit_layer(2, next(k for k in m["architecture"]["layers"][2] if k != "type"), HUGE)(h, m),
        lambda h, m: _edit_layer(1, next(k for k in m["architecture"]["layers"][1] if k != "type"), HUGE)(h, m),
        _edit_hyper("lr", HUGE),
        _edit_hyper("eps", HUGE),
        _edit_hyper("weight_decay", HUGE),
        _edit_pre("mean", HUGE),
        _edit_pre("scale", HUGE),
        lambda h, m: m.update(dtype=["F32"]),
        lambda h, m: h["model.W0"].update(dtype=["F32"]),
        lambda h, m: m["tensors"]["model.W0"].update(dtype=["float32"]),
        lambda h, m: m["tensors"]["model.W0"].update(shape=[2**70, 3]),
        lambda h, m: m["optimizer"].update(type=["Adam"]),
        lambda h, m: m["architecture"]["layers"].insert(0, ["Linear"]),
        lambda h, m: m["extra"].update(epoch="three"),
    ],
    ids=[
        "dropout-p",
        "leaky-slope",
        "lr",
        "eps",
        "weight_decay",
        "mean",
        "scale",
        "dtype-list",
        "header-dtype-list",
        "table-dtype-list",
        "shape-huge",
        "optimizer-type-list",
        "layer-not-object",
        "epoch-text",
    ],
)
def test_18_3_hostile_checkpoint_metadata_is_a_checkpoint_error(full_checkpoint, edit):
    load_checkpoint(full_checkpoint)
    rewrite_checkpoint(full_checkpoint, edit)
    with raises(CheckpointError, str(full_checkpoint)):
        load_checkpoint(full_checkpoint)


def test_18_3_invalid_utf8_in_a_csv_header(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a\xff,label\n1,0\n2,1\n")
    with raises(DataError, f"{path}, line 1 (the header), column 1", "not valid UTF-8"):
        readers.read_table(path)


def test_18_3_npy_header_claiming_a_huge_shape_allocates_nothing(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((3, 4)))
    raw = path.read_bytes().replace(b"(3, 4)", b"(10000000000, 4)")
    path.write_bytes(raw)
    with raises(DataError, f"{path}: truncated: the header claims shape (10000000000, 4)"):
        readers.read_table(path)


def test_18_3_truncated_npy_and_npz(tmp_path):
    npy, npz = tmp_path / "a.npy", tmp_path / "a.npz"
    np.save(npy, np.arange(40.0).reshape(10, 4))
    np.savez(npz, X=np.arange(40.0).reshape(10, 4))
    npy.write_bytes(npy.read_bytes()[:-17])
    npz.write_bytes(npz.read_bytes()[:-30])
    with raises(DataError, f"{npy}: truncated", "shape (10, 4)"):
        readers.read_table(npy)
    with raises(DataError, f"{npz}: not a valid .npz file (truncated or corrupt"):
        readers.read_table(npz)


# -- 4. Ctrl-C at any moment: one line, status 130 ---------------------------------------------------
@pytest.mark.parametrize("delay", [0.01, 0.1, 0.3, 0.6])
def test_18_4_ctrl_c_while_the_command_starts(delay):
    """SIGINT while ``mlp`` imports the package (0.2 to 0.9 s here) or runs ``info``.

    The child says when the interpreter itself has started (a Ctrl-C inside Python's own start-up, before any
    code of ours, is Python's), then the signal comes ``delay`` seconds later."""
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    code = "import sys, mlp_entry; print('ready', flush=True); sys.exit(mlp_entry.main(['info']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    if proc.returncode == 0:  # it finished before the signal: nothing to show
        return
    assert proc.returncode == 130 and text.strip().splitlines()[-1:] == ["mlp: interrupted"], (proc.returncode, text)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_18_4_an_interrupt_the_interpreter_turns_into_another_error_is_still_the_interrupt(signum, monkeypatch, capsys):
    """CPython can turn a KeyboardInterrupt raised while it builds an ImportError into ``TypeError: expected a
    message argument`` (seen in CI at 0.6 s above): the command reports the interrupt, not that error; an error
    with no signal before it is still an error."""
    from mlp.cli import info, main

    def interrupted_then_replaced(args):
        try:
            os.kill(os.getpid(), signum)
            signal.pause()  # pragma: no cover - the handler raises first
        except KeyboardInterrupt:
            raise TypeError("expected a message argument") from None

    monkeypatch.setattr(info, "run", interrupted_then_replaced)
    before = signal.getsignal(signal.SIGINT)
    assert main(["info"]) == 128 + signum
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mlp: interrupted" if signum == signal.SIGINT else "mlp: interrupted by SIGTERM"], err
    assert signal.getsignal(signal.SIGINT) is before  # the command's handlers are gone again

    def plain_error(args):
        raise TypeError("expected a message argument")

    monkeypatch.setattr(info, "run", plain_error)
    assert main(["info"]) == 2
    assert capsys.readouterr().err.strip() == "mlp: error: expected a message argument"


def test_18_4_ctrl_c_after_the_command_finished_is_quiet():
    """The late handler: a SIGINT sent once the command has returned (during the interpreter's shutdown)."""
    code = (
        "import os, signal, sys, threading, mlp_entry\n"
        "t = threading.Thread(target=lambda: None); t.start()\n"
        "rc = mlp_entry.main(['info'])\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "import time; time.sleep(5)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, timeout=120)
    text = proc.stderr.decode()
    assert proc.returncode == 130 and text.strip().splitlines() == ["mlp: interrupted"], (proc.returncode, text)


# -- 6. messages that say where ------------------------------------------------------------------------
def test_18_6_full_disk_names_the_file(tmp_path, monkeypatch):
    import errno

    from mlp.io import atomic

    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic.write_atomic(target, b"new")
    assert info.value.errno == errno.ENOSPC
    assert f"cannot write {target}: No space left on device" in str(info.value)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


@pytest.mark.parametrize(
    "text, needle",
    [
        ("a,b,c\n1,2,3\n4,5,6,7\n", "row 2 (line 3): 4 values, but the header has 3 columns"),
        ("a,b,c\n1,2,3\n45,6\n", "row 2 (line 3): 2 values, but the header has 3 columns (a missing delimiter ','?)"),
        ('a,b,c\n1,2,3\n"4,5,6\n7,8,9\n', "row 2 (line 3): 1 value, but the header has 3 columns; a quoted cell spans"),
        ("a,b,c\n1,2,3\n\n\n4,5,6,7\n", "row 2 (line 5): 4 values"),
        ('a,b,c\n"1\n2",2,3\n4,5,6,7\n', "row 2 (line 4): 4 values"),
    ],
    ids=["extra-column", "removed-delimiter", "unbalanced-quote", "after-blank-lines", "after-a-quoted-line-break"],
)
def test_18_6_structural_csv_errors_name_row_and_line(tmp_path, reader, text, needle):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with raises(DataError, f"{path}, {needle}"):
        readers.read_table(path)


def test_18_6_line_numbers_count_blank_and_quoted_lines(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_text('a,b\n1,x\n\n2,"two\nlines"\n3,\n')
    table = readers.read_table(path)
    assert [table.where(i) for i in range(3)] == [
        f"{path}, row 1 (line 2)",
        f"{path}, row 2 (line 4)",
        f"{path}, row 3 (line 6)",
    ]


def test_18_6_numbers_checked_at_the_door(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n1,1e300,0\n2,-1e300,1\n3,5e299,0\n4,2,inf\n")
    table = readers.read_table(path)
    with raises(DataError, f"{path}, row 1 (line 2), column 'b': 1e+300 is too large", "cannot be standardised"):
        readers.numeric_column(table, "b")
    with raises(DataError, f"{path}, row 4 (line 5), column 'label': inf is not a finite number, so not a class"):
        readers.read_target(table, ["label"], "classification")
    readers.numeric_column(table, "a")  # ordinary numbers pass
    # a 1e30 outlier among validation rows, standardised with the training rows' statistics
    X = np.array([[0.1, 2.0], [1e30, 0.0]])
    readers.check_cast(X, ["a", "b"], "float64", "val.csv")
    with raises(
        DataError, "val.csv, row 2, column 'a': feature value 1e+30 (after standardisation) is too large for float32"
    ):
        readers.check_cast(X, ["a", "b"], "float32", "val.csv")


@pytest.mark.parametrize("value", ["", "NumPy", " numpy "])
def test_18_6_mlp_backend_is_read_one_way_by_every_command(fresh, capsys, value):
    fresh.setenv("MLP_BACKEND", value)
    messages = []
    for argv in (["info"], TRAIN):
        code, out, err = run_cli(argv, capsys)
        messages.append(one_line_error(code, err, f"unknown backend {value!r} (from MLP_BACKEND)"))
    assert messages[0] == messages[1]


# ================================================================================================
# Issue 19, items 6 and 7: one CSV reading, whichever reader; delimiters
# ================================================================================================
def _read_both(path, monkeypatch, **kw):
    pytest.importorskip("pyarrow")
    with_arrow = readers.read_table(path, **kw)
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "pyarrow", None)
        without = readers.read_table(path, **kw)
    return with_arrow, without


def _same(t1, t2):
    assert t1.names == t2.names
    for a, b in zip(t1.columns, t2.columns, strict=True):
        assert type(a) is type(b) and [repr(v) for v in a.to_list()] == [repr(v) for v in b.to_list()], (a, b)
    assert [t1.where(i) for i in range(t1.n_rows)] == [t2.where(i) for i in range(t2.n_rows)]


def test_19_6_pandas_get_dummies_booleans_read_alike(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    frame = pd.get_dummies(
        pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5], "city": ["a", "b", "a", "c"], "label": [0, 1, 0, 1]}), columns=["city"]
    )
    path = tmp_path / "dummies.csv"
    frame.to_csv(path, index=False)
    t1, t2 = _read_both(path, monkeypatch)
    _same(t1, t2)
    assert t1.column("city_a").to_list() == [True, False, True, False]


def test_19_6_quoted_cells_and_text_read_alike(tmp_path, monkeypatch):
    path = tmp_path / "q.csv"
    path.write_text('a,b,c\n"1",  x ,"has, comma"\n2.5,y,"two\nlines"\n,NA,plain\n.5,z,1_5\n')
    t1, t2 = _read_both(path, monkeypatch)
    _same(t1, t2)
    assert t1.column("b").to_list() == ["x", "y", None, "z"]


@pytest.mark.parametrize(
    "name, text, sep",
    [
        ("semi.csv", "a;b;label\n1,5;2;x\n3,5;4;y\n", None),
        ("tabs.tsv", "a\tb\tlabel\n1\t2\tx\n3\t4\ty\n", None),
        ("pipes.csv", "a|b|label\n1|2|x\n3|4|y\n", None),
        ("given.csv", "a;b,label\n1;2,x\n3;4,y\n", ";"),
    ],
    ids=["semicolon-sniffed", "tsv", "pipe-sniffed", "sep-given"],
)
def test_19_7_delimiters_are_sniffed_or_given(tmp_path, monkeypatch, name, text, sep):
    path = tmp_path / name
    path.write_text(text)
    t1, t2 = _read_both(path, monkeypatch, sep=sep)
    _same(t1, t2)
    assert t1.names == (["a", "b,label"] if sep else ["a", "b", "label"])


def test_19_7_sep_option_of_the_commands(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    rows = "".join(f"{i % 7};{(i * 3) % 5};{'ab'[i % 2]}\n" for i in range(20))
    path.write_text("a;b;label\n" + rows)
    ckpt = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        ["train", "--data", str(path), "--sep", ";", "--quiet", "--epochs", "1", "--save", str(ckpt)], capsys
    )
    assert code == 0, err
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--sep", "\\t"], capsys)
    one_line_error(code, err, "semi.csv")  # read with tabs: one column, not the model's features
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--sep", ";"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 21, err
    code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--sep", ";"], capsys)
    assert code == 0 and "accuracy" in out, err
