"""The OneHot layer: category codes expanded in place, a batch at a time, on every backend, checked like every layer.

What a table's categorical columns are stored as (one code each) and what the first Linear layer sees (their
one-hot slots) must give the same network as a table stored one-hot: same weights, same outputs, same training.
"""

import numpy as np
import pytest

import mlp
from tests_helpers import host


def table(n=16, seed=0):
    """``[x0, code_a, x1, code_b]``: two numbers around two code columns (4 and 3 categories)."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, 4))
    X[:, 0], X[:, 2] = rng.standard_normal(n), rng.standard_normal(n)
    X[:, 1], X[:, 3] = rng.integers(0, 4, n), rng.integers(0, 3, n)
    return X, rng.integers(0, 2, n)


def one_hot(X):
    """What a table stored one-hot holds: each code column replaced in place by its slots."""
    return np.concatenate(
        [X[:, [0]], np.eye(4)[X[:, 1].astype(int)], X[:, [2]], np.eye(3)[X[:, 3].astype(int)]], axis=1
    )


def model(backend=None, dtype="float64", seed=1, coded=True):
    head = [mlp.Linear(9, 5, init="xavier"), mlp.Tanh(), mlp.Linear(5, 2, init="xavier")]
    layers = [mlp.OneHot(4, columns=[1, 3], n_categories=[4, 3]), *head] if coded else head
    return mlp.Sequential(layers, backend=backend, dtype=dtype, seed=seed)


def test_forward_is_the_one_hot_table(backend):
    m = model(backend)
    X, _ = table()
    Y = host(m.layer_outputs(m.backend.asarray(X, dtype="float64"))[0])
    np.testing.assert_array_equal(Y, one_hot(X))
    assert m.sizes == [4, 9, 5, 2] and m.layers[0].source_columns() == [0, -1, -1, -1, -1, 2, -1, -1, -1]


def test_codes_train_the_network_a_one_hot_table_trains(backend):
    """The same weights drawn, the same steps taken: OneHot over codes is the one-hot table, a batch at a time."""
    X, y = table(n=40)
    kw = dict(loss="cross_entropy", epochs=3, batch_size=8, progress=False, seed=3)
    coded, plain = model(backend), model("numpy", coded=False)
    for a, b in zip(coded.parameters(), plain.parameters(), strict=True):
        np.testing.assert_array_equal(host(a), host(b))
    mlp.fit(coded, X, y, optimizer=mlp.Adam(0.05), **kw)
    mlp.fit(plain, one_hot(X), y, optimizer=mlp.Adam(0.05), **kw)
    for a, b in zip(coded.parameters(), plain.parameters(), strict=True):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-9, atol=1e-12)


def test_gradients_agree_with_finite_differences(backend):
    m = mlp.Sequential(
        [mlp.Embedding(4, [3], [3], 2), mlp.OneHot(5, [1], [4]), mlp.Linear(8, 2, init="xavier")],
        backend=backend,
        dtype="float64",
        seed=0,
    )
    X, y = table()
    assert mlp.gradcheck(m, "cross_entropy", X, np.eye(2)[y]) < 1e-6


def test_input_gradient_passes_the_numbers_back_to_their_places_and_stops_at_codes():
    m = model("numpy")
    X, y = table()
    loss = mlp.CrossEntropy()
    loss.forward(m.forward(X), np.eye(2)[y])
    dX = m.backward(loss.backward())
    assert np.all(dX[:, [1, 3]] == 0) and np.any(dX[:, [0, 2]] != 0)
    eps, k = 1e-6, 5
    Xp, Xm = X.copy(), X.copy()
    Xp[k, 2] += eps
    Xm[k, 2] -= eps
    numeric = (
        mlp.CrossEntropy().forward(m.forward(Xp), np.eye(2)[y])
        - mlp.CrossEntropy().forward(m.forward(Xm), np.eye(2)[y])
    ) / (2 * eps)
    assert dX[k, 2] == pytest.approx(float(numeric), rel=1e-6)


def test_a_value_that_is_not_a_code_is_no_category():
    """Out of range or not whole: a row of zeros (as a category never seen), never a read out of bounds."""
    m = model("numpy")
    X, _ = table(n=4)
    X[:, 1] = [-2, 9, 2.4, 2]
    out = m.layer_outputs(X)[0]
    np.testing.assert_array_equal(out[:, 1:5], [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]])


def test_checkpoint_round_trip(tmp_path, backend):
    m = model(backend)
    X, y = table()
    mlp.fit(m, X, y, loss="cross_entropy", optimizer=mlp.Adam(0.05), epochs=1, batch_size=8, progress=False)
    back = mlp.load(mlp.save(m, tmp_path / "one_hot.safetensors"), backend="numpy")
    assert (
        back.layers[0].config()
        == m.layers[0].config()
        == {"type": "OneHot", "n_in": 4, "columns": [1, 3], "n_categories": [4, 3]}
    )
    np.testing.assert_allclose(
        back.predict_proba(X, loss=mlp.CrossEntropy()), m.predict_proba(X, loss=mlp.CrossEntropy()), rtol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_in=4, columns=[], n_categories=[]), "non-empty list"),
        (dict(n_in=4, columns=[1, 1], n_categories=[2, 2]), "increasing positions below n_in=4"),
        (dict(n_in=4, columns=[3, 1], n_categories=[2, 2]), "increasing positions below n_in=4"),
        (dict(n_in=4, columns=[4], n_categories=[2]), "increasing positions below n_in=4"),
        (dict(n_in=4, columns=[1], n_categories=[2, 3]), "one count per column"),
        (dict(n_in=4, columns=[1], n_categories=[0]), "n_categories"),
    ],
)
def test_bad_one_hot_layers_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mlp.OneHot(**kwargs)


def test_build_mlp_puts_input_layers_first_and_checks_their_width():
    m = mlp.build_mlp([4, 5, 2], input_layers=[mlp.OneHot(4, [1, 3], [4, 3])], backend="numpy")
    assert [type(layer).__name__ for layer in m.layers] == ["OneHot", "Linear", "ReLU", "Linear"]
    assert m.layers[1].n_in == 9 and m.sizes == [4, 9, 5, 2]
    with pytest.raises(ValueError, match="input_layers read 4 inputs, but sizes\\[0\\] is 5"):
        mlp.build_mlp([5, 2], input_layers=[mlp.OneHot(4, [1], [2])])
