"""Plain NumPy references for ``mlp bench``: a hand-written mini-batch loop, and the book's per-example loop.

Both train the same network from the same weights on the same batches as ``mlp.fit``;
``epoch(epoch, m)`` trains on the first ``m`` samples of ``problem`` and returns the seconds.
"""

from __future__ import annotations

import time

import numpy as np


class HandWritten:
    """A minimal mini-batch loop written straight in NumPy, the way a careful user writes one."""

    kind = "numpy loop"
    name = "numpy hand-written"
    backend, device, slow = "numpy", "cpu", False

    def __init__(self, problem, weights):
        self.problem = problem
        self.Ws = [W.copy() for W, _ in weights]
        self.bs = [b.copy() for _, b in weights]

    def epoch(self, epoch, m):
        p = self.problem
        perm = p.perm(epoch, m)
        X, T = p.X[perm], p.T[perm]
        Ws, bs, lr, n_layers, batch = self.Ws, self.bs, p.lr, len(self.Ws), p.batch
        sigmoid_hidden, quadratic = p.activation == "sigmoid", p.loss == "quadratic"
        with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z: the sigmoid is then 0
            t0 = time.perf_counter()
            for i in range(0, m, batch):
                a = X[i : i + batch]
                acts = [a]
                for W, b in zip(Ws[:-1], bs[:-1], strict=True):
                    z = a @ W + b
                    a = 1 / (1 + np.exp(-z)) if sigmoid_hidden else np.maximum(z, 0)
                    acts.append(a)
                z = a @ Ws[-1] + bs[-1]
                t = T[i : i + batch]
                if quadratic:  # sigmoid output and the book's cost
                    y = 1 / (1 + np.exp(-z))
                    delta = (y - t) * (y * (1 - y)) / len(t)
                else:  # softmax and cross-entropy
                    e = np.exp(z - z.max(axis=1, keepdims=True))
                    delta = (e / e.sum(axis=1, keepdims=True) - t) / len(t)
                for k in range(n_layers - 1, -1, -1):
                    gW = acts[k].T @ delta
                    gb = delta.sum(axis=0)
                    if k:
                        a = acts[k]
                        delta = (delta @ Ws[k].T) * (a * (1 - a) if sigmoid_hidden else (a > 0))
                    Ws[k] -= lr * gW
                    bs[k] -= lr * gb
            return time.perf_counter() - t0


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _sigmoid_prime(z):
    return _sigmoid(z) * (1 - _sigmoid(z))


class PerExample:
    """The book's network.py: backprop one example at a time, gradients summed over the mini-batch.

    Nielsen's code as written (column vectors, ``w`` of shape ``(n_out, n_in)``,
    fresh gradient lists per example), generalised to ReLU hidden layers and a
    softmax/cross-entropy output for ``mid`` and ``wide``, and keeping the dtype.
    """

    kind = "per-example"
    name = "per-example (book)"
    backend, device, slow = "numpy", "cpu", True

    def __init__(self, problem, weights):
        self.problem = problem
        self.weights = [np.ascontiguousarray(W.T) for W, _ in weights]
        self.biases = [b.reshape(-1, 1).copy() for _, b in weights]
        self.dtype = np.dtype(problem.dtype)
        sig = problem.activation == "sigmoid"
        self.act = _sigmoid if sig else (lambda z: np.maximum(z, 0))
        self.act_prime = _sigmoid_prime if sig else (lambda z: (z > 0).astype(z.dtype))

    def backprop(self, x, y):
        nabla_b = [np.zeros(b.shape, self.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, self.dtype) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        last = len(self.weights) - 1
        for k, (b, w) in enumerate(zip(self.biases, self.weights, strict=True)):
            z = np.dot(w, activation) + b
            zs.append(z)
            if k < last:
                activation = self.act(z)
            elif self.problem.loss == "quadratic":
                activation = _sigmoid(z)
            else:
                e = np.exp(z - z.max())
                activation = e / e.sum()
            activations.append(activation)
        if self.problem.loss == "quadratic":  # cost_derivative(a, y) * sigmoid_prime(z)
            delta = (activations[-1] - y) * _sigmoid_prime(zs[-1])
        else:
            delta = activations[-1] - y
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, len(self.weights) + 1):
            z = zs[-l]
            sp = self.act_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape, self.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, self.dtype) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=True)]

    def epoch(self, epoch, m):
        p = self.problem
        # the book's training data, a list of (x, y) column vectors, made before the clock starts
        data = [(p.X[j].reshape(-1, 1), p.T[j].reshape(-1, 1)) for j in p.perm(epoch, m)]
        batches = [data[k : k + p.batch] for k in range(0, m, p.batch)]
        with np.errstate(over="ignore"):
            t0 = time.perf_counter()
            for mini_batch in batches:
                self.update_mini_batch(mini_batch, p.lr)
            return time.perf_counter() - t0
