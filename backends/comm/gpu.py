"""The GPU parts of the communicators: gradients summed by NCCL on the devices, and whether MPI is CUDA-aware.

The MPI of the ``mpich`` wheel on PyPI is not CUDA-aware, so device arrays are staged through host
memory unless CuPy's NCCL can sum them on the devices (see :mod:`mlp.backends.comm`).  The NCCL path
is written and **untested**: no GPU was available where it was written.
"""
from __future__ import annotations

import os

import numpy as np


def nccl_communicator(comm, MPI, rank, size):
    """An NCCL communicator over the ranks of the MPI ``comm``, or False when NCCL is not usable on every rank.

    A collective: every rank of ``comm`` must call it (rank 0 creates the NCCL id, MPI broadcasts it).
    """
    # Every rank must take the same branch (a collective follows), so availability is agreed first.
    try:
        from cupy.cuda import nccl

        ok = nccl.available if hasattr(nccl, "available") else True
    except Exception:  # ImportError, or CuPy built without NCCL
        ok = False
    if not comm.allreduce(1 if ok else 0, op=MPI.MIN):
        return False
    uid = nccl.get_unique_id() if rank == 0 else None
    uid = comm.bcast(uid, root=0)
    return nccl.NcclCommunicator(size, uid, rank)


def nccl_allreduce_sum(communicator, buffer):
    """Sum the CuPy array ``buffer`` over the ranks in place with NCCL; None for a dtype other than float16/32/64."""
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
    communicator.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, kind, nccl.NCCL_SUM, stream.ptr)
    return buffer


def cuda_aware(MPI) -> bool | None:
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
