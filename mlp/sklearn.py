"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor` on mlp's engine.

They take scikit-learn's parameter names where they apply, so code written for
``sklearn.neural_network.MLPClassifier`` runs with the import changed, inside ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``, and pickles.  They pass scikit-learn's own
``parametrize_with_checks`` (scikit-learn >= 1.6); no check is marked as expected to fail.

``alpha`` (L2) follows scikit-learn's definition: the objective adds ``alpha / (2 n_batch) *
||W||^2`` (weights only, ``n_batch`` the mini-batch size) to the mean loss of a mini-batch.  The
gradient of that term is ``alpha / n_batch * W``, so the optimizer's ``weight_decay`` is
``alpha / batch_size`` for classification.  For regression scikit-learn's loss is *half* the mean
squared error while mlp's ``"mse"`` is the mean squared error itself (twice as steep), so the
decay is doubled to keep the same minimiser: ``weight_decay = 2 * alpha / batch_size``.
``loss_curve_`` is in scikit-learn's units (half the MSE for regression) and includes the penalty.

"Everything follows X": with ``backend=None`` a torch, CuPy, JAX or array-api-strict ``X`` trains
on that library and device, ``coefs_``/``intercepts_`` and predictions stay there; NumPy (or
list, or DataFrame) input trains on the default backend (``MLP_BACKEND``) and gives NumPy results.

scikit-learn is an optional extra (``pip install "mlp-arrayapi[sklearn]"``); ``import mlp`` never
needs it.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        f"mlp.sklearn needs scikit-learn >= 1.6 ({e}): pip install \"mlp-arrayapi[sklearn]\" "
        "(or pip install scikit-learn)"
    ) from None

from mlp.train.callbacks import Callback

__all__ = ["MLPClassifier", "MLPRegressor"]

#: scikit-learn's activation names -> mlp's
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}


def _foreign(X) -> bool:
    """An array of another array library (torch, CuPy, JAX, array-api-strict), not host data."""
    if isinstance(X, np.ndarray) or not hasattr(X, "shape") or not hasattr(X, "dtype"):
        return False
    from array_api_compat import is_array_api_obj

    return is_array_api_obj(X) and type(X).__module__.split(".")[0] not in ("pandas", "numpy")


def _backend_of(X):
    from mlp.backends import backend_of

    return backend_of(X)


class _Stopping(Callback):
    """scikit-learn's stopping rule, run after each epoch of :func:`mlp.fit`.

    Without early stopping: the training loss must fall by ``tol`` at least once in
    ``n_iter_no_change + 1`` epochs.  With it: the validation score (accuracy or R^2) must rise
    by ``tol``; the weights of the best validation epoch are kept.
    """

    def __init__(self, est, incremental, n_batch, X, T):
        self.est, self.incremental, self.n_batch = est, incremental, n_batch
        self.X, self.T = X, T
        self.stopped = False

    def on_epoch_end(self, epoch, logs, state):
        est = self.est
        loss = est._data_loss(state.model, self.X, self.T)
        if est.alpha:
            weights = [W for name, W in state.model.state_dict().items() if name.startswith("W")]
            loss += 0.5 * est.alpha * sum(float(np.sum(np.square(W, dtype=np.float64))) for W in weights) / self.n_batch
        est.loss_curve_.append(loss)
        est.n_iter_ += 1
        est.t_ += est._n_train
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}", flush=True)
        if est.early_stopping and not self.incremental:
            score = float(logs["val_accuracy" if est._task == "classification" else "val_r2"])
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}", flush=True)
            if score < est.best_validation_score_ + est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_params = state.model.state_dict()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if loss < est.best_loss_:
                est.best_loss_ = loss
        if est._no_improvement_count > est.n_iter_no_change and not self.incremental:
            if est.verbose:
                what = "Validation score" if est.early_stopping else "Training loss"
                print(f"{what} did not improve more than tol={est.tol} for {est.n_iter_no_change} consecutive "
                      "epochs. Stopping.", flush=True)
            self.stopped = state.stop_training = True


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share (not public)."""

    _task = None

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9, nesterovs_momentum=True,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10, backend=None, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.backend = backend
        self.dtype = dtype

    # -- checks ---------------------------------------------------------------------------------
    def _check_params(self):
        name = type(self).__name__
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = [hidden]
        try:
            hidden = list(hidden)
        except TypeError:
            hidden = None
        if hidden is None or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
                                     for h in hidden):
            raise ValueError(f"{name}: hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}")
        hidden = [int(h) for h in hidden]
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"{name}: activation must be one of {', '.join(_ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in ("sgd", "adam"):
            raise ValueError(f"{name}: solver must be 'sgd' or 'adam', got {self.solver!r} (lbfgs is not supported)")
        for param, value, lo, closed in (("alpha", self.alpha, 0.0, True), ("learning_rate_init", self.learning_rate_init, 0.0, False),
                                         ("tol", self.tol, 0.0, True)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) \
                    or value < lo or (value == lo and not closed):
                raise ValueError(f"{name}: {param} must be a finite number {'>=' if closed else '>'} {lo:g}, got {value!r}")
        for param, value, lo in (("max_iter", self.max_iter, 1), ("n_iter_no_change", self.n_iter_no_change, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
                raise ValueError(f"{name}: {param} must be an integer >= {lo}, got {value!r}")
        if not (self.batch_size == "auto" or (isinstance(self.batch_size, (int, np.integer))
                                              and not isinstance(self.batch_size, bool) and self.batch_size >= 1)):
            raise ValueError(f"{name}: batch_size must be 'auto' or a positive integer, got {self.batch_size!r}")
        if isinstance(self.momentum, bool) or not isinstance(self.momentum, (int, float)) or not 0 <= self.momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {self.momentum!r}")
        if isinstance(self.validation_fraction, bool) or not isinstance(self.validation_fraction, (int, float)) \
                or not 0 < self.validation_fraction < 1:
            raise ValueError(f"{name}: validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        if self.dtype not in (None, "float32", "float64"):
            raise ValueError(f"{name}: dtype must be None (follow X), 'float32' or 'float64', got {self.dtype!r}")
        return hidden

    def _validate_X(self, X, reset, y=None):
        """``(X, y, backend or None)``: host data through scikit-learn's checks, foreign arrays kept where they are."""
        if _foreign(X):
            be = _backend_of(X)
            if len(X.shape) != 2:
                raise ValueError(f"Expected 2D array, got an array of shape {tuple(X.shape)}; reshape your data")
            if reset:
                self.n_features_in_ = int(X.shape[1])
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                                 f"{self.n_features_in_} features as input.")
            return X, y, be
        if y is None:
            X = validate_data(self, X, reset=reset, dtype=(np.float64, np.float32))
        else:
            X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32),
                                 multi_output=True, y_numeric=self._task == "regression")
        return X, y, None

    def _dtype_for(self, X):
        if self.dtype is not None:
            return self.dtype
        kind = str(X.dtype).rsplit(".", 1)[-1]
        return "float32" if kind == "float32" else "float64"

    # -- building -------------------------------------------------------------------------------
    def _n_batch(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                          UserWarning, stacklevel=3)
        return max(1, min(int(self.batch_size), n))

    def _build(self, hidden, n_in, n_out, backend, dtype, seed):
        import mlp

        act = _ACTIVATIONS[self.activation]
        init = "he" if act == "relu" else "xavier"
        return mlp.build_mlp([n_in, *hidden, n_out], activation=act, loss=self._loss_name, init=init,
                             backend=backend, dtype=dtype, seed=seed)

    def _new_optimizer(self, n_batch):
        import mlp

        per_unit = 2.0 if self._task == "regression" else 1.0  # see the module docstring
        wd = per_unit * float(self.alpha) / n_batch
        if self.solver == "adam":
            return mlp.Adam(float(self.learning_rate_init), weight_decay=wd)
        nesterov = bool(self.nesterovs_momentum) and self.momentum > 0
        return mlp.SGD(float(self.learning_rate_init), momentum=float(self.momentum), nesterov=nesterov,
                       weight_decay=wd)

    def _reset_state(self):
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self.best_loss_ = np.inf
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    # -- training ---------------------------------------------------------------------------------
    def _fit(self, X, y, incremental):
        import mlp

        hidden = self._check_params()
        fresh = not hasattr(self, "_model_blob") and not hasattr(self, "_model")
        reset = fresh or not (incremental or self.warm_start)
        X, y, be = self._validate_X(X, reset=reset, y=y)
        T = self._targets(X, y, be, reset, incremental)
        n_out = self._n_outputs()
        if reset:
            # where X lived, by name and device (a Backend holds modules, which do not pickle)
            self._backend_ = None if be is None else (be.name, str(be.device))
            backend = be if be is not None else self.backend
            self._seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
            self._model = self._build(hidden, X.shape[1], n_out, backend, self._dtype_for(X), self._seed)
            self._reset_state()
            self._optimizer = None
        model = self._ensure_model()
        if [int(h) for h in model.sizes[1:-1]] != hidden and not reset:
            raise ValueError(f"{type(self).__name__}: hidden_layer_sizes changed from {model.sizes[1:-1]} to "
                             f"{hidden}; warm_start and partial_fit need the same architecture")
        n = X.shape[0]
        n_batch = self._n_batch(n)
        if self._optimizer is None or not incremental:
            self._optimizer = self._new_optimizer(n_batch)
        Xt, Tt, val = X, T, None
        if self.early_stopping and not incremental:
            Xt, Tt, val = self._split(X, T, be)
            n_batch = self._n_batch(Xt.shape[0])
        self._n_train = Xt.shape[0]
        T_host = np.asarray(be.to_numpy(Tt)) if be is not None else np.asarray(Tt)
        stop = _Stopping(self, incremental, n_batch, Xt, T_host)
        epochs = 1 if incremental else int(self.max_iter)
        self._best_params = None
        with warnings.catch_warnings():
            # the engine warns about nothing a scikit-learn user could act on here
            mlp.fit(model, Xt, Tt, loss=self._loss_name, optimizer=self._optimizer,
                    epochs=self.n_iter_ + epochs, initial_epoch=self.n_iter_, batch_size=n_batch,
                    validation_data=val, shuffle=bool(self.shuffle), seed=self._seed, progress=False,
                    callbacks=[stop], task=self._task, train_metrics=False)
        if self.early_stopping and not incremental and self._best_params is not None:
            model.load_state_dict(self._best_params)
        self._best_params = None
        self._publish(model)
        if not incremental and not stop.stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the optimization "
                          "hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        return self

    def _split(self, X, T, be):
        n = X.shape[0]
        stratify = self._labels_for_split if self._task == "classification" else None
        idx_train, idx_val = train_test_split(np.arange(n), random_state=self._seed,
                                              test_size=self.validation_fraction, stratify=stratify)
        if len(idx_val) < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your "
                             "dataset.")
        take = (lambda A, i: A[i]) if be is None else (lambda A, i: be.xp.take(A, be.asarray(i), axis=0))
        return take(X, idx_train), take(T, idx_train), (take(X, idx_val), take(T, idx_val))

    def _publish(self, model):
        """``coefs_`` and ``intercepts_``: copies on X's device (NumPy for host input)."""
        if getattr(self, "_backend_", None) is None:
            state = model.state_dict()
        else:
            xp = model.xp
            state = {n: xp.asarray(p, copy=True) for n, p in zip(model.param_names(), model.parameters())}
        k = len(model.sizes) - 1
        self.coefs_ = [state[f"W{i}"] for i in range(k)]
        self.intercepts_ = [state[f"b{i}"] for i in range(k)]
        self.n_layers_ = k + 1
        self.n_outputs_ = int(model.sizes[-1]) if self._task == "regression" else self.n_outputs_
        self.out_activation_ = self._out_activation

    def _ensure_model(self):
        """The engine model; rebuilt from the pickled weights after unpickling."""
        model = getattr(self, "_model", None)
        if model is None:
            import mlp
            from mlp.core.model import Sequential

            blob = self._model_blob
            backend = blob["backend"]
            if self._backend_ is not None:
                from mlp import backends

                backend = backends.get_backend(self._backend_[0], device=self._backend_[1])
            model = Sequential.from_config(blob["config"], backend=backend)
            model.load_state_dict(blob["params"])
            self._model = model
            opt = blob.get("optimizer")
            if opt is not None:
                from mlp.core.optim import from_state

                self._optimizer = from_state(opt)
                self._optimizer.load_state_dict(opt, model)
            del self._model_blob
            assert isinstance(model, mlp.Sequential)
        return model

    def __getstate__(self):
        state = self.__dict__.copy()
        model = state.pop("_model", None)
        optimizer = state.pop("_optimizer", None)
        if model is not None:
            state["_model_blob"] = {
                "config": model.config(),
                "params": model.state_dict(),
                "backend": model.backend.name,
                "optimizer": optimizer.state_dict() if optimizer is not None else None,
            }
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._model = None
        self._optimizer = None

    # -- predicting -------------------------------------------------------------------------------
    def _outputs_input(self, X):
        check_is_fitted(self, "coefs_")
        X, _, be = self._validate_X(X, reset=False)
        model = self._ensure_model()
        return model, X, be

    def _back(self, host, be):
        return host if be is None else be.asarray(host)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multilayer perceptron classifier, trained by mlp's engine, with scikit-learn's interface.

    Softmax outputs with cross-entropy for several classes; one logistic output with binary
    cross-entropy for two (as scikit-learn does).  Parameters are scikit-learn's (see
    :class:`sklearn.neural_network.MLPClassifier`) where they apply; ``solver`` is ``"sgd"`` or
    ``"adam"`` with a constant learning rate.  ``alpha``: see the module docstring.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
    activation : {"identity", "logistic", "tanh", "relu"}, default "relu"
    solver : {"adam", "sgd"}, default "adam"
    alpha : float, default 1e-4
        L2 strength in scikit-learn's units (``weight_decay = alpha / batch_size``).
    batch_size : int or "auto", default "auto" (``min(200, n_samples)``)
    learning_rate_init : float, default 1e-3
    max_iter : int, default 200
        Epochs.
    shuffle : bool, default True
    random_state : int, RandomState or None
    tol : float, default 1e-4
    verbose : bool, default False
        Print the loss of every epoch.
    warm_start : bool, default False
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` (stratified), stop when its accuracy stops improving by
        ``tol`` for ``n_iter_no_change`` epochs, keep the best epoch's weights.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    backend : str or None
        mlp backend (``"numpy"``, ``"torch"``, ...); None: X's own library for torch/CuPy/JAX
        arrays, else the default backend.
    dtype : {"float32", "float64"} or None
        None: float32 for float32 X, else float64.

    Attributes
    ----------
    classes_ : ndarray
    loss_curve_ : list of float
    n_iter_ : int
    coefs_, intercepts_ : list of arrays
    n_features_in_ : int
    feature_names_in_ : ndarray of str (when X has column names)
    best_loss_, validation_scores_, best_validation_score_, t_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.

    Notes
    -----
    Expected failures in ``parametrize_with_checks``: none.
    """

    _task = "classification"

    def _n_outputs(self):
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    @property
    def _loss_name(self):
        return "binary_cross_entropy" if len(self.classes_) == 2 else "cross_entropy"

    @property
    def _out_activation(self):
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _data_loss(self, model, X, labels):
        """Mean cross-entropy on the training data after the epoch (one forward pass)."""
        import mlp

        P = np.asarray(model.predict_proba(X, loss=mlp.get_loss(self._loss_name)), dtype=np.float64)
        p = P[np.arange(len(labels)), labels]
        return float(-np.mean(np.log(np.clip(p, np.finfo(P.dtype).tiny, 1.0))))

    def _targets(self, X, y, be, reset, incremental, classes=None):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        host_y = np.asarray(be.to_numpy(y)) if be is not None and _foreign(y) else np.asarray(y)
        if host_y.ndim == 2 and host_y.shape[1] == 1:
            host_y = column_or_1d(host_y, warn=True)
        if host_y.ndim != 1:
            raise ValueError(f"{type(self).__name__} takes one label per sample (y of shape (n_samples,)); got y of "
                             f"shape {host_y.shape} (multi-label targets are not supported)")
        if len(host_y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {len(host_y)}")
        check_classification_targets(host_y)
        if reset and not incremental:
            classes = np.unique(host_y)
        elif reset:  # the first partial_fit call
            if self._partial_classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            classes = np.asarray(self._partial_classes)
        else:
            classes = self.classes_
            if self._partial_classes is not None and not np.array_equal(np.unique(self._partial_classes), classes):
                raise ValueError(f"`classes={self._partial_classes!r}` is not the same as on the first call to "
                                 f"partial_fit; was {classes!r}")
        unseen = np.setdiff1d(np.unique(host_y), classes)
        if unseen.size:
            raise ValueError(f"y contains labels {unseen.tolist()!r} not among the classes {classes.tolist()!r}")
        if reset and len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, but the data "
                             f"contain only one class: {classes[0].item()!r}")
        if reset:
            self.classes_ = classes
            self.n_outputs_ = self._n_outputs()
        labels = np.searchsorted(self.classes_, host_y).astype(np.int64)
        self._labels_for_split = labels
        return labels if be is None else be.asarray(labels)

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y`` for ``max_iter`` epochs (fewer if it converges).

        Returns
        -------
        self
        """
        self._partial_classes = None
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``; ``classes`` (every label there will be) is required on the first call.

        Returns
        -------
        self
        """
        self._partial_classes = classes
        return self._fit(X, y, incremental=True)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), columns in the order of ``classes_``."""
        model, X, be = self._outputs_input(X)
        import mlp

        P = model.predict_proba(X, loss=mlp.get_loss(self._loss_name))
        return self._back(np.asarray(P, dtype=np.float64 if model.dtype == "float64" else np.float32), be)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        P = self.predict_proba(X)
        if isinstance(P, np.ndarray):
            with np.errstate(divide="ignore"):
                return np.log(P)
        from array_api_compat import array_namespace

        return array_namespace(P).log(P)

    def predict(self, X):
        """The most probable class of each sample (labels from ``classes_``)."""
        model, X, be = self._outputs_input(X)
        import mlp

        idx = model.predict(X, loss=mlp.get_loss(self._loss_name))
        labels = self.classes_[idx]
        return labels if be is None or labels.dtype.kind not in "biuf" else be.asarray(labels)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multilayer perceptron regressor, trained by mlp's engine, with scikit-learn's interface.

    Identity outputs with the mean squared error; targets of shape (n_samples,) or
    (n_samples, n_targets).  Parameters as for :class:`MLPClassifier` (``alpha``:
    ``weight_decay = 2 * alpha / batch_size``, see the module docstring); ``early_stopping``
    watches the validation R^2.

    Attributes
    ----------
    loss_curve_ : list of float
        Half the mean squared error plus the L2 penalty (scikit-learn's units), per epoch.
    n_iter_, coefs_, intercepts_, n_features_in_, best_loss_, validation_scores_, ...
        As in scikit-learn.

    Notes
    -----
    Expected failures in ``parametrize_with_checks``: none.
    """

    _task = "regression"
    _loss_name = "mse"
    _out_activation = "identity"

    def _n_outputs(self):
        return self._n_targets

    def _data_loss(self, model, X, T):
        """Half the mean squared error on the training data after the epoch (scikit-learn's squared loss)."""
        Y = np.asarray(model.predict_values(X), dtype=np.float64)
        return float(0.5 * np.mean((Y - T) ** 2))

    def _targets(self, X, y, be, reset, incremental):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if be is not None and _foreign(y):
            Y = y if len(y.shape) == 2 else be.xp.reshape(y, (-1, 1))
            shape = tuple(y.shape)
        else:
            y = np.asarray(y, dtype=np.float64)
            shape = y.shape
            Y = y.reshape(len(y), -1)
        if shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {shape[0]}")
        if reset:
            self._n_targets = int(Y.shape[1])
            self._y_1d = len(shape) == 1
        elif Y.shape[1] != self._n_targets:
            raise ValueError(f"y has {Y.shape[1]} targets, but the model was trained with {self._n_targets}")
        return Y if be is None else be.xp.astype(Y, getattr(be.xp, self._dtype_for(X)))

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and targets ``y`` for ``max_iter`` epochs (fewer if it converges).

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)

    def predict(self, X):
        """Predicted values, shape (n_samples,) for a 1-D training ``y``, else (n_samples, n_targets)."""
        model, X, be = self._outputs_input(X)
        Y = np.asarray(model.predict_values(X), dtype=np.float64)
        if self._y_1d or Y.shape[1] == 1:
            Y = Y[:, 0]
        return self._back(Y, be)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

