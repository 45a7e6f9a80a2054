"""mlp: multilayer perceptrons with fully matrix-based mini-batch backpropagation.

Written once against the Python array API standard; the backend (NumPy, CuPy,
PyTorch, array-api-strict, JAX) is chosen with ``MLP_BACKEND`` or an explicit
``backend=`` argument (see :mod:`mlp.backends`).

The core is pure: :func:`make_step` gives one training step as a function of arrays,
:func:`train_step` runs it on a model, and :func:`fit` is a short loop over it.
"""

import importlib.util as _importlib_util
import os as _os
import sys as _sys


def _source_checkout_backends():
    """In a source checkout without an install, find the repository's ``backends/`` as ``mlp.backends``.

    An installed mlp (``pip install .`` or ``-e .``) maps the folder itself (``package-dir`` in pyproject.toml);
    this covers ``python -m pytest`` run in a checkout, which imports the checkout's ``mlp/`` first.
    """
    if _importlib_util.find_spec(__name__ + ".backends") is not None:
        return
    folder = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "backends")
    init = _os.path.join(folder, "__init__.py")
    if not _os.path.isfile(init):
        return
    spec = _importlib_util.spec_from_file_location(__name__ + ".backends", init, submodule_search_locations=[folder])
    module = _importlib_util.module_from_spec(spec)
    _sys.modules[spec.name] = module
    spec.loader.exec_module(module)


_source_checkout_backends()

from mlp import backends, datasets, errors, tables  # noqa: E402  (backends imports no array library until one is selected)
from mlp.backends import get_backend  # noqa: E402
from mlp.backends import use as use_backend  # noqa: E402
from mlp.core.errors import CheckpointError, DataError, DivergenceError, DownloadError, MLPError, TrainingInterrupted  # noqa: E402
from mlp.core.gradcheck import gradcheck  # noqa: E402
from mlp.core.kernels import Kernels, get_kernels  # noqa: E402
from mlp.core.layers import (  # noqa: E402
    Dropout,
    Embedding,
    Identity,
    Layer,
    LeakyReLU,
    Linear,
    OneHot,
    PeriodicEmbedding,
    ReLU,
    Sigmoid,
    StepContext,
    Tanh,
)
from mlp.core.losses import BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, Quadratic, get_loss  # noqa: E402
from mlp.core.model import Sequential, build_mlp  # noqa: E402
from mlp.core.optim import SGD, Adam, AdamW, Optimizer  # noqa: E402
from mlp.core.schedules import Cosine, InverseScaling, Schedule, Warmup  # noqa: E402
from mlp.core.step import make_step, train_step  # noqa: E402
from mlp.core.version import __version__  # noqa: E402
from mlp.io.checkpoint import Checkpoint, CheckpointNotFoundError, load, load_checkpoint, save  # noqa: E402
from mlp.io.onnx import export_onnx  # noqa: E402  (onnx is imported only when it is called)
from mlp.train.callbacks import (  # noqa: E402
    Callback,
    EarlyStopping,
    FitState,
    HalveOnPlateau,
    History,
    ModelCheckpoint,
    Resume,
)
from mlp.train.loop import evaluate, fit, l1_strength, l2_weight_decay  # noqa: E402

__all__ = [
    "backends",
    "get_backend",
    "use_backend",
    "tables",
    "errors",
    "Adam",
    "AdamW",
    "Cosine",
    "InverseScaling",
    "Schedule",
    "Warmup",
    "Checkpoint",
    "CheckpointNotFoundError",
    "Callback",
    "EarlyStopping",
    "FitState",
    "HalveOnPlateau",
    "History",
    "ModelCheckpoint",
    "Resume",
    "evaluate",
    "export_onnx",
    "fit",
    "l1_strength",
    "l2_weight_decay",
    "make_step",
    "train_step",
    "MeanSquaredError",
    "StepContext",
    "load",
    "load_checkpoint",
    "CheckpointError",
    "DataError",
    "DivergenceError",
    "DownloadError",
    "Dropout",
    "Embedding",
    "OneHot",
    "PeriodicEmbedding",
    "MLPError",
    "BinaryCrossEntropy",
    "CrossEntropy",
    "Identity",
    "Kernels",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Loss",
    "Optimizer",
    "Quadratic",
    "ReLU",
    "SGD",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "TrainingInterrupted",
    "build_mlp",
    "datasets",
    "get_kernels",
    "get_loss",
    "gradcheck",
    "save",
    "__version__",
]
