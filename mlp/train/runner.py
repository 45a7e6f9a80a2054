"""The step runner: steps ``first..last-1`` of an epoch, from one :class:`mlp.core.step.TrainState` to the next.

It knows nothing of MPI or of any other way to split the work.  What changes how a step runs plugs in
through two seams:

* ``slicer(Xe, Te, epoch, s) -> (Xb, Tb, ctx)``: the batch of step ``s`` and its :class:`StepContext`
  (default: the plain slice ``[s * batch_size, (s + 1) * batch_size)``; a data-parallel run takes
  its shard of it);
* ``reduce``: the gradient hook of :func:`mlp.core.step.make_step`, between backward and update
  (a gradient allreduce);

plus ``agree(chunk) -> chunk``, which lets several processes settle on the same number of steps
between two host reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from mlp.core.step import TrainState, step_for
from mlp.core.types import Array, Groups, OptState, Reduce, Scalar, StepContext

from .batches import batch_bounds

if TYPE_CHECKING:
    from mlp.core.losses import Loss
    from mlp.core.model import Sequential
    from mlp.core.optim import Optimizer

#: ``slicer(Xe, Te, epoch, s) -> (Xb, Tb, ctx)``: the batch of step ``s`` of an epoch, and its context
Slicer = Callable[[Array, Array, int, int], tuple[Array, Array, StepContext]]
#: ``agree(chunk) -> chunk``: the steps to run before the next host read, agreed with the other processes
Agree = Callable[[int], int]

#: ``new_context(StepContext, (True, seed, epoch, s, None))`` is ``StepContext(True, seed, epoch, s)`` without the
#: named tuple's Python-level ``__new__``: the NumPy step loop makes one a step
new_context: Callable[[type[StepContext], tuple[bool, int, int, int, None]], StepContext] = tuple.__new__
assert StepContext._fields == ("training", "seed", "epoch", "step", "rows"), "new_context builds every field"

#: how many optimizer steps may pass between two host reads of the losses
CHECK_EVERY = 200
#: and about how many seconds (the reads are where progress, Ctrl-C and divergence are handled)
CHECK_SECONDS = 0.2
#: compiled loops of steps, by structure (see StepRunner._compiled)
_COMPILED: dict[tuple, Callable[..., Any]] = {}


class StepRunner:
    """Runs steps ``first..last-1`` of an epoch: ``run(state, first, last) -> (state, losses)``.

    ``losses`` are the steps' mini-batch losses (host float64).  With a backend that compiles
    (``backend.compiler``, JAX) and ``compiled`` not False, the full batches of a run are one compiled
    call: a loop of the same pure step, compiled once per data shape and batch size, not per run.

    Parameters
    ----------
    slicer : callable or None
        ``slicer(Xe, Te, epoch, s) -> (Xb, Tb, ctx)`` (see the module docstring); runs step by step, never compiled.
    reduce : callable or None
        The gradient hook of :func:`mlp.core.step.make_step` (runs step by step, never compiled).
    agree : callable or None
        ``agree(chunk) -> chunk``: the number of steps to run before the next host read, agreed with others.
    weighted : bool
        The epoch's targets carry the samples' weights as their last column (see :func:`mlp.core.step.make_step`).
    """

    def __init__(
        self,
        model: Sequential,
        loss: Loss,
        optimizer: Optimizer,
        batch_size: int,
        n: int,
        seed: int,
        reduce: Reduce | None = None,
        compiled: bool | None = None,
        slicer: Slicer | None = None,
        agree: Agree | None = None,
        weighted: bool = False,
    ) -> None:
        self.model, self.optimizer, self.batch_size, self.n, self.seed = model, optimizer, batch_size, n, seed
        self.step = step_for(model, loss, optimizer, reduce, weighted)
        self.weighted = weighted
        self.slicer, self.agree = slicer, agree
        plain = reduce is None and slicer is None
        compiler = model.backend.compiler
        compilable = getattr(optimizer, "compilable", True)  # L-BFGS decides on host scalars: never compiled
        #: the backend's compiler (``backend.compiler``: its ``loop`` and ``jit``), or None: steps run one by one
        self.compiler: Any = (
            compiler if (compiled is not False and plain and compiler is not None and compilable) else None
        )
        if compiled and self.compiler is None:
            raise ValueError(
                f"compiled=True, but the {model.backend.name} backend does not compile loops of steps"
                + ("" if plain else " with a gradient hook or a batch slicer")
            )
        self.loss = loss
        self.epoch = 0
        #: the epoch's data in batch order, on the device (:meth:`set_epoch`)
        self.Xe: Array = None
        self.Te: Array = None

    def set_epoch(self, epoch: int, Xe: Array, Te: Array) -> None:
        """The epoch's number and its data in batch order (on the device)."""
        self.epoch, self.Xe, self.Te = epoch, Xe, Te

    def chunk_size(self, per_step: float) -> int:
        """How many steps to run before the next host read, given the seconds a step has taken."""
        chunk = max(1, min(CHECK_EVERY, int(CHECK_SECONDS / per_step))) if per_step > 0 else 1
        return chunk if self.agree is None else int(self.agree(chunk))

    def run(self, state: TrainState, first: int, last: int) -> tuple[TrainState, np.ndarray]:
        """Steps ``first..last-1`` from ``state``: the new state and the steps' losses (one host read)."""
        if self.compiler is not None:
            groups, opt_state, values = self._run_compiled(state, first, last)
        else:
            groups, opt_state, values = self._run_steps(state, first, last)
        return TrainState(groups, opt_state, state.t + last - first), values

    def _run_steps(self, state: TrainState, first: int, last: int) -> tuple[Groups, OptState, np.ndarray]:
        step, xp, lr, t0 = self.step, self.model.xp, self.optimizer.lr, state.t
        seed, epoch, Xe, Te = self.seed, self.epoch, self.Xe, self.Te
        groups, opt_state = state.groups, state.opt_state
        values: list[Array] = []
        if self.slicer is None:  # the plain slices and contexts, inline: this loop is the hot path on NumPy
            bs, n = self.batch_size, self.n
            for s in range(first, last):
                i = s * bs
                j = i + bs if i + bs < n else n  # the standard leaves out-of-range slice ends unspecified
                ctx = new_context(StepContext, (True, seed, epoch, s, None))
                groups, opt_state, value, _ = step(
                    groups, opt_state, Xe[i:j, ...], Te[i:j, ...], lr, t0 + s - first + 1, ctx
                )
                values.append(value)
        else:
            slicer = self.slicer
            for s in range(first, last):
                Xb, Tb, ctx = slicer(Xe, Te, epoch, s)
                groups, opt_state, value, _ = step(groups, opt_state, Xb, Tb, lr, t0 + s - first + 1, ctx)
                values.append(value)
        return groups, opt_state, np.asarray(self.model.backend.to_numpy(xp.stack(values)), dtype=np.float64)

    def _compiled(self, kind: str) -> Callable[..., Any]:
        """The compiled loop (``"loop"``) or single step (``"step"``) for this step, made once per structure.

        The key is what the traced computation depends on (backend, kernels, layers, dtype, loss,
        optimizer hyperparameters, seed), not the model object: a compiling backend's step reads the
        model only for its layout, so models of the same structure share one compilation.
        """
        model, opt, loss = self.model, self.optimizer, self.loss
        key = (
            kind,
            model.backend,
            type(model.K),
            repr([layer.config() for layer in model.layers]),
            model.dtype,
            type(loss),
            repr(loss.config()),
            type(opt),
            opt.static_key(),
            self.seed,
            CHECK_EVERY,
            self.weighted,
        )
        fn = _COMPILED.get(key)
        if fn is None:
            step, seed, compiler = self.step, self.seed, self.compiler

            def raw(
                carry: tuple[Groups, OptState], Xb: Array, Tb: Array, lr: Scalar, t: Scalar, epoch: Scalar, s: Scalar
            ) -> tuple[tuple[Groups, OptState], Array]:
                groups, state, value, _ = step(carry[0], carry[1], Xb, Tb, lr, t, StepContext(True, seed, epoch, s))
                return (groups, state), value

            fn = compiler.loop(raw, CHECK_EVERY) if kind == "loop" else compiler.jit(raw)
            if len(_COMPILED) >= 64:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[key] = fn
        return fn

    def _run_compiled(self, state: TrainState, first: int, last: int) -> tuple[Groups, OptState, np.ndarray]:
        be = self.model.backend
        lr, t0 = float(self.optimizer.lr), state.t  # Python numbers: traced, weakly typed, no transfer
        full = self.n // self.batch_size  # steps before this one take a whole batch
        carry, parts = (state.groups, state.opt_state), []
        for lo in range(first, min(last, full), CHECK_EVERY):
            hi = min(lo + CHECK_EVERY, last, full)
            carry, values = self._compiled("loop")(
                carry, self.Xe, self.Te, lr, float(t0 + lo - first), self.epoch, lo, hi - lo, self.batch_size
            )
            parts.append(be.to_numpy(values)[: hi - lo])
        if last > full:  # the epoch's short last batch: one compiled step of its own shape
            i, j = batch_bounds(full, self.batch_size, self.n)
            carry, value = self._compiled("step")(
                carry, self.Xe[i:j, ...], self.Te[i:j, ...], lr, float(t0 + full - first + 1), self.epoch, full
            )
            parts.append(np.reshape(be.to_numpy(value), (1,)))
        return carry[0], carry[1], np.concatenate(parts).astype(np.float64)
