"""Optimizers: update a model's parameters from its gradients in ``step(model)``.

State (momentum, moments) lives on the model's backend, laid out like the
parameters, so a backend that packs parameters into flat buffers updates them
in a few large operations.  Weight decay applies to weights, not biases (the
book's L2 regularisation; see :func:`mlp.training.l2_weight_decay`).
"""
from __future__ import annotations

import numpy as np

from ._util import to_host


def _number(value):
    return not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))


def _positive(name, value, owner):
    if not _number(value) or not 0 < value < float("inf"):
        raise ValueError(f"{owner}: {name} must be a positive number (finite), got {value!r}")
    return float(value)


def _fraction(name, value, owner):
    if not _number(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return float(value)


def _non_negative(name, value, owner):
    if not _number(value) or not 0 <= value < float("inf"):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


class Optimizer:
    """Base class: keeps per-parameter state banks (see :class:`mlp.kernels.Bank`)."""

    state_names: tuple = ()

    def __init__(self, lr, weight_decay=0.0):
        owner = type(self).__name__
        self.lr = _positive("lr", lr, owner)
        self.weight_decay = _non_negative("weight_decay", weight_decay, owner)
        self.t = 0
        self._state = None
        self._owner = None  # (model, backend, kernels) the state was made for
        self._per_group = None  # each parameter group's state arrays, in step order

    def _state_for(self, model):
        key = (id(model), model.backend, model.K)
        if self._owner != key:
            host = self.state_dict()["arrays"] if self._state is not None else None
            shapes, is_w = model.param_shapes(), model._is_weight()
            self._state = {}
            for s in self.state_names:
                values = None if host is None else [host[f"{s}.{n}"] for n in model.param_names()]
                self._state[s] = model.K.bank(shapes, is_w, model._xdtype, values)
            self._owner = key
            self._names = model.param_names()
            self._per_group = None
        if self._per_group is None:
            self._per_group = [[self._state[s].groups[i][0] for s in self.state_names]
                               for i in range(len(model.param_groups()))]
        return self._state

    def step(self, model):
        """Update ``model``'s parameters in place from the gradients of its last backward."""
        self._state_for(model)
        self.t += 1
        K, wd = model.K, self.weight_decay
        for (p, g, is_weight), state in zip(model.param_groups(), self._per_group):
            self._update(K, p, g, state, wd if is_weight else 0.0)

    def _update(self, K, p, g, state, weight_decay):
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """``{"type", "hyper", "t", "arrays"}``; arrays are host copies keyed ``"<state>.<param>"``."""
        arrays = {}
        if self._state is not None:
            for s, bank in self._state.items():
                for name, a in zip(self._names, bank.arrays):
                    arrays[f"{s}.{name}"] = np.array(to_host(a))
        return {"type": type(self).__name__, "hyper": self.hyperparameters(), "t": self.t, "arrays": arrays}

    def load_state_dict(self, state: dict, model):
        """Restore :meth:`state_dict` output for ``model`` (on whatever backend it is now)."""
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')}, not {type(self).__name__}")
        self.t = int(state["t"])
        self._per_group = None
        shapes, is_w = model.param_shapes(), model._is_weight()
        arrays = state["arrays"]
        self._state = {}
        if self.state_names and arrays:
            for s in self.state_names:
                values = []
                for n, shape in zip(model.param_names(), shapes):
                    key = f"{s}.{n}"
                    if key not in arrays or tuple(arrays[key].shape) != tuple(shape):
                        raise ValueError(f"optimizer state {key} is missing or has the wrong shape (need {shape})")
                    values.append(arrays[key])
                self._state[s] = model.K.bank(shapes, is_w, model._xdtype, values)
            self._owner = (id(model), model.backend, model.K)
            self._names = model.param_names()
        elif self.state_names and self.t > 0:
            raise ValueError(
                f"{type(self).__name__} state says {self.t} steps were taken but holds no "
                f"{'/'.join(self.state_names)} arrays; continuing would silently restart them from zero"
            )
        else:
            self._state, self._owner = None, None
        return self


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``v = momentum * v + g`` and ``p -= lr * v`` (``lr * (g + momentum * v)`` with Nesterov),
    the PyTorch convention.  With the losses' batch mean, ``lr`` is the book's ``eta``.
    """

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum = _fraction("momentum", momentum, "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.state_names = ("velocity",) if self.momentum else ()

    def _update(self, K, p, g, state, weight_decay):
        K.sgd_update(p, g, state[0] if state else None, self.lr, self.momentum, self.nesterov, weight_decay)

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def __repr__(self):
        return "SGD(" + ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items()) + ")"


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction."""

    state_names = ("m", "v")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
        self.betas = (_fraction("betas[0]", betas[0], "Adam"), _fraction("betas[1]", betas[1], "Adam"))
        self.eps = _positive("eps", eps, "Adam")

    def _update(self, K, p, g, state, weight_decay):
        K.adam_update(p, g, state[0], state[1], self.lr, *self.betas, self.eps, weight_decay, self.t)

    def hyperparameters(self):
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    def __repr__(self):
        return "Adam(" + ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items()) + ")"


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def from_state(state: dict):
    """Build an optimizer from :meth:`Optimizer.state_dict` hyperparameters (arrays not loaded)."""
    cls = {"SGD": SGD, "Adam": Adam}.get(state.get("type"))
    if cls is None:
        raise ValueError(f"unknown optimizer type {state.get('type')!r}")
    hyper = dict(state["hyper"])
    if "betas" in hyper:
        hyper["betas"] = tuple(hyper["betas"])
    return cls(**hyper)
