"""The exceptions mlp raises, as ``mlp.errors``: ``from mlp.errors import DataError``.

Each lives where it is raised: :mod:`mlp.core.errors` holds mlp's own kinds (``MLPError`` and those below it, and
``TrainingInterrupted``), :mod:`mlp.io.checkpoint` the missing checkpoint.  They are also the package's names
(``mlp.DataError`` is ``mlp.errors.DataError``), and each is a standard exception too (``DataError`` is a
``ValueError``), so generic ``except`` clauses keep working.
"""

from mlp.core.errors import CheckpointError, DataError, DivergenceError, DownloadError, MLPError, TrainingInterrupted
from mlp.io.checkpoint import CheckpointNotFoundError

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "DataError",
    "DivergenceError",
    "DownloadError",
    "MLPError",
    "TrainingInterrupted",
]
