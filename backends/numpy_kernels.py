"""NumPy fast paths: the reference kernels' maths with fewer, larger NumPy calls.

A mixin over :class:`mlp.kernels.Kernels` (combined by ``mlp.kernels.get_kernels``).
Each method computes what the reference computes, in the same order of
floating-point operations where that is possible, so results agree bit for bit
or to rounding; the parity tests run both and compare.  The savings:

* parameters, gradients and optimizer state live in two flat buffers (all
  weights, all biases) with per-parameter views, so an optimizer step is a few
  operations on two large arrays instead of a few per parameter;
* results go straight into their destination (``out=``) and temporaries are
  updated in place, which saves an allocation and a pass per operation.

Kernels never write into an array they did not create, except the gradient and
parameter arrays they are handed for that purpose.
"""
from __future__ import annotations

import numpy as np


class NumpyKernels:
    # -- storage ---------------------------------------------------------------------------
    def bank(self, shapes, is_weight, dtype, values=None):
        sizes = [int(np.prod(s)) for s in shapes]
        order = [i for i, w in enumerate(is_weight) if w] + [i for i, w in enumerate(is_weight) if not w]
        n_weights = sum(sizes[i] for i, w in enumerate(is_weight) if w)
        flat = np.zeros(sum(sizes), dtype=dtype)
        arrays = [None] * len(shapes)
        offset = 0
        for i in order:
            arrays[i] = flat[offset : offset + sizes[i]].reshape(shapes[i])
            offset += sizes[i]
            if values is not None:
                arrays[i][...] = values[i]  # the same float64 -> dtype rounding as asarray
        groups = [(flat[:n_weights], True), (flat[n_weights:], False)]
        return self.Bank(arrays, [(a, w) for a, w in groups if a.size])

    def assign(self, dst, src):
        np.copyto(dst, src)

    # -- dense layer -----------------------------------------------------------------------
    def linear_forward(self, X, W, b):
        Z = np.matmul(X, W)
        Z += b
        return Z

    def linear_backward(self, X, W, dZ, dW, db, need_dX=True):
        np.matmul(X.T, dZ, out=dW)
        np.add.reduce(dZ, axis=0, out=db)
        return np.matmul(dZ, W.T) if need_dX else None

    # -- activations -----------------------------------------------------------------------
    def sigmoid_forward(self, Z):
        A = np.multiply(Z, 0.5)
        np.tanh(A, out=A)
        A *= 0.5
        A += 0.5
        return A

    def sigmoid_backward(self, Z, A, dA):
        t = np.subtract(1.0, A)
        t *= A
        t *= dA
        return t

    def tanh_forward(self, Z):
        return np.tanh(Z)

    def tanh_backward(self, Z, A, dA):
        t = np.multiply(A, A)
        np.subtract(1.0, t, out=t)
        t *= dA
        return t

    def relu_forward(self, Z):
        return np.maximum(Z, 0.0)

    def relu_backward(self, Z, A, dA):
        return np.multiply(dA, Z > 0)

    # -- losses ----------------------------------------------------------------------------
    def quadratic_forward(self, Y, T):
        D = np.subtract(Y, T)
        flat = D.reshape(-1)
        return np.asarray(0.5 * np.dot(flat, flat) / Y.shape[0]), D

    def softmax_ce_forward(self, Y, T):
        S = np.subtract(Y, Y.max(axis=1, keepdims=True))
        E = np.exp(S)
        s = np.add.reduce(E, axis=1, keepdims=True)
        np.subtract(S, np.log(s), out=S)  # S becomes log(softmax(Y))
        loss = -np.dot(T.reshape(-1), S.reshape(-1)) / Y.shape[0]
        E /= s
        return np.asarray(loss), E

    def _scaled_difference(self, P, T):
        G = np.subtract(P, T)
        G *= 1.0 / P.shape[0]
        return G

    softmax_ce_backward = _scaled_difference
    sigmoid_bce_backward = _scaled_difference

    def quadratic_backward(self, D, T):
        return np.multiply(D, 1.0 / D.shape[0])

    # -- optimizers ------------------------------------------------------------------------
    def sgd_update(self, p, g, v, lr, momentum, nesterov, weight_decay):
        if weight_decay:
            g = np.multiply(p, weight_decay) + g
        if v is not None:
            v *= momentum
            v += g
            g = np.multiply(v, momentum) + g if nesterov else v
        step = np.multiply(g, lr)
        p -= step

    def adam_update(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, t):
        if weight_decay:
            g = np.multiply(p, weight_decay) + g
        m *= beta1
        m += np.multiply(g, 1.0 - beta1)
        g2 = np.multiply(g, g)
        g2 *= 1.0 - beta2
        v *= beta2
        v += g2
        denom = np.sqrt(v)
        denom += eps * (1.0 - beta2**t) ** 0.5
        np.divide(m, denom, out=denom)
        denom *= lr * (1.0 - beta2**t) ** 0.5 / (1.0 - beta1**t)
        p -= denom
