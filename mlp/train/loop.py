"""Training: :func:`fit` and :func:`evaluate`, built from three parts.

* **the batch order** (:mod:`mlp.train.batches`): a ``(seed, epoch)`` permutation of the data,
  which moved to the model's device once; a resumed run starts at its step offset;
* **the step** (:mod:`mlp.core.step`): :class:`StepRunner` runs steps ``first..last-1`` of an
  epoch through the pure step, or through the backend's compiled loop of steps (JAX);
* **the loop** (:func:`fit`, :func:`run_epoch`): chunks of steps between two host reads of
  the losses (about every 0.2 s), where the progress bar, Ctrl-C and divergence are handled,
  then per-epoch metrics and callbacks.

A GPU is never stalled by a per-step synchronisation: the host reads the losses once
per chunk.  Those reads also detect divergence: the parameters and optimizer state are
snapshotted at each read, and when a NaN or Inf loss shows up the steps since the
snapshot are replayed to stop exactly before the first bad step (see
:class:`mlp.DivergenceError`).
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

import numpy as np

from . import metrics
from .batches import batch_bounds, batch_order, n_steps, prepare
from .callbacks import (KEYS, Callback, EarlyStopping, FitState, HalveOnPlateau, History,  # noqa: F401
                        ModelCheckpoint, save_training_state)
from mlp.core.errors import DivergenceError, TrainingInterrupted
from mlp.core.layers import StepContext
from mlp.core.losses import get_loss
from mlp.core.tasks import task_of_loss
from mlp.core.step import step_for
from mlp.core.validate import non_negative, non_negative_int, positive_int

#: how many optimizer steps may pass between two host reads of the losses
CHECK_EVERY = 200
#: and about how many seconds (the reads are where progress, Ctrl-C and divergence are handled)
CHECK_SECONDS = 0.2
#: compiled loops of steps, by structure (see StepRunner._compiled)
_COMPILED: dict = {}


def l2_weight_decay(lmbda: float, n: int) -> float:
    """The book's L2 regularisation as an optimizer ``weight_decay``.

    The book adds ``lmbda / (2 n) * sum(w**2)`` to the cost (n: training-set size), so
    each step also subtracts ``eta * lmbda / n * w`` from the weights: ``weight_decay = lmbda / n``.
    """
    non_negative("lmbda", lmbda, "l2")
    positive_int("n", n, "l2")
    return float(lmbda) / n


def l1_strength(lmbda: float, n: int) -> float:
    """The book's L1 regularisation as an optimizer ``l1``.

    The book adds ``lmbda / n * sum(|w|)`` to the cost, so each step also subtracts
    ``eta * lmbda / n * sign(w)`` from the weights: ``l1 = lmbda / n``.
    """
    non_negative("lmbda", lmbda, "l1")
    positive_int("n", n, "l1")
    return float(lmbda) / n


# -- evaluation ---------------------------------------------------------------------------------
def evaluate(model, X, y, loss=None, batch_size: int = 10_000, task: str | None = None) -> dict:
    """Metrics of ``model`` on ``(X, y)`` in evaluation mode.

    Classification (``y`` integer labels ``(n,)`` or targets ``(n, n_out)``): ``{"accuracy"}``;
    regression (``task="regression"``, or a mean squared error ``loss``): ``{"mse", "mae", "r2"}``.
    With ``loss`` the mean loss is added as ``"loss"``.
    """
    task = task_of_loss(get_loss(loss if loss is not None else "quadratic"), task)
    loss = get_loss(loss).bind(model.K) if loss is not None else None
    Xd, Td, labels = prepare(model, X, y, "", task)
    result = metrics.measure(model, loss, Xd, Td, labels, task, positive_int("batch_size", batch_size))
    if loss is None:
        del result["loss"]
    return result


# -- the step ----------------------------------------------------------------------------------
class StepRunner:
    """Runs steps ``first..last-1`` of an epoch and returns their losses (host float64).

    The model's and optimizer's arrays are read before and written back after each
    run, so between two runs both are consistent (ready to snapshot, save or stop).
    With a backend that compiles (``backend.compiler``, JAX) and ``compiled`` not
    False, the full batches of a run are one compiled call: a loop of the same pure
    step, compiled once per data shape and batch size, not per run.

    Parameters
    ----------
    reduce : callable or None
        The gradient hook of :func:`mlp.core.step.make_step` (runs step by step, never compiled).
    """

    def __init__(self, model, loss, optimizer, batch_size, n, seed, reduce=None, compiled=None):
        self.model, self.optimizer, self.batch_size, self.n, self.seed = model, optimizer, batch_size, n, seed
        self.step = step_for(model, loss, optimizer, reduce)
        compiler = model.backend.compiler
        self.compiler = compiler if (compiled is not False and reduce is None and compiler is not None) else None
        if compiled and self.compiler is None:
            raise ValueError(f"compiled=True, but the {model.backend.name} backend does not compile loops of steps"
                             + (" with a gradient hook" if reduce is not None else ""))
        self.loss = loss
        self.epoch, self.Xe, self.Te = 0, None, None

    def set_epoch(self, epoch, Xe, Te):
        """The epoch's number and its data in batch order (on the device)."""
        self.epoch, self.Xe, self.Te = epoch, Xe, Te

    def batch(self, s):
        """``(Xb, Tb)`` of step ``s`` (a data-parallel runner returns its own shard)."""
        i = s * self.batch_size
        j = min(i + self.batch_size, self.n)  # the standard leaves out-of-range slice ends unspecified
        return self.Xe[i:j, ...], self.Te[i:j, ...]

    def context(self, s):
        """The :class:`StepContext` of step ``s`` (a data-parallel runner adds its shard's rows)."""
        return StepContext(True, self.seed, self.epoch, s)

    def chunk_size(self, per_step: float) -> int:
        """How many steps to run before the next host read, given the seconds a step has taken."""
        return max(1, min(CHECK_EVERY, int(CHECK_SECONDS / per_step))) if per_step > 0 else 1

    def run(self, first: int, last: int) -> np.ndarray:
        model, opt = self.model, self.optimizer
        groups, state = model.param_groups(), opt.state_groups(model)
        if self.compiler is not None:
            groups, state, values = self._run_compiled(groups, state, first, last)
        else:
            groups, state, values = self._run_steps(groups, state, first, last)
        model.set_param_groups(groups)
        opt.set_state_groups(model, state)
        opt.t += last - first
        return values

    def _run_steps(self, groups, state, first, last):
        step, xp, lr, t0 = self.step, self.model.xp, self.optimizer.lr, self.optimizer.t
        seed, epoch = self.seed, self.epoch
        values = []
        if type(self).batch is StepRunner.batch and type(self).context is StepRunner.context:
            # the plain slices and contexts, inline: this loop is the hot path on NumPy
            Xe, Te, bs, n = self.Xe, self.Te, self.batch_size, self.n
            for s in range(first, last):
                i = s * bs
                j = i + bs if i + bs < n else n
                groups, state, value, _ = step(groups, state, Xe[i:j, ...], Te[i:j, ...], lr, t0 + s - first + 1,
                                               StepContext(True, seed, epoch, s))
                values.append(value)
        else:
            for s in range(first, last):
                Xb, Tb = self.batch(s)
                groups, state, value, _ = step(groups, state, Xb, Tb, lr, t0 + s - first + 1, self.context(s))
                values.append(value)
        return groups, state, np.asarray(self.model.backend.to_numpy(xp.stack(values)), dtype=np.float64)

    def _compiled(self, kind):
        """The compiled loop (``"loop"``) or single step (``"step"``) for this step, made once per structure.

        The key is what the traced computation depends on (backend, kernels, layers, dtype, loss,
        optimizer hyperparameters, seed), not the model object: a compiling backend's step reads the
        model only for its layout, so models of the same structure share one compilation.
        """
        model, opt, loss = self.model, self.optimizer, self.loss
        key = (kind, model.backend, type(model.K), repr([l.config() for l in model.layers]), model.dtype,
               type(loss), repr(loss.config()), type(opt), opt.static_key(), self.seed, CHECK_EVERY)
        fn = _COMPILED.get(key)
        if fn is None:
            step, seed = self.step, self.seed

            def raw(carry, Xb, Tb, lr, t, epoch, s):
                groups, state, value, _ = step(carry[0], carry[1], Xb, Tb, lr, t, StepContext(True, seed, epoch, s))
                return (groups, state), value

            fn = self.compiler.loop(raw, CHECK_EVERY) if kind == "loop" else self.compiler.jit(raw)
            if len(_COMPILED) >= 64:
                _COMPILED.pop(next(iter(_COMPILED)))
            _COMPILED[key] = fn
        return fn

    def _run_compiled(self, groups, state, first, last):
        be = self.model.backend
        lr, t0 = float(self.optimizer.lr), self.optimizer.t  # Python numbers: traced, weakly typed, no transfer
        full = self.n // self.batch_size  # steps before this one take a whole batch
        carry, parts = (groups, state), []
        for lo in range(first, min(last, full), CHECK_EVERY):
            hi = min(lo + CHECK_EVERY, last, full)
            carry, values = self._compiled("loop")(carry, self.Xe, self.Te, lr, float(t0 + lo - first), self.epoch, lo,
                                                   hi - lo, self.batch_size)
            parts.append(be.to_numpy(values)[: hi - lo])
        if last > full:  # the epoch's short last batch: one compiled step of its own shape
            i, j = batch_bounds(full, self.batch_size, self.n)
            carry, value = self._compiled("step")(carry, self.Xe[i:j, ...], self.Te[i:j, ...], lr,
                                                  float(t0 + full - first + 1), self.epoch, full)
            parts.append(np.reshape(be.to_numpy(value), (1,)))
        return carry[0], carry[1], np.concatenate(parts).astype(np.float64)


# -- the loop ------------------------------------------------------------------------------------
class _Snapshot:
    """Copies of parameters and optimizer state, for rolling back a diverged run."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer

    def take(self):
        keep = self.model.K.keep
        self.groups = tuple(keep(g) for g in self.model.param_groups())
        self.state = tuple(tuple(keep(a) for a in s) for s in self.optimizer.state_groups(self.model))
        self.t = self.optimizer.t

    def restore(self):
        keep = self.model.K.keep  # copies again: the restored arrays may be updated in place later
        self.model.set_param_groups(tuple(keep(g) for g in self.groups))
        self.optimizer.set_state_groups(self.model, tuple(tuple(keep(a) for a in s) for s in self.state))
        self.optimizer.t = self.t


def _roll_back(model, snapshot, runner, first, bad):
    """Restore the snapshot taken before step ``first`` and redo the good steps up to ``bad``.

    Steps are deterministic, so this reproduces the weights the model had right before
    the first step with a non-finite loss.  If those contain Inf/NaN themselves (the update
    of the step before overflowed), stop one step earlier still.
    """
    xp = model.xp
    for last in range(bad, first - 1, -1):
        snapshot.restore()
        if last > first:
            runner.run(first, last)
        if all(bool(xp.all(xp.isfinite(p))) for p in model.param_groups()):
            return
    snapshot.restore()


def _progress_bar(enabled, epoch, epochs, n):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n, desc=f"epoch {epoch + 1}/{epochs}", unit="sample", unit_scale=True,
                leave=True, dynamic_ncols=True, mininterval=0.2)


def _mean_loss(values, first, batch_size, n):
    """Sample-weighted mean of the losses of steps ``first, first+1, ...`` (the last batch may be short)."""
    steps = first + len(values)
    weights = np.full(len(values), float(batch_size))
    weights[-1] = min(batch_size, n - (steps - 1) * batch_size)
    return float(values @ weights / weights.sum())


def run_epoch(runner, snapshot, state, first_step, bar, interrupted):
    """Steps ``first_step..`` of ``state.epoch`` in chunks between host reads; returns the seconds they took.

    Raises :class:`TrainingInterrupted` (between chunks) and :class:`DivergenceError` (after rolling
    back to the weights before the first non-finite loss).
    """
    model, epoch, n, batch_size = state.model, state.epoch, runner.n, runner.batch_size
    steps = n_steps(n, batch_size)
    be = model.backend
    be.synchronize()
    start = time.perf_counter()
    checked = first_step
    losses = np.empty(0)
    snapshot.take()
    next_refresh = start
    while checked < steps:
        if interrupted():
            raise TrainingInterrupted(epoch, checked, state.history)
        done = checked - first_step
        per_step = (time.perf_counter() - start) / done if done else 0.0
        chunk_end = min(steps, checked + runner.chunk_size(per_step))
        recent = runner.run(checked, chunk_end)  # the one host read: syncs the device
        if not np.all(np.isfinite(recent)):
            bad = checked + int(np.flatnonzero(~np.isfinite(recent))[0])
            _roll_back(model, snapshot, runner, checked, bad)
            raise DivergenceError(
                f"the loss became {recent[bad - checked]} at epoch {epoch + 1}, step {bad + 1} of "
                f"{steps} (lr={state.optimizer.lr:g}); try a smaller learning rate. The model keeps its "
                f"weights from before that step."
            )
        snapshot.take()
        losses = np.concatenate([losses, recent])
        checked = chunk_end
        if bar is not None:
            bar.update(min(n, checked * batch_size) - bar.n)
            if time.perf_counter() >= next_refresh:
                bar.set_postfix(loss=f"{_mean_loss(losses, first_step, batch_size, n):.4f}", refresh=False)
                next_refresh = time.perf_counter() + 0.5
    be.synchronize()
    state.batch_loss = _mean_loss(losses, first_step, batch_size, n) if losses.size else float("nan")
    return time.perf_counter() - start


def _epoch_logs(state, seconds, train, val, train_metrics):
    logs = {"seconds": seconds, "lr": state.optimizer.lr}
    if train_metrics:
        logs.update(metrics.measure(state.model, state.loss, *train, task=state.task))
    if val is not None:
        logs.update({f"val_{k}": v for k, v in metrics.measure(state.model, state.loss, *val, task=state.task).items()})
    return logs


def _postfix(logs, task, train_metrics, has_val):
    main = "r2" if task == "regression" else "accuracy"
    short = {"accuracy": "acc", "r2": "r2"}[main]
    shown = {"loss": f"{logs['loss']:.4f}", short: f"{logs[main]:.4f}"} if train_metrics else {}
    if has_val:
        shown[f"val_{short}"] = f"{logs['val_' + main]:.4f}"
    return shown


def fit(model, X, y, *, loss, optimizer, epochs: int, batch_size: int, validation_data=None,
        shuffle: bool = True, seed: int = 0, progress: bool = True, callbacks=(), initial_epoch: int = 0,
        history: History | None = None, extra: dict | None = None, train_metrics: bool = True,
        initial_step: int = 0, task: str | None = None, compiled: bool | None = None, reduce=None,
        communicator=None) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
    X : array, shape (n_samples, n_in)
        Host NumPy data or an array on the model's backend.
    y : array, shape (n_samples,) or (n_samples, n_out)
        Classification: integer class labels (one-hot targets are made as the loss needs) or
        targets.  Regression: float targets.
    loss : Loss, class or name
    optimizer : Optimizer
    epochs : int
        Train until this many epochs are done in total (counting ``initial_epoch``).
    batch_size : int
        Mini-batch size; the last batch of an epoch may be smaller.
    validation_data : (X_val, y_val) or None
    shuffle : bool
        Shuffle every epoch with ``numpy.random.default_rng((seed, epoch))``.
    seed : int
        Also keys the per-step random numbers (dropout).
    progress : bool
        A tqdm bar per epoch with samples/s and the running loss.
    callbacks : sequence of Callback
    initial_epoch, initial_step : int
        Epochs already done, and steps already done in the next one (when resuming);
        ``history`` continues the earlier one.
    train_metrics : bool
        Measure the metrics on the whole training set after each epoch (a forward pass in
        large batches, outside ``seconds``); ``False`` logs ``nan``.
    task : {"classification", "regression"} or None
        None: regression for a mean squared error loss, classification otherwise.  Sets the
        metrics (accuracy; or MSE, MAE and R2) and what callbacks monitor by default.
    compiled : bool or None
        Run chunks of steps as one compiled call where the backend can (JAX); None: where it can.
    reduce : callable or None
        A gradient hook between backward and update (see :func:`mlp.core.step.make_step`).
    communicator : backends.comm.Communicator or None
        Data-parallel training over the processes of an MPI job (``backends.comm.get_communicator(True)``
        under ``mpiexec -n N``): each process takes its shard of every global batch of ``batch_size``
        and the gradients are averaged; the result is that of one process (see :mod:`mlp.train.distributed`).
        Only rank 0 shows progress and writes checkpoints.  None or one process: nothing changes.

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        Before any step: data of the wrong shape, kind or backend, NaN/Inf rows, labels out of range,
        an empty data set, a bad ``epochs``/``batch_size``/``initial_step``, ``optimizer`` not an
        :class:`mlp.Optimizer` (the message names the argument and the shapes or values).
    DivergenceError
        The loss became NaN or Inf; the model keeps the weights it had before that step.
    TrainingInterrupted
        Ctrl-C: raised between two steps (``.epoch``, ``.step`` say where), model and
        optimizer consistent, ready to be checkpointed and resumed.
    """
    from mlp.core.optim import Optimizer

    loss = get_loss(loss)
    task = task_of_loss(loss, task)
    if not isinstance(optimizer, Optimizer):
        hint = f"an instance, e.g. {optimizer.__name__}(lr=0.1)" if isinstance(optimizer, type) else "e.g. mlp.SGD(lr=0.1)"
        raise TypeError(f"optimizer must be an mlp optimizer ({hint}), got {optimizer!r}")
    epochs = positive_int("epochs", epochs)
    batch_size = positive_int("batch_size", batch_size)
    initial_epoch = non_negative_int("initial_epoch", initial_epoch)
    initial_step = non_negative_int("initial_step", initial_step)
    train = prepare(model, X, y, "", task)
    val = None
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        val = prepare(model, validation_data[0], validation_data[1], "validation_data ", task)

    Xd, Td, _ = train
    n = Xd.shape[0]
    steps = n_steps(n, batch_size)
    if initial_step >= steps:
        raise ValueError(
            f"initial_step={initial_step}, but an epoch has only {steps} steps ({n} samples, batch_size "
            f"{batch_size}); was the run saved with another data set or batch size?"
        )
    state = FitState(model, optimizer, loss, history or History(keys=KEYS[task]), epochs, seed,
                     extra=dict(extra or {}), task=task)
    loss.bind(model.K)  # the model's kernels: fast paths or the reference, as the model chose
    optimizer.state_groups(model)  # state exists before the first snapshot, so a roll-back restores it too
    from .distributed import data_parallel

    dp = data_parallel(communicator)
    if dp is not None:  # same settings everywhere, rank 0's weights everywhere, files and bars on rank 0 only
        dp.start(model, optimizer, reduce, samples=n, batch_size=batch_size, epochs=epochs, initial_epoch=initial_epoch,
                 initial_step=initial_step, seed=seed, shuffle=shuffle)
        callbacks, progress = dp.callbacks(callbacks), progress and dp.is_root
        runner = dp.runner(model, loss, optimizer, batch_size, n, seed, compiled=compiled)
    else:
        runner = StepRunner(model, loss, optimizer, batch_size, n, seed, reduce=reduce, compiled=compiled)
    snapshot = _Snapshot(model, optimizer)
    be, xp = model.backend, model.xp
    for cb in callbacks:
        cb.on_train_begin(state)

    with _sigint_as_flag() as interrupted, be.quiet_float_errors():
        if dp is not None:  # Ctrl-C on one rank stops every rank at the same step
            interrupted = dp.interrupted(interrupted)
        for epoch in range(initial_epoch, epochs):
            state.epoch = epoch
            order = batch_order(n, seed, epoch, shuffle)
            if order is None:
                runner.set_epoch(epoch, Xd, Td)
            else:
                order = be.asarray(order)
                runner.set_epoch(epoch, xp.take(Xd, order, axis=0), xp.take(Td, order, axis=0))
            bar = _progress_bar(progress, epoch, epochs, n)
            try:
                seconds = run_epoch(runner, snapshot, state, initial_step if epoch == initial_epoch else 0, bar,
                                    interrupted)
            except BaseException:
                if bar is not None:
                    bar.close()
                raise
            logs = (dp.epoch_logs if dp is not None else _epoch_logs)(state, seconds, train, val, train_metrics)
            logs["batch_loss"] = state.batch_loss
            if bar is not None:
                bar.set_postfix(_postfix(logs, task, train_metrics, val is not None), refresh=False)
                bar.close()
            state.history.append(epoch, logs)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs, state)
            if state.stop_training:
                break
    for cb in callbacks:
        cb.on_train_end(state)
    return state.history


@contextmanager
def _sigint_as_flag():
    """While training, Ctrl-C sets a flag that the loop reads between steps.

    A KeyboardInterrupt raised in the middle of an update could leave half the
    parameters stepped; the flag lets the loop stop at a consistent point instead.
    Only the main thread can own signal handlers; elsewhere Ctrl-C behaves as usual.
    """
    flag = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if flag:  # a second Ctrl-C while the first is being handled: give up at once
            raise KeyboardInterrupt
        flag.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(flag)
    finally:
        signal.signal(signal.SIGINT, previous)
