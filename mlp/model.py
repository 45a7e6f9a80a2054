"""The network: :class:`Sequential`, a stack of layers on one backend."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from backends import get_backend

from .kernels import get_kernels
from ._util import describe, to_host
from .layers import Layer, Linear, Sigmoid, from_config

DTYPES = ("float32", "float64")


def check_dtype(dtype) -> str:
    """Return ``dtype`` as ``"float32"``/``"float64"``, or raise a ValueError naming the choices."""
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.rsplit(".", 1)[-1]
    if name not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    return name


class Sequential:
    """Layers applied in order, all on one backend and one floating dtype.

    Parameters
    ----------
    layers : list of Layer
        E.g. ``[Linear(784, 30), Sigmoid(), Linear(30, 10), Sigmoid()]``.  The widths of
        consecutive ``Linear`` layers must agree; this is checked here.
    backend : str, backends.Backend or None
        Default: :func:`backends.get_backend` (``MLP_BACKEND`` or numpy).
    dtype : {"float32", "float64"}
    seed : int
        Seed of ``numpy.random.default_rng`` that draws the initial weights on the host:
        the same seed gives bit-identical initial weights on every backend.
    fast : bool or None
        Whether to use the backend's fast paths (``None``: unless ``MLP_FAST_PATHS=0``).
    """

    def __init__(self, layers, backend=None, dtype="float32", seed: int = 0, fast: bool | None = None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {layer!r}, not an mlp layer (Linear, Sigmoid, ReLU, ...)")
        linears = [(i, l) for i, l in enumerate(self.layers) if isinstance(l, Linear)]
        if not linears:
            raise ValueError("Sequential needs at least one Linear layer")
        for (i, a), (j, b) in zip(linears, linears[1:]):
            if a.n_out != b.n_in:
                raise ValueError(
                    f"layer {j} ({b!r}) expects inputs of width n_in={b.n_in}, but layer {i} ({a!r}) "
                    f"outputs width n_out={a.n_out}"
                )
        self.dtype = check_dtype(dtype)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Sequential: seed must be a non-negative integer, got {seed!r}")
        self.seed = seed
        self._fast = fast
        rng = np.random.default_rng(seed)
        host = [v for _, l in linears for v in l.initial_values(rng)]
        self._bind(get_backend(backend), host)

    # -- construction helpers -----------------------------------------------------------------
    @property
    def linears(self):
        return [l for l in self.layers if isinstance(l, Linear)]

    @property
    def sizes(self):
        """Widths of the layers, the book's ``sizes``: e.g. ``[784, 30, 10]``."""
        lin = self.linears
        return [lin[0].n_in] + [l.n_out for l in lin]

    def param_names(self):
        """Names in :meth:`state_dict` order: ``W0, b0, W1, b1, ...``."""
        return [f"{p}{i}" for i, l in enumerate(self.linears) for p in l.param_names]

    def param_shapes(self):
        return [s for l in self.linears for s in l.shapes]

    def _is_weight(self):
        return [name.startswith("W") for name in self.param_names()]

    def _bind(self, backend, host_values):
        self.backend = backend
        self.K = get_kernels(backend, self._fast)
        self.xp = backend.xp
        self._xdtype = getattr(self.xp, self.dtype)
        shapes, is_w = self.param_shapes(), self._is_weight()
        self._params = self.K.bank(shapes, is_w, self._xdtype, host_values)
        # a cheap first test of "is X one of ours?": same array type on the same device
        self._array_type, self._device = type(self._params.arrays[0]), self._params.arrays[0].device
        self._grads = self.K.bank(shapes, is_w, self._xdtype)
        p, g = iter(self._params.arrays), iter(self._grads.arrays)
        for layer in self.layers:
            layer.bind(self.K)
            for name in layer.param_names:
                setattr(layer, name, next(p))
                setattr(layer, "d" + name, next(g))
        # fixed once bound: the hot path (forward, backward, optimizer steps) reads these, not recomputed lists
        lin = self.linears
        self._n_in, self._n_out = lin[0].n_in, lin[-1].n_out
        self._first_param = next(i for i, l in enumerate(self.layers) if l.param_names)
        self._param_groups = tuple((p, g, w) for (p, w), (g, _) in zip(self._params.groups, self._grads.groups))

    # -- maths --------------------------------------------------------------------------------
    def forward(self, X):
        """Outputs for a batch ``X`` of shape ``(n_samples, n_in)`` on this model's backend."""
        self._check_input(X)
        for layer in self.layers:
            X = layer.forward(X)
        return X

    __call__ = forward

    def backward(self, dY, need_input_grad: bool = True):
        """Backpropagate dC/dY ``(n_samples, n_out)`` through the last :meth:`forward`.

        Fills every layer's gradients for the whole mini-batch (overwriting, not
        accumulating) and returns dC/dX, or None with ``need_input_grad=False``
        (which saves the first layer's input-gradient product during training).
        """
        n_out = self._n_out
        if dY.ndim != 2 or dY.shape[1] != n_out:
            raise ValueError(f"backward: dY has shape {tuple(dY.shape)}, expected (n_samples, {n_out})")
        layers, first_param = self.layers, self._first_param
        for i in range(len(layers) - 1, -1, -1):
            if i < first_param and not need_input_grad:
                return None
            dY = layers[i].backward(dY, need_dX=need_input_grad or i > first_param)
        return dY

    def _ours(self, X) -> bool:
        return (type(X) is self._array_type and X.device == self._device) or self.backend.owns(X)

    def classes(self, Y, loss=None):
        """Class labels (on the backend) from outputs ``Y`` of shape (n, n_out).

        Several outputs: the argmax.  One output (binary): 1 where the output passes 0.5 if it is a
        probability (the model ends in ``Sigmoid``, or ``loss`` compares outputs to 0/1 targets
        directly, as ``Quadratic`` does), else where the logit passes 0.
        """
        xp = self.xp
        if Y.shape[1] > 1:
            return xp.argmax(Y, axis=1)
        probability = isinstance(self.layers[-1], Sigmoid) or (loss is not None and loss.output == "values")
        return xp.astype(Y[:, 0] > (0.5 if probability else 0.0), xp.int64)

    def predict(self, X, loss=None):
        """Class predictions as a host int64 array (see :meth:`classes`).

        ``X`` may be host data of any numeric dtype: it is converted to the model's dtype.
        """
        if self._ours(X):
            if X.dtype != self._xdtype:
                X = self.xp.astype(X, self._xdtype)
        elif isinstance(X, (np.ndarray, list, tuple)):
            X = self.backend.asarray(np.asarray(X), dtype=self._xdtype)
        else:
            raise TypeError(self._foreign("input X", X))
        return self.backend.to_numpy(self.classes(self.forward(X), loss)).astype(np.int64)

    def _check_input(self, X):
        # the type test first: comparing another library's dtype with ours may warn (array-api-strict)
        if not self._ours(X):
            raise TypeError(self._foreign("input X", X))
        n_in = self._n_in
        shape = X.shape
        if len(shape) != 2 or shape[1] != n_in:
            raise ValueError(
                f"input X has shape {tuple(shape)}, but layer 0 ({self.layers[0]!r}) expects (n_samples, {n_in})"
            )
        if X.dtype != self._xdtype:
            raise TypeError(
                f"input X has dtype {X.dtype}, but the model is {self.dtype}; convert it first "
                f"(model.backend.asarray(X, dtype={self.dtype!r})): dtypes are never promoted silently"
            )

    def _foreign(self, name, X) -> str:
        """The message for ``X`` that is not an array of this model's backend."""
        if not hasattr(X, "shape") or not hasattr(X, "dtype"):
            return (
                f"{name} is {describe(X)}, not an array; the model (on the {self.backend.name} backend) "
                f"takes arrays of shape (n_samples, {self.sizes[0]}): use model.backend.asarray(X, dtype={self.dtype!r})"
            )
        return (
            f"{name} is {describe(X)}, but the model is on the {self.backend.name} backend "
            f"({self.backend.device}); use model.backend.asarray(...) or model.to(...)"
        )

    # -- parameters -----------------------------------------------------------------------------
    def parameters(self):
        """Parameter arrays on the backend, in the order W0, b0, W1, b1, ..."""
        return list(self._params.arrays)

    def gradients(self):
        """Gradient arrays from the last :meth:`backward`, in the order of :meth:`parameters`."""
        return list(self._grads.arrays)

    def param_groups(self):
        """``(param, grad, is_weight)`` triples an optimizer updates (see :class:`mlp.kernels.Bank`)."""
        return self._param_groups

    def zero_grad(self):
        for g, _ in self._grads.groups:
            self.K.assign(g, 0.0)

    def state_dict(self) -> dict:
        """Parameters as host NumPy arrays, keys ``W0, b0, W1, b1, ...`` in that order."""
        return {n: np.array(self.backend.to_numpy(p)) for n, p in zip(self.param_names(), self._params.arrays)}

    def load_state_dict(self, state: dict):
        """Copy host (or backend) arrays into the parameters, checking names, shapes and dtypes."""
        names, shapes = self.param_names(), self.param_shapes()
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict needs a dict of arrays keyed {names}, got {type(state).__name__}")
        if set(state) != set(names):
            missing, extra = sorted(set(names) - set(state)), sorted(set(state) - set(names))
            raise ValueError(f"state dict does not fit this model: missing {missing}, unexpected {extra}")
        values = []
        for name, shape in zip(names, shapes):  # check every entry before changing any parameter
            value = state[name]
            if isinstance(value, (list, tuple)):
                value = np.asarray(value)
            elif not isinstance(value, np.ndarray):
                value = to_host(value)
            if tuple(value.shape) != tuple(shape):
                raise ValueError(f"state dict entry {name} has shape {tuple(value.shape)}, the model needs {shape}")
            if value.dtype.kind != "f":
                raise ValueError(f"state dict entry {name} has dtype {value.dtype}, expected a float array")
            values.append(value)
        for value, p in zip(values, self._params.arrays):
            self.K.assign(p, self.backend.asarray(value, dtype=self._xdtype))
        return self

    def to(self, backend):
        """Move the parameters to another backend (name or Backend); returns self."""
        state = self.state_dict()
        self._bind(get_backend(backend), [state[n] for n in self.param_names()])
        return self

    def config(self) -> dict:
        """JSON-able architecture, from which :meth:`from_config` rebuilds the model."""
        return {"layers": [l.config() for l in self.layers], "dtype": self.dtype, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict, backend=None, **kw):
        layers = [from_config(c) for c in config["layers"]]
        return cls(layers, backend=backend, dtype=config.get("dtype", "float32"), seed=config.get("seed", 0), **kw)

    def __repr__(self):
        inner = ",\n  ".join(repr(l) for l in self.layers)
        return f"Sequential([\n  {inner}\n], backend={self.backend.name!r}, dtype={self.dtype!r})"



def build_mlp(sizes, activation="relu", loss=None, init="he", backend=None, dtype="float32", seed=0, fast=None):
    """The usual network for ``sizes``: ``Linear`` + ``activation`` per hidden layer, and an output that fits ``loss``.

    With the quadratic loss the output gets a sigmoid (the book's chapter 1 network); the
    cross-entropies take the last ``Linear``'s logits (their softmax/sigmoid is fused into the loss).

    Parameters
    ----------
    sizes : list of int
        Widths, e.g. ``[784, 100, 10]``.
    activation : str
        A name in :data:`mlp.layers.ACTIVATIONS`.
    loss : Loss, class, name or None
    init, backend, dtype, seed, fast
        As for :class:`Linear` and :class:`Sequential`.
    """
    from .layers import ACTIVATIONS, Sigmoid
    from .losses import Quadratic, get_loss

    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    layers = []
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(Linear(a, b, init=init))
        if k < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    if loss is not None and isinstance(get_loss(loss), Quadratic):
        layers.append(Sigmoid())
    return Sequential(layers, backend=backend, dtype=dtype, seed=seed, fast=fast)
