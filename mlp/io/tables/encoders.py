"""Each feature column's encoder: what the training rows taught it, and the model inputs it makes.

An encoder (:class:`Column`) is fitted on a column's training rows and then turns any table's column of
that name into model inputs, vectorised: a categorical column's distinct values are matched to its slots
once, and its rows are a gather of those slots.

numeric
    A gap is filled with the training median; a column with gaps in the training rows also gets a
    missing-indicator input.
categorical
    Slots: one per category seen in the training rows, then a slot for gaps when the training rows had
    gaps, then an "unknown" slot for any other value (a category never seen in training, or a gap in a
    column that had none).  The model's input is the slot's number (a code): the model's first layers
    turn it into one-hot inputs (:class:`mlp.OneHot`, at most :data:`MAX_LEVELS` categories) or learned
    vectors (:class:`mlp.Embedding`, more levels: the :data:`MAX_CODES` most frequent), a batch at a time,
    so that the table holds one number per categorical column.  (Checkpoints of format 2 and before may
    hold one-hot columns made here, ``"codes": false``: they are read and made as they were.)
datetime
    ``days`` since 1970-01-01 and, when any value has a time of day, ``hour`` (hours since midnight, with
    minutes and seconds as a fraction); gaps filled per part with the training median, plus an indicator.
    Checkpoints may name other parts of :data:`DATE_PARTS` (year, month, day, weekday: what earlier
    versions wrote), and are read with them.

The preprocessing JSON holds one object per feature column, in the order of the model's inputs::

    {"name": "age", "kind": "numeric", "fill": 28.0, "indicator": true}
        inputs: the value (a gap -> fill); then, if indicator, 1.0 where the value was missing else 0.0;
        "lenient": true (a column named numeric): text that is not a number is a gap
    (datetime too, "lenient": true: a column of dates with a few other values; those are gaps)
    {"name": "sex", "kind": "categorical", "categories": ["female", "male"], "missing": false,
     "codes": true, "layer": "OneHot"}
        one input: the slot's number (0-based: categories in list order, then a gap slot if "missing", then
        "unknown"), which the model's OneHot layer expands ("layer": "Embedding": learned vectors)
    {"name": "sex", "kind": "categorical", "categories": ["female", "male"], "missing": false}
        (format 2) inputs: one per slot, made here; "codes": true without "layer" is an Embedding's code
    {"name": "when", "kind": "datetime", "parts": ["days", "hour"], "fill": [18795.5, 12.5], "indicator": false}
        inputs: one per part (a gap -> that part's fill); then, if indicator, the missing-indicator

Categories are JSON values (text, integers, finite floats, booleans).  The standardisation
(``mean``/``scale`` of the preprocessing, one entry per model input) is applied after this
encoding; codes, one-hot slots and indicators keep mean 0 and scale 1 (see :meth:`Column.scaled`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlp.core.errors import DataError

from .cells import label_key, number_of, python_label, sort_key
from .kinds import KINDS
from .typed import Coded, Dates
from .values import as_dates, as_levels, as_numbers

__all__ = ["CODE_LAYERS", "DATE_PARTS", "MAX_CODES", "MAX_LEVELS", "NEW_DATE_PARTS", "Column"]

#: a categorical column with at most this many levels in the training rows is one-hot; with more, learned vectors
MAX_LEVELS = 50
#: a column of learned vectors keeps at most this many categories (the most frequent); the rest share the unknown code
MAX_CODES = 1000
#: the numeric parts a date/time column may have, in this order (a checkpoint names the ones it uses): ``days``
#: since 1970-01-01 (with the time of day as a fraction), ``year``, ``month``, ``day`` of the month, ``weekday``
#: (Monday 0), ``hour`` (hours since midnight, with minutes and seconds as a fraction)
DATE_PARTS = ("days", "year", "month", "day", "weekday", "hour")
#: the parts a new date/time column gets (``hour`` only when a value has a time of day): the time as one number
#: (its trend), and the time of day (its daily cycle); year, month, day and weekday as inputs of their own cost
#: more on small tables than they gave (measured: see docs/own_data.md, "What each piece gave")
NEW_DATE_PARTS = ("days", "hour")
#: the layers that read a categorical column's code: one-hot slots, or learned vectors
CODE_LAYERS = ("OneHot", "Embedding")


def _date_part(dates: Dates, part: str) -> np.ndarray:
    """One part of dates (see :data:`DATE_PARTS`) as float64, NaN for a gap."""
    if part == "days":
        return dates.days
    if part == "hour":
        return dates.hours
    day = np.floor(dates.local_days())  # year, month, day and weekday of the value's own (local) day
    gaps = np.isnan(day)
    stamp = np.where(gaps, 0, day).astype("int64").astype("datetime64[D]")
    if part == "weekday":
        value = (np.where(gaps, 0, day) + 3) % 7  # 1970-01-01 was a Thursday (Monday is 0)
    elif part == "year":
        value = stamp.astype("datetime64[Y]").astype(np.int64) + 1970
    elif part == "month":
        value = stamp.astype("datetime64[M]").astype(np.int64) % 12 + 1
    else:
        value = (stamp - stamp.astype("datetime64[M]")).astype(np.int64) + 1
    return np.where(gaps, math.nan, value.astype(np.float64))


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
        categorical: the categories, in slot order.
    missing : bool
        categorical: a slot for gaps (the training rows had gaps).
    parts : list of str or None
        datetime: the parts, a prefix-free subset of :data:`DATE_PARTS` in that order.
    codes : bool
        categorical: one input holding the slot's number, which the model's first layers read; False: one
        input per slot, made here (checkpoints of format 2 and before).
    layer : {"OneHot", "Embedding"} or None
        categorical with ``codes``: the layer that reads the code.
    lenient : bool
        numeric: text that is not a number is a gap (a column named numeric), here as in training; else an
        error naming the row.
    """

    name: str
    kind: str
    fill: float | list | None = None
    indicator: bool = False
    categories: list | None = None
    missing: bool = False
    parts: list | None = None
    codes: bool = False
    layer: str | None = None
    lenient: bool = False

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

    @property
    def embedded(self) -> bool:
        """categorical: its code is read by an Embedding (learned vectors)."""
        return self.kind == "categorical" and self.codes and self.layer == "Embedding"

    def input_names(self) -> list:
        """A name for each input: ``age``, ``age:missing``, ``sex:code``, ``sex=male``, ``when:days``."""
        if self.kind == "categorical" and self.codes:
            return [f"{self.name}:code"]
        if self.kind == "categorical":
            names = [f"{self.name}={c}" for c in self.categories]
            return names + ([f"{self.name}:missing"] if self.missing else []) + [f"{self.name}:unknown"]
        names = [self.name] if self.kind == "numeric" else [f"{self.name}:{p}" for p in self.parts]
        return names + ([f"{self.name}:missing"] if self.indicator else [])

    def scaled(self) -> list:
        """Per input, whether standardisation applies (numbers and date parts; not codes, slots nor indicators)."""
        if self.kind == "categorical":
            return [False] * self.width
        return [True] * (self.width - self.indicator) + [False] * self.indicator

    # -- fitting --
    @classmethod
    def fit(cls, table, name, kind, rows=None, lenient=False, max_levels=MAX_LEVELS) -> "Column":
        """The encoder of column ``name`` of ``table`` read as ``kind``, from the rows ``rows`` (default all).

        ``lenient``: text in a numeric column is a gap (a column the user named numeric), not an error.
        """
        if kind == "numeric":
            values = as_numbers(table, name, lenient=lenient)
            x = values if rows is None else values[rows]
            gaps = np.isnan(x)
            fill = float(np.median(x[~gaps])) if not gaps.all() else 0.0
            return cls(name, kind, fill=fill, indicator=bool(gaps.any()), lenient=bool(lenient))
        if kind == "categorical":
            coded = as_levels(table, name)
            counts = coded.counts(rows)
            used = np.flatnonzero(counts)
            embed = len(used) > max_levels
            labels = coded.levels
            top = sorted(used.tolist(), key=lambda k: (-counts[k], sort_key(labels[k])))
            top = top[: MAX_CODES if embed else max_levels]
            categories = sorted((labels[k] for k in top), key=sort_key)
            gaps = coded.codes < 0 if rows is None else coded.codes[rows] < 0
            return cls(
                name,
                kind,
                categories=categories,
                missing=bool(gaps.any()),
                codes=True,
                layer="Embedding" if embed else "OneHot",
            )
        if kind == "datetime":
            dates = as_dates(table, name, lenient=lenient)
            if rows is not None:
                dates = dates.take(rows)
            present = ~np.isnan(dates.days)
            timed = bool(np.any(dates.hours[present] != 0))
            parts = [p for p in NEW_DATE_PARTS if timed or p != "hour"]
            fill = (
                [float(np.median(_date_part(dates, p)[present])) for p in parts]
                if present.any()
                else [0.0] * len(parts)
            )
            return cls(name, kind, fill=fill, indicator=bool((~present).any()), parts=parts, lenient=bool(lenient))
        raise ValueError(f"column {name!r}: kind must be one of {', '.join(KINDS)}, got {kind!r}")

    # -- encoding --
    def slots_of(self, labels) -> np.ndarray:
        """categorical: the slot of each of ``labels`` (distinct values), int; then, last, the slot of a gap.

        A label is its category when equal to it (booleans kept apart from numbers), else when their texts
        are equal ignoring case (a category ``"1"`` meets the number 1 read by another reader, ``"true"``
        meets ``True``); any other label is unknown.
        """
        index = {label_key(c): k for k, c in enumerate(self.categories)}
        loose = {str(c).lower(): k for k, c in enumerate(self.categories)}
        unknown = self.n_slots - 1
        out = np.empty(len(labels) + 1, dtype=np.int32)
        for k, label in enumerate(labels):
            label = python_label(label)
            slot = index.get(label_key(label))
            if slot is None:
                slot = loose.get(str(label).lower())
            if slot is None:  # the same value spelt otherwise, when that is unambiguous
                slot = index.get(label_key(_respelt(label, self.categories)))
            out[k] = unknown if slot is None else slot
        out[-1] = len(self.categories) if self.missing else unknown
        return out

    def check_labels(self, table, coded, slots):
        """Say the rows of ``coded`` (a column of ``table``, codes into distinct labels) whose value is no category
        of this column (:func:`~mlp.io.tables.notices.notice`); refuse a column none of whose values is a
        category when it holds another type of value (codes for text categories, text for booleans)."""
        unknown = self.n_slots - 1
        if not self.categories:
            return
        from .notices import notice

        gaps = coded.codes < 0
        if not self.missing and gaps.any():  # a gap where training had none: the unknown slot, said
            where = table.where(int(np.flatnonzero(gaps)[0]))
            notice(
                table.path,
                self.name,
                "are empty, as no training row was",
                int(gaps.sum()),
                len(gaps),
                where.split(", ", 1)[1] if ", " in where else where,
                [""],
                ": read as the unknown category",
            )
        bad = slots[:-1] == unknown
        counts = coded.counts()
        present = counts > 0
        if not (bad & present).any():
            return
        hit = bad & present
        rows = int(counts[hit].sum())
        first = coded.first_row(hit)
        examples = [coded.levels[k] for k in np.flatnonzero(hit)[:6]]
        mine, theirs = _type_of(self.categories), _type_of([coded.levels[k] for k in np.flatnonzero(present)])
        if rows == int(counts.sum()) and mine != theirs:
            shown = ", ".join(repr(c) for c in self.categories[:5]) + (", ..." if len(self.categories) > 5 else "")
            adjective = {"booleans": "boolean", "numbers": "number"}.get(mine, mine)
            raise DataError(
                f"{table.where(first, self.name)}: the model was trained on {adjective} categories "
                f"({shown}); "
                f"here the column holds {theirs} ({', '.join(repr(e) for e in examples[:3])}, ...), none "
                "of them a category it knows: write its values as in training (codes are not read as "
                "categories)"
            )
        where = table.where(first)
        notice(
            table.path,
            self.name,
            "hold categories not seen in training",
            rows,
            len(coded.codes),
            where.split(", ", 1)[1] if ", " in where else where,
            examples,
            ": read as the unknown category",
        )

    def parse(self, table, check: bool = False):
        """Column ``name`` of ``table`` ready to encode any of its rows: numbers float64 (NaN gaps), a
        categorical column's slot per row (int32), or :class:`Dates`.

        ``check`` (a new table, for ``mlp predict`` and ``mlp evaluate``): values the model does not know are said
        (categories never seen in training, text of a date column read as a gap), and a column whose values are
        of another type than in training, none of them known, is a DataError naming it (see :meth:`check_labels`).
        """
        if self.kind == "numeric":
            return as_numbers(table, self.name, lenient=self.lenient)
        if self.kind == "categorical":
            coded = as_levels(table, self.name)
            slots = self.slots_of(coded.levels)
            if check:
                self.check_labels(table, coded, slots)
            return slots[coded.codes]
        dates = as_dates(table, self.name, lenient=self.lenient)
        if self.lenient and check:
            col = table.column(self.name)
            if isinstance(col, Coded):
                bad = dates.gaps() & ~col.gaps()
                if bad.any():
                    from .notices import notice

                    first = int(np.flatnonzero(bad)[0])
                    where = table.where(first)
                    examples = list(dict.fromkeys(col.levels[k] for k in col.codes[bad][:50].tolist()))
                    notice(
                        table.path,
                        self.name,
                        "hold text that is not a date",
                        int(bad.sum()),
                        len(bad),
                        where.split(", ", 1)[1] if ", " in where else where,
                        examples,
                        ": read as gaps",
                    )
        return dates

    def encode(self, parsed, rows, where=None) -> np.ndarray:
        """``(n, width)`` float64 inputs of rows ``rows`` (a slice or indices) of ``parsed`` (see :meth:`parse`).

        ``where(i)``: how a message names the ``i``-th of these rows (a model saved without fill values
        refuses a gap).
        """
        if self.kind == "numeric":
            x = parsed[rows]
            gaps = np.isnan(x)
            if self.fill is None:
                if gaps.any():
                    i = int(np.flatnonzero(gaps)[0])
                    raise DataError(
                        f"{where(i) if where else f'row {i + 1}'}, column {self.name!r}: missing value "
                        "(this model was saved without fill values; fill such rows first)"
                    )
                return x[:, None]
            filled = np.where(gaps, self.fill, x)
            return np.stack([filled, gaps], axis=1) if self.indicator else filled[:, None]
        if self.kind == "categorical":
            slots = parsed[rows]
            if self.codes:
                return slots[:, None].astype(np.float64)
            return (slots[:, None] == np.arange(self.n_slots)[None, :]).astype(np.float64)
        days = parsed.days[rows]
        gaps = np.isnan(days)
        block = parsed.take(rows)
        columns = [np.where(gaps, fill, _date_part(block, p)) for p, fill in zip(self.parts, self.fill, strict=True)]
        if self.indicator:
            columns.append(gaps.astype(np.float64))
        return np.stack(columns, axis=1)

    # -- storing --
    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind}
        if self.kind == "numeric":
            d.update(fill=self.fill, indicator=self.indicator)
            if self.lenient:  # only when set: files written before it existed read the same
                d["lenient"] = True
        elif self.kind == "categorical":
            d.update(categories=list(self.categories), missing=self.missing)
            if self.codes:  # only when set: files written before codes existed read the same
                d.update(codes=True, layer=self.layer)
        else:
            d.update(parts=list(self.parts), fill=list(self.fill), indicator=self.indicator)
            if self.lenient:  # text that is not a date is a gap (only when set: older files read the same)
                d["lenient"] = True
        return d

    @classmethod
    def from_dict(cls, d, format: int = 3) -> "Column":
        """The inverse of :meth:`to_dict`, checking every field (ValueError naming the column and field).

        ``format``: the preprocessing's format; before 3, a code column (``"codes": true``) has no ``layer``
        and is an Embedding's.
        """
        if not isinstance(d, dict) or not isinstance(d.get("name"), str):
            raise ValueError("preprocessing columns must be objects with a name")
        name, kind = d["name"], d.get("kind")
        where = f"preprocessing column {name!r}"
        fields = {
            "numeric": {"fill", "indicator"},
            "categorical": {"categories", "missing", "codes"},
            "datetime": {"parts", "fill", "indicator"},
        }
        if format >= 3:
            fields["categorical"].add("layer")
            fields["numeric"].add("lenient")
            fields["datetime"].add("lenient")
        if kind not in fields:
            raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
        extra = set(d) - fields[kind] - {"name", "kind"}
        if extra:
            raise ValueError(f"{where}: unexpected field {sorted(extra)[0]!r}")
        flags = {k: d.get(k, False) for k in ("indicator", "missing", "codes", "lenient")}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ValueError(f"{where}: indicator, missing, codes and lenient must be true or false")
        if kind == "numeric":
            fill = d.get("fill")
            if fill is not None and not _finite(fill):
                raise ValueError(f"{where}: fill must be a finite number")
            return cls(
                name,
                kind,
                fill=None if fill is None else float(fill),
                indicator=flags["indicator"],
                lenient=flags["lenient"],
            )
        if kind == "categorical":
            cats = d.get("categories")
            if not isinstance(cats, list) or not all(isinstance(c, (str, bool, int)) or _finite(c) for c in cats):
                raise ValueError(f"{where}: categories must be a list of labels (str, int, float, bool)")
            if len({label_key(c) for c in cats}) != len(cats):
                raise ValueError(f"{where}: categories hold a label twice")
            layer = d.get("layer", "Embedding" if flags["codes"] and format < 3 else None)
            if flags["codes"] and layer not in CODE_LAYERS:
                raise ValueError(
                    f"{where}: a code column's layer must be one of {', '.join(CODE_LAYERS)}, got {layer!r}"
                )
            if not flags["codes"] and layer is not None:
                raise ValueError(f"{where}: layer {layer!r} without codes")
            return cls(name, kind, categories=cats, missing=flags["missing"], codes=flags["codes"], layer=layer)
        parts, fill = d.get("parts"), d.get("fill")
        if not isinstance(parts, list) or not parts or parts != [p for p in DATE_PARTS if p in parts]:
            raise ValueError(f"{where}: parts must be a non-empty list from {', '.join(DATE_PARTS)}, in that order")
        if not isinstance(fill, list) or len(fill) != len(parts) or not all(_finite(v) for v in fill):
            raise ValueError(f"{where}: fill must be a list of {len(parts)} finite numbers")
        return cls(
            name,
            kind,
            fill=[float(v) for v in fill],
            indicator=flags["indicator"],
            parts=parts,
            lenient=flags["lenient"],
        )


def _type_of(values) -> str:
    """The type of a column's values, in words: booleans, numbers, text, or mixed values."""
    kinds = {
        "booleans"
        if isinstance(v, (bool, np.bool_))
        else "numbers"
        if isinstance(v, (int, float, np.integer, np.floating)) or number_of(v) is not None
        else "text"
        for v in values
    }
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _respelt(label, categories):
    """``label`` as one of ``categories``' type when it is that value spelt otherwise, unambiguously: ``1``/``0``
    and ``"true"``/``"false"`` (any case) for booleans, ``"3.0"`` for the number 3; else ``label``."""
    if categories and all(isinstance(c, bool) for c in categories):
        if isinstance(label, (int, float)) and not isinstance(label, bool) and label in (0, 1):
            return bool(label)
        if isinstance(label, str) and label.strip().lower() in ("true", "false", "1", "0"):
            return label.strip().lower() in ("true", "1")
        return label
    if isinstance(label, str) and any(isinstance(c, (int, float)) and not isinstance(c, bool) for c in categories):
        x = number_of(label)
        return label if x is None or not math.isfinite(x) else python_label(x)
    return label


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
