"""Layers: a dense :class:`Linear` layer and element-wise activations.

Every layer works on whole mini-batches, batch first: ``forward`` takes
``(n_samples, n_in)`` and caches what ``backward`` needs; ``backward`` takes
dC/dY of shape ``(n_samples, n_out)``, fills the layer's gradients (never
updating weights: an optimizer's ``step`` does that) and returns dC/dX.

Layers are bound to a backend's kernels by :class:`mlp.Sequential`; they are
not used on their own.
"""
from __future__ import annotations

import numpy as np

INITS = ("normal", "nielsen", "xavier", "he")


class Layer:
    """Base class: a step of the network with no parameters."""

    #: parameter attribute names, gradient attribute names are ``"d" + name``
    param_names: tuple = ()
    K = None  # kernels, set by Sequential (through bind)

    def bind(self, K):
        """Use the kernels ``K`` (called by :class:`mlp.Sequential` when it binds to a backend)."""
        self.K = K

    def forward(self, X):
        raise NotImplementedError

    def backward(self, dY, need_dX=True):
        raise NotImplementedError

    def config(self) -> dict:
        """A JSON-able description from which :func:`from_config` rebuilds the layer."""
        return {"type": type(self).__name__}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


class Linear(Layer):
    """Dense layer ``Y = X @ W + b``; ``W`` is ``(n_in, n_out)``, ``b`` is ``(n_out,)``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    init : {"nielsen", "normal", "xavier", "he"}
        ``normal``: weights and biases N(0, 1) (the book's chapter 1 network);
        ``nielsen``: weights N(0, 1/n_in), biases N(0, 1) (the book's chapter 3 default);
        ``xavier``: weights N(0, 2/(n_in+n_out)), biases 0;
        ``he``: weights N(0, 2/n_in), biases 0 (for ReLU networks).
    """

    param_names = ("W", "b")

    def __init__(self, n_in: int, n_out: int, init: str = "nielsen"):
        for name, v in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {v!r}")
        if init not in INITS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        self.W = self.b = self.dW = self.db = None
        self._X = None

    @property
    def shapes(self):
        return [(self.n_in, self.n_out), (self.n_out,)]

    def initial_values(self, rng: np.random.Generator):
        """Draw ``(W, b)`` on the host in float64 from ``rng`` (the same on every backend)."""
        n_in, n_out = self.n_in, self.n_out
        std = {"normal": 1.0, "nielsen": n_in**-0.5, "xavier": (2.0 / (n_in + n_out)) ** 0.5, "he": (2.0 / n_in) ** 0.5}
        W = rng.standard_normal((n_in, n_out)) * std[self.init]
        b = rng.standard_normal(n_out) if self.init in ("normal", "nielsen") else np.zeros(n_out)
        return [W, b]

    def forward(self, X):
        self._X = X
        return self.K.linear_forward(X, self.W, self.b)

    def backward(self, dY, need_dX=True):
        return self.K.linear_backward(self._X, self.W, dY, self.dW, self.db, need_dX)

    def config(self):
        return {"type": "Linear", "n_in": self.n_in, "n_out": self.n_out, "init": self.init}


class Activation(Layer):
    """An element-wise function; subclasses name their kernels with ``kernel``."""

    kernel = ""

    def bind(self, K):
        super().bind(K)
        if self.kernel:  # the kernel methods looked up once, not at every call
            self._forward_kernel = getattr(K, self.kernel + "_forward")
            self._backward_kernel = getattr(K, self.kernel + "_backward")

    def forward(self, X):
        self._Z = X
        self._A = self._forward_kernel(X)
        return self._A

    def backward(self, dY, need_dX=True):
        return self._backward_kernel(self._Z, self._A, dY)


class Sigmoid(Activation):
    """The logistic function 1 / (1 + exp(-x))."""

    kernel = "sigmoid"


class Tanh(Activation):
    """The hyperbolic tangent."""

    kernel = "tanh"


class ReLU(Activation):
    """max(x, 0)."""

    kernel = "relu"


class Identity(Activation):
    """The identity (useful as an explicit linear output)."""

    def forward(self, X):
        return X

    def backward(self, dY, need_dX=True):
        return dY


class LeakyReLU(Activation):
    """x for x > 0, else ``slope * x``."""

    def __init__(self, slope: float = 0.01):
        if isinstance(slope, bool) or not isinstance(slope, (int, float, np.integer, np.floating)) \
                or not np.isfinite(slope):
            raise ValueError(f"LeakyReLU: slope must be a finite number, got {slope!r}")
        self.slope = float(slope)

    def forward(self, X):
        self._Z = X
        return self.K.leaky_relu_forward(X, self.slope)

    def backward(self, dY, need_dX=True):
        return self.K.leaky_relu_backward(self._Z, None, dY, self.slope)

    def config(self):
        return {"type": "LeakyReLU", "slope": self.slope}


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU, "identity": Identity}
_TYPES = {cls.__name__: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, Identity)}


def from_config(cfg: dict) -> Layer:
    """Rebuild a layer from :meth:`Layer.config` (used by checkpoints)."""
    if not isinstance(cfg, dict) or cfg.get("type") not in _TYPES:
        raise ValueError(f"unknown layer description {cfg!r}; known layer types: {', '.join(_TYPES)}")
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    return _TYPES[cfg["type"]](**kwargs)
