"""The network: :class:`Sequential`, a stack of layers on one backend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import is_
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mlp.backends import Backend, get_backend

from .kernels import Bank, Kernels, get_kernels
from .layers import Layer, Linear, Sigmoid, from_config
from .types import (
    EVAL,
    Array,
    Backward,
    Cache,
    Forward,
    Groups,
    ModelBackward,
    ModelForward,
    Params,
    StepContext,
    Update,
)
from .util import describe, to_host
from .validate import input_shape, non_negative_int

if TYPE_CHECKING:
    from .losses import Loss


class Updater(Protocol):
    """What :meth:`Sequential.update_function` asks of an optimizer (:class:`mlp.core.optim.Optimizer` is one;
    named here as a protocol because the optimizers' module is the one that imports this one)."""

    def update_function(self, K: Kernels, group_is_weight: Sequence[bool]) -> Update: ...

    def static_key(self) -> tuple: ...


DTYPES = ("float32", "float64")


def check_dtype(dtype: Any) -> str:
    """Return ``dtype`` as ``"float32"``/``"float64"``, or raise a ValueError naming the choices."""
    name = getattr(dtype, "name", None) or str(dtype)
    name = name.rsplit(".", 1)[-1]
    if name not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    return name


def resizing(layers: Iterable[Layer]) -> list[Any]:
    """The layers that set the width (those with ``n_in`` and ``n_out``: Linear, Embedding), in order."""
    return [layer for layer in layers if hasattr(layer, "n_in") and hasattr(layer, "n_out")]


def check_widths(layers: Sequence[Layer]) -> None:
    """Raise a ValueError naming the layers unless the widths chain (each layer's ``n_in`` the last ``n_out``)
    and there is a Linear layer (the one check, for models and for checkpoints' architectures)."""
    if not any(isinstance(layer, Linear) for layer in layers):
        raise ValueError("Sequential needs at least one Linear layer")
    indexed = [(i, layer) for i, layer in enumerate(layers) if hasattr(layer, "n_in") and hasattr(layer, "n_out")]
    for (i, a), (j, b) in zip(indexed, indexed[1:], strict=False):
        if a.n_out != b.n_in:
            raise ValueError(
                f"layer {j} ({b!r}) expects inputs of width n_in={b.n_in}, but layer {i} ({a!r}) "
                f"outputs width n_out={a.n_out}"
            )


def parameter_layout(layers: Iterable[Layer]) -> list[tuple[str, tuple[int, ...]]]:
    """``[(name, shape)]`` of a model's parameters: ``W0, b0, W1, ...`` numbered by parametrised layer."""
    with_params = [layer for layer in layers if layer.param_names]
    return [
        (f"{p}{i}", tuple(s))
        for i, layer in enumerate(with_params)
        for p, s in zip(layer.param_names, layer.shapes, strict=True)
    ]


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

    The maths is pure (see :meth:`forward_function`, :meth:`backward_function` and
    :func:`mlp.train_step`); the object API (``forward``, ``backward``, ``parameters()``,
    ``gradients()``) keeps the current arrays and the last forward's caches on the model.
    Like a PyTorch module, a model is in training mode until :meth:`eval` (it matters
    only for layers such as dropout); :func:`mlp.evaluate` and :meth:`predict` always
    run in evaluation mode.
    """

    def __init__(
        self,
        layers: Iterable[Layer],
        backend: str | Backend | None = None,
        dtype: Any = "float32",
        seed: int = 0,
        fast: bool | None = None,
    ) -> None:
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layer {i} is {layer!r}, not an mlp layer (Linear, Sigmoid, ReLU, ...)")
        check_widths(self.layers)
        self.dtype = check_dtype(dtype)
        self.seed = non_negative_int("seed", seed, "Sequential")
        self._fast = fast
        self.training = True
        rng = np.random.default_rng(seed)
        host = [v for l in self.layers for v in l.initial_values(rng)]
        self._bind(get_backend(backend), host)

    # -- construction helpers -----------------------------------------------------------------
    @property
    def linears(self) -> list[Linear]:
        return [l for l in self.layers if isinstance(l, Linear)]

    @property
    def sizes(self) -> list[int]:
        """Widths of the layers, the book's ``sizes``: e.g. ``[784, 30, 10]`` (an Embedding's output counts too)."""
        lin = resizing(self.layers)
        return [lin[0].n_in] + [l.n_out for l in lin]

    @property
    def n_out(self) -> int:
        """Width of the output layer."""
        return self._n_out

    @property
    def input_dtype(self) -> Any:
        """The backend's dtype object of :attr:`dtype` (what inputs and targets must have)."""
        return self._xdtype

    @property
    def fast(self) -> bool | None:
        """Whether the backend's fast paths were asked for (None: the default, see :func:`get_kernels`)."""
        return self._fast

    def param_names(self) -> list[str]:
        """Names in :meth:`state_dict` order: ``W0, b0, W1, b1, ...`` (numbered by parametrised layer)."""
        return [name for name, _ in parameter_layout(self.layers)]

    def param_shapes(self) -> list[tuple[int, ...]]:
        return [s for l in self.layers for s in l.shapes]

    def _is_weight(self) -> list[bool]:
        return [name.startswith("W") for name in self.param_names()]

    def new_bank(self, values: Sequence[Any] | None = None) -> Bank:
        """A bank laid out like the parameters (zeros, or the host ``values``), on this model's kernels."""
        return self.K.bank(self.param_shapes(), self._is_weight(), self._xdtype, values)

    def _bind(self, backend: Backend, host_values: Sequence[Any]) -> None:
        self.backend = backend
        self.K = get_kernels(backend, self._fast)
        self.xp = backend.xp
        self._xdtype = getattr(self.xp, self.dtype)
        self._params = self.new_bank(host_values)
        # a cheap first test of "is X one of ours?": same array type on the same device
        self._array_type, self._device = type(self._params.arrays[0]), self._params.arrays[0].device
        self._grads = self.new_bank()
        self._caches: list[Cache] | None = None
        self._calls = 0
        self._updates: dict[tuple, tuple[Updater, Update]] = {}
        # fixed once bound: the hot path reads these, not recomputed lists
        lin = resizing(self.layers)
        self._n_in, self._n_out = lin[0].n_in, lin[-1].n_out
        self._first_param = next(i for i, l in enumerate(self.layers) if l.param_names)
        self._fns: list[tuple[Forward, Backward]] = [l.functions(self.K, i) for i, l in enumerate(self.layers)]
        bounds: list[tuple[int, int]] = []
        k = 0
        for l in self.layers:
            bounds.append((k, k + len(l.param_names)))
            k += len(l.param_names)
        self._bounds = bounds
        self._forward_fn = self._make_forward()
        self._backward_fn = self._make_backward()

    # -- the pure maths -------------------------------------------------------------------------
    def _make_forward(self) -> ModelForward:
        fns = [(f, slice(a, b)) for (f, _), (a, b) in zip(self._fns, self._bounds, strict=True)]

        def forward(params: Params, X: Array, ctx: StepContext = EVAL) -> tuple[Array, list[Cache]]:
            caches = []
            for f, own in fns:
                X, cache = f(params[own], X, ctx)
                caches.append(cache)
            return X, caches

        return forward

    def _make_backward(self) -> ModelBackward:
        first_param = self._first_param
        # what each layer is told, fixed once per binding: the layers a pass runs (last first; those before the
        # first with parameters only for dX), whether each must return its dX, and its "no buffers" (None, ...)
        plans = {}
        for need_input_grad in (False, True):
            plan: list[tuple[int, Backward, slice, bool, tuple[None, ...]]] = []
            for i in reversed(range(len(self._fns))):
                if i < first_param and not need_input_grad:
                    break
                (_, g), (a, b) = self._fns[i], self._bounds[i]
                plan.append((i, g, slice(a, b), need_input_grad or i > first_param, (None,) * (b - a)))
            plans[need_input_grad] = tuple(plan)
        with_dX, without_dX = plans[True], plans[False]

        def backward(
            params: Params, caches: Sequence[Cache], dY: Array, need_input_grad: bool = False, out: Params | None = None
        ) -> tuple[Array | None, tuple[Array, ...]]:
            grads: list[Any] = [None] * len(params)
            for i, g, own, need_dX, nones in with_dX if need_input_grad else without_dX:
                dY, grads[own] = g(params[own], caches[i], dY, need_dX, nones if out is None else out[own])
            return (dY if need_input_grad else None), tuple(grads)

        return backward

    def forward_function(self) -> ModelForward:
        """The pure forward pass: ``forward(params, X, ctx) -> (Y, caches)``.

        ``params`` is a tuple of arrays in :meth:`parameters` order, ``ctx`` a
        :class:`mlp.core.layers.StepContext` (default: evaluation mode).
        """
        return self._forward_fn

    def backward_function(self) -> ModelBackward:
        """The pure backward pass: ``backward(params, caches, dY, need_input_grad, out) -> (dX, grads)``.

        ``grads`` is a tuple in :meth:`parameters` order; ``out`` optional buffers the kernels may fill.
        """
        return self._backward_fn

    def grads_to_groups(self, grads: Sequence[Array]) -> Groups:
        """Gradient arrays (per parameter) as the optimizer's groups (NumPy: its two flat buffers)."""
        bank = self._grads
        if bank.layout is None:
            return tuple(grads)
        if len(grads) != len(bank.arrays) or not all(map(is_, bank.arrays, grads)):
            for a, g in zip(bank.arrays, grads, strict=True):
                if g is not a:  # not written in place: copy into our own buffers
                    a[...] = g
        return bank.groups

    def update_function(self, optimizer: Updater) -> Update:
        """The optimizer's pure update for this binding (made once per hyperparameter set)."""
        key = (id(optimizer), type(optimizer), optimizer.static_key())
        made = self._updates.get(key)
        if (
            made is None or made[0] is not optimizer
        ):  # not made, or made for another object that had the same id and is gone
            if len(self._updates) > 8:
                self._updates.clear()
            fn = optimizer.update_function(self.K, self._params.group_is_weight)
            self._updates[key] = (optimizer, fn)
            return fn
        return made[1]

    # -- modes ----------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Sequential:
        """Training mode (dropout active in :meth:`forward`); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Sequential:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # -- the object API ---------------------------------------------------------------------------
    def forward(self, X: Array) -> Array:
        """Outputs for a batch ``X`` of shape ``(n_samples, n_in)`` on this model's backend.

        Keeps what :meth:`backward` needs.  In training mode, random layers draw from
        the key ``(seed, 0, number of training-mode forwards so far)``.
        """
        self.check_input(X)
        ctx = EVAL
        if self.training:
            ctx = StepContext(True, self.seed, 0, self._calls)
            self._calls += 1
        Y, self._caches = self._forward_fn(self._params.arrays, X, ctx)
        return Y

    __call__ = forward

    def backward(self, dY: Array, need_input_grad: bool = True) -> Array | None:
        """Backpropagate dC/dY ``(n_samples, n_out)`` through the last :meth:`forward`.

        Computes every layer's gradients for the whole mini-batch (overwriting, not
        accumulating; see :meth:`gradients`) and returns dC/dX, or None with
        ``need_input_grad=False`` (which saves the first layer's input-gradient product).
        """
        n_out = self._n_out
        if dY.ndim != 2 or dY.shape[1] != n_out:
            raise ValueError(f"backward: dY has shape {tuple(dY.shape)}, expected (n_samples, {n_out})")
        if self._caches is None:
            raise RuntimeError("backward() called before forward()")
        dX, grads = self._backward_fn(self._params.arrays, self._caches, dY, need_input_grad, self._grads.arrays)
        self.set_gradients(grads)
        return dX

    def layer_outputs(self, X: Array) -> list[Array]:
        """Each layer's output for ``X`` (evaluation mode), in layer order: for inspection and tests."""
        self.check_input(X)
        outputs = []
        for (f, _), (a, b) in zip(self._fns, self._bounds, strict=True):
            X, _ = f(self._params.arrays[a:b], X, EVAL)
            outputs.append(X)
        return outputs

    def owns(self, X: Any) -> bool:
        """Whether ``X`` is an array of this model's backend on its device (no conversion needed)."""
        return (type(X) is self._array_type and X.device == self._device) or self.backend.owns(X)

    def classes(self, Y: Array, loss: Loss | None = None) -> Array:
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

    def probabilities(self, Y: Array, loss: Loss | None = None) -> Array:
        """Class probabilities (on the backend) from outputs ``Y``: shape (n, n_classes).

        Softmax of logits (``CrossEntropy``), sigmoid of logits (``BinaryCrossEntropy``), the outputs
        as they are otherwise (a final ``Sigmoid``, or a quadratic cost on 0/1 targets).  One output
        gives two columns ``[1 - p, p]``.
        """
        xp = self.xp
        output = loss.output if loss is not None else "values"
        if output == "logits" and Y.shape[1] > 1:
            P = self.K.softmax(Y)
        elif output in ("sigmoid logits", "logits"):
            P = self.K.sigmoid_forward(Y)
        else:
            P = xp.clip(Y, min=0.0, max=1.0) if isinstance(self.layers[-1], Sigmoid) else Y
        if P.shape[1] == 1:
            P = xp.concat([1.0 - P, P], axis=1)
        return P

    def _host_input(self, X: Any) -> Array:
        if self.owns(X):
            return X if X.dtype == self._xdtype else self.xp.astype(X, self._xdtype)
        if isinstance(X, (np.ndarray, list, tuple)):
            return self.backend.asarray(np.asarray(X), dtype=self._xdtype)
        raise TypeError(self._foreign("input X", X))

    def outputs(self, X: Any, batch_size: int = 10_000) -> Array:
        """Evaluation-mode outputs ``(n, n_out)`` for ``X`` (host data of any numeric dtype, or ours), on the
        backend, computed ``batch_size`` rows at a time: what :meth:`classes` and :meth:`probabilities` take, so
        that labels and probabilities come from one forward pass."""
        return self._eval_outputs(X, batch_size)

    def _eval_outputs(self, X: Any, batch_size: int = 10_000) -> Array:
        """Evaluation-mode outputs for ``X`` (host data or ours), in batches, on the backend."""
        X = self._host_input(X)
        self.check_input(X)
        n = X.shape[0]
        parts = [
            self._forward_fn(self._params.arrays, X[i : min(i + batch_size, n), ...], EVAL)[0]
            for i in range(0, n, batch_size)
        ]
        return parts[0] if len(parts) == 1 else self.xp.concat(parts, axis=0)

    def predict(self, X: Any, loss: Loss | None = None) -> np.ndarray:
        """Class predictions as a host int64 array (see :meth:`classes`); evaluation mode.

        ``X`` may be host data of any numeric dtype: it is converted to the model's dtype.
        """
        return self.backend.to_numpy(self.classes(self._eval_outputs(X), loss)).astype(np.int64)

    def predict_proba(self, X: Any, loss: Loss | None = None) -> np.ndarray:
        """Class probabilities as a host float array ``(n, n_classes)`` (see :meth:`probabilities`)."""
        return np.asarray(self.backend.to_numpy(self.probabilities(self._eval_outputs(X), loss)))

    def predict_values(self, X: Any) -> np.ndarray:
        """Raw outputs as a host float array ``(n, n_out)`` (regression); evaluation mode."""
        return np.asarray(self.backend.to_numpy(self._eval_outputs(X)))

    def check_input(self, X: Any) -> None:
        """Raise a TypeError/ValueError naming the problem unless ``X`` is ours, ``(n, n_in)`` and of our dtype."""
        # the type test first: comparing another library's dtype with ours may warn (array-api-strict)
        if not self.owns(X):
            raise TypeError(self._foreign("input X", X))
        input_shape(X.shape, self._n_in, self.layers[0])
        if X.dtype != self._xdtype:
            raise TypeError(
                f"input X has dtype {X.dtype}, but the model is {self.dtype}; convert it first "
                f"(model.backend.asarray(X, dtype={self.dtype!r})): dtypes are never promoted silently"
            )

    def _foreign(self, name: str, X: Any) -> str:
        """The message for ``X`` that is not an array of this model's backend."""
        if not hasattr(X, "shape") or not hasattr(X, "dtype"):
            return (
                f"{name} is {describe(X)}, not an array; the model (on the {self.backend.name} backend) "
                f"takes arrays of shape (n_samples, {self.sizes[0]}): "
                f"use model.backend.asarray(X, dtype={self.dtype!r})"
            )
        return (
            f"{name} is {describe(X)}, but the model is on the {self.backend.name} backend "
            f"({self.backend.device}); use model.backend.asarray(...) or model.to(...)"
        )

    # -- parameters -----------------------------------------------------------------------------
    def parameters(self) -> list[Array]:
        """Parameter arrays on the backend, in the order W0, b0, W1, b1, ..."""
        return list(self._params.arrays)

    def gradients(self) -> list[Array]:
        """Gradient arrays from the last :meth:`backward`, in the order of :meth:`parameters`."""
        return list(self._grads.arrays)

    def param_arrays(self, groups: Groups | None = None) -> tuple[Array, ...]:
        """Per-parameter arrays (the pure passes' ``params``): the current ones, or those of ``groups``.

        On NumPy's fast paths these are views of the flat group buffers, so no copy is made.
        """
        bank = self._params if groups is None else self._params.with_groups(groups)
        return bank.arrays

    def gradient_buffers(self) -> tuple[Array, ...]:
        """Per-parameter buffers that :meth:`backward_function` may fill in place (``out=``)."""
        return self._grads.arrays

    def set_gradient_groups(self, groups: Groups) -> None:
        """Make ``groups`` (gradients grouped as :meth:`param_groups`) the model's gradients."""
        self._grads = self._grads.with_groups(groups)

    def check_targets(self, X: Array, T: Array, loss: Loss) -> None:
        """Raise the loss's own message, or a ValueError, unless ``T`` fits ``X`` (ours, ``(n, n_out)``, dtype)."""
        if not self.owns(T) or T.shape != (X.shape[0], self._n_out) or T.dtype != self._xdtype:
            loss.check(self._forward_fn(self._params.arrays, X)[0], T)  # raises the loss's own message
            raise ValueError(f"targets T have shape {tuple(T.shape)}, expected ({X.shape[0]}, {self._n_out})")

    def param_groups(self) -> Groups:
        """The parameter arrays an optimizer updates (see :class:`mlp.core.kernels.Bank`)."""
        return self._params.groups

    def gradient_groups(self) -> Groups:
        """The last gradients, grouped as :meth:`param_groups`."""
        return self._grads.groups

    def set_param_groups(self, groups: Groups) -> None:
        """Make ``groups`` (as an update returned them) the model's parameters."""
        self._params = self._params.with_groups(groups)

    def set_gradients(self, grads: Sequence[Array]) -> None:
        """Make ``grads`` (per parameter, as backward returned them) the model's gradients."""
        self._grads = self._grads.with_groups(self.grads_to_groups(grads))

    def zero_grad(self) -> None:
        self._grads = self.new_bank()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters as host NumPy arrays, keys ``W0, b0, W1, b1, ...`` in that order."""
        return {
            n: np.array(self.backend.to_numpy(p)) for n, p in zip(self.param_names(), self._params.arrays, strict=True)
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> Sequential:
        """Set the parameters from host (or backend) arrays, checking names, shapes and dtypes."""
        names, shapes = self.param_names(), self.param_shapes()
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict needs a dict of arrays keyed {names}, got {type(state).__name__}")
        if set(state) != set(names):
            missing, extra = sorted(set(names) - set(state)), sorted(set(state) - set(names))
            raise ValueError(f"state dict does not fit this model: missing {missing}, unexpected {extra}")
        values = []
        for name, shape in zip(names, shapes, strict=True):  # check every entry before changing any parameter
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
        self._params = self.new_bank(values)
        return self

    def to(self, backend: str | Backend) -> Sequential:
        """Move the parameters to another backend (name or Backend); returns self."""
        state = self.state_dict()
        self._bind(get_backend(backend), [state[n] for n in self.param_names()])
        return self

    def config(self) -> dict[str, Any]:
        """JSON-able architecture, from which :meth:`from_config` rebuilds the model."""
        return {"layers": [l.config() for l in self.layers], "dtype": self.dtype, "seed": self.seed}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], backend: str | Backend | None = None, **kw: Any) -> Sequential:
        layers = [from_config(c) for c in config["layers"]]
        return cls(layers, backend=backend, dtype=config.get("dtype", "float32"), seed=config.get("seed", 0), **kw)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(l) for l in self.layers)
        return f"Sequential([\n  {inner}\n], backend={self.backend.name!r}, dtype={self.dtype!r})"


def build_mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    loss: Loss | type[Loss] | str | None = None,
    init: str = "he",
    backend: str | Backend | None = None,
    dtype: Any = "float32",
    seed: int = 0,
    fast: bool | None = None,
    output: str | None = None,
    dropout: float = 0.0,
    input_layers: Sequence[Layer] = (),
) -> Sequential:
    """The usual network for ``sizes``: ``Linear`` + ``activation`` per hidden layer, and an output that fits ``loss``.

    With the quadratic loss the output gets a sigmoid (the book's chapter 1 network); the
    cross-entropies take the last ``Linear``'s logits (their softmax/sigmoid is fused into the
    loss), and mean squared error (regression) takes it as it is.

    Parameters
    ----------
    sizes : list of int
        Widths, e.g. ``[784, 100, 10]``.
    activation : str
        A name in :data:`mlp.core.layers.ACTIVATIONS`.
    loss : Loss, class, name or None
    init, backend, dtype, seed, fast
        As for :class:`Linear` and :class:`Sequential`.
    output : str or None
        The output layer's activation (a name in :data:`mlp.core.layers.ACTIVATIONS`); None picks it
        from ``loss`` as above.
    dropout : float
        ``p`` of a :class:`mlp.Dropout` after every hidden layer's activation (0: none).
    input_layers : sequence of Layer
        Layers that read the inputs before the first ``Linear`` (a table's :class:`mlp.OneHot` and
        :class:`mlp.Embedding`, from ``Preprocessor.input_layers()``): ``sizes[0]`` is then their input
        width, and the first ``Linear`` reads the width they output.
    """
    from .layers import ACTIVATIONS, Dropout, Identity, Sigmoid
    from .losses import Quadratic, get_loss

    for name, value in (("activation", activation), ("output", output)):
        if value is not None and value not in ACTIVATIONS:
            raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(ACTIVATIONS)}")
    if activation is None:
        raise ValueError(f"unknown activation None; choose one of {', '.join(ACTIVATIONS)}")
    layers = list(input_layers)
    if layers:
        widths = resizing(layers)
        if not widths or widths[0].n_in != sizes[0]:
            raise ValueError(
                f"input_layers read {widths[0].n_in if widths else 'any'} inputs, but sizes[0] is {sizes[0]}"
            )
        sizes = [widths[-1].n_out, *sizes[1:]]
    for k, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(Linear(a, b, init=init))
        if k < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(Dropout(dropout))
    if output is not None:
        if ACTIVATIONS[output] is not Identity:
            layers.append(ACTIVATIONS[output]())
    elif loss is not None and isinstance(get_loss(loss), Quadratic):
        layers.append(Sigmoid())
    return Sequential(layers, backend=backend, dtype=dtype, seed=seed, fast=fast)
