"""How :func:`mlp.fit` trains: in one process (:class:`SingleProcess`) or data-parallel over the processes of a job
(:class:`DataParallel`), behind one interface that the loop calls.

A strategy supplies what differs between the two: the step runner (data parallelism brings its gradient hook, its
batch slicer and the ranks' agreement on the steps between two host reads), the Ctrl-C check (every rank stops at
the same step), the epoch's logs (the same on every rank, with the slowest rank's seconds), the callbacks a process
runs (files are written by rank 0 alone) and whether it shows a progress bar.  :func:`run_epochs` is the loop over
epochs that the fit of arrays (:mod:`mlp.train.loop`) and of a streamed table (:mod:`mlp.train.streaming`) share;
:func:`strategy_for` picks the strategy for a communicator, and :func:`fit_state` makes the state both fits train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import metrics
from .callbacks import KEYS, Callback, FitState, History, ModelCheckpoint, Resume
from .distributed import GradientAllreduce, ShardSlicer, agree_and_broadcast, measure_shards
from .epoch import end_epoch, end_training, progress_bar, sigint_as_flag
from .runner import StepRunner

__all__ = ["DataParallel", "SingleProcess", "Strategy", "fit_state", "run_epochs", "strategy_for"]


class Strategy:
    """What :func:`mlp.fit` asks of the way it trains (see the module docstring); :class:`SingleProcess` and
    :class:`DataParallel` fill it in.  ``comm`` is the communicator (one process: the free one)."""

    comm: Any = None  # a communicator (mlp.backends.comm): set by each strategy's __init__

    @property
    def is_root(self) -> bool:
        """Whether this process shows progress and writes files (rank 0)."""
        return self.comm.is_root

    def start(self, model, optimizer, resume: Resume, **settings) -> None:
        """Before the first step of a run that goes on from ``resume``, with its ``settings`` (ints: samples, batch
        size, epochs, ...)."""

    def runner(
        self, model, loss, optimizer, batch_size, n, seed, *, compiled=None, weighted=False, slicer_of=None
    ) -> StepRunner:
        """The :class:`StepRunner` of the run's steps.  ``slicer_of(hook)``: a batch slicer of its own (a streamed
        table's windows) given the gradient hook (None in one process); default: the plain slices, or this rank's
        shard of each global batch."""
        raise NotImplementedError

    def callbacks(self, callbacks: Sequence[Callback]) -> list:
        """The callbacks this process runs."""
        return list(callbacks)

    def progress(self, wanted: bool) -> bool:
        """Whether this process shows a progress bar, when ``wanted``."""
        return bool(wanted)

    def interrupted(self, local: Callable[[], bool]) -> Callable[[], bool]:
        """The Ctrl-C check the steps read, from this process's own (:func:`mlp.train.epoch.sigint_as_flag`)."""
        return local

    def measure(self, state: FitState, data) -> dict:
        """The metrics of ``data`` (:class:`mlp.train.batches.Data`) after an epoch."""
        return metrics.measure(state.model, state.loss, *data, task=state.task)

    def slowest(self, seconds: float) -> float:
        """The epoch's ``seconds`` as logged: the slowest process's."""
        return seconds

    def shares(self, weights: np.ndarray) -> np.ndarray:
        """Each step's share of its global batch's weight sum, from this process's weight sums ``weights``."""
        return weights / np.maximum(weights, 1e-300)

    def epoch_logs(self, state: FitState, seconds: float, train, val, train_metrics: bool, measure=None) -> dict:
        """The epoch's logs, the same in every process: ``seconds``, ``lr``, the training metrics (unless
        ``train_metrics`` is False) and the validation ones (``val`` not None).  ``measure(state, data)``: how
        metrics are measured (default :meth:`measure`; a streamed table measures its rows from disk)."""
        measure = measure or self.measure
        logs = {"seconds": self.slowest(seconds), "lr": state.optimizer.current_lr()}
        if train_metrics:
            logs.update(measure(state, train))
        if val is not None:
            logs.update({f"val_{k}": v for k, v in measure(state, val).items()})
        return logs


class SingleProcess(Strategy):
    """Training in this process alone: the steps as :class:`StepRunner` runs them (compiled where the backend can),
    with the gradient hook ``reduce`` if one is given; every callback, the progress bar as asked."""

    def __init__(self, reduce=None):
        from mlp.backends.comm import get_communicator

        self.comm, self.reduce = get_communicator(False), reduce

    def runner(self, model, loss, optimizer, batch_size, n, seed, *, compiled=None, weighted=False, slicer_of=None):
        slicer = slicer_of(None) if slicer_of is not None else None
        return StepRunner(
            model,
            loss,
            optimizer,
            batch_size,
            n,
            seed,
            reduce=self.reduce,
            compiled=compiled,
            slicer=slicer,
            weighted=weighted,
        )


class DataParallel(Strategy):
    """Training over the processes of ``comm`` as one process would (see :mod:`mlp.train.distributed`): the same
    settings and rank 0's weights everywhere, each rank's shard of every global batch, the gradients averaged;
    Ctrl-C and the epoch's logs agreed; progress and files on rank 0 only."""

    def __init__(self, comm):
        self.comm = comm
        self.hook = None

    def start(self, model, optimizer, resume, **settings):
        """Every rank agrees on ``settings``, where it resumes and the optimizer's step count; rank 0's parameters
        and optimizer state are broadcast (:func:`mlp.train.distributed.agree_and_broadcast`)."""
        agreed = {**settings, "initial_epoch": resume.epoch, "initial_step": resume.step}
        agree_and_broadcast(self.comm, model, optimizer, **agreed)

    def runner(self, model, loss, optimizer, batch_size, n, seed, *, compiled=None, weighted=False, slicer_of=None):
        """A :class:`StepRunner` whose steps take this rank's shard of each global batch.

        Its gradient hook is the allreduce; chunk sizes (steps between two host reads) are agreed by
        all ranks (the smallest proposal), so that the collective Ctrl-C check happens at the same step.
        """
        if compiled:
            raise ValueError("compiled=True cannot be combined with a communicator: data-parallel steps run one by one")
        self.hook = GradientAllreduce(self.comm, model)
        if slicer_of is not None:
            slicer = slicer_of(self.hook)
        else:
            slicer = ShardSlicer(self.comm, self.hook, batch_size, n, seed, weighted)
        return StepRunner(
            model,
            loss,
            optimizer,
            batch_size,
            n,
            seed,
            reduce=self.hook,
            compiled=False,
            slicer=slicer,
            agree=lambda chunk: self.comm.allreduce(chunk, op="min"),
            weighted=weighted,
        )

    @property
    def allreduce_seconds(self) -> float:
        """Seconds this rank has spent in the gradient allreduce (hook included) so far."""
        return 0.0 if self.hook is None else self.hook.seconds

    def callbacks(self, callbacks):
        """All on rank 0; elsewhere all but those that write files (:class:`ModelCheckpoint`, ``root_only``)."""
        if self.is_root:
            return list(callbacks)
        return [cb for cb in callbacks if not (isinstance(cb, ModelCheckpoint) or getattr(cb, "root_only", False))]

    def progress(self, wanted):
        return bool(wanted) and self.is_root

    def interrupted(self, local):
        """True on every rank when it is true on one (every rank calls it at the same step)."""
        return lambda: self.comm.any(local())

    def measure(self, state, data):
        return measure_shards(self.comm, state, data)

    def slowest(self, seconds):
        return float(self.comm.allreduce(float(seconds), op="max"))

    def shares(self, weights):
        return weights / np.maximum(self.comm.allreduce(weights), 1e-300)


def strategy_for(communicator=None, reduce=None) -> Strategy:
    """:class:`DataParallel` over ``communicator`` when it has more than one process, else :class:`SingleProcess`
    with the gradient hook ``reduce``.

    Raises
    ------
    ValueError
        Both a communicator of several processes and ``reduce`` (it brings its own hook): on every rank alike.
    """
    if communicator is None or communicator.size == 1:
        return SingleProcess(reduce)
    if reduce is not None:
        raise ValueError(
            "fit: give either reduce= or communicator=, not both (the communicator brings its own gradient hook)"
        )
    return DataParallel(communicator)


def fit_state(model, optimizer, loss, task, epochs, seed, resume: Resume) -> FitState:
    """The :class:`FitState` of a run (its history continued, or a new one of the task's keys), with the loss bound
    to the model's kernels and the optimizer's state made (so that a roll-back to the first snapshot restores it)."""
    history = resume.history if resume.history is not None else History(keys=KEYS[task])
    state = FitState(model, optimizer, loss, history, epochs, seed, extra=dict(resume.extra or {}), task=task)
    loss.bind(model.K)  # the model's kernels: fast paths or the reference, as the model chose
    optimizer.state_groups(model)
    return state


def run_epochs(
    strategy: Strategy, state: FitState, callbacks, progress: bool, first_epoch: int, n: int, one_epoch
) -> History:
    """Epochs ``first_epoch..state.epochs-1``: the callbacks' hooks around them, a progress bar of ``n`` samples an
    epoch, Ctrl-C turned into a flag the steps read, the backend's float warnings silenced.

    ``one_epoch(epoch, bar, interrupted) -> logs`` runs an epoch's steps and returns its logs (``bar``: the
    progress bar or None; ``interrupted()``: the Ctrl-C check).  Returns the history.
    """
    callbacks, progress = strategy.callbacks(callbacks), strategy.progress(progress)
    for cb in callbacks:
        cb.on_train_begin(state)
    with sigint_as_flag() as local, state.model.backend.quiet_float_errors():
        interrupted = strategy.interrupted(local)
        for epoch in range(first_epoch, state.epochs):
            state.epoch = epoch
            bar = progress_bar(progress, epoch, state.epochs, n)
            try:
                logs = one_epoch(epoch, bar, interrupted)
            finally:
                if bar is not None:
                    bar.close()
            if end_epoch(state, epoch, logs, callbacks):
                break
    return end_training(state, callbacks)
