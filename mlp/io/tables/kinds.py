"""Stage 2 of the table pipeline, column kinds: what each feature column is to the model, and why.

Kinds, inferred from the whole column (:func:`infer_kinds`); ``drop``, ``categorical`` and ``numeric`` (the
overrides, :mod:`mlp.io.tables.overrides`; ``mlp train --drop/--categorical/--numeric``) override the inference:

numeric
    Numbers (also numbers written as text).
categorical
    Text and booleans (and numbers named ``categorical``).
datetime
    Dates or date-times (Arrow/pandas dates, or ISO 8601 text such as ``2024-05-31`` or ``2024-05-31T13:45``).
dropped
    identifier-like (at least :data:`MIN_ID_ROWS` rows: text unique per row or nearly, :data:`NEAR_UNIQUE`;
    whole numbers unique per row that are a run of row numbers from 0 or 1 stored as integers, or whose column is
    named like an id, :func:`id_like_name`), constant (one value and no gaps), empty (no value at all), or asked
    for.  A column of numbers with fractions, however distinct, is a measurement, never an identifier.

A text column of dates with a few other values (more than :data:`MOSTLY_DATES` dates) is dates, the others gaps,
and its kind's ``note`` says how many; text that reads as numbers with a decimal comma (``46,2``) is categories
with a note naming ``--decimal ,``.  Dates are read as ISO 8601, US ``12/31/2024`` or ``31.12.2024``.

A kind is data, :class:`ColumnKind` ``(kind, source, reason)``: ``source`` says whether it was inferred or
asked for, ``reason`` says why in words, and ``keeps`` which override keeps a column dropped for what it holds;
:meth:`ColumnKind.said` words the advice, in the caller's words (:func:`~mlp.io.tables.overrides.override`).
The inference looks at a column's distinct values and their counts (a text column is codes,
:mod:`mlp.io.tables.typed`), never at each row in Python.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from mlp.core.errors import DataError

from .cells import DATE_FORMATS, python_label
from .overrides import ANY_COLUMN, OPTIONS, override
from .summary import ColumnSummary
from .values import date_text

__all__ = ["ASKED", "KINDS", "MIN_ID_ROWS", "ColumnKind", "KindsOf", "asked", "infer_kind", "infer_kinds", "kind_lines"]

#: the kinds of a feature column the model reads
KINDS = ("numeric", "categorical", "datetime")
#: a text column unique per row is identifier-like only from this many rows on (below, a category)
MIN_ID_ROWS = 10
#: a text column with at least this share of distinct values among its rows is identifier-like (names, free text)
NEAR_UNIQUE = 0.95
#: a column of dates written as text reads its other values as gaps when at least this share are dates
MOSTLY_DATES = 0.5
#: the reason of a kind asked for (its override is said with it: :meth:`ColumnKind.said`)
ASKED = "asked for"

_ID_WORDS = {
    "id",
    "ids",
    "key",
    "uuid",
    "guid",
    "index",
    "idx",
    "rownames",
    "rowname",
    "rowid",
    "row_id",
    "row",
    "row_number",
    "rownumber",
    "rownum",
    "row_no",
    "no",
    "nr",
    "record",
    "record_id",
}
_ID_SUFFIX = re.compile(r"[_\s.\-](?:id|key|uuid|guid|idx|no|nr|num|number)$")
_ID_CAMEL = re.compile(r"[a-z0-9](?:Id|ID)$")


def id_like_name(name: str) -> bool:
    """Whether a column's name says it is an identifier: ``id``, ``rownames``, ``subject_id``, ``PassengerId``,
    ``Unnamed: 0`` (a data frame's index written out), ``order no``."""
    text = str(name).strip()
    low = text.lower()
    return (
        low in _ID_WORDS
        or re.fullmatch(r"unnamed: ?\d+", low) is not None
        or _ID_SUFFIX.search(low) is not None
        or _ID_CAMEL.search(text) is not None
    )


class ColumnKind(NamedTuple):
    """What a column is to the model: ``kind`` (one of :data:`KINDS`, or ``"dropped"``), ``source``
    (``"inferred"`` or ``"asked"``) and ``reason`` (why, in words)."""

    kind: str
    source: str
    reason: str
    #: what the user should know beyond the kind (values read as gaps, numbers that look like text), said in a line
    note: str = ""
    #: the override that keeps a column dropped for what it holds ("numeric" or "categorical"; "": none)
    keeps: str = ""

    @property
    def used(self) -> bool:
        return self.kind != "dropped"

    @property
    def asked(self) -> bool:
        return self.source == "asked"

    def said(self, name) -> str:
        """The reason, with the override that asked for the kind or that keeps the column (column ``name``)."""
        if self.asked:
            return f"{self.reason} ({override(next(o for o, k in OPTIONS.items() if k == self.kind))})"
        return f"{self.reason}; {override(self.keeps, name)} keeps it" if self.keeps else self.reason


def asked(kind: str) -> ColumnKind:
    """The kind of a column an override names: ``"dropped"``, ``"numeric"`` or ``"categorical"``."""
    return ColumnKind(kind, "asked", ASKED)


class KindsOf:
    """What a table with ``kinds`` (``{name: ColumnKind}``) says of its columns: a Dataset's, a streamed table's."""

    kinds: dict

    @property
    def features(self) -> list:
        """The feature columns the model reads (dropped ones left out), in file order."""
        return [n for n, k in self.kinds.items() if k.used]

    @property
    def dropped(self) -> dict:
        return {n: k.reason for n, k in self.kinds.items() if not k.used}


def infer_kinds(table, features, categorical=(), numeric=(), drop=(), keep_all=False, summaries=None) -> dict:
    """``{name: ColumnKind}`` for each column of ``features``, in their order (dropped columns included).

    ``keep_all``: no column is dropped for what it holds (a constant, empty or identifier-like column is read
    as numbers, or as categories when it is text), and text that is mostly numbers or dates is categories: what
    :meth:`Preprocessor.fit` does with the columns it is handed.  ``summaries``: ``{name: ColumnSummary}`` made
    block by block (a table streamed); default: made from ``table``'s columns.

    Raises
    ------
    mlp.core.errors.DataError
        A text column that is mostly numbers (or mostly dates) but not all: the message names the
        row and column of the first other value and the options that settle it.
    """
    kinds = {}
    for name in features:
        if name in drop:
            kinds[name] = asked("dropped")
        elif name in numeric:
            kinds[name] = asked("numeric")
        elif name in categorical:
            kinds[name] = asked("categorical")
        else:
            summary = summaries[name] if summaries is not None else ColumnSummary.of(table.column(name))
            try:
                kind = infer_kind(summary, name, table.where)
            except DataError:
                if not keep_all:
                    raise
                kind = _inferred("categorical", "text, some of it numbers or dates")
            if keep_all and not kind.used:
                stored = (
                    "numeric"
                    if not (summary.texts or summary.bools or summary.dates)
                    else "datetime"
                    if not (summary.texts or summary.bools or summary.numbers)
                    else "categorical"
                )
                kind = _inferred(stored, kind.reason)
            kinds[name] = kind
    return kinds


def _inferred(kind, reason, keeps=""):
    return ColumnKind(kind, "inferred", reason, keeps=keeps)


def infer_kind(s: ColumnSummary, name: str, where) -> ColumnKind:
    """The kind of column ``name`` from its summary ``s``; ``where(row, name)`` names a row in a message."""
    present = s.present
    if present == 0:
        return _inferred("dropped", "empty (every value missing)")
    if not (s.texts or s.bools or s.dates):  # numbers
        if s.numbers == s.n and s.lo == s.hi:
            return _inferred("dropped", f"constant ({python_label(s.lo)!r} in every row)")
        if present >= MIN_ID_ROWS and not s.fractional and s.ints.unique:  # whole numbers, each in one row
            lo, hi = python_label(s.lo), python_label(s.hi)
            if s.stored_ints and s.lo in (0.0, 1.0) and s.hi - s.lo + 1 == present:
                return _inferred("dropped", f"identifier-like (unique integers {lo}..{hi}: row numbers)", "numeric")
            if id_like_name(name):
                return _inferred(
                    "dropped",
                    f"identifier-like (unique integers in each of {present} rows, named like an identifier)",
                    "numeric",
                )
        return _inferred("numeric", "numbers")
    if not (s.texts or s.bools or s.numbers):  # dates
        if s.dates == s.n and s.date_lo == s.date_hi:
            return _inferred("dropped", f"constant ({date_text(*s.first_date)!r} in every row)")
        return _inferred("datetime", "dates")
    distinct = len(s.levels) + (s.numbers > 0) + (s.dates > 0)
    if distinct == 1 and present == s.n and not s.capped:
        return _inferred("dropped", f"constant ({s.labels()[0]!r} in every row)")
    if s.bools == present:
        return _inferred("categorical", "booleans")
    texts = present - s.bools
    numbers = s.coded_numbers + s.numbers
    if numbers == texts:
        return _inferred("numeric", "numbers written as text")
    commas = getattr(s, "coded_commas", 0)
    if commas and numbers + commas >= texts:  # 46,2: numbers with a decimal comma, read without --decimal ,
        example = next((label for label, _, _ in s.levels.values() if isinstance(label, str) and "," in label), "")
        kind = "text" if texts == present else "text and booleans"
        return ColumnKind(
            "categorical",
            "inferred",
            f"{kind}, {distinct} distinct values",
            f"column {name!r}: {commas} of its {texts} values look like numbers with a decimal comma "
            f"({example!r}), read as categories; --decimal , reads them as numbers",
        )
    if 2 * numbers >= texts:
        row, value = s.first_not_number
        raise DataError(
            f"{where(row, name)}: {value!r} is not a number, though {numbers} of the {texts} values of "
            f"the column are; {override('numeric', name)} reads such values as gaps, "
            f"{override('categorical', name)} the column as categories"
        )
    dates = s.coded_dates + s.dates
    if dates == texts:
        return _inferred("datetime", "dates written as text")
    if dates > MOSTLY_DATES * texts:  # a few values that are not dates (unknown, n/a): gaps, counted and said
        row, value = s.first_not_date
        return ColumnKind(
            "datetime",
            "inferred",
            "dates written as text",
            f"column {name!r}: {texts - dates} of its {texts} values are not dates ({value!r} at "
            f"{_row_of(where(row, name))} first; read: {DATE_FORMATS}), read as gaps; "
            f"{override('categorical', name)} reads the column as categories, {override('drop', name)} leaves it out",
        )
    unique = all(count == 1 for _, count, _ in s.levels.values())
    if present >= MIN_ID_ROWS and ((distinct == present and not s.capped) or (s.capped and unique)):
        return _inferred("dropped", f"identifier-like (unique text in each of {present} rows)", "categorical")
    singles = sum(count == 1 for _, count, _ in s.levels.values())
    if present >= MIN_ID_ROWS and (
        (not s.capped and distinct >= NEAR_UNIQUE * present) or (s.capped and singles >= NEAR_UNIQUE * len(s.levels))
    ):
        shown = f"more than {len(s.levels):,}" if s.capped else f"{distinct}"
        return _inferred(
            "dropped", f"identifier-like ({shown} distinct texts in {present} rows: names or free text)", "categorical"
        )
    kind = "text" if texts == present else "text and booleans"
    shown = f"more than {len(s.levels):,}" if s.capped else f"{distinct}"
    return _inferred("categorical", f"{kind}, {shown} distinct values")


def _row_of(where: str) -> str:
    """``"row 17 (line 18)"`` of ``"data.csv, row 17 (line 18), column 'a'"``: the row a message names."""
    parts = [p for p in where.split(", ") if p.startswith("row ")]
    return parts[0] if parts else where


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
    for kind, what in (
        ("numeric", "numeric"),
        ("categorical", "categorical (one-hot, with an unknown slot)"),
        ("datetime", "date/time (days since 1970, hour of day when present)"),
    ):
        names = [n for n, k in kinds.items() if k.kind == kind]
        if not names:
            continue
        line = f"columns {what}: {len(names)} ({_names(names)})"
        gaps = [n for n in names if n in columns and (columns[n].indicator or columns[n].missing)]
        if gaps:
            line += f"; gaps in {_names(gaps)}: " + (
                "their own category" if kind == "categorical" else "filled with the training median, plus an indicator"
            )
        coded = [n for n in names if n in columns and columns[n].embedded]
        if coded:
            many = f"more than {max_levels} levels" if max_levels else "many levels"
            line += f"; {many} in {_names(coded)}: one code input each, learned vectors (an Embedding layer first)"
        lines.append(line)
    groups = {}
    for n, k in kinds.items():
        if k.kind == "dropped":
            why = "as asked" if k.asked else k.reason.split(" (")[0]
            groups.setdefault(why, []).append(n)
    for why, names in groups.items():
        if why == "identifier-like":  # each column with its reason: row numbers, ids, names
            each = [f"{n}: {kinds[n].reason.split(' (', 1)[1][:-1]}" for n in names[:8]]  # what is in (...)
            more = f"; ... ({len(names)} in all)" if len(names) > 8 else ""
            keep = f"{override('numeric', ANY_COLUMN)} (integers) or {override('categorical', ANY_COLUMN)} keeps one"
            lines.append(f"columns dropped, identifier-like: {len(names)} ({'; '.join(each)}{more}); {keep}")
        else:
            lines.append(f"columns dropped, {why}: {len(names)} ({_names(names)})")
    lines += [f"note: {k.note}" for k in kinds.values() if k.note]
    if verbose:
        for n, k in kinds.items():
            if k.kind == "dropped":
                continue
            c = columns.get(n)
            text = f"  column {n!r}: {k.kind} ({k.said(n)})"
            if c is not None and k.kind == "numeric":
                text += f", gaps -> {c.fill:g}" + (" + indicator" if c.indicator else "")
            elif c is not None and k.kind == "categorical":
                shown = ", ".join(map(repr, c.categories[:10])) + (", ..." if len(c.categories) > 10 else "")
                text += f", {len(c.categories)} categories [{shown}]" + (" + a gap slot" if c.missing else "")
                text += ", as codes for an Embedding" if c.embedded else ""
            elif c is not None:
                text += f", parts {', '.join(c.parts)}" + (" + indicator" if c.indicator else "")
            lines.append(text)
        lines += [f"  column {n!r}: dropped, {k.said(n)}" for n, k in kinds.items() if k.kind == "dropped"]
    return lines
