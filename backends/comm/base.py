"""The communicator interface (:class:`Communicator`) and the one-process communicator (:class:`SingleProcess`)."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from .._base import BackendUnavailableError

INSTALL_HINT = 'pip install mpi4py mpich  (or: pip install "mlp-arrayapi[mpi]")'

_OPS = ("sum", "max", "min")


class CommunicatorUnavailableError(BackendUnavailableError):
    """Distributed training was asked for but cannot run here; the message says why and how to fix it.

    A kind of :class:`backends.BackendUnavailableError` (known, but not usable here), so that the CLI
    reports it as one line, as it does a missing array library.
    """


class Communicator:
    """The interface ``mlp`` uses (see :mod:`mlp.backends.comm`); :class:`SingleProcess` is the trivial one."""

    rank: int = 0
    size: int = 1
    #: rank among the processes of this machine (to pick a GPU per process)
    local_rank: int = 0
    name: str = "single"

    @property
    def is_root(self) -> bool:
        """Whether this is rank 0, the rank that prints and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process."""
        return self.size > 1

    def allreduce_sum(self, buffer, backend=None, scale=None):  # pragma: no cover - interface
        raise NotImplementedError

    def allreduce(self, value, op: str = "sum"):  # pragma: no cover - interface
        raise NotImplementedError

    def broadcast(self, array, root: int = 0):  # pragma: no cover - interface
        raise NotImplementedError

    def gather_objects(self, obj) -> list:  # pragma: no cover - interface
        """Every rank's ``obj`` (small Python values: summaries, file fingerprints), in rank order, on every rank."""
        raise NotImplementedError

    def reduce_objects(self, obj, merge):  # pragma: no cover - interface
        """``merge`` of every rank's ``obj`` (``merge(a, b)``: one value of two, ``a`` of the lower ranks), on every
        rank: merged pairwise up a binary tree, so that a rank holds two values at a time, never all of them."""
        raise NotImplementedError

    def broadcast_object(self, obj, root: int = 0):  # pragma: no cover - interface
        """Rank ``root``'s ``obj`` (a small Python value, bytes of a file), on every rank."""
        raise NotImplementedError

    def barrier(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def abort(self, message: str, code: int = 1):  # pragma: no cover - interface
        raise NotImplementedError

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on at least one rank; every rank gets the same answer.

        This is how a decision that one rank may see alone (a NaN loss, a Ctrl-C) becomes
        the job's decision, taken by every rank at the same step instead of one rank leaving
        the others waiting in the next collective.
        """
        return bool(self.allreduce(1 if flag else 0, op="max"))

    @contextmanager
    def fatal_errors(self, debug: bool = False):
        """Context in which an error ends the whole job: a no-op on one process (see :class:`MPICommunicator`)."""
        yield

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcess(Communicator):
    """One process: every collective returns its input unchanged, with no copy and no MPI.

    ``abort`` prints the message and raises :class:`SystemExit` (there is no other process to end).
    """

    def allreduce_sum(self, buffer, backend=None, scale=None):
        """Return ``buffer`` itself (the sum over one rank), or ``buffer * scale`` when a scale is given."""
        return buffer if scale is None else buffer * scale

    def allreduce(self, value, op: str = "sum"):
        """Return ``value`` unchanged (after checking ``op``)."""
        if op not in _OPS:
            raise ValueError(f"unknown reduction {op!r}; expected one of {', '.join(_OPS)}")
        return value

    def any(self, flag: bool) -> bool:
        return bool(flag)

    def broadcast(self, array, root: int = 0):
        """Return ``array`` itself (root must be 0)."""
        if root != 0:
            raise ValueError(f"root {root} out of range for a job of 1 process")
        if array is None:
            raise ValueError("broadcast from rank 0 got None: the root must hold the array")
        return array

    def gather_objects(self, obj) -> list:
        return [obj]

    def reduce_objects(self, obj, merge):
        return obj

    def broadcast_object(self, obj, root: int = 0):
        if root != 0:
            raise ValueError(f"root {root} out of range for a job of 1 process")
        return obj

    def barrier(self) -> None:
        """Nothing to wait for."""

    def abort(self, message: str, code: int = 1):
        """Print ``mlp: message`` to stderr and exit with ``code``."""
        print(f"mlp: {message}", file=sys.stderr, flush=True)
        raise SystemExit(code)
