"""The GPU parts of the communicators: gradients summed by NCCL on the devices, and whether MPI is CUDA-aware.

The MPI of the ``mpich`` wheel on PyPI is not CUDA-aware, so device arrays are staged through host
memory unless CuPy's NCCL can sum them on the devices: CuPy arrays and PyTorch CUDA tensors, by their
device pointers, with no host copy (see :mod:`mlp.backends.comm`).  The NCCL path is written and **untested**: no
GPU was available where it was written.
"""

from __future__ import annotations

import os


def nccl_communicator(comm, MPI, rank, size, device: int = 0):
    """An NCCL communicator over the ranks of the MPI ``comm`` on this rank's CUDA ``device``, or False when NCCL is
    not usable on every rank.

    A collective: every rank of ``comm`` must call it (rank 0 creates the NCCL id, MPI broadcasts it).  NCCL comes
    from CuPy (``cupy.cuda.nccl``), whichever library the arrays are of (CuPy or PyTorch).
    """
    # Every rank must take the same branch (a collective follows), so availability is agreed first.
    try:
        import cupy
        from cupy.cuda import nccl

        ok = nccl.available if hasattr(nccl, "available") else True
    except Exception:  # ImportError, or CuPy built without NCCL
        ok = False
    if not comm.allreduce(1 if ok else 0, op=MPI.MIN):
        return False
    uid = nccl.get_unique_id() if rank == 0 else None
    uid = comm.bcast(uid, root=0)
    with cupy.cuda.Device(device):  # NCCL binds the communicator to the current device
        return nccl.NcclCommunicator(size, uid, rank)


#: NCCL's type of each float dtype, by name (``float32`` for NumPy/CuPy's dtype and for ``torch.float32``)
_NCCL_TYPES = {
    "float16": "NCCL_FLOAT16",
    "float32": "NCCL_FLOAT32",
    "float64": "NCCL_FLOAT64",
    "bfloat16": "NCCL_BFLOAT16",
}


def nccl_allreduce_sum(communicator, memory):
    """Sum a CUDA array over the ranks in place with NCCL; None for a dtype NCCL does not sum.

    ``memory``: ``(array, pointer, stream pointer, device index)`` from ``Backend.device_memory``; the array (CuPy
    or PyTorch) is summed where it lies, on the stream its library queues work on, and returned.
    """
    import cupy
    from cupy.cuda import nccl

    array, pointer, stream, device = memory
    kind = getattr(nccl, _NCCL_TYPES.get(str(array.dtype).rsplit(".", 1)[-1], ""), None)
    if kind is None:
        return None
    n = array.size if isinstance(array.size, int) else array.numel()  # torch: size is a method
    with cupy.cuda.Device(device):
        # in place (send and receive the same pointer) is allowed by NCCL
        communicator.allReduce(pointer, pointer, n, kind, nccl.NCCL_SUM, stream)
    return array


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
