"""Your own data, as ``mlp.tables``: tables from files or data frames to a model's inputs.

The names live in :mod:`mlp.io.tables` (the table pipeline, one module per stage); this module is their public
path, so that ``import mlp.tables`` and ``from mlp.tables import load_table`` work as ``mlp.tables.load_table``
does.  Every name is the same object as in :mod:`mlp.io.tables`::

    ds = mlp.tables.load_table("patients.csv", target="diagnosis")
    train, val = mlp.tables.split_indices(len(ds), 0.2, labels=ds.y)
"""

from mlp.io.tables import *  # noqa: F403  (the pipeline's public names: its __all__)
from mlp.io.tables import __all__  # noqa: F401
