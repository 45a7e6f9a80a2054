"""The maths: kernels, layers, losses, optimizers, schedules, the model and the pure step.

Importing the package registers every built-in component (the registries in :mod:`mlp.core.registry`).
"""

from . import (  # noqa: F401  (each registers its components)
    layers,
    lbfgs,  # noqa: F401,E402  (an Optimizer subclass: after optim)
    losses,
    optim,
    schedules,
)
