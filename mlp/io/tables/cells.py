"""The rules for one cell of a table, shared by every reader and every stage: numbers, booleans, gaps, dates, labels.

A column of text is held dictionary-encoded (:class:`mlp.io.tables.typed.Coded`: a code per row, each distinct
value once), so these rules run once per distinct value, never once per row: :func:`level_numbers` gives the
number of each distinct text (NaN where it is not one), :func:`level_dates` its date, :func:`python_label` the
label a class or category keeps.  Both CSV readers (pyarrow's and the standard library's) and the array readers
apply them, so a file reads the same whichever reader reads it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import math
import re

import numpy as np

from mlp.core.errors import DataError

__all__ = [
    "DATE_FORMATS",
    "FALSE",
    "NULLS",
    "TRUE",
    "current_decimal",
    "date_parts",
    "decimal_comma_like",
    "decimal_point",
    "label_key",
    "level_dates",
    "level_numbers",
    "number_of",
    "parse_date",
    "parse_number",
    "python_label",
    "sort_key",
    "utf8_text",
]

#: the spellings of a missing value, as pyarrow's CSV reader takes them
NULLS = frozenset(
    [
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "n/a",
        "nan",
        "null",
    ]
)
#: the spellings of a boolean, as pyarrow's CSV reader takes them
TRUE = frozenset(["1", "True", "TRUE", "true"])
FALSE = frozenset(["0", "False", "FALSE", "false"])

# One rule for numbers, whichever reader reads the file: decimal digits with an optional sign, point and
# exponent, or inf/infinity. No underscores (Python's float takes "1_5"), no hex, no spaces inside.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.IGNORECASE)


# With ``--decimal ,`` (:func:`decimal_point`): the same rule with a comma as the decimal point (``46,2``); a
# period is then no number's (no thousands separators either way), as pyarrow's ``decimal_point`` reads them.
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d+,?\d*|,\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.IGNORECASE)
#: a decimal-comma number: what a column read without ``--decimal ,`` is told it looks like
_LOOKS_COMMA = re.compile(r"[+-]?\d+,\d+")

#: the decimal point of numbers written as text (``--decimal``): "." (default) or ","
_DECIMAL = contextvars.ContextVar("mlp_decimal_point", default=".")
DECIMAL_POINTS = (".", ",")


def current_decimal() -> str:
    """The decimal point set with :func:`decimal_point` ("." by default)."""
    return _DECIMAL.get()


@contextlib.contextmanager
def decimal_point(point):
    """Within the block, numbers written as text take ``point`` ("." or ","; None: ".") as their decimal point:
    what ``--decimal ,`` of ``mlp train``, ``mlp evaluate`` and ``mlp predict`` sets for every table read."""
    point = point or "."
    if point not in DECIMAL_POINTS:
        raise ValueError(f"--decimal must be '.' or ',', got {point!r}")
    token = _DECIMAL.set(point)
    try:
        yield
    finally:
        _DECIMAL.reset(token)


def use_decimal(point):
    """Numbers written as text take ``point`` ("." or ",") as their decimal point from here on, until the
    enclosing :func:`decimal_point` block ends (it restores what was in force before it): the decimal point a
    checkpoint was trained with, once it is loaded (``mlp predict``, ``mlp evaluate`` without ``--decimal``)."""
    if point not in DECIMAL_POINTS:
        raise ValueError(f"--decimal must be '.' or ',', got {point!r}")
    _DECIMAL.set(point)


def parse_number(text: str):
    """``text`` (already trimmed) as a float under the strict rule, or None when it is not a number.

    Accepted: ``12``, ``-1.5``, ``.5``, ``1.``, ``1e-3``, ``+2E5``, ``inf``, ``-Infinity``.
    Refused: ``1_5``, ``0x10``, ``1,5``, ``1 5``, ``1e``, ``--1``.  With a decimal comma
    (:func:`decimal_point`): ``46,2`` is 46.2 and ``46.2`` is not a number.
    """
    if _DECIMAL.get() == ",":
        if _COMMA_NUMBER.fullmatch(text) is None:
            return None
        return float(text.replace(",", "."))
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


def decimal_comma_like(v) -> bool:
    """Whether ``v`` is text that reads as a number with a decimal comma (``46,2``), when no decimal comma is set."""
    return isinstance(v, str) and _DECIMAL.get() == "." and _LOOKS_COMMA.fullmatch(v.strip()) is not None


def number_of(v):
    """A value as a float, or None when it is not a number (booleans count as 0/1; text by :func:`parse_number`)."""
    if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        return parse_number(v.strip())
    return None


# the other common ways of writing a date (and a time after it): US ``12/31/2024`` (month first) and ``31.12.2024``
_OTHER_DATE = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?")
#: the ways of writing a date that are read (for messages)
DATE_FORMATS = "ISO 8601, e.g. 2024-05-31 or 2024-05-31T13:45; also US 05/31/2024 and 31.05.2024"


def parse_date(v):
    """``v`` as a naive or aware :class:`datetime.datetime`, or None when it is not one: ISO 8601 text, US dates
    (``12/31/2024``: month, day, year), dotted dates (``31.12.2024``: day, month, year), either with a time of day
    (``13:45`` or ``13:45:10``) after it, and date objects."""
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str) and len(v.strip()) >= 8 and v.strip()[:1].isdigit():
        text = v.strip()
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
        m = _OTHER_DATE.fullmatch(text)
        if m is None:
            return None
        a, sep, b, year, hour, minute, second, fraction = m.groups()
        month, day = (int(a), int(b)) if sep == "/" else (int(b), int(a))
        try:
            return dt.datetime(
                int(year),
                month,
                day,
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                int((fraction or "0").ljust(6, "0")),
            )
        except ValueError:
            return None
    return None


_EPOCH, _EPOCH_UTC = dt.datetime(1970, 1, 1), dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def date_parts(d: dt.datetime) -> tuple:
    """``(days since 1970-01-01 with the time of day as a fraction, hour of the day with minutes as a fraction)``.

    An aware date-time counts its days from 1970-01-01 UTC and its hour in its own time zone.
    """
    hour = d.hour + d.minute / 60 + (d.second + d.microsecond / 1e6) / 3600
    days = (d - (_EPOCH if d.tzinfo is None else _EPOCH_UTC)).total_seconds() / 86400
    return days, hour


def level_numbers(levels) -> np.ndarray:
    """float64: the number of each distinct value (text by the strict rule, numbers as they are), NaN where none.

    Booleans are not numbers here (a column of ``True``/``False`` is categories).
    """
    out = np.full(len(levels), math.nan)
    for k, v in enumerate(levels):
        if isinstance(v, (bool, np.bool_)):
            continue
        x = number_of(v)
        if x is not None:
            out[k] = x
    return out


def level_dates(levels) -> tuple:
    """``(days, hours)`` float64 of each distinct value that is a date or date-time (see :func:`date_parts`),
    NaN where it is not one."""
    days, hours = np.full(len(levels), math.nan), np.full(len(levels), math.nan)
    for k, v in enumerate(levels):
        d = parse_date(v)
        if d is not None:
            days[k], hours[k] = date_parts(d)
    return days, hours


# -- labels: JSON-able values, matched with booleans kept apart from integers -----------------------------
def python_label(v):
    """A value as a JSON-able Python value: integral floats become ints (1.0 -> 1); text stays text."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if float(v).is_integer() else float(v)
    return str(v)


def label_key(label):
    """What labels are matched by: ``True == 1`` in Python, so booleans are kept apart from integers."""
    return (type(label) is bool, label)


def sort_key(v):
    """Numbers before text, each in its natural order, so that mixed columns still sort."""
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def utf8_text(v, where: str) -> str:
    """``v`` (a str, or bytes that must be UTF-8) as text, or a DataError naming ``where``."""
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{where}: {v!r} is not valid UTF-8 text ({e.reason} at byte {e.start})") from None
    return str(v)
