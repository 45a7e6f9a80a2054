"""Tables from Python: a pandas DataFrame or a pyarrow Table as the same :class:`~mlp.io.readers.Table`
the file readers give, so that the same column kinds and preprocessing apply (see :mod:`mlp.io.tables`)."""
from __future__ import annotations

import numpy as np

from mlp.core.errors import DataError

from .readers import Table, read_table

__all__ = ["as_table", "from_frame"]


def from_frame(frame, name: str = "table") -> Table:
    """A pandas DataFrame or a pyarrow Table as a :class:`Table`, column for column as the file readers give.

    Numbers become float64 with NaN for a gap; text, booleans, categories and dates become object
    arrays (None for a gap; dates as :class:`datetime.datetime`).  ``name`` is how messages name it.
    """
    if hasattr(frame, "schema") and hasattr(frame, "column_names"):  # pyarrow.Table
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = []
        for col in frame.columns:
            t = col.type
            if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
                values = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
                columns.append(np.where(pc.is_null(col).to_numpy(zero_copy_only=False), np.nan, values))
            else:
                columns.append(np.array(col.to_pylist() + [None], dtype=object)[:-1])
        names = [str(n) for n in frame.column_names]
    elif hasattr(frame, "columns") and hasattr(frame, "dtypes"):  # pandas.DataFrame
        import pandas as pd

        columns, names = [], [str(n) for n in frame.columns]
        for _, s in frame.items():
            gaps = s.isna().to_numpy()
            if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
                values = s.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
                columns.append(np.where(gaps, np.nan, values))
            else:
                if pd.api.types.is_datetime64_any_dtype(s.dtype):
                    s = pd.Series(s.dt.to_pydatetime(), index=s.index, dtype=object)
                values = s.astype(object).to_numpy()
                columns.append(np.array([None if g else v for v, g in zip(values, gaps, strict=True)] + [None],
                                        dtype=object)[:-1])
    else:
        raise TypeError(f"from_frame takes a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")
    table = Table(str(name), names, columns, named=True)
    if len(set(names)) != len(names):
        raise DataError(f"{name}: a column name appears twice")
    if table.n_rows == 0:
        raise DataError(f"{name}: no data rows")
    return table


def as_table(data, sep=None) -> Table:
    """``data`` as a :class:`Table`: a Table, a file path (read with :func:`read_table`), a DataFrame or Arrow table."""
    if isinstance(data, Table):
        return data
    if hasattr(data, "dtypes") or hasattr(data, "schema"):
        return from_frame(data)
    return read_table(data, sep) if sep is not None else read_table(data)
