"""Stage 4 of the table pipeline, split: which rows train and which validate."""

from __future__ import annotations

import numpy as np

__all__ = ["split_indices"]


def split_indices(n: int, fraction: float, seed: int = 0, labels=None, source: str = "data"):
    """Row indices of a training and a validation part, shuffled with ``seed``.

    Parameters
    ----------
    n : int
        Number of rows.
    fraction : float
        Share of rows for validation, in (0, 1).
    seed : int
    labels : array of int, optional
        Class indices: the split is then stratified (each class keeps its share in both parts).
    source : str
        How messages name the data.

    Returns
    -------
    (train_idx, val_idx) : tuple of numpy.ndarray
        int64 indices, each sorted (rows keep their file order).
    """
    if not isinstance(fraction, (int, float)) or isinstance(fraction, bool) or not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation split must be a fraction in (0, 1), got {fraction!r}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
        n_val = int(round(n * fraction))
        val = order[:n_val]
    else:
        labels = np.asarray(labels)
        val_parts = []
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            rng.shuffle(rows)
            val_parts.append(rows[: int(round(len(rows) * fraction))])
        val = np.concatenate(val_parts)
    if len(val) == 0 or len(val) == n:
        raise ValueError(
            f"a validation split of {fraction:g} leaves {'no' if len(val) == 0 else 'every'} row of "
            f"the {n} rows of {source} for validation; choose another fraction"
        )
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
