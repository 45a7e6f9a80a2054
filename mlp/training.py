"""Training: :func:`fit`, :func:`evaluate`, :class:`History` and callbacks.

The data goes to the model's device once per :func:`fit`.  Each epoch shuffles
with one device ``take`` of a host permutation (drawn from ``(seed, epoch)``, so
a resumed run sees the same batches), then slices contiguous mini-batches on
the device.  Per-step losses go into a device buffer; the host reads it only at
progress-bar refreshes and at the end of the epoch, so a GPU is never stalled
by a per-step synchronisation.  Those reads also detect divergence: the
parameters and optimizer state are snapshotted at each read, and when a NaN or
Inf loss shows up the steps since the snapshot are replayed to stop exactly
before the first bad step (see :class:`mlp.DivergenceError`).
"""
from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ._util import describe
from .errors import DivergenceError, TrainingInterrupted
from .losses import get_loss

#: how many optimizer steps may pass between two host reads of the loss buffer
CHECK_EVERY = 200
#: and about how many seconds (the reads are where progress, Ctrl-C and divergence are handled)
CHECK_SECONDS = 0.2


class History:
    """Per-epoch metrics of a :func:`fit`: ``history.history["loss"]`` etc.

    Keys: ``loss``, ``accuracy`` (on the training data, measured after the epoch),
    ``val_loss``, ``val_accuracy`` (``nan`` without validation data), ``seconds``
    (wall time of the epoch's training steps alone, device synchronised), ``lr``.
    """

    KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "seconds", "lr")

    def __init__(self, history: dict | None = None, epoch: list | None = None):
        self.history = {k: list((history or {}).get(k, [])) for k in self.KEYS}
        self.epoch = list(epoch or [])

    def append(self, epoch: int, logs: dict):
        self.epoch.append(epoch)
        for k in self.KEYS:
            self.history[k].append(float(logs.get(k, math.nan)))

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, **self.history}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls({k: d.get(k, []) for k in cls.KEYS}, d.get("epoch", []))

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


@dataclass
class FitState:
    """What callbacks see and may change: ``stop_training``, ``optimizer.lr``, ..."""

    model: object
    optimizer: object
    loss: object
    history: History
    epochs: int
    seed: int
    epoch: int = 0
    stop_training: bool = False
    extra: dict = field(default_factory=dict)


class Callback:
    """Hooks called by :func:`fit`; override what you need."""

    def on_train_begin(self, state: FitState):
        pass

    def on_epoch_end(self, epoch: int, logs: dict, state: FitState):
        pass

    def on_train_end(self, state: FitState):
        pass


def _monitored(callback, logs):
    """The value ``callback.monitor`` names in an epoch's logs; an error if the epoch did not log it."""
    if callback.monitor not in logs:
        raise ValueError(
            f"{type(callback).__name__} monitors {callback.monitor!r}, but the epoch logged only "
            f"{', '.join(sorted(logs))}: pass validation_data to fit, or monitor one of those"
        )
    return float(logs[callback.monitor])


def _better(mode, value, best):
    if math.isnan(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def _mode(monitor, mode):
    if mode == "auto":
        return "max" if "accuracy" in monitor else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    With ``restore_best=True`` the model gets back the weights of its best epoch.
    """

    def __init__(self, monitor="val_accuracy", patience=10, mode="auto", restore_best=True):
        self.monitor, self.patience, self.restore_best = monitor, int(patience), restore_best
        self.mode = _mode(monitor, mode)
        self.best = None
        self.best_epoch = None
        self._best_state = None
        self.wait = 0

    def on_epoch_end(self, epoch, logs, state):
        value = _monitored(self, logs)
        if _better(self.mode, value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_state = state.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop_training = True
            if self.restore_best and self._best_state is not None:
                state.model.load_state_dict(self._best_state)


class HalveOnPlateau(Callback):
    """The book's learning-rate schedule (chapter 3): halve eta after ``patience`` epochs
    without improvement of ``monitor``, and stop once eta has fallen to ``eta0 * min_ratio``
    (the book's "until eta is 1/128 of its original value")."""

    def __init__(self, monitor="val_accuracy", patience=10, factor=0.5, min_ratio=1 / 128, mode="auto"):
        self.monitor, self.patience, self.factor, self.min_ratio = monitor, int(patience), float(factor), min_ratio
        self.mode = _mode(monitor, mode)
        self.best, self.wait, self.lr0 = None, 0, None

    def on_train_begin(self, state):
        self.lr0 = state.optimizer.lr if self.lr0 is None else self.lr0

    def on_epoch_end(self, epoch, logs, state):
        value = _monitored(self, logs)
        if _better(self.mode, value, self.best):
            self.best, self.wait = value, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.wait = 0
            state.optimizer.lr *= self.factor
            if state.optimizer.lr <= self.lr0 * self.min_ratio * (1 + 1e-12):
                state.stop_training = True


class ModelCheckpoint(Callback):
    """Save model, optimizer and training state to ``path`` after every epoch (atomically)."""

    def __init__(self, path, every: int = 1):
        self.path, self.every = path, int(every)

    def on_epoch_end(self, epoch, logs, state):
        if (epoch + 1) % self.every == 0 or epoch + 1 == state.epochs or state.stop_training:
            save_training_state(self.path, state, epoch + 1)


def save_training_state(path, state: FitState, epochs_done: int):
    """Checkpoint ``state`` with everything ``resume`` needs (epoch, seed, loss, history)."""
    from .checkpoint import save

    save(state.model, path, optimizer=state.optimizer, epoch=epochs_done, seed=state.seed,
         loss=type(state.loss).__name__, history=state.history.to_dict(), **state.extra)


def l2_weight_decay(lmbda: float, n: int) -> float:
    """The book's L2 regularisation as an optimizer ``weight_decay``.

    The book adds ``lmbda / (2 n) * sum(w**2)`` to the cost (n: training-set size), so
    each step also subtracts ``eta * lmbda / n * w`` from the weights: ``weight_decay = lmbda / n``.
    """
    if lmbda < 0 or n < 1:
        raise ValueError(f"l2: lmbda must be >= 0 and n >= 1, got lmbda={lmbda!r}, n={n!r}")
    return float(lmbda) / n


# -- data preparation ---------------------------------------------------------------------------
def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _host_or_model(model, name, a):
    """``a`` as it will be used: host NumPy data, or an array already on the model's backend."""
    if isinstance(a, (list, tuple)):
        try:
            a = np.asarray(a)
        except ValueError as e:  # ragged nested lists
            raise ValueError(f"{name} is a list that is not a rectangular table of numbers ({e})") from None
    if isinstance(a, np.ndarray):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers, got an array of dtype {a.dtype}")
        return a
    if model.backend.owns(a):
        return a
    if not hasattr(a, "shape") or not hasattr(a, "dtype"):
        raise TypeError(
            f"{name} must be an array (host NumPy data, a list, or an array on the model's "
            f"{model.backend.name} backend), got {type(a).__name__}"
        )
    raise ValueError(
        f"{name} is {describe(a)} but the model is on the {model.backend.name} backend "
        f"({model.backend.device}); pass host NumPy data or move the model with model.to(...)"
    )


def _check_features(model, X, name="X"):
    n_in = model.sizes[0]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name} has shape {tuple(X.shape)}, but layer 0 ({model.layers[0]!r}) expects (n_samples, {n_in})")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {tuple(X.shape)}): there is nothing to train on or evaluate")
    xp = model.xp
    Xd = X if not isinstance(X, np.ndarray) else None
    finite = np.isfinite(X).all(axis=1) if Xd is None else model.backend.to_numpy(xp.all(xp.isfinite(X), axis=1))
    if not finite.all():
        raise ValueError(f"{name} contains NaN or Inf in {_rows(finite)}; clean the data before training")


def _rows(finite):
    """``"2 rows (rows 3, 7)"`` for the False entries of a per-row mask."""
    rows = np.flatnonzero(~finite)
    shown = ", ".join(map(str, rows[:10])) + (", ..." if rows.size > 10 else "")
    return f"{rows.size} rows (rows {shown})"


def targets_for(model, y, name="y"):
    """Targets of shape ``(n, n_out)`` on the host for labels ``y`` (or ``y`` itself when 2-D)."""
    n_out = model.sizes[-1]
    y = np.asarray(model.backend.to_numpy(y) if not isinstance(y, np.ndarray) else y)
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (integer labels or float targets), got dtype {y.dtype}")
    if y.ndim == 2:
        if y.shape[1] != n_out:
            raise ValueError(f"{name} has shape {y.shape}, but the model outputs (n_samples, {n_out})")
        finite = np.isfinite(y).all(axis=1)
        if not finite.all():
            raise ValueError(f"{name} contains NaN or Inf in {_rows(finite)}; clean the targets before training")
        return y
    if y.ndim != 1:
        raise ValueError(f"{name} must be labels of shape (n,) or targets of shape (n, {n_out}), got {y.shape}")
    if y.dtype.kind not in "iub":
        whole = np.isfinite(y) & (y == np.round(y))
        if not whole.all():
            bad = np.flatnonzero(~whole)
            raise ValueError(
                f"{name}: class labels must be whole numbers; found {y[bad[0]]} at index {bad[0]} "
                f"({bad.size} labels are not, dtype {y.dtype})"
            )
        y = y.astype(np.int64)
    n_classes = n_out if n_out > 1 else 2
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        bad = np.flatnonzero((y < 0) | (y >= n_classes))
        raise ValueError(
            f"{name}: labels must be in [0, {n_classes}) for a model with {n_out} outputs; "
            f"found {y[bad[0]]} at index {bad[0]} ({bad.size} labels out of range)"
        )
    if n_out == 1:
        return y.astype(np.float64)[:, None]
    return np.eye(n_out)[y]


def _labels(T):
    """Class labels (host int64) from host targets."""
    return (T[:, 0] > 0.5).astype(np.int64) if T.shape[1] == 1 else np.argmax(T, axis=1)


def _prepare(model, X, y, name):
    X = _host_or_model(model, name + "X", X)
    _check_features(model, X, name + "X")
    T = targets_for(model, _host_or_model(model, name + "y", y), name + "y")
    if T.shape[0] != X.shape[0]:
        raise ValueError(f"{name}y has {T.shape[0]} labels but {name}X has {X.shape[0]} rows")
    be = model.backend
    Xd = X if not isinstance(X, np.ndarray) else be.asarray(X, dtype=model.dtype)
    if Xd.dtype != model._xdtype:
        Xd = model.xp.astype(Xd, model._xdtype)
    return Xd, be.asarray(T, dtype=model.dtype), _labels(T)


# -- evaluation ---------------------------------------------------------------------------------
def _evaluate_device(model, loss, Xd, Td, labels, batch_size=10_000):
    """(loss or nan, accuracy) over device data in large batches."""
    n = Xd.shape[0]
    correct, total_loss = 0, 0.0
    for i in range(0, n, batch_size):
        j = min(i + batch_size, n)
        Y = model.forward(Xd[i:j, ...])
        pred = model.backend.to_numpy(model.classes(Y, loss))
        correct += int(np.count_nonzero(pred == labels[i:j]))
        if loss is not None:
            total_loss += float(model.backend.to_numpy(loss.forward(Y, Td[i:j, ...]))) * Y.shape[0]
    return (total_loss / n if loss is not None else math.nan), correct / n


def evaluate(model, X, y, loss=None, batch_size: int = 10_000) -> dict:
    """Accuracy of ``model`` on ``(X, y)``, and the mean loss when ``loss`` is given.

    ``y`` holds integer labels ``(n,)`` or targets ``(n, n_out)``.  Returns
    ``{"accuracy": float}`` or ``{"accuracy": float, "loss": float}``.
    """
    loss = get_loss(loss).bind(model.K) if loss is not None else None
    Xd, Td, labels = _prepare(model, X, y, "")
    value, acc = _evaluate_device(model, loss, Xd, Td, labels, _positive_int("batch_size", batch_size))
    return {"accuracy": acc} if loss is None else {"accuracy": acc, "loss": value}


# -- the loop -------------------------------------------------------------------------------------
class _Snapshot:
    """Device copies of parameters and optimizer state, for rolling back a diverged run."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        self._banks = None

    def _pairs(self):
        pairs = [g for g, _ in self.model._params.groups]
        for bank in (self.optimizer._state or {}).values():
            pairs.extend(g for g, _ in bank.groups)
        return pairs

    def take(self):
        K, live = self.model.K, self._pairs()
        if self._banks is None or len(self._banks) != len(live):
            self._banks = [K.bank([tuple(a.shape)], [True], a.dtype).arrays[0] for a in live]
        for dst, src in zip(self._banks, live):
            K.assign(dst, src)
        self.t = self.optimizer.t

    def restore(self):
        for dst, src in zip(self._pairs(), self._banks):
            self.model.K.assign(dst, src)
        self.optimizer.t = self.t


def _progress_bar(enabled, epoch, epochs, n):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=n, desc=f"epoch {epoch + 1}/{epochs}", unit="sample", unit_scale=True,
                leave=True, dynamic_ncols=True, mininterval=0.2)


def fit(model, X, y, *, loss, optimizer, epochs: int, batch_size: int, validation_data=None,
        shuffle: bool = True, seed: int = 0, progress: bool = True, callbacks=(), initial_epoch: int = 0,
        history: History | None = None, extra: dict | None = None, train_metrics: bool = True,
        initial_step: int = 0) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
    X : array, shape (n_samples, n_in)
        Host NumPy data or an array on the model's backend.
    y : array, shape (n_samples,) or (n_samples, n_out)
        Integer class labels (one-hot targets are made as the loss needs) or targets.
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
    progress : bool
        A tqdm bar per epoch with samples/s and the running loss.
    callbacks : sequence of Callback
    initial_epoch, initial_step : int
        Epochs already done, and steps already done in the next one (when resuming);
        ``history`` continues the earlier one.
    train_metrics : bool
        Measure ``loss`` and ``accuracy`` on the whole training set after each epoch
        (a forward pass in large batches, outside ``seconds``); ``False`` logs ``nan``.

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
    from .optim import Optimizer

    loss = get_loss(loss)
    if not isinstance(optimizer, Optimizer):
        hint = f"an instance, e.g. {optimizer.__name__}(lr=0.1)" if isinstance(optimizer, type) else "e.g. mlp.SGD(lr=0.1)"
        raise TypeError(f"optimizer must be an mlp optimizer ({hint}), got {optimizer!r}")
    epochs = _positive_int("epochs", epochs)
    batch_size = _positive_int("batch_size", batch_size)
    for name, v in (("initial_epoch", initial_epoch), ("initial_step", initial_step)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    Xd, Td, labels = _prepare(model, X, y, "")
    val = None
    if validation_data is not None:
        if len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_val, y_val)")
        val = _prepare(model, validation_data[0], validation_data[1], "validation_data ")

    be, xp = model.backend, model.xp
    n = Xd.shape[0]
    n_steps = -(-n // batch_size)
    if initial_step >= n_steps:
        raise ValueError(
            f"initial_step={initial_step}, but an epoch has only {n_steps} steps ({n} samples, batch_size "
            f"{batch_size}); was the run saved with another data set or batch size?"
        )
    losses = xp.zeros(n_steps, dtype=model._xdtype, device=be.device)
    state = FitState(model, optimizer, loss, history or History(), epochs, seed, extra=dict(extra or {}))
    loss.bind(model.K)  # the model's kernels: fast paths or the reference, as the model chose
    optimizer._state_for(model)  # state exists before the first snapshot, so a roll-back restores it too
    snapshot = _Snapshot(model, optimizer)
    for cb in callbacks:
        cb.on_train_begin(state)

    with _sigint_as_flag() as interrupted, be.quiet_float_errors():
        for epoch in range(initial_epoch, epochs):
            state.epoch = epoch
            first_step = initial_step if epoch == initial_epoch else 0
            if shuffle:
                perm = np.random.default_rng((seed, epoch)).permutation(n)
                perm_d = be.asarray(perm)
                Xe, Te = xp.take(Xd, perm_d, axis=0), xp.take(Td, perm_d, axis=0)
            else:
                Xe, Te = Xd, Td
            bar = _progress_bar(progress, epoch, epochs, n)

            def run_steps(first, last):
                for s in range(first, last):
                    i = s * batch_size
                    j = min(i + batch_size, n)  # the standard leaves out-of-range slice ends unspecified
                    Xb, Tb = Xe[i:j, ...], Te[i:j, ...]
                    losses[s] = loss.forward(model.forward(Xb), Tb)
                    model.backward(loss.backward(), need_input_grad=False)
                    optimizer.step(model)

            be.synchronize()
            start = time.perf_counter()
            checked = first_step
            snapshot.take()
            next_refresh = start
            try:
                while checked < n_steps:
                    if interrupted():
                        raise TrainingInterrupted(epoch, checked, state.history)
                    per_step = _step_time(start, checked - first_step)
                    chunk = max(1, min(CHECK_EVERY, int(CHECK_SECONDS / per_step))) if per_step > 0 else 1
                    chunk_end = min(n_steps, checked + chunk)
                    run_steps(checked, chunk_end)
                    recent = be.to_numpy(losses[checked:chunk_end])  # the one host read: syncs the device
                    if not np.all(np.isfinite(recent)):
                        bad = checked + int(np.flatnonzero(~np.isfinite(recent))[0])
                        _roll_back(model, snapshot, run_steps, checked, bad)
                        raise DivergenceError(
                            f"the loss became {recent[bad - checked]} at epoch {epoch + 1}, step {bad + 1} of "
                            f"{n_steps} (lr={optimizer.lr:g}); try a smaller learning rate. The model keeps its "
                            f"weights from before that step."
                        )
                    snapshot.take()
                    checked = chunk_end
                    if bar is not None:
                        bar.update(min(n, checked * batch_size) - bar.n)
                        if time.perf_counter() >= next_refresh:
                            mean = _mean_loss(be, losses, first_step, checked, batch_size, n)
                            bar.set_postfix(loss=f"{mean:.4f}", refresh=False)
                            next_refresh = time.perf_counter() + 0.5
            finally:
                if bar is not None and checked < n_steps:
                    bar.close()
            be.synchronize()
            seconds = time.perf_counter() - start

            logs = {"seconds": seconds, "lr": optimizer.lr}
            if train_metrics:
                logs["loss"], logs["accuracy"] = _evaluate_device(model, loss, Xd, Td, labels)
            if val is not None:
                logs["val_loss"], logs["val_accuracy"] = _evaluate_device(model, loss, *val)
            if bar is not None:
                shown = {"loss": f"{logs['loss']:.4f}", "acc": f"{logs['accuracy']:.4f}"} if train_metrics else {}
                if val is not None:
                    shown["val_acc"] = f"{logs['val_accuracy']:.4f}"
                bar.set_postfix(shown, refresh=False)
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


def _step_time(start, steps):
    return (time.perf_counter() - start) / steps if steps else 0.0


def _mean_loss(be, losses, first, steps, batch_size, n):
    """Sample-weighted mean of the mini-batch losses of steps ``first..steps-1`` (the last batch may be short)."""
    values = be.to_numpy(losses[first:steps]).astype(np.float64)
    weights = np.full(steps - first, float(batch_size))
    weights[-1] = min(batch_size, n - (steps - 1) * batch_size)
    return float(values @ weights / weights.sum())


def _roll_back(model, snapshot, run_steps, first, bad):
    """Restore the snapshot taken before step ``first`` and redo the good steps up to ``bad``.

    Steps are deterministic, so this reproduces the weights the model had right before
    the first step with a non-finite loss.  If those contain Inf/NaN themselves (the update
    of the step before overflowed), stop one step earlier still.
    """
    xp = model.xp
    for last in range(bad, first - 1, -1):
        snapshot.restore()
        run_steps(first, last)
        if all(bool(xp.all(xp.isfinite(p))) for p, _ in model._params.groups):
            return
    snapshot.restore()
