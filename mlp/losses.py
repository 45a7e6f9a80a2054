"""Losses: each summed over outputs and averaged over the mini-batch.

``forward(Y, T)`` returns the loss as a 0-d array; ``backward()`` returns dL/dY
for the last ``forward``.  ``T`` has the shape of ``Y``.
"""
from __future__ import annotations


class Loss:
    """Base class; subclasses name their kernels with ``kernel``."""

    kernel = ""
    #: what the model's raw outputs mean for this loss: "values", "logits" or "sigmoid logits"
    output = "values"

    def __init__(self):
        self.K = self._key = None
        self._cache = self._T = None

    def forward(self, Y, T):
        if tuple(Y.shape) != tuple(T.shape):
            raise ValueError(
                f"{type(self).__name__}: targets T of shape {tuple(T.shape)} do not match "
                f"the outputs Y of shape {tuple(Y.shape)}"
            )
        key = (type(Y), Y.device)
        if key != self._key:  # kernels follow the arrays' backend (a model may have moved)
            from ._util import backend_of
            from .kernels import get_kernels

            self.K, self._key = get_kernels(backend_of(Y)), key
        loss, self._cache = getattr(self.K, self.kernel + "_forward")(Y, T)
        self._T = T
        return loss

    def backward(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return getattr(self.K, self.kernel + "_backward")(self._cache, self._T)

    def config(self):
        return {"type": type(self).__name__}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Quadratic(Loss):
    """Mean over the batch of ``1/2 * sum((y - t)**2)``: the book's quadratic cost."""

    kernel = "quadratic"


class CrossEntropy(Loss):
    """Softmax over the logits ``Y`` fused with the cross-entropy ``-sum(t * log softmax(y))``.

    Rows of ``T`` are probability distributions (one-hot for class labels).
    """

    kernel = "softmax_ce"
    output = "logits"


class BinaryCrossEntropy(Loss):
    """Sigmoid over the logits fused with ``-sum(t log s + (1-t) log(1-s))``: the book's chapter 3 cost."""

    kernel = "sigmoid_bce"
    output = "sigmoid logits"


LOSSES = {"quadratic": Quadratic, "cross_entropy": CrossEntropy, "binary_cross_entropy": BinaryCrossEntropy}


def get_loss(loss) -> Loss:
    """A loss instance from an instance, a class or a name in :data:`LOSSES`."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    key = str(loss).lower().replace("-", "_")
    aliases = {"mse": "quadratic", "ce": "cross_entropy", "crossentropy": "cross_entropy", "bce": "binary_cross_entropy"}
    key = aliases.get(key, key)
    if key not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[key]()
