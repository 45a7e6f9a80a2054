"""The maths of scikit-learn's MLPs on mlp's engine: output heads and losses, the mini-batch gradient, the solvers.

Everything is array API operations on the namespace of the model (``model.xp``), over the network's pure forward
and backward passes (``model.forward_function()``, ``model.backward_function()``); no array is written into.

scikit-learn's objective for a batch of ``n`` samples with weights ``w`` (ones by default, ``S = sum(w)``) is
``sum_i w_i loss_i / S + alpha / (2 S) * sum ||W||^2``, and the gradient at the output's pre-activation ``z`` is
``w_i (p_i - t_i) / S`` (its losses pair each output activation with its canonical loss).  The losses per sample:

* ``softmax`` (several classes): ``-sum_k t log clip(p)``;
* ``logistic`` (two classes, or one output per label): ``-sum_k t log clip(p) + (1 - t) log(1 - clip(p))``;
* ``identity`` (squared error): ``1/2 sum_k (z - t)^2``, the objective whose gradient scikit-learn takes, while the
  loss it *reports* (``loss_curve_``, ``loss_``) is the mean over the ``k`` targets, ``1/2 mean_k (z - t)^2``;
* ``exp`` (Poisson, log link): ``sum_k t log(t / exp(z)) - t + exp(z)``, half the Poisson deviance.

``clip`` keeps probabilities in ``[eps, 1 - eps]`` in the reported value (not in the gradient), as scikit-learn does.
"""

from __future__ import annotations

import math

import numpy as np

from mlp.core.util import to_host

HEADS = ("softmax", "logistic", "identity", "exp")


def head_outputs(xp, head, Z):
    """The output activation of scikit-learn's network on the last layer's ``Z``."""
    if head == "softmax":
        E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True)
    if head == "logistic":
        # scipy's expit: exp of -|Z| only (no overflow), and the small tail kept (exp(Z) / (1 + exp(Z)) for Z < 0)
        E = xp.exp(-xp.abs(Z))
        return xp.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))
    if head == "exp":
        return xp.exp(Z)
    return Z


def per_sample_loss(xp, head, Z, T):
    """``(loss per sample (n,), dloss/dZ (n, k))`` of the objective whose gradient scikit-learn takes."""
    P = head_outputs(xp, head, Z)
    if head in ("softmax", "logistic"):
        eps = float(np.finfo(np.float32 if Z.dtype == xp.float32 else np.float64).eps)
        Pc = xp.clip(P, min=eps, max=1.0 - eps)
        ll = T * xp.log(Pc)
        if head == "logistic":
            ll = ll + (1.0 - T) * xp.log(1.0 - Pc)
        return -xp.sum(ll, axis=1), P - T
    if head == "exp":
        positive = T > 0
        # xlogy(t, t / exp(z)) = t (log t - z), and 0 where t = 0
        tlog = xp.where(positive, T * (xp.log(xp.where(positive, T, xp.ones_like(T))) - Z), xp.zeros_like(T))
        return xp.sum(tlog - T + P, axis=1), P - T
    D = Z - T
    return 0.5 * xp.sum(D * D, axis=1), D


def reported_scale(head, n_outputs):
    """scikit-learn reports the squared error averaged over the outputs: the objective times this."""
    return 1.0 / n_outputs if head == "identity" else 1.0


class BatchObjective:
    """scikit-learn's penalised objective and its gradient on one batch, for a model's pure passes.

    ``objective(params, X, T, w) -> (value, grads)``: ``params`` and ``grads`` per parameter (``W0, b0, W1, ...``),
    ``w`` the batch's sample weights ``(n,)`` or None, ``value`` a 0-d array in scikit-learn's reported units.
    With ``consistent=True`` the value is the objective the gradient belongs to (for L-BFGS's line search).
    """

    def __init__(self, model, head, alpha, n_outputs):
        self.forward, self.backward = model.forward_function(), model.backward_function()
        self.xp, self.head, self.alpha = model.xp, head, float(alpha)
        self.is_weight = tuple(name.startswith("W") for name in model.param_names())
        self.scale = reported_scale(head, n_outputs)

    def __call__(self, params, X, T, w=None, consistent=False):
        xp = self.xp
        Z, caches = self.forward(params, X)
        values, dZ = per_sample_loss(xp, self.head, Z, T)
        if w is None:
            S = X.shape[0]
            data = xp.sum(values) / S
            dZ = dZ * (1.0 / S)
        else:
            S = xp.sum(w)
            data = xp.sum(w * values) / S
            dZ = dZ * xp.reshape(w / S, (-1, 1))
        _, grads = self.backward(params, caches, dZ, False, None)
        value = data if consistent else self.scale * data
        if self.alpha:
            weights = [p for p, is_w in zip(params, self.is_weight, strict=True) if is_w]
            sq = sum(xp.sum(W * W) for W in weights)
            value = value + (0.5 * self.alpha) * sq / S
            c = self.alpha / S
            grads = tuple(g + c * p if is_w else g for p, g, is_w in zip(params, grads, self.is_weight, strict=True))
        return value, tuple(grads)


class Solver:
    """scikit-learn's SGD or Adam, with its learning-rate schedules: the estimator's ``_optimizer``.

    The updates are scikit-learn's (``_stochastic_optimizers.py``), per parameter: SGD keeps velocities in its own
    units, ``v = momentum * v - lr * g`` and ``p += v`` (Nesterov: ``p += momentum * v - lr * g``); Adam adds
    ``epsilon`` to ``sqrt(v)`` before the bias correction, which it folds into the rate.  ``learning_rate`` is the
    current rate (Adam: the last bias-corrected one), ``t`` Adam's step count.  The state travels through pickling
    as host arrays and goes back to the parameters' backend at the next update.
    """

    def __init__(
        self,
        kind,
        learning_rate_init,
        params,
        *,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
    ):
        self.kind = kind
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule, self.power_t = lr_schedule, float(power_t)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.t = 0
        zeros = tuple(p * 0.0 for p in params)  # zeros like each parameter, on its device
        self.state = (zeros,) if kind == "sgd" else (zeros, zeros)

    def update(self, xp, params, grads):
        """The parameters after one step on ``grads``."""
        if self.kind == "sgd":
            lr, mu = self.learning_rate, self.momentum
            velocities = tuple(mu * v - lr * g for v, g in zip(self.state[0], grads, strict=True))
            self.state = (velocities,)
            steps = (
                tuple(mu * v - lr * g for v, g in zip(velocities, grads, strict=True)) if self.nesterov else velocities
            )
            return tuple(p + s for p, s in zip(params, steps, strict=True))
        b1, b2 = self.beta_1, self.beta_2
        self.t += 1
        ms = tuple(b1 * m + (1.0 - b1) * g for m, g in zip(self.state[0], grads, strict=True))
        vs = tuple(b2 * v + (1.0 - b2) * (g * g) for v, g in zip(self.state[1], grads, strict=True))
        self.state = (ms, vs)
        self.learning_rate = self.learning_rate_init * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        lr, eps = self.learning_rate, self.epsilon
        return tuple(p + (-lr * m / (xp.sqrt(v) + eps)) for p, m, v in zip(params, ms, vs, strict=True))

    def iteration_ends(self, time_step):
        """After an epoch: ``invscaling`` sets ``learning_rate_init / (t + 1) ** power_t`` (``t``: samples seen)."""
        if self.kind == "sgd" and self.lr_schedule == "invscaling":
            self.learning_rate = self.learning_rate_init / (time_step + 1) ** self.power_t

    def trigger_stopping(self, msg, verbose) -> bool:
        """Whether to stop after ``n_iter_no_change`` epochs without progress (``adaptive``: divide the rate by 5)."""
        if self.kind != "sgd" or self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def to(self, backend, dtype):
        """Put the state on ``backend`` in ``dtype`` (after unpickling, or when the parameters moved)."""
        xdtype = getattr(backend.xp, dtype)
        self.state = tuple(
            tuple(
                a if backend.owns(a) and a.dtype == xdtype else backend.asarray(to_host(a), dtype=dtype) for a in part
            )
            for part in self.state
        )
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state["state"] = tuple(tuple(np.array(to_host(a)) for a in part) for part in self.state)
        return state
