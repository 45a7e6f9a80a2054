"""Data sets: MNIST and Fashion-MNIST from their canonical IDX files, XOR and two spirals.

MNIST and Fashion-MNIST are read from the four canonical gzip files::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

found in ``data_dir`` if given, else in the data root ``data_root`` (the CLI's ``--data-dir``) or
``$MLP_DATA_DIR``, else in ``~/.cache/mlp/<dataset>/`` (``<dataset>`` is ``mnist`` or
``fashion-mnist``); missing ones are downloaded from :data:`MIRRORS`, and every file must match
its SHA-256 in :data:`CHECKSUMS` before it is used.  :mod:`mlp.io.download` finds, downloads
and verifies the files (its docstring tells the folder rules), :mod:`mlp.io.idx` reads the IDX
format; this module holds the loaders and the :data:`DATASETS` registry, and re-exports the
names of both (``mlp.datasets.fetch``, ``mlp.datasets.read_idx``, ...).
"""

from __future__ import annotations

import numpy as np

from mlp.core.registry import DATASETS  # filled at the end of this module
from mlp.io.download import CHECKSUMS, FILES, MIRRORS, TIMEOUT, data_folder, default_data_dir, fetch
from mlp.io.idx import load_idx_pair, read_idx

__all__ = [
    "CHECKSUMS",
    "DATASETS",
    "FILES",
    "MIRRORS",
    "TIMEOUT",
    "data_folder",
    "default_data_dir",
    "fetch",
    "load",
    "load_fashion_mnist",
    "load_idx_pair",
    "load_mnist",
    "read_idx",
    "spirals",
    "xor",
]


def _load_file_dataset(dataset, data_dir, download, progress, data_root=None):
    paths = fetch(dataset, data_dir=data_dir, download=download, progress=progress, data_root=data_root)
    train = load_idx_pair(paths[FILES[0]], paths[FILES[1]])
    test = load_idx_pair(paths[FILES[2]], paths[FILES[3]])
    return train, test


def load_mnist(data_dir=None, download=True, progress=True, data_root=None):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28 x 28.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four canonical files directly. Default ``$MLP_DATA_DIR/mnist``,
        else ``~/.cache/mlp/mnist``.
    download : bool, default True
        Download missing files from :data:`MIRRORS` (``$MLP_DATA_MIRROR`` first).
    progress : bool, default True
        Show a download progress bar.
    data_root : str or os.PathLike, optional
        A data root holding ``<dataset>/`` (see :func:`data_folder`); overrides ``MLP_DATA_DIR``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuple of numpy.ndarray
        Host arrays: X float32 ``(n, 784)`` in ``[0, 1]``, y int64 ``(n,)`` in ``0..9``.

    Raises
    ------
    mlp.core.errors.DownloadError
        Files missing and no mirror reachable (or ``download=False``).
    mlp.core.errors.DataError
        A file fails its SHA-256 check or is malformed.
    """
    return _load_file_dataset("mnist", data_dir, download, progress, data_root)


def load_fashion_mnist(data_dir=None, download=True, progress=True, data_root=None):
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test clothing images of 28 x 28.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four canonical files directly. Default
        ``$MLP_DATA_DIR/fashion-mnist``, else ``~/.cache/mlp/fashion-mnist``.
    download : bool, default True
        Download missing files from :data:`MIRRORS` (``$MLP_DATA_MIRROR`` first).
    progress : bool, default True
        Show a download progress bar.
    data_root : str or os.PathLike, optional
        A data root holding ``<dataset>/`` (see :func:`data_folder`); overrides ``MLP_DATA_DIR``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuple of numpy.ndarray
        Host arrays: X float32 ``(n, 784)`` in ``[0, 1]``, y int64 ``(n,)`` in ``0..9``.

    Raises
    ------
    mlp.core.errors.DownloadError
        Files missing and no mirror reachable (or ``download=False``).
    mlp.core.errors.DataError
        A file fails its SHA-256 check or is malformed.
    """
    return _load_file_dataset("fashion-mnist", data_dir, download, progress, data_root)


def xor():
    """The four XOR points.

    Returns
    -------
    X : numpy.ndarray
        float32, shape ``(4, 2)``: ``[0, 0], [0, 1], [1, 0], [1, 1]``.
    y : numpy.ndarray
        int64, shape ``(4,)``: ``[0, 1, 1, 0]``.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def spirals(n_samples=1000, noise=0.2, seed=0):
    """Two interleaved spirals (Lang and Witbrock's benchmark), generated on the host.

    Arm ``k`` (= the class) is the curve ``t * (cos(t + k pi), sin(t + k pi))`` for
    ``t`` in ``[0, 3 pi]`` (one and a half turns), so the arms are ``pi`` apart. Points
    are drawn with ``t = 3 pi sqrt(u)``, ``u`` uniform, which spreads them evenly along
    the arms instead of crowding the centre; Gaussian noise of standard deviation
    ``noise`` is added to each coordinate; then everything is divided by ``3 pi`` so the
    inputs lie within about ``[-1, 1]``.

    Parameters
    ----------
    n_samples : int, default 1000
        Total number of points; class 0 gets ``ceil(n_samples / 2)``, class 1 the rest.
    noise : float, default 0.2
        Standard deviation of the noise, in the units where the arms are ``pi`` apart
        (before the final scaling).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the same seed gives the same points.

    Returns
    -------
    X : numpy.ndarray
        float32, shape ``(n_samples, 2)``, in random order.
    y : numpy.ndarray
        int64, shape ``(n_samples,)``, 0 or 1.
    """
    n_samples = int(n_samples)
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    t_max = 3 * np.pi
    y = np.arange(n_samples) % 2
    t = t_max * np.sqrt(rng.random(n_samples))
    angle = t + np.pi * y
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    X += noise * rng.standard_normal((n_samples, 2))
    X /= t_max
    # Shuffled so that any contiguous split (load's 80/20) sees both classes.
    order = rng.permutation(n_samples)
    return X[order].astype(np.float32), y[order].astype(np.int64)


def load(name, data_dir=None, download=True, progress=True, data_root=None):
    """Any data set of :data:`DATASETS` by name, as a train and a test split.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "xor", "spirals"}
        Data set name.
    data_dir, download, progress, data_root
        Passed to :func:`load_mnist` / :func:`load_fashion_mnist`; ignored by the
        generated sets.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuple of numpy.ndarray
        X float32 ``(n, n_features)``, y int64 ``(n,)``. ``xor``: the test set is the
        training set. ``spirals``: :func:`spirals` with 2000 samples and seed 0, the
        first 1600 for training and the last 400 for testing.

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    return DATASETS.get(name)(data_dir=data_dir, download=download, progress=progress, data_root=data_root)


@DATASETS.register("mnist")
def _mnist(**where):
    return load_mnist(**where)


@DATASETS.register("fashion-mnist", "fashion_mnist")
def _fashion_mnist(**where):
    return load_fashion_mnist(**where)


@DATASETS.register("xor")
def _xor(**where):
    X, y = xor()
    return (X, y), (X.copy(), y.copy())


@DATASETS.register("spirals")
def _spirals(**where):
    X, y = spirals(n_samples=2000, seed=0)
    return (X[:1600], y[:1600]), (X[1600:], y[1600:])
