"""Gradient checking by central finite differences."""

from __future__ import annotations

import numpy as np

from .layers import StepContext
from .util import to_host


def gradcheck(
    model, loss, X, T, eps: float = 1e-3, max_per_param: int | None = None, seed: int = 0, floor: float = 1e-6, ctx=None
) -> float:
    """Largest relative error between backprop gradients and central finite differences.

    The check runs in float64 on a copy of ``model`` (same backend, same weights),
    so the model itself is untouched.  For each parameter entry ``w`` the
    fourth-order central difference
    ``(L(w - 2e) - 8 L(w - e) + 8 L(w + e) - L(w + 2e)) / (12 e)`` is compared with
    the backprop gradient; the relative error is ``|a - b| / max(|a| + |b|, floor)``.
    Its truncation error is O(e**4), so a step of 1e-3 keeps both truncation and
    float64 roundoff near 1e-12 (the two-point formula cannot get below ~1e-7 here).
    The ``floor`` (default 1e-6) keeps entries whose true gradient is zero, such as
    those behind a dead ReLU, from turning roundoff noise into a large relative error.

    Parameters
    ----------
    model : Sequential
    loss : Loss, class or name
    X, T : arrays (any backend, or host) of shapes ``(n, n_in)`` and ``(n, n_out)``
    eps : float
        Finite-difference step.
    max_per_param : int or None
        Check at most this many entries per parameter (chosen at random with ``seed``); None checks all.
    ctx : StepContext or None
        The mode and random key of every evaluation; default training mode with the key
        ``(model.seed, 0, 0)``, so a dropout layer is checked with one fixed mask.
    """
    from .losses import get_loss
    from .model import Sequential

    m = Sequential.from_config({**model.config(), "dtype": "float64"}, backend=model.backend, fast=model.fast)
    m.load_state_dict(model.state_dict())
    loss = type(get_loss(loss))().bind(m.K)
    be = m.backend
    Xd = be.asarray(to_host(X), dtype="float64")
    Td = be.asarray(to_host(T), dtype="float64")

    # one fixed training-mode context: random layers (dropout) draw the same mask at every evaluation
    ctx = StepContext(True, model.seed, 0, 0) if ctx is None else ctx
    forward, backward = m.forward_function(), m.backward_function()
    m.check_input(Xd)  # the pure passes do not check: the object API's message, naming the layer and shapes
    Y, caches = forward(m.parameters(), Xd, ctx)
    loss.forward(Y, Td)
    _, grads = backward(m.parameters(), caches, loss.backward(), True)
    analytic = [to_host(g).copy() for g in grads]

    def loss_of(params: dict) -> float:
        m.load_state_dict(params)
        return float(to_host(loss.forward(forward(m.parameters(), Xd, ctx)[0], Td)))

    state = m.state_dict()
    worst = _worst_error(loss_of, state, m.param_names(), analytic, eps, max_per_param, seed, floor)
    m.load_state_dict(state)
    return worst


def _worst_error(loss_of, state: dict, names, analytic, eps: float, max_per_param, seed: int, floor: float) -> float:
    """The largest relative error between ``analytic`` and the fourth-order central differences of ``loss_of``.

    ``loss_of(params)`` is the loss with the parameters ``params`` (name -> host array); each difference moves
    one entry of a copy of ``state``.  ``max_per_param``, ``seed``, ``floor``: as in :func:`gradcheck`.
    """
    rng = np.random.default_rng(seed)
    worst = 0.0

    def loss_at(name, idx, value):
        trial = {k: v.copy() for k, v in state.items()}
        trial[name][idx] = value
        return loss_of(trial)

    for name, grad in zip(names, analytic, strict=True):
        flat = list(np.ndindex(*state[name].shape))
        if max_per_param is not None and len(flat) > max_per_param:
            flat = [flat[i] for i in rng.choice(len(flat), max_per_param, replace=False)]
        for idx in flat:
            w = state[name][idx]
            f = [loss_at(name, idx, w + k * eps) for k in (-2, -1, 1, 2)]
            numeric = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * eps)
            a = grad[idx]
            worst = max(worst, abs(a - numeric) / max(abs(a) + abs(numeric), floor))
    return worst
