"""How many BLAS/OpenMP threads mlp uses: measured when it starts, not "all cores"; one policy for every face.

The ``mlp`` command applies :func:`choose` around the whole command; :func:`mlp.fit`, :func:`mlp.evaluate` and
the scikit-learn estimators run under :func:`default`, the same choice made once per process (a choice already
applied, such as the command's, is kept).

An OpenBLAS (or PyTorch) that starts one thread per core is many times slower the moment another process
holds a core: its threads wait for each other at every product (measured in ``docs/threads.md``: an epoch
of ``mid`` 57 times slower with two threads than with one beside a busy process on two cores). The default is
therefore one thread unless the load average leaves more than one core free; then a probe of a fraction
of a second times the same matrix products with one thread and with the free cores, interleaved, and takes
more threads only when they are clearly faster now.

``--threads N`` overrides the probe, then ``MLP_THREADS``, then the usual ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` (the first one set). The choice applies to every
BLAS and OpenMP pool already loaded (through threadpoolctl) and, through the environment variables, to
the libraries imported later (PyTorch reads ``OMP_NUM_THREADS`` when it starts its pool).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

#: a function's parameters and result, kept by :func:`with_default`
P = ParamSpec("P")
R = TypeVar("R")

#: the variables that set the thread count, in the order they are looked at (after --threads)
ENVIRONMENT = ("MLP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: more threads are chosen only if the large probe product is at least this much faster with them: a
#: small gain is not worth the risk of the 20x loss when another process takes a core a moment later
MARGIN = 1.25
#: the most threads the probe considers: an MLP's products stop gaining long before a big machine's core count
MOST = 8


@dataclass(frozen=True)
class Choice:
    """``threads`` and where the number came from (``"--threads"``, a variable's name, or ``"measured"``)."""

    threads: int
    source: str
    detail: str = ""

    def describe(self, detail: bool = True) -> str:
        """``1 thread (measured: ...)`` or ``2 threads (--threads)``; ``detail=False``: ``1 thread (measured)``."""
        unit = "thread" if self.threads == 1 else "threads"
        how = f"{self.source}: {self.detail}" if self.detail and detail else self.source
        return f"{self.threads} {unit} ({how})"


#: the choice the running command made (None before :func:`apply`): ``mlp info`` and ``mlp train`` print it
current: Choice | None = None
#: the default of this process, chosen the first time :func:`default` needs it
_default: list[Choice] = []


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def choose(option: int | None = None, environ: Mapping[str, str] | None = None) -> Choice:
    """The thread count: ``--threads``, else the first variable of :data:`ENVIRONMENT` set, else :func:`measure`.

    Raises
    ------
    ValueError
        ``MLP_THREADS`` is set but not a positive integer (the other variables belong to other tools as
        well: a value that is not a count, such as OpenMP's nested ``4,2``, uses its first number or is
        passed over).
    """
    environ = os.environ if environ is None else environ
    if option is not None:
        return Choice(option, "--threads")
    for name in ENVIRONMENT:
        text = environ.get(name, "").strip()
        if not text:
            continue
        try:
            value = int(text.split(",")[0])
        except ValueError:
            value = 0
        if value >= 1:
            return Choice(value, f"{name}={text}")
        if name == "MLP_THREADS":
            raise ValueError(f"MLP_THREADS must be a positive integer, got {text!r}")
    return measure()


def measure(cores: int | None = None, budget: float = 0.25, load: float | None = None) -> Choice:
    """One thread, or every core left free (at most :data:`MOST`) if they are at least :data:`MARGIN` times faster.

    The cores left free are the usable ones less the 1-minute load average (``load``; default: the system's),
    rounded; one or none free: one thread, without a probe.  Else
    two products are timed, interleaved, the best of several rounds within ``budget`` seconds: a small one
    (a batch of 64 through a 784 x 128 layer, where a second thread gains nothing and loses most when the
    cores are busy) and a large one (256 through 784 x 1024). More threads win only if they make the large
    one :data:`MARGIN` times faster and the small one no slower.
    """
    import numpy as np

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dependency of mlp; without it the loaded pools cannot be limited, so none is probed
        return Choice(1, "measured", "threadpoolctl is missing: pip install threadpoolctl")
    cores = min(usable_cores() if cores is None else cores, MOST)
    if cores <= 1:
        return Choice(1, "measured", "1 usable core")
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not Unix
            load = 0.0
    # the cores other processes leave free (rounded): a probe of a fraction of a second can miss a neighbour
    # that is busy on and off (a test suite), and a thread beyond the free cores is what costs 20x
    free = min(cores, int(cores - load + 0.5))
    if free <= 1:
        return Choice(1, "measured", f"load average {load:.1f} on {cores} cores leaves no core for a second thread")
    cores = free
    rng = np.random.default_rng(0)
    shapes = {"small": ((64, 784), (784, 128)), "large": ((256, 784), (784, 1024))}
    operands = {
        k: (rng.standard_normal(a, dtype=np.float32), rng.standard_normal(b, dtype=np.float32))
        for k, (a, b) in shapes.items()
    }
    best = {(n, k): float("inf") for n in (1, cores) for k in shapes}
    deadline = time.perf_counter() + budget
    for _ in range(20):
        for n in (1, cores):
            with threadpool_limits(limits=n, user_api="blas"):
                for k, (a, b) in operands.items():
                    start = time.perf_counter()
                    a @ b
                    best[n, k] = min(best[n, k], time.perf_counter() - start)
        if time.perf_counter() > deadline:
            break
    return decide(cores, best[1, "large"] / best[cores, "large"], best[1, "small"] / best[cores, "small"])


def decide(cores: int, large: float, small: float) -> Choice:
    """``cores`` threads if their speed-ups over one thread (``large``, ``small``: time with 1 / time with
    ``cores``) are at least :data:`MARGIN` on the large product and 1 on the small one; else 1."""
    threads = cores if large >= MARGIN and small >= 1.0 else 1
    return Choice(
        threads, "measured", f"{cores} threads x{large:.2f} on a large product, x{small:.2f} on a small one, against 1"
    )


@contextlib.contextmanager
def applied(choice: Choice) -> Iterator[Choice]:
    """Run the body with ``choice``: the pools loaded now limited, the variables set for those loaded later."""
    global current
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ValueError(f"BLAS threads ({choice.source}) need threadpoolctl: pip install threadpoolctl") from None
    limits = _limiter(threadpool_limits)
    previous = current
    saved = {name: os.environ.get(name) for name in ENVIRONMENT[1:]}
    for name in saved:
        os.environ[name] = str(choice.threads)
    current = choice
    try:
        with limits(choice.threads):
            yield choice
    finally:
        current = previous
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


#: the thread pools found the last time, and ``len(sys.modules)`` then: ``threadpool_limits`` looks through every
#: loaded shared library on each call (0.25 ms with NumPy and PyTorch loaded, against 0.01 ms for a limit on the
#: pools already found), and :func:`mlp.fit` applies the default once per call; a library is loaded by an import,
#: so a new module means a new look
_pools: list[Any] = [None, -1]


def _limiter(threadpool_limits: Callable[..., Any]) -> Callable[[int], AbstractContextManager[Any]]:
    """A ``limits(n)`` context manager over the pools loaded now (looked up again once a module was imported)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # threadpoolctl before 3.0
        return lambda n: threadpool_limits(limits=n)
    if _pools[1] != len(sys.modules):
        _pools[:] = [ThreadpoolController(), len(sys.modules)]
    controller = _pools[0]
    return lambda n: controller.limit(limits=n)


@contextlib.contextmanager
def default() -> Iterator[Choice]:
    """Run the body under this process's thread default (``MLP_THREADS``/``OMP_NUM_THREADS``..., else measured once
    per process), unless a choice is applied already (the ``mlp`` command's ``--threads``, or an outer call)."""
    if current is not None:
        yield current
        return
    if not _default:
        _default.append(choose(None))
    with applied(_default[0]) as choice:
        yield choice


def with_default(function: Callable[P, R]) -> Callable[P, R]:
    """``function`` run under :func:`default` (a decorator: :func:`mlp.fit`, :func:`mlp.evaluate`, the
    scikit-learn estimators' methods)."""
    import functools

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with default():
            return function(*args, **kwargs)

    return run
