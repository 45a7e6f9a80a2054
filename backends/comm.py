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
and ``cupy.cuda.nccl`` available, gradients are summed by NCCL on the devices instead
(the NCCL id is created on rank 0 and broadcast over MPI).  The CuPy/NCCL path is
written and **untested**: no GPU was available where it was written.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from contextlib import contextmanager
from typing import Any

import numpy as np

from ._base import BackendUnavailableError

__all__ = [
    "Communicator",
    "CommunicatorUnavailableError",
    "MPICommunicator",
    "SingleProcess",
    "get_communicator",
    "info",
    "INSTALL_HINT",
]

INSTALL_HINT = 'pip install mpi4py mpich  (or: pip install "mlp-arrayapi[mpi]")'

_OPS = ("sum", "max", "min")


class CommunicatorUnavailableError(BackendUnavailableError):
    """Distributed training was asked for but cannot run here; the message says why and how to fix it.

    A kind of :class:`backends.BackendUnavailableError` (known, but not usable here), so that the CLI
    reports it as one line, as it does a missing array library.
    """


def _host_vector(value) -> tuple[np.ndarray, bool]:
    """``value`` (a number, bool or 1-D sequence) as a fresh contiguous host array, and whether it was a scalar."""
    arr = np.array(value, copy=True)
    if arr.ndim > 1:
        raise ValueError(f"allreduce takes a scalar or a 1-D vector, got an array of shape {arr.shape}; "
                         "use allreduce_sum for large buffers")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)  # MPI has no portable bool sum
    elif arr.dtype.kind not in "iuf":
        raise TypeError(f"allreduce takes numbers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr), arr.ndim == 0


def _unwrap(arr: np.ndarray, scalar: bool, like, op: str):
    if not scalar:
        return arr
    value = arr[()]
    if isinstance(like, (bool, np.bool_)) and op != "sum":  # max/min of flags is a flag; their sum a count
        return bool(value)
    return value.item()


class Communicator:
    """The interface ``mlp`` uses (see the module docstring); :class:`SingleProcess` is the trivial one."""

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

    def barrier(self) -> None:
        """Nothing to wait for."""

    def abort(self, message: str, code: int = 1):
        """Print ``mlp: message`` to stderr and exit with ``code``."""
        print(f"mlp: {message}", file=sys.stderr, flush=True)
        raise SystemExit(code)


class MPICommunicator(Communicator):
    """``MPI.COMM_WORLD`` through mpi4py (``pip install mpi4py mpich``).

    Build it with :func:`get_communicator` (``distributed=True``).  Creating it imports
    ``mpi4py.MPI`` (which initialises MPI) and, for a job of more than one process,
    installs an exception hook that aborts the job (see the module docstring).

    Parameters
    ----------
    comm : mpi4py.MPI.Comm or None
        Default ``MPI.COMM_WORLD``.
    nccl : bool
        Allow NCCL for CuPy arrays when ``cupy.cuda.nccl`` is importable (default True).
    """

    name = "mpi"

    def __init__(self, comm=None, nccl: bool = True):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        # one communicator per machine tells each process its place on that machine (its GPU)
        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank = local.Get_rank()
        local.Free()
        self._allow_nccl = nccl
        self._nccl = None  # built on the first CuPy allreduce (a collective over all ranks)
        if self.size > 1:
            _install_abort_hook(self)

    # -- large buffers ---------------------------------------------------------------------
    def allreduce_sum(self, buffer, backend=None, scale=None):
        """The element-wise sum of ``buffer`` (times ``scale``) over all ranks.

        Parameters
        ----------
        buffer : array
            A flat (or any contiguous) array of floats, the same shape and dtype on every rank.
            A writable C-contiguous NumPy array is summed **in place** and returned; an array of
            another backend is copied to the host, summed and copied back (CuPy with NCCL:
            summed on the device, in place; written and untested).
        backend : backends.Backend or None
            The array's backend; default: found from the array (``backends.backend_of``).
        scale : float or None
            Multiply this rank's buffer by ``scale`` first (in place where the sum is in place):
            a weighted sum in one pass, e.g. shard size / batch size for a data-parallel mean.

        Returns
        -------
        array
            The sum, on the buffer's backend and device.  Always use the returned array.
        """
        if isinstance(buffer, np.ndarray):
            if not (buffer.flags.c_contiguous and buffer.flags.writeable):
                buffer = np.array(buffer, order="C", copy=True)  # never write into what we were lent
            if scale is not None:
                np.multiply(buffer, buffer.dtype.type(scale), out=buffer)
            self.comm.Allreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)
            return buffer
        if backend is None:
            from . import backend_of

            backend = backend_of(buffer)
        if scale is not None:
            buffer = buffer * scale  # on the device, before any transfer
        if backend.name == "cupy" and self._allow_nccl:
            summed = self._nccl_allreduce(buffer)
            if summed is not None:
                return summed
        # staged through the host: the MPI wheels are not CUDA-aware (see the module docstring).
        # A fresh copy, because to_numpy may return a read-only view (JAX) or the caller's memory (torch).
        host = np.array(backend.to_numpy(buffer), order="C", copy=True)
        self.comm.Allreduce(self._MPI.IN_PLACE, host, op=self._MPI.SUM)
        return backend.asarray(host)

    def _nccl_allreduce(self, buffer):
        """Sum a CuPy array in place with NCCL; None when NCCL is not usable (then MPI is used).

        Written and untested (no GPU where it was written).  Each rank must already use its own
        GPU (``MLP_DEVICE`` or ``CUDA_VISIBLE_DEVICES`` from :attr:`local_rank`).
        """
        if self._nccl is None:
            self._nccl = self._make_nccl()
        if self._nccl is False:
            return None
        import cupy
        from cupy.cuda import nccl

        types = {np.dtype(np.float32): nccl.NCCL_FLOAT32, np.dtype(np.float64): nccl.NCCL_FLOAT64,
                 np.dtype(np.float16): nccl.NCCL_FLOAT16}
        kind = types.get(np.dtype(buffer.dtype))
        if kind is None:
            return None
        if not buffer.flags.c_contiguous:
            buffer = cupy.ascontiguousarray(buffer)
        stream = cupy.cuda.get_current_stream()
        # in place (send and receive the same pointer) is allowed by NCCL
        self._nccl.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, kind, nccl.NCCL_SUM, stream.ptr)
        return buffer

    def _make_nccl(self):
        # Every rank must take the same branch (a collective follows), so availability is agreed first.
        try:
            from cupy.cuda import nccl

            ok = nccl.available if hasattr(nccl, "available") else True
        except Exception:  # ImportError, or CuPy built without NCCL
            ok = False
        if not self.comm.allreduce(1 if ok else 0, op=self._MPI.MIN):
            return False
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = self.comm.bcast(uid, root=0)
        return nccl.NcclCommunicator(self.size, uid, self.rank)

    # -- small host values -----------------------------------------------------------------
    def allreduce(self, value, op: str = "sum"):
        """Reduce a small host scalar or 1-D vector over all ranks.

        Parameters
        ----------
        value : number, bool or 1-D sequence of numbers
        op : {"sum", "max", "min"}

        Returns
        -------
        The reduced value: a Python number for a scalar (a bool for the max/min of bools, an int for
        their sum: a count), else a new NumPy array.
        """
        if op not in _OPS:
            raise ValueError(f"unknown reduction {op!r}; expected one of {', '.join(_OPS)}")
        arr, scalar = _host_vector(value)
        mpi_op = {"sum": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}[op]
        self.comm.Allreduce(self._MPI.IN_PLACE, arr, op=mpi_op)
        return _unwrap(arr, scalar, value, op)

    def broadcast(self, array, root: int = 0):
        """Rank ``root``'s host array, on every rank.

        Parameters
        ----------
        array : numpy.ndarray or None
            On the root, the array to send.  Elsewhere, an array of the same shape and dtype to
            fill in place (when writable and contiguous), or None to receive a new one.
        root : int

        Returns
        -------
        numpy.ndarray
            The root's values (the root's own array on the root).

        Raises
        ------
        ValueError
            On every rank alike, when a non-root array's shape or dtype differs from the root's.
        """
        if not 0 <= root < self.size:
            raise ValueError(f"root {root} out of range for a job of {self.size} processes")
        if self.rank == root:
            if array is None:
                raise ValueError(f"broadcast: the root (rank {root}) got None instead of an array")
            array = np.ascontiguousarray(array)
            header = (array.shape, array.dtype.str)
        else:
            header = None
        # The shape travels first so that a mismatch is refused by every rank together, never a
        # hang or a silent truncation.  (A tuple of ints and a dtype string, between ranks of one job.)
        shape, dtype = self.comm.bcast(header, root=root)
        shape, dtype = tuple(shape), np.dtype(dtype)
        mine = None if array is None or self.rank == root else np.asarray(array)
        bad = mine is not None and (mine.shape != shape or mine.dtype != dtype)
        if self.any(bad):
            raise ValueError(f"broadcast from rank {root}: the root sends shape {shape} {dtype}, "
                             f"but a rank holds a different shape or dtype")
        if self.rank == root:
            out = array
        elif mine is not None and mine.flags.c_contiguous and mine.flags.writeable:
            out = mine
        else:
            out = np.empty(shape, dtype=dtype)
        self.comm.Bcast(out, root=root)
        return out

    def barrier(self) -> None:
        """Wait until every rank has reached this call."""
        self.comm.Barrier()

    def abort(self, message: str, code: int = 1):
        """End every rank of the job now: print ``mlp: rank r/n: message`` and call ``MPI_Abort``.

        ``mpiexec`` then exits with ``code``.  Never returns.
        """
        try:
            sys.stdout.flush()
        except Exception:  # a closed stdout must not stop the abort
            pass
        print(f"mlp: rank {self.rank}/{self.size}: {message}", file=sys.stderr, flush=True)
        # MPI_Abort makes the process manager kill every rank at once; a moment first lets it forward
        # the message above (otherwise it can be lost with the pipe it sits in)
        time.sleep(0.2)
        self.comm.Abort(code)
        os._exit(code)  # pragma: no cover - Abort does not return

    @contextmanager
    def fatal_errors(self, debug: bool = False):
        """Context in which any error ends the whole job instead of this rank alone.

        An exception (or ``SystemExit`` with a non-zero code, or ``KeyboardInterrupt`` that was
        not handled collectively) leaving the block calls :meth:`abort` with one readable line,
        so the other ranks do not wait for it forever.  On one process this changes nothing.
        ``debug``: print the traceback first.
        """
        if self.size == 1:
            yield
            return
        try:
            yield
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if code != 0:
                self.abort(f"exited with status {code}", code)
            raise
        except KeyboardInterrupt:
            self.abort("interrupted", 130)
        except BaseException as e:  # noqa: BLE001 - every error must end the job
            if debug:
                traceback.print_exc(file=sys.stderr)
            text = " ".join(str(e).split()) or type(e).__name__
            self.abort(f"{type(e).__name__}: {text}", 1)


def _install_abort_hook(comm: MPICommunicator) -> None:
    """Make an uncaught exception abort the job (as ``python -m mpi4py`` does) instead of hanging it."""
    previous = sys.excepthook
    if getattr(previous, "_mlp_abort_hook", False):
        return

    def hook(kind, value, tb):
        try:
            previous(kind, value, tb)  # the usual traceback first
        finally:
            comm.abort(f"uncaught {kind.__name__}: the job is ended", 130 if kind is KeyboardInterrupt else 1)

    hook._mlp_abort_hook = True
    sys.excepthook = hook


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
            f"mpi4py is installed but MPI cannot start here ({type(e).__name__}: {e}); "
            f"reinstall with: {INSTALL_HINT}") from None
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


def _cuda_aware(MPI) -> bool | None:
    """Whether the loaded MPI library can send CUDA device memory, or None when it cannot say.

    Asks the library itself (``MPIX_Query_cuda_support``, an extension of MPICH and Open MPI)
    in the copy already loaded by mpi4py.
    """
    import ctypes

    for soname in ("libmpi.so.12", "libmpi.so.40", "libmpi.so"):
        try:
            lib = ctypes.CDLL(soname, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:
            continue
        query = getattr(lib, "MPIX_Query_cuda_support", None)
        if query is not None:
            query.restype = ctypes.c_int
            return bool(query())
    return None


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
        "cuda_aware": _cuda_aware(MPI),
    }
