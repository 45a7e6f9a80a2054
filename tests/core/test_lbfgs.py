"""mlp.core.lbfgs: the L-BFGS iterates are scipy's L-BFGS-B's, on every backend; the LBFGS optimizer is the same
iteration, step by step."""

import math

import numpy as np
import pytest

import mlp
from mlp.core.layers import EVAL
from mlp.core.lbfgs import (
    ABNORMAL,
    CONVERGED_F,
    CONVERGED_GRADIENT,
    LBFGS,
    STOP_EVALUATIONS,
    STOP_ITERATIONS,
    _LineSearch,
    flatten,
    group_objective,
    minimize,
    unflatten,
)

scipy_optimize = pytest.importorskip("scipy.optimize")


@pytest.fixture(scope="module")
def be():
    return mlp.get_backend()


def rosenbrock(xp):
    """The n-dimensional Rosenbrock function and its gradient in ``xp`` (no writes into arrays)."""

    def fun(x):
        a, b = x[:-1], x[1:]
        f = xp.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)
        zero = xp.zeros((1,), dtype=x.dtype, device=x.device)
        g = xp.concat([-400.0 * a * (b - a * a) - 2.0 * (1.0 - a), zero]) + xp.concat([zero, 200.0 * (b - a * a)])
        return f, g

    return fun


def on_host(be, fun):
    """``fun`` on the backend, called with and returning host arrays (what scipy needs)."""

    def host_fun(x):
        f, g = fun(be.asarray(np.asarray(x), dtype="float64"))
        return float(f), np.asarray(be.to_numpy(g), dtype=np.float64)

    return host_fun


X0 = np.linspace(-1.2, 1.0, 10)


@pytest.mark.parametrize("maxiter,tol", [(1, 1e-14), (2, 1e-14), (5, 1e-13), (20, 1e-9), (15000, 1e-7)])
def test_iterates_match_scipy_lbfgsb_on_rosenbrock(be, maxiter, tol):
    fun = rosenbrock(be.xp)
    theirs = scipy_optimize.minimize(on_host(be, fun), X0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    ours = minimize(fun, be.asarray(X0, dtype="float64"), xp=be.xp, maxiter=maxiter)
    np.testing.assert_allclose(be.to_numpy(ours.x), theirs.x, rtol=0, atol=tol)
    assert (ours.nit, ours.nfev, ours.status) == (theirs.nit, theirs.nfev, theirs.status)
    assert ours.fun == pytest.approx(theirs.fun, rel=1e-6, abs=1e-12)
    if maxiter == 15000:  # converged, at the minimum (1, ..., 1)
        assert ours.message == CONVERGED_F and ours.success
        np.testing.assert_allclose(be.to_numpy(ours.x), np.ones(10), atol=1e-4)
    else:
        assert ours.message == STOP_ITERATIONS and not ours.success


def logistic_regression(be, n=60, d=5, seed=0):
    """A smooth convex objective: the mean logistic loss of a linear model, with a small L2 term."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    t = (A @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n) > 0).astype(np.float64)
    xp = be.xp
    Ad, td = be.asarray(A, dtype="float64"), be.asarray(t, dtype="float64")

    def fun(w):
        z = xp.matmul(Ad, w)
        p = 1.0 / (1.0 + xp.exp(-z))
        f = xp.mean(xp.log1p(xp.exp(-xp.abs(z))) + xp.clip(z, min=0.0) - td * z) + 0.005 * xp.sum(w * w)
        return f, xp.matmul(xp.matrix_transpose(Ad), p - td) / n + 0.01 * w

    return fun, np.zeros(d)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"maxfun": 4}, STOP_EVALUATIONS),
        ({"gtol": 1e-2}, CONVERGED_GRADIENT),
        ({"ftol": 1e-4}, CONVERGED_F),
        ({}, None),
    ],
)
def test_stopping_rules_are_scipys(be, options, message):
    fun, x0 = logistic_regression(be)
    theirs = scipy_optimize.minimize(on_host(be, fun), x0, jac=True, method="L-BFGS-B", options=options)
    ours = minimize(fun, be.asarray(x0, dtype="float64"), xp=be.xp, **options)
    assert (ours.nit, ours.nfev, ours.status) == (theirs.nit, theirs.nfev, theirs.status)
    if message is not None:
        assert ours.message == message
    np.testing.assert_allclose(be.to_numpy(ours.x), theirs.x, atol=1e-8)


def test_the_accepted_step_satisfies_the_strong_wolfe_conditions():
    """dcsrch's conditions, checked on the steps it accepts along random descent directions of Rosenbrock."""
    fun = rosenbrock(np)
    rng = np.random.default_rng(1)
    for _ in range(20):
        x = rng.uniform(-2, 2, 6)
        f0, g0 = fun(x)
        d = -g0 + 0.5 * rng.standard_normal(6) * np.abs(g0)
        if g0 @ d >= 0:
            continue
        stp, search, task = 1.0 / np.linalg.norm(d), _LineSearch(f0, g0 @ d, 1.0 / np.linalg.norm(d)), "FG"
        for _ in range(30):
            f, g = fun(x + stp * d)
            new, task = search(stp, float(f), float(g @ d))
            if task != "FG":
                break
            stp = new
        assert task == "CONVERGENCE"
        f, g = fun(x + stp * d)
        assert f <= f0 + 1e-3 * stp * (g0 @ d)
        assert abs(g @ d) <= 0.9 * abs(g0 @ d)


def test_an_overflowing_trial_step_is_searched_back_from():
    """Beyond |x| > 3 the objective is +inf: the search steps back instead of producing NaN steps."""

    def fun(x):
        big = bool(np.max(np.abs(x)) > 3.0)
        return (math.inf if big else float(np.sum((x - 2.5) ** 2))), 2.0 * (x - 2.5)

    result = minimize(fun, np.zeros(3), xp=np, maxiter=50)
    assert result.success and np.all(np.isfinite(result.x))
    np.testing.assert_allclose(result.x, 2.5, atol=1e-6)


def test_bad_arguments_are_named(be):
    fun = rosenbrock(be.xp)
    with pytest.raises(ValueError, match="x0 must be a flat vector"):
        minimize(fun, be.asarray(np.zeros((2, 2))), xp=be.xp)
    with pytest.raises(ValueError, match="maxiter must be a positive integer"):
        minimize(fun, be.asarray(X0), xp=be.xp, maxiter=0)
    with pytest.raises(mlp.DivergenceError, match="objective is inf"):
        minimize(lambda x: (math.inf, x), be.asarray(X0), xp=be.xp)
    with pytest.raises(ValueError, match="l1 must be 0"):
        LBFGS(l1=0.1)


def test_a_line_search_that_finds_nothing_is_abnormal_termination():
    """A gradient that points the wrong way: no descent along -g, the memory is empty, scipy's status 2."""
    result = minimize(lambda x: (float(np.sum(x * x)), -2.0 * x), np.ones(2), xp=np)
    assert (result.status, result.message, result.nit) == (2, ABNORMAL, 0)
    np.testing.assert_array_equal(result.x, np.ones(2))


# -- the network objective and the optimizer --------------------------------------------------------
@pytest.fixture
def network(be):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 4))
    y = rng.integers(0, 3, 40)
    model = mlp.build_mlp(
        [4, 6, 3], activation="tanh", loss="cross_entropy", init="xavier", backend=be, dtype="float64", seed=2
    )
    return model, be.asarray(X, dtype="float64"), be.asarray(np.eye(3)[y], dtype="float64")


def flat_objective(model, Xd, Td, weight_decay=0.0):
    evaluate, is_weight = group_objective(model, mlp.get_loss("cross_entropy").bind(model.K))
    xp = model.xp
    groups = model.param_groups()
    shapes = [tuple(g.shape) for g in groups]
    mask = flatten(
        xp,
        [
            (xp.ones if w else xp.zeros)(tuple(g.shape), dtype=g.dtype, device=g.device)
            for g, w in zip(groups, is_weight, strict=True)
        ],
    )

    def fun(x):
        value, grads = evaluate(unflatten(xp, x, shapes), Xd, Td, EVAL)
        wx = mask * x
        return value + 0.5 * weight_decay * xp.sum(wx * wx), flatten(xp, grads) + weight_decay * wx

    return fun, flatten(xp, groups), shapes


def test_a_network_is_minimised_as_scipy_minimises_it(be, network):
    model, Xd, Td = network
    fun, x0, _ = flat_objective(model, Xd, Td)
    theirs = scipy_optimize.minimize(
        on_host(be, fun),
        np.asarray(be.to_numpy(x0), dtype=np.float64),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10},
    )
    ours = minimize(fun, x0, xp=be.xp, maxiter=10)
    assert (ours.nit, ours.nfev) == (theirs.nit, theirs.nfev)
    np.testing.assert_allclose(be.to_numpy(ours.x), theirs.x, atol=1e-10)


def test_optimizer_steps_are_minimize_iterations(be, network):
    """Full batch: k steps of the LBFGS optimizer (its pairs carried as state) are k iterations of minimize."""
    model, Xd, Td = network
    wd = 0.05
    fun, x0, shapes = flat_objective(model, Xd, Td, weight_decay=wd)
    expected = minimize(fun, x0, xp=be.xp, maxiter=6, gtol=0.0, ftol=0.0)
    opt = LBFGS(weight_decay=wd)
    step = opt.make_step(model, mlp.get_loss("cross_entropy").bind(model.K))
    groups, state = model.param_groups(), opt.state_groups(model)
    losses = []
    for t in range(1, 7):
        groups, state, value, grads = step(groups, state, Xd, Td, opt.lr, t, EVAL)
        losses.append(float(value))
    np.testing.assert_allclose(be.to_numpy(flatten(be.xp, groups)), be.to_numpy(expected.x), atol=1e-12)
    assert len(state) == 6 and all(len(pair) == 3 for pair in state)
    # each step reports the batch's loss (without the L2 term) at the weights it started from
    data_loss, _, _ = flat_objective(model, Xd, Td)
    assert losses[0] == pytest.approx(float(data_loss(x0)[0]), rel=1e-12)
    assert float(fun(flatten(be.xp, groups))[0]) < float(fun(x0)[0])


def test_optimizer_state_round_trips_through_its_state_dict(be, network):
    model, Xd, Td = network
    loss = mlp.get_loss("cross_entropy").bind(model.K)
    opt = LBFGS(history_size=3)
    step = opt.make_step(model, loss)
    groups, state = model.param_groups(), ()
    for t in range(1, 5):
        groups, state, _, _ = step(groups, state, Xd, Td, 1.0, t, EVAL)
    opt.set_state_groups(model, state)
    opt.t = 4
    saved = opt.state_dict(pairs=True)
    assert saved["type"] == "LBFGS" and len([k for k in saved["arrays"] if k.startswith("s.")]) == 3
    assert opt.state_dict()["arrays"] == {}  # what a checkpoint keeps: no pairs (see LBFGS.state_dict)
    from mlp.core.optim import from_state

    again = from_state(saved).load_state_dict(saved, model)
    assert again.hyperparameters() == opt.hyperparameters() and again.t == 4
    a = step(groups, opt.state_groups(model), Xd, Td, 1.0, 5, EVAL)[0]
    b = again.make_step(model, loss)(groups, again.state_groups(model), Xd, Td, 1.0, 5, EVAL)[0]
    np.testing.assert_allclose(be.to_numpy(flatten(be.xp, a)), be.to_numpy(flatten(be.xp, b)), atol=1e-13)


def test_lbfgs_is_registered_and_refuses_to_pose_as_an_update_rule(be, network):
    from mlp.core.registry import OPTIMIZERS

    assert OPTIMIZERS.get("lbfgs") is LBFGS
    model, _, _ = network
    with pytest.raises(TypeError, match="evaluates the loss several times per step"):
        LBFGS().update_function(model.K, (True, False))


def _fit_routes_to_lbfgs():
    """Whether mlp.make_step hands an optimizer that has its own step to it (the hook in mlp/core/step.py)."""
    model = mlp.build_mlp([2, 2], loss="cross_entropy", backend="numpy")
    try:
        mlp.make_step(model, mlp.get_loss("cross_entropy"), LBFGS())
    except TypeError:
        return False
    return True


@pytest.mark.skipif(not _fit_routes_to_lbfgs(), reason="mlp.make_step does not ask LBFGS for its own step yet")
def test_fit_trains_with_lbfgs_full_batch(be, network):
    model, Xd, Td = network
    fun, x0, _ = flat_objective(model, Xd, Td)
    expected = minimize(fun, x0, xp=be.xp, maxiter=8, gtol=0.0, ftol=0.0)
    y = np.argmax(be.to_numpy(Td), axis=1)
    history = mlp.fit(
        model, Xd, y, loss="cross_entropy", optimizer=LBFGS(), epochs=8, batch_size=40, shuffle=False, progress=False
    )
    np.testing.assert_allclose(be.to_numpy(flatten(be.xp, model.param_groups())), be.to_numpy(expected.x), atol=1e-10)
    assert history.epoch == list(range(8))
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


def test_cli_trains_with_lbfgs_full_batch_and_saves(tmp_path):
    """`mlp train --optimizer lbfgs`: the whole training set a batch, scipy's step (no --lr), a checkpoint that
    evaluates to the accuracy the run printed."""
    from mlp import cli

    path = tmp_path / "lbfgs.safetensors"
    assert (
        cli.main(
            ["train", "--data", "spirals", "--optimizer", "lbfgs", "--epochs", "20", "--quiet", "--save", str(path)]
        )
        == 0
    )
    ck = mlp.load_checkpoint(path)
    assert type(ck.optimizer).__name__ == "LBFGS" and ck.optimizer.lr == 1.0 and ck.optimizer.t == 20
    assert ck.metadata["extra"]["cli"]["batch_size"] == 1600  # spirals: 1,600 training rows
