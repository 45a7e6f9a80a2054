"""Communicators: how the processes of one data-parallel job add up their gradients.

``mlp`` never talks to MPI itself.  It asks :func:`get_communicator` for an object
with a rank, a size and a handful of collectives, and uses only those:

``rank``, ``size``, ``is_root``
    This process's number in the job (0 .. size-1), the number of processes, rank == 0.
``allreduce_sum(buffer, backend=None, scale=None)``
    The element-wise sum over all ranks of a flat array (a gradient buffer), each rank's
    buffer first multiplied by its ``scale`` (a weighted mean in one pass).
``allreduce(value, op="sum")``, ``any(flag)``
    The same for a small host scalar or vector (metrics, a loss, a divergence flag).
``broadcast(array, root=0)``
    The root's host array, on every rank (initial parameters).
``barrier()``, ``abort(message, code=1)``

Two implementations:

:class:`SingleProcess`
    One process: every collective is the identity and costs nothing (no copy, no import
    of MPI).  What ``fit`` uses unless asked for more.
:class:`MPICommunicator`
    ``mpi4py``'s ``MPI.COMM_WORLD``; every process started by ``mpiexec -n N`` (or
    ``srun``) is one rank.  Installed by ``pip install mpi4py mpich`` (the ``mpi`` extra).

Failure model
-------------
A data-parallel job is one run, not N runs: it must end as a whole.  A rank that is
killed (a signal, ``os._exit``) ends the job through the process manager (``mpiexec``
notices and kills the others).  A rank that raises would *not*: its interpreter would
wait in ``MPI_Finalize`` while the others wait in the next allreduce, forever (seen with
MPICH 5.0.2: both an uncaught exception and ``sys.exit(3)`` on one rank hung the job).  So the
MPI communicator installs an exception hook that prints the traceback and calls
``MPI_Abort``, and :meth:`MPICommunicator.fatal_errors` does the same for code that
catches its own exceptions (a CLI) and for ``SystemExit`` with a non-zero code.
Decisions that depend on something only one rank may see (a NaN loss, Ctrl-C) are
taken collectively: every rank contributes a flag to an allreduce (:meth:`any`), and
all of them act on the same answer at the same step.

GPUs
----
Device arrays of other backends are staged through host memory (``backend.to_numpy``
then ``backend.asarray``): the MPI of the ``mpich`` wheel on PyPI is **not CUDA-aware**
(checked with MPICH 5.0.2 from the wheel: ``MPIX_Query_cuda_support()`` returns 0 and
its configure line has no ``--with-cuda``; :func:`info` reports the query).  With CuPy
and ``cupy.cuda.nccl`` available, gradients of CuPy and of PyTorch on CUDA are summed by
NCCL on the devices instead, in place, from their device pointers (the NCCL id is created
on rank 0 and broadcast over MPI); JAX's arrays, which are not written in place, go
through the host.  The NCCL path is written and **untested**: no GPU was available where
it was written.

Modules: :mod:`.base` (the interface, :class:`SingleProcess`), :mod:`.mpi` (:class:`MPICommunicator`),
:mod:`.gpu` (the NCCL sum and the CUDA-awareness query); this package chooses among them.
"""

from __future__ import annotations

from typing import Any

from .base import INSTALL_HINT, Communicator, CommunicatorUnavailableError, SingleProcess
from .gpu import cuda_aware
from .mpi import MPICommunicator

__all__ = [
    "Communicator",
    "CommunicatorUnavailableError",
    "MPICommunicator",
    "SingleProcess",
    "get_communicator",
    "info",
    "INSTALL_HINT",
]


_single = SingleProcess()
_world: MPICommunicator | None = None


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise CommunicatorUnavailableError(
            f"distributed training needs mpi4py and an MPI library ({e}); install them with: {INSTALL_HINT}"
        ) from None
    except Exception as e:  # an MPI library that fails to load or initialise
        raise CommunicatorUnavailableError(
            f"mpi4py is installed but MPI cannot start here ({type(e).__name__}: {e}); reinstall with: {INSTALL_HINT}"
        ) from None
    return MPI


def get_communicator(distributed: bool = False) -> Communicator:
    """The communicator for this process.

    Parameters
    ----------
    distributed : bool
        False: the single-process communicator (free, no MPI imported).  True: the job's
        ``MPI.COMM_WORLD`` (one object per process).  Under ``mpiexec -n 1`` or when started
        without ``mpiexec`` it has size 1 and behaves like one process.

    Raises
    ------
    CommunicatorUnavailableError
        ``distributed`` is True and mpi4py (or an MPI library) is missing; the message gives
        the install command.
    """
    global _world
    if not distributed:
        return _single
    if _world is None:
        _import_mpi()
        _world = MPICommunicator()
    return _world


def info() -> dict[str, Any]:
    """What ``mlp info`` reports about MPI.

    Imports mpi4py (which initialises MPI; cheap, and a one-process "world" outside ``mpiexec``).

    Returns
    -------
    dict
        ``available`` (bool); when False, ``reason`` with the install hint.  Otherwise ``library``
        (the first line of ``MPI.Get_library_version()``), ``library_version`` (all of it),
        ``mpi4py`` (its version), ``world_size``, ``rank`` and ``cuda_aware`` (True/False/None
        when the library cannot say).
    """
    try:
        MPI = _import_mpi()
    except CommunicatorUnavailableError as e:
        return {"available": False, "reason": str(e)}
    import mpi4py

    full = MPI.Get_library_version().strip()
    return {
        "available": True,
        "library": " ".join(full.splitlines()[0].split()) if full else "unknown",
        "library_version": full,
        "mpi4py": mpi4py.__version__,
        "world_size": MPI.COMM_WORLD.Get_size(),
        "rank": MPI.COMM_WORLD.Get_rank(),
        "cuda_aware": cuda_aware(MPI),
    }
