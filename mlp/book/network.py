"""The book's ``network.py`` (chapter 1) on the matrix engine.

Same names, signatures, defaults, printed lines and data formats as Nielsen's module:
``Network(sizes)`` with the quadratic cost and N(0, 1) weights and biases drawn from the
global ``np.random`` (biases first, as the book draws them), ``SGD(training_data, epochs,
mini_batch_size, eta, test_data=None)`` that ``random.shuffle``\\ s the caller's list every
epoch and prints ``Epoch 0: 9129 / 10000`` (or ``Epoch 0 complete``) and returns None,
``update_mini_batch``, ``backprop``, ``evaluate``, ``cost_derivative``, ``feedforward``,
``sigmoid``, ``sigmoid_prime``.  So ``np.random.seed(...)`` and ``random.seed(...)`` make a run
repeatable, exactly as with the book's code::

    from mlp.book import mnist_loader, network
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

Where it differs from the book, and why:

* **The engine.** Each mini-batch is one matrix (one forward, one backward, one update),
  never a loop over its examples; ``MLP_BACKEND`` (or ``backend=``) picks NumPy, PyTorch,
  CuPy, JAX or array-api-strict.  ``SGD`` runs the engine's own step, the one :func:`mlp.fit`
  runs (compiled on JAX), and ``update_mini_batch`` :class:`mlp.Sequential`'s.  From the same
  weights and mini-batches the result is the book's update to rounding (tests check 1e-12 in
  float64).  A subclass
  that overrides ``update_mini_batch`` or ``backprop`` gets its own method called, example by
  example, as in the book.
* **Lists converted once.** A list of pairs becomes matrices the first time it is used and
  is kept (the last few lists) while the same list comes back, so later epochs and later
  networks on it skip the conversion; ``SGD`` still reorders the list itself exactly as the
  book's ``random.shuffle`` does.  A list is the same while it holds the same pair objects in
  the order ``SGD`` left them (replacing, adding or removing a pair converts it again);
  changing an ``x`` array in place after that is not seen.  ``mlp.book.clear_cache()``
  frees the matrices.
* **float32 by default** (twice the speed; the book's accuracy figures do not move);
  ``Network(sizes, dtype="float64")`` computes in the book's precision.  ``weights`` and
  ``biases`` are arrays of that dtype.
* **weights and biases** are the book's lists, shapes ``(n_out, n_in)`` and ``(n_out, 1)``;
  assigning them, or changing them in place, changes the network (on NumPy they are views
  of the engine's own buffers; elsewhere host copies synchronised around every call).
* **Python 3.** ``training_data`` may be any iterable of pairs (``zip`` objects included);
  a non-list is copied into a list first, and that copy is what gets shuffled.  Training
  pairs may carry integer labels instead of target columns (one-hot columns are made).
* **Numerics.** ``sigmoid`` never overflows (the book's form warns for ``z < -709``);
  ``evaluate`` takes the argmax of the output layer over the whole set in one pass.
* The network also saves itself in mlp's safetensors format (:meth:`Network.save_checkpoint`,
  :func:`load_checkpoint`).
"""

from __future__ import annotations

from ._engine import QUADRATIC, EngineNetwork, from_checkpoint, sigmoid, sigmoid_prime

__all__ = ["Network", "load_checkpoint", "sigmoid", "sigmoid_prime"]


class Network(EngineNetwork):
    """A feedforward network of sigmoid neurons trained on the quadratic cost (the book's chapter 1).

    Parameters
    ----------
    sizes : list of int
        Neurons per layer, input layer first, e.g. ``[784, 30, 10]``.
    backend : str or None, keyword-only
        An mlp backend name; None: ``MLP_BACKEND``, else NumPy.
    dtype : {"float32", "float64"}, keyword-only
        The engine's floating type (the book's code is float64).

    Weights and biases are drawn N(0, 1) from the global ``np.random``: biases first, then
    weights, layer by layer, as the book draws them.
    """

    def __init__(self, sizes, *, backend=None, dtype="float32"):
        self._setup(sizes, backend, dtype)
        self._draw(scale_by_fan_in=False)

    def _cost_kind(self):
        return QUADRATIC

    def feedforward(self, a):
        """The output activations ``(n_out, 1)`` for an input column ``a`` ``(n_in, 1)``.

        A matrix of columns ``(n_in, k)`` gives ``(n_out, k)``, as the book's code does.
        """
        return self._feedforward(a)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train with mini-batch stochastic gradient descent; returns None.

        Parameters
        ----------
        training_data : list of (x, y)
            ``x`` a ``(n_in, 1)`` column, ``y`` the ``(n_out, 1)`` target column.  Shuffled in
            place with ``random.shuffle`` at the start of every epoch.
        epochs, mini_batch_size : int
        eta : float
            The learning rate.
        test_data : list of (x, label) or None
            If given (and not empty), prints ``Epoch j: correct / n`` after each epoch;
            otherwise ``Epoch j complete``.
        """
        if test_data is not None and not isinstance(test_data, (list, tuple)):
            test_data = list(test_data)  # a Python 3 zip: no len(), and it could be read only once
        test = self._dataset(test_data, "test_data") if test_data else None
        n_test = len(test_data) if test_data else 0

        def after_epoch(j):
            if test is not None:
                print("Epoch {0}: {1} / {2}".format(j, self._correct(test), n_test), flush=True)
            else:
                print("Epoch {0} complete".format(j), flush=True)

        own = type(self).update_mini_batch is Network.update_mini_batch
        self._epochs(
            training_data,
            epochs,
            mini_batch_size,
            eta,
            0.0,
            after_epoch,
            update=None if own else (lambda batch: self.update_mini_batch(batch, eta)),
        )

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on ``mini_batch`` (a list of ``(x, y)``), learning rate ``eta``.

        ``w -> w - (eta / m) * sum of the examples' gradients`` (the same for biases), as one
        matrix through the engine.
        """
        self._update(mini_batch, eta, 0.0, own_backprop=type(self).backprop is Network.backprop)

    def backprop(self, x, y):
        """``(nabla_b, nabla_w)``: the gradient of the cost ``C_x`` of one example, layer by layer.

        Shaped like ``biases`` and ``weights``; computed by the engine on a one-row matrix.
        """
        return self._backprop(x, y)

    def evaluate(self, test_data):
        """How many ``(x, label)`` pairs the network classifies correctly (argmax of the output layer)."""
        return self._correct(self._dataset(test_data, "test_data"))

    def cost_derivative(self, output_activations, y):
        """``dC_x / da`` for the quadratic cost: ``output_activations - y``."""
        return output_activations - y


def load_checkpoint(filename, *, backend=None):
    """A :class:`Network` from a file written by :meth:`Network.save_checkpoint` (mlp's safetensors format)."""

    def make(sizes, cost, dtype):
        if cost != "QuadraticCost":
            raise ValueError(
                f"{filename}: a {cost} network; network.py trains the quadratic cost only "
                f"(use mlp.book.network2.load_checkpoint)"
            )
        net = Network.__new__(Network)
        net._setup(sizes, backend, dtype)
        return net

    return from_checkpoint(Network, filename, backend, make)
