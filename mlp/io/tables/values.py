"""A typed column read as what a stage needs: numbers, labels, or dates; and the checks of numbers.

Every function works on a column's distinct values (its levels) and then on NumPy arrays of its rows: Python
runs once per distinct value, never once per row.  A value that does not fit is a DataError naming the file,
the row of its first occurrence and the column.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from mlp.core.errors import DataError

from .cells import DATE_FORMATS, decimal_comma_like, label_key, level_dates, number_of, python_label
from .overrides import override
from .typed import CODE_DTYPE, Coded, Dates, Numbers

__all__ = ["as_dates", "as_levels", "as_numbers", "check_cast", "check_spread", "date_text", "numeric_column"]


def date_text(days: float, hours: float | None = None, style: str = "naive") -> str:
    """A date as Python writes it (what a date's label is): ``days`` since 1970-01-01 (UTC when zoned) and the
    local ``hours`` of its day; ``style`` ``"date"``, ``"naive"`` or ``"zoned"`` (see :class:`Dates`)."""
    stamp = dt.datetime(1970, 1, 1) + dt.timedelta(days=float(days))
    if style == "date":
        return str(stamp.date())
    if style == "zoned" and hours is not None:
        utc_hours = (days - math.floor(days)) * 24
        offset = round(((hours - utc_hours + 12) % 24 - 12) * 4) / 4
        zone = dt.timezone(dt.timedelta(hours=offset))
        return str(stamp.replace(tzinfo=dt.timezone.utc).astimezone(zone).replace(microsecond=stamp.microsecond))
    return str(stamp)


def _numbers_hint(name, role):
    return f"the model reads column {name!r} as numbers" if role == "feature" else "regression targets must be numbers"


def as_numbers(table, name, role: str = "feature", lenient: bool = False, column=None) -> np.ndarray:
    """Column ``name`` as float64, NaN for a gap (the column's own array when it is numbers already).

    Text that is not a number (or a date) is a DataError naming file, row and column, or a gap when
    ``lenient`` (a column the user named numeric).  Booleans are 1 and 0.  ``inf`` is a DataError.
    """
    col = table.column(name) if column is None else column
    if isinstance(col, Numbers):
        out = col.values
    elif isinstance(col, Coded):
        numbers = np.array([math.nan if (x := number_of(v)) is None else x for v in col.levels] + [math.nan])
        bad = np.isnan(numbers[:-1])
        if bad.any() and not lenient:
            row = col.first_row(bad)
            if row is not None:
                value = col.levels[col.codes[row]]
                comma = (
                    "; it looks like a number with a decimal comma: --decimal , reads it"
                    if decimal_comma_like(value)
                    else ""
                )
                raise DataError(
                    f"{table.where(row, name)}: {value!r} is not a number ({_numbers_hint(name, role)}{comma})"
                )
        out = numbers[col.codes]
    else:
        present = np.flatnonzero(~col.gaps())
        if present.size and not lenient:
            first = int(present[0])
            raise DataError(
                f"{table.where(first, name)}: {date_text(col.days[first], col.hours[first], col.style)!r} "
                "is a date, "
                f"not a number ({_numbers_hint(name, role)})"
            )
        out = np.full(len(col), math.nan)
    bad = np.flatnonzero(np.isinf(out))
    if bad.size:
        what = "target value " if role == "target" else ""
        raise DataError(f"{table.where(int(bad[0]), name)}: {what}{out[bad[0]]} is not a finite number")
    return out


def as_levels(table, name, column=None) -> Coded:
    """Column ``name`` as labels: codes into distinct JSON-able labels (:func:`python_label`), each label once.

    Numbers become labels such as ``1`` or ``2.5`` (NaN a gap), dates their text.
    """
    col = table.column(name) if column is None else column
    if isinstance(col, Numbers):
        values = col.values
        present = ~np.isnan(values)
        distinct = np.unique(values if present.all() else values[present])  # NaN last: no gap among them
        codes = np.searchsorted(distinct, values).astype(CODE_DTYPE)
        codes[~present] = -1
        return Coded(codes, [python_label(v) for v in distinct.tolist()])
    if isinstance(col, Dates):
        present = ~np.isnan(col.days)
        distinct, first, inverse = np.unique(col.days[present], return_index=True, return_inverse=True)
        codes = np.full(len(col), -1, dtype=CODE_DTYPE)
        codes[present] = inverse
        hours = col.hours[present][first]
        return Coded(
            codes, [date_text(d, h, col.style) for d, h in zip(distinct.tolist(), hours.tolist(), strict=True)]
        )
    labels = [python_label(v) for v in col.levels]
    index, remap, levels = {}, np.empty(len(labels) + 1, dtype=CODE_DTYPE), []
    for k, label in enumerate(labels):  # two levels of one label (1 and 1.0 in a data frame's objects) merge
        code = index.setdefault(label_key(label), len(levels))
        if code == len(levels):
            levels.append(label)
        remap[k] = code
    remap[-1] = -1
    if len(levels) == len(labels):
        return Coded(col.codes, levels)
    return Coded(remap[col.codes], levels)


def as_dates(table, name, column=None, lenient: bool = False) -> Dates:
    """Column ``name`` as dates (days since 1970 and hours of the day); a value that is not one is a DataError, or
    with ``lenient`` (a column of dates with a few other values, see :mod:`mlp.io.tables.kinds`) text that is not
    a date is a gap."""
    col = table.column(name) if column is None else column
    if isinstance(col, Dates):
        return col
    if isinstance(col, Numbers):
        present = np.flatnonzero(~np.isnan(col.values))
        if present.size:
            raise DataError(
                f"{table.where(int(present[0]), name)}: {python_label(col.values[present[0]])!r} is not "
                f"a date/time ({DATE_FORMATS})"
            )
        return Dates(col.values, col.values)  # every value a gap
    days, hours = level_dates(col.levels)
    bad = np.isnan(days)
    row = col.first_row(bad) if bad.any() and not lenient else None
    if row is not None:
        raise DataError(
            f"{table.where(row, name)}: {col.levels[col.codes[row]]!r} is not a date/time ({DATE_FORMATS}"
            f"); {override('categorical', name)} reads the column as categories, {override('drop', name)} leaves it out"
        )
    days, hours = np.append(days, math.nan), np.append(hours, math.nan)
    return Dates(days[col.codes], hours[col.codes])


def numeric_column(table, name: str, role: str = "feature") -> np.ndarray:
    """Column ``name`` as float64 with a value in every row, or a DataError naming the first missing, non-numeric
    or unusable value (for a model read without preprocessing: its columns as they are)."""
    col = table.column(name)
    gaps = np.flatnonzero(col.gaps())
    if gaps.size:
        raise DataError(
            f"{table.where(int(gaps[0]), name)}: missing value ({role}s must be present in every row; "
            "drop or fill such rows first)"
        )
    values = as_numbers(table, name, role)
    check_spread(table, name, values, role)
    return values


def check_spread(table, name: str, col: np.ndarray, role: str = "feature"):
    """Refuse a numeric column whose mean or standard deviation overflows float64 (values near 1e300).

    What standardisation computes; without this check such a column trains an epoch and then fails at save
    (a scale of inf). ``col`` is float64, NaN for a gap (gaps are ignored).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        big = float(np.nanmax(np.abs(col))) if col.size and not np.isnan(col).all() else 0.0
        if big < 1e150:  # squares and sums of n < 1e8 such values stay finite: nothing to compute
            return
        mean = np.nanmean(col)
        std = np.nanstd(col)
    if not (np.isfinite(mean) and np.isfinite(std)):
        row = int(np.nanargmax(np.abs(col)))
        raise DataError(
            f"{table.where(row, name)}: {col[row]:g} is too large: the {role}'s mean and standard "
            "deviation overflow float64, so it cannot be standardised; rescale the column"
        )


def check_cast(X: np.ndarray, names, dtype, source: str, what: str = "feature", rows=None):
    """Refuse values of ``X`` (n, k) too large for the model's ``dtype``, naming the row and column.

    ``rows``: the 0-based row number of each row of ``X`` in ``source`` (default ``0..n-1``), for the message.

    Too large: past the square root of the dtype's largest number (1.8e19 for float32), whose square, and
    so the model's products and losses, overflow to inf.  Called on the standardised inputs just before
    they are cast to the model's dtype: a 1e30 outlier among the validation rows is 1e30 / scale there, and
    would otherwise show as ``(loss inf)`` with RuntimeWarnings.
    """
    limit = math.sqrt(float(np.finfo(dtype).max))
    X = np.asarray(X)
    with np.errstate(invalid="ignore"):
        over = np.abs(X) > limit
    if X.ndim == 1:
        over = over[:, None]
        X = X[:, None]
    if over.any():
        i, j = (int(v[0]) for v in np.nonzero(over))
        row = i if rows is None else int(rows[i])
        raise DataError(
            f"{source}, row {row + 1}, column {list(names)[j]!r}: {what} value {X[i, j]:g} (after "
            f"standardisation) is too large for {np.dtype(dtype).name}: past {limit:.3g} its square "
            "overflows, and so would the model's outputs and loss; check that value"
        )
