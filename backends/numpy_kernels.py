"""NumPy fast paths: the reference kernels' maths with fewer, cheaper NumPy calls.

A mixin over :class:`mlp.core.kernels.Kernels` (combined by ``mlp.core.kernels.get_kernels``).
Each method computes what the reference computes, in the same order of
floating-point operations where that is possible, so results agree bit for bit
or to rounding; the parity tests run both and compare (``tests/backends/test_fast_paths.py``
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
* ``np.dot`` (without its ``__array_function__`` dispatcher) rather than
  ``np.matmul`` for 2-d products (the same BLAS call, less dispatch), except a
  weight gradient written into the model's buffer: ``np.dot`` zero-fills an
  ``out=`` before BLAS overwrites it, ``np.matmul`` does not; and sums over the
  batch (bias gradients, softmax row sums) as a BLAS product with a vector of
  ones instead of a reduction whose inner loop restarts for every row.

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

#: ``np.dot`` without its ``__array_function__`` dispatch (these kernels only ever see NumPy arrays): the
#: dispatcher's check costs more than a small product's arithmetic on a mini-batch of 10
_dot = getattr(np.dot, "_implementation", np.dot)


class _Constants(dict):
    """``constants[value, dtype]``: ``value`` as a read-only 0-d array of ``dtype``, made on first use.

    A dict subscript, not a method call: the hot kernels look up several a step, and a Python call costs more
    than the lookup.
    """

    def __missing__(self, key):
        value, dtype = key
        if len(self) >= _MAX_CONSTANTS:
            self.clear()
        c = np.full((), value, dtype=dtype)
        c.flags.writeable = False
        self[key] = c
        return c


class NumpyKernels:
    def __init__(self, backend):
        super().__init__(backend)
        self._k = _Constants()
        self._ones_cache = {}

    # -- helpers ---------------------------------------------------------------------------
    def _c(self, value, dtype):
        """``value`` as a read-only 0-d array of ``dtype`` (cached; the kernels use ``self._k[value, dtype]``)."""
        return self._k[value, dtype]

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
        Z = _dot(X, W)
        Z += b
        return Z

    def linear_backward(self, X, W, dZ, need_dX=True, dW=None, db=None):
        # dW/db are the model's own gradient buffers when given: filled in place and returned.  dW by
        # np.matmul, which hands BLAS the buffer as it is; np.dot zero-fills its out= first (a pass over every
        # weight each step: 19 M of an epoch's 150 M instructions on the book's network, by callgrind)
        if dW is None:
            dW = _dot(X.T, dZ)
        elif dW.dtype == dZ.dtype == X.dtype and dW.flags.c_contiguous and dW.shape == (X.shape[1], dZ.shape[1]):
            np.matmul(X.T, dZ, out=dW)
        else:  # a direct caller's buffer of another dtype, layout or shape (the model's never are): left alone
            dW = _dot(X.T, dZ)
        ones = self._ones(dZ.shape[0], dZ.dtype)
        if db is None:
            db = _dot(ones, dZ)
        else:
            try:
                _dot(ones, dZ, db)
            except ValueError:  # np.dot's out= takes only a C-contiguous array of the exact dtype
                db = _dot(ones, dZ)
        return (_dot(dZ, W.T) if need_dX else None), dW, db

    # -- activations -----------------------------------------------------------------------
    def sigmoid_forward(self, Z):
        half = self._k[0.5, Z.dtype]
        A = np.multiply(Z, half)
        np.tanh(A, out=A)
        A *= half
        A += half
        return A

    def sigmoid_backward(self, Z, A, dA):
        t = np.subtract(self._k[1.0, A.dtype], A)
        t *= A
        t *= dA
        return t

    def tanh_forward(self, Z):
        return np.tanh(Z)

    def tanh_backward(self, Z, A, dA):
        t = np.multiply(A, A)
        np.subtract(self._k[1.0, A.dtype], t, out=t)
        t *= dA
        return t

    def relu_forward(self, Z):
        return np.maximum(Z, self._k[0.0, Z.dtype])

    def relu_backward(self, Z, A, dA):
        return np.multiply(dA, Z > 0)

    # -- losses ----------------------------------------------------------------------------
    def quadratic_forward(self, Y, T):
        D = np.subtract(Y, T)
        flat = D.reshape(-1)
        return np.asarray(0.5 * _dot(flat, flat) / Y.shape[0]), D

    def quadratic_backward(self, D, T):
        return np.multiply(D, self._k[1.0 / D.shape[0], D.dtype])

    def softmax_ce_forward(self, Y, T):
        n, k = Y.shape
        # Row maxima over a few columns: a reduction along C-ordered rows restarts its inner
        # loop for every row; on a column-major copy it is one vectorised pass per column.
        m = np.maximum.reduce(np.asfortranarray(Y) if k <= 64 else Y, axis=1)
        S = np.subtract(Y, m[:, None])
        E = np.exp(S)
        s = _dot(E, self._ones(k, E.dtype))[:, None]  # row sums as a BLAS product
        E /= s
        np.log(s, out=s)
        S -= s  # S becomes log(softmax(Y))
        loss = -_dot(T.reshape(-1), S.reshape(-1)) / n
        return np.asarray(loss), E

    def _scaled_difference(self, P, T):
        G = np.subtract(P, T)
        G *= self._k[1.0 / P.shape[0], G.dtype]
        return G

    softmax_ce_backward = _scaled_difference
    sigmoid_bce_backward = _scaled_difference

    # -- optimizers: the parameter and state arrays are the model's and optimizer's own flat buffers ----
    def _regularised(self, p, g, weight_decay, l1):
        k, dt = self._k, p.dtype
        if weight_decay:
            g = np.multiply(p, k[weight_decay, dt]) + g
        if l1:
            g = np.multiply(np.sign(p), k[l1, dt]) + g
        return g

    def sgd_update(self, p, g, v, lr, momentum, nesterov, weight_decay, l1=0.0):
        k, dt = self._k, p.dtype
        if weight_decay or l1:
            g = self._regularised(p, g, weight_decay, l1)
        if v is not None:
            v *= k[momentum, dt]
            v += g
            g = np.multiply(v, k[momentum, dt]) + g if nesterov else v
        step = np.multiply(g, k[lr, dt])
        p -= step
        return p, v

    def adam_update(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, t, l1=0.0):
        k, dt = self._k, p.dtype
        if weight_decay or l1:
            g = self._regularised(p, g, weight_decay, l1)
        m *= k[beta1, dt]
        m += np.multiply(g, k[1.0 - beta1, dt])
        g2 = np.multiply(g, g)
        g2 *= k[1.0 - beta2, dt]
        v *= k[beta2, dt]
        v += g2
        denom = np.sqrt(v)
        denom += eps * (1.0 - beta2**t) ** 0.5  # changes every step: a Python float, not cached
        np.divide(m, denom, out=denom)
        denom *= lr * (1.0 - beta2**t) ** 0.5 / (1.0 - beta1**t)
        p -= denom
        return p, m, v
