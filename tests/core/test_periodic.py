"""The PeriodicEmbedding layer: learned periodic features of numbers, on every backend, checked like every layer."""

import numpy as np
import pytest

import mlp
from tests_helpers import host


def table(n=16, seed=0):
    """Four numeric columns and a binary label."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)) * [1.0, 2.0, 0.5, 1.0]
    return X, (X[:, 0] * X[:, 2] > 0).astype(int)


def model(backend=None, dtype="float64", seed=1, columns=(0, 2, 3)):
    emb = mlp.PeriodicEmbedding(4, list(columns), n_frequencies=5, dim=2, sigma=0.5)
    return mlp.Sequential(
        [emb, mlp.Linear(emb.n_out, 5, init="xavier"), mlp.Tanh(), mlp.Linear(5, 2, init="xavier")],
        backend=backend,
        dtype=dtype,
        seed=seed,
    )


def test_forward_is_the_input_then_each_columns_features(backend):
    m = model(backend)
    X, _ = table()
    F, P, W, c = (host(p) for p in m.parameters()[:4])
    Y = host(m.layer_outputs(m.backend.asarray(X, dtype="float64"))[0])
    assert Y.shape == (16, 4 + 3 * 2) and m.sizes == [4, 10, 5, 2]
    np.testing.assert_array_equal(Y[:, :4], X)  # the input as it is
    for j, col in enumerate((0, 2, 3)):  # column by column, written out
        want = np.cos(2 * np.pi * X[:, [col]] * F[j] + P[j]) @ W[j] + c[j]
        np.testing.assert_allclose(Y[:, 4 + 2 * j : 6 + 2 * j], want, rtol=1e-12, atol=1e-14)


def test_gradients_agree_with_finite_differences(backend):
    X, y = table()
    assert mlp.gradcheck(model(backend), "cross_entropy", X, np.eye(2)[y]) < 1e-6
    # inside a network too: its input gradient (the frequencies' share included) reaches the layers before it
    inner = mlp.Sequential(
        [
            mlp.Linear(4, 3, init="xavier"),
            mlp.Tanh(),
            mlp.PeriodicEmbedding(3, [0, 2], 4, 2, 1.0),
            mlp.Linear(7, 2, init="xavier"),
        ],
        backend=backend,
        dtype="float64",
        seed=2,
    )
    assert mlp.gradcheck(inner, "cross_entropy", X, np.eye(2)[y]) < 1e-6


def test_input_gradient_of_an_embedded_column_is_its_own_plus_the_features():
    m = model("numpy")
    X, y = table()
    loss = mlp.CrossEntropy()
    loss.forward(m.forward(X), np.eye(2)[y])
    dX = m.backward(loss.backward())
    eps, k = 1e-6, 3
    for col in (1, 2):  # 1 passes through only, 2 is embedded as well
        Xp, Xm = X.copy(), X.copy()
        Xp[k, col] += eps
        Xm[k, col] -= eps
        numeric = (
            mlp.CrossEntropy().forward(m.forward(Xp), np.eye(2)[y])
            - mlp.CrossEntropy().forward(m.forward(Xm), np.eye(2)[y])
        ) / (2 * eps)
        assert dX[k, col] == pytest.approx(float(numeric), rel=1e-6)


def test_backend_parity_after_training(backend):
    X, y = table(n=40)
    kw = dict(loss="cross_entropy", epochs=3, batch_size=8, progress=False, seed=3)
    got, ref = model(backend), model("numpy")
    mlp.fit(got, X, y, optimizer=mlp.Adam(0.05), **kw)
    mlp.fit(ref, X, y, optimizer=mlp.Adam(0.05), **kw)
    for a, b in zip(got.parameters(), ref.parameters(), strict=True):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-9, atol=1e-12)
    fresh = model("numpy").parameters()
    assert not np.allclose(host(ref.parameters()[0]), host(fresh[0]))  # the frequencies are learned


def test_checkpoint_round_trip(tmp_path, backend):
    m = model(backend)
    X, y = table()
    mlp.fit(m, X, y, loss="cross_entropy", optimizer=mlp.Adam(0.05), epochs=1, batch_size=8, progress=False)
    back = mlp.load(mlp.save(m, tmp_path / "periodic.safetensors"), backend="numpy")
    assert back.layers[0].config() == m.layers[0].config()
    np.testing.assert_allclose(
        back.predict_proba(X, loss=mlp.CrossEntropy()), m.predict_proba(X, loss=mlp.CrossEntropy()), rtol=1e-12
    )


def test_the_same_seed_draws_the_same_layer_on_every_backend(backend):
    for a, b in zip(model(backend).parameters(), model("numpy").parameters(), strict=True):
        np.testing.assert_array_equal(host(a), host(b))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_in=4, columns=[]), "non-empty list"),
        (dict(n_in=4, columns=[1, 1]), "distinct positions below n_in=4"),
        (dict(n_in=4, columns=[4]), "distinct positions below n_in=4"),
        (dict(n_in=4, columns=[1], n_frequencies=0), "n_frequencies"),
        (dict(n_in=4, columns=[1], sigma=0.0), "sigma must be positive"),
    ],
)
def test_bad_layers_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mlp.PeriodicEmbedding(**kwargs)


def test_widths_must_chain_after_it():
    with pytest.raises(ValueError, match=r"n_in=4.*n_out=6"):
        mlp.Sequential([mlp.PeriodicEmbedding(4, [1], dim=2), mlp.Linear(4, 2)])
