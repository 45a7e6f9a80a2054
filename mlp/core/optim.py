"""Optimizers: a pure map (parameters, gradients, state) -> (new parameters, new state).

:meth:`Optimizer.update_function` gives that map for one model binding; it is what
:func:`mlp.train_step` (and a compiled loop of steps) calls.  ``step(model)`` is the
object API on top: it updates the model from the gradients of its last backward.

State (momentum, moments) lives on the model's backend, laid out like the
parameters (one array per parameter group), so a backend that packs parameters
into flat buffers updates them in a few large operations.  Weight decay (the
book's L2, see :func:`mlp.l2_weight_decay`) and ``l1`` (the book's L1, see
:func:`mlp.l1_strength`) apply to weights, not biases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .registry import OPTIMIZERS
from .schedules import Schedule, get_schedule
from .types import Array, Groups, OptState, Scalar, Update, UpdateOne
from .util import to_host
from .validate import fraction, non_negative, positive

if TYPE_CHECKING:
    from .kernels import Bank, Kernels
    from .model import Sequential


class Optimizer:
    """Base class: hyperparameters, the step count ``t``, and per-parameter state banks."""

    state_names: tuple[str, ...] = ()

    def __init__(
        self,
        lr: float,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        schedule: Schedule | dict[str, Any] | None = None,
        clip_norm: float | None = None,
    ) -> None:
        owner = type(self).__name__
        self.lr = positive("lr", lr, owner)
        self.weight_decay = non_negative("weight_decay", weight_decay, owner)
        self.l1 = non_negative("l1", l1, owner)
        #: a :class:`mlp.core.schedules.Schedule`: the step's rate is ``lr * schedule.factor(t)``
        self.schedule = get_schedule(schedule)
        #: clip the gradients by their global norm (over every parameter) to at most this, before the update
        self.clip_norm = None if clip_norm is None else positive("clip_norm", clip_norm, owner)
        self.t = 0
        self._state: dict[str, Bank] | None = None  # {state name: Bank}
        self._owner: tuple | None = None  # (model, backend, kernels) the state was made for
        self._names: list[str] = []  # the parameters' names, as the state was made

    # -- the pure map -------------------------------------------------------------------------
    def update_function(self, K: Kernels, group_is_weight: Sequence[bool]) -> Update:
        """``update(groups, grads, state, lr, t) -> (groups, state)`` on kernels ``K``.

        ``groups``/``grads`` are tuples of arrays (one per parameter group), ``state`` a tuple
        (per group) of tuples (per :attr:`state_names`); ``lr`` and ``t`` (this step's number,
        from 1) may be Python numbers or 0-d arrays.  The other hyperparameters are fixed
        when the function is made.
        """
        regs = [(self.weight_decay, self.l1) if w else (0.0, 0.0) for w in group_is_weight]
        one = self._update_one(K)
        schedule, clip, xp = self.schedule, self.clip_norm, K.xp

        def update(groups: Groups, grads: Groups, state: OptState, lr: Scalar, t: Scalar) -> tuple[Groups, OptState]:
            if schedule is not None:
                lr = lr * schedule.factor(t, xp)
            if clip is not None:  # the global norm: under MPI the gradients are already the allreduced ones
                norm = xp.sqrt(sum(xp.sum(g * g) for g in grads))
                # torch.nn.utils.clip_grad_norm_'s rule, its 1e-6 included: max_norm / (norm + 1e-6), at most 1
                scale = xp.clip(clip / (norm + 1e-6), max=1.0)
                grads = tuple(g * scale for g in grads)
            new_groups: list[Array] = []
            new_state: list[tuple[Array, ...]] = []
            for p, g, s, (wd, l1) in zip(groups, grads, state, regs, strict=True):
                p, s = one(p, g, s, lr, t, wd, l1)
                new_groups.append(p)
                new_state.append(s)
            return tuple(new_groups), tuple(new_state)

        return update

    def current_lr(self) -> float:
        """The rate of the last step taken (``lr`` times the schedule's factor at step ``t``)."""
        if self.schedule is None or self.t == 0:
            return self.lr
        return self.lr * self.schedule.factor(self.t)

    def _common_hyperparameters(self, h: dict[str, Any]) -> dict[str, Any]:
        """``h`` plus the settings every optimizer shares, where they are not the defaults."""
        if self.l1:
            h["l1"] = self.l1
        if self.schedule is not None:
            h["schedule"] = self.schedule.config()
        if self.clip_norm is not None:
            h["clip_norm"] = self.clip_norm
        return h

    def _update_one(self, K: Kernels) -> UpdateOne:
        """``(p, g, state, lr, t, weight_decay, l1) -> (p, state)`` for one group."""
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def static_key(self) -> tuple:
        """The hyperparameters an update function is made with (all but ``lr``): a change needs a new one."""

        def frozen(v: Any) -> Any:
            if isinstance(v, dict):
                return tuple(sorted((k, frozen(x)) for k, x in v.items()))
            return tuple(v) if isinstance(v, list) else v

        return tuple((k, frozen(v)) for k, v in self.hyperparameters().items() if k != "lr")

    # -- state on a model ---------------------------------------------------------------------
    def _state_for(self, model: Sequential) -> dict[str, Bank]:
        """The state banks for ``model`` (made, or moved from another binding, on first use)."""
        key, banks = (id(model), model.backend, model.K), self._state
        if banks is None or self._owner != key:
            host = self.state_dict()["arrays"] if banks is not None else None
            banks = {}
            for s in self.state_names:
                values = None if host is None else [host[f"{s}.{n}"] for n in model.param_names()]
                banks[s] = model.new_bank(values)
            self._state, self._owner, self._names = banks, key, model.param_names()
        return banks

    def state_groups(self, model: Sequential) -> OptState:
        """The state as the update function takes it: per group, a tuple over :attr:`state_names`."""
        banks = self._state_for(model)
        n = len(model.param_groups())
        return tuple(tuple(banks[s].groups[i] for s in self.state_names) for i in range(n))

    def set_state_groups(self, model: Sequential, state: OptState) -> None:
        """Keep ``state`` (as returned by the update function) as this optimizer's state for ``model``."""
        banks = self._state_for(model)
        for k, s in enumerate(self.state_names):
            banks[s] = banks[s].with_groups(per_group[k] for per_group in state)

    def step(self, model: Sequential) -> None:
        """Update ``model``'s parameters from the gradients of its last backward."""
        state = self.state_groups(model)
        self.t += 1
        update = model.update_function(self)
        groups, state = update(model.param_groups(), model.gradient_groups(), state, self.lr, self.t)
        model.set_param_groups(groups)
        self.set_state_groups(model, state)

    # -- host copies ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"type", "hyper", "t", "arrays"}``; arrays are host copies keyed ``"<state>.<param>"``."""
        arrays = {}
        if self._state is not None:
            for s, bank in self._state.items():
                for name, a in zip(self._names, bank.arrays, strict=True):
                    arrays[f"{s}.{name}"] = np.array(to_host(a))
        return {"type": type(self).__name__, "hyper": self.hyperparameters(), "t": self.t, "arrays": arrays}

    def load_state_dict(self, state: dict[str, Any], model: Sequential) -> Optimizer:
        """Restore :meth:`state_dict` output for ``model`` (on whatever backend it is now)."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')}, not {type(self).__name__}")
        arrays = state["arrays"]
        t = int(state["t"])
        if self.state_names and arrays:
            banks = {}
            for s in self.state_names:
                values = []
                for n, shape in zip(model.param_names(), model.param_shapes(), strict=True):
                    key = f"{s}.{n}"
                    if key not in arrays or tuple(arrays[key].shape) != tuple(shape):
                        raise ValueError(f"optimizer state {key} is missing or has the wrong shape (need {shape})")
                    values.append(arrays[key])
                banks[s] = model.new_bank(values)
            self._state, self._owner, self._names = banks, (id(model), model.backend, model.K), model.param_names()
        elif self.state_names and t > 0:
            raise ValueError(
                f"{type(self).__name__} state says {t} steps were taken but holds no "
                f"{'/'.join(self.state_names)} arrays; continuing would silently restart them from zero"
            )
        else:
            self._state, self._owner = None, None
        self.t = t
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items()) + ")"


@OPTIMIZERS.register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``v = momentum * v + g`` and ``p -= lr * v`` (``lr * (g + momentum * v)`` with Nesterov),
    the PyTorch convention.  With the losses' batch mean, ``lr`` is the book's ``eta``.
    ``weight_decay`` is the book's L2 (``lmbda / n``), ``l1`` the book's L1 (``lmbda / n``).
    """

    def __init__(
        self,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        schedule: Schedule | dict[str, Any] | None = None,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, l1, schedule, clip_norm)
        self.momentum = fraction("momentum", momentum, "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.state_names = ("velocity",) if self.momentum else ()

    def _update_one(self, K: Kernels) -> UpdateOne:
        sgd, momentum, nesterov = K.sgd_update, self.momentum, self.nesterov

        def one(
            p: Array, g: Array, state: tuple[Array, ...], lr: Scalar, t: Scalar, wd: float, l1: float
        ) -> tuple[Array, tuple[Array, ...]]:
            p, v = sgd(p, g, state[0] if state else None, lr, momentum, nesterov, wd, l1)
            return p, (() if v is None else (v,))

        return one

    def hyperparameters(self) -> dict[str, Any]:
        h = {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}
        return self._common_hyperparameters(h)


@OPTIMIZERS.register("adam")
class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction."""

    state_names = ("m", "v")

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        schedule: Schedule | dict[str, Any] | None = None,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__(lr, weight_decay, l1, schedule, clip_norm)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
        self.betas = (fraction("betas[0]", betas[0], "Adam"), fraction("betas[1]", betas[1], "Adam"))
        self.eps = positive("eps", eps, "Adam")

    def _update_one(self, K: Kernels) -> UpdateOne:
        adam, (beta1, beta2), eps = K.adam_update, self.betas, self.eps

        def one(
            p: Array, g: Array, state: tuple[Array, ...], lr: Scalar, t: Scalar, wd: float, l1: float
        ) -> tuple[Array, tuple[Array, ...]]:
            p, m, v = adam(p, g, state[0], state[1], lr, beta1, beta2, eps, wd, t, l1)
            return p, (m, v)

        return one

    def hyperparameters(self) -> dict[str, Any]:
        h = {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}
        return self._common_hyperparameters(h)


@OPTIMIZERS.register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    Each step first shrinks the weights, ``p -= lr * weight_decay * p``, then takes Adam's step on the
    gradient alone (Adam's ``weight_decay`` adds ``weight_decay * p`` to the gradient instead, which the
    moment estimates then rescale).  As everywhere in mlp, the decay applies to weights, not biases.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        l1: float = 0.0,
        schedule: Schedule | dict[str, Any] | None = None,
        clip_norm: float | None = None,
    ) -> None:
        super().__init__(lr, betas, eps, weight_decay, l1, schedule, clip_norm)

    def _update_one(self, K: Kernels) -> UpdateOne:
        adam, (beta1, beta2), eps = K.adam_update, self.betas, self.eps

        def one(
            p: Array, g: Array, state: tuple[Array, ...], lr: Scalar, t: Scalar, wd: float, l1: float
        ) -> tuple[Array, tuple[Array, ...]]:
            if wd:
                p = p - (lr * wd) * p
            p, m, v = adam(p, g, state[0], state[1], lr, beta1, beta2, eps, 0.0, t, l1)
            return p, (m, v)

        return one


def from_state(state: dict[str, Any]) -> Optimizer:
    """Build an optimizer from :meth:`Optimizer.state_dict` hyperparameters (arrays not loaded).

    The ``type`` is a class name of the :data:`mlp.core.registry.OPTIMIZERS` registry.
    """
    by_class = {cls.__name__: cls for _, cls in OPTIMIZERS.items()}
    cls = by_class.get(state.get("type")) if isinstance(state.get("type"), str) else None
    if cls is None:
        raise ValueError(f"unknown optimizer type {state.get('type')!r}; known: {', '.join(sorted(by_class))}")
    hyper = dict(state["hyper"])
    if "betas" in hyper:
        hyper["betas"] = tuple(hyper["betas"])
    return cls(**hyper)
