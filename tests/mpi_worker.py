"""One rank of a test job: ``mpiexec -n 2 python tests/mpi_worker.py CASE``.

Run by tests/train/test_distributed.py, never collected by pytest itself.  Each rank writes a
JSON record to ``$MLP_MPI_RESULTS/rank<r>.json`` that the test reads back and checks, so
the assertions live in the test and the worker only reports what the communicator returned.  The fault cases
end the job on purpose; the test checks that they end it (non-zero, within a timeout).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np


def report(comm, case, **values):
    """Write this rank's record to $MLP_MPI_RESULTS/rank<r>.json (the ranks' stdout lines may interleave)."""
    record = json.dumps({"case": case, "rank": comm.rank, "size": comm.size, **values})
    folder = os.environ.get("MLP_MPI_RESULTS")
    if folder is None:
        print(record, flush=True)
        return
    path = os.path.join(folder, f"rank{comm.rank}.json")
    with open(path + ".tmp", "w") as f:
        f.write(record)
    os.replace(path + ".tmp", path)


def case_collectives(comm):
    """Every correctness check in one job: one mpiexec start instead of four."""
    report(
        comm,
        "collectives",
        allreduce=check_allreduce(comm),
        scalars=check_scalars(comm),
        broadcast=check_broadcast(comm),
        info=check_info(comm),
    )


def check_allreduce(comm):
    out = {}
    for dtype in ("float32", "float64"):
        # integer-valued floats: the sum is exact in any order, so ranks can be compared bit for bit
        buf = (np.arange(1000, dtype=dtype) + 1) * (comm.rank + 1)
        res = comm.allreduce_sum(buf)
        out[dtype] = {
            "in_place": res is buf,
            "values": res[:5].tolist(),
            "last": float(res[-1]),
            "dtype": str(res.dtype),
        }
    # a non-contiguous and a read-only buffer: summed into a copy, the input left as it was
    base = np.ones(20) * (comm.rank + 1)
    strided = base[::2]
    res = comm.allreduce_sum(strided)
    out["strided"] = {"values": res.tolist(), "input_after": strided.tolist()}
    ro = np.full(4, float(comm.rank + 1))
    ro.flags.writeable = False
    res = comm.allreduce_sum(ro)
    out["readonly"] = {"values": res.tolist(), "input_after": ro.tolist()}
    return out


def case_backend(comm):
    """Arrays of other backends (named on the command line) are staged through the host and come back there."""
    from mlp import backends

    out = {}
    for name in sys.argv[2:]:
        be = backends.get_backend(name)
        x = be.asarray(np.arange(6, dtype=np.float64) * (comm.rank + 1))
        res = comm.allreduce_sum(x)  # the backend found from the array itself
        out[name] = {"owns": be.owns(res), "values": be.to_numpy(res).tolist(), "input_after": be.to_numpy(x).tolist()}
    report(comm, "backend", backend=out)


def case_reduce(comm):
    """reduce_objects: every rank's value merged in rank order, the same on every rank."""
    merged = comm.reduce_objects([comm.rank], lambda a, b: a + b)
    report(comm, "reduce", merged=merged)


def case_nccl(comm):
    """A CUDA array (stood for by host memory behind a pointer) is summed by NCCL in place, never copied to the
    host: CuPy's NCCL is a stand-in here that sums the memory at the pointer over MPI, as NCCL would on devices."""
    import ctypes
    import dataclasses
    import types

    from mpi4py import MPI

    from mlp import backends

    calls = {"devices": [], "streams": [], "types": [], "uids": []}

    class Device:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            calls["devices"].append(self.index)

        def __exit__(self, *exc):
            return False

    class Communicator:
        def __init__(self, size, uid, rank):
            calls["uids"].append(uid)

        def allReduce(self, send, recv, count, kind, op, stream):
            assert send == recv and op == "sum"
            calls["streams"].append(stream)
            calls["types"].append(kind)
            c_type = {"f32": ctypes.c_float, "f64": ctypes.c_double}[kind]
            memory = np.ctypeslib.as_array(ctypes.cast(recv, ctypes.POINTER(c_type)), (count,))
            MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, memory, op=MPI.SUM)

    nccl = types.SimpleNamespace(
        available=True,
        get_unique_id=lambda: "id-of-rank-0",
        NcclCommunicator=Communicator,
        NCCL_FLOAT32="f32",
        NCCL_FLOAT64="f64",
        NCCL_FLOAT16="f16",
        NCCL_SUM="sum",
    )
    cuda = types.SimpleNamespace(Device=Device, nccl=nccl)
    sys.modules.update({"cupy": types.SimpleNamespace(cuda=cuda), "cupy.cuda": cuda, "cupy.cuda.nccl": nccl})

    class OnDevice:  # an array in "device" memory: what Backend.device_memory hands to NCCL
        def __init__(self, values):
            self.memory, self.dtype, self.size = values, values.dtype, values.size

    def no_host_copy(x):
        raise AssertionError("a CUDA array was copied to the host")

    device = 3 + comm.rank  # each rank's own GPU
    be = dataclasses.replace(
        backends.get_backend("numpy"),
        _to_numpy=no_host_copy,
        _device_memory=lambda x: (x, x.memory.ctypes.data, 1000 + comm.rank, device),
    )
    out = {}
    for dtype in ("float32", "float64"):
        x = OnDevice(np.arange(5, dtype=dtype) * (comm.rank + 1))
        res = comm.allreduce_sum(x, backend=be)
        out[dtype] = {"same": res is x, "values": res.memory.tolist()}
    report(comm, "nccl", sums=out, **calls)


def check_scalars(comm):
    r = comm.rank
    return dict(
        sum=comm.allreduce(r + 1),
        max=comm.allreduce(float(r), op="max"),
        min=comm.allreduce(r * 2.5, op="min"),
        vector=comm.allreduce([1.0, r, 10 * r]).tolist(),
        flag_one=comm.any(r == comm.size - 1),
        flag_none=comm.any(False),
        bool_sum=comm.allreduce(True),
    )


def check_broadcast(comm):
    root = comm.size - 1
    mine = np.arange(12, dtype=np.float32).reshape(3, 4) * (comm.rank + 1)
    got = comm.broadcast(mine if comm.rank == root else None, root=root)
    filled = np.zeros((3, 4), dtype=np.float32)
    got2 = comm.broadcast(mine if comm.rank == root else filled, root=root)
    try:
        comm.broadcast(mine if comm.rank == root else np.zeros(5), root=root)
        refused = None
    except ValueError as e:
        refused = str(e)
    return dict(
        values=got.tolist(),
        dtype=str(got.dtype),
        filled_in_place=got2 is filled or comm.rank == root,
        filled=got2.tolist(),
        refused=refused,
    )


def check_info(comm):
    from mlp.backends import comm as comm_module

    return dict({k: v for k, v in comm_module.info().items() if k != "library_version"}, local_rank=comm.local_rank)


def case_single(_comm):
    """Run without mpiexec: ``get_communicator(True)`` is a one-rank world."""
    from mlp.backends.comm import MPICommunicator, get_communicator

    comm = get_communicator(True)
    buf = np.arange(3.0)
    res = comm.allreduce_sum(buf)
    report(
        comm, "single", mpi=isinstance(comm, MPICommunicator), same=res is buf, values=res.tolist(), any=comm.any(True)
    )


# -- data-parallel training ----------------------------------------------------------------
def parity_setup(optimizer, dtype, n, dropout=0.0):
    """The model, optimizer and data of the parity test (the test builds the same for its one-process run)."""
    import mlp

    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 12))
    y = rng.integers(0, 3, size=n)
    model = mlp.build_mlp([12, 16, 3], activation="tanh", dtype=dtype, seed=3, dropout=dropout)
    opt = mlp.SGD(0.1, momentum=0.9) if optimizer == "sgd" else mlp.Adam(0.01)
    return model, opt, X, y


#: (optimizer, dtype, samples, global batch, epochs, dropout) of the parity runs: 101 samples in batches of 10
#: end with a batch of 1 (rank 1's shard is empty), in batches of 7 with shards of 4 and 3 and a last batch of 3;
#: with dropout, each shard keeps its rows of the global batch's mask
#: weighted: sample weights (some zero), so that each rank's share of a step is its share of the weight sum
PARITY = [
    ("sgd", "float64", 101, 10, 2, 0.0),
    ("adam", "float64", 101, 7, 2, 0.0),
    ("sgd", "float32", 101, 7, 2, 0.0),
    ("adam", "float32", 101, 10, 2, 0.0),
    ("sgd", "float64", 101, 7, 2, 0.3),
    ("adam", "float32", 101, 10, 2, 0.3),
    ("sgd", "float64", 101, 7, 2, "weighted"),
]


def parity_key(optimizer, dtype, dropout):
    return f"{optimizer}-{dtype}" + (f"-dropout{dropout}" if dropout else "")


def parity_weights(n):
    """Weights 0, 0.5, 1, ..., 3 in turn: zero-weight rows and uneven shards of the weight sum."""
    return (np.arange(n) % 7) * 0.5


def parity_fit(model, opt, X, y, batch, epochs, communicator=None, weighted=False):
    import mlp

    w = parity_weights(len(X)) if weighted else None
    val = (X[:17], y[:17]) if not weighted else (X[:17], y[:17], w[:17])
    return mlp.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=epochs,
        batch_size=batch,
        validation_data=val,
        seed=5,
        progress=False,
        communicator=communicator,
        sample_weight=w,
    )


def case_fit(comm):
    """``fit`` with the communicator for every PARITY setting; each rank reports parameters and history."""
    import mlp

    runs = {}
    for optimizer, dtype, n, batch, epochs, dropout in PARITY:
        weighted, dropout = dropout == "weighted", (0.0 if dropout == "weighted" else dropout)
        model, opt, X, y = parity_setup(optimizer, dtype, n, dropout)
        if comm.rank != 0:  # other ranks start from other weights: the broadcast must make rank 0's everyone's
            model = mlp.build_mlp([12, 16, 3], activation="tanh", dtype=dtype, seed=99, dropout=dropout)
        history = parity_fit(model, opt, X, y, batch, epochs, comm, weighted)
        dropout = "weighted" if weighted else dropout
        runs[parity_key(optimizer, dtype, dropout)] = {
            "params": {k: np.asarray(v, dtype=np.float64).ravel().tolist() for k, v in model.state_dict().items()},
            "history": {k: list(map(float, v)) for k, v in history.history.items() if k != "seconds"},
            "t": opt.t,
        }
    report(comm, "fit", runs=runs)


def case_diverge(comm):
    """One sample, seen by one rank only, makes its loss overflow: every rank must stop at the same step."""
    import mlp

    model, opt, X, y = parity_setup("sgd", "float64", 101)
    model = mlp.build_mlp([12, 16, 3], activation="relu", dtype="float64", seed=3)
    X[int(sys.argv[2])] = 1e308  # finite, but its products overflow: that row's loss is not a number
    try:
        mlp.fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=opt,
            epochs=1,
            batch_size=10,
            seed=5,
            progress=False,
            shuffle=False,
            communicator=comm,
        )
        message = None
    except mlp.DivergenceError as e:
        message = str(e)
    finite = bool(all(np.isfinite(v).all() for v in model.state_dict().values()))
    report(
        comm,
        "diverge",
        message=message,
        finite=finite,
        params={k: np.asarray(v, dtype=np.float64).ravel().tolist() for k, v in model.state_dict().items()},
    )


def case_disagree(comm):
    """Rank 1 holds one sample fewer: every rank must refuse to start, none may wait for the others."""
    import mlp

    model, opt, X, y = parity_setup("sgd", "float64", 101)
    n = 101 - comm.rank
    try:
        mlp.fit(
            model,
            X[:n],
            y[:n],
            loss="cross_entropy",
            optimizer=opt,
            epochs=1,
            batch_size=10,
            progress=False,
            communicator=comm,
        )
        message = None
    except ValueError as e:
        message = str(e)
    report(comm, "disagree", message=message)


# -- faults: each ends the job; rank 0 waits in an allreduce that rank 1 never joins ---------
def _rank0_waits(comm):
    comm.allreduce_sum(np.ones(10))
    print("rank 0 passed the allreduce: the job was not ended", flush=True)


def case_raise(comm):
    if comm.rank == 1:
        time.sleep(0.3)
        raise RuntimeError("boom from rank 1")
    _rank0_waits(comm)


def case_exit(comm):
    with comm.fatal_errors():
        if comm.rank == 1:
            time.sleep(0.3)
            sys.exit(3)
        _rank0_waits(comm)


def case_caught(comm):
    """An error caught by a CLI-like wrapper must still end the job, through fatal_errors."""
    with comm.fatal_errors():
        if comm.rank == 1:
            time.sleep(0.3)
            raise ValueError("bad value on rank 1")
        _rank0_waits(comm)


def case_kill(comm):
    if comm.rank == 1:
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    _rank0_waits(comm)


def case_abort(comm):
    if comm.rank == 1:
        time.sleep(0.3)
        comm.abort("giving up on purpose", 5)
    _rank0_waits(comm)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    case = sys.argv[1]
    from mlp.backends.comm import get_communicator

    if case == "single":
        return case_single(None)
    comm = get_communicator(True)
    CASES[case](comm)
    return 0


if __name__ == "__main__":
    sys.exit(main())
