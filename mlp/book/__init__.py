"""Nielsen's *Neural Networks and Deep Learning* code, chapters 1-3, on the matrix engine.

Three modules mirror the book's three, name for name: :mod:`mlp.book.network` (chapter 1),
:mod:`mlp.book.network2` (chapter 3) and :mod:`mlp.book.mnist_loader`.  The book's sessions
run with one line changed, the import::

    from mlp.book import network, network2, mnist_loader

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

Each mini-batch goes through :class:`mlp.Sequential` as one matrix, on any backend
(``MLP_BACKEND``), in float32 unless ``dtype="float64"`` is asked for.  Each module's
docstring lists where it differs from the book and why.

A list of pairs is converted to matrices once: the last few converted are kept while the same
list (the same pair objects, in the order ``SGD`` last left them) comes back, so later epochs and
later networks on it skip the conversion.  :func:`clear_cache` forgets them and frees their memory.
"""

from . import mnist_loader, network, network2
from ._engine import clear_cache

__all__ = ["clear_cache", "mnist_loader", "network", "network2"]
