"""NumPy fast paths: the reference kernels' maths with fewer, cheaper NumPy calls.

A mixin over :class:`mlp.core.kernels.Kernels` (combined by ``mlp.core.kernels.get_kernels``).
Each method computes what the reference computes, in the same order of
floating-point operations where that is possible, so results agree bit for bit
or to rounding; the parity tests run both and compare (``tests/test_fast_paths.py``
compares every method here with its reference on the same inputs).  The savings,
each measured (see ``docs/benchmarks.md``):

* parameters, gradients and optimizer state live in two flat buffers (all
  weights, all biases) with per-parameter views, so an optimizer step is a few
  operations on two large arrays instead of a few per parameter;
* results go straight into their destination (``out=``) and temporaries are
  updated in place, which saves an allocation and a pass per operation;
* scalars are cached 0-d arrays of the data's dtype: NumPy resolves a Python
  float operand (a "weak" scalar) on every call, which costs more than the
  arithmetic on a small mini-batch, while an array operand of the right dtype
  takes the direct path; the rounding is the same (the float is rounded to the
  array's dtype either way);
* ``np.dot`` rather than ``np.matmul`` for 2-d products (the same BLAS call,
  less dispatch), and sums over the batch (bias gradients, softmax row sums)
  as a BLAS product with a vector of ones instead of a reduction whose inner
  loop restarts for every row.

Kernels return their results, as the reference does (callers always use the
returned arrays).  The only arrays they write into are buffers the model and the
optimizer allocated for exactly that and hand over: the flat gradient buffers
(``dW=``/``db=`` of ``linear_backward``) and the flat parameter and moment
buffers of an update, which are changed in place and returned.
"""
from __future__ import annotations

import numpy as np

#: cached constants beyond this many are dropped (a learning-rate schedule makes new ones)
_MAX_CONSTANTS = 512


class NumpyKernels:
    def __init__(self, backend):
        super().__init__(backend)
        self._constants = {}
        self._ones_cache = {}

    # -- helpers ---------------------------------------------------------------------------
    def _c(self, value, dtype):
        """``value`` as a read-only 0-d array of ``dtype`` (cached)."""
        key = (value, dtype)
        c = self._constants.get(key)
        if c is None:
            if len(self._constants) >= _MAX_CONSTANTS:
                self._constants.clear()
            c = np.full((), value, dtype=dtype)
            c.flags.writeable = False
            self._constants[key] = c
        return c

    def _ones(self, n, dtype):
        """A read-only vector of ``n`` ones (a view of one cached buffer per dtype)."""
        ones = self._ones_cache.get(dtype)
        if ones is None or ones.shape[0] < n:
            ones = np.ones(max(n, 2 * (0 if ones is None else ones.shape[0])), dtype=dtype)
            ones.flags.writeable = False
            self._ones_cache[dtype] = ones
        return ones[:n]

    # -- storage ---------------------------------------------------------------------------
    def bank(self, shapes, is_weight, dtype, values=None):
        sizes = [int(np.prod(s)) for s in shapes]
        order = [i for i, w in enumerate(is_weight) if w] + [i for i, w in enumerate(is_weight) if not w]
        n_weights = sum(sizes[i] for i, w in enumerate(is_weight) if w)
        flat = np.zeros(sum(sizes), dtype=dtype)
        groups = [(flat[:n_weights], True), (flat[n_weights:], False)]
        groups = [(g, w) for g, w in groups if g.size]
        layout = [None] * len(shapes)
        offset = {True: 0, False: 0}
        for i in order:
            w = bool(is_weight[i])
            g = next(k for k, (_, gw) in enumerate(groups) if gw == w)
            layout[i] = (g, offset[w], tuple(shapes[i]))
            offset[w] += sizes[i]
        arrays = [groups[g][0][o : o + int(np.prod(shape))].reshape(shape) for g, o, shape in layout]
        if values is not None:
            for a, v in zip(arrays, values, strict=True):
                a[...] = v  # the same float64 -> dtype rounding as asarray; a fresh buffer of our own
        return self.Bank(tuple(arrays), tuple(g for g, _ in groups), tuple(w for _, w in groups), tuple(layout))

    def keep(self, a):
        return a.copy()

    # -- dense layer -----------------------------------------------------------------------
    def linear_forward(self, X, W, b):
        Z = np.dot(X, W)
        Z += b
        return Z

    def linear_backward(self, X, W, dZ, need_dX=True, dW=None, db=None):
        # dW/db are the model's own gradient buffers when given: filled in place and returned
        if dW is None:
            dW = np.dot(X.T, dZ)
        else:
            try:
                np.dot(X.T, dZ, out=dW)
            except ValueError:  # np.dot's out= takes only a C-contiguous array of the exact dtype: the
                dW = np.dot(X.T, dZ)  # model's buffers always are; a direct caller's may not be (left alone)
        ones = self._ones(dZ.shape[0], dZ.dtype)
        if db is None:
            db = np.dot(ones, dZ)
        else:
            try:
                np.dot(ones, dZ, out=db)
            except ValueError:
                db = np.dot(ones, dZ)
        return (np.dot(dZ, W.T) if need_dX else None), dW, db

    # -- activations -----------------------------------------------------------------------
    def sigmoid_forward(self, Z):
        half = self._c(0.5, Z.dtype)
        A = np.multiply(Z, half)
        np.tanh(A, out=A)
        A *= half
        A += half
        return A

    def sigmoid_backward(self, Z, A, dA):
        t = np.subtract(self._c(1.0, A.dtype), A)
        t *= A
        t *= dA
        return t

    def tanh_forward(self, Z):
        return np.tanh(Z)

    def tanh_backward(self, Z, A, dA):
        t = np.multiply(A, A)
        np.subtract(self._c(1.0, A.dtype), t, out=t)
        t *= dA
        return t

    def relu_forward(self, Z):
        return np.maximum(Z, self._c(0.0, Z.dtype))

    def relu_backward(self, Z, A, dA):
        return np.multiply(dA, Z > 0)

    # -- losses ----------------------------------------------------------------------------
    def quadratic_forward(self, Y, T):
        D = np.subtract(Y, T)
        flat = D.reshape(-1)
        return np.asarray(0.5 * np.dot(flat, flat) / Y.shape[0]), D

    def quadratic_backward(self, D, T):
        return np.multiply(D, self._c(1.0 / D.shape[0], D.dtype))

    def softmax_ce_forward(self, Y, T):
        n, k = Y.shape
        # Row maxima over a few columns: a reduction along C-ordered rows restarts its inner
        # loop for every row; on a column-major copy it is one vectorised pass per column.
        m = np.maximum.reduce(np.asfortranarray(Y) if k <= 64 else Y, axis=1)
        S = np.subtract(Y, m[:, None])
        E = np.exp(S)
        s = np.dot(E, self._ones(k, E.dtype))[:, None]  # row sums as a BLAS product
        E /= s
        np.log(s, out=s)
        S -= s  # S becomes log(softmax(Y))
        loss = -np.dot(T.reshape(-1), S.reshape(-1)) / n
        return np.asarray(loss), E

    def _scaled_difference(self, P, T):
        G = np.subtract(P, T)
        G *= self._c(1.0 / P.shape[0], G.dtype)
        return G

    softmax_ce_backward = _scaled_difference
    sigmoid_bce_backward = _scaled_difference

    # -- optimizers: the parameter and state arrays are the model's and optimizer's own flat buffers ----
    def _regularised(self, p, g, weight_decay, l1):
        c, dt = self._c, p.dtype
        if weight_decay:
            g = np.multiply(p, c(weight_decay, dt)) + g
        if l1:
            g = np.multiply(np.sign(p), c(l1, dt)) + g
        return g

    def sgd_update(self, p, g, v, lr, momentum, nesterov, weight_decay, l1=0.0):
        c, dt = self._c, p.dtype
        if weight_decay or l1:
            g = self._regularised(p, g, weight_decay, l1)
        if v is not None:
            v *= c(momentum, dt)
            v += g
            g = np.multiply(v, c(momentum, dt)) + g if nesterov else v
        step = np.multiply(g, c(lr, dt))
        p -= step
        return p, v

    def adam_update(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, t, l1=0.0):
        c, dt = self._c, p.dtype
        if weight_decay or l1:
            g = self._regularised(p, g, weight_decay, l1)
        m *= c(beta1, dt)
        m += np.multiply(g, c(1.0 - beta1, dt))
        g2 = np.multiply(g, g)
        g2 *= c(1.0 - beta2, dt)
        v *= c(beta2, dt)
        v += g2
        denom = np.sqrt(v)
        denom += eps * (1.0 - beta2**t) ** 0.5  # changes every step: a Python float, not cached
        np.divide(m, denom, out=denom)
        denom *= lr * (1.0 - beta2**t) ** 0.5 / (1.0 - beta1**t)
        p -= denom
        return p, m, v
