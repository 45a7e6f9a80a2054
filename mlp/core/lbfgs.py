"""L-BFGS over one flat parameter vector, in array API operations: :func:`minimize` and the :class:`LBFGS` optimizer.

The vector maths (the two-loop recursion, trial points, dot products) runs in the namespace of the arrays it is
handed, so it runs on every backend and on a GPU.  The line search decides on host scalars: the value and the
directional derivative at each trial step (two reads per evaluation of the objective).

What it computes is scipy's ``minimize(method="L-BFGS-B")`` without bounds, which is what scikit-learn's
``solver="lbfgs"`` runs: the first step is ``-g`` scaled to unit length, later ones ``-H g`` from the last
``history_size`` pairs with ``H0 = s'y / y'y``; each step is searched by MINPACK-2's ``dcsrch`` (Moré & Thuente
1994: sufficient decrease ``ftol = 1e-3`` and curvature ``gtol = 0.9``, the strong Wolfe conditions), a pair is
skipped when ``s'y <= eps * (-g's)``, a failed search restarts from ``-g`` with an empty memory (or stops if the
memory was empty), and the stopping tests are scipy's: ``max |g| <= gtol``, a relative reduction of ``f`` below
``ftol``, ``maxiter`` iterations, more than ``maxfun`` evaluations.  scipy keeps the pairs in L-BFGS-B's compact
form, this module in the two-loop form; the two give the same direction up to rounding (``tests/core/test_lbfgs.py``
compares the iterates).

:class:`LBFGS` is the same iteration as an optimizer for :func:`mlp.fit` (registered as ``"lbfgs"``): each step runs
``max_iter`` iterations on its mini-batch (full batch: one iteration per epoch), with the pairs kept from step to
step.  It needs several evaluations per step, so :func:`mlp.fit` asks it for its step (:meth:`LBFGS.make_step`)
instead of pairing the model's gradient with an update rule.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .errors import DivergenceError
from .optim import Optimizer
from .registry import OPTIMIZERS
from .util import to_host
from .validate import non_negative, positive_int

#: scipy's default ``ftol`` for L-BFGS-B (``factr = 1e7`` times the float64 machine epsilon)
FTOL = 1e7 * float(np.finfo(np.float64).eps)
_EPS = float(np.finfo(np.float64).eps)
#: L-BFGS-B's largest step without bounds
_STPMAX = 1e10

CONVERGED_GRADIENT = "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL"
CONVERGED_F = "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH"
STOP_ITERATIONS = "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
STOP_EVALUATIONS = "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"
ABNORMAL = "ABNORMAL_TERMINATION_IN_LNSRCH"


class LBFGSResult(NamedTuple):
    """What :func:`minimize` found: scipy's ``OptimizeResult`` fields of the same names.

    ``status`` is 0 (converged), 1 (``maxiter`` or ``maxfun`` reached) or 2 (the line search failed with an empty
    memory); ``message`` says which, in scipy's words.
    """

    x: Any
    fun: float
    grad: Any
    nit: int
    nfev: int
    status: int
    message: str

    @property
    def success(self) -> bool:
        return self.status == 0


# -- the line search ---------------------------------------------------------------------------------
def _cubic_gamma(theta, a, b, s):
    # the square root of (theta/s)^2 - (a/s)(b/s); clamped at 0 where rounding makes it negative
    return s * math.sqrt(max(0.0, (theta / s) ** 2 - (a / s) * (b / s)))


def _dcstep(stx, fx, dx, sty, fy, dy, stp, fp, dp, brackt, stpmin, stpmax):
    """MINPACK-2's ``dcstep``: a safeguarded cubic/quadratic step, and the interval that brackets a minimiser."""
    sgnd = dp * math.copysign(1.0, dx)
    if fp > fx:  # a higher value: the minimum is bracketed
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        gamma = _cubic_gamma(theta, dx, dp, max(abs(theta), abs(dx), abs(dp)))
        if stp < stx:
            gamma = -gamma
        r = ((gamma - dx) + theta) / (((gamma - dx) + gamma) + dp)
        stpc = stx + r * (stp - stx)
        stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2.0) * (stp - stx)
        stpf = stpc if abs(stpc - stx) <= abs(stpq - stx) else stpc + (stpq - stpc) / 2.0
        brackt = True
    elif sgnd < 0.0:  # a lower value and derivatives of opposite signs: bracketed
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        gamma = _cubic_gamma(theta, dx, dp, max(abs(theta), abs(dx), abs(dp)))
        if stp > stx:
            gamma = -gamma
        r = ((gamma - dp) + theta) / (((gamma - dp) + gamma) + dx)
        stpc = stp + r * (stx - stp)
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
        brackt = True
    elif abs(dp) < abs(dx):  # a lower value, same signs, the derivative's magnitude decreases
        theta = 3.0 * (fx - fp) / (stp - stx) + dx + dp
        gamma = _cubic_gamma(theta, dx, dp, max(abs(theta), abs(dx), abs(dp)))
        if stp > stx:
            gamma = -gamma
        r = ((gamma - dp) + theta) / ((gamma + (dx - dp)) + gamma)
        if r < 0.0 and gamma != 0.0:
            stpc = stp + r * (stx - stp)
        else:
            stpc = stpmax if stp > stx else stpmin
        stpq = stp + (dp / (dp - dx)) * (stx - stp)
        if brackt:
            stpf = stpc if abs(stpc - stp) < abs(stpq - stp) else stpq
            bound = stp + 0.66 * (sty - stp)
            stpf = min(bound, stpf) if stp > stx else max(bound, stpf)
        else:
            stpf = stpc if abs(stpc - stp) > abs(stpq - stp) else stpq
            stpf = min(stpmax, max(stpmin, stpf))
    elif brackt:  # a lower value, same signs, the magnitude does not decrease: the cubic step in the bracket
        theta = 3.0 * (fp - fy) / (sty - stp) + dy + dp
        gamma = _cubic_gamma(theta, dy, dp, max(abs(theta), abs(dy), abs(dp)))
        if stp > sty:
            gamma = -gamma
        r = ((gamma - dp) + theta) / (((gamma - dp) + gamma) + dy)
        stpf = stp + r * (sty - stp)
    else:
        stpf = stpmax if stp > stx else stpmin
    if fp > fx:
        sty, fy, dy = stp, fp, dp
    else:
        if sgnd < 0.0:
            sty, fy, dy = stx, fx, dx
        stx, fx, dx = stp, fp, dp
    return stx, fx, dx, sty, fy, dy, stpf, brackt


class _LineSearch:
    """MINPACK-2's ``dcsrch`` on host scalars: call it with ``(stp, f(stp), f'(stp))`` after each evaluation.

    It returns the next trial step and ``"FG"`` (evaluate there), ``"CONVERGENCE"`` (``stp`` satisfies the strong
    Wolfe conditions) or a ``"WARNING: ..."`` (no progress possible; L-BFGS-B takes ``stp`` as it is).
    """

    def __init__(self, f0, g0, stp, ftol=1e-3, gtol=0.9, xtol=0.1, stpmin=0.0, stpmax=_STPMAX):
        self.ftol, self.gtol, self.xtol, self.stpmin, self.stpmax = ftol, gtol, xtol, stpmin, stpmax
        self.brackt, self.stage = False, 1
        self.finit, self.ginit, self.gtest = f0, g0, ftol * g0
        self.width = stpmax - stpmin
        self.width1 = self.width / 0.5
        self.stx, self.fx, self.gx = 0.0, f0, g0
        self.sty, self.fy, self.gy = 0.0, f0, g0
        self.stmin, self.stmax = 0.0, stp + 4.0 * stp

    def __call__(self, stp, f, g):
        if not (math.isfinite(f) and math.isfinite(g)):
            # an overflow at this step: go back halfway towards the best step (dcsrch itself would make NaN steps)
            return self.stx + 0.5 * (stp - self.stx), "FG"
        ftest = self.finit + stp * self.gtest
        if self.stage == 1 and f <= ftest and g >= 0.0:
            self.stage = 2
        task = "FG"
        if self.brackt and (stp <= self.stmin or stp >= self.stmax):
            task = "WARNING: ROUNDING ERRORS PREVENT PROGRESS"
        if self.brackt and self.stmax - self.stmin <= self.xtol * self.stmax:
            task = "WARNING: XTOL TEST SATISFIED"
        if stp == self.stpmax and f <= ftest and g <= self.gtest:
            task = "WARNING: STP = STPMAX"
        if stp == self.stpmin and (f > ftest or g >= self.gtest):
            task = "WARNING: STP = STPMIN"
        if f <= ftest and abs(g) <= self.gtol * -self.ginit:
            task = "CONVERGENCE"
        if task != "FG":
            return stp, task
        if self.stage == 1 and self.fx >= f > ftest:
            # the modified function psi(stp) = f(stp) - f(0) - ftol * stp * f'(0) while it is still positive
            gt = self.gtest
            stx, fxm, gxm, sty, fym, gym, stp, self.brackt = _dcstep(
                self.stx,
                self.fx - self.stx * gt,
                self.gx - gt,
                self.sty,
                self.fy - self.sty * gt,
                self.gy - gt,
                stp,
                f - stp * gt,
                g - gt,
                self.brackt,
                self.stmin,
                self.stmax,
            )
            self.stx, self.sty = stx, sty
            self.fx, self.fy = fxm + stx * gt, fym + sty * gt
            self.gx, self.gy = gxm + gt, gym + gt
        else:
            (self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp, self.brackt) = _dcstep(
                self.stx, self.fx, self.gx, self.sty, self.fy, self.gy, stp, f, g, self.brackt, self.stmin, self.stmax
            )
        if self.brackt:
            if abs(self.sty - self.stx) >= 0.66 * self.width1:
                stp = self.stx + 0.5 * (self.sty - self.stx)
            self.width1, self.width = self.width, abs(self.sty - self.stx)
            self.stmin, self.stmax = min(self.stx, self.sty), max(self.stx, self.sty)
        else:
            self.stmin = stp + 1.1 * (stp - self.stx)
            self.stmax = stp + 4.0 * (stp - self.stx)
        stp = min(self.stpmax, max(self.stpmin, stp))
        if self.brackt and (
            stp <= self.stmin or stp >= self.stmax or self.stmax - self.stmin <= self.xtol * self.stmax
        ):
            stp = self.stx
        return stp, "FG"


# -- the iteration -----------------------------------------------------------------------------------
def _dot(xp, a, b):
    return xp.sum(a * b)


def _direction(xp, g, memory):
    """``-H g`` by the two-loop recursion over ``memory`` (pairs ``(s, y, rho)``, oldest first)."""
    if not memory:
        return -g
    q, alphas = g, []
    for s, y, rho in reversed(memory):
        a = rho * _dot(xp, s, q)
        alphas.append(a)
        q = q - a * y
    s, y, rho = memory[-1]
    r = q / (rho * _dot(xp, y, y))  # H0 = s'y / y'y of the newest pair
    for (s, y, rho), a in zip(memory, reversed(alphas), strict=True):
        r = r + s * (a - rho * _dot(xp, y, r))
    return -r


class _Evaluations:
    """The objective with its evaluations counted; ``f`` read to the host as a float."""

    def __init__(self, fun):
        self.fun, self.count = fun, 0

    def __call__(self, x):
        f, g = self.fun(x)
        self.count += 1
        return float(f), g


def _iterate(xp, evaluate, x, f, g, memory, first, history_size, maxls, lr=1.0, rho_array=False):
    """One L-BFGS-B iteration from ``(x, f, g)``.

    Returns ``(x, f, g, memory, failed)``: the new point, or the old one and ``failed=True`` when the line search
    found no step (after a restart from ``-g`` if the memory held pairs; the memory is then empty).
    """
    while True:
        d = _direction(xp, g, memory)
        gd = float(_dot(xp, g, d))
        stp = lr * (min(1.0 / math.sqrt(float(_dot(xp, d, d))), _STPMAX) if first else 1.0)
        found = None
        if gd < 0.0:  # else no descent along d: a line search is impossible
            search = _LineSearch(f, gd, stp)
            for _ in range(maxls):
                x_new = x + stp * d
                f_new, g_new = evaluate(x_new)
                gd_new = float(_dot(xp, g_new, d))
                next_stp, task = search(stp, f_new, gd_new)
                if task != "FG":
                    found = (x_new, f_new, g_new, gd_new)
                    break
                stp = next_stp
        if found is None:
            if not memory:
                return x, f, g, memory, True
            memory = []  # L-BFGS-B: refresh the memory and restart the iteration from -g
            continue
        x_new, f_new, g_new, gd_new = found
        dr = (gd_new - gd) * stp  # s'y, as L-BFGS-B computes it
        if dr > _EPS * (-gd * stp):  # else skip the update: the curvature condition failed to rounding
            rho = 1.0 / dr
            if rho_array:  # kept on the device with the vectors (an optimizer's state)
                rho = xp.asarray(rho, dtype=x.dtype, device=x.device)
            memory = [*memory, (stp * d, g_new - g, rho)][-history_size:]
        return x_new, f_new, g_new, memory, False


def minimize(
    fun,
    x0,
    *,
    xp,
    maxiter: int = 15000,
    maxfun: int = 15000,
    gtol: float = 1e-5,
    ftol: float = FTOL,
    history_size: int = 10,
    maxls: int = 20,
    callback=None,
) -> LBFGSResult:
    """Minimise ``fun`` from ``x0`` by L-BFGS (scipy's L-BFGS-B without bounds; see the module docstring).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, g)``: the value (a 0-d array or a number) and the gradient (an array like ``x``).
    x0 : array, shape (n,)
        The starting point, a floating array of namespace ``xp``.
    xp : namespace
        The array API namespace of ``x0`` (``model.xp``, ``backend.xp``).
    maxiter, maxfun : int
        Stop after this many iterations, or after the iteration during which the evaluations passed ``maxfun``.
    gtol : float
        Converged when ``max |g| <= gtol``.
    ftol : float
        Converged when ``(f_old - f) <= ftol * max(|f_old|, |f|, 1)``.
    history_size : int
        Pairs kept (scipy's ``maxcor``).
    maxls : int
        Evaluations per line search.
    callback : callable or None
        ``callback(x, f)`` after each iteration.

    Returns
    -------
    LBFGSResult

    Raises
    ------
    DivergenceError
        The objective or its gradient is not finite at ``x0``.
    """
    maxiter, maxfun = positive_int("maxiter", maxiter, "lbfgs"), positive_int("maxfun", maxfun, "lbfgs")
    history_size, maxls = positive_int("history_size", history_size, "lbfgs"), positive_int("maxls", maxls, "lbfgs")
    gtol, ftol = non_negative("gtol", gtol, "lbfgs"), non_negative("ftol", ftol, "lbfgs")
    if len(x0.shape) != 1:
        raise ValueError(f"lbfgs: x0 must be a flat vector (shape (n,)), got shape {tuple(x0.shape)}")
    evaluate = _Evaluations(fun)
    x = x0
    f, g = evaluate(x)
    if not (math.isfinite(f) and bool(xp.all(xp.isfinite(g)))):
        raise DivergenceError(f"lbfgs: the objective is {f} (or its gradient is not finite) at the starting point")
    nit = 0
    memory: list[tuple[Any, Any, Any]] = []  # the pairs (s, y, rho), oldest first

    def result(status, message):
        return LBFGSResult(x, f, g, nit, evaluate.count, status, message)

    if float(xp.max(xp.abs(g))) <= gtol:
        return result(0, CONVERGED_GRADIENT)
    while True:
        f_old = f
        x, f, g, memory, failed = _iterate(xp, evaluate, x, f, g, memory, nit == 0, history_size, maxls)
        if failed:
            return result(2, ABNORMAL)
        nit += 1
        if callback is not None:
            callback(x, f)
        if nit >= maxiter:
            return result(1, STOP_ITERATIONS)
        if evaluate.count > maxfun:
            return result(1, STOP_EVALUATIONS)
        if float(xp.max(xp.abs(g))) <= gtol:
            return result(0, CONVERGED_GRADIENT)
        if f_old - f <= ftol * max(abs(f_old), abs(f), 1.0):
            return result(0, CONVERGED_F)


# -- flat vectors ------------------------------------------------------------------------------------
def flatten(xp, arrays):
    """One flat vector holding ``arrays`` one after the other (row-major)."""
    return xp.concat([xp.reshape(a, (-1,)) for a in arrays])


def unflatten(xp, x, shapes):
    """The arrays of ``shapes`` that :func:`flatten` made ``x`` from (views of ``x`` where the library has them)."""
    out, offset = [], 0
    for shape in shapes:
        size = math.prod(shape)
        out.append(xp.reshape(x[offset : offset + size], tuple(shape)))
        offset += size
    return tuple(out)


class _Evaluate(Optimizer):
    """An update that changes nothing: with it, :func:`mlp.make_step` returns the loss and the gradients.

    The model hands it which parameter groups hold weights (:meth:`update_function`), which the L2 term needs.
    """

    def __init__(self):
        super().__init__(1.0)
        self.group_is_weight = None

    def update_function(self, K, group_is_weight):
        self.group_is_weight = tuple(bool(w) for w in group_is_weight)

        def update(groups, grads, state, lr, t):
            return groups, state

        return update

    def hyperparameters(self):
        return {"lr": self.lr}


def group_objective(model, loss, reduce=None, weighted=False):
    """``evaluate(groups, X, T, ctx) -> (loss, gradient groups)`` for ``model`` and ``loss``, and the weight mask.

    Built on :func:`mlp.core.step.make_step` with an update that changes nothing (``reduce`` and ``weighted`` as
    there).  Returns ``(evaluate, group_is_weight)``.  On NumPy the gradient groups are the model's own buffers,
    overwritten by the next call.
    """
    from .step import make_step

    probe = _Evaluate()
    step = make_step(model, loss, probe, reduce, weighted) if weighted else make_step(model, loss, probe, reduce)

    def evaluate(groups, X, T, ctx):
        _, _, value, grads = step(groups, (), X, T, 1.0, 1, ctx)
        return value, grads

    return evaluate, probe.group_is_weight


@OPTIMIZERS.register("lbfgs")
class LBFGS(Optimizer):
    """L-BFGS as an optimizer of :func:`mlp.fit`: each step runs ``max_iter`` L-BFGS iterations on its mini-batch.

    Use it with large batches (a full batch: one iteration per epoch, the classic method); its pairs are kept from
    step to step, and each pair is measured on one batch.  ``weight_decay`` adds ``weight_decay / 2 * ||W||^2``
    (weights only) to the loss, the same L2 as the other optimizers' ``weight_decay``.

    Parameters
    ----------
    lr : float
        The first trial step of each line search, as a multiple of scipy's (``1 / ||g||`` on the first iteration,
        1 after): 1 is scipy's.
    history_size : int
        Pairs kept.
    max_iter : int
        Iterations per step.
    max_ls : int
        Evaluations per line search.
    tolerance_grad : float
        A step whose batch gradient has ``max |g| <= tolerance_grad`` leaves the weights as they are.
    weight_decay : float
    l1 : float
        Must be 0: the L1 term is not differentiable at 0, and L-BFGS needs a smooth objective.
    """

    compilable = False  #: the step decides on host scalars between evaluations: a compiler cannot trace it

    def __init__(self, lr=1.0, history_size=10, max_iter=1, max_ls=20, tolerance_grad=0.0, weight_decay=0.0, l1=0.0):
        super().__init__(lr, weight_decay, l1)
        if self.l1:
            raise ValueError(
                "LBFGS: l1 must be 0 (the L1 term is not differentiable at 0 and L-BFGS needs a smooth "
                "objective); use weight_decay, or SGD/Adam for L1"
            )
        self.history_size = positive_int("history_size", history_size, "LBFGS")
        self.max_iter = positive_int("max_iter", max_iter, "LBFGS")
        self.max_ls = positive_int("max_ls", max_ls, "LBFGS")
        self.tolerance_grad = non_negative("tolerance_grad", tolerance_grad, "LBFGS")
        self._pairs: tuple[tuple[Any, Any, Any], ...] = ()  # the curvature pairs (s, y, rho), oldest first

    def update_function(self, K, group_is_weight):
        raise TypeError(
            "LBFGS evaluates the loss several times per step, so it has no update rule to pair with one "
            "gradient: its training step is LBFGS.make_step(model, loss) (which mlp.make_step hands out "
            "for it), or minimise a flat objective with mlp.core.lbfgs.minimize"
        )

    def make_step(self, model, loss, reduce=None, weighted=False):
        """The pure step ``step(groups, state, X, T, lr, t, ctx) -> (groups, state, loss, grads)`` for ``model``.

        ``state`` is the tuple of pairs ``(s, y, rho)`` (flat vectors and a 0-d array, oldest first); ``loss`` and
        ``grads`` are the batch's, at the weights the step started from.  ``reduce`` and ``weighted`` (``T``'s last
        column holds the samples' weights) as in :func:`mlp.make_step`.
        """
        evaluate, is_weight = group_objective(model, loss, reduce, weighted)
        xp, wd = model.xp, self.weight_decay
        history, iterations, maxls, tol = self.history_size, self.max_iter, self.max_ls, self.tolerance_grad
        masks: dict[tuple, Any] = {}  # the weight mask of the one parameter layout last seen

        def mask_for(groups):
            key = tuple(tuple(g.shape) for g in groups)
            if key not in masks:
                parts = [
                    (xp.ones if w else xp.zeros)((math.prod(g.shape),), dtype=g.dtype, device=g.device)
                    for g, w in zip(groups, is_weight, strict=True)
                ]
                masks.clear()
                masks[key] = xp.concat(parts)
            return masks[key]

        def step(groups, state, X, T, lr, t, ctx):
            shapes = [tuple(g.shape) for g in groups]
            mask = mask_for(groups) if wd else None
            first = {}

            def fg(x):
                value, grads = evaluate(unflatten(xp, x, shapes), X, T, ctx)
                g = flatten(xp, grads)  # a copy: the model's gradient buffers are reused by the next evaluation
                if "loss" not in first:
                    first["loss"], first["grads"] = value, unflatten(xp, g, shapes)
                if mask is not None:
                    wx = mask * x
                    value, g = value + 0.5 * wd * _dot(xp, wx, wx), g + wd * wx
                return float(value), g

            x = flatten(xp, groups)
            f, g = fg(x)
            memory = list(state)
            for it in range(iterations):
                if tol and float(xp.max(xp.abs(g))) <= tol:
                    break
                x, f, g, memory, failed = _iterate(
                    xp,
                    fg,
                    x,
                    f,
                    g,
                    memory,
                    t == 1 and it == 0 and not memory,
                    history,
                    maxls,
                    lr=float(lr),
                    rho_array=True,
                )
                if failed:
                    break
            return unflatten(xp, x, shapes), tuple(memory), first["loss"], first["grads"]

        return step

    # -- state: the pairs -------------------------------------------------------------------------
    def state_groups(self, model) -> tuple:
        return self._pairs

    def set_state_groups(self, model, state):
        self._pairs = tuple(tuple(pair) for pair in state)

    def state_dict(self, pairs: bool = False) -> dict:
        """Hyperparameters and step count; with ``pairs``, also the curvature pairs (host copies).

        A checkpoint keeps no pairs (its optimizer tensors are laid out like the parameters): a run resumed
        from one rebuilds its curvature memory from the next steps, as L-BFGS does after a restart.
        """
        arrays = {}
        for i, (s, y, rho) in enumerate(self._pairs if pairs else ()):
            arrays[f"s.{i}"], arrays[f"y.{i}"] = np.array(to_host(s)), np.array(to_host(y))
            arrays[f"rho.{i}"] = np.array(to_host(rho))
        return {"type": type(self).__name__, "hyper": self.hyperparameters(), "t": self.t, "arrays": arrays}

    def load_state_dict(self, state: dict, model):
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')}, not {type(self).__name__}")
        arrays, n = state["arrays"], sum(math.prod(tuple(p.shape)) for p in model.param_groups())
        pairs, i = [], 0
        while f"s.{i}" in arrays:
            s, y, rho = arrays[f"s.{i}"], arrays[f"y.{i}"], arrays.get(f"rho.{i}")
            if rho is None or tuple(s.shape) != (n,) or tuple(y.shape) != (n,):
                raise ValueError(f"LBFGS state pair {i} is incomplete or not of the model's {n} parameters")
            be = model.backend
            pairs.append(
                (be.asarray(s, dtype=model.dtype), be.asarray(y, dtype=model.dtype), be.asarray(rho, dtype=model.dtype))
            )
            i += 1
        self._pairs, self.t = tuple(pairs), int(state["t"])
        return self

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "history_size": self.history_size,
            "max_iter": self.max_iter,
            "max_ls": self.max_ls,
            "tolerance_grad": self.tolerance_grad,
            "weight_decay": self.weight_decay,
        }
