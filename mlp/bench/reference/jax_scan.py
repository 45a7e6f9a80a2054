"""JAX as a reference for ``mlp bench``: the epoch a JAX user writes, one jitted ``lax.scan``.

``jax.grad`` of the loss, plain SGD, the epoch's full mini-batches scanned inside one
``jax.jit``-compiled call (the short last batch, if any, as one more jitted step), from the
same weights and in the same batch order as ``mlp.fit``.  Importing this module does not
import JAX: :func:`load` does.
"""

from __future__ import annotations

import time


def load():
    """The jax module (with float64 enabled, as mlp's jax backend does), or None where JAX is not installed."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


class ScanLoop:
    """A contender of ``mlp bench``: ``epoch(epoch, m)`` trains on the first ``m`` samples, returns seconds."""

    kind = "jax"
    backend = "jax"
    device = "cpu"
    slow = False

    def __init__(self, problem, weights, jax, name="JAX jit (hand-written)"):
        jnp = jax.numpy
        self.jax, self.problem, self.name = jax, problem, name
        self.device = str(jax.devices()[0].platform)
        dtype = jnp.dtype(problem.dtype)
        self.params = [(jnp.asarray(W, dtype=dtype), jnp.asarray(b, dtype=dtype)) for W, b in weights]
        self.X = jnp.asarray(problem.X, dtype=dtype)
        self.T = jnp.asarray(problem.T, dtype=dtype)
        sigmoid_hidden, quadratic, lr = problem.activation == "sigmoid", problem.loss == "quadratic", problem.lr

        def loss_fn(params, x, t):
            a = x
            for W, b in params[:-1]:
                z = a @ W + b
                a = jax.nn.sigmoid(z) if sigmoid_hidden else jax.nn.relu(z)
            W, b = params[-1]
            z = a @ W + b
            if quadratic:  # sigmoid output, the book's cost
                return 0.5 * jnp.sum((jax.nn.sigmoid(z) - t) ** 2) / x.shape[0]
            return -jnp.sum(t * jax.nn.log_softmax(z)) / x.shape[0]

        def step(params, batch):
            x, t = batch
            loss, grads = jax.value_and_grad(loss_fn)(params, x, t)
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

        self.step = jax.jit(step)

        def epoch_fn(params, X, T):
            return jax.lax.scan(step, params, (X, T))

        self.epoch_fn = jax.jit(epoch_fn)

    def epoch(self, epoch, m):
        jnp, p = self.jax.numpy, self.problem
        bs = p.batch
        full = m // bs
        idx = jnp.asarray(p.perm(epoch, m))
        X, T = jnp.take(self.X[:m], idx, axis=0), jnp.take(self.T[:m], idx, axis=0)
        if full:
            Xs = X[: full * bs].reshape(full, bs, X.shape[1])
            Ts = T[: full * bs].reshape(full, bs, T.shape[1])
        X.block_until_ready()
        t0 = time.perf_counter()
        params = self.params
        if full:
            params, losses = self.epoch_fn(params, Xs, Ts)
        if full * bs < m:
            params, _ = self.step(params, (X[full * bs :], T[full * bs :]))
        self.jax.block_until_ready(params)
        seconds = time.perf_counter() - t0
        self.params = params
        return seconds
