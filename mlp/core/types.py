"""The vocabulary of the seams: what an array is, what a step tells its layers, and the signatures of the pure
functions that layers, the model, the optimizers and the step are made of.

The functions themselves are described where they are made (:mod:`mlp.core.layers`, :mod:`mlp.core.model`,
:mod:`mlp.core.optim`, :mod:`mlp.core.step`); this module only names their shapes, once, for the type checker
and for readers.  It imports nothing of mlp, so that every module of :mod:`mlp.core` may import it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol, TypeAlias

Array: TypeAlias = Any
"""An array of the model's backend: ``numpy.ndarray``, ``cupy.ndarray``, ``torch.Tensor``, a JAX array (or a tracer
inside a compiled loop), ``array_api_strict``'s arrays.  The array API standard names their methods but no class
they share, so the checker takes any value here: the annotation says which arguments are arrays, for readers."""

Scalar: TypeAlias = Any
"""A Python number or a 0-d array: a learning rate or a step number (a traced 0-d array inside a compiled loop)."""

Params: TypeAlias = Sequence[Array]
"""Parameter arrays in order: a layer's own (``(W, b)``, or none) or the whole model's (``W0, b0, W1, ...``)."""

Cache: TypeAlias = Any
"""What a layer's (or a loss's) forward keeps for its backward: an array, a tuple of arrays, or None."""

Groups: TypeAlias = tuple[Array, ...]
"""The arrays an optimizer updates in one go, one per group (see :class:`mlp.core.kernels.Bank`)."""

OptState: TypeAlias = tuple[tuple[Array, ...], ...]
"""An optimizer's state: per parameter group, one array per state name (``()`` for plain SGD)."""


class StepContext(NamedTuple):
    """What a step tells its layers: the mode, and the key of its random numbers.

    ``training`` is True in :func:`mlp.train_step` (dropout active), False in evaluation.
    ``seed``, ``epoch`` and ``step`` key per-step random numbers: Python ints, or 0-d integer
    arrays when the step runs inside a compiled loop.  (A named tuple: one is made per step.)
    """

    training: bool = False
    seed: Any = 0
    epoch: Any = 0
    step: Any = 0
    #: ``(first, total)`` when the batch is rows ``first..`` of a global batch of ``total`` rows (a data-parallel
    #: shard), or ``(places, total)`` with ``places`` a host array of its rows' places in the global batch (a
    #: streamed table's): random layers then draw the global batch's numbers and keep their own rows, as one
    #: process would
    rows: Any = None


EVAL = StepContext(training=False)

# -- a layer: Layer.functions(K, index) -> (forward, backward) -----------------------------------------------------

Forward: TypeAlias = Callable[[Params, Array, StepContext], tuple[Array, Cache]]
"""``forward(params, X, ctx) -> (Y, cache)``: a layer's output for the batch ``X``, and what its backward needs."""

Gradients: TypeAlias = tuple["Array | None", tuple[Array, ...]]
"""A backward pass's result: dC/dX (None unless asked for) and one gradient per parameter."""

Backward: TypeAlias = Callable[[Params, Cache, Array, bool, Sequence[Any]], Gradients]
"""``backward(params, cache, dY, need_dX, out) -> (dX or None, grads)``: ``out`` holds gradient buffers the model
owns (or Nones), which fast kernels may fill and return; ``grads`` has one array per parameter."""


# -- the model: Sequential.forward_function() and backward_function() -----------------------------------------------


class ModelForward(Protocol):
    """``forward(params, X, ctx=EVAL) -> (Y, caches)``: the network's output, and one cache per layer."""

    def __call__(self, params: Params, X: Array, ctx: StepContext = ..., /) -> tuple[Array, list[Cache]]: ...


class ModelBackward(Protocol):
    """``backward(params, caches, dY, need_input_grad=False, out=None) -> (dX or None, grads)``: one gradient per
    parameter; ``out``: the gradient buffers the kernels may fill."""

    def __call__(
        self, params: Params, caches: Sequence[Cache], dY: Array, need_input_grad: bool = ..., out: Params | None = ...
    ) -> Gradients: ...


# -- a loss: Loss.functions(K) -> (apply, grad) --------------------------------------------------------------------

LossApply: TypeAlias = Callable[[Array, Array], tuple[Array, Cache]]
"""``apply(Y, T) -> (0-d loss, cache)``."""

LossGrad: TypeAlias = Callable[[Cache, Array], Array]
"""``grad(cache, T) -> dL/dY``."""

# -- an optimizer: Optimizer.update_function(K, group_is_weight) -> update -----------------------------------------

Update: TypeAlias = Callable[[Groups, Groups, OptState, Scalar, Scalar], tuple[Groups, OptState]]
"""``update(groups, grads, state, lr, t) -> (groups, state)``: one optimizer step (``t`` counts from 1)."""

UpdateOne: TypeAlias = Callable[
    [Array, Array, tuple[Array, ...], Scalar, Scalar, float, float], tuple[Array, tuple[Array, ...]]
]
"""``one(p, g, state, lr, t, weight_decay, l1) -> (p, state)``: the update of one group."""

# -- the step: make_step(model, loss, optimizer, reduce, weighted) -> step -----------------------------------------

Reduce: TypeAlias = Callable[[Groups, Array, int], tuple[Groups, Array]]
"""``reduce(grad_groups, loss, n_samples) -> (grad_groups, loss)``: between backward and update (an allreduce)."""

Step: TypeAlias = Callable[
    [Groups, OptState, Array, Array, Scalar, Scalar, StepContext], tuple[Groups, OptState, Array, Groups]
]
"""``step(groups, state, X, T, lr, t, ctx) -> (groups, state, loss, grad_groups)``: one mini-batch step."""
