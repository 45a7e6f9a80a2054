"""Layers: a dense :class:`Linear` layer and element-wise activations.

A layer is a description (sizes, init, slope), not a holder of arrays.  Its maths
is two pure functions, made once per model binding by :meth:`Layer.functions`:

``forward(params, X, ctx) -> (Y, cache)``
    ``X`` is ``(n_samples, n_in)``; ``params`` the layer's arrays (``(W, b)`` or ``()``);
    ``cache`` is whatever backward needs, handed to it explicitly.
``backward(params, cache, dY, need_dX, out) -> (dX, grads)``
    dC/dY ``(n_samples, n_out)`` in, dC/dX (or None) and the gradients of ``params`` out.
    ``out`` names gradient buffers the model owns, which fast kernels may fill and return.

``ctx`` is a :class:`StepContext` (train or eval mode, and the step's random key for
layers that draw random numbers).  :class:`mlp.Sequential` strings the functions together.
Their types are named once, in :mod:`mlp.core.types` (``Forward``, ``Backward``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .registry import ACTIVATIONS, INITS, LAYERS

# StepContext and EVAL are defined with the other types of the seams, and still imported from here
from .types import EVAL as EVAL
from .types import Array, Backward, Cache, Forward, Gradients, Params, StepContext
from .validate import finite, non_negative_int, positive_int

if TYPE_CHECKING:
    from .kernels import Kernels


class Layer:
    """Base class: a step of the network with no parameters."""

    #: names of the layer's parameters, in state_dict order (``W``, ``b`` for Linear)
    param_names: tuple[str, ...] = ()

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return []

    def initial_values(self, rng: np.random.Generator) -> list[np.ndarray]:
        return []

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        """``(forward, backward)`` on kernels ``K`` for the layer at position ``index`` (see the module docstring)."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """A JSON-able description from which :func:`from_config` rebuilds the layer."""
        return {"type": type(self).__name__}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "type")
        return f"{type(self).__name__}({args})"


@LAYERS.register("Linear")
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

    def __init__(self, n_in: int, n_out: int, init: str = "nielsen") -> None:
        self.n_in, self.n_out = positive_int("n_in", n_in, "Linear"), positive_int("n_out", n_out, "Linear")
        if init not in INITS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.init = init

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [(self.n_in, self.n_out), (self.n_out,)]

    def initial_values(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Draw ``(W, b)`` on the host in float64 from ``rng`` (the same on every backend)."""
        n_in, n_out = self.n_in, self.n_out
        std = {"normal": 1.0, "nielsen": n_in**-0.5, "xavier": (2.0 / (n_in + n_out)) ** 0.5, "he": (2.0 / n_in) ** 0.5}
        W = rng.standard_normal((n_in, n_out)) * std[self.init]
        b = rng.standard_normal(n_out) if self.init in ("normal", "nielsen") else np.zeros(n_out)
        return [W, b]

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        linear_forward, linear_backward = K.linear_forward, K.linear_backward

        def forward(params: Params, X: Array, ctx: StepContext) -> tuple[Array, Cache]:
            return linear_forward(X, params[0], params[1]), X

        def backward(params: Params, X: Cache, dY: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            dX, dW, db = linear_backward(X, params[0], dY, need_dX, *out)
            return dX, (dW, db)

        return forward, backward

    def config(self) -> dict[str, Any]:
        return {"type": "Linear", "n_in": self.n_in, "n_out": self.n_out, "init": self.init}


class Activation(Layer):
    """An element-wise function; subclasses name the kernels that compute it in :meth:`kernels`."""

    def kernels(self, K: Kernels) -> tuple[Any, Any]:
        """``(forward, backward)``: the methods of ``K`` for this function, ``f(Z)`` and ``b(Z, A, dA)``."""
        raise NotImplementedError(f"{type(self).__name__} names no kernels: define kernels(self, K)")

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        f, b = self.kernels(K)  # looked up once per binding, not at every call

        def forward(params: Params, Z: Array, ctx: StepContext) -> tuple[Array, Cache]:
            A = f(Z)
            return A, (Z, A)

        def backward(params: Params, cache: Cache, dA: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            return b(cache[0], cache[1], dA), ()

        return forward, backward


@LAYERS.register("Sigmoid", "sigmoid")
class Sigmoid(Activation):
    """The logistic function 1 / (1 + exp(-x))."""

    def kernels(self, K: Kernels) -> tuple[Any, Any]:
        return K.sigmoid_forward, K.sigmoid_backward


@LAYERS.register("Tanh", "tanh")
class Tanh(Activation):
    """The hyperbolic tangent."""

    def kernels(self, K: Kernels) -> tuple[Any, Any]:
        return K.tanh_forward, K.tanh_backward


@LAYERS.register("ReLU", "relu")
class ReLU(Activation):
    """max(x, 0)."""

    def kernels(self, K: Kernels) -> tuple[Any, Any]:
        return K.relu_forward, K.relu_backward


@LAYERS.register("Identity", "identity", "linear")
class Identity(Activation):
    """The identity (useful as an explicit linear output)."""

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        return (lambda params, X, ctx: (X, None)), (lambda params, cache, dY, need_dX, out: (dY, ()))


@LAYERS.register("LeakyReLU", "leaky_relu")
class LeakyReLU(Activation):
    """x for x > 0, else ``slope * x``."""

    def __init__(self, slope: float = 0.01) -> None:
        self.slope = finite("slope", slope, "LeakyReLU")

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        slope, f, b = self.slope, K.leaky_relu_forward, K.leaky_relu_backward

        def forward(params: Params, Z: Array, ctx: StepContext) -> tuple[Array, Cache]:
            return f(Z, slope), Z

        def backward(params: Params, Z: Cache, dA: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            return b(Z, None, dA, slope), ()

        return forward, backward

    def config(self) -> dict[str, Any]:
        return {"type": "LeakyReLU", "slope": self.slope}


@LAYERS.register("Dropout", "dropout")
class Dropout(Layer):
    """Inverted dropout: in training, each unit is zeroed with probability ``p`` and the
    survivors are scaled by ``1 / (1 - p)``; in evaluation, the identity.

    The mask comes from :func:`mlp.core.random.keep_mask` keyed by ``(ctx.seed, ctx.epoch,
    ctx.step, index)``, ``index`` being the layer's position in the model: it is computed on
    the device, bit-identical on every backend, and the same again when a step is replayed
    (roll-back, resume).  Backward multiplies by the same mask, so a gradient check with a
    fixed :class:`StepContext` sees a fixed function.

    Parameters
    ----------
    p : float
        Probability of dropping a unit, in ``[0, 1)``; 0 makes the layer the identity.
    """

    def __init__(self, p: float = 0.5) -> None:
        p = finite("p", p, "Dropout")
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        from .random import keep_mask

        p, xp, device = self.p, K.xp, K.backend.device

        def forward(params: Params, X: Array, ctx: StepContext) -> tuple[Array, Cache]:
            if not ctx.training or p == 0.0:
                return X, None
            if ctx.rows is None:
                mask = keep_mask(xp, X.shape, p, X.dtype, ctx.seed, ctx.epoch, ctx.step, index, device=device)
            else:  # a shard: the global batch's mask, this shard's rows (the same numbers as one process)
                first, total = ctx.rows
                mask = keep_mask(
                    xp, (total, X.shape[1]), p, X.dtype, ctx.seed, ctx.epoch, ctx.step, index, device=device
                )
                if isinstance(first, np.ndarray):  # rows at these places of the global batch (a streamed table)
                    mask = xp.take(mask, xp.asarray(first.astype(np.int64), device=device), axis=0)
                else:
                    mask = mask[first : first + X.shape[0], ...]
            return X * mask, mask

        def backward(params: Params, mask: Cache, dY: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            return (dY if mask is None else dY * mask), ()

        return forward, backward

    def config(self) -> dict[str, Any]:
        return {"type": "Dropout", "p": self.p}


@LAYERS.register("Embedding")
class Embedding(Layer):
    """Learned vectors for category codes: the first layer of a network on a table with categorical columns.

    The input ``X`` is ``(n_samples, n_in)``; the columns ``columns`` hold category codes (whole numbers
    ``0..n_categories[c]-1``; a code out of range is clipped to the nearest end, so a preprocessor's
    "unknown" slot is a code like any other).  The output is the other columns, in order, followed by one
    learned vector of width ``dim`` per code column: ``(n_samples, n_in - len(columns) + len(columns) * dim)``.

    One parameter ``E`` of shape ``(sum(n_categories), dim)`` holds every column's table, one after the
    other.  Forward is a ``take``; backward is a matrix product with the batch's one-hot codes,
    ``dE = onehot(codes).T @ dY``, since the array API has no scatter-add; the code columns get no
    gradient (they are not differentiable), the other columns pass theirs through.

    Parameters
    ----------
    n_in : int
        Input width (code columns included).
    columns : list of int
        Positions of the code columns in the input.
    n_categories : list of int
        Number of categories of each code column.
    dim : int
        Width of each vector.
    """

    param_names = ("E",)

    def __init__(self, n_in: int, columns: Sequence[int], n_categories: Sequence[int], dim: int) -> None:
        self.n_in = positive_int("n_in", n_in, "Embedding")
        self.dim = positive_int("dim", dim, "Embedding")
        if not isinstance(columns, (list, tuple)) or not columns:
            raise ValueError(f"Embedding: columns must be a non-empty list of input positions, got {columns!r}")
        self.columns = [non_negative_int("columns", c, "Embedding") for c in columns]
        if len(set(self.columns)) != len(self.columns) or max(self.columns) >= self.n_in:
            raise ValueError(f"Embedding: columns {self.columns} must be distinct positions below n_in={self.n_in}")
        if not isinstance(n_categories, (list, tuple)) or len(n_categories) != len(self.columns):
            raise ValueError(
                f"Embedding: n_categories must give one count per column ({len(self.columns)}), got {n_categories!r}"
            )
        self.n_categories = [positive_int("n_categories", k, "Embedding") for k in n_categories]
        self.kept = [i for i in range(self.n_in) if i not in set(self.columns)]
        self.n_out = len(self.kept) + len(self.columns) * self.dim

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        return [(sum(self.n_categories), self.dim)]

    def initial_values(self, rng: np.random.Generator) -> list[np.ndarray]:
        """``E`` drawn N(0, 1) on the host (as ``torch.nn.Embedding``): the same on every backend."""
        return [rng.standard_normal((sum(self.n_categories), self.dim))]

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        xp, device = K.xp, K.backend.device
        m, dim, total = len(self.columns), self.dim, sum(self.n_categories)
        starts = np.cumsum([0] + self.n_categories[:-1])
        code_cols = xp.asarray(np.asarray(self.columns, dtype=np.int64), device=device)
        kept = xp.asarray(np.asarray(self.kept, dtype=np.int64), device=device)
        offsets = xp.asarray(starts.astype(np.int64), device=device)
        highest = xp.asarray(np.asarray(self.n_categories, dtype=np.int64) - 1, device=device)
        categories = xp.asarray(np.arange(total, dtype=np.int64), device=device)
        n_kept, n_in = len(self.kept), self.n_in

        def forward(params: Params, X: Array, ctx: StepContext) -> tuple[Array, Cache]:
            E = params[0]
            codes = xp.astype(xp.round(xp.take(X, code_cols, axis=1)), xp.int64)
            codes = xp.clip(codes, min=0, max=highest) + offsets  # per column: its own slice of E
            flat = xp.reshape(codes, (-1,))
            vectors = xp.reshape(xp.take(E, flat, axis=0), (X.shape[0], m * dim))
            Y = xp.concat([xp.take(X, kept, axis=1), vectors], axis=1) if n_kept else vectors
            return Y, flat

        def backward(params: Params, flat: Cache, dY: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            onehot = xp.astype(xp.reshape(flat, (-1, 1)) == xp.reshape(categories, (1, -1)), dY.dtype)
            dV = xp.reshape(dY[:, n_kept:], (-1, dim))
            dE = xp.matmul(xp.matrix_transpose(onehot), dV)
            dX = None
            if need_dX:  # the kept columns' gradients back in their places (a product with a selection matrix)
                select = xp.astype(
                    xp.reshape(kept, (-1, 1))
                    == xp.reshape(xp.asarray(np.arange(n_in, dtype=np.int64), device=device), (1, -1)),
                    dY.dtype,
                )
                dX = xp.matmul(dY[:, :n_kept], select)
            return dX, (dE,)

        return forward, backward

    def config(self) -> dict[str, Any]:
        return {
            "type": "Embedding",
            "n_in": self.n_in,
            "columns": list(self.columns),
            "n_categories": list(self.n_categories),
            "dim": self.dim,
        }


@LAYERS.register("OneHot", "one_hot")
class OneHot(Layer):
    """Category codes expanded to one-hot inputs, in place: the first layer of a network on a table with categories.

    The input ``X`` is ``(n_samples, n_in)``; the columns ``columns`` hold category codes, whole numbers
    ``0..n_categories[c]-1``.  Each code column is replaced, where it stands, by ``n_categories[c]`` columns of
    0 and 1 (a 1 in the code's place; any other value, out of range or not whole, gives a row of zeros: no
    category); the other columns pass as they are.  So a table's inputs hold one code per categorical column
    (4 bytes a row in float32) and its one-hot columns exist a batch at a time; the :class:`Linear` layer after
    it sees what it would see were the table stored one-hot.

    Forward is one ``take`` of the input's columns (a code column once per slot) and one comparison with each
    slot's code.  It has no parameters.  Backward passes the other columns' gradients back to their places (a
    code column gets none: it is not differentiable); as the first layer it is skipped, as any layer before the
    first one with parameters.

    Parameters
    ----------
    n_in : int
        Input width (code columns included).
    columns : list of int
        Positions of the code columns in the input, increasing.
    n_categories : list of int
        Number of categories (one-hot columns) of each code column.
    """

    def __init__(self, n_in: int, columns: Sequence[int], n_categories: Sequence[int]) -> None:
        self.n_in = positive_int("n_in", n_in, "OneHot")
        if not isinstance(columns, (list, tuple)) or not columns:
            raise ValueError(f"OneHot: columns must be a non-empty list of input positions, got {columns!r}")
        self.columns = [non_negative_int("columns", c, "OneHot") for c in columns]
        if any(b <= a for a, b in zip(self.columns, self.columns[1:], strict=False)) or self.columns[-1] >= self.n_in:
            raise ValueError(f"OneHot: columns {self.columns} must be increasing positions below n_in={self.n_in}")
        if not isinstance(n_categories, (list, tuple)) or len(n_categories) != len(self.columns):
            raise ValueError(
                f"OneHot: n_categories must give one count per column ({len(self.columns)}), got {n_categories!r}"
            )
        self.n_categories = [positive_int("n_categories", k, "OneHot") for k in n_categories]
        self.n_out = self.n_in - len(self.columns) + sum(self.n_categories)

    def pieces(self) -> list[tuple[str, int, int]]:
        """The output, left to right: ``("keep", a, b)`` for input columns ``a..b-1`` as they are, and
        ``("code", c, k)`` for the ``k`` one-hot columns of input column ``c``."""
        out: list[tuple[str, int, int]] = []
        at = 0
        for c, k in zip(self.columns, self.n_categories, strict=True):
            if c > at:
                out.append(("keep", at, c))
            out.append(("code", c, k))
            at = c + 1
        if at < self.n_in:
            out.append(("keep", at, self.n_in))
        return out

    def source_columns(self) -> list[int]:
        """For each output column, the input column it comes from (``-1``: a one-hot column)."""
        return [j for kind, a, b in self.pieces() for j in (range(a, b) if kind == "keep" else [-1] * b)]

    def plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(read, slot, code)`` per output column: the input column it reads, whether it is a one-hot slot,
        and that slot's code (host arrays)."""
        read: list[int] = []
        slot: list[bool] = []
        code: list[int] = []
        for kind, a, b in self.pieces():
            if kind == "keep":
                read += range(a, b)
                slot += [False] * (b - a)
                code += [0] * (b - a)
            else:
                read += [a] * b
                slot += [True] * b
                code += range(b)
        return np.asarray(read, dtype=np.int64), np.asarray(slot), np.asarray(code, dtype=np.float64)

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        xp, device = K.xp, K.backend.device
        read, slot, code = self.plan()
        read_d = xp.asarray(read, device=device)
        slot_d = xp.asarray(slot, device=device)
        # backward: each input column's gradient is the output column it went to; a code column's is a zero column
        source = np.asarray(self.source_columns())
        back = np.full(self.n_in, self.n_out, dtype=np.int64)
        back[source[source >= 0]] = np.flatnonzero(source >= 0)
        back = xp.asarray(back, device=device)

        def forward(params: Params, X: Array, ctx: StepContext) -> tuple[Array, Cache]:
            G = xp.take(X, read_d, axis=1)
            # the slots' codes made here, in X's dtype (a constant to a compiler; a cache would keep its tracers)
            hits = xp.astype(G == xp.asarray(code, dtype=X.dtype, device=device), X.dtype)
            return xp.where(slot_d, hits, G), None

        def backward(params: Params, cache: Cache, dY: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            if not need_dX:
                return None, ()
            padded = xp.concat([dY, xp.zeros((dY.shape[0], 1), dtype=dY.dtype, device=device)], axis=1)
            return xp.take(padded, back, axis=1), ()

        return forward, backward

    def config(self) -> dict[str, Any]:
        return {
            "type": "OneHot",
            "n_in": self.n_in,
            "columns": list(self.columns),
            "n_categories": list(self.n_categories),
        }


@LAYERS.register("PeriodicEmbedding", "periodic")
class PeriodicEmbedding(Layer):
    """Learned periodic features of numeric inputs: RealMLP-TD's "PBLD" numeric embedding (Holzmüller et al.
    2024; the periodic embeddings of Gorishniy et al. 2022), as a network's first layer on a table.

    For each input column ``j`` of ``columns`` (numbers, scaled), ``n_frequencies`` learned frequencies ``F[j]`` and
    phases ``P[j]`` give ``cos(2 pi x F[j] + P[j])``, which a learned per-column linear map ``W[j]``, ``c[j]``
    turns into ``dim`` features.  The output is the input as it is (every column, in place: the "densenet" part,
    so that codes for a following :class:`OneHot` or :class:`Embedding` keep their positions), followed by the
    ``dim`` features of each column: ``(n_samples, n_in + len(columns) * dim)``.

    A number's effect on the prediction need not be smooth in it: a price that jumps at a threshold, a periodic
    hour, a skewed amount are what these features capture and one linear layer over ``x`` does not.  Every
    operation is in the array API (``cos``, batched ``matmul``), so it runs, and trains, on every backend.

    Parameters
    ----------
    n_in : int
        Input width.
    columns : list of int
        Positions of the numeric columns to embed.
    n_frequencies : int
        Frequencies per column (RealMLP-TD: 16).
    dim : int
        Features per column (RealMLP-TD: 3, beside the column itself).
    sigma : float
        Standard deviation of the initial frequencies (RealMLP-TD: 0.1, on inputs scaled robustly to about +-3).
    """

    param_names = ("F", "P", "W", "c")

    def __init__(
        self, n_in: int, columns: Sequence[int], n_frequencies: int = 16, dim: int = 3, sigma: float = 0.1
    ) -> None:
        self.n_in = positive_int("n_in", n_in, "PeriodicEmbedding")
        if not isinstance(columns, (list, tuple)) or not columns:
            raise ValueError(f"PeriodicEmbedding: columns must be a non-empty list of input positions, got {columns!r}")
        self.columns = [non_negative_int("columns", c, "PeriodicEmbedding") for c in columns]
        if len(set(self.columns)) != len(self.columns) or max(self.columns) >= self.n_in:
            raise ValueError(
                f"PeriodicEmbedding: columns {self.columns} must be distinct positions below n_in={self.n_in}"
            )
        self.n_frequencies = positive_int("n_frequencies", n_frequencies, "PeriodicEmbedding")
        self.dim = positive_int("dim", dim, "PeriodicEmbedding")
        self.sigma = finite("sigma", sigma, "PeriodicEmbedding")
        if self.sigma <= 0:
            raise ValueError(f"PeriodicEmbedding: sigma must be positive, got {sigma}")
        self.n_out = self.n_in + len(self.columns) * self.dim

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        m, k, d = len(self.columns), self.n_frequencies, self.dim
        return [(m, k), (m, k), (m, k, d), (m, d)]

    def initial_values(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Frequencies N(0, sigma^2), phases U(-pi, pi), the linear map and its bias U(-1, 1) / sqrt(n_frequencies)
        (RealMLP-TD's), drawn on the host in float64: the same on every backend."""
        m, k, d = len(self.columns), self.n_frequencies, self.dim
        bound = k**-0.5
        return [
            self.sigma * rng.standard_normal((m, k)),
            rng.uniform(-np.pi, np.pi, (m, k)),
            rng.uniform(-bound, bound, (m, k, d)),
            rng.uniform(-bound, bound, (m, d)),
        ]

    def functions(self, K: Kernels, index: int) -> tuple[Forward, Backward]:
        xp, device = K.xp, K.backend.device
        m, k, d, n_in = len(self.columns), self.n_frequencies, self.dim, self.n_in
        two_pi = 2.0 * np.pi
        cols = xp.asarray(np.asarray(self.columns, dtype=np.int64), device=device)
        select = np.zeros((m, n_in))
        select[np.arange(m), self.columns] = 1.0  # dX of the embedded columns back in their places

        def forward(params: Params, X: Array, ctx: StepContext) -> tuple[Array, Cache]:
            F, P, W, c = params
            n = X.shape[0]
            Xt = xp.reshape(xp.matrix_transpose(xp.take(X, cols, axis=1)), (m, n, 1))  # a column a batch: (m, n, 1)
            Z = Xt * xp.reshape(F, (m, 1, k)) * two_pi + xp.reshape(P, (m, 1, k))
            C = xp.cos(Z)
            cache = (Xt, Z, C) if ctx.training else None
            del Z  # evaluation keeps nothing: (m, n, k) arrays of a large batch are its largest
            H = xp.matmul(C, W) + xp.reshape(c, (m, 1, d))  # (m, n, d): one small matrix product per column
            del C
            features = xp.reshape(xp.permute_dims(H, (1, 0, 2)), (n, m * d))
            return xp.concat([X, features], axis=1), cache

        def backward(params: Params, cache: Cache, dY: Array, need_dX: bool, out: Sequence[Any]) -> Gradients:
            F, P, W, c = params
            Xt, Z, C = cache
            n = dY.shape[0]
            dH = xp.permute_dims(xp.reshape(dY[:, n_in:], (n, m, d)), (1, 0, 2))  # (m, n, d)
            dW = xp.matmul(xp.matrix_transpose(C), dH)
            dc = xp.sum(dH, axis=1)
            dZ = -xp.sin(Z) * xp.matmul(dH, xp.matrix_transpose(W))  # (m, n, k)
            dP = xp.sum(dZ, axis=1)
            dF = xp.sum(dZ * Xt, axis=1) * two_pi
            dX = None
            if need_dX:
                dXs = xp.sum(dZ * xp.reshape(F, (m, 1, k)), axis=2) * two_pi  # (m, n)
                dX = dY[:, :n_in] + xp.matmul(
                    xp.matrix_transpose(dXs), xp.asarray(select, dtype=dY.dtype, device=device)
                )
            return dX, (dF, dP, dW, dc)

        return forward, backward

    def config(self) -> dict[str, Any]:
        return {
            "type": "PeriodicEmbedding",
            "n_in": self.n_in,
            "columns": list(self.columns),
            "n_frequencies": self.n_frequencies,
            "dim": self.dim,
            "sigma": self.sigma,
        }


for _name, _cls in (
    ("sigmoid", Sigmoid),
    ("tanh", Tanh),
    ("relu", ReLU),
    ("leaky_relu", LeakyReLU),
    ("identity", Identity),
):
    ACTIVATIONS.register(_name)(_cls)


def from_config(cfg: dict[str, Any]) -> Layer:
    """Rebuild a layer from :meth:`Layer.config` (used by checkpoints)."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get("type"), str) or cfg["type"] not in LAYERS.names():
        raise ValueError(f"unknown layer description {cfg!r}; known layer types: {', '.join(LAYERS.names())}")
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    return LAYERS.get(cfg["type"])(**kwargs)
