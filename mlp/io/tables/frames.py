"""Tables from Python: a pandas DataFrame or a pyarrow Table as the same typed :class:`~mlp.io.tables.typed.Table`
the file readers give, so that the same column kinds and preprocessing apply (see :mod:`mlp.io.tables.pipeline`)."""

from __future__ import annotations

import numpy as np

from mlp.core.errors import DataError

from .arrow import arrow_column
from .cells import date_parts
from .read import read_table
from .typed import CODE_DTYPE, Coded, Dates, Numbers, Table, column_of

__all__ = ["as_table", "from_frame"]


def _pandas_column(pd, s):
    """One pandas Series as a typed column: numbers, dates, or codes (categories, booleans, text, objects)."""
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        codes = np.where(s.isna().to_numpy(), -1, s.fillna(False).astype(bool).to_numpy().astype(CODE_DTYPE))
        return Coded(codes, [False, True])
    if pd.api.types.is_numeric_dtype(dtype):
        return Numbers(
            s.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan), pd.api.types.is_integer_dtype(dtype)
        )
    if pd.api.types.is_datetime64_any_dtype(dtype):
        days = np.full(len(s), np.nan)
        hours = np.full(len(s), np.nan)
        present = ~s.isna().to_numpy()
        if present.any():
            stamps = s[present]
            # days since 1970 (from UTC for a zoned column) and the local hour, as the readers count them
            utc = stamps.dt.tz_convert("UTC").dt.tz_localize(None) if stamps.dt.tz is not None else stamps
            days[present] = (utc - pd.Timestamp(1970, 1, 1)).to_numpy() / np.timedelta64(86400, "s")
            hours[present] = (
                stamps.dt.hour + stamps.dt.minute / 60 + (stamps.dt.second + stamps.dt.microsecond / 1e6) / 3600
            ).to_numpy(dtype=np.float64)
        return Dates(days, hours, "zoned" if s.dt.tz is not None else "naive")
    if isinstance(dtype, pd.CategoricalDtype):
        return Coded(s.cat.codes.to_numpy().astype(CODE_DTYPE), [_plain(v) for v in s.cat.categories])
    inferred = pd.api.types.infer_dtype(s, skipna=True)
    if inferred not in ("string", "empty", "date", "datetime"):  # mixed objects: True is not 1 (factorize says it is)
        return column_of([_plain(v) for v in s.astype(object).where(~s.isna(), None).tolist()])
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values = [_plain(v) for v in (uniques.tolist() if hasattr(uniques, "tolist") else list(uniques))]
    if values and all(hasattr(v, "year") and hasattr(v, "month") for v in values):  # Python dates in objects
        parts = np.array([date_parts(_as_datetime(v)) for v in values] + [(np.nan, np.nan)])
        style = (
            "date"
            if not any(hasattr(v, "hour") for v in values)
            else "zoned"
            if any(getattr(v, "tzinfo", None) is not None for v in values)
            else "naive"
        )
        return Dates(parts[codes, 0], parts[codes, 1], style)
    return Coded(codes.astype(CODE_DTYPE), values)


def _plain(v):
    """A pandas or NumPy scalar as a plain Python value."""
    return v.item() if isinstance(v, np.generic) else v


def _as_datetime(v):
    import datetime as dt

    if isinstance(v, dt.datetime):
        return v
    return dt.datetime(v.year, v.month, v.day)


def from_frame(frame, name: str = "table") -> Table:
    """A pandas DataFrame or a pyarrow Table as a typed :class:`Table`, column for column as the file readers give.

    Numbers become float64 with NaN for a gap; text, booleans and categories become codes into their distinct
    values; dates become days and hours.  ``name`` is how messages name it.
    """
    if hasattr(frame, "schema") and hasattr(frame, "column_names"):  # pyarrow.Table
        import pyarrow as pa
        import pyarrow.compute as pc

        names = [str(n) for n in frame.column_names]
        columns = [
            arrow_column(pa, pc, col, False, f"{name}, column {n!r}")
            for n, col in zip(names, frame.columns, strict=True)
        ]
    elif hasattr(frame, "columns") and hasattr(frame, "dtypes"):  # pandas.DataFrame
        import pandas as pd

        names = [str(n) for n in frame.columns]
        columns = [_pandas_column(pd, s) for _, s in frame.items()]
    else:
        raise TypeError(f"from_frame takes a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")
    if len(set(names)) != len(names):
        raise DataError(f"{name}: a column name appears twice")
    table = Table(str(name), names, columns, named=True)
    if table.n_rows == 0:
        raise DataError(f"{name}: no data rows")
    return table


def as_table(data, sep=None, columns=None) -> Table:
    """``data`` as a :class:`Table`: a Table, a file path (read with :func:`read_table`, the ``columns`` asked for
    only), a DataFrame or an Arrow table."""
    if isinstance(data, Table):
        return data
    if hasattr(data, "dtypes") or hasattr(data, "schema"):
        return from_frame(data)
    return read_table(data, sep, columns=columns)
