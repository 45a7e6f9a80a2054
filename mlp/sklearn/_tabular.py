"""scikit-learn estimators for tables: :class:`TabularClassifier` and :class:`TabularRegressor`.

The recipe of ``mlp train`` on a table of your own, for scikit-learn users with a data frame: columns kept as they
come (text as categories, gaps as gaps, dates as days, identifier-like columns left out, each said by
:mod:`mlp.io.tables.kinds`), numbers scaled robustly (median, interquartile range, smooth clip), a regression's
predictions kept within its training targets' range, one hidden layer of 100, Adam, early stopping on a held-out
share of the rows with the best epoch's weights kept (:mod:`mlp.train.recipe`).  ``fit`` takes a pandas or
pyarrow table (or a 2-D array), ``predict`` one with the same columns.

Unlike :class:`mlp.sklearn.MLPClassifier`, these are not scikit-learn's ``MLPClassifier``: they are the table
recipe, with its own parameters and defaults.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

import mlp
from mlp.train.recipe import (
    TABLE_DEFAULTS,
    TABLE_MONITOR,
    TABLE_NUMERIC_EMBEDDING,
    TABLE_PATIENCE,
    VAL_SPLIT,
    numeric_embedding,
    table_epochs,
)

__all__ = ["TabularClassifier", "TabularRegressor"]

#: the target's column name inside the table ``fit`` builds (a feature of that name is refused)
TARGET = "__target__"

_PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : sequence of int, default (100,)
    learning_rate : float, default 0.003
        Adam's step size.
    batch_size : int, default 32
    max_epochs : int or None, default None
        The epoch budget (None: 50, more for a small table: enough for 1,000 steps, at most 500).
    patience : int or None, default 20
        Early stopping: stop after this many epochs without a lower validation loss, keeping the best epoch's
        weights (None: train the whole budget and keep the last weights).
    validation_fraction : float, default 0.2
        The share of the rows held out to decide when to stop (stratified by class for a classifier).
    scaling : {"robust", "standard"} or None, default "robust"
        How numbers are scaled (None: not at all; see :meth:`mlp.tables.Preprocessor.fit`).
    numeric_embedding : {"auto", "periodic", "none"}, default "auto"
        ``"periodic"``: an :class:`mlp.PeriodicEmbedding` of the numbers before the first layer; ``"auto"``: periodic
        up to 100,000 training rows (:data:`mlp.train.recipe.PERIODIC_MOST_ROWS`), none above.
    categorical, numeric, drop : list of str, optional
        Columns to read as categories, as numbers, or to leave out (overriding the inference).
    random_state : int, default 0
        Seeds the split, the initial weights and the order of the rows.
    backend : str or None
        The array library (None: ``MLP_BACKEND``, else NumPy).
    dtype : {"float32", "float64"}, default "float32"
    verbose : bool, default False
        A progress bar per epoch.
"""


class _Tabular(BaseEstimator):
    _task = ""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        learning_rate=TABLE_DEFAULTS["lr"],
        batch_size=TABLE_DEFAULTS["batch_size"],
        max_epochs=None,
        patience=TABLE_PATIENCE,
        validation_fraction=VAL_SPLIT,
        scaling="robust",
        numeric_embedding=TABLE_NUMERIC_EMBEDDING,
        categorical=None,
        numeric=None,
        drop=None,
        random_state=0,
        backend=None,
        dtype="float32",
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.scaling = scaling
        self.numeric_embedding = numeric_embedding
        self.categorical = categorical
        self.numeric = numeric
        self.drop = drop
        self.random_state = random_state
        self.backend = backend
        self.dtype = dtype
        self.verbose = verbose

    # -- fitting --
    def fit(self, X, y):
        """Train on the table ``X`` (a pandas DataFrame, a pyarrow Table or a 2-D array) and targets ``y``."""
        from mlp.io.tables import load_table, split_indices

        table = _with_target(X, y)
        ds = load_table(
            table, target=TARGET, task=self._task, categorical=self.categorical, numeric=self.numeric, drop=self.drop
        )
        if len(ds.left_out):
            raise ValueError(
                f"y has {len(ds.left_out)} missing values (the first at row {int(ds.left_out[0]) + 1}); "
                f"a target is needed for every row"
            )
        n = len(ds)
        fraction = self.validation_fraction if self.patience is not None else 0.0
        if fraction:
            train, val = split_indices(
                n, fraction, self.random_state, ds.y if self._task == "classification" else None, "X"
            )
        else:
            train, val = np.arange(n), None
        pre = ds.preprocessor(train, standardize=self.scaling is not None, scaling=self.scaling or "robust")
        Xt, yt = ds.inputs(pre, self.dtype, rows=train), ds.encoded_targets(pre, train)
        validation = None if val is None else (ds.inputs(pre, self.dtype, rows=val), ds.encoded_targets(pre, val))
        ds.release()
        loss = "mse" if self._task == "regression" else "cross_entropy"
        embedding = numeric_embedding(self.numeric_embedding, len(train), scaled=pre.mean is not None)
        model = mlp.build_mlp(
            [pre.n_inputs(), *self.hidden_layer_sizes, pre.n_outputs()],
            "relu",
            loss,
            "he",
            self.backend,
            self.dtype,
            self.random_state,
            output="identity" if self._task == "regression" else None,
            input_layers=pre.input_layers(numeric_embedding=embedding),
        )
        epochs = self.max_epochs or table_epochs(len(train), self.batch_size, TABLE_DEFAULTS["epochs"])
        stopper = [] if validation is None else [_KeepBest(TABLE_MONITOR, self.patience)]
        self.history_ = mlp.fit(
            model,
            Xt,
            yt,
            loss=loss,
            optimizer=mlp.Adam(self.learning_rate),
            epochs=epochs,
            batch_size=self.batch_size,
            validation_data=validation,
            seed=self.random_state,
            progress=self.verbose,
            callbacks=stopper,
            task=self._task,
        )
        self.model_, self.preprocessor_ = model, pre
        self.n_epochs_ = len(self.history_.epoch)
        self.feature_names_in_ = np.asarray(pre.features, dtype=object)
        self.n_features_in_ = len(_names(X))
        return self

    def _outputs(self, X):
        check_is_fitted(self, "model_")
        inputs = self.preprocessor_.transform(
            _frame(X, self.preprocessor_.features), self.dtype, source="X", check=True
        )
        return self.model_.predict_values(inputs)


class TabularClassifier(ClassifierMixin, _Tabular):
    __doc__ = (
        """mlp's table recipe as a scikit-learn classifier: a data frame as it comes, to class labels.
"""
        + _PARAMETERS
        + """
    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted (numbers first, then text).
    model_ : mlp.Sequential
    preprocessor_ : mlp.tables.Preprocessor
    history_ : mlp.History
    n_epochs_ : int
        The epochs trained (early stopping may end them before the budget).
    """
    )
    _task = "classification"

    def fit(self, X, y):
        super().fit(X, y)
        self.classes_ = np.asarray(self.preprocessor_.classes, dtype=object)
        return self

    def predict_proba(self, X):
        """Class probabilities ``(n_samples, n_classes)``, in the order of :attr:`classes_`."""
        check_is_fitted(self, "model_")
        Z = self._outputs(X)
        Z = Z - Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        return P / P.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The most probable class of each row, as the original labels."""
        return self.classes_[np.argmax(self._outputs(X), axis=1)]


class TabularRegressor(RegressorMixin, _Tabular):
    __doc__ = (
        """mlp's table recipe as a scikit-learn regressor: a data frame as it comes, to values in the target's
units, kept within the training targets' range.
"""
        + _PARAMETERS
        + """
    Attributes
    ----------
    model_ : mlp.Sequential
    preprocessor_ : mlp.tables.Preprocessor
    history_ : mlp.History
    n_epochs_ : int
    """
    )
    _task = "regression"

    def predict(self, X):
        """Predicted values ``(n_samples,)`` in the target's units, within its training range."""
        return self.preprocessor_.values(self._outputs(X))[:, 0]


class _KeepBest(mlp.EarlyStopping):
    """Early stopping that keeps the best epoch's weights also when the budget ends first (as ``mlp train``)."""

    def __init__(self, monitor, patience):
        super().__init__(monitor, patience, restore_best=True)

    def on_train_end(self, state):
        if self._best_state is not None and not state.stop_training:
            state.model.load_state_dict(self._best_state)


def _names(X) -> list:
    """The column names of a table (``x0``, ``x1``, ... for an array)."""
    if hasattr(X, "columns") and not isinstance(X, np.ndarray):
        return [str(c) for c in X.columns]
    if hasattr(X, "schema"):
        return list(X.schema.names)
    a = np.asarray(X)
    if a.ndim != 2:
        raise ValueError(f"X must be a table or a 2-D array, got an array of shape {a.shape}")
    return [f"x{j}" for j in range(a.shape[1])]


def _frame(X, features=None):
    """``X`` as what the table readers take: a data frame or Arrow table as it is; an array as a
    :class:`mlp.tables.Table` of columns ``x0``, ``x1``, ..."""
    from mlp.io.tables import Table, column_of

    if hasattr(X, "dtypes") or hasattr(X, "schema"):
        return X
    a = np.asarray(X)
    names = _names(a)
    return Table("X", names, [column_of(a[:, j]) for j in range(a.shape[1])], named=True)


def _with_target(X, y):
    """The table of ``X``'s columns and ``y`` as the column :data:`TARGET`."""
    from mlp.io.tables import Table, column_of, from_frame

    table = _frame(X)
    if not isinstance(table, Table):
        table = from_frame(table)
    if TARGET in table.names:
        raise ValueError(f"X has a column named {TARGET!r}, the name fit gives the target")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != table.n_rows:
        raise ValueError(f"y must be one value per row of X ({table.n_rows}), got shape {y.shape}")
    return Table("X", [*table.names, TARGET], [*table.columns, column_of(y)], named=True)
