"""The rules for one cell of a table, shared by every reader: numbers, booleans, gaps, text.

Both CSV readers (pyarrow's and the standard library's, :mod:`mlp.io.delimited`) and the array readers
(:mod:`mlp.io.arrays`) turn cells into values with these rules, so a file reads the same whichever reader
reads it.  :func:`parse_number` is public as :func:`mlp.io.readers.parse_number`.
"""
from __future__ import annotations

import math
import re

import numpy as np

from mlp.core.errors import DataError

__all__ = ["parse_number"]

#: the spellings of a missing value, as pyarrow's CSV reader takes them
_NULLS = frozenset(["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                    "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"])
#: the spellings of a boolean, as pyarrow's CSV reader takes them
_TRUE = frozenset(["1", "True", "TRUE", "true"])
_FALSE = frozenset(["0", "False", "FALSE", "false"])

# One rule for numbers, whichever reader reads the file: decimal digits with an optional sign, point and
# exponent, or inf/infinity. No underscores (Python's float takes "1_5"), no hex, no spaces inside.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.IGNORECASE)


def parse_number(text: str):
    """``text`` (already trimmed) as a float under the strict rule, or None when it is not a number.

    Accepted: ``12``, ``-1.5``, ``.5``, ``1.``, ``1e-3``, ``+2E5``, ``inf``, ``-Infinity``.
    Refused: ``1_5``, ``0x10``, ``1,5``, ``1 5``, ``1e``, ``--1``.
    """
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


def _column_from_text(values: list) -> np.ndarray:
    """Trimmed cells of one column (None: missing) as float64 (numbers) or object (booleans, text)."""
    present = [v for v in values if v is not None]
    numbers = [parse_number(v) for v in present]
    if all(x is not None for x in numbers):
        it = iter(numbers)
        return np.array([math.nan if v is None else next(it) for v in values], dtype=np.float64)
    if present and all(v in _TRUE or v in _FALSE for v in present):
        return np.array([None if v is None else v in _TRUE for v in values] + [None], dtype=object)[:-1]
    return np.array(values + [None], dtype=object)[:-1]


def _text(v, where: str) -> str:
    """``v`` (a str, or bytes that must be UTF-8) as text, or a DataError naming ``where``."""
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{where}: {v!r} is not valid UTF-8 text ({e.reason} at byte {e.start})") from None
    return str(v)
