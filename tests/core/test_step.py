"""The pure step: ``make_step`` is a function of arrays, ``train_step`` is the object API on top,
``fit`` calls it (or, on JAX, a compiled loop of it) with the same results."""

import numpy as np
import pytest

import mlp
from mlp import backends
from mlp.io import datasets
from tests_helpers import RTOL, batch, host, small_net


def _device_batch(model, seed=0):
    X, T = batch(n=6, n_in=5, n_out=3, seed=seed)
    return model.backend.asarray(X, dtype=model.dtype), model.backend.asarray(T, dtype=model.dtype)


@pytest.mark.parametrize("opt", [lambda: mlp.SGD(0.1, momentum=0.9), lambda: mlp.Adam(0.01)], ids=["sgd", "adam"])
def test_train_step_equals_the_object_api(backend, dtype, opt):
    """forward, loss, backward, optimizer.step by hand == train_step, to the last bit of the parity tolerance."""
    a, b = small_net(backend, dtype), small_net(backend, dtype)
    opt_a, opt_b = opt(), opt()
    for k in range(4):
        X, T = _device_batch(a, seed=k)
        loss = mlp.CrossEntropy().bind(a.K)
        value_a = loss.forward(a.forward(X), T)
        a.backward(loss.backward(), need_input_grad=False)
        opt_a.step(a)
        value_b = mlp.train_step(b, mlp.CrossEntropy(), opt_b, X, T)
        assert value_b.shape == () and value_b.dtype == getattr(b.xp, dtype)
        np.testing.assert_allclose(host(value_b), host(value_a), rtol=RTOL[dtype])
    assert opt_a.t == opt_b.t == 4
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(b.state_dict()[k], v, rtol=RTOL[dtype], err_msg=k)
    for ga, gb in zip(a.gradients(), b.gradients(), strict=True):  # the step's gradients are the model's gradients
        np.testing.assert_allclose(host(gb), host(ga), rtol=RTOL[dtype], atol=1e-12)


def test_the_pure_step_leaves_its_inputs_alone():
    """make_step on the reference kernels returns new arrays; the groups and state handed in keep their values."""
    model = small_net("numpy", "float64", fast=False)
    opt = mlp.SGD(0.1, momentum=0.9)
    step = mlp.make_step(model, mlp.CrossEntropy(), opt)
    X, T = _device_batch(model)
    groups, state = model.param_groups(), opt.state_groups(model)
    before = [np.array(g) for g in groups], [np.array(s[0]) for s in state]
    new_groups, new_state, value, grads = step(groups, state, X, T, 0.1, 1, mlp.StepContext(True))
    for g, kept in zip(groups, before[0], strict=True):
        np.testing.assert_array_equal(g, kept)
    for s, kept in zip(state, before[1], strict=True):
        np.testing.assert_array_equal(s[0], kept)
    assert all(n is not g for n, g in zip(new_groups, groups, strict=True))
    assert any(not np.array_equal(n, g) for n, g in zip(new_groups, groups, strict=True))
    assert len(grads) == len(groups) and np.isfinite(float(value))


def test_the_gradient_hook_runs_between_backward_and_update():
    """reduce() sees the gradients grouped as the parameters; what it returns is what the update uses."""
    X, T = batch(n=6, n_in=5, n_out=3)
    seen = []

    def double(groups, value, n):
        seen.append((len(groups), n))
        return tuple(2.0 * g for g in groups), value

    plain, hooked = small_net("numpy", "float64"), small_net("numpy", "float64")
    Xd, Td = _device_batch(plain)
    mlp.train_step(plain, "cross_entropy", mlp.SGD(0.2), Xd, Td)
    mlp.train_step(hooked, "cross_entropy", mlp.SGD(0.1), Xd, Td, reduce=double)
    assert seen == [(len(hooked.param_groups()), 6)]
    for k, v in plain.state_dict().items():  # lr 0.1 on doubled gradients == lr 0.2
        np.testing.assert_allclose(hooked.state_dict()[k], v, rtol=1e-12)


def test_train_step_refuses_bad_targets_with_the_losss_message():
    model = small_net("numpy", "float32")
    X, _ = _device_batch(model)
    with pytest.raises(ValueError, match=r"targets T of shape \(6, 2\) do not match the outputs Y of shape \(6, 3\)"):
        mlp.train_step(model, "cross_entropy", mlp.SGD(0.1), X, np.zeros((6, 2), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        mlp.train_step(model, "cross_entropy", mlp.SGD(0.1), X, np.zeros((6, 3), np.float64))


def _jax():
    try:
        return backends.get_backend("jax")
    except backends.BackendUnavailableError as e:
        pytest.skip(f"backend jax unavailable: {e}")


@pytest.mark.backend_independent  # names JAX itself
@pytest.mark.parametrize(
    "opt",
    [lambda: mlp.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3), lambda: mlp.Adam(0.01, weight_decay=1e-3)],
    ids=["nesterov", "adam"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_jax_compiled_chunks_equal_the_step_by_step_path(dtype, opt, monkeypatch):
    """fit on JAX: chunks of steps as one compiled call == the same steps one by one, including a short
    last batch, chunks that end mid-epoch and a resumed epoch."""
    import mlp.train.runner as training

    _jax()
    monkeypatch.setattr(training, "CHECK_EVERY", 7)  # several chunks an epoch, of uneven lengths
    X, y = datasets.spirals(n_samples=150, seed=3)  # 150 = 9 x 16 + 6: a short last batch
    results = []
    for compiled in (True, False):
        model = mlp.build_mlp([2, 16, 2], backend="jax", dtype=dtype, seed=1)
        o = opt()
        h = mlp.fit(
            model, X, y, loss="cross_entropy", optimizer=o, epochs=3, batch_size=16, progress=False, compiled=compiled
        )
        results.append((model.state_dict(), h.history["loss"], o.t))
    (a, la, ta), (b, lb, tb) = results
    assert ta == tb == 30
    np.testing.assert_allclose(la, lb, rtol=RTOL[dtype])
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-2, err_msg=k)
    # and both agree with NumPy
    ref = mlp.build_mlp([2, 16, 2], backend="numpy", dtype="float64", seed=1)
    mlp.fit(ref, X, y, loss="cross_entropy", optimizer=opt(), epochs=3, batch_size=16, progress=False)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(a[k], v, rtol=10 * RTOL[dtype], atol=RTOL[dtype] * 0.1, err_msg=k)


@pytest.mark.backend_independent  # names JAX itself
def test_jax_compiles_once_per_shape_not_per_chunk(monkeypatch):
    import mlp.train.runner as training

    jax_be = _jax()
    monkeypatch.setattr(training, "CHECK_EVERY", 5)
    monkeypatch.setattr(training, "_COMPILED", {})  # nothing compiled by earlier tests
    traces = []
    real_loop = jax_be.compiler.loop

    def counting_loop(step, max_steps):
        def counted(*args):
            traces.append(1)  # runs only while JAX traces the loop
            return step(*args)

        return real_loop(counted, max_steps)

    monkeypatch.setattr(type(jax_be.compiler), "loop", lambda self, step, m: counting_loop(step, m))
    X, y = datasets.spirals(n_samples=160, seed=2)  # 10 steps of 16: 2+ chunks an epoch, no short batch
    model = mlp.build_mlp([2, 8, 2], backend="jax", dtype="float32")
    mlp.fit(model, X, y, loss="cross_entropy", optimizer=mlp.SGD(0.1), epochs=3, batch_size=16, progress=False)
    assert len(traces) == 1  # one trace of the step for 3 epochs of several chunks
    # a second model of the same structure shares the compilation
    other = mlp.build_mlp([2, 8, 2], backend="jax", dtype="float32", seed=5)
    mlp.fit(other, X, y, loss="cross_entropy", optimizer=mlp.SGD(0.1), epochs=1, batch_size=16, progress=False)
    assert len(traces) == 1


@pytest.mark.backend_independent  # names JAX itself
def test_jax_arrays_are_never_written_to():
    """JAX arrays are immutable: a whole training run works, and the caller's arrays are unchanged."""
    jax_be = _jax()
    X, y = datasets.spirals(n_samples=64, seed=1)
    Xd = jax_be.asarray(X, dtype="float32")
    kept = np.array(Xd)
    model = mlp.build_mlp([2, 8, 2], backend="jax", dtype="float32")
    first = model.parameters()[0]
    first_host = np.array(first)
    mlp.fit(model, Xd, y, loss="cross_entropy", optimizer=mlp.Adam(0.01), epochs=2, batch_size=8, progress=False)
    np.testing.assert_array_equal(np.asarray(Xd), kept)
    np.testing.assert_array_equal(np.asarray(first), first_host)  # the old parameter array is untouched
    assert not np.array_equal(np.asarray(model.parameters()[0]), first_host)  # the model has new ones


def test_backend_of_recognises_each_backends_arrays(backend):
    x = backend.asarray(np.zeros(3), dtype="float32")
    found = backends.backend_of(x)
    assert found.name == backend.name and found.owns(x)
    with pytest.raises(TypeError, match="not an array of a known backend"):
        backends.backend_of([1.0, 2.0])
