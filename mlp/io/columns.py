"""Columns as they come: each feature column's kind, its parsing, and the encoder that makes it model inputs.

Kinds, inferred from the whole file (:func:`infer_kinds`); ``drop``, ``categorical`` and ``numeric``
override the inference:

numeric
    Numbers (also numbers written as text).  A gap is filled with the training median; a column
    with gaps in the training rows also gets a missing-indicator input.
categorical
    Text and booleans (and numbers named ``categorical``).  One-hot: one input per category seen
    in the training rows, then a slot for gaps when the training rows had gaps, then an "unknown"
    slot for any other value (a category never seen in training, or a gap in a column that had
    none).  A column with more than :data:`MAX_LEVELS` levels in the training rows is one input
    instead, the slot's number (a code: categories ``0..k-1``, then the gap slot, then unknown; at
    most :data:`MAX_CODES` categories, the most frequent), which the model's first layer, an
    :class:`mlp.Embedding`, turns into learned vectors.
datetime
    Dates or date-times (Arrow/pandas dates, or ISO 8601 text such as ``2024-05-31`` or
    ``2024-05-31T13:45``), turned into numeric parts (:data:`NEW_DATE_PARTS`): ``days`` since
    1970-01-01 and, when any value has a time of day, ``hour`` (hours since midnight, with minutes
    and seconds as a fraction); gaps filled per part with the training median, plus an indicator.
    Checkpoints may name other parts of :data:`DATE_PARTS` (year, month, day, weekday: what
    earlier versions wrote), and are read with them.
dropped
    identifier-like (text, unique per row, at least :data:`MIN_ID_ROWS` rows), constant (one
    value and no gaps), empty (no value at all), or named by ``drop``.

The preprocessing JSON holds one object per feature column, in the order of the model's inputs::

    {"name": "age", "kind": "numeric", "fill": 28.0, "indicator": true}
        inputs: the value (a gap -> fill); then, if indicator, 1.0 where the value was missing else 0.0
    {"name": "sex", "kind": "categorical", "categories": ["female", "male"], "missing": false}
        inputs: one per category, in list order; then a gap slot if "missing"; then one "unknown" slot
    {"name": "shop", "kind": "categorical", "categories": [...], "missing": true, "codes": true}
        one input: the slot's number (0-based, in the same slot order), for an Embedding (optional field)
    {"name": "when", "kind": "datetime", "parts": ["days", "hour"], "fill": [18795.5, 12.5], "indicator": false}
        inputs: one per part (a gap -> that part's fill); then, if indicator, the missing-indicator

Categories are JSON values (text, integers, finite floats, booleans).  The standardisation
(``mean``/``scale`` of the preprocessing, one entry per model input) is applied after this
encoding; one-hot slots and indicators keep mean 0 and scale 1 (see :meth:`Column.scaled`).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass

import numpy as np

from mlp.core.errors import DataError

from .readers import parse_number

__all__ = ["DATE_PARTS", "KINDS", "MAX_CODES", "MAX_LEVELS", "MIN_ID_ROWS", "NEW_DATE_PARTS", "Column", "guess_kind",
           "infer_kinds", "parse_column"]

#: the kinds of a feature column the model reads
KINDS = ("numeric", "categorical", "datetime")
#: a categorical column with at most this many levels in the training rows is one-hot; with more, one code input
#: for an Embedding (see the module docstring)
MAX_LEVELS = 50
#: a code column keeps at most this many categories (the most frequent); the rest share the unknown code
MAX_CODES = 1000
#: a text column unique per row is identifier-like only from this many rows on (below, a category)
MIN_ID_ROWS = 10
#: the numeric parts a date/time column may have, in this order (a checkpoint names the ones it uses): ``days``
#: since 1970-01-01 (with the time of day as a fraction), ``year``, ``month``, ``day`` of the month, ``weekday``
#: (Monday 0), ``hour`` (hours since midnight, with minutes and seconds as a fraction)
DATE_PARTS = ("days", "year", "month", "day", "weekday", "hour")
#: the parts a new date/time column gets (``hour`` only when a value has a time of day): the time as one number
#: (its trend), and the time of day (its daily cycle); year, month, day and weekday as inputs of their own cost
#: more on small tables than they gave (measured: see docs/own_data.md, "What each piece gave")
NEW_DATE_PARTS = ("days", "hour")


# -- labels: JSON-able values, matched with booleans kept apart from integers -----------------------------
def python_label(v):
    """A value as a JSON-able Python value: integral floats become ints (1.0 -> 1)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return int(v) if float(v).is_integer() else float(v)
    return str(v)


def label_key(label):
    # True == 1 in Python: keep booleans apart from integers when matching labels
    return (type(label) is bool, label)


def sort_key(v):
    # numbers before text, each in its natural order, so mixed columns still sort
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def is_missing(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def _names(names) -> str:
    names = list(names)
    return ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")


# -- parsing: raw column values -> numbers, labels or date-times, errors naming file, row and column -------
def _number(v):
    """``v`` as a float, or None when it is not a number (booleans count as 0/1)."""
    if isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        return parse_number(v.strip())  # the readers' one strict rule ("1_5" and "0x10" are not numbers)
    return None


def parse_numeric(table, name, col, role="feature", lenient=False) -> np.ndarray:
    """Column values as float64, NaN for a gap.

    Text that is not a number is a DataError naming file, row and column, or a gap when
    ``lenient`` (a column the user named ``numeric``).
    """
    if col.dtype != object:
        out = np.asarray(col, dtype=np.float64)
    else:
        out = np.empty(len(col), dtype=np.float64)
        for i, v in enumerate(col):
            x = math.nan if is_missing(v) else _number(v)
            if x is None:
                if not lenient:
                    hint = (f"the model reads column {name!r} as numbers" if role == "feature"
                            else "regression targets must be numbers")
                    raise DataError(f"{table.where(i, name)}: {v!r} is not a number ({hint})")
                x = math.nan
            out[i] = x
    bad = np.flatnonzero(np.isinf(out))
    if bad.size:
        raise DataError(f"{table.where(int(bad[0]), name)}: {out[bad[0]]} is not a finite number")
    return out


def parse_labels(col) -> np.ndarray:
    """Column values as JSON-able labels (object array), None for a gap."""
    return np.array([None if is_missing(v) else python_label(v) for v in col] + [None], dtype=object)[:-1]


def _datetime(v):
    """``v`` as a naive or aware :class:`datetime.datetime`, or None when it is not one."""
    if isinstance(v, _dt.datetime):
        return v
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day)
    if isinstance(v, str) and len(v.strip()) >= 8 and v.strip()[:1].isdigit():
        try:
            return _dt.datetime.fromisoformat(v.strip())
        except ValueError:
            return None
    return None


def parse_datetimes(table, name, col) -> np.ndarray:
    """Column values as :class:`datetime.datetime` (object array), None for a gap; other text is a DataError."""
    out = np.empty(len(col), dtype=object)
    for i, v in enumerate(col):
        if is_missing(v):
            out[i] = None
            continue
        d = _datetime(v)
        if d is None:
            raise DataError(f"{table.where(i, name)}: {v!r} is not a date/time (ISO 8601, e.g. 2024-05-31 or "
                            f"2024-05-31T13:45); --categorical {name} reads the column as categories, --drop {name} "
                            "leaves it out")
        out[i] = d
    return out


def parse_column(table, name, kind, lenient=False) -> np.ndarray:
    """Column ``name`` of ``table`` parsed for ``kind`` (see :func:`parse_numeric` and friends)."""
    col = table.column(name)
    if kind == "numeric":
        return parse_numeric(table, name, col, lenient=lenient)
    if kind == "categorical":
        return parse_labels(col)
    return parse_datetimes(table, name, col)


def guess_kind(values) -> str:
    """``numeric`` for numbers (gaps allowed), ``datetime`` for dates, else ``categorical``: the kind of a column
    handed over as parsed values, without a file to name in messages (see :func:`infer_kinds` for files)."""
    values = np.asarray(values)
    if values.dtype != object:
        return "numeric" if values.dtype.kind in "fiu" else "categorical"
    present = [v for v in values if not is_missing(v)]
    if present and all(isinstance(v, (_dt.date, _dt.datetime)) for v in present):
        return "datetime"
    if all(_number(v) is not None and not isinstance(v, (bool, np.bool_)) for v in present):
        return "numeric"
    return "categorical"


# -- inference -------------------------------------------------------------------------------------------
def infer_kinds(table, features, categorical=(), numeric=(), drop=()):
    """The kind of each column in ``features`` and why, and the columns left out and why.

    Returns
    -------
    kinds : dict
        ``{name: (kind, reason)}`` for the columns the model reads, in ``features`` order.
    dropped : dict
        ``{name: reason}`` for the columns left out (reason starts with the category of drop:
        "identifier-like", "constant", "empty", "--drop").

    Raises
    ------
    mlp.core.errors.DataError
        A text column that is mostly numbers (or mostly dates) but not all: the message names the
        row and column of the first other value and the options that settle it.
    """
    kinds, dropped = {}, {}
    for name in features:
        col = table.column(name)
        if name in drop:
            dropped[name] = "--drop"
        elif name in numeric:
            kinds[name] = ("numeric", "--numeric")
        elif name in categorical:
            kinds[name] = ("categorical", "--categorical")
        else:
            kind = _infer(table, name, col)
            if kind[0] in KINDS:
                kinds[name] = kind
            else:
                dropped[name] = kind[1]
    return kinds, dropped


def _infer(table, name, col):
    n = len(col)
    if col.dtype != object:
        present = col[~np.isnan(col)]
        if present.size == 0:
            return ("dropped", "empty (every value missing)")
        if present.size == n and np.all(present == present[0]):
            return ("dropped", f"constant ({python_label(present[0])!r} in every row)")
        return ("numeric", "numbers")
    rows = [i for i, v in enumerate(col) if not is_missing(v)]
    values = [col[i] for i in rows]
    if not values:
        return ("dropped", "empty (every value missing)")
    distinct = {label_key(python_label(v)) for v in values}
    if len(distinct) == 1 and len(values) == n:
        return ("dropped", f"constant ({python_label(values[0])!r} in every row)")
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return ("categorical", "booleans")
    if all(isinstance(v, (_dt.date, _dt.datetime)) for v in values):
        return ("datetime", "dates")
    texts = [(i, v) for i, v in zip(rows, values, strict=True) if not isinstance(v, (bool, np.bool_))]
    numbers = [i for i, v in texts if _number(v) is not None]
    if len(numbers) == len(texts):
        return ("numeric", "numbers written as text")
    if 2 * len(numbers) >= len(texts):
        i, v = next((i, v) for i, v in texts if _number(v) is None)
        raise DataError(f"{table.where(i, name)}: {v!r} is not a number, though {len(numbers)} of the "
                        f"{len(texts)} values of the column are; --numeric {name} reads such values as gaps, "
                        f"--categorical {name} the column as categories")
    dates = [i for i, v in texts if _datetime(v) is not None]
    if len(dates) == len(texts):
        return ("datetime", "dates written as text")
    if 2 * len(dates) > len(texts):
        parse_datetimes(table, name, col)  # raises, naming the first value that is not a date
    if len(distinct) == len(values) and len(values) >= MIN_ID_ROWS:
        return ("dropped", (f"identifier-like (unique text in each of {len(values)} rows); --categorical {name} "
                            "keeps it"))
    kind = "text" if len(texts) == len(values) else "text and booleans"
    return ("categorical", f"{kind}, {len(distinct)} distinct values")


# -- encoders --------------------------------------------------------------------------------------------
_EPOCH, _EPOCH_UTC = _dt.datetime(1970, 1, 1), _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def _date_parts(d: _dt.datetime, parts) -> list:
    """The ``parts`` (names from :data:`DATE_PARTS`) of ``d`` as floats."""
    hour = d.hour + d.minute / 60 + (d.second + d.microsecond / 1e6) / 3600
    days = (d - (_EPOCH if d.tzinfo is None else _EPOCH_UTC)).total_seconds() / 86400
    every = {"days": days, "year": float(d.year), "month": float(d.month), "day": float(d.day),
             "weekday": float(d.weekday()), "hour": hour}
    return [every[p] for p in parts]


@dataclass
class Column:
    """One feature column's encoder: its kind and what the training rows taught it (see the module docstring).

    Attributes
    ----------
    name : str
    kind : {"numeric", "categorical", "datetime"}
    fill : float, list of float or None
        numeric: the gap value (None: a gap is an error, as in format-1 checkpoints); datetime: one per part.
    indicator : bool
        numeric and datetime: a missing-indicator input follows.
    categories : list or None
        categorical: the one-hot categories, in input order.
    missing : bool
        categorical: a slot for gaps (the training rows had gaps).
    parts : list of str or None
        datetime: the parts, a prefix-free subset of :data:`DATE_PARTS` in that order.
    codes : bool
        categorical: one input holding the slot's number (for an Embedding) instead of one-hot slots.
    """

    name: str
    kind: str
    fill: float | list | None = None
    indicator: bool = False
    categories: list | None = None
    missing: bool = False
    parts: list | None = None
    codes: bool = False

    @property
    def n_slots(self) -> int:
        """categorical: the number of slots (categories, the gap slot if any, unknown), one-hot or codes."""
        return len(self.categories) + self.missing + 1

    @property
    def width(self) -> int:
        """The number of model inputs this column gives."""
        if self.kind == "categorical":
            return 1 if self.codes else self.n_slots
        return (1 if self.kind == "numeric" else len(self.parts)) + self.indicator

    def input_names(self) -> list:
        """A name for each input: ``age``, ``age:missing``, ``sex=male``, ``sex:unknown``, ``when:year``."""
        if self.kind == "categorical" and self.codes:
            return [f"{self.name}:code"]
        if self.kind == "categorical":
            names = [f"{self.name}={c}" for c in self.categories]
            return names + ([f"{self.name}:missing"] if self.missing else []) + [f"{self.name}:unknown"]
        names = [self.name] if self.kind == "numeric" else [f"{self.name}:{p}" for p in self.parts]
        return names + ([f"{self.name}:missing"] if self.indicator else [])

    def scaled(self) -> list:
        """Per input, whether standardisation applies (numbers and date parts; not one-hot slots nor indicators)."""
        if self.kind == "categorical":
            return [False] * self.width
        return [True] * (self.width - self.indicator) + [False] * self.indicator

    @classmethod
    def fit(cls, name, kind, values) -> "Column":
        """The encoder of a column from its parsed training values (see :func:`parse_column`)."""
        if kind == "numeric":
            values = np.asarray(values, dtype=np.float64)
            gaps = np.isnan(values)
            fill = float(np.median(values[~gaps])) if (~gaps).any() else 0.0
            return cls(name, kind, fill=fill, indicator=bool(gaps.any()))
        if kind == "categorical":
            counts = {}
            for v in values:
                if v is not None:
                    k = label_key(python_label(v))
                    counts[k] = counts.get(k, 0) + 1
            codes = len(counts) > MAX_LEVELS
            top = sorted(counts, key=lambda k: (-counts[k], sort_key(k[1])))[:MAX_CODES if codes else MAX_LEVELS]
            categories = sorted((k[1] for k in top), key=sort_key)
            return cls(name, kind, categories=categories, missing=any(v is None for v in values), codes=codes)
        if kind == "datetime":
            present = [v for v in values if v is not None]
            timed = any((d.hour, d.minute, d.second, d.microsecond) != (0, 0, 0, 0) for d in present)
            parts = [p for p in NEW_DATE_PARTS if timed or p != "hour"]
            P = np.array([_date_parts(d, parts) for d in present], dtype=np.float64).reshape(-1, len(parts))
            fill = [float(v) for v in np.median(P, axis=0)] if len(P) else [0.0] * len(parts)
            return cls(name, kind, fill=fill, indicator=len(present) < len(values), parts=parts)
        raise ValueError(f"column {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")

    def encode(self, values, rows=None) -> np.ndarray:
        """``(n, width)`` float64 inputs from parsed values; gaps filled, unseen categories in the unknown slot.

        ``rows``: the 0-based row number of each value, for messages (default its position).
        """
        n = len(values)

        def row(i):
            return int(i if rows is None else rows[i]) + 1

        if self.kind == "numeric":
            x = np.asarray([math.nan if is_missing(v) else _checked_number(self.name, v, row(i))
                            for i, v in enumerate(values)]
                           if np.asarray(values).dtype == object else values, dtype=np.float64)
            gaps = np.isnan(x)
            if gaps.any() and self.fill is None:
                raise DataError(f"column {self.name!r}, row {row(np.flatnonzero(gaps)[0])}: missing value "
                                "(this model was saved without fill values; fill such rows first)")
            out = [np.where(gaps, self.fill if self.fill is not None else 0.0, x)]
            if self.indicator:
                out.append(gaps.astype(np.float64))
            return np.stack(out, axis=1)
        if self.kind == "categorical":
            index = {label_key(c): k for k, c in enumerate(self.categories)}
            # text and numbers meet: a category "1" matches the number 1 read by another reader, "true" True
            loose = {str(c).lower(): k for k, c in enumerate(self.categories)}
            unknown = self.n_slots - 1
            slots = np.empty(n, dtype=np.int64)
            for i, v in enumerate(values):
                if is_missing(v):
                    slots[i] = len(self.categories) if self.missing else unknown
                    continue
                label = python_label(v)
                k = index.get(label_key(label))
                slots[i] = k if k is not None else loose.get(str(label).lower(), unknown)
            if self.codes:
                return slots[:, None].astype(np.float64)
            return (slots[:, None] == np.arange(self.width)[None, :]).astype(np.float64)
        P = np.empty((n, len(self.parts)), dtype=np.float64)
        gaps = np.zeros(n, dtype=bool)
        for i, v in enumerate(values):
            d = None if is_missing(v) else _datetime(v)
            if d is None and not is_missing(v):
                raise DataError(f"column {self.name!r}, row {row(i)}: {v!r} is not a date/time")
            gaps[i] = d is None
            P[i] = self.fill if d is None else _date_parts(d, self.parts)
        return np.concatenate([P, gaps[:, None].astype(np.float64)], axis=1) if self.indicator else P

    # -- storing --
    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind}
        if self.kind == "numeric":
            d.update(fill=self.fill, indicator=self.indicator)
        elif self.kind == "categorical":
            d.update(categories=list(self.categories), missing=self.missing)
            if self.codes:  # only when set: files written before codes existed read the same
                d["codes"] = True
        else:
            d.update(parts=list(self.parts), fill=list(self.fill), indicator=self.indicator)
        return d

    @classmethod
    def from_dict(cls, d) -> "Column":
        """The inverse of :meth:`to_dict`, checking every field (ValueError naming the column and field)."""
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise ValueError("preprocessing columns must be objects with a name")
        name, kind = d["name"], d.get("kind")
        where = f"preprocessing column {name!r}"
        fields = {"numeric": {"fill", "indicator"}, "categorical": {"categories", "missing", "codes"},
                  "datetime": {"parts", "fill", "indicator"}}
        if kind not in fields:
            raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        extra = set(d) - fields[kind] - {"name", "kind"}
        if extra:
            raise ValueError(f"{where}: unexpected field {sorted(extra)[0]!r}")
        flags = {k: d.get(k, False) for k in ("indicator", "missing", "codes")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ValueError(f"{where}: indicator, missing and codes must be true or false")
        if kind == "numeric":
            fill = d.get("fill")
            if fill is not None and not _finite(fill):
                raise ValueError(f"{where}: fill must be a finite number")
            return cls(name, kind, fill=None if fill is None else float(fill), indicator=flags["indicator"])
        if kind == "categorical":
            cats = d.get("categories")
            if not isinstance(cats, list) or not all(isinstance(c, (str, bool, int)) or _finite(c) for c in cats):
                raise ValueError(f"{where}: categories must be a list of labels (str, int, float, bool)")
            if len({label_key(c) for c in cats}) != len(cats):
                raise ValueError(f"{where}: categories hold a label twice")
            return cls(name, kind, categories=cats, missing=flags["missing"], codes=flags["codes"])
        parts, fill = d.get("parts"), d.get("fill")
        if not isinstance(parts, list) or not parts or parts != [p for p in DATE_PARTS if p in parts]:
            raise ValueError(f"{where}: parts must be a non-empty list from {', '.join(DATE_PARTS)}, in that order")
        if not isinstance(fill, list) or len(fill) != len(parts) or not all(_finite(v) for v in fill):
            raise ValueError(f"{where}: fill must be a list of {len(parts)} finite numbers")
        return cls(name, kind, fill=[float(v) for v in fill], indicator=flags["indicator"], parts=parts)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _checked_number(name, v, row=None):
    x = _number(v)
    if x is None:
        raise DataError(f"column {name!r}{'' if row is None else f', row {row}'}: {v!r} is not a number")
    return x


# -- words -----------------------------------------------------------------------------------------------
def kind_lines(kinds, dropped, columns=None, verbose=False) -> list:
    """One line per column kind (and with ``verbose`` one per column), for ``mlp train``'s output.

    ``columns`` (the fitted :class:`Column` encoders by name) adds what the training rows taught.
    """
    columns = columns or {}
    lines = []
    for kind, what in (("numeric", "numeric"), ("categorical", "categorical (one-hot, with an unknown slot)"),
                       ("datetime", "date/time (days since 1970, hour of day when present)")):
        names = [n for n, (k, _) in kinds.items() if k == kind]
        if not names:
            continue
        line = f"columns {what}: {len(names)} ({_names(names)})"
        gaps = [n for n in names if n in columns and (columns[n].indicator or columns[n].missing)]
        if gaps:
            line += (f"; gaps in {_names(gaps)}: " + ("their own category" if kind == "categorical"
                                                       else "filled with the training median, plus an indicator"))
        coded = [n for n in names if n in columns and columns[n].codes]
        if coded:
            line += (f"; more than {MAX_LEVELS} levels in {_names(coded)}: one code input each, learned vectors "
                     "(an Embedding layer first)")
        lines.append(line)
    groups = {}
    for n, why in dropped.items():
        groups.setdefault(why.split(" (")[0].split(";")[0], []).append(n)
    for why, names in groups.items():
        hint = " (--categorical COL keeps one)" if why == "identifier-like" else ""
        lines.append(f"columns dropped, {why}: {len(names)} ({_names(names)}){hint}")
    if verbose:
        for n, (kind, why) in kinds.items():
            c = columns.get(n)
            text = f"  column {n!r}: {kind} ({why})"
            if c is not None and kind == "numeric":
                text += f", gaps -> {c.fill:g}" + (" + indicator" if c.indicator else "")
            elif c is not None and kind == "categorical":
                shown = ", ".join(map(repr, c.categories[:10])) + (", ..." if len(c.categories) > 10 else "")
                text += f", {len(c.categories)} categories [{shown}]" + (" + a gap slot" if c.missing else "")
                text += ", as codes for an Embedding" if c.codes else ""
            elif c is not None:
                text += f", parts {', '.join(c.parts)}" + (" + indicator" if c.indicator else "")
            lines.append(text)
        lines += [f"  column {n!r}: dropped, {why}" for n, why in dropped.items()]
    return lines
