"""What :func:`mlp.fit` reports and lets you hook: :class:`History`, :class:`FitState` and callbacks; and where a
resumed run goes on from (:class:`Resume`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlp.core.tasks import LOG_KEYS as KEYS
from mlp.core.validate import non_negative_int

if TYPE_CHECKING:  # for the type checker only: callbacks import nothing heavy at run time
    from mlp.core.losses import Loss
    from mlp.core.model import Sequential
    from mlp.core.optim import Optimizer


class History:
    """Per-epoch metrics of a :func:`fit`: ``history.history["loss"]`` etc.

    Classification logs ``loss``, ``accuracy`` (on the training data, measured after the
    epoch), ``val_loss``, ``val_accuracy``; regression logs ``loss``, ``mse``, ``mae``, ``r2``
    and their ``val_`` versions (``nan`` without validation data).  Both log ``seconds``
    (wall time of the epoch's training steps alone, device synchronised) and ``lr``.
    """

    KEYS = KEYS["classification"]

    def __init__(self, history: dict | None = None, epoch: list | None = None, keys=None):
        keys = list(keys or (history.keys() if history else self.KEYS))
        self.history = {k: list((history or {}).get(k, [])) for k in keys}
        self.epoch = list(epoch or [])

    def append(self, epoch: int, logs: dict):
        self.epoch.append(epoch)
        for k in logs:
            if k not in self.history:
                self.history[k] = [math.nan] * (len(self.epoch) - 1)
        for k, values in self.history.items():
            values.append(float(logs.get(k, math.nan)))

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, **self.history}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls({k: v for k, v in d.items() if k != "epoch"} or None, d.get("epoch", []))

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items() if v}
        return f"History(epochs={len(self.epoch)}, last={last})"


@dataclass(frozen=True)
class Resume:
    """Where :func:`mlp.fit` goes on from: ``epoch`` epochs done, and ``step`` steps of the next one; the ``history``
    so far (continued in place); and the ``extra`` metadata its checkpoints carry (:class:`ModelCheckpoint` saves
    them beside the weights).  ``Resume()`` is a new run."""

    epoch: int = 0
    step: int = 0
    history: History | None = None
    extra: Mapping | None = None

    def __post_init__(self):
        object.__setattr__(self, "epoch", non_negative_int("Resume.epoch", self.epoch))
        object.__setattr__(self, "step", non_negative_int("Resume.step", self.step))
        if self.history is not None and not isinstance(self.history, History):
            raise TypeError(f"the history to resume must be an mlp.History, got {type(self.history).__name__}")
        if self.extra is not None and not isinstance(self.extra, Mapping):
            raise TypeError(f"the extra metadata to resume with must be a dict, got {type(self.extra).__name__}")


@dataclass
class FitState:
    """What callbacks see and may change: ``stop_training``, ``optimizer.lr``, ..."""

    model: Sequential
    optimizer: Optimizer
    loss: Loss
    history: History
    epochs: int
    seed: int
    epoch: int = 0
    stop_training: bool = False
    extra: dict = field(default_factory=dict)
    task: str = "classification"
    #: the sample-weighted mean of the epoch's mini-batch losses (what the progress bar shows), logged as batch_loss
    batch_loss: float = math.nan


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
        return "max" if any(k in monitor for k in ("accuracy", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


def default_monitor(task: str) -> str:
    """What a callback watches when not told: validation accuracy, or validation loss for regression."""
    return "val_loss" if task == "regression" else "val_accuracy"


class _Monitoring(Callback):
    """A callback that watches one logged metric (``monitor=None``: :func:`default_monitor` of the task)."""

    def __init__(self, monitor, mode):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self._monitor_arg, self._mode_arg = monitor, mode
        self.monitor = monitor
        self.mode = _mode(monitor, mode) if monitor is not None else None

    def _resolve(self, state):
        if self._monitor_arg is None:
            self.monitor = default_monitor(state.task)
            self.mode = _mode(self.monitor, self._mode_arg)


class EarlyStopping(_Monitoring):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    ``monitor=None`` watches ``val_accuracy`` (classification) or ``val_loss`` (regression).
    With ``restore_best=True`` the model gets back the weights of its best epoch.
    """

    def __init__(self, monitor=None, patience=10, mode="auto", restore_best=True, min_delta=0.0):
        super().__init__(monitor, mode)
        self.patience, self.restore_best, self.min_delta = int(patience), restore_best, float(min_delta)
        self.best = None
        self.best_epoch = None
        self._best_state = None
        self.wait = 0

    def on_train_begin(self, state):
        self._resolve(state)

    def on_epoch_end(self, epoch, logs, state):
        if self.monitor is None:
            self._resolve(state)
        value = _monitored(self, logs)
        shifted = value - self.min_delta if self.mode == "max" else value + self.min_delta
        if self.best is None or _better(self.mode, shifted, self.best):
            if not math.isnan(value):
                self.best, self.best_epoch, self.wait = value, epoch, 0
                if self.restore_best:
                    self._best_state = state.model.state_dict()
                return
        self.wait += 1
        if self.wait >= self.patience:
            state.stop_training = True
            if self.restore_best and self._best_state is not None:
                state.model.load_state_dict(self._best_state)


class HalveOnPlateau(_Monitoring):
    """The book's learning-rate schedule (chapter 3): halve eta after ``patience`` epochs
    without improvement of ``monitor``, and stop once eta has fallen to ``eta0 * min_ratio``
    (the book's "until eta is 1/128 of its original value")."""

    def __init__(self, monitor=None, patience=10, factor=0.5, min_ratio=1 / 128, mode="auto"):
        super().__init__(monitor, mode)
        self.patience, self.factor, self.min_ratio = int(patience), float(factor), min_ratio
        self.best, self.wait, self.lr0 = None, 0, None

    def on_train_begin(self, state):
        self._resolve(state)
        self.lr0 = state.optimizer.lr if self.lr0 is None else self.lr0

    def on_epoch_end(self, epoch, logs, state):
        if self.monitor is None:
            self._resolve(state)
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
    from mlp.io.checkpoint import save

    save(
        state.model,
        path,
        optimizer=state.optimizer,
        epoch=epochs_done,
        seed=state.seed,
        loss=type(state.loss).__name__,
        history=state.history.to_dict(),
        **state.extra,
    )
