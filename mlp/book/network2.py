"""The book's ``network2.py`` (chapter 3) on the matrix engine.

Same names, signatures, defaults, printed lines, return values and file format as
Nielsen's module: the costs :class:`QuadraticCost` and :class:`CrossEntropyCost` (static
``fn(a, y)`` and ``delta(z, a, y)``), ``Network(sizes, cost=CrossEntropyCost)`` with
``default_weight_initializer`` (weights N(0, 1/n_in), biases N(0, 1)) and
``large_weight_initializer`` (N(0, 1)) drawn from the global ``np.random``; ``SGD(training_data,
epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None, monitor_evaluation_cost=False,
monitor_evaluation_accuracy=False, monitor_training_cost=False, monitor_training_accuracy=False)``
that ``random.shuffle``\\ s the caller's list every epoch, prints ``Epoch 0 training complete``,
the monitor lines and a blank line, and returns ``(evaluation_cost, evaluation_accuracy,
training_cost, training_accuracy)``; ``update_mini_batch(mini_batch, eta, lmbda, n)``,
``backprop``, ``accuracy(data, convert=False)``, ``total_cost(data, lmbda, convert=False)``
(its L2 term ``0.5 * lmbda / len(data) * sum ||w||^2`` uses the size of the data measured,
as the book's does), ``save(filename)`` and ``load(filename)`` in the book's JSON format,
``vectorized_result``, ``sigmoid``, ``sigmoid_prime``::

    from mlp.book import mnist_loader, network2
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    net.large_weight_initializer()
    net.SGD(training_data, 30, 10, 0.5, evaluation_data=test_data, monitor_evaluation_accuracy=True)

Where it differs from the book, and why:

* **The engine.** Each mini-batch is one matrix, on the backend ``MLP_BACKEND`` (or
  ``backend=``) names: ``SGD`` runs the engine's own step, the one :func:`mlp.fit` runs, and
  ``update_mini_batch`` :class:`mlp.Sequential`'s; L2 is a weight decay ``lmbda / n`` on weights
  only, the book's ``(1 - eta * lmbda / n) * w`` update.
* **Lists converted once.** As in :mod:`mlp.book.network`: a list of pairs is converted to
  matrices once and kept while the same list (the same pair objects, in the order ``SGD``
  left them) comes back; changing an ``x`` array in place after that is not seen.
  With cross-entropy the output sigmoid is fused into the cost (the delta ``a - y`` exactly,
  computed from ``z`` without overflow).  A subclass that overrides ``update_mini_batch`` or
  ``backprop`` gets its own method called, example by example, as in the book.
* **float32 by default**; ``dtype="float64"`` gives the book's precision.  ``weights`` and
  ``biases`` are the book's lists in that dtype; assigning them or changing them in place
  changes the network.
* **Costs.** ``cost`` may be the class or an instance (as some of the book's scripts pass it),
  or a subclass of either.  ``total_cost`` computes the cross-entropy from ``z`` (finite for
  any output, where the book's ``nan_to_num`` turns a saturated wrong output into 1.8e308).
* **Files.** ``save`` writes the book's JSON atomically (a temporary file, then a rename);
  ``load`` reads it without executing anything (only the two cost names are accepted) and
  checks every shape.  mlp's own safetensors format: :meth:`Network.save_checkpoint` and
  :func:`load_checkpoint`.
* **Python 3.** ``training_data`` and ``evaluation_data`` may be any iterables of pairs
  (``zip`` objects included); a non-list training set is copied into a list, which is what
  gets shuffled.  A monitor flag without the data it needs is an error before training.
* ``SGD`` also takes ``early_stopping_n=0`` (last, keyword): the book's later version stops
  after that many epochs without a better evaluation accuracy (it needs
  ``monitor_evaluation_accuracy=True``).
"""

from __future__ import annotations

import json
import os

import numpy as np

from mlp.core.validate import non_negative, non_negative_int, positive_int
from mlp.io.atomic import write_atomic

from ._engine import CROSS_ENTROPY, QUADRATIC, EngineNetwork, from_checkpoint, one_hot_column, sigmoid, sigmoid_prime

__all__ = [
    "CrossEntropyCost",
    "Network",
    "QuadraticCost",
    "load",
    "load_checkpoint",
    "sigmoid",
    "sigmoid_prime",
    "vectorized_result",
]


class QuadraticCost:
    """The quadratic cost ``C = 0.5 * ||a - y||^2`` of one example."""

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` against the desired output ``y`` (columns)."""
        d = np.asarray(a) - np.asarray(y)
        return 0.5 * float(np.sum(d * d))

    @staticmethod
    def delta(z, a, y):
        """The output layer's error ``dC/dz = (a - y) * sigmoid'(z)``."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:
    """The cross-entropy cost ``C = -sum(y ln a + (1 - y) ln(1 - a))`` of one example."""

    @staticmethod
    def fn(a, y):
        """The cost of output ``a`` against ``y``; ``0 * ln 0`` counts as 0 (NaN becomes 0, Inf a huge number)."""
        a, y = np.asarray(a, dtype=np.float64), np.asarray(y, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = -y * np.log(a) - (1 - y) * np.log(1 - a)
        return float(np.sum(np.nan_to_num(terms)))

    @staticmethod
    def delta(z, a, y):
        """The output layer's error ``dC/dz = a - y`` (``z`` unused: the sigmoid's slope cancels)."""
        return a - y


#: the costs a saved file may name
COSTS = {"QuadraticCost": QuadraticCost, "CrossEntropyCost": CrossEntropyCost}


def _cost_class(cost):
    cls = cost if isinstance(cost, type) else type(cost)
    if not issubclass(cls, (QuadraticCost, CrossEntropyCost)):
        raise TypeError(
            f"cost must be QuadraticCost or CrossEntropyCost (a class, an instance or a subclass), got {cost!r}"
        )
    return cls


class Network(EngineNetwork):
    """A feedforward network of sigmoid neurons with a choice of cost (the book's chapter 3).

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input layer first, e.g. ``[784, 30, 10]``.
    cost : QuadraticCost or CrossEntropyCost (class or instance)
    backend : str or None, keyword-only
        An mlp backend name; None: ``MLP_BACKEND``, else NumPy.
    dtype : {"float32", "float64"}, keyword-only
        The engine's floating type (the book's code is float64).
    """

    def __init__(self, sizes, cost=CrossEntropyCost, *, backend=None, dtype="float32"):
        self._setup(sizes, backend, dtype)
        self.default_weight_initializer()
        self.cost = cost

    @property
    def cost(self):
        """The cost, as given (class or instance); assigning another one retrains with it."""
        return self._cost

    @cost.setter
    def cost(self, cost):
        _cost_class(cost)
        self._cost = cost

    def _cost_kind(self):
        return CROSS_ENTROPY if issubclass(_cost_class(self._cost), CrossEntropyCost) else QUADRATIC

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in) (``randn / sqrt(n_in)``), biases N(0, 1), from the global ``np.random``."""
        self._draw(scale_by_fan_in=True)

    def large_weight_initializer(self):
        """Weights and biases N(0, 1), as in chapter 1, from the global ``np.random``."""
        self._draw(scale_by_fan_in=False)

    def feedforward(self, a):
        """The output activations ``(n_out, 1)`` for an input column ``a`` (a matrix of columns: one per column)."""
        return self._feedforward(a)

    def SGD(
        self,
        training_data,
        epochs,
        mini_batch_size,
        eta,
        lmbda=0.0,
        evaluation_data=None,
        monitor_evaluation_cost=False,
        monitor_evaluation_accuracy=False,
        monitor_training_cost=False,
        monitor_training_accuracy=False,
        early_stopping_n=0,
    ):
        """Train with mini-batch stochastic gradient descent and L2 regularisation ``lmbda``.

        Parameters
        ----------
        training_data : list of (x, y)
            ``y`` target columns; shuffled in place with ``random.shuffle`` every epoch.
        epochs, mini_batch_size : int
        eta : float
            The learning rate.
        lmbda : float
            L2 strength: each step also multiplies the weights by ``1 - eta * lmbda / n``.
        evaluation_data : list of (x, label) or None
            Usually the validation or test data.
        monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost, monitor_training_accuracy : bool
            Measure (and print) these after every epoch.
        early_stopping_n : int
            Not in the book's first version: stop after this many epochs without a better
            evaluation accuracy (0: never).

        Returns
        -------
        (evaluation_cost, evaluation_accuracy, training_cost, training_accuracy)
            Per-epoch lists (empty where the flag is off); costs are floats, accuracies counts.
        """
        training_data, evaluation_data, early_stopping_n = self._sgd_arguments(
            training_data,
            evaluation_data,
            lmbda,
            early_stopping_n,
            monitor_evaluation_cost,
            monitor_evaluation_accuracy,
        )
        n = len(training_data)
        evaluation = self._dataset(evaluation_data, "evaluation_data") if evaluation_data else None
        training = (
            self._dataset(training_data, "training_data")
            if (monitor_training_cost or monitor_training_accuracy)
            else None
        )
        # the four flags and the four lists, in the order SGD returns them
        monitors = (
            monitor_evaluation_cost,
            monitor_evaluation_accuracy,
            monitor_training_cost,
            monitor_training_accuracy,
        )
        history = ([], [], [], [])
        evaluation_accuracy = history[1]
        best, since_best = -1, 0

        def after_epoch(j):
            nonlocal best, since_best
            self._monitor_epoch(j, monitors, history, training, evaluation, lmbda, n)
            if early_stopping_n:
                if evaluation_accuracy[-1] > best:
                    best, since_best = evaluation_accuracy[-1], 0
                else:
                    since_best += 1
                return since_best >= early_stopping_n
            return False

        own = type(self).update_mini_batch is Network.update_mini_batch
        self._epochs(
            training_data,
            epochs,
            mini_batch_size,
            eta,
            lmbda / n if n else 0.0,
            after_epoch,
            update=None if own else (lambda batch: self.update_mini_batch(batch, eta, lmbda, n)),
        )
        return history

    @staticmethod
    def _sgd_arguments(
        training_data, evaluation_data, lmbda, early_stopping_n, monitor_evaluation_cost, monitor_evaluation_accuracy
    ):
        """SGD's arguments checked: ``(training_data, evaluation_data, early_stopping_n)``, the data as lists."""
        non_negative("lmbda", lmbda, "SGD")
        early_stopping_n = non_negative_int("early_stopping_n", early_stopping_n, "SGD")
        if not isinstance(training_data, list):
            training_data = list(training_data)  # a zip object: materialised once, then shuffled as a list
        if evaluation_data is not None and not isinstance(evaluation_data, (list, tuple)):
            evaluation_data = list(evaluation_data)
        wanted = [
            f
            for f, on in (
                ("monitor_evaluation_cost", monitor_evaluation_cost),
                ("monitor_evaluation_accuracy", monitor_evaluation_accuracy),
            )
            if on
        ]
        if wanted and not evaluation_data:
            raise ValueError(f"SGD: {wanted[0]}=True needs evaluation_data")
        if early_stopping_n and not monitor_evaluation_accuracy:
            raise ValueError("SGD: early_stopping_n needs monitor_evaluation_accuracy=True (it watches that accuracy)")
        return training_data, evaluation_data, early_stopping_n

    def _monitor_epoch(self, j, monitors, history, training, evaluation, lmbda, n):
        """Print the book's lines after epoch ``j`` and append what ``monitors`` asks for to ``history``."""
        (monitor_evaluation_cost, monitor_evaluation_accuracy, monitor_training_cost, monitor_training_accuracy) = (
            monitors
        )
        evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = history
        print("Epoch %s training complete" % j)
        if monitor_training_cost:
            cost = self.total_cost(training, lmbda)
            training_cost.append(cost)
            print("Cost on training data: {}".format(cost))
        if monitor_training_accuracy:
            accuracy = self.accuracy(training, convert=True)
            training_accuracy.append(accuracy)
            print("Accuracy on training data: {} / {}".format(accuracy, n))
        if monitor_evaluation_cost:
            cost = self.total_cost(evaluation, lmbda, convert=True)
            evaluation_cost.append(cost)
            print("Cost on evaluation data: {}".format(cost))
        if monitor_evaluation_accuracy:
            accuracy = self.accuracy(evaluation)
            evaluation_accuracy.append(accuracy)
            print("Accuracy on evaluation data: {} / {}".format(accuracy, evaluation.n))
        print(flush=True)

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on ``mini_batch``: ``w -> (1 - eta * lmbda / n) * w - (eta / m) * sum of gradients``.

        ``n`` is the size of the whole training set; biases are not regularised.
        """
        non_negative("lmbda", lmbda, "update_mini_batch")
        positive_int("n", n, "update_mini_batch")
        self._update(mini_batch, eta, lmbda / n, own_backprop=type(self).backprop is Network.backprop)

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)``: the gradient of the cost ``C_x`` of one example, shaped like biases and weights."""
        return self._backprop(x, y)

    def accuracy(self, data, convert=False):
        """How many pairs of ``data`` the network classifies correctly (argmax of the output layer).

        ``convert=False`` for validation or test data (``y`` a label); ``convert=True`` for
        training data (``y`` a target column, compared by its argmax).
        """
        data = self._dataset(data, "data")
        if data.labels == bool(convert):
            raise ValueError(
                f"accuracy(data, convert={convert}): the y of data are "
                f"{'labels' if data.labels else 'target columns'}; use convert="
                f"{not data.labels} ({'training' if not data.labels else 'validation or test'} data)"
            )
        return self._correct(data)

    def total_cost(self, data, lmbda, convert=False):
        """The mean cost over ``data`` plus the L2 term ``0.5 * (lmbda / len(data)) * sum ||w||^2``.

        ``convert=False`` for training data (``y`` target columns); ``convert=True`` for
        validation or test data (``y`` labels, turned into target columns).
        """
        non_negative("lmbda", lmbda, "total_cost")
        data = self._dataset(data, "data")
        if data.labels != bool(convert):
            raise ValueError(
                f"total_cost(data, lmbda, convert={convert}): the y of data are "
                f"{'labels' if data.labels else 'target columns'}; use convert={data.labels}"
            )
        return self._mean_cost(data) + 0.5 * (lmbda / data.n) * self._l2()

    def save(self, filename):
        """Write the network to ``filename`` in the book's JSON format (sizes, weights, biases, cost name)."""
        weights = self._checked_list(
            self._weights, "weights", [(b, a) for a, b in zip(self.sizes, self.sizes[1:], strict=False)], copy=False
        )
        biases = self._checked_list(self._biases, "biases", [(b, 1) for b in self.sizes[1:]], copy=False)
        data = {
            "sizes": [int(s) for s in self.sizes],
            "weights": [w.tolist() for w in weights],
            "biases": [b.tolist() for b in biases],
            "cost": self._cost_name(),
        }  # a subclass is saved as the book's cost it derives from
        write_atomic(filename, json.dumps(data).encode("utf-8"))


def load(filename, *, backend=None, dtype="float32"):
    """Read a network saved by :meth:`Network.save` (or the book's ``network2.save``).

    As the book's ``load`` does, this builds ``Network(sizes, cost=cost)`` (which draws initial
    weights from ``np.random``) and then sets the saved weights and biases.

    Raises
    ------
    ValueError
        The file is not JSON, lacks an entry, names another cost, or a shape disagrees with ``sizes``.
    """
    try:
        with open(os.fspath(filename), encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{filename}: not a network saved as JSON by network2.save ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{filename}: expected a JSON object with sizes, weights, biases and cost")
    for key in ("sizes", "weights", "biases", "cost"):
        if key not in data:
            raise ValueError(f"{filename}: no {key!r} entry (network2.save writes sizes, weights, biases and cost)")
    if data["cost"] not in COSTS:
        raise ValueError(f"{filename}: cost {data['cost']!r} is not one of {', '.join(COSTS)}")
    sizes = data["sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ValueError(f"{filename}: sizes must be a list of at least two positive integers, got {sizes!r}")
    arrays = {}
    for key in ("weights", "biases"):
        try:
            arrays[key] = [np.array(v, dtype=np.float64) for v in data[key]]
        except (TypeError, ValueError) as e:
            raise ValueError(f"{filename}: {key} is not a list of numeric matrices ({e})") from None
    net = Network(sizes, cost=COSTS[data["cost"]], backend=backend, dtype=dtype)
    try:
        net.weights, net.biases = arrays["weights"], arrays["biases"]
    except ValueError as e:
        raise ValueError(f"{filename}: {e}") from None
    return net


def load_checkpoint(filename, *, backend=None):
    """A :class:`Network` from a file written by :meth:`Network.save_checkpoint` (mlp's safetensors format)."""

    def make(sizes, cost, dtype):
        if cost not in COSTS:
            raise ValueError(f"{filename}: cost {cost!r} is not one of {', '.join(COSTS)}")
        net = Network.__new__(Network)
        net._setup(sizes, backend, dtype)
        net.cost = COSTS[cost]
        return net

    return from_checkpoint(Network, filename, backend, make)


def vectorized_result(j):
    """A ``(10, 1)`` column with 1.0 in position ``j`` (a digit 0..9) and zeros elsewhere."""
    return one_hot_column(j, 10)
