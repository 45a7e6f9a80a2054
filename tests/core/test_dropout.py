"""Dropout (inverted, keyed by the step) and L1: same masks on every backend, and training that replays."""

import numpy as np
import pytest

import mlp
from mlp import backends
from mlp.core.layers import EVAL, StepContext
from mlp.core.random import keep_mask
from mlp.io import datasets
from tests_helpers import RTOL, host

P = 0.4


def dropout_net(backend="numpy", dtype="float64", p=P, sizes=(5, 16, 12, 3), seed=3, activation=mlp.Tanh):
    """Linear, activation, Dropout(p) per hidden layer, then a Linear output."""
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [mlp.Linear(a, b), activation(), mlp.Dropout(p)]
    layers.append(mlp.Linear(sizes[-2], sizes[-1]))
    return mlp.Sequential(layers, backend=backend, dtype=dtype, seed=seed)


def plain_net(backend="numpy", dtype="float64", sizes=(5, 16, 12, 3), seed=3):
    return dropout_net(backend, dtype, 0.0, sizes, seed)


def inputs(n=32, n_in=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, n_in))


# -- the layer --------------------------------------------------------------------------------------
def test_dropout_output_is_the_keyed_mask_times_its_input():
    model = mlp.Sequential([mlp.Linear(5, 40), mlp.Dropout(P)], dtype="float64", seed=1)
    X = model.backend.asarray(inputs(), dtype="float64")  # the pure passes take the model's own arrays
    ctx = StepContext(True, seed=9, epoch=2, step=5)
    Y = host(model.forward_function()(model.parameters(), X, ctx)[0])
    Z = host(model.forward_function()(model.parameters(), X, EVAL)[0])
    mask = np.asarray(keep_mask(model.xp, Z.shape, P, model.xp.float64, 9, 2, 5, 1))  # layer index 1
    np.testing.assert_array_equal(Y, Z * mask)
    assert 0 < np.count_nonzero(mask) < mask.size


def test_eval_mode_is_the_identity():
    X = inputs()
    with_dropout, without = dropout_net(), plain_net()
    with_dropout.eval()
    np.testing.assert_array_equal(host(with_dropout.forward(X)), host(without.forward(X)))
    np.testing.assert_array_equal(host(with_dropout.predict_values(X)), host(without.predict_values(X)))


def test_train_mode_draws_a_new_mask_each_forward():
    model, X = dropout_net(), inputs()
    a, b = host(model.forward(X)), host(model.forward(X))
    assert not np.array_equal(a, b)


def test_backward_multiplies_by_the_same_mask():
    model = mlp.Sequential([mlp.Linear(5, 30), mlp.Dropout(P)], dtype="float64", seed=1)
    X, ctx = model.backend.asarray(inputs(), dtype="float64"), StepContext(True, 4, 0, 7)
    Y, caches = model.forward_function()(model.parameters(), X, ctx)
    dY = model.backend.asarray(np.ones(tuple(Y.shape)), dtype="float64")
    dX, (dW, db) = model.backward_function()(model.parameters(), caches, dY, True)
    mask = host(keep_mask(model.xp, tuple(dY.shape), P, model.xp.float64, 4, 0, 7, 1))
    np.testing.assert_allclose(host(db), mask.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(host(dX), mask @ host(model.parameters()[0]).T, rtol=1e-12)


@pytest.mark.parametrize("p", [1.0, -0.1, float("nan"), "0.5"])
def test_bad_p_is_refused(p):
    with pytest.raises(ValueError, match="Dropout"):
        mlp.Dropout(p)


def test_config_and_checkpoint_round_trip(tmp_path):
    model = dropout_net()
    path = tmp_path / "d.safetensors"
    mlp.save(model, path)
    back = mlp.load(path)
    assert [type(l) for l in back.layers] == [type(l) for l in model.layers]
    assert [l.p for l in back.layers if isinstance(l, mlp.Dropout)] == [P, P]
    ctx, X = StepContext(True, 1, 2, 3), inputs()
    # the same masks; the checkpoint may load on another backend, whose matmul rounds its own way
    np.testing.assert_allclose(
        host(back.forward_function()(back.parameters(), back.backend.asarray(X, dtype="float64"), ctx)[0]),
        host(model.forward_function()(model.parameters(), model.backend.asarray(X, dtype="float64"), ctx)[0]),
        rtol=1e-12,
        atol=1e-12,
    )


# -- every backend ----------------------------------------------------------------------------------
def test_masks_identical_on_every_backend(backend, dtype):
    """A forward pass in train mode with one key: the same units dropped everywhere, the same values."""
    X, ctx = inputs(), StepContext(True, 11, 1, 2)

    def run(model, X):
        forward = model.forward_function()
        pass_ = lambda params, X: forward(params, X, ctx)  # noqa: E731
        if model.backend.compiler is not None:  # JAX: one compiled call instead of hundreds of small ones
            pass_ = model.backend.compiler.jit(pass_)
        Y, caches = pass_(model.parameters(), X)
        return host(Y), [host(c) for l, c in zip(model.layers, caches, strict=True) if isinstance(l, mlp.Dropout)]

    Y_ref, ref_masks = run(dropout_net("numpy", "float64"), X)
    Y, masks = run(dropout_net(backend, dtype), backend.asarray(X, dtype=dtype))
    assert len(masks) == 2
    for m, r in zip(masks, ref_masks, strict=True):
        np.testing.assert_array_equal(m == 0, r == 0)
        np.testing.assert_allclose(m, r, rtol=RTOL[dtype])
    np.testing.assert_allclose(Y, Y_ref, rtol=RTOL[dtype], atol=RTOL[dtype])


def fit_one_epoch(backend, dtype, p=P):
    X, y = datasets.spirals(n_samples=96, seed=1)
    X = np.hstack([X, X[:, :1] * X[:, 1:], X**2])[:, :5]
    model = dropout_net(backend, dtype, p=p)
    mlp.fit(
        model,
        X,
        y % 3,
        loss="cross_entropy",
        optimizer=mlp.SGD(0.1, momentum=0.9),
        epochs=1,
        batch_size=12,
        seed=21,
        progress=False,
        train_metrics=False,
    )
    return {k: np.asarray(v, dtype=np.float64) for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def reference_epoch():
    return fit_one_epoch("numpy", "float64")


def test_one_epoch_with_dropout_same_weights_on_every_backend(backend, dtype, reference_epoch):
    got = fit_one_epoch(backend, dtype)
    for k, ref in reference_epoch.items():
        np.testing.assert_allclose(
            got[k],
            ref,
            rtol=RTOL[dtype],
            atol=RTOL[dtype] * np.abs(ref).max() * 1e-1,
            err_msg=f"{backend.name}/{dtype}: {k}",
        )


def test_dropout_changes_training(reference_epoch):
    """The parity above would be empty if the masks were all ones."""
    plain = fit_one_epoch("numpy", "float64", p=0.0)
    assert not np.allclose(plain["W0"], reference_epoch["W0"])


def test_gradients_with_a_fixed_mask_match_finite_differences():
    """Backprop through Dropout with one fixed key equals central differences of the same function.

    (NumPy only: the other backends compute the same masks, tested above, and the same
    backprop, tested by the gradient tests of the core.)"""
    backend = backends.get_backend("numpy")
    model = dropout_net(backend, "float64", sizes=(4, 6, 5, 3))
    X = backend.asarray(inputs(8, 4), dtype="float64")
    T = backend.asarray(np.eye(3)[np.arange(8) % 3], dtype="float64")
    ctx = StepContext(True, 5, 1, 2)
    forward, backward = model.forward_function(), model.backward_function()
    apply, grad = mlp.CrossEntropy().functions(model.K)

    def loss_at(params):
        return float(host(apply(forward(params, X, ctx)[0], T)[0]))

    params = tuple(model.parameters())
    Y, caches = forward(params, X, ctx)
    _, grads = backward(params, caches, grad(apply(Y, T)[1], T), False)
    eps, worst = 1e-5, 0.0
    xp = model.xp
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        p_host, g_host = host(p), host(g)
        for idx in list(np.ndindex(p_host.shape))[:12]:
            trial = []
            for s in (1, -1):
                q = p_host.copy()
                q[idx] += s * eps
                trial.append(loss_at(params[:i] + (xp.asarray(q, device=model.backend.device),) + params[i + 1 :]))
            numeric = (trial[0] - trial[1]) / (2 * eps)
            worst = max(worst, abs(numeric - g_host[idx]) / max(abs(numeric) + abs(g_host[idx]), 1e-8))
    assert worst < 1e-6, worst


# -- replaying steps ------------------------------------------------------------------------------
def test_ctrl_c_resume_replays_the_same_masks(monkeypatch):
    """Interrupted mid-epoch and resumed: the same weights as a run that was never stopped."""
    import os
    import signal

    import mlp.train.runner as training

    X, y = datasets.spirals(n_samples=160, seed=7)
    kw = dict(loss="cross_entropy", epochs=2, batch_size=16, seed=5, progress=False)
    ref, ref_opt = dropout_net(sizes=(2, 12, 2)), mlp.SGD(0.05, momentum=0.9)
    mlp.fit(ref, X, y, optimizer=ref_opt, **kw)

    monkeypatch.setattr(training, "CHECK_EVERY", 1)
    real, done = training.StepRunner.run, []

    def run(self, state, first, last):
        out = real(self, state, first, last)
        done.append(last - first)
        if sum(done) >= 13 > sum(done) - (last - first):
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(training.StepRunner, "run", run)
    model, opt = dropout_net(sizes=(2, 12, 2)), mlp.SGD(0.05, momentum=0.9)
    with pytest.raises(mlp.TrainingInterrupted) as stop:
        mlp.fit(model, X, y, optimizer=opt, **kw)
    monkeypatch.undo()
    assert stop.value.epoch == 1 and 0 < stop.value.step < 10  # stopped inside the second epoch
    mlp.fit(
        model,
        X,
        y,
        optimizer=opt,
        initial_epoch=stop.value.epoch,
        initial_step=stop.value.step,
        history=stop.value.history,
        **kw,
    )
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[k], v, err_msg=k)


def test_a_different_fit_seed_gives_different_masks():
    X, y = datasets.spirals(n_samples=64, seed=7)
    states = []
    for seed in (5, 6):
        model = dropout_net(sizes=(2, 12, 2))
        mlp.fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(0.05),
            epochs=1,
            batch_size=16,
            seed=seed,
            shuffle=False,
            progress=False,
            train_metrics=False,
        )
        states.append(model.state_dict())
    assert not np.allclose(states[0]["W0"], states[1]["W0"])


# -- L1 ---------------------------------------------------------------------------------------------
def test_l1_step_is_the_books_rule():
    """w -> w - eta * (lmbda / n) * sign(w) - eta * dC/dw for weights; biases unregularised."""
    model = plain_net(sizes=(5, 4, 3))
    X, T = inputs(6), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    lmbda, n, eta = 2.0, 50, 0.1
    before = {k: v.copy() for k, v in model.state_dict().items()}
    loss = mlp.CrossEntropy()
    loss.forward(model.forward(X), T)
    model.backward(loss.backward())
    grads = dict(zip(model.param_names(), [host(g) for g in model.gradients()], strict=True))
    mlp.SGD(eta, l1=mlp.l1_strength(lmbda, n)).step(model)
    after = model.state_dict()
    for name, w in before.items():
        shrink = eta * lmbda / n * np.sign(w) if name.startswith("W") else 0.0
        np.testing.assert_allclose(after[name], w - shrink - eta * grads[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_l1_survives_a_checkpoint(tmp_path):
    model, opt = plain_net(sizes=(5, 4, 3)), mlp.SGD(0.1, momentum=0.5, l1=0.03)
    path = tmp_path / "l1.safetensors"
    mlp.save(model, path, opt)
    assert mlp.load_checkpoint(path).optimizer.l1 == 0.03


# -- the command line -----------------------------------------------------------------------------
def test_cli_l1_reaches_the_optimizer_and_the_checkpoint(tmp_path, monkeypatch):
    from mlp.cli import main

    monkeypatch.setenv("MLP_BACKEND", "numpy")
    path = tmp_path / "xor.safetensors"
    assert main(["train", "--data", "xor", "--epochs", "2", "--quiet", "--l1", "0.5", "--save", str(path)]) == 0
    ckpt = mlp.load_checkpoint(path)
    n = len(datasets.xor()[0])
    assert ckpt.optimizer.l1 == pytest.approx(mlp.l1_strength(0.5, n))
    assert ckpt.metadata["extra"]["cli"]["l1"] == 0.5


def test_cli_dropout_puts_dropout_after_each_hidden_layer(tmp_path, monkeypatch):
    import inspect

    from mlp.cli import main

    if "dropout" not in inspect.signature(mlp.build_mlp).parameters:
        pytest.skip("build_mlp(..., dropout=) is not in mlp/model.py yet")
    monkeypatch.setenv("MLP_BACKEND", "numpy")
    path = tmp_path / "xor.safetensors"
    args = ["train", "--data", "xor", "--sizes", "2,8,8,2", "--epochs", "2", "--quiet", "--dropout", "0.25"]
    assert main([*args, "--save", str(path)]) == 0
    layers = mlp.load_checkpoint(path).model.layers
    assert [type(l).__name__ for l in layers] == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert all(l.p == 0.25 for l in layers if isinstance(l, mlp.Dropout))


def test_mlp_gradcheck_passes_with_dropout():
    model = dropout_net(sizes=(4, 6, 5, 3))
    X, T = inputs(8, 4), np.eye(3)[np.arange(8) % 3]
    assert mlp.gradcheck(model, "cross_entropy", X, T, max_per_param=6) < 1e-6
