"""Sample and class weights: a weighted step is the step on repeated rows; metrics are weighted means."""

import numpy as np
import pytest

import mlp
from tests_helpers import host


def net(backend, sizes=(3, 5, 3), dtype="float64", output=None):
    return mlp.build_mlp(
        list(sizes),
        "tanh",
        "cross_entropy" if output is None else "mse",
        "xavier",
        backend,
        dtype,
        seed=4,
        output=output,
    )


def data(n=12, n_in=3, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)), np.arange(n) % n_classes


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "quadratic", "mse"])
def test_integer_weights_step_as_repeated_rows(backend, loss):
    """Full-batch steps with weights (2, 0, 1, 3, ...) end where steps on the rows repeated that often end."""
    X, y = data()
    w = np.array([2, 0, 1, 3, 1, 1, 2, 0, 1, 1, 4, 1], dtype=np.float64)
    binary = loss == "binary_cross_entropy"
    sizes = (3, 5, 1) if binary else (3, 5, 3)
    y = y % 2 if binary else y
    task = "regression" if loss == "mse" else None
    target = X[:, :1] * 0.5 if loss == "mse" else y
    sizes = (3, 5, 1) if loss == "mse" else sizes
    kw = dict(loss=loss, epochs=3, shuffle=False, progress=False, train_metrics=False, task=task)
    a = mlp.build_mlp(
        list(sizes), "tanh", loss, "xavier", backend, "float64", seed=4, output="identity" if loss == "mse" else None
    )
    b = mlp.build_mlp(
        list(sizes), "tanh", loss, "xavier", backend, "float64", seed=4, output="identity" if loss == "mse" else None
    )
    mlp.fit(a, X, target, optimizer=mlp.SGD(0.3, momentum=0.5), batch_size=len(X), sample_weight=w, **kw)
    rep = np.repeat(np.arange(len(X)), w.astype(int))
    mlp.fit(b, X[rep], target[rep], optimizer=mlp.SGD(0.3, momentum=0.5), batch_size=len(rep), **kw)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(host(p), host(q), rtol=1e-10, atol=1e-12)


def test_weighted_minibatches_on_jax_compiled_equal_step_by_step(backend):
    """Mini-batches of 5 with a short last one: the compiled loop (where the backend has one) and the
    step-by-step path take the same weighted steps."""
    X, y = data(n=23)
    w = np.linspace(0.1, 2.0, len(X))
    runs = []
    for compiled in (None, False):
        m = net(backend)
        mlp.fit(
            m,
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.Adam(0.01),
            epochs=2,
            batch_size=5,
            progress=False,
            sample_weight=w,
            compiled=compiled,
            seed=3,
        )
        runs.append([host(p) for p in m.parameters()])
    for p, q in zip(*runs, strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_unit_weights_change_nothing():
    X, y = data()
    a, b = net("numpy"), net("numpy")
    kw = dict(loss="cross_entropy", epochs=2, batch_size=5, progress=False, seed=1)
    ha = mlp.fit(a, X, y, optimizer=mlp.SGD(0.1), sample_weight=np.ones(len(X)), **kw)
    hb = mlp.fit(b, X, y, optimizer=mlp.SGD(0.1), **kw)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(host(p), host(q), rtol=1e-12)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-12)


def test_balanced_class_weight_is_the_sample_weights_it_names():
    X, y = data(n=14)
    y = np.array([0] * 8 + [1] * 4 + [2] * 2)
    counts = np.bincount(y)
    w = (len(y) / (3 * counts))[y]
    a, b = net("numpy"), net("numpy")
    kw = dict(loss="cross_entropy", epochs=2, batch_size=4, progress=False, seed=2)
    mlp.fit(a, X, y, optimizer=mlp.SGD(0.1), class_weight="balanced", **kw)
    mlp.fit(b, X, y, optimizer=mlp.SGD(0.1), sample_weight=w, **kw)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(host(p), host(q), rtol=1e-12)
    c = net("numpy")
    mlp.fit(c, X, y, optimizer=mlp.SGD(0.1), class_weight={0: 1.0, 1: 2.0, 2: 4.0}, **kw)
    d = net("numpy")
    mlp.fit(d, X, y, optimizer=mlp.SGD(0.1), sample_weight=np.array([1.0, 2.0, 4.0])[y], **kw)
    for p, q in zip(c.parameters(), d.parameters(), strict=True):
        np.testing.assert_allclose(host(p), host(q), rtol=1e-12)


def test_weighted_metrics_are_scikit_learns(backend):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    X, y = data(n=40)
    w = np.random.default_rng(5).uniform(0, 3, len(X))
    m = net(backend)
    got = mlp.evaluate(m, X, y, loss="cross_entropy", sample_weight=w)
    pred = m.predict(X)
    assert got["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(y, pred, sample_weight=w), rel=1e-12)
    P = m.predict_proba(X, loss=mlp.CrossEntropy())
    assert got["loss"] == pytest.approx(sklearn_metrics.log_loss(y, P, sample_weight=w), rel=1e-9)
    r = net(backend, sizes=(3, 4, 2), output="identity")
    Y = X[:, :2] * np.array([1.0, -2.0]) + 0.3
    got = mlp.evaluate(r, X, Y, loss="mse", sample_weight=w)
    P = r.predict_values(X)
    assert got["r2"] == pytest.approx(sklearn_metrics.r2_score(Y, P, sample_weight=w), rel=1e-9)
    assert got["mse"] == pytest.approx(sklearn_metrics.mean_squared_error(Y, P, sample_weight=w), rel=1e-9)
    assert got["mae"] == pytest.approx(sklearn_metrics.mean_absolute_error(Y, P, sample_weight=w), rel=1e-9)


def test_the_history_is_weighted():
    X, y = data(n=20)
    w = np.r_[np.zeros(10), np.ones(10)]
    m = net("numpy")
    h = mlp.fit(
        m,
        X,
        y,
        loss="cross_entropy",
        optimizer=mlp.SGD(0.1),
        epochs=1,
        batch_size=20,
        progress=False,
        sample_weight=w,
        validation_data=(X, y, w),
    )
    assert h.history["accuracy"][0] == pytest.approx(mlp.evaluate(m, X[10:], y[10:])["accuracy"])
    assert h.history["val_loss"][0] == pytest.approx(mlp.evaluate(m, X[10:], y[10:], loss="cross_entropy")["loss"])


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(5), r"sample_weight has shape \(5,\), expected \(12,\)"),
        (np.r_[np.ones(11), -1.0], r"non-negative; found -1.0 at index 11"),
        (np.r_[np.ones(11), np.nan], r"NaN or Inf in 1 rows \(rows 11\)"),
        (np.zeros(12), r"sums to 0.0"),
    ],
)
def test_bad_sample_weights_are_named(weights, message):
    X, y = data()
    with pytest.raises(ValueError, match=message):
        mlp.fit(
            net("numpy"),
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(0.1),
            epochs=1,
            batch_size=4,
            progress=False,
            sample_weight=weights,
        )


def test_bad_class_weights_are_named():
    X, y = data()
    with pytest.raises(ValueError, match=r"class_weight names class 7, but the classes are 0..2"):
        mlp.fit(
            net("numpy"),
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(0.1),
            epochs=1,
            batch_size=4,
            progress=False,
            class_weight={7: 2.0},
        )
    with pytest.raises(ValueError, match=r"class_weight must be 'balanced'"):
        mlp.fit(
            net("numpy"),
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(0.1),
            epochs=1,
            batch_size=4,
            progress=False,
            class_weight="even",
        )
    with pytest.raises(ValueError, match=r"class_weight applies to classification"):
        mlp.fit(
            net("numpy", sizes=(3, 4, 1), output="identity"),
            X,
            X[:, 0],
            loss="mse",
            optimizer=mlp.SGD(0.1),
            epochs=1,
            batch_size=4,
            progress=False,
            class_weight="balanced",
        )
