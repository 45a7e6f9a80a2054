"""Training on a streamed table: :func:`fit` for rows on disk, a window at a time (see :mod:`mlp.train.windows`).

:func:`mlp.fit` comes here when it is handed :class:`mlp.io.tables.stream.StreamedRows` (what
``mlp.tables.stream_table(...).rows()`` gives) instead of arrays.  Each epoch reads one window after another: this
process's chunks of it, in the window's order, moved to the device, and the window's steps run through the same
pure step, runner, roll-back and callbacks as arrays in memory.  With a communicator of several processes each
process reads only its chunks; at each step it takes its rows of the global batch, and the gradient allreduce
weighs them by their share of it, so that the model is the one process's.

Metrics are measured block by block from disk (their sums added up over the blocks and the processes).
"""

from __future__ import annotations

import numpy as np

from mlp.core.layers import StepContext
from mlp.core.losses import get_loss
from mlp.core.tasks import task_of_loss

from . import metrics
from .batches import class_weights_of_counts, targets_for
from .callbacks import Resume
from .epoch import check_optimizer, run_steps
from .strategy import SingleProcess, Strategy, fit_state, run_epochs
from .windows import WindowPlan

__all__ = ["fit_rows", "measure_rows"]


class WindowSlicer:
    """The batch slicer (see :mod:`mlp.train.runner`) over a window's data: step ``s`` takes this process's rows
    of the step's global batch, and sets the gradient hook's weight (its share of the batch, by weight)."""

    def __init__(self, hook, seed, weighted):
        self.hook, self.seed, self.weighted = hook, seed, weighted
        self.window = None

    def set_window(self, window, weights=None):
        self.window, self._weights = window, weights

    def __call__(self, Xe, Te, epoch, s):
        w = self.window
        k = s - w.first_step
        a, b = int(w.bounds[k]), int(w.bounds[k + 1])
        size = int(w.sizes[k])
        if self.hook is not None:
            if self.weighted:  # this process's share of the global batch's weight sum
                self.hook.weight = self._weights[k]
            else:
                self.hook.weight = (b - a) / size
        rows = None
        if self.hook is not None:  # random layers draw the global batch's numbers and keep this process's rows
            places = w.places[k]
            rows = (places, size)
        if a == b:  # none of the batch's rows is this process's: one row (any), weighted 0, keeps shapes valid
            a = min(a, Xe.shape[0] - 1)  # the window data holds a row at least (_window_data)
            b = a + 1
            rows = (np.zeros(1, dtype=np.int64), size) if self.hook is not None else rows
        return Xe[a:b, ...], Te[a:b, ...], StepContext(True, self.seed, epoch, s, rows=rows)


def _window_data(model, rows, window, task, class_weight):
    """The window's rows of this process in the steps' order, on the device: ``(X, T with weights or not, weights
    per step)``.  A process holding none of the window's rows gets one row of zeros (its steps weigh 0)."""
    X, y = rows.read(window.chunks, window.order)
    if not len(X):
        X, y = np.zeros((1, rows.width), dtype=rows.dtype), np.zeros((1, y.shape[1]))
    be = model.backend
    T = targets_for(model, rows.targets(y), task=task, dtype=np.dtype(model.dtype))
    step_weights = None
    if class_weight is not None:
        w = class_weight[rows.targets(y)]
        T = np.concatenate([T, w[:, None].astype(T.dtype)], axis=1)
        taken = np.diff(window.bounds)  # this process's rows of each step (0 for some)
        step_weights = np.bincount(
            np.repeat(np.arange(window.n_steps), taken), w[: taken.sum()], minlength=window.n_steps
        )
    return be.asarray(X, dtype=model.dtype), be.asarray(T, dtype=model.dtype), step_weights


def measure_rows(model, loss, rows, task, comm=None) -> dict:
    """The task's metrics of ``rows`` (:class:`~mlp.io.tables.stream.StreamedRows`), block by block from disk,
    added up over the processes of ``comm``."""
    total = None
    for X, y in rows.blocks():
        if not len(X):
            continue
        T = targets_for(model, rows.targets(y), task=task, dtype=np.dtype(model.dtype))
        part = metrics.sums(
            model,
            loss,
            model.backend.asarray(X, dtype=model.dtype),
            model.backend.asarray(T, dtype=model.dtype),
            rows.targets(y) if task == "classification" else None,
            task=task,
        )
        total = part if total is None else total + part
    if total is None:
        total = np.zeros(3 if task == "classification" else 2 + 4 * model.sizes[-1])
    if comm is not None and comm.size > 1:
        total = comm.allreduce(total)
    return metrics.from_sums(total, task, loss is not None)


def fit_rows(
    model,
    rows,
    *,
    loss,
    optimizer,
    epochs,
    batch_size,
    validation_data=None,
    seed=0,
    progress=True,
    callbacks=(),
    train_metrics=True,
    task=None,
    strategy: Strategy | None = None,
    class_weight=None,
    resume: Resume | None = None,
):
    """:func:`mlp.fit` of streamed rows (see the module docstring): its arguments as :func:`mlp.fit` takes them, the
    communicator as its :class:`~mlp.train.strategy.Strategy` (default: one process)."""
    loss = get_loss(loss)
    task = task_of_loss(loss, task)
    check_optimizer(optimizer)
    strategy = strategy or SingleProcess()
    resume = resume or Resume()
    comm = strategy.comm
    plan = WindowPlan(rows.layout, batch_size, seed, comm.rank, comm.size)
    weights = None
    if class_weight is not None:
        if task != "classification":
            raise ValueError("class_weight applies to classification, not regression")
        weights = class_weights_of_counts(class_weight, rows.class_counts)
    if resume.step and resume.step >= plan.n_steps(resume.epoch):
        raise ValueError(
            f"initial_step={resume.step}, but epoch {resume.epoch + 1} has only "
            f"{plan.n_steps(resume.epoch)} steps; was the run saved with another table or batch size?"
        )
    state = fit_state(model, optimizer, loss, task, epochs, seed, resume)
    strategy.start(
        model, optimizer, resume, samples=len(rows), batch_size=batch_size, epochs=epochs, seed=seed, shuffle=1
    )

    # each step takes this process's rows of its global batch in the window (the hook: the gradient allreduce)
    runner = strategy.runner(
        model,
        loss,
        optimizer,
        batch_size,
        len(rows),
        seed,
        compiled=False,
        weighted=weights is not None,
        slicer_of=lambda hook: WindowSlicer(hook, seed, weights is not None),
    )
    slicer = runner.slicer

    def measure(state, rows):
        return measure_rows(state.model, state.loss, rows, state.task, comm)

    def one_epoch(epoch, bar, interrupted):
        first = resume.step if epoch == resume.epoch else 0
        seconds, losses, sizes = _run_windows(
            runner, slicer, state, plan, rows, weights, strategy.shares, first, bar, interrupted
        )
        state.batch_loss = float(losses @ sizes / sizes.sum()) if len(losses) else float("nan")
        logs = strategy.epoch_logs(state, seconds, rows, validation_data, train_metrics, measure)
        return {**logs, "batch_loss": state.batch_loss}

    return run_epochs(strategy, state, callbacks, progress, resume.epoch, len(rows), one_epoch)


def _run_windows(runner, slicer, state, plan, rows, weights, shares, first, bar, interrupted):
    """The steps ``first..`` of ``state.epoch``, one window after another: ``(seconds, the steps' losses, the
    steps' batch sizes)``.  ``shares(weights)``: each step's share of its global batch's weight sum (the
    strategy's)."""
    epoch, model = state.epoch, state.model
    total_steps = plan.n_steps(epoch)
    seconds, losses, sizes, done_rows = 0.0, [], [], 0
    for window in plan.epoch(epoch, first):
        X, T, step_weights = _window_data(model, rows, window, state.task, weights)
        if step_weights is not None:  # each step's share of its global batch's weight
            step_weights = shares(step_weights)
        slicer.set_window(window, step_weights)
        runner.set_epoch(epoch, X, T)
        start = max(first, window.first_step)
        skipped = int(window.sizes[: start - window.first_step].sum())
        base = done_rows

        def before(s, window=window, base=base, skipped=skipped):
            return base + int(window.sizes[: s - window.first_step].sum()) - skipped

        spent, part = run_steps(
            runner, state, start, window.first_step + window.n_steps, bar, interrupted, before, total_steps
        )
        seconds += spent
        losses.append(part)
        sizes.append(window.sizes[start - window.first_step :])
        done_rows = before(window.first_step + window.n_steps)
    losses = np.concatenate(losses) if losses else np.empty(0)
    sizes = np.concatenate(sizes) if sizes else np.empty(0)
    return seconds, losses, sizes
