"""The order a streamed table is trained in: windows of chunks, the same batches for any number of processes.

A streamed table's training rows lie in *groups* (the row groups of its Parquet files, the blocks of its CSV),
each cut into *chunks* of at most :data:`CHUNK_ROWS` rows.  The chunks, numbered through the table, are dealt to
``V`` *virtual shards* (``V`` = :data:`SHARDS`): chunk ``c`` to shard ``c mod V``.  With N processes (any N)
process ``r`` holds the groups ``g`` with ``g mod N == r`` (Petastorm's rule) and so the chunks cut from them;
which process holds a chunk never changes the order below.  (A table of fewer groups than processes leaves some
processes without rows: they still take part in every step, with nothing to add.)

An epoch of seed ``s`` goes window after window.  Within each shard the chunks are put in the order of a permutation
drawn from ``(s, epoch, shard)``; window ``k`` holds the ``k``-th chunk of every shard that has one, shard after
shard, and its rows are permuted with ``(s, epoch, 2**31 - 1, k)`` (the constant keeps this key apart from the
shards').  Step after step a batch takes the next ``batch_size``
positions of that permutation (the window's last batch may be shorter), sorted.  Memory is a window (at most
``V * CHUNK_ROWS`` rows, a process holding its share of them), never the table.

Everything in the order depends on the seed, the epoch and the layout of the table, not on the number of
processes: a process trains, at each step, on the rows of the global batch that are in its chunks, weighted by
their share of the batch, and the summed gradients are the one-process batch's (up to rounding).  Every row is in
exactly one batch an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_ROWS", "SHARDS", "Window", "WindowPlan"]

#: virtual shards: a window mixes one chunk of each
SHARDS = 16
#: rows of a chunk (a window holds one chunk of each shard: at most 131,072 rows)
CHUNK_ROWS = 1 << 13


@dataclass
class Window:
    """One window of an epoch: its steps (``first_step`` on, ``n_steps`` of them), the chunks this process holds
    (``(group, first row in the group, rows)``, in the window's order), and per step the rows this process takes.

    ``order``: the positions of this process's rows in its window data (the chunks read one after another) in the
    order the steps take them; ``bounds[s]``: step ``first_step + s`` takes ``order[bounds[s]:bounds[s + 1]]``;
    ``places[s]``: where those rows stand in the step's global batch (sorted positions), and ``sizes[s]`` its rows.
    """

    first_step: int
    n_steps: int
    chunks: list[tuple[int, int, int]]
    order: np.ndarray
    bounds: np.ndarray
    places: list[np.ndarray]
    sizes: np.ndarray


class WindowPlan:
    """The windows of each epoch of a streamed table (see the module docstring).

    Parameters
    ----------
    group_rows : list of int
        The training rows of every group of the table, in group order (of every process).
    batch_size, seed : int
    rank, size : int
        This process and the number of processes (any: the order does not depend on it).
    shards, chunk_rows : int, optional
        Default :data:`SHARDS` and :data:`CHUNK_ROWS`.
    """

    def __init__(
        self,
        group_rows: Sequence[int],
        batch_size: int,
        seed: int,
        rank: int = 0,
        size: int = 1,
        shards: int | None = None,
        chunk_rows: int | None = None,
    ) -> None:
        shards, chunk_rows = shards or SHARDS, chunk_rows or CHUNK_ROWS
        self.batch_size, self.seed, self.rank, self.size = batch_size, seed, rank, size
        self.shards = shards
        self.by_shard: list[list[tuple[int, int, int]]] = [
            [] for _ in range(shards)
        ]  # per shard: its chunks (group, first row, rows), in order
        c = 0  # chunks are dealt to the shards in turn: a table of one large group still fills every shard
        for g, rows in enumerate(group_rows):
            for a in range(0, rows, chunk_rows):
                self.by_shard[c % shards].append((g, a, min(chunk_rows, rows - a)))
                c += 1
        self.n = int(sum(group_rows))

    def mine(self, group: int) -> bool:
        return group % self.size == self.rank

    def _windows(self, epoch: int) -> Iterator[list[tuple[int, int, int]]]:
        """Per window, its chunks in order (every process's)."""
        orders = [
            [chunks[i] for i in np.random.default_rng((self.seed, epoch, v)).permutation(len(chunks))]
            for v, chunks in enumerate(self.by_shard)
        ]
        for k in range(max((len(o) for o in orders), default=0)):
            yield [o[k] for o in orders if k < len(o)]

    def n_steps(self, epoch: int) -> int:
        """Steps in ``epoch``: each window's rows in batches, its last batch possibly shorter."""
        return sum(-(-sum(c[2] for c in chunks) // self.batch_size) for chunks in self._windows(epoch))

    def epoch(self, epoch: int, first_step: int = 0) -> Iterator[Window]:
        """The windows of ``epoch`` from the one holding step ``first_step`` on (see :class:`Window`)."""
        b, step = self.batch_size, 0
        for k, chunks in enumerate(self._windows(epoch)):
            rows = np.array([c[2] for c in chunks], dtype=np.int64)
            total = int(rows.sum())
            n_steps = -(-total // b)
            if step + n_steps <= first_step:
                step += n_steps
                continue
            perm = np.random.default_rng((self.seed, epoch, 2_147_483_647, k)).permutation(total)
            own = np.repeat(np.array([self.mine(c[0]) for c in chunks]), rows)
            local = np.cumsum(own) - 1  # a window position -> its place in this process's window data
            order, bounds, places, sizes = [], [0], [], []
            for s in range(n_steps):
                batch = np.sort(perm[s * b : (s + 1) * b])
                taken = own[batch]
                order.append(local[batch[taken]])
                bounds.append(bounds[-1] + int(taken.sum()))
                places.append(np.flatnonzero(taken))
                sizes.append(len(batch))
            yield Window(
                step,
                n_steps,
                [c for c in chunks if self.mine(c[0])],
                np.concatenate(order) if order else np.zeros(0, dtype=np.int64),
                np.asarray(bounds, dtype=np.int64),
                places,
                np.asarray(sizes, dtype=np.int64),
            )
            step += n_steps
