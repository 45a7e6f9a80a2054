"""Losses: each summed over outputs (averaged, for MSE) and averaged over the mini-batch.

With sample weights the average is weighted: ``sum(w * rows) / sum(w)`` (:meth:`Loss.rows`).

The maths is two pure functions on a model's kernels ``K``:
``loss.apply(K, Y, T) -> (0-d loss, cache)`` and ``loss.grad(K, cache, T) -> dL/dY``.
``T`` has the shape of ``Y``.

The object API on top, ``loss.forward(Y, T)`` then ``loss.backward()``, keeps the
cache of the last forward on the loss object, as a convenience for interactive use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .registry import LOSSES
from .types import Array, Cache, LossApply, LossGrad

if TYPE_CHECKING:
    from .kernels import Kernels


class Loss:
    """Base class; subclasses name the kernels that compute them in :meth:`kernels`."""

    #: what the model's raw outputs mean for this loss: "values", "logits" or "sigmoid logits"
    output = "values"
    #: the task a loss is made for by default
    task = "classification"

    def __init__(self) -> None:
        self._bound: Kernels | None = None
        self._key: tuple[type, Any] | None = None
        self._K: Kernels | None = None
        self._cache: Cache = None
        self._T: Array | None = None

    # -- pure maths -------------------------------------------------------------------------
    def kernels(self, K: Kernels) -> tuple[LossApply, LossGrad, Any]:
        """``(forward, backward, rows)``: the methods of ``K`` for this loss, ``forward(Y, T) -> (loss, cache)``,
        ``backward(cache, T) -> dL/dY`` and ``rows(Y, T) -> per-sample losses``."""
        raise NotImplementedError(f"{type(self).__name__} names no kernels: define kernels(self, K)")

    def apply(self, K: Kernels, Y: Array, T: Array) -> tuple[Array, Cache]:
        """``(loss, cache)`` for outputs ``Y`` and targets ``T`` (both ``(n_samples, n_out)``) on kernels ``K``."""
        forward, _, _ = self.kernels(K)
        return forward(Y, T)

    def grad(self, K: Kernels, cache: Cache, T: Array) -> Array:
        """dL/dY from :meth:`apply`'s ``cache``."""
        _, backward, _ = self.kernels(K)
        return backward(cache, T)

    def functions(self, K: Kernels) -> tuple[LossApply, LossGrad]:
        """``(apply, grad)`` bound to ``K`` (the kernel methods looked up once)."""
        forward, backward, _ = self.kernels(K)
        return forward, backward

    def rows(self, K: Kernels, Y: Array, T: Array) -> Array:
        """Per-sample losses ``(n_samples,)``: :meth:`apply`'s loss is their mean (a weighted mean weights them)."""
        _, _, rows = self.kernels(K)
        return rows(Y, T)

    # -- object API ---------------------------------------------------------------------------
    def bind(self, K: Kernels) -> Loss:
        """Use a model's kernels ``K`` (its fast paths, or the reference if it chose that).

        An unbound loss uses the default kernels of whatever backend its arrays are on.
        Returns self.
        """
        self._bound, self._key = K, None
        return self

    @property
    def K(self) -> Kernels | None:
        """The kernels the last :meth:`forward` used (None before any)."""
        return self._K if self._K is not None else self._bound

    def check(self, Y: Array, T: Array) -> None:
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

    def kernels_for(self, Y: Array) -> Kernels:
        """The kernels for ``Y``: the bound model's when ``Y`` is on its backend, else its backend's defaults."""
        key, K = (type(Y), Y.device), self._K
        if key != self._key or K is None:  # kernels follow the arrays' backend (a model may have moved)
            if self._bound is not None and self._bound.backend.owns(Y):
                K = self._bound
            else:
                from mlp.backends import backend_of

                from .kernels import get_kernels

                K = get_kernels(backend_of(Y))
            self._K, self._key = K, key
        return K

    def forward(self, Y: Array, T: Array) -> Array:
        """The loss as a 0-d array (and remember what :meth:`backward` needs)."""
        self.check(Y, T)
        K = self.kernels_for(Y)
        loss, self._cache = self.apply(K, Y, T)
        self._T = T
        return loss

    def backward(self) -> Array:
        """dL/dY for the last :meth:`forward`."""
        if self._cache is None or self._K is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward()")
        return self.grad(self._K, self._cache, self._T)

    def _mismatch(self, Y: Array, T: Array) -> str:
        from .util import describe

        return (
            f"{type(self).__name__}: targets T are {describe(T)} but the outputs Y are {describe(Y)}; "
            f"put T on the model's backend first (model.backend.asarray(T, dtype=...))"
        )

    def config(self) -> dict[str, Any]:
        return {"type": type(self).__name__}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@LOSSES.register("quadratic")
class Quadratic(Loss):
    """Mean over the batch of ``1/2 * sum((y - t)**2)``: the book's quadratic cost."""

    def kernels(self, K: Kernels) -> tuple[LossApply, LossGrad, Any]:
        return K.quadratic_forward, K.quadratic_backward, K.quadratic_rows


@LOSSES.register("mse", "mean_squared_error", "squared_error")
class MeanSquaredError(Loss):
    """Mean over the batch and the outputs of ``(y - t)**2``: the regression loss (identity outputs)."""

    task = "regression"

    def kernels(self, K: Kernels) -> tuple[LossApply, LossGrad, Any]:
        return K.mse_forward, K.mse_backward, K.mse_rows


@LOSSES.register("cross_entropy", "ce", "crossentropy")
class CrossEntropy(Loss):
    """Softmax over the logits ``Y`` fused with the cross-entropy ``-sum(t * log softmax(y))``.

    Rows of ``T`` are probability distributions (one-hot for class labels).
    """

    output = "logits"

    def kernels(self, K: Kernels) -> tuple[LossApply, LossGrad, Any]:
        return K.softmax_ce_forward, K.softmax_ce_backward, K.softmax_ce_rows


@LOSSES.register("binary_cross_entropy", "bce")
class BinaryCrossEntropy(Loss):
    """Sigmoid over the logits fused with ``-sum(t log s + (1-t) log(1-s))``: the book's chapter 3 cost."""

    output = "sigmoid logits"

    def kernels(self, K: Kernels) -> tuple[LossApply, LossGrad, Any]:
        return K.sigmoid_bce_forward, K.sigmoid_bce_backward, K.sigmoid_bce_rows


def get_loss(loss: Loss | type[Loss] | str) -> Loss:
    """A loss instance from an instance, a class or a name in :data:`mlp.core.registry.LOSSES`."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    return LOSSES.get(loss)()
