"""Each NumPy fast path on its own: the same inputs through the fast and the reference kernel.

``test_parity.py`` compares whole training runs; here every method that
``backends/numpy_kernels.py`` overrides is called directly, fast and reference,
on the same inputs (contiguous and not, float32 and float64), and must agree to
rounding, leave its inputs alone, keep the dtype, and write only the arrays it
is handed for that.  A tracemalloc test checks that training does not grow
memory from step to step.
"""

import gc
import tracemalloc
import zlib

import numpy as np
import pytest

import mlp
from mlp import backends
from mlp.backends.numpy_kernels import NumpyKernels
from mlp.core.kernels import Kernels, get_kernels
from tests_helpers import RTOL

#: NumPy's kernels, named: MLP_BACKEND changes nothing here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent

FAST = get_kernels(backends.get_backend("numpy"), fast=True)
REF = get_kernels(backends.get_backend("numpy"), fast=False)

#: every kernel the mixin overrides (private helpers excluded)
OVERRIDDEN = sorted(
    name
    for name, v in vars(NumpyKernels).items()
    if callable(v) and not name.startswith("_") and hasattr(Kernels, name)
)

LAYOUTS = ["contiguous", "strided"]


def _layout(a, layout, rng):
    """``a`` itself, or the same values in a non-contiguous array: column-major (2-d) or every other element."""
    if layout == "contiguous" or a.ndim == 0:
        return a
    if a.ndim == 2:
        return np.asfortranarray(a)
    big = rng.standard_normal(2 * a.shape[0]).astype(a.dtype)
    view = big[::2]
    view[...] = a
    return view


def _arr(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _probs(rng, n, k, dtype):
    P = rng.random((n, k)) + 0.1
    return (P / P.sum(axis=1, keepdims=True)).astype(dtype)


def _onehot(rng, n, k, dtype):
    return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]


# name -> function(rng, dtype, shape) returning (args, indices of args the kernel may write)
def _linear_forward(rng, dt, n, k, m):
    return [_arr(rng, (n, k), dt), _arr(rng, (k, m), dt, k**-0.5), _arr(rng, (m,), dt)], ()


def _linear_backward(rng, dt, n, k, m, need_dX=True):
    return [
        _arr(rng, (n, k), dt),
        _arr(rng, (k, m), dt, k**-0.5),
        _arr(rng, (n, m), dt),
        need_dX,
        np.zeros((k, m), dt),
        np.zeros((m,), dt),
    ], (4, 5)


def _act_forward(rng, dt, n, k, m, scale=3.0):
    return [_arr(rng, (n, m), dt, scale)], ()


def _act_backward(kernel):
    def make(rng, dt, n, k, m):
        Z = _arr(rng, (n, m), dt, 3.0)
        A = getattr(REF, kernel + "_forward")(Z)
        return [Z, np.asarray(A), _arr(rng, (n, m), dt)], ()

    return make


def _quadratic_forward(rng, dt, n, k, m):
    return [rng.random((n, m)).astype(dt), _onehot(rng, n, m, dt)], ()


def _softmax_ce_forward(rng, dt, n, k, m):
    return [_arr(rng, (n, m), dt, 5.0), _onehot(rng, n, m, dt)], ()


def _difference(rng, dt, n, k, m):
    return [_probs(rng, n, m, dt), _onehot(rng, n, m, dt)], ()


def _sgd(momentum, nesterov, wd):
    def make(rng, dt, n, k, m):
        size = k * m + m
        v = _arr(rng, (size,), dt, 0.1) if momentum else None
        return [_arr(rng, (size,), dt), _arr(rng, (size,), dt, 0.01), v, 0.05, momentum, nesterov, wd], (
            0,
            2,
        ) if momentum else (0,)

    return make


def _adam(wd):
    def make(rng, dt, n, k, m):
        size = k * m + m
        return [
            _arr(rng, (size,), dt),
            _arr(rng, (size,), dt, 0.01),
            _arr(rng, (size,), dt, 0.01),
            np.abs(_arr(rng, (size,), dt, 1e-4)),
            0.01,
            0.9,
            0.999,
            1e-8,
            wd,
            7,
        ], (0, 2, 3)

    return make


CASES = {
    "linear_forward": [_linear_forward],
    "linear_backward": [_linear_backward, lambda *a: _linear_backward(*a, need_dX=False)],
    "sigmoid_forward": [_act_forward, lambda *a: _act_forward(*a, scale=60.0)],  # saturated: no overflow
    "sigmoid_backward": [_act_backward("sigmoid")],
    "tanh_forward": [_act_forward],
    "tanh_backward": [_act_backward("tanh")],
    "relu_forward": [_act_forward],
    "relu_backward": [_act_backward("relu")],
    "quadratic_forward": [_quadratic_forward],
    "quadratic_backward": [lambda rng, dt, n, k, m: ([_arr(rng, (n, m), dt), _onehot(rng, n, m, dt)], ())],
    "softmax_ce_forward": [_softmax_ce_forward],
    "softmax_ce_backward": [_difference],
    "sigmoid_bce_backward": [_difference],
    "sgd_update": [_sgd(0.0, False, 0.0), _sgd(0.9, False, 0.0), _sgd(0.9, True, 1e-2), _sgd(0.0, False, 1e-3)],
    "adam_update": [_adam(0.0), _adam(1e-3)],
}
# (batch n, inputs k, outputs m): the book's step, a mid-size one, and more than 64 outputs (softmax's other branch)
SHAPES = [(10, 784, 30), (64, 100, 10), (33, 20, 100), (1, 5, 3)]


def test_every_fast_path_has_a_case():
    storage = {"bank", "keep"}  # tested on their own below
    assert set(OVERRIDDEN) - storage == set(CASES), "add a case for each new fast path"


def _host(x):
    return None if x is None else np.array(x, dtype=np.float64)


def _compare(got, ref, dtype, what):
    if isinstance(ref, tuple):
        assert isinstance(got, tuple) and len(got) == len(ref), what
        for i, (g, r) in enumerate(zip(got, ref, strict=True)):
            _compare(g, r, dtype, f"{what}[{i}]")
        return
    if ref is None:
        assert got is None, what
        return
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.dtype == np.dtype(dtype), f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == ref.shape, what
    scale = np.max(np.abs(ref)) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * scale * 1e-2, err_msg=what)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=["x".join(map(str, s)) for s in SHAPES])
@pytest.mark.parametrize("name", sorted(CASES))
def test_fast_path_matches_reference(name, shape, layout, dtype):
    for case, make in enumerate(CASES[name]):
        rng = np.random.default_rng(zlib.crc32(repr((name, shape, case)).encode()))
        args, writable = make(rng, np.dtype(dtype), *shape)
        args = [_layout(a, layout, rng) if isinstance(a, np.ndarray) else a for a in args]
        fast_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # none of these on such inputs
            got = getattr(FAST, name)(*fast_args)
        want = getattr(REF, name)(*ref_args)
        what = f"{name} case {case} {shape} {layout} {dtype}"
        _compare(got, want, dtype, what)
        for i, (f, r, b) in enumerate(zip(fast_args, ref_args, before, strict=True)):
            if b is None:
                continue
            if i not in writable:  # inputs: untouched (buffers handed over for results are compared as results)
                np.testing.assert_array_equal(f, b, err_msg=f"{what}: input argument {i} was modified")
        # results are new arrays, never views of an input (callers keep inputs and results)
        for res in got if isinstance(got, tuple) else (got,):
            if isinstance(res, np.ndarray) and res.ndim:
                for i, a in enumerate(fast_args):
                    if isinstance(a, np.ndarray) and i not in writable:
                        assert not np.shares_memory(res, a), f"{what}: result shares memory with argument {i}"


@pytest.mark.parametrize(
    "name",
    [
        "sigmoid_forward",
        "sigmoid_backward",
        "tanh_backward",
        "relu_forward",
        "relu_backward",
        "quadratic_backward",
        "softmax_ce_backward",
        "linear_forward",
    ],
)
def test_same_operations_same_bits(name, dtype):
    """Where the fast path performs the reference's operations in the same order, the results are identical."""
    rng = np.random.default_rng(3)
    for make in CASES[name]:
        args, _ = make(rng, np.dtype(dtype), 10, 784, 30)
        got = getattr(FAST, name)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        want = getattr(REF, name)(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        if name == "linear_forward":  # np.dot and np.matmul: the same BLAS product, at most a rounding apart
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype])
        else:
            np.testing.assert_array_equal(got, want)


def test_sgd_without_momentum_bitwise(dtype):
    rng = np.random.default_rng(5)
    p = _arr(rng, (1000,), dtype)
    g = _arr(rng, (1000,), dtype, 0.01)
    pf, pr = p.copy(), p.copy()
    pf, _ = FAST.sgd_update(pf, g, None, 3.0, 0.0, False, 0.0)
    pr, _ = REF.sgd_update(pr, g, None, 3.0, 0.0, False, 0.0)
    np.testing.assert_array_equal(pf, pr)


@pytest.mark.parametrize("with_values", [False, True])
def test_bank_flat_views(dtype, with_values):
    shapes, is_w = [(4, 3), (3,), (3, 2), (2,)], [True, False, True, False]
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s) for s in shapes] if with_values else None
    fast = FAST.bank(shapes, is_w, np.dtype(dtype), values)
    ref = REF.bank(shapes, is_w, np.dtype(dtype), values)
    for f, r in zip(fast.arrays, ref.arrays, strict=True):
        assert f.shape == r.shape and f.dtype == r.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(f, r)
    # two groups: all weights, then all biases, and the arrays are views of them
    wflat, bflat = fast.groups
    assert fast.group_is_weight == (True, False) and wflat.size == 4 * 3 + 3 * 2 and bflat.size == 3 + 2
    wflat += 1.0
    np.testing.assert_array_equal(fast.arrays[0], np.asarray(ref.arrays[0]) + 1.0)
    np.testing.assert_array_equal(fast.arrays[1], ref.arrays[1])
    # an update that returns its own buffers leaves the bank as it is; new buffers give new views
    assert fast.with_groups(fast.groups) is fast
    moved = fast.with_groups((wflat * 2.0, bflat.copy()))
    np.testing.assert_array_equal(moved.arrays[0], 2.0 * fast.arrays[0])
    assert not np.shares_memory(moved.arrays[0], wflat)


def test_keep_is_a_copy_later_updates_cannot_touch(dtype):
    p = np.arange(12.0, dtype=dtype)
    kept = FAST.keep(p)
    p += 1.0
    np.testing.assert_array_equal(kept, np.arange(12.0, dtype=dtype))


def test_gradient_buffers_filled_in_place_and_returned(dtype):
    """linear_backward writes into the model's own C-contiguous gradient buffers and returns them;
    buffers np.dot's out= refuses (not C-contiguous) are left alone and new arrays are returned."""
    rng = np.random.default_rng(1)
    X, W, dZ = _arr(rng, (6, 5), dtype), _arr(rng, (5, 4), dtype), _arr(rng, (6, 4), dtype)
    dW, db = np.full((5, 4), 7.0, dtype), np.full((4,), 7.0, dtype)  # stale values: overwritten, not added to
    dX, gW, gb = FAST.linear_backward(X, W, dZ, True, dW, db)
    assert gW is dW and gb is db
    np.testing.assert_allclose(dW, X.T @ dZ, rtol=RTOL[dtype])
    np.testing.assert_allclose(db, dZ.sum(axis=0), rtol=RTOL[dtype])
    np.testing.assert_allclose(dX, dZ @ W.T, rtol=RTOL[dtype])
    dWf = np.zeros((4, 5), dtype).T  # F-ordered view
    dbs = np.zeros((8,), dtype)[::2]  # strided
    _, gW, gb = FAST.linear_backward(X, W, dZ, False, dWf, dbs)
    assert gW is not dWf and gb is not dbs and not dWf.any() and not dbs.any()
    np.testing.assert_allclose(gW, X.T @ dZ, rtol=RTOL[dtype])
    np.testing.assert_allclose(gb, dZ.sum(axis=0), rtol=RTOL[dtype])


def test_constants_do_not_pile_up():
    """A learning-rate schedule makes a new constant per value; the cache stays bounded."""
    K = get_kernels(backends.get_backend("numpy"), fast=True)
    p, g = np.zeros(10, np.float32), np.ones(10, np.float32)
    for i in range(2000):
        K.sgd_update(p, g, None, 1.0 / (i + 1), 0.0, False, 0.0)
    assert 0 < len(K._k) <= 512
    c = K._c(0.5, np.dtype(np.float32))
    assert c.dtype == np.float32 and c.ndim == 0 and not c.flags.writeable


def test_results_handed_out_are_never_overwritten():
    """Outputs returned to the caller keep their values through later steps (no reused out= buffers)."""
    model = mlp.Sequential([mlp.Linear(5, 7), mlp.Sigmoid(), mlp.Linear(7, 3)], backend="numpy", dtype="float32")
    loss, opt = mlp.CrossEntropy(), mlp.SGD(lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    X1, X2 = _arr(rng, (4, 5), np.float32), _arr(rng, (4, 5), np.float32)
    T = _onehot(rng, 4, 3, np.float32)
    Y1 = model.forward(X1)
    v1 = loss.forward(Y1, T)
    g1 = loss.backward()
    kept = [np.array(a) for a in (Y1, v1, g1)]
    for _ in range(3):
        loss.forward(model.forward(X2), T)
        model.backward(loss.backward())
        opt.step(model)
    for a, k in zip((Y1, v1, g1), kept, strict=True):
        np.testing.assert_array_equal(a, k)


def _traced_after_fit(model, X, y, loss, opt, epoch):
    mlp.fit(
        model,
        X,
        y,
        loss=loss,
        optimizer=opt,
        epochs=epoch + 1,
        initial_epoch=epoch,
        batch_size=10,
        progress=False,
        train_metrics=False,
    )
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_memory_does_not_grow_from_step_to_step():
    """Hundreds of fast-path steps, twice over: the traced memory is the same after each run."""
    rng = np.random.default_rng(0)
    X = rng.random((3000, 784), dtype=np.float32)  # 300 steps a fit
    y = rng.integers(0, 10, 3000)
    model = mlp.Sequential(
        [mlp.Linear(784, 30, init="normal"), mlp.Sigmoid(), mlp.Linear(30, 10, init="normal"), mlp.Sigmoid()],
        backend="numpy",
        dtype="float32",
        fast=True,
    )
    loss, opt = mlp.Quadratic(), mlp.SGD(lr=3.0, momentum=0.5)
    mlp.fit(model, X, y, loss=loss, optimizer=opt, epochs=1, batch_size=10, progress=False, train_metrics=False)
    tracemalloc.start()
    try:
        first = _traced_after_fit(model, X, y, loss, opt, 1)
        second = _traced_after_fit(model, X, y, loss, opt, 2)
        third = _traced_after_fit(model, X, y, loss, opt, 3)
    finally:
        tracemalloc.stop()
    # 300 steps between readings: a leak of even 16 bytes a step would show as ~5 KB
    assert second - first < 4096, (first, second, third)
    assert third - second < 4096, (first, second, third)
