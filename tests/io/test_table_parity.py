"""The typed table pipeline gives the model the inputs a cell-at-a-time reading gives (``table_reference``).

Messy tables (gaps in numbers and text, booleans, dates with and without times, identifiers, constants, numbers
written as text with gaps, a column of many levels, text that is not trimmed, labels with gaps), read by both CSV
readers: the same kinds, classes and targets, and inputs equal to the reference's to rounding once the model's
OneHot layer has expanded the codes.
"""

import numpy as np
import pytest

import mlp
from mlp.io import tables
from table_reference import reference

#: tables read, and NumPy's kernels named: MLP_BACKEND changes nothing here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent


def messy(path, seed, n):
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01T00:00")
    columns = {
        "num": [f"{v:.3f}" for v in rng.normal(5, 2, n)],
        "gappy": ["" if rng.random() < 0.2 else f"{v:.4f}" for v in rng.normal(0, 1, n)],
        "count": [str(v) for v in rng.integers(0, 100, n)],
        "city": [rng.choice(["oslo", "Paris", "rome", "Bern ", " lima", ""]) for _ in range(n)],
        "flag": [rng.choice(["True", "False", ""], p=[0.45, 0.45, 0.1]) for _ in range(n)],
        "when": ["" if rng.random() < 0.1 else str(start + np.timedelta64(13 * i, "h"))[:16] for i in range(n)],
        "day": [str(np.datetime64("2021-03-01") + i) for i in range(n)],
        "id": [f"u{i:05d}" for i in range(n)],
        "const": ["k"] * n,
        "shop": [f"s{k}" for k in rng.integers(0, 80, n)],
        "numtext": [rng.choice(["1", "2", "3", "NA"]) for _ in range(n)],
        "mixed": [rng.choice(["a", "b", "7"]) for _ in range(n)],
        "label": [rng.choice(["yes", "no", "maybe", ""], p=[0.35, 0.35, 0.25, 0.05]) for _ in range(n)],
    }
    with open(path, "w") as f:
        f.write(",".join(columns) + "\n")
        for i in range(n):
            f.write(",".join(columns[c][i] for c in columns) + "\n")
    return path


def expanded(pre, X):
    for layer in pre.input_layers():
        if isinstance(layer, mlp.OneHot):
            forward, _ = layer.functions(mlp.get_kernels(mlp.get_backend("numpy")), 0)
            X = np.asarray(forward((), X, None)[0])
    return X


@pytest.mark.parametrize("seed, n", [(0, 300), (1, 1500)])
def test_inputs_equal_a_cell_at_a_time_reading(tmp_path, reader, seed, n):
    path = messy(tmp_path / "messy.csv", seed, n)
    ds = tables.load_table(path, target="label")
    train, val = tables.split_indices(len(ds), 0.2, seed=seed, labels=ds.y)
    kinds, classes, X_ref, y_ref = reference(path, "label", train)
    assert {n: k.kind for n, k in ds.kinds.items()} == kinds
    assert ds.classes == classes
    np.testing.assert_array_equal(ds.y, y_ref)
    pre = ds.preprocessor(train)
    X = expanded(pre, ds.inputs(pre, "float64"))
    assert X.shape == X_ref.shape
    np.testing.assert_allclose(X, X_ref, rtol=1e-12, atol=1e-12)
    assert [type(layer).__name__ for layer in pre.input_layers()] == ["OneHot", "Embedding"]  # shop: 80 levels
