"""Bad input to the model, its layers, losses and optimizers: a clear error of mlp's own, never a traceback from
inside an array library.

A clear error names the layer, argument or array and the shapes or values involved (docs/reliability.md lists every
case with its test). The data checks of ``fit`` and ``evaluate`` are in tests/train/test_bad_data.py.
"""

import numpy as np
import pytest
from conftest import ONLY_BACKEND

import mlp
from mlp import backends
from tests_helpers import assert_untouched, quick_fit, raises, tiny_data, tiny_net, usable

#: every model here names its backend (tiny_net's numpy, the backend fixture's, each pair's): MLP_BACKEND changes
#: nothing here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent

# -- shapes ----------------------------------------------------------------------------------------


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
    model = tiny_net(backend, "float64")
    X = np.zeros((5, 4))
    y = np.zeros(5, dtype=int)
    with raises(ValueError, "(5, 4)", "layer 0", "Linear(n_in=3", "(n_samples, 3)"):
        if where == "forward":
            model.forward(backend.asarray(X, dtype="float64"))
        elif where == "predict":
            model.predict(X)
        elif where == "fit":
            quick_fit(model, X, y)
        elif where == "evaluate":
            mlp.evaluate(model, X, y)
        else:
            mlp.gradcheck(model, "quadratic", X, np.zeros((5, 2)))


@pytest.mark.parametrize("where", ["forward", "fit"])
def test_one_dimensional_input(where):
    model = tiny_net()
    with raises(ValueError, "shape (3,)", "(n_samples, 3)"):
        if where == "forward":
            model.forward(model.backend.asarray(np.zeros(3), dtype="float32"))
        else:
            quick_fit(model, np.zeros(3), np.zeros(1, dtype=int))


def test_targets_whose_shape_does_not_match_the_output(backend):
    model = tiny_net(backend, "float64")
    X, _ = tiny_data(n=5)
    with raises(ValueError, "y has shape (5, 3)", "(n_samples, 2)"):
        quick_fit(model, X, np.zeros((5, 3)))
    with raises(ValueError, "y has shape (5, 3)", "(n_samples, 2)"):
        mlp.evaluate(model, X, np.zeros((5, 3)))
    with raises(ValueError, "(5, 2, 1)", "(n, 2)"):
        quick_fit(model, X, np.zeros((5, 2, 1)))
    Y = model.forward(backend.asarray(X, dtype="float64"))
    for loss in (mlp.Quadratic(), mlp.CrossEntropy(), mlp.BinaryCrossEntropy()):
        with raises(ValueError, type(loss).__name__, "T of shape (5, 3)", "Y of shape (5, 2)"):
            loss.forward(Y, backend.asarray(np.zeros((5, 3)), dtype="float64"))


def test_backward_with_a_gradient_of_the_wrong_shape():
    model = tiny_net()
    model.forward(model.backend.asarray(np.zeros((5, 3)), dtype="float32"))
    with raises(ValueError, "dY has shape (5, 3)", "(n_samples, 2)"):
        model.backward(model.backend.asarray(np.zeros((5, 3)), dtype="float32"))


def test_gradcheck_with_mismatched_shapes():
    model = tiny_net(dtype="float64")
    with raises(ValueError, "(2, 4)", "layer 0", "(n_samples, 3)"):
        mlp.gradcheck(model, "quadratic", np.zeros((2, 4)), np.zeros((2, 2)))
    with raises(ValueError, "T of shape (2, 5)", "Y of shape (2, 2)"):
        mlp.gradcheck(model, "quadratic", np.zeros((2, 3)), np.zeros((2, 5)))


def test_forward_given_a_list_or_host_data_of_another_dtype():
    model = tiny_net()
    with raises(TypeError, "input X is a list, not an array", "model.backend.asarray"):
        model.forward([[0.0, 1.0, 2.0]])
    with raises(TypeError, "dtype float64", "model is float32", "never promoted"):
        model.forward(np.zeros((2, 3)))


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
    model = tiny_net()
    state = model.state_dict()
    before = {k: v.copy() for k, v in state.items()}
    edit(state)
    with raises(exc, *needles):
        model.load_state_dict(state)
    assert_untouched(model, before)  # nothing half-loaded: W0 (valid, changed) is not copied either
    with raises(TypeError, "load_state_dict needs a dict"):
        model.load_state_dict([1, 2])


# -- layers, losses, optimizers and dtypes that do not exist ---------------------------------------


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
        (lambda: quick_fit(tiny_net(), *tiny_data(), loss="hinge"), ValueError, "unknown loss 'hinge'"),
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


# -- a model and data on different backends --------------------------------------------------------


#: every ordered pair of two backends; with MLP_BACKEND set, the pairs that hold that backend
PAIRS = [(m, d) for m in backends.KNOWN for d in backends.KNOWN if m != d and ONLY_BACKEND in (None, m, d)]


@pytest.mark.parametrize("model_be, data_be", PAIRS, ids=[f"{m}-model-{d}-data" for m, d in PAIRS])
def test_model_and_data_on_different_backends(model_be, data_be):
    if not (usable(model_be) and usable(data_be)):
        pytest.skip(f"needs both {model_be} and {data_be}")
    model = tiny_net(model_be)
    other = backends.get_backend(data_be)
    X, y = tiny_data(n=4)
    Xo, yo = other.asarray(X, dtype="float32"), other.asarray(y)
    Y = model.forward(model.backend.asarray(X, dtype="float32"))
    with raises(TypeError, f"input X is a {data_be} array", f"the model is on the {model_be} backend"):
        model.forward(Xo)
    with raises(TypeError, f"targets T are a {data_be} array", f"outputs Y are a {model_be} array"):
        mlp.CrossEntropy().forward(Y, other.asarray(np.eye(2)[y], dtype="float32"))
    if data_be == "numpy":  # host NumPy data is what fit/evaluate/predict take on any backend
        quick_fit(model, Xo, yo)
        mlp.evaluate(model, Xo, yo)
        model.predict(Xo)
        return
    with raises(TypeError, f"input X is a {data_be} array"):
        model.predict(Xo)
    for name, call in [
        ("X", lambda: quick_fit(model, Xo, y)),
        ("y", lambda: quick_fit(model, X, yo)),
        ("X", lambda: mlp.evaluate(model, Xo, y)),
        ("y", lambda: mlp.evaluate(model, X, yo)),
        ("validation_data X", lambda: quick_fit(model, X, y, validation_data=(Xo, y))),
    ]:
        with raises(ValueError, f"{name} is a {data_be} array", f"the model is on the {model_be} backend"):
            call()


def test_loss_targets_of_another_dtype_or_not_an_array(backend):
    model = tiny_net(backend, "float32")
    Y = model.forward(backend.asarray(np.zeros((2, 3)), dtype="float32"))
    with raises(TypeError, "T have dtype float64", "Y are float32", "never promoted"):
        mlp.Quadratic().forward(Y, backend.asarray(np.zeros((2, 2)), dtype="float64"))
    with raises(TypeError, "targets T are a list"):
        mlp.Quadratic().forward(Y, [[0.0, 0.0], [0.0, 0.0]])
