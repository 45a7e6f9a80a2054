"""Stage 2 of the table pipeline, column kinds: what each feature column is to the model, and why.

Kinds, inferred from the whole column (:func:`infer_kinds`); ``drop``, ``categorical`` and ``numeric`` (what
``mlp train --drop/--categorical/--numeric`` name) override the inference:

numeric
    Numbers (also numbers written as text).
categorical
    Text and booleans (and numbers named ``categorical``).
datetime
    Dates or date-times (Arrow/pandas dates, or ISO 8601 text such as ``2024-05-31`` or ``2024-05-31T13:45``).
dropped
    identifier-like (text, unique per row, at least :data:`MIN_ID_ROWS` rows), constant (one value and no
    gaps), empty (no value at all), or asked for.

A kind is data, :class:`ColumnKind` ``(kind, source, reason)``: ``source`` says whether it was inferred or
asked for, ``reason`` says why in words.  The inference looks at a column's distinct values and their counts
(a text column is codes, :mod:`mlp.io.tables.typed`), never at each row in Python.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from mlp.core.errors import DataError

from .cells import label_key, level_dates, number_of, python_label
from .typed import Dates, Numbers
from .values import date_text

__all__ = ["KINDS", "MIN_ID_ROWS", "ColumnKind", "infer_kinds", "kind_lines"]

#: the kinds of a feature column the model reads
KINDS = ("numeric", "categorical", "datetime")
#: a text column unique per row is identifier-like only from this many rows on (below, a category)
MIN_ID_ROWS = 10


class ColumnKind(NamedTuple):
    """What a column is to the model: ``kind`` (one of :data:`KINDS`, or ``"dropped"``), ``source``
    (``"inferred"`` or ``"asked"``) and ``reason`` (why, in words)."""

    kind: str
    source: str
    reason: str

    @property
    def used(self) -> bool:
        return self.kind != "dropped"

    @property
    def asked(self) -> bool:
        return self.source == "asked"


def infer_kinds(table, features, categorical=(), numeric=(), drop=(), keep_all=False) -> dict:
    """``{name: ColumnKind}`` for each column of ``features``, in their order (dropped columns included).

    ``keep_all``: no column is dropped for what it holds (a constant, empty or identifier-like column is read
    as numbers, or as categories when it is text), and text that is mostly numbers or dates is categories: what
    :meth:`Preprocessor.fit` does with the columns it is handed.

    Raises
    ------
    mlp.core.errors.DataError
        A text column that is mostly numbers (or mostly dates) but not all: the message names the
        row and column of the first other value and the options that settle it.
    """
    kinds = {}
    for name in features:
        if name in drop:
            kinds[name] = ColumnKind("dropped", "asked", "asked for (--drop)")
        elif name in numeric:
            kinds[name] = ColumnKind("numeric", "asked", "asked for (--numeric)")
        elif name in categorical:
            kinds[name] = ColumnKind("categorical", "asked", "asked for (--categorical)")
        else:
            try:
                kind = _infer(table, name, table.column(name))
            except DataError:
                if not keep_all:
                    raise
                kind = _inferred("categorical", "text, some of it numbers or dates")
            if keep_all and not kind.used:
                col = table.column(name)
                kind = _inferred("numeric" if isinstance(col, Numbers) else "datetime" if isinstance(col, Dates)
                                 else "categorical", kind.reason)
            kinds[name] = kind
    return kinds


def _inferred(kind, reason):
    return ColumnKind(kind, "inferred", reason)


def _infer(table, name, col) -> ColumnKind:
    n = len(col)
    if isinstance(col, (Numbers, Dates)):
        values = col.values if isinstance(col, Numbers) else col.days
        present = values[~np.isnan(values)]
        if present.size == 0:
            return _inferred("dropped", "empty (every value missing)")
        if present.size == n and np.all(present == present[0]):
            shown = (python_label(present[0]) if isinstance(col, Numbers)
                     else date_text(col.days[0], col.hours[0], col.style))
            return _inferred("dropped", f"constant ({shown!r} in every row)")
        return _inferred("numeric", "numbers") if isinstance(col, Numbers) else _inferred("datetime", "dates")
    counts = col.counts()
    used = np.flatnonzero(counts)
    n_present = int(counts.sum())
    if n_present == 0:
        return _inferred("dropped", "empty (every value missing)")
    levels = [col.levels[k] for k in used]
    labels = [python_label(v) for v in levels]
    distinct = {label_key(v) for v in labels}
    if len(distinct) == 1 and n_present == n:
        return _inferred("dropped", f"constant ({labels[0]!r} in every row)")
    is_bool = np.array([isinstance(v, (bool, np.bool_)) for v in levels])
    if is_bool.all():
        return _inferred("categorical", "booleans")
    rows = counts[used]
    texts = int(rows[~is_bool].sum())
    numbers = np.array([not b and number_of(v) is not None for v, b in zip(levels, is_bool, strict=True)])
    n_numbers = int(rows[numbers].sum())
    if n_numbers == texts:
        return _inferred("numeric", "numbers written as text")
    if 2 * n_numbers >= texts:
        other = np.zeros(len(col.levels), dtype=bool)
        other[used[~numbers & ~is_bool]] = True
        row = col.first_row(other)
        raise DataError(f"{table.where(row, name)}: {col.levels[col.codes[row]]!r} is not a number, though "
                        f"{n_numbers} of the {texts} values of the column are; --numeric {name} reads such "
                        f"values as gaps, --categorical {name} the column as categories")
    dates = ~np.isnan(level_dates(levels)[0]) & ~is_bool
    n_dates = int(rows[dates].sum())
    if n_dates == texts:
        return _inferred("datetime", "dates written as text")
    if 2 * n_dates > texts:
        other = np.zeros(len(col.levels), dtype=bool)
        other[used[~dates & ~is_bool]] = True
        row = col.first_row(other)
        raise DataError(f"{table.where(row, name)}: {col.levels[col.codes[row]]!r} is not a date/time (ISO 8601, "
                        f"e.g. 2024-05-31 or 2024-05-31T13:45); --categorical {name} reads the column as "
                        f"categories, --drop {name} leaves it out")
    if len(distinct) == n_present and n_present >= MIN_ID_ROWS:
        return _inferred("dropped", f"identifier-like (unique text in each of {n_present} rows); "
                                    f"--categorical {name} keeps it")
    kind = "text" if texts == n_present else "text and booleans"
    return _inferred("categorical", f"{kind}, {len(distinct)} distinct values")


# -- words -----------------------------------------------------------------------------------------------
def _names(names) -> str:
    names = list(names)
    return ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")


def kind_lines(kinds, columns=None, verbose=False, max_levels=None) -> list:
    """One line per column kind (and with ``verbose`` one per column), for ``mlp train``'s output.

    ``kinds``: ``{name: ColumnKind}``; ``columns`` (the fitted encoders by name,
    :class:`mlp.io.tables.encoders.Column`) adds what the training rows taught.
    """
    columns = columns or {}
    lines = []
    for kind, what in (("numeric", "numeric"), ("categorical", "categorical (one-hot, with an unknown slot)"),
                       ("datetime", "date/time (days since 1970, hour of day when present)")):
        names = [n for n, k in kinds.items() if k.kind == kind]
        if not names:
            continue
        line = f"columns {what}: {len(names)} ({_names(names)})"
        gaps = [n for n in names if n in columns and (columns[n].indicator or columns[n].missing)]
        if gaps:
            line += (f"; gaps in {_names(gaps)}: " + ("their own category" if kind == "categorical"
                                                       else "filled with the training median, plus an indicator"))
        coded = [n for n in names if n in columns and columns[n].embedded]
        if coded:
            many = f"more than {max_levels} levels" if max_levels else "many levels"
            line += f"; {many} in {_names(coded)}: one code input each, learned vectors (an Embedding layer first)"
        lines.append(line)
    groups = {}
    for n, k in kinds.items():
        if k.kind == "dropped":
            why = "as asked" if k.asked else k.reason.split(" (")[0].split(";")[0]
            groups.setdefault(why, []).append(n)
    for why, names in groups.items():
        hint = " (--categorical COL keeps one)" if why == "identifier-like" else ""
        lines.append(f"columns dropped, {why}: {len(names)} ({_names(names)}){hint}")
    if verbose:
        for n, k in kinds.items():
            if k.kind == "dropped":
                continue
            c = columns.get(n)
            text = f"  column {n!r}: {k.kind} ({k.reason})"
            if c is not None and k.kind == "numeric":
                text += f", gaps -> {c.fill:g}" + (" + indicator" if c.indicator else "")
            elif c is not None and k.kind == "categorical":
                shown = ", ".join(map(repr, c.categories[:10])) + (", ..." if len(c.categories) > 10 else "")
                text += f", {len(c.categories)} categories [{shown}]" + (" + a gap slot" if c.missing else "")
                text += ", as codes for an Embedding" if c.embedded else ""
            elif c is not None:
                text += f", parts {', '.join(c.parts)}" + (" + indicator" if c.indicator else "")
            lines.append(text)
        lines += [f"  column {n!r}: dropped, {k.reason}" for n, k in kinds.items() if k.kind == "dropped"]
    return lines
