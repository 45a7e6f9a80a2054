"""The command line's side of ``--distributed``: a command given its communicator and one-job error handling
(:func:`command`), what ``mlp info`` says of MPI (:func:`info_lines`), and the refusal of processes started with
different options (:func:`same_settings`).  Training over the processes is :mod:`mlp.train.distributed`'s."""

from __future__ import annotations

import json

__all__ = ["command", "communicator_of", "info_lines", "same_settings"]


def command(cmd):
    """Wrap a CLI command so that ``--distributed`` gives it ``args.communicator`` and one-job error handling.

    Without ``--distributed`` the command gets the free single-process communicator.  With it,
    the command runs inside :meth:`backends.comm.MPICommunicator.fatal_errors`: an error on any
    rank ends every rank with a one-line message, never a hang.
    """

    def run(args):
        from mlp.backends.comm import get_communicator

        comm = get_communicator(bool(getattr(args, "distributed", False)))
        args.communicator = comm
        with comm.fatal_errors(debug=bool(getattr(args, "debug", False))):
            return cmd(args)

    run.__name__ = getattr(cmd, "__name__", "command")
    run.__doc__ = cmd.__doc__
    return run


def communicator_of(args):
    """The communicator a CLI command was given by :func:`command` (one process when none)."""
    comm = getattr(args, "communicator", None)
    if comm is None:
        from mlp.backends.comm import get_communicator

        comm = get_communicator(False)
    return comm


def info_lines() -> list[str]:
    """What ``mlp info`` prints about MPI: the library, the world size, whether it is CUDA-aware."""
    from mlp.backends.comm import info

    mpi = info()
    if not mpi["available"]:
        return [f"MPI: unavailable ({mpi['reason']})"]
    aware = {True: "yes", False: "no (GPU arrays are staged through host memory, or summed by NCCL)", None: "unknown"}[
        mpi["cuda_aware"]
    ]
    return [f"MPI: {mpi['library']} (mpi4py {mpi['mpi4py']}), world size {mpi['world_size']}, CUDA-aware: {aware}"]


def same_settings(comm, settings: dict):
    """Refuse, on every process alike, settings (a JSON-able dict) that differ between the processes of ``comm``,
    naming each that differs and its values: every process of a job must run the same command."""
    if comm is None or comm.size == 1:
        return
    texts = comm.gather_objects(json.dumps(settings, sort_keys=True, default=str))
    if len(set(texts)) == 1:
        return
    parsed = [json.loads(t) for t in texts]
    keys = sorted(set().union(*parsed))
    differ = []
    for k in keys:
        values = [json.dumps(p.get(k), sort_keys=True) for p in parsed]
        if len(set(values)) > 1:
            differ.append(f"{k} ({' / '.join(f'rank {r}: {v}' for r, v in enumerate(values))})")
    raise ValueError(
        f"the {comm.size} processes were given different settings: {'; '.join(differ)}; every process "
        "must run the same command"
    )
