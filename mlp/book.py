"""Nielsen's *Neural Networks and Deep Learning*, chapters 1-3, on the matrix engine.

A reader of the book changes one import::

    from mlp.book import Network, CrossEntropyCost, load_data_wrapper
    training_data, validation_data, test_data = load_data_wrapper()
    net = Network([784, 30, 10], cost=QuadraticCost)
    net.large_weight_initializer()          # chapter 1: N(0, 1) weights and biases
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

and runs the book's experiments on any backend (``MLP_BACKEND``).  The API and
the data formats are the book's (``network.py`` and ``network2.py``); the
engine is not: each mini-batch is one matrix through :class:`mlp.Sequential`,
never a loop over examples.  ``SGD`` returns the four monitoring lists of
``network2.py`` and prints the book's progress lines.
"""
from __future__ import annotations

import numpy as np

from .losses import BinaryCrossEntropy, Quadratic
from .model import build_mlp
from .optim import SGD as _SGD
from .training import Callback, EarlyStopping, _evaluate_device, _prepare, fit, l2_weight_decay


class QuadraticCost:
    """The book's quadratic cost ``0.5 * ||a - y||^2``, on sigmoid outputs."""

    loss = Quadratic


class CrossEntropyCost:
    """The book's cross-entropy cost on sigmoid outputs (computed from the logits, stably)."""

    loss = BinaryCrossEntropy


def load_data_wrapper(data_dir=None, download=True):
    """MNIST in the book's formats: ``(training_data, validation_data, test_data)``.

    ``training_data`` is a list of 50,000 ``(x, y)`` pairs, ``x`` a (784, 1) float32 column
    and ``y`` a (10, 1) one-hot column; ``validation_data`` (the last 10,000 training images)
    and ``test_data`` are lists of ``(x, label)`` with an int label.
    """
    from .datasets import load_mnist

    (X, y), (X_test, y_test) = load_mnist(data_dir=data_dir, download=download)
    eye = np.eye(10, dtype=np.float32)
    training = [(x.reshape(784, 1), eye[label].reshape(10, 1)) for x, label in zip(X[:50_000], y[:50_000])]
    validation = [(x.reshape(784, 1), int(label)) for x, label in zip(X[50_000:], y[50_000:])]
    test = [(x.reshape(784, 1), int(label)) for x, label in zip(X_test, y_test)]
    return training, validation, test


def _as_matrices(data):
    """Book-format pairs -> (X of shape (n, n_in), y labels (n,) or targets (n, n_out))."""
    data = list(data)
    X = np.stack([np.asarray(x, dtype=np.float64).reshape(-1) for x, _ in data])
    first = data[0][1]
    if np.ndim(first) == 0:
        y = np.array([int(t) for _, t in data], dtype=np.int64)
    else:
        y = np.stack([np.asarray(t, dtype=np.float64).reshape(-1) for _, t in data])
    return X, y


class _BookMonitor(Callback):
    """Prints the book's per-epoch lines and fills network2.py's four monitoring lists."""

    def __init__(self, net, n_train, train, evaluation, test, flags, lmbda):
        self.net, self.n_train, self.flags, self.lmbda = net, n_train, flags, lmbda
        self.train, self.evaluation, self.test = train, evaluation, test
        self.lists = ([], [], [], [])  # evaluation_cost, evaluation_accuracy, training_cost, training_accuracy
        self.test_correct = []

    def _measure(self, data):
        model = self.net.model
        loss = self.net.cost.loss().bind(model.K)
        cost, acc = _evaluate_device(model, loss, *data)
        # the book's total_cost adds the L2 term 0.5 * (lmbda / n) * sum ||w||^2
        weights = sum(float(np.sum(w.astype(np.float64) ** 2)) for k, w in model.state_dict().items() if k[0] == "W")
        return cost + 0.5 * (self.lmbda / self.n_train) * weights, acc, data[0].shape[0]

    def on_epoch_end(self, epoch, logs, state):
        eval_cost, eval_acc, train_cost, train_acc = self.lists
        flags = self.flags
        if self.test is not None:
            _, acc, n = self._measure(self.test)
            self.test_correct.append(round(acc * n))
            print(f"Epoch {epoch}: {round(acc * n)} / {n}")
        elif not any(flags.values()):
            print(f"Epoch {epoch} complete")
        else:
            print(f"Epoch {epoch} training complete")
        if flags["training_cost"] or flags["training_accuracy"]:
            cost, acc, n = self._measure(self.train)
            if flags["training_cost"]:
                train_cost.append(cost)
                print(f"Cost on training data: {cost}")
            if flags["training_accuracy"]:
                train_acc.append(round(acc * n))
                print(f"Accuracy on training data: {round(acc * n)} / {n}")
        if self.evaluation is not None and (flags["evaluation_cost"] or flags["evaluation_accuracy"]):
            cost, acc, n = self._measure(self.evaluation)
            if flags["evaluation_cost"]:
                eval_cost.append(cost)
                print(f"Cost on evaluation data: {cost}")
            if flags["evaluation_accuracy"]:
                eval_acc.append(round(acc * n))
                print(f"Accuracy on evaluation data: {round(acc * n)} / {n}")
        if self.test is None:
            print(flush=True)  # network2.py's blank line between epochs; network.py has none


class Network:
    """The book's ``Network``: ``sizes`` like ``[784, 30, 10]``, sigmoid neurons throughout.

    Parameters
    ----------
    sizes : list of int
    cost : QuadraticCost or CrossEntropyCost
        ``network.py`` (chapter 1) used the quadratic cost; ``network2.py`` defaults to cross-entropy.
    backend, dtype, seed
        As for :class:`mlp.Sequential`; ``seed`` makes the book's random choices reproducible.
    """

    def __init__(self, sizes, cost=CrossEntropyCost, backend=None, dtype="float32", seed=0):
        self.sizes, self.cost = list(sizes), cost
        self.num_layers = len(self.sizes)
        self.backend, self.dtype, self.seed = backend, dtype, seed
        self.default_weight_initializer()

    def _build(self, init):
        # sigmoid neurons throughout; with cross-entropy the output sigmoid is fused into the loss
        self.model = build_mlp(self.sizes, "sigmoid", self.cost.loss, init, self.backend, self.dtype, self.seed)

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in), biases N(0, 1) (chapter 3)."""
        self._build("nielsen")

    def large_weight_initializer(self):
        """Weights and biases N(0, 1) (chapter 1)."""
        self._build("normal")

    @property
    def weights(self):
        """The book's ``weights``: host arrays of shape (n_out, n_in) (the transpose of ``W``)."""
        return [v.T for k, v in self.model.state_dict().items() if k[0] == "W"]

    @property
    def biases(self):
        """The book's ``biases``: host column vectors (n_out, 1)."""
        return [v.reshape(-1, 1) for k, v in self.model.state_dict().items() if k[0] == "b"]

    def feedforward(self, a):
        """Output activations for a column ``a`` (n_in, 1), or for a matrix of columns (n_in, n)."""
        a = np.asarray(a)
        X = a.reshape(1, -1) if a.ndim == 1 else a.T  # columns are examples in the book
        model = self.model
        Y = model.backend.to_numpy(model.forward(model.backend.asarray(X, dtype=model.dtype))).astype(np.float64)
        if self.cost is CrossEntropyCost:
            Y = 0.5 * np.tanh(0.5 * Y) + 0.5
        return Y.T

    def evaluate(self, test_data):
        """Number of test inputs for which the network outputs the correct label."""
        X, y = _as_matrices(test_data)
        return int(np.sum(self.model.predict(X) == (y if y.ndim == 1 else y.argmax(1))))

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None, test_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, early_stopping_n=0):
        """Mini-batch stochastic gradient descent, as in the book (one matrix per mini-batch).

        ``test_data`` gives ``network.py``'s "Epoch j: correct / n" lines; the ``monitor_*`` flags
        give ``network2.py``'s.  Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``, network2.py's per-epoch lists.
        """
        X, y = _as_matrices(training_data)
        n = len(X)
        model, loss = self.model, self.cost.loss()

        def prepared(data):
            return None if data is None else _prepare(model, *_as_matrices(data), "")

        flags = {"evaluation_cost": monitor_evaluation_cost, "evaluation_accuracy": monitor_evaluation_accuracy,
                 "training_cost": monitor_training_cost, "training_accuracy": monitor_training_accuracy}
        monitor_training = monitor_training_cost or monitor_training_accuracy  # else fit prepares it alone
        monitor = _BookMonitor(self, n, _prepare(model, X, y, "") if monitor_training else None,
                               prepared(evaluation_data),
                               prepared(test_data), flags, lmbda)
        callbacks = [monitor]
        if early_stopping_n and evaluation_data is not None:
            callbacks.append(_BookEarlyStopping(monitor, early_stopping_n))
        optimizer = _SGD(eta, weight_decay=l2_weight_decay(lmbda, n) if lmbda else 0.0)
        self.monitor = monitor
        self.history = fit(model, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=mini_batch_size,
                           seed=self.seed, progress=False, callbacks=callbacks, train_metrics=False)
        return monitor.lists

    def save(self, filename):
        """Save as an mlp checkpoint (safetensors), loadable with :func:`load`."""
        from .checkpoint import save

        save(self.model, filename, book_cost=self.cost.__name__, book_sizes=self.sizes)


class _BookEarlyStopping(EarlyStopping):
    """network2.py's early stopping: stop after n epochs without a better evaluation accuracy."""

    def __init__(self, monitor, n):
        super().__init__(monitor="evaluation_accuracy", patience=n, restore_best=False)
        self.book_monitor = monitor

    def on_epoch_end(self, epoch, logs, state):
        accuracies = self.book_monitor.lists[1]
        if accuracies:
            super().on_epoch_end(epoch, {"evaluation_accuracy": accuracies[-1]}, state)


def load(filename, backend=None):
    """Load a :meth:`Network.save` file back into a :class:`Network`."""
    from .checkpoint import load_checkpoint

    ckpt = load_checkpoint(filename, backend=backend)
    extra = ckpt.metadata.get("extra", {})
    cost = {"QuadraticCost": QuadraticCost, "CrossEntropyCost": CrossEntropyCost}[extra.get("book_cost", "CrossEntropyCost")]
    net = Network.__new__(Network)
    net.sizes, net.cost = list(ckpt.model.sizes), cost
    net.num_layers = len(net.sizes)
    net.backend, net.dtype, net.seed = ckpt.model.backend, ckpt.model.dtype, ckpt.model.seed
    net.model = ckpt.model
    return net
