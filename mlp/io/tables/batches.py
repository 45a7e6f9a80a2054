"""Stage 6 of the table pipeline, batches: the model's inputs, made block by block from parsed columns.

The preprocessing (:mod:`mlp.io.tables.preprocessing`) says what each column becomes; this stage makes it, a
block of :data:`BLOCK_ROWS` rows at a time, in the model's dtype: the numbers filled and standardised, a
categorical column's slot number (which the model's :class:`mlp.OneHot` or :class:`mlp.Embedding` reads a batch
at a time), date parts.  Training takes the whole array (:func:`model_inputs`: allocated once, filled block by
block); ``mlp predict`` and ``mlp evaluate`` run the network on each block as it is made (:func:`input_blocks`).
"""

from __future__ import annotations

import numpy as np

from .values import check_cast

__all__ = ["BLOCK_ROWS", "BOUND", "input_blocks", "model_inputs", "smooth_clip"]

#: the rows encoded at a time (a block of 40 inputs is 2.6 MB of float64 while it is made: it stays in cache)
BLOCK_ROWS = 1 << 13


def input_blocks(
    pre, parsed, n, dtype="float32", rows=None, row_numbers=None, source="data", block_rows=None, out=None
):
    """``(start, inputs)`` for rows ``rows`` (indices; default ``0..n-1``) of the columns ``parsed`` (see
    :meth:`Preprocessor.parse`), block by block: ``inputs`` the model's inputs ``(rows in the block,
    n_inputs)`` in ``dtype``, encoded and standardised by the preprocessor ``pre``.

    A value too large for ``dtype`` once standardised is refused, naming ``source``, the row and the input:
    the row of the table, or ``row_numbers[i]`` (0-based) for its row ``i`` (the file's rows, when some were
    left out).  ``block_rows``: the rows of a block (default :data:`BLOCK_ROWS`); ``out``: an array of all the rows'
    inputs to fill, whose rows the blocks are (views, written in place).
    """
    block_rows = block_rows or BLOCK_ROWS
    widths = [c.width for c in pre.columns]
    names = [n for c in pre.columns for n in c.input_names()]
    width, total = sum(widths), (len(rows) if rows is not None else n)
    mean = None if pre.mean is None else pre.mean[:, None]
    scale = None if pre.scale is None else pre.scale[:, None]
    inverse_clip = pre.inverse_clip()
    if inverse_clip is not None:
        inverse_clip = inverse_clip[:, None]
    for a in range(0, total, block_rows):
        b = min(a + block_rows, total)
        at = slice(a, b) if rows is None else rows[a:b]
        numbers = np.arange(a, b) if rows is None else rows[a:b]
        if row_numbers is not None:
            numbers = np.asarray(row_numbers)[numbers]

        def where(i, numbers=numbers):
            return f"{source}, row {int(numbers[i]) + 1}"

        # each column's inputs are written as rows of a column-major block, standardised and checked at once, then
        # transposed into the row-major inputs: writing a column of a row-major block would touch every row's line
        T = np.empty((width, b - a))
        j = 0
        for c, p, w in zip(pre.columns, parsed, widths, strict=True):
            T[j : j + w] = c.encode(p, at, where).T
            j += w
        if mean is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                T -= mean
                T /= scale
                if inverse_clip is not None:
                    smooth_clip(T, inverse_clip)
        check_cast(T.T, names, dtype, source, rows=numbers)  # codes are small whole numbers: they pass
        block = np.empty((b - a, width), dtype=dtype) if out is None else out[a:b]
        block[...] = T.T
        yield a, block


#: scaled inputs are first held within +-BOUND, so that squaring them in :func:`smooth_clip` cannot overflow (to
#: ``x / inf = 0``) even in float32: a value of 1e300 still arrives at ``+clip``
BOUND = 1e15


def smooth_clip(T: np.ndarray, inverse_clip: np.ndarray) -> np.ndarray:
    """``T / sqrt(1 + (T * inverse_clip)**2)`` in place, ``T`` first held within +-:data:`BOUND` (``inverse_clip``:
    ``1 / clip`` per row of ``T``, broadcast; 0 leaves a row as it is): near ``x`` for small values, levelling off at
    ``+-clip``."""
    np.clip(T, -BOUND, BOUND, out=T)
    u = T * inverse_clip
    u *= u
    u += 1.0
    np.sqrt(u, out=u)
    T /= u
    return T


def model_inputs(pre, parsed, n, dtype="float32", rows=None, row_numbers=None, source="data") -> np.ndarray:
    """The model's inputs of rows ``rows`` (default all ``n``) as one array ``(rows, n_inputs)`` in ``dtype``,
    allocated once and filled block by block (see :func:`input_blocks`)."""
    out = np.empty((n if rows is None else len(rows), pre.n_inputs()), dtype=dtype)
    for _ in input_blocks(pre, parsed, n, dtype, rows, row_numbers, source, out=out):
        pass
    return out
