"""mlp: multilayer perceptrons with fully matrix-based mini-batch backpropagation.

Written once against the Python array API standard; the backend (NumPy, CuPy,
PyTorch, array-api-strict) is chosen with ``MLP_BACKEND`` or an explicit
``backend=`` argument (see :mod:`backends`).
"""
from .errors import CheckpointError, DataError, DivergenceError, DownloadError, MLPError, TrainingInterrupted
from . import datasets
from .checkpoint import Checkpoint, CheckpointNotFoundError, load, load_checkpoint, save
from .gradcheck import gradcheck
from .kernels import Kernels, get_kernels
from .layers import Identity, Layer, LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from .losses import BinaryCrossEntropy, CrossEntropy, Loss, Quadratic, get_loss
from .model import Sequential, build_mlp
from .optim import SGD, Adam, Optimizer
from .training import (Callback, EarlyStopping, FitState, HalveOnPlateau, History, ModelCheckpoint, evaluate, fit,
                       l2_weight_decay)

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
    "l2_weight_decay",
    "load",
    "load_checkpoint",
    "CheckpointError",
    "DataError",
    "DivergenceError",
    "DownloadError",
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
