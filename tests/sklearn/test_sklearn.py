"""mlp.sklearn: scikit-learn's own estimator checks, the same steps as scikit-learn's estimators from the same
weights, what scikit-learn's MLPs accept (multilabel, sparse, sample weights, Poisson, one class), and pickling.

scikit-learn's own ``test_mlp.py`` runs in ``tests/sklearn/test_sklearn_own_suite.py``.
"""

import math
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.7")

import sklearn.neural_network as sk  # noqa: E402
from scipy import sparse  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import mlp.sklearn as ours  # noqa: E402
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
# minutes; the other tests here run on the default backend, but those that take numpy_backend below. The pinned
# ones are marked backend_independent: CI's later passes leave them out (tests/conftest.py).
@pytest.mark.backend_independent
@parametrize_with_checks(
    [MLPClassifier(random_state=0, backend="numpy"), MLPRegressor(random_state=0, backend="numpy")]
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture
def numpy_backend():
    """For the tests of the scikit-learn interface, which does not depend on the backend: on JAX (CI's third run)
    they would take minutes of compiling each operation for each new shape.  The tests of the steps run on every
    backend."""
    import mlp

    with mlp.use_backend("numpy"):
        yield


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def weights(est):
    return [np.asarray(a) for a in est.coefs_ + est.intercepts_]


def largest_difference(a, b):
    return max(float(np.max(np.abs(p - q))) for p, q in zip(weights(a), weights(b), strict=True))


# -- the same steps as scikit-learn ------------------------------------------------------------------
def _problems():
    rng = np.random.RandomState(0)
    X = rng.standard_normal((130, 6))
    score = X @ rng.standard_normal((6, 3))
    w = rng.randint(0, 4, 130).astype(float)
    return {
        "3 classes": ("MLPClassifier", X, np.argmax(score, axis=1), None),
        "2 classes, string labels": ("MLPClassifier", X, np.where(score[:, 0] > 0, "yes", "no"), None),
        "multilabel": ("MLPClassifier", X, (score > 0).astype(int), None),
        "3 classes, sample weights": ("MLPClassifier", X, np.argmax(score, axis=1), w),
        "1 target": ("MLPRegressor", X, score[:, 0], None),
        "3 targets": ("MLPRegressor", X, score, None),
        "3 targets, sample weights": ("MLPRegressor", X, score, w),
        "poisson": ("MLPRegressor", X, rng.poisson(np.exp(0.3 * score[:, 0])).astype(float), None),
    }


PROBLEMS = _problems()
SETTINGS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.02, momentum=0.9),
    "sgd invscaling, no momentum": dict(solver="sgd", learning_rate="invscaling", power_t=0.25, momentum=0.0),
    "sgd adaptive": dict(solver="sgd", learning_rate="adaptive", tol=0.5, n_iter_no_change=1, learning_rate_init=0.05),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "adam, early stopping": dict(solver="adam", learning_rate_init=0.01, early_stopping=True, n_iter_no_change=2),
    "lbfgs": dict(solver="lbfgs"),
}


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("setting", SETTINGS)
def test_the_same_steps_as_scikit_learn_from_the_same_random_state(problem, setting):
    """The same initial weights, validation split and batch order, and the same updates: the weights, losses and
    counters agree to rounding after several epochs (batches of 50 of 130 samples: a short last batch)."""
    name, X, y, w = PROBLEMS[problem]
    kw = dict(
        dict(hidden_layer_sizes=(7, 5), alpha=0.01, batch_size=50, max_iter=6, random_state=3, tol=1e-9),
        **SETTINGS[setting],
    )
    if name == "MLPRegressor" and problem == "poisson":
        kw["loss"] = "poisson"
    if setting == "lbfgs" and problem.startswith("3 targets"):
        kw["max_iter"] = 1  # scikit-learn's line search sees a loss that is not its gradient's: see docs/sklearn.md
    theirs = getattr(sk, name)(**kw).fit(X, y, sample_weight=w)
    mine = getattr(ours, name)(**kw).fit(X, y, sample_weight=w)
    assert largest_difference(theirs, mine) < 1e-12
    assert mine.n_iter_ == theirs.n_iter_ and mine.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    if setting != "lbfgs":
        np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=1e-12)
        assert mine.t_ == theirs.t_ and mine._no_improvement_count == theirs._no_improvement_count
        if theirs.validation_scores_ is not None:
            np.testing.assert_allclose(mine.validation_scores_, theirs.validation_scores_, rtol=1e-12)
            assert mine.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-12)
        else:
            assert mine.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-12)
    np.testing.assert_array_equal(
        mine.predict(X), theirs.predict(X)
    ) if name == "MLPClassifier" else np.testing.assert_allclose(
        mine.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-12
    )


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_partial_fit_and_warm_start_continue_as_scikit_learns_do(iris):
    """Several calls: the optimizer state carries over (partial_fit) or restarts (warm start) as in scikit-learn."""
    X, y = iris
    kw = dict(
        hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling", power_t=0.3, random_state=1, max_iter=4
    )
    for warm in (False, True):
        theirs, mine = sk.MLPClassifier(warm_start=warm, **kw), MLPClassifier(warm_start=warm, **kw)
        for est in (theirs, mine):
            if warm:
                est.fit(X, y).fit(X, y)
            else:
                est.partial_fit(X[:100], y[:100], classes=[0, 1, 2])
                est.partial_fit(X[100:], y[100:])
        assert largest_difference(theirs, mine) < 1e-12
        assert (mine.n_iter_, mine.t_) == (theirs.n_iter_, theirs.t_) == ((4, 1200) if warm else (1, 150))
        assert mine._optimizer.learning_rate == theirs._optimizer.learning_rate
        np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=1e-12)


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_initial_weights_are_scikit_learns_glorot_draws():
    """Drawn from the estimator's RandomState in scikit-learn's order: uniform(+-sqrt(6 / (fan_in + fan_out))),
    sqrt(2 / ...) for logistic units; one SGD step of rate 1e-300 leaves them as they were."""
    X, y = np.random.RandomState(0).standard_normal((20, 3)), np.arange(20) % 2
    for activation, factor in (("relu", 6.0), ("logistic", 2.0)):
        est = MLPClassifier(
            hidden_layer_sizes=(4,),
            activation=activation,
            solver="sgd",
            learning_rate_init=1e-300,
            max_iter=1,
            shuffle=False,
            random_state=5,
        ).fit(X, y)
        rs = np.random.RandomState(5)
        for (fan_in, fan_out), W, b in zip([(3, 4), (4, 1)], est.coefs_, est.intercepts_, strict=True):
            bound = math.sqrt(factor / (fan_in + fan_out))
            np.testing.assert_array_equal(W, rs.uniform(-bound, bound, (fan_in, fan_out)))
            np.testing.assert_array_equal(b, rs.uniform(-bound, bound, fan_out))


@pytest.mark.parametrize("n_targets", [1, 3])
def test_losses_are_in_scikit_learns_units(n_targets):
    """loss_ is half the squared error averaged over samples and targets, plus alpha / (2 n) * sum ||W||^2."""
    X, Y = make_regression(n_samples=60, n_features=3, n_targets=n_targets, noise=1.0, random_state=0)
    alpha = 0.3
    reg = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5, alpha=alpha, random_state=0).fit(X, Y / 100)
    penalty = alpha / (2 * len(X)) * sum(float(np.sum(W**2)) for W in reg.coefs_)
    expected = 0.5 * np.mean((reg.predict(X) - Y / 100) ** 2) + penalty
    assert reg.loss_ == pytest.approx(expected, rel=1e-10)


# -- what scikit-learn's MLPs accept -----------------------------------------------------------------
@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_one_class_is_fitted_and_predicted_like_scikit_learns(iris):
    X, _ = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, ["a"] * len(X))
    assert clf.classes_.tolist() == ["a"] and set(clf.predict(X)) == {"a"}
    P = clf.predict_proba(X)
    assert P.shape == (150, 2) and np.allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(
        P,
        sk.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, ["a"] * len(X)).predict_proba(X),
        rtol=1e-10,
    )


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_multilabel_targets_get_one_logistic_output_per_label():
    X, Y = make_multilabel_classification(n_samples=60, n_classes=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=100, random_state=0).fit(X, Y)
    assert clf.n_outputs_ == 4 and clf.out_activation_ == "logistic" and clf.classes_.tolist() == [0, 1, 2, 3]
    P = clf.predict_proba(X)
    assert P.shape == (60, 4) and not np.allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), (P > 0.5).astype(int))
    assert clf.score(X, Y) > 0.9


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_sparse_X_gives_the_dense_result(iris):
    X, y = iris
    dense = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0).fit(X, y)
    for container in (sparse.csr_matrix, sparse.csc_array):
        est = MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=30, random_state=0).fit(container(X), y)
        assert largest_difference(dense, est) == 0.0
        np.testing.assert_array_equal(est.predict_proba(container(X)), dense.predict_proba(X))


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_integer_sample_weights_are_repeated_rows_and_zero_is_removed(iris):
    X, y = iris
    w = np.random.RandomState(0).randint(0, 3, len(X))
    kw = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20, random_state=0, alpha=0.1)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**kw).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert largest_difference(weighted, repeated) < 1e-9
    assert weighted.score(X, y, sample_weight=w) == pytest.approx(np.average(weighted.predict(X) == y, weights=w))
    with pytest.raises(ValueError, match="sample_weight must be finite and >= 0; found -1.0 at index 3"):
        MLPClassifier(**kw).fit(X, y, sample_weight=np.r_[1, 1, 1, -1, np.ones(len(X) - 4)])


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_poisson_regression_is_a_log_link_glm_with_identity_units():
    """No hidden nonlinearity and no penalty: the Poisson network's predictions are the Poisson GLM's."""
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (200, 2))
    y = rng.poisson(np.exp(X @ [1.0, -0.5] + 0.5)).astype(float)
    glm = PoissonRegressor(alpha=0, tol=1e-10).fit(X, y)
    reg = MLPRegressor(
        loss="poisson",
        hidden_layer_sizes=(1,),
        activation="identity",
        alpha=0,
        solver="lbfgs",
        tol=1e-10,
        random_state=0,
    ).fit(X, y)
    assert reg.out_activation_ == "exp"
    np.testing.assert_allclose(reg.predict(X), glm.predict(X), rtol=1e-4)
    with pytest.raises(ValueError, match=r"loss='poisson' needs y >= 0; row 1 has \[-1.0\]"):
        MLPRegressor(loss="poisson").fit(X[:3], [1.0, -1.0, 2.0])


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_weights_assigned_to_coefs_are_used(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0, solver="sgd").fit(X, y)
    before = clf.predict_proba(X)
    clf.coefs_ = [np.zeros_like(W) for W in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)  # zero weights: uniform probabilities
    assert not np.allclose(before, 1 / 3)
    clf.partial_fit(X, y)  # continues from the zeros
    theirs = sk.MLPClassifier(hidden_layer_sizes=(6,), max_iter=3, random_state=0, solver="sgd").fit(X, y)
    theirs.coefs_ = [np.zeros_like(W) for W in theirs.coefs_]
    theirs.intercepts_ = [np.zeros_like(b) for b in theirs.intercepts_]
    theirs.partial_fit(X, y)  # scikit-learn does the same: the velocities of the fit carry on, from the zeros
    assert largest_difference(clf, theirs) < 1e-12


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_scikit_learns_errors_and_messages(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"warm_start can only be used where `y` has the same classes .* "
        r"Previously got \[0 1 2\], `y` has \[0 1\]",
    ):
        clf.fit(X, y % 2)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPRegressor(early_stopping=True, max_iter=2).fit(X, y).partial_fit(X, y)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    huge = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(10, 2))
    for solver in ("adam", "lbfgs"):
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            MLPRegressor(max_iter=3, solver=solver).fit(huge, np.arange(10.0))


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_a_diverging_fit_with_early_stopping_keeps_its_best_weights_and_a_nan_score(iris):
    X, y = iris
    reg = MLPRegressor(
        hidden_layer_sizes=(50,),
        activation="identity",
        solver="sgd",
        learning_rate_init=1.0,
        max_iter=20,
        early_stopping=True,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y)
    assert math.isnan(reg.validation_scores_[-1]) and reg.n_iter_ < 20
    assert all(np.all(np.isfinite(a)) for a in weights(reg))
    assert reg.best_validation_score_ == max(s for s in reg.validation_scores_ if not math.isnan(s))


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_float32_data_trains_and_predicts_in_float32(Estimator, iris):
    X, y = iris
    est = Estimator(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X.astype(np.float32), y)
    assert all(a.dtype == np.float32 for a in weights(est))
    out = est.predict_proba(X.astype(np.float32)) if Estimator is MLPClassifier else est.predict(X.astype(np.float32))
    assert out.dtype == np.float32


# -- the scikit-learn interface ----------------------------------------------------------------------
@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_pipeline_grid_search_and_cross_val_score(iris):
    X, y = iris
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0, learning_rate_init=0.01)
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.8
    grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    assert grid.best_params_["mlpclassifier__alpha"] in (1e-4, 1e-1) and grid.score(X, y) > 0.8


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_string_labels_come_back_as_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0, learning_rate_init=0.01).fit(X, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(clf.classes_) and clf.score(X, names) > 0.8
    P = clf.predict_proba(X)
    assert P.shape == (150, 3) and np.allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(X))


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_binary_uses_one_logistic_output_like_scikit_learn(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y == 0)
    assert clf.coefs_[-1].shape == (8, 1) and clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.predict_proba(X).shape == (150, 2)


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_pickle_round_trip_predicts_the_same_and_keeps_training(iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    back.partial_fit(X, y)
    clf.partial_fit(X, y)
    np.testing.assert_array_equal(back.coefs_[0], clf.coefs_[0])  # optimizer state travelled too
    assert back.n_iter_ == clf.n_iter_ == 1 and back.t_ == clf.t_ == 11 * len(X)


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_early_stopping_keeps_the_best_validation_epoch(iris):
    X, y = iris
    clf = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=40, early_stopping=True, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ and clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_multioutput_regression_and_verbose(capsys):
    X, Y = make_regression(n_samples=40, n_features=4, n_targets=2, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0, verbose=True).fit(X, Y / 100)
    assert reg.predict(X).shape == (40, 2) and reg.coefs_[-1].shape == (8, 2)
    assert "Iteration 2, loss = " in capsys.readouterr().out


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_max_iter_without_convergence_warns_like_scikit_learn(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(
        ConvergenceWarning,
        match=r"lbfgs failed to converge after 2 iteration\(s\) \(status=1\):\n"
        r"STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
    ):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, solver="lbfgs", random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "params,needle",
    [
        (dict(solver="newton"), "solver must be one of lbfgs, sgd, adam, got 'newton'"),
        (dict(learning_rate="cosine"), "learning_rate must be one of constant, invscaling, adaptive, got 'cosine'"),
        (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes must be positive integers"),
        (dict(activation="softplus"), "activation must be one of identity, logistic, tanh, relu"),
        (dict(alpha=-1.0), "alpha must be a finite number >= 0"),
        (dict(batch_size=0), "batch_size must be 'auto' or a positive integer"),
        (dict(n_iter_no_change=2.5), "n_iter_no_change must be an integer >= 1 or np.inf"),
        (dict(beta_2=1.0), "beta_2 must be in [0, 1)"),
        (dict(dtype="float16"), "dtype must be None (follow X), 'float32' or 'float64'"),
    ],
)
@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_bad_parameters_are_named(iris, params, needle):
    X, y = iris
    with pytest.raises(ValueError) as info:
        MLPClassifier(**params).fit(X, y)
    assert needle in str(info.value)
    with pytest.raises(ValueError, match="loss must be one of squared_error, poisson, got 'huber'"):
        MLPRegressor(loss="huber").fit(X, y)


@pytest.mark.usefixtures("numpy_backend")
@pytest.mark.backend_independent
def test_matches_scikit_learns_accuracy_on_breast_cancer():
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    Xa, Xb, ya, yb = train_test_split(StandardScaler().fit_transform(X), y, random_state=0, stratify=y)
    kw = dict(hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    mine, theirs = MLPClassifier(**kw).fit(Xa, ya), sk.MLPClassifier(**kw).fit(Xa, ya)
    assert mine.score(Xb, yb) == theirs.score(Xb, yb) and largest_difference(mine, theirs) < 1e-12


# -- everything follows X ----------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_torch_input_trains_on_torch_and_results_stay_there(iris, solver):
    torch = pytest.importorskip("torch")
    X, y = iris
    Xt, yt = torch.asarray(X), torch.asarray(y)
    kw = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0, learning_rate_init=0.01, solver=solver)
    clf = MLPClassifier(**kw).fit(Xt, yt)
    assert isinstance(clf.coefs_[0], torch.Tensor) and clf.coefs_[0].dtype == torch.float64
    pred = clf.predict(Xt)
    assert isinstance(pred, torch.Tensor) and isinstance(clf.predict_proba(Xt), torch.Tensor)
    host = MLPClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(clf.coefs_[0].numpy(), host.coefs_[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(pred.numpy(), host.predict(X))


def test_a_torch_trained_estimator_pickles(iris):
    torch = pytest.importorskip("torch")
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(torch.asarray(X), torch.asarray(y))
    back = pickle.loads(pickle.dumps(clf))
    assert torch.equal(back.predict(torch.asarray(X)), clf.predict(torch.asarray(X)))
    back.partial_fit(torch.asarray(X), torch.asarray(y))  # keeps training on torch after unpickling
    clf.partial_fit(torch.asarray(X), torch.asarray(y))
    assert isinstance(back.coefs_[0], torch.Tensor) and back.t_ == 4 * len(X)
    assert torch.equal(back.coefs_[0], clf.coefs_[0])
