"""mlp.sklearn: scikit-learn's own estimator checks, meta-estimators, pickling, and the parameter mappings."""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")

from sklearn.datasets import load_breast_cancer, load_iris, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from mlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Tiny matrices: BLAS threads only add contention (ten times slower on a busy 2-core machine)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


# The checks pin the NumPy backend: they test the scikit-learn interface, which does not depend on the
# backend, and on array-api-strict (CI's second run, MLP_BACKEND=array_api_strict) they would take four
# minutes; the other tests here run on the default backend.
@parametrize_with_checks([MLPClassifier(random_state=0, backend="numpy"), MLPRegressor(random_state=0, backend="numpy")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_pipeline_grid_search_and_cross_val_score(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0,
                                                         learning_rate_init=0.01))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    assert grid.best_params_["mlpclassifier__alpha"] in (1e-4, 1e-1) and grid.score(X, y) > 0.8


def test_string_labels_come_back_as_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0, learning_rate_init=0.01).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(clf.classes_) and clf.score(X, names) > 0.8
    P = clf.predict_proba(X)
    assert P.shape == (150, 3) and np.allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(X))


def test_binary_uses_one_logistic_output_like_scikit_learn(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y == 0)
    assert clf.coefs_[-1].shape == (8, 1) and clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.predict_proba(X).shape == (150, 2)


def test_pickle_round_trip_predicts_the_same_and_keeps_training(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    back.partial_fit(X, y)
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(back.coefs_[0], clf.coefs_[0])  # optimizer state travelled too


def test_partial_fit_is_one_epoch_and_needs_the_classes_first(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    clf.partial_fit(X[50:], y[50:])
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2 and clf.classes_.tolist() == [0, 1, 2]


def test_warm_start_continues_from_the_fitted_weights(iris):
    X, y = iris
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, n_iter_no_change=100)
    warm = MLPClassifier(warm_start=True, **kw).fit(X, y).fit(X, y)
    cold = MLPClassifier(**kw).fit(X, y).fit(X, y)
    assert warm.n_iter_ == 10 and cold.n_iter_ == 5
    assert warm.loss_curve_[-1] < cold.loss_curve_[-1]


def test_regression_loss_curve_is_half_the_mse_as_in_scikit_learn():
    X, y = make_regression(n_samples=60, n_features=3, noise=1.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, alpha=0.0, random_state=0, dtype="float64").fit(X, y / 100)
    half_mse = 0.5 * np.mean((reg.predict(X) - y / 100) ** 2)
    assert reg.loss_curve_[-1] == pytest.approx(half_mse, rel=1e-9)


@pytest.mark.parametrize("Estimator,per_unit", [(MLPClassifier, 1.0), (MLPRegressor, 2.0)])
def test_alpha_is_scikit_learns_l2(Estimator, per_unit):
    """One full-batch SGD step: the alpha term moves each weight by -lr * per_unit * alpha / n * W."""
    X, y = make_regression(n_samples=20, n_features=3, random_state=1)
    y = (y > 0).astype(int) if Estimator is MLPClassifier else y / 100
    lr, alpha, n = 1e-4, 2.0, len(X)
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, learning_rate_init=lr, batch_size=n,
              shuffle=False, random_state=0, dtype="float64")
    fit = (lambda e: e.partial_fit(X, y, classes=[0, 1])) if Estimator is MLPClassifier else (lambda e: e.partial_fit(X, y))
    with_l2, without = fit(Estimator(alpha=alpha, **kw)), fit(Estimator(alpha=0.0, **kw))
    W, W_free = with_l2.coefs_[0], without.coefs_[0]
    # W = W0 - lr*(g + k*W0) and W_free = W0 - lr*g, so W - W_free = -lr*k*W0 with W0 = W_free + O(lr)
    k = -(W - W_free) / (lr * W_free)
    np.testing.assert_allclose(k, per_unit * alpha / n, rtol=1e-2)


def test_early_stopping_keeps_the_best_validation_epoch(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=40, early_stopping=True, n_iter_no_change=3,
                        random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_multioutput_regression_and_verbose(capsys):
    X, Y = make_regression(n_samples=40, n_features=4, n_targets=2, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0, verbose=True).fit(X, Y / 100)
    assert reg.predict(X).shape == (40, 2) and reg.coefs_[-1].shape == (8, 2)
    assert "Iteration 2, loss = " in capsys.readouterr().out


def test_max_iter_without_convergence_warns_like_scikit_learn(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("params,needle", [
    (dict(solver="lbfgs"), "solver must be 'sgd' or 'adam', got 'lbfgs' (lbfgs is not supported)"),
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be positive integers"),
    (dict(activation="softplus"), "activation must be one of identity, logistic, tanh, relu"),
    (dict(alpha=-1.0), "alpha must be a finite number >= 0"),
    (dict(batch_size=0), "batch_size must be 'auto' or a positive integer"),
    (dict(dtype="float16"), "dtype must be None (follow X), 'float32' or 'float64'"),
])
def test_bad_parameters_are_named(iris, params, needle):
    X, y = iris
    with pytest.raises(ValueError) as info:
        MLPClassifier(**params).fit(X, y)
    assert needle in str(info.value)


def test_one_class_is_refused(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="at least 2 classes .* only one class: 'a'"):
        MLPClassifier().fit(X, ["a"] * len(X))


def test_torch_input_trains_on_torch_and_results_stay_there(iris):
    torch = pytest.importorskip("torch")
    X, y = iris
    Xt, yt = torch.asarray(X), torch.asarray(y)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0, learning_rate_init=0.01).fit(Xt, yt)
    assert isinstance(clf.coefs_[0], torch.Tensor) and clf.coefs_[0].dtype == torch.float64
    pred = clf.predict(Xt)
    assert isinstance(pred, torch.Tensor) and isinstance(clf.predict_proba(Xt), torch.Tensor)
    host = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0, learning_rate_init=0.01).fit(X, y)
    np.testing.assert_allclose(clf.coefs_[0].numpy(), host.coefs_[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(pred.numpy(), host.predict(X))


def test_matches_scikit_learns_accuracy_on_breast_cancer():
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLP

    X, y = load_breast_cancer(return_X_y=True)
    Xa, Xb, ya, yb = train_test_split(StandardScaler().fit_transform(X), y, random_state=0, stratify=y)
    kw = dict(hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPClassifier(**kw).fit(Xa, ya).score(Xb, yb), SkMLP(**kw).fit(Xa, ya).score(Xb, yb)
    assert ours >= theirs - 0.03, (ours, theirs)


def test_a_torch_trained_estimator_pickles(iris):
    torch = pytest.importorskip("torch")
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(torch.asarray(X), torch.asarray(y))
    back = pickle.loads(pickle.dumps(clf))
    assert torch.equal(back.predict(torch.asarray(X)), clf.predict(torch.asarray(X)))
    back.partial_fit(torch.asarray(X), torch.asarray(y))  # keeps training on torch after unpickling
    assert isinstance(back.coefs_[0], torch.Tensor) and back.n_iter_ == 4
