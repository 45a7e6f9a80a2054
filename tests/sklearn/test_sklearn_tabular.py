"""mlp.sklearn.TabularClassifier and TabularRegressor: the table recipe on data frames, as scikit-learn estimators."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402

import mlp  # noqa: E402
from mlp.sklearn import TabularClassifier, TabularRegressor  # noqa: E402


def people(n=400, seed=0):
    """Numbers with gaps and a heavy tail, text with gaps, an identifier; the label follows income and city."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 1, n)
    city = rng.choice(["north", "south", "east"], n)
    age = rng.normal(40, 12, n)
    age[rng.random(n) < 0.1] = np.nan
    label = np.where((income > np.exp(10)) ^ (city == "east"), "buys", "passes")
    frame = pd.DataFrame(
        {
            "id": [f"p{i:05d}" for i in range(n)],
            "income": income,
            "age": age,
            "city": pd.Series(city, dtype=object).where(rng.random(n) > 0.05, None),
        }
    )
    return frame, label


def test_a_data_frame_as_it_comes_to_labels():
    X, y = people()
    clf = TabularClassifier(max_epochs=60).fit(X[:300], y[:300])
    assert list(clf.classes_) == ["buys", "passes"]
    assert clf.feature_names_in_.tolist() == ["income", "age", "city"]  # the identifier left out
    assert isinstance(clf.model_.layers[0], mlp.PeriodicEmbedding) and clf.preprocessor_.scaling == "robust"
    predicted = clf.predict(X[300:])
    assert predicted.dtype == object and set(predicted) <= {"buys", "passes"}
    assert clf.score(X[300:], y[300:]) > 0.85
    P = clf.predict_proba(X[300:])
    assert P.shape == (100, 2) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], predicted)


def test_it_is_a_scikit_learn_estimator():
    X, y = people(240)
    clf = TabularClassifier(max_epochs=5, hidden_layer_sizes=(16,))
    params = clf.get_params()
    assert params["scaling"] == "robust" and params["numeric_embedding"] == "auto"
    copy = clone(clf)
    assert copy.get_params() == params and not hasattr(copy, "model_")
    scores = cross_val_score(clf, X, y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.5)


def test_regression_in_the_targets_units_and_within_their_range():
    rng = np.random.default_rng(1)
    n = 300
    X = pd.DataFrame({"lot": rng.lognormal(9, 1, n), "rooms": rng.integers(1, 8, n).astype(float)})
    price = 50 * np.sqrt(X["lot"].to_numpy()) + 9000 * X["rooms"].to_numpy() + rng.normal(0, 500, n)
    reg = TabularRegressor(max_epochs=80).fit(X, price)
    assert reg.score(X, price) > 0.8
    far = pd.DataFrame({"lot": [1e9, 10.0], "rooms": [400.0, 1.0]})
    assert np.all((reg.predict(far) >= price.min()) & (reg.predict(far) <= price.max()))
    assert reg.predict(far).max() == price.max()  # a lot 10,000 times the largest: held at the largest price


def test_an_array_works_too_and_the_options_reach_the_recipe():
    X, y = people(200)
    A = X[["income", "age"]].to_numpy()
    clf = TabularClassifier(max_epochs=3, numeric_embedding="none", scaling="standard", patience=None).fit(A, y)
    assert clf.feature_names_in_.tolist() == ["x0", "x1"] and clf.preprocessor_.scaling == "standard"
    assert not any(isinstance(layer, mlp.PeriodicEmbedding) for layer in clf.model_.layers)
    assert clf.n_epochs_ == 3  # no early stopping: the whole budget
    assert clf.predict(A).shape == (200,)


def test_bad_input_is_named():
    X, y = people(50)
    with pytest.raises(ValueError, match=r"y must be one value per row of X \(50\)"):
        TabularClassifier().fit(X, y[:10])
    with pytest.raises(ValueError, match="missing values"):
        TabularClassifier().fit(X, np.where(np.arange(50) == 3, None, y))
    clf = TabularClassifier(max_epochs=2).fit(X, y)
    with pytest.raises(mlp.DataError, match="income"):
        clf.predict(X.drop(columns=["income"]))
