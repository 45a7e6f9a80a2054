"""One training step as a pure function, and :func:`train_step`, the object API on top of it.

:func:`make_step` builds, for one model binding, one loss and one optimizer,

``step(groups, state, X, T, lr, t, ctx) -> (groups, state, loss, grads)``

the maths of a mini-batch step (forward, loss, backward, update) as a function of
arrays: ``groups`` are the model's parameter groups, ``state`` the optimizer's,
``lr`` and ``t`` (the step number, from 1) numbers or 0-d arrays, ``ctx`` a
:class:`mlp.core.types.StepContext`.  It returns new arrays (NumPy's fast paths
return their own buffers, updated in place, which is the same thing to a caller
that always uses the returned arrays).  That is what lets a backend compile a
whole chunk of steps (JAX) and what the next seams plug into: ``reduce`` runs
between backward and update (a gradient allreduce for data-parallel training),
and ``ctx`` carries the mode and the random key (dropout).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from .losses import Loss, get_loss
from .types import Array, Cache, Groups, LossApply, LossGrad, OptState, Reduce, Scalar, Step, StepContext

if TYPE_CHECKING:
    from .kernels import Kernels
    from .model import Sequential
    from .optim import Optimizer


class TrainState(NamedTuple):
    """What a training loop carries from step to step, as optax's caller-held state: one value.

    ``groups`` are the model's parameter groups, ``opt_state`` the optimizer's state groups (as
    :func:`make_step`'s step takes and returns them) and ``t`` the optimizer steps done.  The loop
    owns it: it can snapshot it (copies of the arrays), roll back to it, or hand it to a compiled loop.
    """

    groups: Groups
    opt_state: OptState
    t: int

    @classmethod
    def of(cls, model: Sequential, optimizer: Optimizer) -> TrainState:
        """The current state of ``model`` and ``optimizer``."""
        return cls(model.param_groups(), optimizer.state_groups(model), optimizer.t)

    def apply_to(self, model: Sequential, optimizer: Optimizer) -> None:
        """Make this the state of ``model`` and ``optimizer`` (their object API then sees it)."""
        model.set_param_groups(self.groups)
        optimizer.set_state_groups(model, self.opt_state)
        optimizer.t = self.t

    def copy(self, keep: Callable[[Array], Array]) -> TrainState:
        """A copy whose arrays later in-place updates cannot change (``keep``: the kernels' copy)."""
        return TrainState(
            tuple(keep(g) for g in self.groups), tuple(tuple(keep(a) for a in s) for s in self.opt_state), self.t
        )


#: the steps made for each model (dropped with the model)
_STEPS: weakref.WeakKeyDictionary[Sequential, dict[tuple, Step]] = weakref.WeakKeyDictionary()


def make_step(
    model: Sequential, loss: Loss, optimizer: Optimizer, reduce: Reduce | None = None, weighted: bool = False
) -> Step:
    """The pure step for ``model``'s current binding (see the module docstring).

    Parameters
    ----------
    model : Sequential
    loss : Loss
    optimizer : Optimizer
        Its hyperparameters except ``lr`` are fixed in the returned function.
    reduce : callable or None
        ``reduce(grad_groups, loss, n_samples) -> (grad_groups, loss)``, applied to the
        gradients (grouped as the parameters) and the mini-batch loss before the update.
    weighted : bool
        ``T`` carries one more column, the samples' weights: the step minimises the weighted mean
        ``sum(w * rows) / sum(w)`` of the per-sample losses (see :meth:`mlp.Loss.rows`).  The weights
        travel with the targets so that every way of slicing and compiling batches carries them.
    """
    own = getattr(optimizer, "make_step", None)
    if own is not None:  # an optimizer that evaluates the loss several times a step (mlp.core.lbfgs.LBFGS)
        return own(model, loss, reduce, weighted)
    K = model.K
    forward, backward = model.forward_function(), model.backward_function()
    update = model.update_function(optimizer)
    apply, grad = _loss_functions(loss, K)
    param_arrays, buffers, to_groups = model.param_arrays, model.gradient_buffers, model.grads_to_groups
    rows, xp = (lambda Y, T: loss.rows(K, Y, T)), model.xp

    def finish(
        groups: Groups, state: OptState, grads: tuple[Array, ...], value: Array, n: int, lr: Scalar, t: Scalar
    ) -> tuple[Groups, OptState, Array, Groups]:
        grad_groups = to_groups(grads)
        if reduce is not None:
            grad_groups, value = reduce(grad_groups, value, n)
        groups, state = update(groups, grad_groups, state, lr, t)
        return groups, state, value, grad_groups

    def step(
        groups: Groups, state: OptState, X: Array, T: Array, lr: Scalar, t: Scalar, ctx: StepContext
    ) -> tuple[Groups, OptState, Array, Groups]:
        params = param_arrays(groups)  # NumPy: its flat buffers' own views
        Y, caches = forward(params, X, ctx)
        value, cache = apply(Y, T)
        _, grads = backward(params, caches, grad(cache, T), False, buffers())
        grad_groups = to_groups(grads)  # finish(...), inline: this is the hot path on NumPy
        if reduce is not None:
            grad_groups, value = reduce(grad_groups, value, X.shape[0])
        groups, state = update(groups, grad_groups, state, lr, t)
        return groups, state, value, grad_groups

    def weighted_step(
        groups: Groups, state: OptState, X: Array, Tw: Array, lr: Scalar, t: Scalar, ctx: StepContext
    ) -> tuple[Groups, OptState, Array, Groups]:
        T, w = Tw[:, :-1], Tw[:, -1]
        params = param_arrays(groups)
        Y, caches = forward(params, X, ctx)
        total = xp.sum(w)
        # an all-zero-weight batch (possible in a data-parallel shard) contributes nothing, not NaN
        safe = xp.where(total > 0, total, xp.ones_like(total))
        value = xp.sum(w * rows(Y, T)) / safe
        _, cache = apply(Y, T)
        scale = xp.reshape(w * (Y.shape[0] / safe), (-1, 1))
        _, grads = backward(params, caches, grad(cache, T) * scale, False, buffers())
        return finish(groups, state, grads, value, X.shape[0], lr, t)

    return weighted_step if weighted else step


def _loss_functions(loss: Loss, K: Kernels) -> tuple[LossApply, LossGrad]:
    """``(apply, grad)`` of ``loss`` on ``K``: the kernels looked up once, or the loss's own overrides."""
    if type(loss).apply is Loss.apply and type(loss).grad is Loss.grad:
        return loss.functions(K)

    def apply(Y: Array, T: Array) -> tuple[Array, Cache]:
        return loss.apply(K, Y, T)

    def grad(cache: Cache, T: Array) -> Array:
        return loss.grad(K, cache, T)

    return apply, grad


def step_for(
    model: Sequential, loss: Loss, optimizer: Optimizer, reduce: Reduce | None = None, weighted: bool = False
) -> Step:
    """:func:`make_step`, made once per (model binding, loss, optimizer hyperparameters, reduce, weighted)."""
    steps = _STEPS.setdefault(model, {})
    key = (model.K, id(loss), type(loss), id(optimizer), type(optimizer), optimizer.static_key(), reduce, weighted)
    fn = steps.get(key)
    if fn is None:
        if len(steps) > 8:
            steps.clear()
        fn = steps[key] = make_step(model, loss, optimizer, reduce, weighted)
    return fn


def train_step(
    model: Sequential,
    loss: Loss | type[Loss] | str,
    optimizer: Optimizer,
    X: Array,
    T: Array,
    *,
    ctx: StepContext | None = None,
    reduce: Reduce | None = None,
) -> Array:
    """One optimizer step on one mini-batch: forward, loss, backward, update.

    Parameters
    ----------
    model : Sequential
    loss : Loss, class or name
    optimizer : Optimizer
    X : array (n_samples, n_in) on the model's backend, in the model's dtype
    T : array (n_samples, n_out) of targets, the same
    ctx : StepContext or None
        Mode and random key; default: training mode, key ``(model.seed, 0, optimizer.t)``.
    reduce : callable or None
        A hook between backward and update (see :func:`make_step`).

    Returns
    -------
    The mini-batch loss, a 0-d array on the model's device (reading it is the only sync).
    """
    loss = get_loss(loss)
    model.check_input(X)
    model.check_targets(X, T, loss)
    step = step_for(model, loss, optimizer, reduce)
    state = optimizer.state_groups(model)
    if ctx is None:
        ctx = StepContext(True, model.seed, 0, optimizer.t)
    groups, state, value, grads = step(model.param_groups(), state, X, T, optimizer.lr, optimizer.t + 1, ctx)
    optimizer.t += 1
    model.set_param_groups(groups)
    optimizer.set_state_groups(model, state)
    model.set_gradient_groups(grads)
    return value
