"""scikit-learn estimators on mlp's engine: :class:`MLPClassifier` and :class:`MLPRegressor`, and for tables
:class:`TabularClassifier` and :class:`TabularRegressor` (``mlp train``'s table recipe on a data frame).

They are scikit-learn's ``sklearn.neural_network`` estimators with the import changed: the same parameters, the same
attributes with the same meanings, the same steps from the same weights, and the same random draws, so that with
the same ``random_state`` they start from the same weights, see the samples in the same order and take the same steps
as scikit-learn's, to rounding.  scikit-learn's own ``test_mlp.py`` runs on them in this project's CI
(``tests/sklearn/test_sklearn_own_suite.py``); ``docs/sklearn.md`` lists what is and is not supported.

* ``solver="lbfgs"`` runs :func:`mlp.core.lbfgs.minimize`, scipy's L-BFGS-B (without bounds) written in array API
  operations: it runs on the engine's backend and device, a GPU included; ``sgd`` and ``adam`` run scikit-learn's
  update rules and learning-rate schedules (``constant``, ``invscaling``, ``adaptive``) on mini-batches.
* The objective is scikit-learn's: ``sum_i w_i loss_i / S + alpha / (2 S) * sum ||W||^2`` on each batch (``w`` the
  sample weights, ones by default, ``S`` their sum over the batch; the short last batch of an epoch uses its own
  ``S``).  For the squared error the gradient is that of ``1/2 sum_k (y_k - t_k)^2`` per sample while ``loss_curve_``
  reports ``1/2 mean_k``: scikit-learn's units (``mlp.MeanSquaredError``, the engine's ``"mse"``, is unchanged).
* ``coefs_`` and ``intercepts_`` are the weights: arrays assigned there are used by the next ``predict``, warm start or
  ``partial_fit``.  Multilabel indicator targets, sparse ``X`` (CSR/CSC, made dense on the device), ``sample_weight``
  and ``loss="poisson"`` (the regressor) work as in scikit-learn.
* Everything follows X: with ``backend=None`` a torch, CuPy, JAX or array-api-strict ``X`` trains on that library and
  device, and ``coefs_``, ``intercepts_`` and predictions stay there; NumPy (or list, DataFrame, sparse) input trains
  on the default backend (``MLP_BACKEND``) and gives NumPy results.  ``dtype`` (None: float32 for float32 ``X``, else
  float64) is mlp's addition, as is ``backend``.

scikit-learn is an optional extra (``pip install "mlp-arrayapi[sklearn]"``); ``import mlp`` never needs it.
"""

try:
    import sklearn  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        f'mlp.sklearn needs scikit-learn >= 1.6 ({e}): pip install "mlp-arrayapi[sklearn]" '
        "(or pip install scikit-learn)"
    ) from None

from ._estimators import MLPClassifier, MLPRegressor
from ._tabular import TabularClassifier, TabularRegressor
from .onnx import register_when_imported

# ONNX: skl2onnx converters for both estimators, registered when skl2onnx is imported (this imports nothing)
register_when_imported(MLPClassifier, MLPRegressor)

__all__ = ["MLPClassifier", "MLPRegressor", "TabularClassifier", "TabularRegressor"]
