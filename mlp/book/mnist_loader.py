"""The book's ``mnist_loader.py``: MNIST as ``load_data()`` and ``load_data_wrapper()`` give it.

Same names and formats as Nielsen's module:

* ``load_data()`` -> ``(training_data, validation_data, test_data)``, each a pair
  ``(images, labels)``: images a float32 array ``(n, 784)`` with pixels in ``[0, 1]``, labels
  an int64 array ``(n,)``; 50,000 training, 10,000 validation, 10,000 test images;
* ``load_data_wrapper()`` -> the same three sets as lists of ``(x, y)`` pairs, ``x`` a
  ``(784, 1)`` column; ``y`` a ``(10, 1)`` one-hot column (:func:`vectorized_result`) in the
  training list and the digit itself in the validation and test lists;
* ``vectorized_result(j)``.

Where it differs from the book, and why: the book unpickles ``../data/mnist.pkl.gz``, a
path relative to where Python runs and a format that executes code when loaded.  This
reads the four canonical MNIST files with :func:`mlp.io.datasets.load_mnist` (checked against
their SHA-256; from ``$MLP_DATA_DIR/mnist`` or ``~/.cache/mlp/mnist``, downloaded when
missing) and splits MNIST's 60,000 training images into the book's 50,000 for training
(the first ones) and 10,000 for validation (the last ones).  Pixels are the bytes divided
by 255.  Both
functions take optional ``data_dir`` and ``download`` keywords; the lists are Python 3
lists (the book's ``zip`` returned lists in Python 2).
"""

from __future__ import annotations

import numpy as np

from ._engine import one_hot_column

__all__ = ["load_data", "load_data_wrapper", "vectorized_result"]

#: images the book keeps for training; the rest of MNIST's 60,000 training images validate
N_TRAINING = 50_000


def load_data(data_dir=None, download=True):
    """MNIST as three ``(images, labels)`` pairs: training, validation and test data.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four canonical MNIST files (see :func:`mlp.io.datasets.load_mnist`).
    download : bool
        Fetch missing files from the public mirrors.

    Returns
    -------
    training_data, validation_data, test_data : tuple of (ndarray, ndarray)
        Images float32 ``(n, 784)`` in ``[0, 1]``, labels int64 ``(n,)``; n = 50,000, 10,000, 10,000.
    """
    from mlp.io.datasets import load_mnist

    (X, y), (X_test, y_test) = load_mnist(data_dir=data_dir, download=download)
    return (X[:N_TRAINING], y[:N_TRAINING]), (X[N_TRAINING:], y[N_TRAINING:]), (X_test, y_test)


def load_data_wrapper(data_dir=None, download=True):
    """MNIST in the form the networks train on: three lists of ``(x, y)`` pairs.

    ``training_data``: 50,000 pairs, ``x`` a float32 column ``(784, 1)``, ``y`` the float64
    one-hot column ``(10, 1)`` of its digit.  ``validation_data`` and ``test_data``: 10,000
    pairs each, ``y`` the digit (an integer).  Arguments as for :func:`load_data`.
    """
    training, validation, test = load_data(data_dir=data_dir, download=download)

    def columns(images):
        return [np.reshape(x, (-1, 1)) for x in images]

    training_data = list(zip(columns(training[0]), [vectorized_result(j) for j in training[1]], strict=True))
    validation_data = list(zip(columns(validation[0]), validation[1], strict=True))
    test_data = list(zip(columns(test[0]), test[1], strict=True))
    return training_data, validation_data, test_data


def vectorized_result(j):
    """A ``(10, 1)`` column with 1.0 in position ``j`` (a digit 0..9) and zeros elsewhere: a training target."""
    return one_hot_column(j, 10)
