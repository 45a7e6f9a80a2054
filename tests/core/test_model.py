"""Model construction, state, dtype and backend moves; the XOR example."""

import sys

import numpy as np
import pytest

import mlp
from tests_helpers import ROOT, batch, host, small_net

sys.path.insert(0, str(ROOT / "examples"))
import xor  # noqa: E402


def test_xor_converges(backend):
    loss, predictions = xor.train(backend, verbose=False)
    assert list(predictions) == [0, 1, 1, 0]
    assert loss < 1e-3


def test_layer_widths_are_checked_at_build():
    with pytest.raises(ValueError, match=r"layer 2 .*n_in=4.*layer 0 .*n_out=3"):
        mlp.Sequential([mlp.Linear(2, 3), mlp.ReLU(), mlp.Linear(4, 1)])


def test_state_dict_order_and_round_trip(backend, dtype):
    model = small_net(backend, dtype)
    state = model.state_dict()
    assert list(state) == ["W0", "b0", "W1", "b1", "W2", "b2"]
    assert state["W0"].shape == (5, 7) and state["b0"].shape == (7,)
    other = small_net(backend, dtype, seed=99)
    other.load_state_dict(state)
    X, _ = batch()
    Xb = model.backend.asarray(X, dtype=dtype)
    np.testing.assert_array_equal(host(model.forward(Xb)), host(other.forward(Xb)))


def test_load_state_dict_refuses_wrong_shapes():
    model = small_net("numpy", "float32")
    state = model.state_dict()
    state["W1"] = state["W1"].T
    with pytest.raises(ValueError, match=r"W1 has shape \(4, 7\).*\(7, 4\)"):
        model.load_state_dict(state)


def test_to_moves_between_backends(backend):
    model = small_net("numpy", "float64")
    X, _ = batch()
    before = host(model.forward(model.backend.asarray(X, dtype="float64")))
    model.to(backend)
    assert model.backend is backend
    assert all(backend.owns(p) for p in model.parameters())
    np.testing.assert_allclose(host(model.forward(backend.asarray(X, dtype="float64"))), before, rtol=1e-12)


def test_float32_never_promotes(backend):
    model = small_net(backend, "float32")
    X, T = batch()
    X32, T32 = backend.asarray(X, dtype="float32"), backend.asarray(T, dtype="float32")
    for loss in (mlp.Quadratic(), mlp.CrossEntropy(), mlp.BinaryCrossEntropy()):
        value = loss.forward(model.forward(X32), T32)
        dY = loss.backward()
        dX = model.backward(dY)
        assert value.dtype == dY.dtype == dX.dtype == backend.xp.float32
        assert all(g.dtype == backend.xp.float32 for g in model.gradients())
    with pytest.raises(TypeError, match="dtype"):
        model.forward(backend.asarray(X, dtype="float64"))


def test_zero_grad(backend):
    model = small_net(backend, "float64")
    X, T = batch()
    loss = mlp.Quadratic()
    loss.forward(model.forward(backend.asarray(X, dtype="float64")), backend.asarray(T, dtype="float64"))
    model.backward(loss.backward())
    assert any(np.any(host(g) != 0) for g in model.gradients())
    model.zero_grad()
    assert all(np.all(host(g) == 0) for g in model.gradients())


def test_init_schemes_have_the_documented_spread():
    n_in, n_out = 400, 300
    for init, w_std, b_std in [
        ("normal", 1.0, 1.0),
        ("nielsen", n_in**-0.5, 1.0),
        ("xavier", (2 / (n_in + n_out)) ** 0.5, 0.0),
        ("he", (2 / n_in) ** 0.5, 0.0),
    ]:
        s = mlp.Sequential([mlp.Linear(n_in, n_out, init=init)], dtype="float64").state_dict()
        assert abs(s["W0"].std() / w_std - 1) < 0.02, init
        assert abs(s["b0"].std() - b_std) < 0.15, init


def test_optimizer_state_survives_a_backend_move():
    """Momentum carries over when the model moves backends mid-training (state is per parameter)."""
    X, T = batch()
    results = []
    for move in (False, True):
        model = small_net("numpy", "float64")
        opt, loss = mlp.SGD(0.1, momentum=0.9), mlp.CrossEntropy()
        for step in range(6):
            if move and step == 3:
                model.to("array_api_strict")
            be = model.backend
            loss.forward(model.forward(be.asarray(X, dtype="float64")), be.asarray(T, dtype="float64"))
            model.backward(loss.backward())
            opt.step(model)
        results.append(model.state_dict())
    for k in results[0]:
        np.testing.assert_allclose(results[1][k], results[0][k], rtol=1e-12)
