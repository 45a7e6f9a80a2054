"""The benchmark's problems: the networks (:data:`CONFIGS`), the run lengths, the data and the start.

Every contender trains the same :class:`Problem` (one configuration on one data set) from the same
:func:`initial_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the benchmark's networks; ``book`` is the book's chapter 1 network
CONFIGS = {
    "book": dict(sizes=[784, 30, 10], activation="sigmoid", loss="quadratic", batch=10, lr=3.0, init="normal"),
    "mid": dict(sizes=[784, 100, 10], activation="relu", loss="cross_entropy", batch=64, lr=0.05, init="he"),
    "wide": dict(sizes=[784, 1024, 1024, 10], activation="relu", loss="cross_entropy", batch=256, lr=0.05, init="he"),
}
EPOCH_SAMPLES = 50_000
DEFAULTS = dict(samples=EPOCH_SAMPLES, epochs=5, warmup=1, matmul_size=2048, budget=1.0, data="auto")
QUICK = dict(samples=600, epochs=2, warmup=1, matmul_size=256, budget=0.02, data="random")

REFERENCE = "mlp numpy (reference kernels)"
HANDWRITTEN = "numpy hand-written"
PYTORCH = "PyTorch eager"
PER_EXAMPLE = "per-example (book)"
JAX_SCAN = "JAX jit (hand-written)"
SKLEARN = "scikit-learn MLPClassifier"
#: ``--baselines`` names -> what they add
BASELINES = {
    "reference": REFERENCE,
    "handwritten": HANDWRITTEN,
    "pytorch": PYTORCH,
    "jax": JAX_SCAN,
    "sklearn": SKLEARN,
    "per-example": PER_EXAMPLE,
}


def load_data(kind, samples, data_dir=None, seed=0):
    """``(X, y, source)``: the first ``samples`` MNIST training images, or random data of that shape."""
    if kind in ("auto", "mnist"):
        try:
            from mlp.io.datasets import load_mnist

            (X, y), _ = load_mnist(data_dir=data_dir, download=False, progress=False)
        except Exception as e:  # files absent or broken: say so, and use random data when allowed
            if kind == "mnist":
                raise
            reason = " ".join(str(e).split())
            reason = reason if len(reason) <= 120 else reason[:117] + "..."
        else:
            if samples > len(X):
                idx = np.arange(samples) % len(X)
                return X[idx], y[idx], f"MNIST training images ({len(X):,}, repeated to {samples:,})"
            return X[:samples], y[:samples], f"MNIST training images (the first {samples:,})"
    else:
        reason = "--data random"
    rng = np.random.default_rng(seed)
    X = rng.random((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    return X, y, f"random data of MNIST's shape ({reason})"


@dataclass
class Problem:
    """One configuration on one data set: what every contender trains."""

    name: str
    sizes: list
    activation: str
    loss: str
    batch: int
    lr: float
    init: str
    dtype: str
    seed: int
    X: np.ndarray  # host, dtype
    y: np.ndarray  # int64 labels
    T: np.ndarray  # host one-hot targets, dtype

    @classmethod
    def make(cls, name, X, y, dtype="float32", seed=0):
        cfg = CONFIGS[name]
        X = np.ascontiguousarray(X, dtype=dtype)
        return cls(
            name,
            cfg["sizes"],
            cfg["activation"],
            cfg["loss"],
            cfg["batch"],
            cfg["lr"],
            cfg["init"],
            dtype,
            seed,
            X,
            y,
            np.eye(cfg["sizes"][-1], dtype=dtype)[y],
        )

    @property
    def flops_per_sample(self):
        return 6 * sum(a * b for a, b in zip(self.sizes, self.sizes[1:], strict=False))

    def perm(self, epoch, m):
        """The permutation :func:`mlp.fit` uses for an epoch of ``m`` samples."""
        return np.random.default_rng((self.seed, epoch)).permutation(m)


def build_model(problem, backend, fast=None):
    """The network of ``problem`` (see :func:`mlp.core.model.build_mlp`)."""
    from mlp.core.model import build_mlp

    return build_mlp(
        problem.sizes, problem.activation, problem.loss, problem.init, backend, problem.dtype, problem.seed, fast
    )


def initial_weights(problem):
    """The ``[(W, b), ...]`` every contender starts from (``W`` is ``(n_in, n_out)``), from the mlp model."""
    state = build_model(problem, "numpy").state_dict()
    return [(state[f"W{i}"].copy(), state[f"b{i}"].copy()) for i in range(len(problem.sizes) - 1)]
