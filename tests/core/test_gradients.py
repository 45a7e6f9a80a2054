"""Gradients: central finite differences for every layer with every loss, and PyTorch autograd."""

import numpy as np
import pytest

import mlp
from tests_helpers import batch, host, small_net

ACTIVATIONS = [mlp.Sigmoid, mlp.Tanh, mlp.ReLU, mlp.LeakyReLU, mlp.Identity]
LOSSES = [mlp.Quadratic, mlp.CrossEntropy, mlp.BinaryCrossEntropy]


@pytest.mark.parametrize("loss_cls", LOSSES, ids=[l.__name__ for l in LOSSES])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=[a.__name__ for a in ACTIVATIONS])
def test_gradcheck_every_layer_every_loss(backend, activation, loss_cls):
    # activation both inside and at the output, so it is checked under every loss
    model = small_net(backend, "float64", activation, activation, sizes=(4, 5, 3))
    X, T = batch(n=5, n_in=4, n_out=3, seed=6)
    # finite differences mean nothing across the kink of ReLU/LeakyReLU at 0: no pre-activation
    # may lie within reach of the stencil (2 * 1e-3 * |inputs| is well under 0.05)
    outputs = model.layer_outputs(backend.asarray(X, dtype="float64"))
    nearest_kink = min(
        [
            np.min(np.abs(host(outputs[i - 1])))
            for i, l in enumerate(model.layers)
            if isinstance(l, (mlp.ReLU, mlp.LeakyReLU))
        ],
        default=np.inf,
    )
    assert nearest_kink > 0.05, "test data too close to a kink; pick another seed"
    err = mlp.gradcheck(model, loss_cls(), X, T)
    assert err < 1e-6, f"{activation.__name__} + {loss_cls.__name__} on {backend.name}: relative error {err:.2e}"


def test_gradcheck_detects_a_wrong_gradient(monkeypatch):
    """The check can fail: a sigmoid derivative off by a factor 2 is caught."""
    model = small_net("numpy", "float64", mlp.Sigmoid, None, sizes=(4, 5, 3), fast=False)
    original = mlp.Kernels.sigmoid_backward
    monkeypatch.setattr(mlp.Kernels, "sigmoid_backward", lambda self, Z, A, dA: 2 * original(self, Z, A, dA))
    X, T = batch(n=5, n_in=4, n_out=3)
    assert mlp.gradcheck(model, mlp.Quadratic(), X, T) > 1e-2


def test_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch")
    model = small_net("numpy", "float64", mlp.Tanh, None, sizes=(5, 7, 4, 3))
    X, T = batch()
    loss = mlp.CrossEntropy()
    loss.forward(model.forward(model.backend.asarray(X, dtype="float64")), model.backend.asarray(T, dtype="float64"))
    dX = model.backward(loss.backward())

    params = [torch.tensor(host(p), requires_grad=True) for p in model.parameters()]
    Xt = torch.tensor(X, requires_grad=True)
    h = Xt
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i + 2 < len(params):
            h = torch.tanh(h)
    out = torch.nn.functional.cross_entropy(h, torch.tensor(T.argmax(1)))
    out.backward()
    for mine, ref in zip(model.gradients(), params, strict=True):
        np.testing.assert_allclose(host(mine), ref.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(host(dX), Xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_backward_needs_no_python_loop_over_examples(backend):
    """A batch's gradient is the mean of the per-example gradients (the matrix form sums them)."""
    model = small_net(backend, "float64", mlp.Sigmoid, mlp.Sigmoid)
    X, T = batch(n=4)
    be = model.backend
    loss = mlp.Quadratic()

    def grads(x, t):
        loss.forward(model.forward(be.asarray(x, dtype="float64")), be.asarray(t, dtype="float64"))
        model.backward(loss.backward())
        return [host(g) for g in model.gradients()]

    whole = grads(X, T)
    singles = [grads(X[i : i + 1], T[i : i + 1]) for i in range(4)]
    for k, g in enumerate(whole):
        np.testing.assert_allclose(g, np.mean([s[k] for s in singles], axis=0), rtol=1e-12, atol=1e-14)
