"""Argument checks shared by every module: one helper per kind of value, one message each."""

from __future__ import annotations

import math

import numpy as np


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def positive_int(name: str, value, owner: str = "") -> int:
    """``value`` as an int >= 1, or a ValueError naming ``owner: name`` and the value."""
    if not _is_int(value) or value < 1:
        raise ValueError(f"{_who(owner, name)} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(name: str, value, owner: str = "") -> int:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{_who(owner, name)} must be a non-negative integer, got {value!r}")
    return int(value)


def positive(name: str, value, owner: str = "") -> float:
    """A finite number > 0."""
    if not _is_number(value) or not 0 < value < math.inf:
        raise ValueError(f"{_who(owner, name)} must be a positive number (finite), got {value!r}")
    return float(value)


def non_negative(name: str, value, owner: str = "") -> float:
    """A finite number >= 0."""
    if not _is_number(value) or not 0 <= value < math.inf:
        raise ValueError(f"{_who(owner, name)} must be a finite number >= 0, got {value!r}")
    return float(value)


def fraction(name: str, value, owner: str = "") -> float:
    """A number in [0, 1)."""
    if not _is_number(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"{_who(owner, name)} must be in [0, 1), got {value!r}")
    return float(value)


def finite(name: str, value, owner: str = "") -> float:
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError(f"{_who(owner, name)} must be a finite number, got {value!r}")
    return float(value)


def input_shape(shape, n_in: int, first_layer, name: str = "input X"):
    """The one check of a batch's shape: (n_samples, n_in)."""
    if len(shape) != 2 or shape[1] != n_in:
        raise ValueError(f"{name} has shape {tuple(shape)}, but layer 0 ({first_layer!r}) expects (n_samples, {n_in})")


def _who(owner, name):
    return f"{owner}: {name}" if owner else name
