"""An epoch's steps: run in chunks between host reads, with the progress bar, Ctrl-C and divergence handled.

What :func:`mlp.fit` (arrays in memory, :mod:`mlp.train.loop`) and the fit of a streamed table
(:mod:`mlp.train.streaming`) share: :func:`run_steps` runs steps ``first..last-1`` of an epoch through a
:class:`~mlp.train.runner.StepRunner`, reading the losses back about every 0.2 s; a NaN or Inf loss rolls the model
back to the weights before its step (:class:`mlp.DivergenceError`); Ctrl-C (:func:`sigint_as_flag`) stops between
two chunks (:class:`mlp.TrainingInterrupted`), and so do SIGTERM and SIGHUP.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from mlp.core.errors import DivergenceError, TrainingInterrupted
from mlp.core.step import TrainState

from .batches import n_steps

if TYPE_CHECKING:
    from .runner import StepRunner

#: the loop's state, a :class:`mlp.train.callbacks.FitState` (``model``, ``optimizer``, ``epoch``, ``history``, ...);
#: Any here: its fields are declared ``object``, and the training loops that make it are being restructured
FitState = Any
#: a signal handler as :func:`signal.signal` takes it
Handler = Union[Callable[[int, Optional[FrameType]], Any], int, None]

__all__ = [
    "SignalInterrupt",
    "check_optimizer",
    "end_epoch",
    "end_training",
    "mean_loss",
    "progress_bar",
    "raise_on_stop_signals",
    "run_epoch",
    "run_steps",
    "sigint_as_flag",
    "signal_name",
    "signal_raised",
    "stop_signal",
]


def _roll_back(runner: StepRunner, good: TrainState, first: int, bad: int) -> TrainState:
    """From ``good`` (the state before step ``first``), redo the steps up to ``bad`` (the first non-finite loss).

    Steps are deterministic, so this reproduces the weights the model had right before the first step
    with a non-finite loss.  If those contain Inf/NaN themselves (the update of the step before
    overflowed), stop one step earlier still.  ``good`` itself is left untouched.
    """
    xp, keep = runner.model.xp, runner.model.K.keep
    for last in range(bad, first, -1):
        state, _ = runner.run(good.copy(keep), first, last)
        if all(bool(xp.all(xp.isfinite(p))) for p in state.groups):
            return state
    return good.copy(keep)


def progress_bar(enabled: bool, epoch: int, epochs: int, n: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=n,
        desc=f"epoch {epoch + 1}/{epochs}",
        unit="sample",
        unit_scale=True,
        leave=True,
        dynamic_ncols=True,
        mininterval=0.2,
    )


def mean_loss(values: np.ndarray, first: int, batch_size: int, n: int) -> float:
    """Sample-weighted mean of the losses of steps ``first, first+1, ...`` (the last batch may be short)."""
    steps = first + len(values)
    weights = np.full(len(values), float(batch_size))
    weights[-1] = min(batch_size, n - (steps - 1) * batch_size)
    return float(values @ weights / weights.sum())


def run_epoch(runner: StepRunner, state: FitState, first_step: int, bar: Any, interrupted: Callable[[], bool]) -> float:
    """Steps ``first_step..`` of ``state.epoch`` in chunks between host reads; returns the seconds they took.

    The loop holds the :class:`TrainState`; after each chunk it is written back to the model and optimizer,
    so that between chunks both are consistent (ready to save, stop or roll back).  Raises
    :class:`TrainingInterrupted` (between chunks) and :class:`DivergenceError` (after rolling back to the
    weights before the first non-finite loss).
    """
    n, batch_size = runner.n, runner.batch_size
    runner.model.backend.wait(runner.Xe, runner.Te)  # the epoch's shuffled data exists before the clock starts
    seconds, losses = run_steps(
        runner, state, first_step, n_steps(n, batch_size), bar, interrupted, lambda s: min(n, s * batch_size)
    )
    state.batch_loss = mean_loss(losses, first_step, batch_size, n) if losses.size else float("nan")
    return seconds


def run_steps(
    runner: StepRunner,
    state: FitState,
    first: int,
    last: int,
    bar: Any,
    interrupted: Callable[[], bool],
    rows_before: Callable[[int], int],
    total_steps: int | None = None,
) -> tuple[float, np.ndarray]:
    """Steps ``first..last-1`` of ``state.epoch`` in chunks between host reads: ``(seconds, the steps' losses)``.

    ``rows_before(s)``: the epoch's rows taken by the steps before step ``s`` (the progress bar counts them);
    ``total_steps``: the epoch's steps, for messages (default ``last``).
    """
    model, optimizer, epoch = state.model, state.optimizer, state.epoch
    keep = model.K.keep
    start = time.perf_counter()
    checked = first
    losses = np.empty(0)
    current = TrainState.of(model, optimizer)
    good = current.copy(keep)  # the last state with finite losses: what a roll-back starts from
    next_refresh = start
    while checked < last:
        if interrupted():
            raise TrainingInterrupted(epoch, checked, state.history)
        done = checked - first
        per_step = (time.perf_counter() - start) / done if done else 0.0
        chunk_end = min(last, checked + runner.chunk_size(per_step))
        current, recent = runner.run(current, checked, chunk_end)  # the one host read: syncs the device
        if not np.all(np.isfinite(recent)):
            bad = checked + int(np.flatnonzero(~np.isfinite(recent))[0])
            _roll_back(runner, good, checked, bad).apply_to(model, optimizer)
            raise DivergenceError(
                f"the loss became {recent[bad - checked]} at epoch {epoch + 1}, step {bad + 1} of "
                f"{total_steps or last} (lr={optimizer.lr:g}); try a smaller learning rate. The model keeps its "
                f"weights from before that step."
            )
        current.apply_to(model, optimizer)
        good = current.copy(keep)
        losses = np.concatenate([losses, recent])
        checked = chunk_end
        if bar is not None:
            bar.update(rows_before(checked) - bar.n)
            if time.perf_counter() >= next_refresh:
                bar.set_postfix(loss=f"{float(np.mean(losses)):.4f}", refresh=False)
                next_refresh = time.perf_counter() + 0.5
    model.backend.synchronize()
    return time.perf_counter() - start, losses


def check_optimizer(optimizer: Any) -> None:
    from mlp.core.optim import Optimizer

    if not isinstance(optimizer, Optimizer):
        hint = (
            f"an instance, e.g. {optimizer.__name__}(lr=0.1)" if isinstance(optimizer, type) else "e.g. mlp.SGD(lr=0.1)"
        )
        raise TypeError(f"optimizer must be an mlp optimizer ({hint}), got {optimizer!r}")


#: the signals that stop training between two steps, as Ctrl-C does: Ctrl-C, the polite kill a batch scheduler
#: (Slurm, PBS, Kubernetes, systemd) sends before SIGKILL, and a closed terminal
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_received: list[int] = []
_raised: list[int] = []


class SignalInterrupt(KeyboardInterrupt):
    """SIGTERM or SIGHUP outside a training loop (or a second signal inside one): stop now, as Ctrl-C does.

    A ``KeyboardInterrupt``, so that ``except Exception`` does not swallow it and every ``finally`` (an atomic
    write's clean-up) runs; ``signum`` says which signal (the ``mlp`` command exits ``128 + signum``).
    """

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal_name(signum)}")
        self.signum = signum


def signal_name(signum: int) -> str:
    """``"SIGTERM"`` for 15."""
    try:
        return signal.Signals(signum).name
    except ValueError:  # pragma: no cover - a number that is no signal
        return f"signal {signum}"


def stop_signal() -> int | None:
    """The signal that stopped the last training loop (:func:`sigint_as_flag`), or None."""
    return _received[-1] if _received else None


def _taken_over(signum: int, current: Handler) -> bool:
    """Whether training may handle ``signum``: always Ctrl-C (as before); SIGTERM and SIGHUP unless ignored
    (``nohup``) or handled by the program itself (a handler of its own is left alone), except the ``mlp``
    command's own handler (:func:`raise_on_stop_signals`)."""
    if signum == signal.SIGINT:
        return True
    return current is signal.SIG_DFL or getattr(current, "mlp_stop", False)


@contextmanager
def sigint_as_flag() -> Iterator[Callable[[], bool]]:
    """While training, Ctrl-C (SIGINT), SIGTERM and SIGHUP set a flag that the loop reads between steps.

    A KeyboardInterrupt raised in the middle of an update could leave half the
    parameters stepped; the flag lets the loop stop at a consistent point instead
    (:class:`~mlp.TrainingInterrupted`; :func:`stop_signal` says which signal it was).
    SIGTERM and SIGHUP are taken only where they would otherwise end the process at once (the default
    action, or the ``mlp`` command's handler): ignored ones (``nohup``) stay ignored, and a program's own
    handler is left in place.  A second signal while the first is being handled stops at once.
    Only the main thread can own signal handlers; elsewhere Ctrl-C behaves as usual.
    """
    flag: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    _received.clear()

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag:  # a second signal while the first is being handled: give up at once
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SignalInterrupt(signum)
        flag.append(signum)
        _received.append(signum)

    previous: dict[int, Handler] = {}
    try:
        for signum in STOP_SIGNALS:
            current = signal.getsignal(signum)
            if _taken_over(signum, current):
                previous[signum] = signal.signal(signum, handler)
        yield lambda: bool(flag)
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def raise_on_stop_signals() -> dict[int, Handler]:
    """Make SIGTERM and SIGHUP raise :class:`SignalInterrupt` (what Ctrl-C's ``KeyboardInterrupt`` is to SIGINT),
    where they would end the process at once: the ``mlp`` command's setting, so that a kill outside training
    still runs every clean-up and says one line.  Ignored signals stay ignored; returns the previous handlers.

    Ctrl-C keeps raising ``KeyboardInterrupt`` where Python's own handler had it do so, and each signal raised is
    remembered (:func:`signal_raised`): an interrupt that lands inside the interpreter's own machinery can come out
    as another exception (CPython turns one raised while it builds an ``ImportError`` into ``TypeError: expected a
    message argument``), which the command then reports as the interrupt it was."""
    _raised.clear()

    def handler(signum: int, frame: FrameType | None) -> None:
        _raised.append(signum)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SignalInterrupt(signum)

    handler.mlp_stop = True  # type: ignore[attr-defined]  # the mark _taken_over looks for
    previous: dict[int, Handler] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if current is (signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL):
            previous[signum] = signal.signal(signum, handler)
    return previous


def signal_raised() -> int | None:
    """The last signal that :func:`raise_on_stop_signals`' handler turned into an exception, or None."""
    return _raised[-1] if _raised else None


def end_epoch(state: FitState, epoch: int, logs: dict[str, Any], callbacks: Iterable[Any]) -> bool:
    """The epoch's logs into the history and to each callback; whether training stops (a callback said so)."""
    state.history.append(epoch, logs)
    for cb in callbacks:
        cb.on_epoch_end(epoch, logs, state)
    return state.stop_training


def end_training(state: FitState, callbacks: Iterable[Any]) -> Any:
    """Each callback's ``on_train_end``; the history."""
    for cb in callbacks:
        cb.on_train_end(state)
    return state.history
