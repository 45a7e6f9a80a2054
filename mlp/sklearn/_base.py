"""What :class:`MLPClassifier` and :class:`MLPRegressor` share: parameters, data, the solvers' loops, pickling."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as sk_shuffle
from sklearn.utils.validation import check_is_fitted, validate_data

from mlp.core.util import to_host

from ._checks import ACTIVATIONS, check_params, check_sample_weight, foreign
from ._maths import BatchObjective, Solver, head_outputs

NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values and need to be preprocessed."
)


def stochastic_solver(estimator) -> bool:
    """Whether ``estimator`` offers ``partial_fit`` (scikit-learn's rule and message: sgd and adam only)."""
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} is not stochastic."
        )
    return True


def with_thread_default(method):
    """Run an estimator method under mlp's thread default (``MLP_THREADS``/``OMP_NUM_THREADS``, else measured).

    Small networks gain nothing from a second BLAS or PyTorch thread and lose many times over when the cores are
    busy; the same choice as the ``mlp`` command's and :func:`mlp.fit`'s, made once per process.
    """
    from mlp.train.threads import with_default

    return with_default(method)


class BaseMLP(BaseEstimator):
    """The shared implementation (not public).  Subclasses define ``__init__`` (scikit-learn's signature), the head
    (:meth:`_head`), the targets (:meth:`_targets`) and the validation score (:meth:`_validation_score`)."""

    _classifier = False

    def _set_params(
        self,
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
    ):
        self.hidden_layer_sizes, self.activation = hidden_layer_sizes, activation
        self.solver, self.alpha = solver, alpha
        self.batch_size, self.learning_rate, self.learning_rate_init = batch_size, learning_rate, learning_rate_init
        self.power_t, self.max_iter, self.shuffle, self.random_state = power_t, max_iter, shuffle, random_state
        self.tol, self.verbose, self.warm_start, self.momentum = tol, verbose, warm_start, momentum
        self.nesterovs_momentum, self.early_stopping = nesterovs_momentum, early_stopping
        self.validation_fraction, self.beta_1, self.beta_2, self.epsilon = validation_fraction, beta_1, beta_2, epsilon
        self.n_iter_no_change, self.max_fun, self.backend, self.dtype = n_iter_no_change, max_fun, backend, dtype

    # -- checks -----------------------------------------------------------------------------------
    def _check_params(self):
        """The hidden sizes as a list of ints, after checking every parameter."""
        return check_params(self)

    def _validate_X(self, X, reset, y=None):
        """``(X, y, backend or None)``: host data through scikit-learn's checks (sparse matrices made dense), a
        foreign array kept on its own library and device."""
        if foreign(X):
            from mlp.backends import backend_of

            if len(X.shape) != 2:
                raise ValueError(f"Expected 2D array, got an array of shape {tuple(X.shape)}; reshape your data")
            xp = backend_of(X).xp
            if not bool(xp.all(xp.isfinite(X))):
                raise ValueError("Input X contains NaN or infinity.")
            if reset:
                self.n_features_in_ = int(X.shape[1])
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            return X, y, backend_of(X)
        kw = dict(reset=reset, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32))
        if y is None:
            X = validate_data(self, X, **kw)
        else:
            X, y = validate_data(self, X, y, multi_output=True, y_numeric=not self._classifier, **kw)
        if hasattr(X, "toarray"):  # the network multiplies dense arrays: a sparse X is made dense on the device
            X = X.toarray()
        return X, y, None

    # -- the engine --------------------------------------------------------------------------------
    def _engine(self):
        """The backend the weights live on: the default (or ``backend``) for host data, else X's own library and device,
        which the fitted ``coefs_`` still carry (a backend does not pickle, an array does)."""
        be = self.__dict__.get("_engine_cache")
        if be is None:
            from mlp.backends import backend_of, get_backend

            be = get_backend(self._engine_) if self._host_io else backend_of(self.coefs_[0])
            self._engine_cache = be
        return be

    def _model(self):
        """The engine network for the current ``coefs_`` shapes and ``activation`` (its passes, not its weights)."""
        import mlp

        sizes = [int(self.coefs_[0].shape[0])] + [int(W.shape[1]) for W in self.coefs_]
        key = (tuple(sizes), self.activation, self._engine(), self._dtype_)
        cached = self.__dict__.get("_model_cache")
        if cached is None or cached[0] != key:
            model = mlp.build_mlp(
                sizes,
                activation=ACTIVATIONS[self.activation],
                output="identity",
                init="xavier",
                backend=self._engine(),
                dtype=self._dtype_,
            )
            self._model_cache = cached = (key, model)
        return cached[1]

    def _params(self):
        """The weights as the engine uses them (``W0, b0, W1, b1, ...`` on the engine's backend).

        ``coefs_`` and ``intercepts_`` are the truth: arrays assigned there by hand are used from the next call on.
        """
        coefs, intercepts = self.coefs_, self.intercepts_
        cached = self.__dict__.get("_params_cache")
        if (
            cached is not None
            and len(cached[0]) == len(coefs) + len(intercepts)
            and all(a is b for a, b in zip(cached[0], [*coefs, *intercepts], strict=True))
        ):
            return cached[1]
        if len(coefs) != len(intercepts):
            raise ValueError(f"{type(self).__name__}: {len(coefs)} coefs_ but {len(intercepts)} intercepts_")
        if not hasattr(self, "_engine_"):  # weights set by hand on an estimator never fitted
            self._engine_, self._host_io = self._default_engine(None), True
            self._dtype_ = self.dtype or (
                "float32" if str(np.asarray(to_host(coefs[0])).dtype) == "float32" else "float64"
            )
        be = self._engine()
        params = []
        for W, b in zip(coefs, intercepts, strict=True):
            for a in (W, b):
                a = np.asarray(a) if isinstance(a, (list, tuple, numbers.Number)) else a
                ok = be.owns(a) and str(a.dtype).rsplit(".", 1)[-1] == self._dtype_
                params.append(a if ok else be.asarray(np.asarray(to_host(a)), dtype=self._dtype_))
        params = tuple(params)
        self._params_cache = ([*coefs, *intercepts], params)
        return params

    def _publish(self, params):
        """Set ``coefs_`` and ``intercepts_`` from ``params``: the arrays themselves on NumPy or X's own library, host
        copies for host data trained on another backend."""
        be = self._engine()
        if self._host_io and be.name != "numpy":
            shown = [np.asarray(be.to_numpy(p)) for p in params]
        else:
            shown = list(params)
        self.coefs_, self.intercepts_ = shown[0::2], shown[1::2]
        self._params_cache = ([*self.coefs_, *self.intercepts_], tuple(params))
        self.n_layers_ = len(self.coefs_) + 1

    def _default_engine(self, be):
        """The engine's name, remembering the backend itself until pickling."""
        from mlp.backends import get_backend

        be = be if be is not None else get_backend(self.backend)
        self._engine_cache = be
        return be.name

    def _initialize(self, be, hidden, n_features, n_outputs, dtype, rs):
        """A first fit: scikit-learn's initial weights (Glorot uniform drawn from ``rs``) and its counters."""
        self._engine_, self._host_io, self._dtype_ = self._default_engine(be), be is None, dtype
        self.n_iter_, self.t_, self.n_outputs_ = 0, 0, n_outputs
        self.out_activation_ = self._head()
        sizes = [n_features, *hidden, n_outputs]
        factor = 2.0 if self.activation == "logistic" else 6.0
        host = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = math.sqrt(factor / (fan_in + fan_out))
            host.append(rs.uniform(-bound, bound, (fan_in, fan_out)))
            host.append(rs.uniform(-bound, bound, fan_out))
        engine = self._engine()
        params = tuple(engine.asarray(a, dtype=dtype) for a in host)
        self._publish(params)
        self._best_params = params
        self.__dict__.pop("_optimizer", None)
        if self.solver != "lbfgs":
            self.loss_curve_, self._no_improvement_count = [], 0
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            else:
                self.best_loss_, self.validation_scores_, self.best_validation_score_ = np.inf, None, None

    # -- training ---------------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._check_params()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y, be = self._validate_X(X, reset=first_pass, y=y)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        n = int(X.shape[0])
        w = check_sample_weight(sample_weight, n)
        targets = self._targets(y, be, first_pass, incremental, n)  # host (n, k) targets, for the split and scores
        rs = check_random_state(self.random_state)
        self._random_state = rs
        if first_pass:
            dtype = self.dtype or ("float32" if str(X.dtype).rsplit(".", 1)[-1] == "float32" else "float64")
            self._initialize(be, hidden, int(X.shape[1]), targets.shape[1], dtype, rs)
        else:
            self._check_continuation(be, hidden, targets.shape[1])
        engine = self._engine()
        xdtype = getattr(engine.xp, self._dtype_)
        Xd = X if be is not None else engine.asarray(X, dtype=self._dtype_)
        if Xd.dtype != xdtype:
            Xd = engine.xp.astype(Xd, xdtype)
        Td = engine.asarray(targets, dtype=self._dtype_)
        params = self._params()
        with engine.quiet_float_errors():
            if self.solver == "lbfgs":
                params = self._fit_lbfgs(params, Xd, Td, w)
            else:
                params = self._fit_stochastic(params, Xd, Td, targets, w, incremental, rs)
        self._publish(params)
        xp = engine.xp
        if not all(bool(xp.all(xp.isfinite(p))) for p in params):
            raise ValueError(NON_FINITE)
        return self

    def _check_continuation(self, be, hidden, n_outputs):
        """A warm start or partial_fit continues the fitted network: same library, layers and outputs."""
        name = type(self).__name__
        if be is not None and hasattr(self, "_engine_") and be is not self._engine():
            fitted = self._engine()
            raise ValueError(
                f"{name}: X is a {be.name} array on {be.device}, but the estimator was fitted on "
                f"{fitted.name} ({fitted.device}); pass data of that kind, or refit"
            )
        fitted = [int(W.shape[1]) for W in self.coefs_[:-1]]
        if fitted != hidden:
            raise ValueError(
                f"{name}: hidden_layer_sizes changed from {fitted} to {hidden}; warm_start and "
                "partial_fit continue the fitted network and need the same layers"
            )
        if int(self.coefs_[-1].shape[1]) != n_outputs:
            raise ValueError(
                f"{name}: y has {n_outputs} outputs, but the fitted network has {int(self.coefs_[-1].shape[1])}"
            )
        self._params()  # weights set by hand are adopted here (and the engine chosen, if it never was)
        self.out_activation_ = self._head()

    def _n_batch(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                UserWarning,
                stacklevel=4,
            )
        return max(1, min(int(self.batch_size), n))

    def _new_solver(self, params):
        return Solver(
            self.solver,
            self.learning_rate_init,
            params,
            lr_schedule=self.learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterovs_momentum,
            power_t=self.power_t,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    def _fit_stochastic(self, params, X, T, targets, w, incremental, rs):
        """scikit-learn's ``_fit_stochastic``: epochs of mini-batches in its order, its counters and stopping rules."""
        engine = self._engine()
        xp = engine.xp
        if not incremental or getattr(self, "_optimizer", None) is None:
            self._optimizer = self._new_solver(params)
        solver = self._optimizer.to(engine, self._dtype_)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        self._stochastic_counters()
        wd = None if w is None else engine.asarray(w, dtype=self._dtype_)
        val = None
        if self.early_stopping:
            # scikit-learn splits X and y; the same call on the row indices draws the same rows from rs
            stratify = targets.astype(bool) if self._classifier and targets.shape[1] == 1 else None
            idx_train, idx_val = train_test_split(
                np.arange(X.shape[0]), random_state=rs, test_size=self.validation_fraction, stratify=stratify
            )
            if len(idx_val) < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
                )
            take = engine.asarray(idx_train)
            val_rows = engine.asarray(idx_val)
            val = (xp.take(X, val_rows, axis=0), targets[idx_val], None if w is None else w[idx_val])
            X, T = xp.take(X, take, axis=0), xp.take(T, take, axis=0)
            wd = None if wd is None else xp.take(wd, take, axis=0)
        n = int(X.shape[0])
        batch = self._n_batch(n)
        objective = BatchObjective(self._model(), self._head(), self.alpha, int(T.shape[1]))
        sample_idx = np.arange(n)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                Xe, Te, we = X, T, wd
                if self.shuffle:
                    sample_idx = sk_shuffle(sample_idx, random_state=rs)
                    order = engine.asarray(sample_idx)
                    Xe, Te = xp.take(X, order, axis=0), xp.take(T, order, axis=0)
                    we = None if wd is None else xp.take(wd, order, axis=0)
                accumulated = 0.0
                for i in range(0, n, batch):
                    j = min(i + batch, n)
                    value, grads = objective(params, Xe[i:j, ...], Te[i:j, ...], None if we is None else we[i:j])
                    accumulated = accumulated + value * (j - i)
                    params = solver.update(xp, params, grads)
                self.n_iter_ += 1
                self.loss_ = float(accumulated) / n
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(params, val)
                solver.iteration_ends(self.t_)
                if not math.isfinite(self.loss_) and not all(bool(xp.all(xp.isfinite(p))) for p in params):
                    # NaN weights stay NaN: stop here (scikit-learn runs the remaining epochs on them)
                    warnings.warn(
                        f"Stochastic Optimizer: the weights became non-finite in epoch {self.n_iter_}.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
                    break
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if self.early_stopping else "Training loss"
                    msg = (
                        f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change:.0f} "
                        "consecutive epochs."
                        if math.isfinite(self.n_iter_no_change)
                        else ""
                    )
                    if solver.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                        "optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=3,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if self.early_stopping:
            params = self._best_params
        return params

    def _stochastic_counters(self):
        """The counters of the stochastic solvers, for a warm start after a fit that did not keep them (lbfgs, or the
        other setting of early_stopping), where scikit-learn fails on a missing attribute."""
        if getattr(self, "loss_curve_", None) is None:
            self.loss_curve_ = []
        if not hasattr(self, "_no_improvement_count"):
            self._no_improvement_count = 0
        if self.early_stopping and getattr(self, "validation_scores_", None) is None:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
        if not self.early_stopping and getattr(self, "best_loss_", None) is None:
            self.best_loss_ = np.inf

    def _update_no_improvement_count(self, params, val):
        if self.early_stopping:
            score = self._validation_score(params, *val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = params
        else:
            loss = self.loss_curve_[-1]
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:
                self.best_loss_ = loss

    def _fit_lbfgs(self, params, X, T, w):
        """scikit-learn's ``_fit_lbfgs``: :func:`mlp.core.lbfgs.minimize` on the whole data set, scipy's stopping
        rules with ``gtol=tol``, ``maxiter=max_iter``, ``maxfun=max_fun``."""
        from mlp.core.errors import DivergenceError
        from mlp.core.lbfgs import flatten, minimize, unflatten

        engine = self._engine()
        xp = engine.xp
        objective = BatchObjective(self._model(), self._head(), self.alpha, int(T.shape[1]))
        wd = None if w is None else engine.asarray(w, dtype=self._dtype_)
        k = len(params) // 2
        shapes = [tuple(p.shape) for p in params[0::2]] + [tuple(p.shape) for p in params[1::2]]

        def pack(arrays):  # scikit-learn's order: every weight matrix, then every bias
            return flatten(xp, [*arrays[0::2], *arrays[1::2]])

        def unpack(x):
            parts = unflatten(xp, x, shapes)
            return tuple(parts[i // 2] if i % 2 == 0 else parts[k + i // 2] for i in range(2 * k))

        def fun(x):
            value, grads = objective(unpack(x), X, T, wd, consistent=True)
            return value, pack(grads)

        def report(x, f):
            print("Iteration %d, loss = %.8f" % (report.count, f))
            report.count += 1

        report.count = 1
        try:
            result = minimize(
                fun,
                pack(params),
                xp=xp,
                maxiter=self.max_iter,
                maxfun=self.max_fun,
                gtol=float(self.tol),
                callback=report if self.verbose else None,
            )
        except DivergenceError as e:  # the loss overflows at the initial weights
            raise ValueError(NON_FINITE) from e
        self.n_iter_ = min(result.nit, self.max_iter)
        params = unpack(result.x)
        self.loss_ = result.fun if objective.scale == 1.0 else float(objective(params, X, T, wd)[0])
        if result.status != 0:
            message = (
                f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}):\n"
                f"{result.message}\n"
            )
            if self.n_iter_ == self.max_iter:
                message += f"\nIncrease the number of iterations to improve the convergence (max_iter={self.max_iter})."
            message += (
                "\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html"
            )
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        return params

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, *buffers):
        """scikit-learn's private hook for the objective L-BFGS minimises, kept under its name and signature because
        scikit-learn's own gradient test calls it: ``(loss, gradient)`` at the weights packed as scikit-learn packs
        them (every ``coefs_`` raveled, then every ``intercepts_``), on ``X`` and the binarized targets ``y``.

        ``buffers`` (scikit-learn's activations and gradient lists) are not needed.  Host in, host out.
        """
        from mlp.core.lbfgs import flatten, unflatten

        engine = self._engine()
        xp = engine.xp
        shapes = [tuple(W.shape) for W in self.coefs_] + [tuple(b.shape) for b in self.intercepts_]
        k = len(self.coefs_)
        parts = unflatten(xp, engine.asarray(np.asarray(packed_coef_inter), dtype=self._dtype_), shapes)
        params = tuple(parts[i // 2] if i % 2 == 0 else parts[k + i // 2] for i in range(2 * k))
        T = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        w = None if sample_weight is None else engine.asarray(np.asarray(sample_weight), dtype=self._dtype_)
        objective = BatchObjective(self._model(), self._head(), self.alpha, T.shape[1])
        with engine.quiet_float_errors():
            value, grads = objective(
                params,
                engine.asarray(np.asarray(X), dtype=self._dtype_),
                engine.asarray(T, dtype=self._dtype_),
                w,
                consistent=True,
            )
        return float(value), np.asarray(engine.to_numpy(flatten(xp, [*grads[0::2], *grads[1::2]])))

    # -- predicting -------------------------------------------------------------------------------
    def _outputs(self, X):
        """``(outputs of the network's head on the engine, True if X was host data)``."""
        check_is_fitted(self, "coefs_")
        X, _, be = self._validate_X(X, reset=False)
        params = self._params()
        engine = self._engine()
        Xd = X if be is not None else engine.asarray(X, dtype=self._dtype_)
        return self._head_outputs(params, Xd), be is None

    def _head_outputs(self, params, Xd):
        engine = self._engine()
        xp = engine.xp
        xdtype = getattr(xp, self._dtype_)
        if Xd.dtype != xdtype:
            Xd = xp.astype(Xd, xdtype)
        forward = self._model().forward_function()
        with engine.quiet_float_errors():
            n, parts = Xd.shape[0], []
            for i in range(0, n, 10_000):
                Z, _ = forward(params, Xd[i : min(i + 10_000, n), ...])
                parts.append(head_outputs(xp, self.out_activation_, Z))
        return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)

    def _to_host(self, A):
        return np.asarray(self._engine().to_numpy(A))

    # -- pickling -----------------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_model_cache", None)
        state.pop("_engine_cache", None)
        state.pop("_params_cache", None)
        if state.get("_best_params") is not None:
            state["_best_params"] = tuple(np.array(to_host(p)) for p in state["_best_params"])
        return state

    def __setstate__(self, state):
        best = state.get("_best_params")
        super().__setstate__(state)
        if best is not None:
            engine = self._engine()
            self._best_params = tuple(engine.asarray(p, dtype=self._dtype_) for p in best)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.sparse = True
        return tags
