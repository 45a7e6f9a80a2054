"""The Embedding layer: codes to learned vectors, on every backend, checked like every layer."""

import numpy as np
import pytest

import mlp
from tests_helpers import host


def table(n=16, seed=0):
    """Two numeric columns around two code columns (4 and 3 categories): ``[x0, code_a, x1, code_b]``."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, 4))
    X[:, 0], X[:, 2] = rng.standard_normal(n), rng.standard_normal(n)
    X[:, 1], X[:, 3] = rng.integers(0, 4, n), rng.integers(0, 3, n)
    return X, rng.integers(0, 2, n)


def model(backend=None, dtype="float64", seed=1):
    emb = mlp.Embedding(4, columns=[1, 3], n_categories=[4, 3], dim=2)
    return mlp.Sequential(
        [emb, mlp.Linear(emb.n_out, 5, init="xavier"), mlp.Tanh(), mlp.Linear(5, 2, init="xavier")],
        backend=backend,
        dtype=dtype,
        seed=seed,
    )


def test_forward_is_the_table_lookup(backend):
    m = model(backend)
    X, _ = table()
    E = host(m.parameters()[0])
    Y = host(m.layer_outputs(m.backend.asarray(X, dtype="float64"))[0])
    codes = X[:, [1, 3]].astype(int) + np.array([0, 4])
    expected = np.concatenate([X[:, [0, 2]], E[codes[:, 0]], E[codes[:, 1]]], axis=1)
    np.testing.assert_allclose(Y, expected, rtol=1e-15)
    assert m.sizes == [4, 6, 5, 2]


def test_gradients_agree_with_finite_differences(backend):
    m = model(backend)
    X, y = table()
    assert mlp.gradcheck(m, "cross_entropy", X, np.eye(2)[y]) < 1e-6


def test_backend_parity_after_training(backend):
    X, y = table(n=40)
    kw = dict(loss="cross_entropy", optimizer=None, epochs=3, batch_size=8, progress=False, seed=3)
    got = model(backend)
    mlp.fit(got, X, y, **{**kw, "optimizer": mlp.Adam(0.05)})
    ref = model("numpy")
    mlp.fit(ref, X, y, **{**kw, "optimizer": mlp.Adam(0.05)})
    for a, b in zip(got.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-9, atol=1e-12)
    # only the categories the data uses move: a category no row has keeps its initial vector
    fresh = host(model("numpy").parameters()[0])
    used = set(X[:, 1].astype(int)) | {4 + c for c in X[:, 3].astype(int)}
    for row in range(7):
        assert np.array_equal(host(ref.parameters()[0])[row], fresh[row]) == (row not in used)


def test_input_gradient_passes_the_numeric_columns_and_stops_at_codes():
    m = model("numpy")
    X, y = table()
    Y = m.forward(X)
    loss = mlp.CrossEntropy()
    loss.forward(Y, np.eye(2)[y])
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


def test_out_of_range_codes_are_clipped_not_read_out_of_bounds():
    m = model("numpy")
    X, _ = table(n=3)
    X[:, 1] = [-2, 9, 3]
    E = m.parameters()[0]
    out = m.layer_outputs(X)[0]
    np.testing.assert_array_equal(out[:, 2:4], E[[0, 3, 3]])


def test_checkpoint_round_trip(tmp_path, backend):
    m = model(backend)
    X, y = table()
    mlp.fit(m, X, y, loss="cross_entropy", optimizer=mlp.Adam(0.05), epochs=1, batch_size=8, progress=False)
    path = mlp.save(m, tmp_path / "emb.safetensors")
    back = mlp.load(path, backend="numpy")
    assert back.layers[0].config() == m.layers[0].config()
    np.testing.assert_allclose(
        back.predict_proba(X, loss=mlp.CrossEntropy()), m.predict_proba(X, loss=mlp.CrossEntropy()), rtol=1e-12
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_in=4, columns=[], n_categories=[], dim=2), "non-empty list"),
        (dict(n_in=4, columns=[1, 1], n_categories=[2, 2], dim=2), "distinct positions below n_in=4"),
        (dict(n_in=4, columns=[4], n_categories=[2], dim=2), "distinct positions below n_in=4"),
        (dict(n_in=4, columns=[1], n_categories=[2, 3], dim=2), "one count per column"),
        (dict(n_in=4, columns=[1], n_categories=[0], dim=2), "n_categories"),
    ],
)
def test_bad_embeddings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mlp.Embedding(**kwargs)


def test_widths_must_chain_after_an_embedding():
    with pytest.raises(ValueError, match=r"expects inputs of width n_in=4, but layer 0 .* outputs width n_out=6"):
        mlp.Sequential([mlp.Embedding(4, [1, 3], [4, 3], 2), mlp.Linear(4, 2)])
