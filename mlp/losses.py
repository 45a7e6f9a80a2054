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
        self.K = self._key = self._bound = None
        self._cache = self._T = None

    def bind(self, K):
        """Use a model's kernels ``K`` (its fast paths, or the reference if it chose that).

        An unbound loss uses the default kernels of whatever backend its arrays are on.
        Returns self.
        """
        self._bound, self._key = K, None
        return self

    def forward(self, Y, T):
        key = (type(Y), Y.device)
        if type(T) is not key[0] or getattr(T, "device", None) != key[1]:
            raise TypeError(self._mismatch(Y, T))
        if Y.shape != T.shape:
            raise ValueError(
                f"{type(self).__name__}: targets T of shape {tuple(T.shape)} do not match "
                f"the outputs Y of shape {tuple(Y.shape)}"
            )
        if T.dtype != Y.dtype:
            raise TypeError(
                f"{type(self).__name__}: targets T have dtype {str(T.dtype).rsplit('.', 1)[-1]} but the outputs Y "
                f"are {str(Y.dtype).rsplit('.', 1)[-1]}; "
                f"convert T first: dtypes are never promoted silently"
            )
        if key != self._key:  # kernels follow the arrays' backend (a model may have moved)
            if self._bound is not None and self._bound.backend.owns(Y):
                self.K = self._bound
            else:
                from ._util import backend_of
                from .kernels import get_kernels

                self.K = get_kernels(backend_of(Y))
            self._key = key
            self._forward_kernel = getattr(self.K, self.kernel + "_forward")
            self._backward_kernel = getattr(self.K, self.kernel + "_backward")
        loss, self._cache = self._forward_kernel(Y, T)
        self._T = T
        return loss

    def _mismatch(self, Y, T) -> str:
        from ._util import describe

        return (
            f"{type(self).__name__}: targets T are {describe(T)} but the outputs Y are {describe(Y)}; "
            f"put T on the model's backend first (model.backend.asarray(T, dtype=...))"
        )

    def backward(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return self._backward_kernel(self._cache, self._T)

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
