"""The built-in data sets, as ``mlp.datasets``: MNIST and Fashion-MNIST (downloaded and checked), XOR and spirals.

The names live in :mod:`mlp.io.datasets` (the loaders and the registry; the downloads in :mod:`mlp.io.download`,
the IDX format in :mod:`mlp.io.idx`); this module is their public path, so that ``import mlp.datasets`` and ``from
mlp.datasets import load_mnist`` work as ``mlp.datasets.load_mnist()`` does.  Every name is the same object as in
:mod:`mlp.io.datasets`.
"""

from mlp.io.datasets import *  # noqa: F403  (the loaders' public names: its __all__)
from mlp.io.datasets import __all__  # noqa: F401
