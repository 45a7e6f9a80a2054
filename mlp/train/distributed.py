"""Synchronous data parallelism: N processes train one model as one process would.

Start N copies of the same program under ``mpiexec -n N`` (or ``srun``) and pass
``communicator=backends.comm.get_communicator(True)`` to :func:`mlp.fit` (on the command
line: ``mlp train --distributed``).  Then, in every process (every *rank*):

* rank 0's initial parameters and optimizer state are broadcast to all, after a check that
  every rank trains on the same number of samples with the same batch size, epochs, seed
  and step count (anything else would make the ranks take different numbers of steps);
* every epoch, every rank draws the same ``(seed, epoch)`` permutation and, of each global
  mini-batch of ``batch_size`` rows, takes its own contiguous shard (sizes differ by at most
  one row; a rank whose shard of a short last batch is empty computes on one row with
  weight 0);
* after backward, one allreduce sums the gradients weighted by ``shard / batch``, so the
  result is the gradient of the global batch's mean loss, exactly as one process computes it
  (up to rounding), uneven last batch included; the loss is summed the same way;
* the same optimizer update runs everywhere, so the parameters stay identical;
* epoch metrics are computed on shards of the data and reduced (classification; regression
  metrics are measured on the whole set by every rank, as R2 does not add up over shards);
* Ctrl-C and divergence are decided together: the Ctrl-C flag is reduced at every host
  read, and the reduced loss is NaN on every rank when it is on one, so all ranks stop at
  the same step;
* only rank 0 shows progress and runs the callbacks that write files (:class:`ModelCheckpoint`
  or any callback with ``root_only = True``).

This module holds the pieces (the gradient hook, the shard slicer, the start, the sharded metrics);
:class:`mlp.train.strategy.DataParallel` is the strategy ``fit`` runs them through.  The communicator
(``backends.comm``) owns MPI, NCCL and the failure model.
"""

from __future__ import annotations

import math
import time

import numpy as np

from mlp.core.layers import StepContext

from . import metrics
from .batches import batch_bounds

__all__ = [
    "GradientAllreduce",
    "ShardSlicer",
    "agree_and_broadcast",
    "load_checkpoint_shared",
    "measure_shards",
    "shard_bounds",
]

#: gradient arrays at least this long are summed on their own (in place where the backend allows);
#: the smaller ones and the loss travel together in one buffer, to pay the latency of one message
LARGE = 1 << 16


def shard_bounds(i: int, j: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[a, b)`` of the global rows ``[i, j)`` that rank ``rank`` of ``size`` takes.

    Contiguous shards whose sizes differ by at most one, the larger ones first (as
    ``numpy.array_split``).  Every rank computes every rank's bounds the same way, so no
    message is needed to agree on them.
    """
    n = j - i
    q, r = divmod(n, size)
    a = i + rank * q + min(rank, r)
    return a, a + q + (1 if rank < r else 0)


class GradientAllreduce:
    """The ``reduce`` hook of :func:`mlp.core.step.make_step` that makes a step data-parallel.

    ``weight`` (this rank's shard size over the global batch size) is set by the runner
    before each step; the hook returns the weighted sums of every rank's gradients and losses.
    """

    def __init__(self, comm, model):
        self.comm, self.backend, self.xp = comm, model.backend, model.xp
        self.weight = 1.0
        #: seconds spent in this hook (the allreduces, the device-to-host copies of staged backends)
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, grads, loss, n_local):
        start = time.perf_counter()
        xp, comm, w = self.xp, self.comm, self.weight
        out = list(grads)
        small = []
        for k, g in enumerate(grads):
            if math.prod(g.shape) >= LARGE:
                out[k] = comm.allreduce_sum(g, self.backend, scale=w)
            else:
                small.append(k)
        # the small gradients and the loss in one message: one latency instead of several
        loss = xp.reshape(xp.asarray(loss), (1,))
        if small and loss.dtype != grads[small[0]].dtype:  # a concat must not promote the gradients
            loss = xp.astype(loss, grads[small[0]].dtype)
        parts = [xp.reshape(grads[k], (-1,)) for k in small] + [loss]
        packed = comm.allreduce_sum(xp.concat(parts) if len(parts) > 1 else parts[0], self.backend, scale=w)
        offset = 0
        for k in small:
            size = math.prod(grads[k].shape)
            out[k] = xp.reshape(packed[offset : offset + size], grads[k].shape)
            offset += size
        loss = packed[offset]
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return tuple(out), loss


class ShardSlicer:
    """The batch slicer (see :mod:`mlp.train.runner`) that gives each rank its shard of each global batch.

    It also sets the gradient hook's weight (this shard's share of the global batch) and hands random
    layers the global batch's rows, so that dropout draws the same numbers as one process would.
    """

    def __init__(self, comm, hook, batch_size, n, seed, weighted=False):
        self.comm, self.hook, self.batch_size, self.n, self.seed = comm, hook, batch_size, n, seed
        self.weighted = weighted
        self._weights, self._weights_epoch = None, None

    def __call__(self, Xe, Te, epoch, s):
        i, j = batch_bounds(s, self.batch_size, self.n)
        a, b = shard_bounds(i, j, self.comm.rank, self.comm.size)
        if self.weighted:  # the share of the global batch's weight sum, not of its rows
            if self._weights_epoch != epoch:  # one host copy of the epoch's weights, not two reads per step
                self._weights = np.asarray(self.hook.backend.to_numpy(Te[:, -1]), dtype=np.float64)
                self._weights_epoch = epoch
            w = self._weights
            total = float(w[i:j].sum())
            self.hook.weight = float(w[a:b].sum()) / total if total > 0 and b > a else 0.0
        else:
            self.hook.weight = (b - a) / (j - i)
        rows = (a - i, j - i)
        if a == b:  # an empty shard of a short last batch: one real row, weighted 0, keeps shapes valid
            a, b = i, i + 1
            rows = (a - i, j - i)
        # random layers (dropout) draw the global batch's numbers and keep this shard's rows
        return Xe[a:b, ...], Te[a:b, ...], StepContext(True, self.seed, epoch, s, rows=rows)


def agree_and_broadcast(comm, model, optimizer, **settings):
    """Before the first step: check that every rank agrees on ``settings`` (ints) and on the optimizer's step
    count, then broadcast rank 0's parameters and optimizer state to every rank.

    Raises
    ------
    ValueError
        On every rank alike: the ranks disagree (each setting named, with its lowest and highest value).
    """
    names = sorted(settings)
    mine = np.array([int(settings[k]) for k in names] + [int(optimizer.t)], dtype=np.int64)
    low, high = comm.allreduce(mine, op="min"), comm.allreduce(mine, op="max")
    differ = [
        f"{k} (from {lo} to {hi})" for k, lo, hi in zip(names + ["optimizer step"], low, high, strict=True) if lo != hi
    ]
    if differ:
        raise ValueError(
            f"the {comm.size} processes disagree on {', '.join(differ)}; every process must "
            "load the same data and settings"
        )
    be = model.backend
    groups = tuple(be.asarray(comm.broadcast(np.array(be.to_numpy(g), copy=True))) for g in model.param_groups())
    model.set_param_groups(groups)
    state = tuple(
        tuple(be.asarray(comm.broadcast(np.array(be.to_numpy(a), copy=True))) for a in s)
        for s in optimizer.state_groups(model)
    )
    optimizer.set_state_groups(model, state)


def measure_shards(comm, state, data) -> dict:
    """The metrics of ``data`` (:class:`mlp.train.batches.Data`), each rank measuring its shard and the sums reduced:
    the same on every rank.  Regression is measured on the whole set by every rank (R2 is no sum over shards)."""
    Xd, Td, labels, w = data
    n = Xd.shape[0]
    if state.task == "regression":
        return metrics.measure(state.model, state.loss, Xd, Td, labels, w, task=state.task)
    a, b = shard_bounds(0, n, comm.rank, comm.size)
    weight = float(b - a)
    if b > a and w is not None:
        weight = float(state.model.backend.to_numpy(state.model.xp.sum(w[a:b])))
    if b > a and weight > 0:
        part = metrics.measure(
            state.model,
            state.loss,
            Xd[a:b, ...],
            Td[a:b, ...],
            labels[a:b],
            None if w is None else w[a:b],
            task=state.task,
        )
        local = [part["loss"] * weight, part["accuracy"] * weight, weight]
    else:
        local = [0.0, 0.0, 0.0]
    loss_sum, correct, total = comm.allreduce(np.array(local, dtype=np.float64))
    # counts are whole numbers of rows without weights: round away the float error of the shares
    correct = round(correct) if w is None else correct
    return {"loss": float(loss_sum / total), "accuracy": float(correct / total)}


def load_checkpoint_shared(path, backend=None, comm=None):
    """:func:`mlp.io.checkpoint.load_checkpoint` of ``path`` read by rank 0 alone (once: a named pipe works) and
    handed to every process as bytes: the checkpoint of a multi-host run need only be where rank 0 runs.  An
    error reading it (no such file, not a checkpoint) is raised by every process alike."""
    from mlp.io.checkpoint import load_checkpoint, read_checkpoint_bytes

    if comm is None or comm.size == 1:
        return load_checkpoint(path, backend=backend)
    data, error, ckpt = None, None, None
    if comm.is_root:
        try:
            raw = read_checkpoint_bytes(path)
            ckpt = load_checkpoint(path, backend=backend, data=raw)  # checked where it is, before it travels
            data = np.frombuffer(raw, dtype=np.uint8)
        except Exception as e:  # noqa: BLE001 - said by every process below
            error = (type(e).__name__, str(e))
    error = comm.broadcast_object(error)
    if error is not None:
        from mlp.core.errors import CheckpointError
        from mlp.io.checkpoint import CheckpointNotFoundError

        kinds = {"CheckpointNotFoundError": CheckpointNotFoundError, "CheckpointError": CheckpointError}
        raise kinds.get(error[0], ValueError)(error[1])
    size = comm.broadcast_object(None if data is None else len(data))
    data = comm.broadcast(data if comm.is_root else np.empty(size, dtype=np.uint8))
    if comm.is_root:
        return ckpt
    return load_checkpoint(path, backend=backend, data=data.tobytes())
