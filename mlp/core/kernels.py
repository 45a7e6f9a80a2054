"""The maths of every layer, loss and optimizer, written once against the array API standard.

:class:`Kernels` is the reference implementation: plain array API calls on the
namespace ``xp``.  Every kernel is a function of arrays that returns its
results; none writes into an array it is handed.  The one convention that lets
a backend go faster without changing that contract: **callers always use the
returned arrays**.  A backend that owns its buffers may then update them in
place and return them -- NumPy's fast paths (``backends/numpy_kernels.py``)
write gradients into the flat gradient buffers the model allocated for that
(``dW=``, ``db=``) and step parameters and moments in place inside their flat
buffers -- while an immutable library (JAX) simply gets new arrays.

A backend may carry a mixin class (``backend.kernels``) that overrides some of
these methods.  :func:`get_kernels` combines the two; ``fast=False`` gives the
reference alone, which is what the parity tests compare the fast paths against.

Shapes: ``X`` is ``(n_samples, n_in)``, ``W`` is ``(n_in, n_out)``, ``b`` and
bias gradients are ``(n_out,)``; everything is batch first.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import is_
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from .types import Array, Scalar

if TYPE_CHECKING:
    from mlp.backends import Backend


@dataclass(frozen=True)
class Bank:
    """Arrays for a list of parameter shapes, seen two ways.

    ``arrays`` holds one array per parameter (W0, b0, W1, b1, ...).  ``groups``
    holds the arrays an optimizer updates in one go and ``group_is_weight`` says
    which hold weights.  In the reference layout each parameter is its own group;
    a backend with views may pack all weights into one flat buffer and all biases
    into another (``layout`` then maps each parameter to ``(group, offset, shape)``),
    so that an update is a handful of large operations instead of many small ones.

    A bank is a value: :meth:`with_groups` gives the bank for new group arrays
    (itself when the groups are the same objects, as when NumPy updated them in place).
    """

    arrays: tuple[Array, ...]
    groups: tuple[Array, ...]
    group_is_weight: tuple[bool, ...]
    layout: tuple[tuple[int, int, tuple[int, ...]], ...] | None = None  # None: group i is parameter i

    def with_groups(self, groups: Iterable[Array]) -> Bank:
        if groups is self.groups:
            return self
        groups = tuple(groups)
        old = self.groups
        if len(groups) == len(old) and all(map(is_, groups, old)):
            return self
        if self.layout is None:
            arrays = groups
        else:
            arrays = tuple(_view(groups[g], o, shape) for g, o, shape in self.layout)
        return Bank(arrays, groups, self.group_is_weight, self.layout)


def _view(flat: Array, offset: int, shape: tuple[int, ...]) -> Array:
    size = math.prod(shape)
    return flat[offset : offset + size].reshape(shape)


class Kernels:
    """Reference kernels on an array API namespace (see the module docstring)."""

    fast = False
    Bank: TypeAlias = Bank  # so that backend mixins can build banks without importing mlp

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.xp = backend.xp

    # -- storage ---------------------------------------------------------------------------
    def bank(
        self,
        shapes: Sequence[tuple[int, ...]],
        is_weight: Sequence[bool],
        dtype: Any,
        values: Sequence[Any] | None = None,
    ) -> Bank:
        """Arrays of ``shapes`` (zeros, or copies of the host ``values``), one group per parameter."""
        xp = self.xp
        arrays = []
        for i, shape in enumerate(shapes):
            if values is None:
                arrays.append(xp.zeros(shape, dtype=dtype, device=self.backend.device))
            else:
                arrays.append(self.backend.asarray(np.asarray(values[i]), dtype=dtype))
        return Bank(tuple(arrays), tuple(arrays), tuple(bool(w) for w in is_weight))

    def keep(self, a: Array) -> Array:
        """A copy of ``a`` that later steps cannot change (a snapshot for divergence roll-back).

        A library whose arrays are immutable returns ``a`` itself.
        """
        return self.xp.asarray(a, copy=True)

    # -- dense layer -----------------------------------------------------------------------
    def linear_forward(self, X: Array, W: Array, b: Array) -> Array:
        """``X @ W + b``: (n, n_in) x (n_in, n_out) -> (n, n_out)."""
        return self.xp.matmul(X, W) + b

    def linear_backward(
        self, X: Array, W: Array, dZ: Array, need_dX: bool = True, dW: Array | None = None, db: Array | None = None
    ) -> tuple[Array | None, Array, Array]:
        """``(dX, dW, db)``: ``dZ @ W.T`` (None unless ``need_dX``), ``X.T @ dZ`` and ``sum(dZ, axis=0)``.

        ``dW``/``db`` name buffers the caller owns that a backend may fill and return
        instead of allocating; the reference ignores them.
        """
        xp = self.xp
        dW = xp.matmul(xp.matrix_transpose(X), dZ)
        db = xp.sum(dZ, axis=0)
        dX = xp.matmul(dZ, xp.matrix_transpose(W)) if need_dX else None
        return dX, dW, db

    # -- activations: forward(Z) -> A; backward(Z, A, dA) -> dZ -----------------------------
    def sigmoid_forward(self, Z: Array) -> Array:
        # tanh form: no overflow for large |Z|, unlike 1 / (1 + exp(-Z))
        return 0.5 * self.xp.tanh(0.5 * Z) + 0.5

    def sigmoid_backward(self, Z: Array, A: Array, dA: Array) -> Array:
        return dA * (A * (1.0 - A))

    def tanh_forward(self, Z: Array) -> Array:
        return self.xp.tanh(Z)

    def tanh_backward(self, Z: Array, A: Array, dA: Array) -> Array:
        return dA * (1.0 - A * A)

    def relu_forward(self, Z: Array) -> Array:
        # clip takes a Python scalar in every standard version; maximum only from 2024.12
        return self.xp.clip(Z, min=0.0)

    def relu_backward(self, Z: Array, A: Array, dA: Array) -> Array:
        return dA * self.xp.astype(Z > 0, dA.dtype)

    def leaky_relu_forward(self, Z: Array, slope: float) -> Array:
        return self.xp.where(Z > 0, Z, slope * Z)

    def leaky_relu_backward(self, Z: Array, A: Array | None, dA: Array, slope: float) -> Array:
        return self.xp.where(Z > 0, dA, slope * dA)

    # -- losses: forward(Y, T) -> (0-d loss, cache); backward(cache, T) -> dY ---------------
    def quadratic_forward(self, Y: Array, T: Array) -> tuple[Array, Array]:
        D = Y - T
        return 0.5 * self.xp.sum(D * D) / Y.shape[0], D

    def quadratic_backward(self, D: Array, T: Array) -> Array:
        return D * (1.0 / D.shape[0])

    def mse_forward(self, Y: Array, T: Array) -> tuple[Array, Array]:
        D = Y - T
        return self.xp.sum(D * D) / (Y.shape[0] * Y.shape[1]), D

    def mse_backward(self, D: Array, T: Array) -> Array:
        return D * (2.0 / (D.shape[0] * D.shape[1]))

    def softmax(self, Y: Array) -> Array:
        """Row-wise softmax of logits ``(n, k)``, shifted by the row maximum so that exp never overflows."""
        xp = self.xp
        E = xp.exp(Y - xp.max(Y, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True)

    def softmax_ce_forward(self, Y: Array, T: Array) -> tuple[Array, Array]:
        xp = self.xp
        S = Y - xp.max(Y, axis=1, keepdims=True)
        E = xp.exp(S)
        s = xp.sum(E, axis=1, keepdims=True)
        loss = -xp.sum(T * (S - xp.log(s))) / Y.shape[0]
        return loss, E / s

    def softmax_ce_backward(self, P: Array, T: Array) -> Array:
        return (P - T) * (1.0 / P.shape[0])

    def sigmoid_bce_forward(self, Y: Array, T: Array) -> tuple[Array, Array]:
        xp = self.xp
        # log(1 + exp(y)) - y t, written so that exp never overflows
        loss = xp.sum(xp.clip(Y, min=0.0) - Y * T + xp.log1p(xp.exp(-xp.abs(Y)))) / Y.shape[0]
        return loss, self.sigmoid_forward(Y)

    def sigmoid_bce_backward(self, S: Array, T: Array) -> Array:
        return (S - T) * (1.0 / S.shape[0])

    # -- per-sample losses ``(n,)`` (weighted means: ``sum(w * rows) / sum(w)``) ----------------
    # Each loss above is the mean over the batch of these rows, so a weighted step scales the
    # rows of the unweighted dL/dY by ``n * w / sum(w)`` and needs no kernel of its own.
    def quadratic_rows(self, Y: Array, T: Array) -> Array:
        D = Y - T
        return 0.5 * self.xp.sum(D * D, axis=1)

    def mse_rows(self, Y: Array, T: Array) -> Array:
        D = Y - T
        return self.xp.sum(D * D, axis=1) / Y.shape[1]

    def softmax_ce_rows(self, Y: Array, T: Array) -> Array:
        xp = self.xp
        S = Y - xp.max(Y, axis=1, keepdims=True)
        return -xp.sum(T * (S - xp.log(xp.sum(xp.exp(S), axis=1, keepdims=True))), axis=1)

    def sigmoid_bce_rows(self, Y: Array, T: Array) -> Array:
        xp = self.xp
        return xp.sum(xp.clip(Y, min=0.0) - Y * T + xp.log1p(xp.exp(-xp.abs(Y))), axis=1)

    # -- optimizers: (p, g, state..., hyperparameters) -> (p, state...) ----------------------
    def _regularised(self, p: Array, g: Array, weight_decay: float, l1: float) -> Array:
        if weight_decay:
            g = g + weight_decay * p
        if l1:
            g = g + l1 * self.xp.sign(p)
        return g

    def sgd_update(
        self,
        p: Array,
        g: Array,
        v: Array | None,
        lr: Scalar,
        momentum: float,
        nesterov: bool,
        weight_decay: float,
        l1: float = 0.0,
    ) -> tuple[Array, Array | None]:
        """PyTorch-convention SGD: ``v = momentum * v + g``; ``p - lr * (g + momentum * v if nesterov else v)``.

        Returns ``(p, v)`` (``v`` is None without momentum).  ``weight_decay`` adds
        ``weight_decay * p`` to the gradient (L2), ``l1`` adds ``l1 * sign(p)`` (L1).
        """
        g = self._regularised(p, g, weight_decay, l1)
        if v is not None:
            v = momentum * v + g
            g = g + momentum * v if nesterov else v
        return p - lr * g, v

    def adam_update(
        self,
        p: Array,
        g: Array,
        m: Array,
        v: Array,
        lr: Scalar,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
        t: Scalar,
        l1: float = 0.0,
    ) -> tuple[Array, Array, Array]:
        """Adam (Kingma & Ba) with bias correction; returns ``(p, m, v)``. Regularisers as in :meth:`sgd_update`."""
        g = self._regularised(p, g, weight_decay, l1)
        m = beta1 * m + (1.0 - beta1) * g
        v = beta2 * v + (1.0 - beta2) * (g * g)
        step = lr * (1.0 - beta2**t) ** 0.5 / (1.0 - beta1**t)
        return p - step * (m / (self.xp.sqrt(v) + eps * (1.0 - beta2**t) ** 0.5)), m, v


def fast_paths_enabled() -> bool:
    """Backend fast paths are on unless ``MLP_FAST_PATHS=0``."""
    return os.environ.get("MLP_FAST_PATHS", "1") not in ("0", "false", "no", "off")


_combined: dict[type, type[Kernels]] = {}


def get_kernels(backend: Backend, fast: bool | None = None) -> Kernels:
    """Kernels for ``backend``: its fast-path mixin over the reference, or the reference alone.

    Parameters
    ----------
    backend : backends.Backend
    fast : bool or None
        ``False`` for the reference kernels only; ``None`` reads ``MLP_FAST_PATHS``.
    """
    if fast is None:
        fast = fast_paths_enabled()
    mixin = backend.kernels if fast else None
    if mixin is None:
        return Kernels(backend)
    if mixin not in _combined:
        _combined[mixin] = type(mixin.__name__, (mixin, Kernels), {"fast": True})
    return _combined[mixin](backend)
