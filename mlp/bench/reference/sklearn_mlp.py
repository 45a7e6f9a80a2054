"""scikit-learn as a reference for ``mlp bench``: its own ``MLPClassifier``, one ``partial_fit`` an epoch.

The same hidden sizes, activation, mini-batch size, learning rate and initial weights as the
mlp model, plain SGD (no momentum, no L2: ``alpha=0``), and the epoch's samples in ``mlp.fit``'s
order.  scikit-learn always trains a softmax with the cross-entropy (log-loss) at the output, so
on the ``book`` configuration (sigmoid outputs, quadratic cost) it trains a slightly different
network; the bench says so.  Importing this module does not import scikit-learn: :func:`load` does.
"""

from __future__ import annotations

import time
import warnings

import numpy as np


def load():
    """The sklearn.neural_network module, or None where scikit-learn is not installed."""
    try:
        from sklearn import neural_network
    except ImportError:
        return None
    return neural_network


class PartialFitLoop:
    kind = "scikit-learn"
    backend, device, slow = "numpy", "cpu", False

    def __init__(self, problem, weights, neural_network, name="scikit-learn MLPClassifier"):
        self.problem, self.name = problem, name
        act = {"sigmoid": "logistic", "relu": "relu", "tanh": "tanh"}[problem.activation]
        self.clf = neural_network.MLPClassifier(
            hidden_layer_sizes=tuple(problem.sizes[1:-1]),
            activation=act,
            solver="sgd",
            alpha=0.0,
            batch_size=problem.batch,
            learning_rate_init=problem.lr,
            momentum=0.0,
            nesterovs_momentum=False,
            shuffle=False,
            random_state=problem.seed,
        )
        classes = np.arange(problem.sizes[-1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.clf.partial_fit(problem.X[: problem.batch], problem.y[: problem.batch], classes=classes)
        dtype = problem.X.dtype  # scikit-learn keeps float32 data in float32
        self.clf.coefs_ = [np.array(W, dtype=dtype) for W, _ in weights]
        self.clf.intercepts_ = [np.array(b, dtype=dtype) for _, b in weights]

    def epoch(self, epoch, m):
        p = self.problem
        perm = p.perm(epoch, m)
        X, y = p.X[perm], p.y[perm]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            self.clf.partial_fit(X, y)
            return time.perf_counter() - t0
