"""Parity: every backend, fast paths on and off, agrees with NumPy float64 (reference kernels).

Same seed, same batch: outputs, loss, every gradient, and the parameters after
50 SGD steps with momentum, within rtol 1e-9 (float64) and 1e-4 (float32).
"""

import numpy as np
import pytest

import mlp
from tests_helpers import RTOL, batch, host, small_net

ACTIVATIONS = [mlp.Sigmoid, mlp.Tanh, mlp.ReLU, mlp.LeakyReLU, mlp.Identity]
LOSSES = [(mlp.Quadratic, mlp.Sigmoid), (mlp.CrossEntropy, None), (mlp.BinaryCrossEntropy, None)]


def run(backend, dtype, activation, loss_cls, out_act, fast, optimizer=None, steps=50):
    model = small_net(backend, dtype, activation, out_act, fast=fast)
    X_host, T_host = batch()
    X, T = model.backend.asarray(X_host, dtype=dtype), model.backend.asarray(T_host, dtype=dtype)
    loss = loss_cls().bind(model.K)  # the model's kernels: its fast paths or the reference
    Y = model.forward(X)
    value = loss.forward(Y, T)
    dX = model.backward(loss.backward())
    first = {
        "Y": host(Y),
        "loss": host(value),
        "dX": host(dX),
        **{f"d{k}": host(g) for k, g in zip(model.param_names(), model.gradients(), strict=True)},
    }
    for name in ("Y", "loss", "dX"):
        assert {"Y": Y, "loss": value, "dX": dX}[name].dtype == getattr(model.xp, dtype), f"{name} changed dtype"
    optimizer = optimizer or mlp.SGD(lr=0.05, momentum=0.9)
    for _ in range(steps):
        loss.forward(model.forward(X), T)
        model.backward(loss.backward(), need_input_grad=False)
        optimizer.step(model)
    for p in model.parameters():
        assert p.dtype == getattr(model.xp, dtype)
    after = {k: host(v) for k, v in zip(model.param_names(), model.parameters(), strict=True)}
    return first, after


def assert_close(got, ref, dtype, what):
    for key in ref:
        scale = np.max(np.abs(ref[key])) if np.size(ref[key]) else 1.0
        # rtol on every entry, with an absolute floor of rtol * the array's scale for entries near zero
        np.testing.assert_allclose(
            got[key], ref[key], rtol=RTOL[dtype], atol=RTOL[dtype] * scale * 1e-2, err_msg=f"{what}: {key}"
        )


@pytest.fixture(scope="module")
def references():
    cache = {}

    def get(activation, loss_cls, out_act, optimizer_factory=None):
        key = (activation, loss_cls, out_act, optimizer_factory)
        if key not in cache:
            opt = optimizer_factory() if optimizer_factory else None
            cache[key] = run("numpy", "float64", activation, loss_cls, out_act, fast=False, optimizer=opt)
        return cache[key]

    return get


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("loss_cls,out_act", LOSSES, ids=[l.__name__ for l, _ in LOSSES])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=[a.__name__ for a in ACTIVATIONS])
def test_parity_sgd_momentum(backend, dtype, activation, loss_cls, out_act, fast, references):
    ref_first, ref_after = references(activation, loss_cls, out_act)
    first, after = run(backend, dtype, activation, loss_cls, out_act, fast)
    assert_close(first, ref_first, dtype, f"{backend.name}/{dtype} first step")
    assert_close(after, ref_after, dtype, f"{backend.name}/{dtype} after 50 SGD steps")


def adam():
    return mlp.Adam(lr=0.01, weight_decay=1e-3)


def nesterov():
    return mlp.SGD(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "reference"])
@pytest.mark.parametrize("factory", [adam, nesterov], ids=["adam", "nesterov_wd"])
def test_parity_other_optimizers(backend, dtype, factory, fast, references):
    _, ref_after = references(mlp.Tanh, mlp.CrossEntropy, None, factory)
    _, after = run(backend, dtype, mlp.Tanh, mlp.CrossEntropy, None, fast, optimizer=factory())
    assert_close(after, ref_after, dtype, f"{backend.name}/{dtype} {factory.__name__}")


def test_same_seed_same_initial_weights_bitwise(backend, dtype):
    a = small_net("numpy", dtype).state_dict()
    b = small_net(backend, dtype).state_dict()
    for k in a:
        assert a[k].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a[k], b[k])


def test_fast_and_reference_paths_differ_only_by_rounding(dtype):
    """The NumPy fast paths are really taken (a different kernels class), and agree with the reference."""
    fast = small_net("numpy", dtype, fast=True)
    ref = small_net("numpy", dtype, fast=False)
    assert fast.K.fast and not ref.K.fast
    X, T = batch()
    for m in (fast, ref):
        loss = mlp.CrossEntropy().bind(m.K)
        loss.forward(m.forward(m.backend.asarray(X, dtype=dtype)), m.backend.asarray(T, dtype=dtype))
        m.backward(loss.backward())
    for gf, gr in zip(fast.gradients(), ref.gradients(), strict=True):
        np.testing.assert_allclose(host(gf), host(gr), rtol=RTOL[dtype], atol=1e-12)
