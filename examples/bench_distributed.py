"""Data-parallel throughput: 1 process against N processes under MPI, on mlp bench's configs.

    python examples/bench_distributed.py                      # mid and wide; 1x2, 1x1 and 2x1
    python examples/bench_distributed.py --configs wide --processes 4 --threads 1

For every config it runs, as separate jobs on the same random float32 data:

* 1 process with P x T BLAS threads (all the cores in one process),
* 1 process with T threads (the per-process baseline),
* P processes with T threads each (``mpiexec -n P``, ``fit(communicator=...)``),

and prints samples/s of training (epochs after one warm-up epoch; the slowest rank's time),
the BLAS threads per process, and the time each step spends in the gradient allreduce
(every rank's mean; it includes the shard-weight scaling and waiting for the slower rank).
Same global batch everywhere (the config's), so the processes compute the same steps.
Needs ``pip install mpi4py mpich threadpoolctl``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


class TimedCommunicator:
    """A communicator that times its gradient allreduces (everything else is passed through)."""

    def __init__(self, comm):
        self._comm, self.seconds, self.calls = comm, 0.0, 0

    def allreduce_sum(self, *args, **kwargs):
        start = time.perf_counter()
        out = self._comm.allreduce_sum(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def __getattr__(self, name):
        return getattr(self._comm, name)


def worker(args):
    """One rank (or the single process) of a measurement; prints one JSON line on rank 0."""
    from threadpoolctl import threadpool_limits

    import mlp
    from mlp.backends.comm import get_communicator
    from mlp.bench import CONFIGS

    comm = get_communicator(args.distributed)
    timed = TimedCommunicator(comm) if args.distributed else None
    cfg = CONFIGS[args.config]
    rng = np.random.default_rng(0)
    X = rng.random((args.samples, cfg["sizes"][0]), dtype=np.float32)
    y = rng.integers(0, cfg["sizes"][-1], size=args.samples)
    model = mlp.build_mlp(
        cfg["sizes"], activation=cfg["activation"], loss=cfg["loss"], init=cfg["init"], dtype="float32", seed=0
    )
    with threadpool_limits(limits=args.threads):
        opt = mlp.SGD(cfg["lr"])
        common = dict(
            loss=cfg["loss"],
            optimizer=opt,
            batch_size=cfg["batch"],
            progress=False,
            train_metrics=False,
            communicator=timed,
        )
        mlp.fit(model, X, y, epochs=1, **common)  # warm-up: allocations, first-touch, MPI connections
        if timed is not None:
            timed.seconds, timed.calls = 0.0, 0
        history = mlp.fit(model, X, y, epochs=1 + args.epochs, initial_epoch=1, **common)
    seconds = sum(history.history["seconds"])  # per epoch: the slowest rank's
    steps = args.epochs * -(-args.samples // cfg["batch"])
    allreduce = None
    if timed is not None:
        allreduce = float(comm.allreduce(timed.seconds)) / comm.size / steps  # mean over ranks, per step
    if comm.is_root:
        print(
            json.dumps(
                {
                    "config": args.config,
                    "processes": comm.size,
                    "threads": args.threads,
                    "samples_per_s": args.samples * args.epochs / seconds,
                    "step_ms": 1e3 * seconds / steps,
                    "allreduce_ms": None if allreduce is None else 1e3 * allreduce,
                }
            ),
            flush=True,
        )


def launch(config, processes, threads, args):
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads)
    )
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--config",
        config,
        "--threads",
        str(threads),
        "--samples",
        str(args.samples),
        "--epochs",
        str(args.epochs),
    ]
    if processes > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec) if mpiexec.exists() else "mpiexec", "-n", str(processes), *cmd, "--distributed"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise SystemExit(f"bench_distributed: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", default="mid,wide", help="comma-separated mlp bench configs (default mid,wide)")
    p.add_argument("--processes", type=int, default=2, help="MPI processes of the distributed run (default 2)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads per process of the distributed run (default 1)")
    p.add_argument("--samples", type=int, default=10_240, help="samples an epoch (default 10,240)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs after one warm-up epoch (default 2)")
    p.add_argument("--timeout", type=float, default=600, help="seconds any one run may take")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--distributed", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)

    from mlp.cli.distributed import info_lines

    P, T = args.processes, args.threads
    print(f"{os.cpu_count()} CPUs; {info_lines()[0]}")
    print(
        f"random float32 data, {args.samples:,} samples an epoch, {args.epochs} timed epochs after 1 warm-up; "
        f"the configs' own global batch"
    )
    print(
        f"{'config':7s} {'processes x BLAS threads':>25s} {'samples/s':>10s} {'ms/step':>8s} {'allreduce ms/step':>18s}"
    )
    rows = []
    for config in args.configs.split(","):
        for processes, threads in ((1, P * T), (1, T), (P, T)):
            row = launch(config, processes, threads, args)
            rows.append(row)
            ar = "-" if row["allreduce_ms"] is None else f"{row['allreduce_ms']:.2f}"
            print(
                f"{config:7s} {f'{processes} x {threads}':>25s} {row['samples_per_s']:10,.0f} "
                f"{row['step_ms']:8.2f} {ar:>18s}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
