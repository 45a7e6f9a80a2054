"""mlp: multilayer perceptrons with fully matrix-based mini-batch backpropagation.

Written once against the Python array API standard; the backend (NumPy, CuPy,
PyTorch, array-api-strict, JAX) is chosen with ``MLP_BACKEND`` or an explicit
``backend=`` argument (see :mod:`backends`).

The core is pure: :func:`make_step` gives one training step as a function of arrays,
:func:`train_step` runs it on a model, and :func:`fit` is a short loop over it.
"""
from .errors import CheckpointError, DataError, DivergenceError, DownloadError, MLPError, TrainingInterrupted
from . import datasets
from .checkpoint import Checkpoint, CheckpointNotFoundError, load, load_checkpoint, save
from .gradcheck import gradcheck
from .kernels import Kernels, get_kernels
from .layers import Dropout, Identity, Layer, LeakyReLU, Linear, ReLU, Sigmoid, StepContext, Tanh
from .losses import BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, Quadratic, get_loss
from .model import Sequential, build_mlp
from .optim import SGD, Adam, Optimizer
from .callbacks import Callback, EarlyStopping, FitState, HalveOnPlateau, History, ModelCheckpoint
from .step import make_step, train_step
from .training import evaluate, fit, l1_strength, l2_weight_decay

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "Checkpoint",
    "CheckpointNotFoundError",
    "Callback",
    "EarlyStopping",
    "FitState",
    "HalveOnPlateau",
    "History",
    "ModelCheckpoint",
    "evaluate",
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
]
