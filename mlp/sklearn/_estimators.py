"""The estimators: :class:`MLPClassifier` and :class:`MLPRegressor`."""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d

from mlp.core.util import to_host

from ._base import BaseMLP, stochastic_solver, with_thread_default
from ._checks import foreign

_SHARED_PARAMETERS = """
    hidden_layer_sizes : int or sequence of int, default (100,)
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
    solver : {"lbfgs", "sgd", "adam"}, default "adam"
        ``lbfgs`` runs :func:`mlp.core.lbfgs.minimize` on the whole data set (scipy's L-BFGS-B without bounds,
        in array API operations, on the engine's device); ``sgd`` and ``adam`` run mini-batches.
    alpha : float, default 1e-4
        L2: ``alpha / (2 n) * sum ||W||^2`` per batch of ``n`` samples (``n`` the sum of their weights).
    batch_size : int or "auto", default "auto" (``min(200, n_samples)``)
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        SGD's schedule: ``invscaling`` sets ``learning_rate_init / (t + 1) ** power_t`` after each epoch (``t``: the
        samples seen), ``adaptive`` divides the rate by 5 when ``n_iter_no_change`` epochs bring no progress.
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
    max_iter : int, default 200
        Epochs (``sgd``, ``adam``) or iterations (``lbfgs``).
    shuffle : bool, default True
    random_state : int, RandomState or None
        Draws the initial weights, the validation split and each epoch's order, in scikit-learn's sequence.
    tol : float, default 1e-4
    verbose : bool, default False
    warm_start : bool, default False
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
    validation_fraction : float, default 0.1
    beta_1, beta_2, epsilon : float, default 0.9, 0.999, 1e-8
        Adam's, in scikit-learn's form (``epsilon`` is added to ``sqrt(v)`` before the bias correction).
    n_iter_no_change : int or np.inf, default 10
    max_fun : int, default 15000
        ``lbfgs``: stop after the iteration in which the evaluations of the loss passed ``max_fun``.
    backend : str or None
        mlp backend (``"numpy"``, ``"torch"``, ...); None: X's own library for a torch, CuPy, JAX or
        array-api-strict ``X``, else the default backend (``MLP_BACKEND``).
    dtype : {"float32", "float64"} or None
        None: float32 for float32 ``X``, else float64.
"""


class MLPClassifier(ClassifierMixin, BaseMLP):
    __doc__ = (
        """Multilayer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by mlp's engine.

    Softmax outputs for several classes; one logistic output for two classes (or one); one logistic output per
    label for a multilabel indicator ``y``.  The parameters, attributes, steps and random draws are scikit-learn's
    (see the package docstring).

    Parameters
    ----------"""
        + _SHARED_PARAMETERS
        + """
    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, coefs_,
    intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.
    """
    )

    _classifier = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        backend=None,
        dtype=None,
    ):
        self._set_params(
            hidden_layer_sizes,
            activation,
            solver,
            alpha,
            batch_size,
            learning_rate,
            learning_rate_init,
            power_t,
            max_iter,
            shuffle,
            random_state,
            tol,
            verbose,
            warm_start,
            momentum,
            nesterovs_momentum,
            early_stopping,
            validation_fraction,
            beta_1,
            beta_2,
            epsilon,
            n_iter_no_change,
            max_fun,
            backend,
            dtype,
        )

    def _head(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _targets(self, y, be, first_pass, incremental, n):
        """The label binarizer's 0/1 targets ``(n, n_outputs)`` on the host (scikit-learn's ``_validate_input``)."""
        host_y = np.asarray(to_host(y)) if foreign(y) else np.asarray(y)
        if host_y.ndim == 2 and host_y.shape[1] == 1:
            host_y = column_or_1d(host_y, warn=True)
        if host_y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has {host_y.shape[0]}")
        check_classification_targets(host_y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(host_y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(host_y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous "
                        f"call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return self._label_binarizer.transform(host_y).astype(bool)

    def _labels(self, P):
        """Labels from the head's outputs (host), as scikit-learn's ``_predict`` decodes them."""
        return self._label_binarizer.inverse_transform(P.ravel() if P.shape[1] == 1 else P)

    def _validation_score(self, params, Xv, Tv, wv):
        pred = self._labels(self._to_host(self._head_outputs(params, Xv)))
        if pred.dtype.kind == "f" and not np.all(np.isfinite(pred)):
            return float("nan")
        return float(accuracy_score(self._label_binarizer.inverse_transform(Tv), pred, sample_weight=wv))

    @with_thread_default
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` (n_samples, n_features; dense or CSR/CSC) and labels ``y`` (or an indicator matrix).

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(stochastic_solver)
    @with_thread_default
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (every label there will be) is required on the first call.

        Returns
        -------
        self
        """
        if self._first_partial_fit(classes):
            host_y = np.asarray(to_host(y)) if foreign(y) else np.asarray(y)
            self._label_binarizer = LabelBinarizer()
            if type_of_target(host_y).startswith("multilabel"):
                self._label_binarizer.fit(host_y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _first_partial_fit(self, classes) -> bool:
        """scikit-learn's ``_check_partial_fit_first_call``."""
        if getattr(self, "classes_", None) is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is None:
            return False
        if getattr(self, "classes_", None) is not None:
            if not np.array_equal(self.classes_, unique_labels(classes)):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, was: {self.classes_!r}"
                )
            return False
        self.classes_ = unique_labels(classes)
        return True

    @with_thread_default
    def predict(self, X):
        """Labels (or the indicator matrix, multilabel) for ``X``."""
        check_is_fitted(self)
        P, host = self._outputs(X)
        labels = self._labels(self._to_host(P))
        return labels if host or labels.dtype.kind not in "biuf" else self._engine().asarray(labels)

    @with_thread_default
    def predict_proba(self, X):
        """Probabilities ``(n_samples, n_classes)``, columns in the order of ``classes_`` (two for one output)."""
        check_is_fitted(self)
        P, host = self._outputs(X)
        if P.shape[1] == 1:
            P = self._engine().xp.concat([1.0 - P, P], axis=1)
        return self._to_host(P) if host else P

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`."""
        P = self.predict_proba(X)
        if isinstance(P, np.ndarray):
            with np.errstate(divide="ignore"):
                return np.log(P)
        return self._engine().xp.log(P)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    __doc__ = (
        """Multilayer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by mlp's engine.

    Identity outputs with half the squared error, or (``loss="poisson"``) exponential outputs with half the Poisson
    deviance; targets ``(n_samples,)`` or ``(n_samples, n_targets)``.  The parameters, attributes, steps and random
    draws are scikit-learn's (see the package docstring).

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default "squared_error"
        ``poisson`` needs ``y >= 0``."""
        + _SHARED_PARAMETERS
        + """
    Attributes
    ----------
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, coefs_, intercepts_,
    n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn; the losses are in its units (the squared error averaged over the targets).
    """
    )

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        backend=None,
        dtype=None,
    ):
        self.loss = loss
        self._set_params(
            hidden_layer_sizes,
            activation,
            solver,
            alpha,
            batch_size,
            learning_rate,
            learning_rate_init,
            power_t,
            max_iter,
            shuffle,
            random_state,
            tol,
            verbose,
            warm_start,
            momentum,
            nesterovs_momentum,
            early_stopping,
            validation_fraction,
            beta_1,
            beta_2,
            epsilon,
            n_iter_no_change,
            max_fun,
            backend,
            dtype,
        )

    def _check_params(self):
        if self.loss not in ("squared_error", "poisson"):
            raise ValueError(f"{type(self).__name__}: loss must be one of squared_error, poisson, got {self.loss!r}")
        return super()._check_params()

    def _head(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _targets(self, y, be, first_pass, incremental, n):
        """Host targets ``(n, n_targets)`` in float64."""
        Y = np.asarray(to_host(y) if foreign(y) else y, dtype=np.float64)
        if Y.ndim == 2 and Y.shape[1] == 1:
            Y = column_or_1d(Y, warn=True)
        Y = Y.reshape(len(Y), -1) if Y.ndim else Y.reshape(1, 1)
        if Y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has {Y.shape[0]}")
        if not np.all(np.isfinite(Y)):
            bad = int(np.flatnonzero(~np.isfinite(Y).all(axis=1))[0])
            raise ValueError(f"y contains NaN or Inf (row {bad}); clean the targets before fitting")
        if self.loss == "poisson" and np.any(Y < 0):
            bad = int(np.flatnonzero((Y < 0).any(axis=1))[0])
            raise ValueError(f"loss='poisson' needs y >= 0; row {bad} has {Y[bad].tolist()}")
        return Y

    def _validation_score(self, params, Xv, Tv, wv):
        pred = self._to_host(self._head_outputs(params, Xv))
        if not np.all(np.isfinite(pred)):
            return float("nan")
        return float(
            r2_score(Tv[:, 0] if Tv.shape[1] == 1 else Tv, pred[:, 0] if pred.shape[1] == 1 else pred, sample_weight=wv)
        )

    @with_thread_default
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X`` (n_samples, n_features; dense or CSR/CSC) and targets ``y``.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(stochastic_solver)
    @with_thread_default
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    @with_thread_default
    def predict(self, X):
        """Predicted values: ``(n_samples,)`` for one output, else ``(n_samples, n_outputs)``; in the weights' dtype."""
        check_is_fitted(self)
        P, host = self._outputs(X)
        if P.shape[1] == 1:
            P = self._engine().xp.reshape(P, (-1,))
        return self._to_host(P) if host else P

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
