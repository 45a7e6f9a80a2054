"""The MPI communicator: ``MPI.COMM_WORLD`` through mpi4py, and the hook that ends a job on an uncaught error.

See :mod:`mlp.backends.comm` for the failure model (why an error on one rank must abort every rank).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from contextlib import contextmanager

import numpy as np

from . import gpu
from .base import _OPS, Communicator

#: the tag of reduce_objects' messages (apart from any other point-to-point message)
_REDUCE_TAG = 0x6D6C70


def _host_vector(value) -> tuple[np.ndarray, bool]:
    """``value`` (a number, bool or 1-D sequence) as a fresh contiguous host array, and whether it was a scalar."""
    arr = np.array(value, copy=True)
    if arr.ndim > 1:
        raise ValueError(
            f"allreduce takes a scalar or a 1-D vector, got an array of shape {arr.shape}; "
            "use allreduce_sum for large buffers"
        )
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


class MPICommunicator(Communicator):
    """``MPI.COMM_WORLD`` through mpi4py (``pip install mpi4py mpich``).

    Build it with :func:`get_communicator` (``distributed=True``).  Creating it imports
    ``mpi4py.MPI`` (which initialises MPI) and, for a job of more than one process,
    installs an exception hook that aborts the job (see :mod:`mlp.backends.comm`).

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
            another backend is copied to the host, summed and copied back (CuPy arrays and
            PyTorch CUDA tensors with CuPy's NCCL: summed on the device, in place; written and
            untested).
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
            from .. import backend_of

            backend = backend_of(buffer)
        if scale is not None:
            buffer = buffer * scale  # on the device, before any transfer
        memory = backend.device_memory(buffer) if self._allow_nccl else None
        if memory is not None:  # CuPy, PyTorch on CUDA: summed on the devices, no host copy
            summed = self._nccl_allreduce(memory)
            if summed is not None:
                return summed
        # staged through the host: the MPI wheels are not CUDA-aware (see :mod:`mlp.backends.comm`).
        # A fresh copy, because to_numpy may return a read-only view (JAX) or the caller's memory (torch).
        host = np.array(backend.to_numpy(buffer), order="C", copy=True)
        self.comm.Allreduce(self._MPI.IN_PLACE, host, op=self._MPI.SUM)
        return backend.asarray(host)

    def _nccl_allreduce(self, memory):
        """Sum a CUDA array in place with NCCL (``memory`` from ``Backend.device_memory``); None when NCCL is not
        usable (then MPI is used, through the host).

        Written and untested (no GPU where it was written).  Each rank uses its own GPU: that of its local rank
        (``backends.device_for_rank``) unless ``MLP_DEVICE`` says otherwise.
        """
        if self._nccl is None:
            self._nccl = gpu.nccl_communicator(self.comm, self._MPI, self.rank, self.size, memory[3])
        if self._nccl is False:
            return None
        return gpu.nccl_allreduce_sum(self._nccl, memory)

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
            raise ValueError(
                f"broadcast from rank {root}: the root sends shape {shape} {dtype}, "
                f"but a rank holds a different shape or dtype"
            )
        if self.rank == root:
            out = array
        elif mine is not None and mine.flags.c_contiguous and mine.flags.writeable:
            out = mine
        else:
            out = np.empty(shape, dtype=dtype)
        self.comm.Bcast(out, root=root)
        return out

    def gather_objects(self, obj) -> list:
        """Every rank's ``obj`` in rank order, on every rank (mpi4py's pickled ``allgather``: values this job's
        own processes made, never a file's contents)."""
        return self.comm.allgather(obj)

    def reduce_objects(self, obj, merge):
        """``merge`` of every rank's ``obj`` on every rank: a binomial tree of pickled sends to rank 0 (rank ``r``
        merges in rank ``r + step``'s value at each doubling ``step``), then a broadcast."""
        step = 1
        while step < self.size:
            if self.rank % (2 * step):
                self.comm.send(obj, dest=self.rank - step, tag=_REDUCE_TAG)
                obj = None  # this rank's part is on its way up; it waits for the result
                break
            if self.rank + step < self.size:
                obj = merge(obj, self.comm.recv(source=self.rank + step, tag=_REDUCE_TAG))
            step *= 2
        return self.comm.bcast(obj, root=0)

    def broadcast_object(self, obj, root: int = 0):
        """Rank ``root``'s ``obj`` on every rank (mpi4py's pickled ``bcast``, between this job's own processes)."""
        return self.comm.bcast(obj, root=root)

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
