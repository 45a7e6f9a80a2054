"""The maths of every layer, loss and optimizer, written once against the array API standard.

:class:`Kernels` is the reference implementation: plain array API calls on the
namespace ``xp``, functional where it can be, writing results into existing
arrays with ``a[...] = value`` where state must keep its identity (parameters,
gradients, optimizer moments).

A backend may carry a mixin class (``backend.kernels``) that overrides some of
these methods with faster, library-specific code (``out=`` buffers, fused
kernels).  :func:`get_kernels` combines the two; ``fast=False`` gives the
reference alone, which is what the parity tests compare the fast paths against.

Shapes: ``X`` is ``(n_samples, n_in)``, ``W`` is ``(n_in, n_out)``, ``b`` and
bias gradients are ``(n_out,)``; everything is batch first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass
class Bank:
    """Arrays for a list of parameter shapes, seen two ways.

    ``arrays`` holds one array per parameter (W0, b0, W1, b1, ...).  ``groups``
    holds ``(array, is_weight)`` pairs that an optimizer updates in one go: in
    the reference layout each parameter is its own group; a backend with views
    may pack all weights into one flat buffer and all biases into another, so
    that an update is a handful of large operations instead of many small ones.
    """

    arrays: list
    groups: list


class Kernels:
    """Reference kernels on an array API namespace (see the module docstring)."""

    fast = False
    Bank = Bank  # so that backend mixins can build banks without importing mlp

    def __init__(self, backend):
        self.backend = backend
        self.xp = backend.xp

    # -- storage ---------------------------------------------------------------------------
    def bank(self, shapes, is_weight, dtype, values=None):
        """Allocate arrays of ``shapes`` (zeros, or copies of the host ``values``)."""
        xp = self.xp
        arrays = []
        for i, shape in enumerate(shapes):
            if values is None:
                arrays.append(xp.zeros(shape, dtype=dtype, device=self.backend.device))
            else:
                arrays.append(self.backend.asarray(np.asarray(values[i]), dtype=dtype))
        return self.Bank(arrays, [(a, w) for a, w in zip(arrays, is_weight)])

    def assign(self, dst, src):
        """Copy ``src`` into ``dst`` keeping ``dst``'s identity."""
        dst[...] = src

    # -- dense layer -----------------------------------------------------------------------
    def linear_forward(self, X, W, b):
        """``X @ W + b``: (n, n_in) x (n_in, n_out) -> (n, n_out)."""
        return self.xp.matmul(X, W) + b

    def linear_backward(self, X, W, dZ, dW, db, need_dX=True):
        """Fill ``dW = X.T @ dZ`` and ``db = sum(dZ, axis=0)``; return ``dX = dZ @ W.T`` (or None)."""
        xp = self.xp
        self.assign(dW, xp.matmul(xp.matrix_transpose(X), dZ))
        self.assign(db, xp.sum(dZ, axis=0))
        return xp.matmul(dZ, xp.matrix_transpose(W)) if need_dX else None

    # -- activations: forward(Z) -> A; backward(Z, A, dA) -> dZ -----------------------------
    def sigmoid_forward(self, Z):
        # tanh form: no overflow for large |Z|, unlike 1 / (1 + exp(-Z))
        return 0.5 * self.xp.tanh(0.5 * Z) + 0.5

    def sigmoid_backward(self, Z, A, dA):
        return dA * (A * (1.0 - A))

    def tanh_forward(self, Z):
        return self.xp.tanh(Z)

    def tanh_backward(self, Z, A, dA):
        return dA * (1.0 - A * A)

    def relu_forward(self, Z):
        return self.xp.clip(Z, min=0.0)  # clip takes a Python scalar in every standard version; maximum only from 2024.12

    def relu_backward(self, Z, A, dA):
        return dA * self.xp.astype(Z > 0, dA.dtype)

    def leaky_relu_forward(self, Z, slope):
        return self.xp.where(Z > 0, Z, slope * Z)

    def leaky_relu_backward(self, Z, A, dA, slope):
        return self.xp.where(Z > 0, dA, slope * dA)

    # -- losses: forward(Y, T) -> (0-d loss, cache); backward(cache, T, n) -> dY ------------
    def quadratic_forward(self, Y, T):
        D = Y - T
        return 0.5 * self.xp.sum(D * D) / Y.shape[0], D

    def quadratic_backward(self, D, T):
        return D * (1.0 / D.shape[0])

    def softmax_ce_forward(self, Y, T):
        xp = self.xp
        S = Y - xp.max(Y, axis=1, keepdims=True)
        E = xp.exp(S)
        s = xp.sum(E, axis=1, keepdims=True)
        loss = -xp.sum(T * (S - xp.log(s))) / Y.shape[0]
        return loss, E / s

    def softmax_ce_backward(self, P, T):
        return (P - T) * (1.0 / P.shape[0])

    def sigmoid_bce_forward(self, Y, T):
        xp = self.xp
        # log(1 + exp(y)) - y t, written so that exp never overflows
        loss = xp.sum(xp.clip(Y, min=0.0) - Y * T + xp.log1p(xp.exp(-xp.abs(Y)))) / Y.shape[0]
        return loss, self.sigmoid_forward(Y)

    def sigmoid_bce_backward(self, S, T):
        return (S - T) * (1.0 / S.shape[0])

    # -- optimizers: update a group in place ------------------------------------------------
    def sgd_update(self, p, g, v, lr, momentum, nesterov, weight_decay):
        """PyTorch-convention SGD: ``v = momentum * v + g``; ``p -= lr * (g + momentum * v if nesterov else v)``."""
        if weight_decay:
            g = g + weight_decay * p
        if v is not None:
            self.assign(v, momentum * v + g)
            g = g + momentum * v if nesterov else v
        self.assign(p, p - lr * g)

    def adam_update(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, t):
        """Adam (Kingma & Ba) with bias correction; weight decay added to the gradient (L2)."""
        if weight_decay:
            g = g + weight_decay * p
        self.assign(m, beta1 * m + (1.0 - beta1) * g)
        self.assign(v, beta2 * v + (1.0 - beta2) * (g * g))
        step = lr * (1.0 - beta2**t) ** 0.5 / (1.0 - beta1**t)
        self.assign(p, p - step * (m / (self.xp.sqrt(v) + eps * (1.0 - beta2**t) ** 0.5)))


def fast_paths_enabled() -> bool:
    """Backend fast paths are on unless ``MLP_FAST_PATHS=0``."""
    return os.environ.get("MLP_FAST_PATHS", "1") not in ("0", "false", "no", "off")


_combined: dict = {}


def get_kernels(backend, fast: bool | None = None) -> Kernels:
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
