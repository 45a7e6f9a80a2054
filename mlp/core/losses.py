"""Losses: each summed over outputs (averaged, for MSE) and averaged over the mini-batch.

With sample weights the average is weighted: ``sum(w * rows) / sum(w)`` (:meth:`Loss.rows`).

The maths is two pure functions on a model's kernels ``K``:
``loss.apply(K, Y, T) -> (0-d loss, cache)`` and ``loss.grad(K, cache, T) -> dL/dY``.
``T`` has the shape of ``Y``.

The object API on top, ``loss.forward(Y, T)`` then ``loss.backward()``, keeps the
cache of the last forward on the loss object, as a convenience for interactive use.
"""

from __future__ import annotations

from .registry import LOSSES


class Loss:
    """Base class; subclasses name their kernels with ``kernel``."""

    kernel = ""
    #: what the model's raw outputs mean for this loss: "values", "logits" or "sigmoid logits"
    output = "values"
    #: the task a loss is made for by default
    task = "classification"

    def __init__(self):
        self._bound = self._key = self._K = None
        self._cache = self._T = None

    # -- pure maths -------------------------------------------------------------------------
    def apply(self, K, Y, T):
        """``(loss, cache)`` for outputs ``Y`` and targets ``T`` (both ``(n_samples, n_out)``) on kernels ``K``."""
        return getattr(K, self.kernel + "_forward")(Y, T)

    def grad(self, K, cache, T):
        """dL/dY from :meth:`apply`'s ``cache``."""
        return getattr(K, self.kernel + "_backward")(cache, T)

    def functions(self, K):
        """``(apply, grad)`` bound to ``K`` (the kernel methods looked up once)."""
        return getattr(K, self.kernel + "_forward"), getattr(K, self.kernel + "_backward")

    def rows(self, K, Y, T):
        """Per-sample losses ``(n_samples,)``: :meth:`apply`'s loss is their mean (a weighted mean weights them)."""
        return getattr(K, self.kernel + "_rows")(Y, T)

    # -- object API ---------------------------------------------------------------------------
    def bind(self, K):
        """Use a model's kernels ``K`` (its fast paths, or the reference if it chose that).

        An unbound loss uses the default kernels of whatever backend its arrays are on.
        Returns self.
        """
        self._bound, self._key = K, None
        return self

    @property
    def K(self):
        """The kernels the last :meth:`forward` used (None before any)."""
        return self._K if self._K is not None else self._bound

    def check(self, Y, T):
        """The one check that ``T`` fits ``Y``: same array type and device, shape and dtype."""
        if type(T) is not type(Y) or getattr(T, "device", None) != Y.device:
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

    def kernels_for(self, Y):
        """The kernels for ``Y``: the bound model's when ``Y`` is on its backend, else its backend's defaults."""
        key = (type(Y), Y.device)
        if key != self._key:  # kernels follow the arrays' backend (a model may have moved)
            if self._bound is not None and self._bound.backend.owns(Y):
                self._K = self._bound
            else:
                from mlp.backends import backend_of

                from .kernels import get_kernels

                self._K = get_kernels(backend_of(Y))
            self._key = key
        return self._K

    def forward(self, Y, T):
        """The loss as a 0-d array (and remember what :meth:`backward` needs)."""
        self.check(Y, T)
        K = self.kernels_for(Y)
        loss, self._cache = self.apply(K, Y, T)
        self._T = T
        return loss

    def backward(self):
        """dL/dY for the last :meth:`forward`."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return self.grad(self._K, self._cache, self._T)

    def _mismatch(self, Y, T) -> str:
        from .util import describe

        return (
            f"{type(self).__name__}: targets T are {describe(T)} but the outputs Y are {describe(Y)}; "
            f"put T on the model's backend first (model.backend.asarray(T, dtype=...))"
        )

    def config(self):
        return {"type": type(self).__name__}

    def __repr__(self):
        return f"{type(self).__name__}()"


@LOSSES.register("quadratic")
class Quadratic(Loss):
    """Mean over the batch of ``1/2 * sum((y - t)**2)``: the book's quadratic cost."""

    kernel = "quadratic"


@LOSSES.register("mse", "mean_squared_error", "squared_error")
class MeanSquaredError(Loss):
    """Mean over the batch and the outputs of ``(y - t)**2``: the regression loss (identity outputs)."""

    kernel = "mse"
    task = "regression"


@LOSSES.register("cross_entropy", "ce", "crossentropy")
class CrossEntropy(Loss):
    """Softmax over the logits ``Y`` fused with the cross-entropy ``-sum(t * log softmax(y))``.

    Rows of ``T`` are probability distributions (one-hot for class labels).
    """

    kernel = "softmax_ce"
    output = "logits"


@LOSSES.register("binary_cross_entropy", "bce")
class BinaryCrossEntropy(Loss):
    """Sigmoid over the logits fused with ``-sum(t log s + (1-t) log(1-s))``: the book's chapter 3 cost."""

    kernel = "sigmoid_bce"
    output = "sigmoid logits"


def get_loss(loss) -> Loss:
    """A loss instance from an instance, a class or a name in :data:`mlp.core.registry.LOSSES`."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    return LOSSES.get(loss)()
