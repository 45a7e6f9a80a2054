"""Apache Arrow arrays as typed columns, and the Parquet reader: the read stage's bridge to pyarrow.

:class:`ArrowColumns` gathers record batches (of a CSV file read block by block, or of a Parquet file read
column by column) into typed columns (:mod:`mlp.io.tables.typed`) as they come: numbers into one float64 array
per column, text dictionary-encoded batch by batch (``pyarrow.compute.dictionary_encode``) against one growing
dictionary, booleans as codes of ``False``/``True``, dates and times as days and hours.  No batch's buffers
outlive it, and no column is ever a list of Python objects.

Numbers are read from Arrow's buffers (validity bitmap, values): Arrow's own ``to_numpy``/``fill_null``/DLPack
import pandas when it is installed, 45 MB, more than the numbers of a 500,000-cell table; ``pyarrow.compute``
(9 MB) is imported only for text and dates.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .cells import FALSE, NULLS, TRUE, level_numbers, utf8_text
from .typed import CODE_DTYPE, Coded, CodedBuilder, Dates, Numbers, NumbersBuilder

__all__ = [
    "INSTALL_HINT",
    "ArrowColumns",
    "arrow_column",
    "arrow_modules",
    "gaps_of_text",
    "read_parquet",
    "text_rules",
]

INSTALL_HINT = 'pip install "mlp-arrayapi[tables]" (or pip install pyarrow)'


class _Compute:
    """``pyarrow.compute``, imported when first used: 9 MB that a table of numbers never needs."""

    def __getattr__(self, name):
        import pyarrow.compute as pc

        return getattr(pc, name)


def arrow_modules(path, kind: str):
    """``(pyarrow, pyarrow.compute)`` (the latter imported on first use), or a DataError saying how to install."""
    try:
        import pyarrow as pa
    except ImportError:
        raise DataError(f"{path}: reading {kind} files needs pyarrow: {INSTALL_HINT}") from None
    _fit_address_limit(pa)
    return pa, _Compute()


def _fit_address_limit(pa) -> None:
    """Under an address-space limit (``ulimit -v``, ``prlimit --as``, as some clusters set), allocate Arrow's
    buffers with the system allocator: pyarrow's default (mimalloc) reserves about 1 GiB of addresses up front,
    which such a limit counts as if it were memory in use."""
    try:
        import resource

        limited = resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
    except (ImportError, OSError, ValueError):
        return
    if limited and pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


# -- one Arrow array's values -----------------------------------------------------------------------------
def _valid(chunk) -> np.ndarray | None:
    """The rows of ``chunk`` that hold a value (bool), or None when every row does."""
    n = len(chunk)
    if chunk.null_count == 0:
        return None
    if chunk.null_count == n:
        return np.zeros(n, dtype=bool)
    validity = chunk.buffers()[0]
    return np.unpackbits(np.frombuffer(validity, dtype=np.uint8), count=chunk.offset + n, bitorder="little")[
        chunk.offset :
    ].astype(bool)


def _primitive(chunk, dtype) -> np.ndarray:
    """The values buffer of a primitive Arrow array (no nulls filled) as numpy ``dtype`` (a view)."""
    data = chunk.buffers()[1]
    if data is None:
        return np.zeros(len(chunk), dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=len(chunk), offset=chunk.offset * np.dtype(dtype).itemsize)


def numbers_into(pa, pc, chunk, out: np.ndarray):
    """An Arrow integer, float or decimal array's values as float64 into ``out``, NaN for a null."""
    if pa.types.is_decimal(chunk.type):
        chunk = pc.cast(chunk, pa.float64())
    typ = chunk.type
    if pa.types.is_floating(typ):
        dtype = np.dtype(f"<f{typ.bit_width // 8}")
    else:
        dtype = np.dtype(f"<{'i' if pa.types.is_signed_integer(typ) else 'u'}{typ.bit_width // 8}")
    valid = _valid(chunk)
    if valid is not None and not valid.any():
        out[:] = math.nan
        return
    out[:] = _primitive(chunk, dtype)
    if valid is not None:
        out[~valid] = math.nan


def _is_number(pa, typ) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)


def _is_text(pa, typ) -> bool:
    return pa.types.is_string(typ) or pa.types.is_large_string(typ)


class _TextColumn:
    """Text batches dictionary-encoded into one :class:`CodedBuilder` (each batch trimmed first)."""

    def __init__(self, pa, pc, rows_hint, where):
        self.pa, self.pc, self.where = pa, pc, where
        self.builder = CodedBuilder(rows_hint)

    def add(self, chunk):
        pa, pc = self.pa, self.pc
        if pa.types.is_dictionary(chunk.type):  # already encoded (Parquet's dictionary pages): its own codes
            dictionary = chunk.dictionary
            if not _is_text(pa, dictionary.type):
                dictionary = pc.cast(dictionary, pa.string())
            indices = chunk.indices
            codes = _primitive(indices, np.dtype(f"<i{indices.type.bit_width // 8}")).astype(np.int64)
            valid = _valid(indices)
            if valid is not None:
                codes[~valid] = -1
            self.builder.add(codes, pc.utf8_trim_whitespace(dictionary).to_pylist())
            return
        if pa.types.is_binary(chunk.type) or pa.types.is_large_binary(chunk.type):
            for i, v in enumerate(chunk.to_pylist()):  # bytes are text only when they are UTF-8
                if v is not None:
                    utf8_text(v, f"{self.where}, row {self.builder.n + i + 1}")
            chunk = pc.cast(chunk, pa.string())
        encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(chunk))
        indices = _primitive(encoded.indices, CODE_DTYPE).copy()
        valid = _valid(encoded.indices)
        if valid is not None:
            indices[~valid] = -1
        self.builder.add(indices, encoded.dictionary.to_pylist())

    def finish(self):
        return self.builder.finish()


class _BoolColumn:
    """Boolean batches as codes into the levels ``[False, True]``."""

    def __init__(self, rows_hint):
        self.builder = CodedBuilder(rows_hint)
        self.builder.levels, self.builder.index = [False, True], {("bool", False): 0, ("bool", True): 1}

    def add(self, chunk):
        n = len(chunk)
        data = chunk.buffers()[1]
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=chunk.offset + n, bitorder="little")
        codes = bits[chunk.offset :].astype(CODE_DTYPE)
        valid = _valid(chunk)
        if valid is not None:
            codes[~valid] = -1
        self.builder.add(codes, [False, True])

    def finish(self):
        return self.builder.finish()


class _NumberColumn:
    def __init__(self, pa, pc, rows_hint):
        self.pa, self.pc, self.builder = pa, pc, NumbersBuilder(rows_hint)
        self.integers = True  # every chunk of an integer type

    def add(self, chunk):
        self.integers = self.integers and self.pa.types.is_integer(chunk.type)
        numbers_into(self.pa, self.pc, chunk, self.builder.reserve(len(chunk)))

    def finish(self):
        column = self.builder.finish()
        column.integers = self.integers
        return column


class _NullColumn:
    def __init__(self, rows_hint):
        self.builder = NumbersBuilder(rows_hint)

    def add(self, chunk):
        self.builder.reserve(len(chunk))[:] = math.nan

    def finish(self):
        return self.builder.finish()


class _DateColumn:
    """Arrow dates and timestamps as days since 1970 (UTC for a zoned timestamp) and hours of the (local) day."""

    def __init__(self, pa, pc, rows_hint, typ):
        self.pa, self.pc = pa, pc
        self.days, self.hours = NumbersBuilder(rows_hint), NumbersBuilder(rows_hint)
        self.style = "date" if pa.types.is_date(typ) else ("zoned" if typ.tz else "naive")

    def add(self, chunk):
        pa, pc = self.pa, self.pc
        n, typ = len(chunk), chunk.type
        days, hours = self.days.reserve(n), self.hours.reserve(n)
        if pa.types.is_date(typ):
            days[:] = _primitive(pc.cast(pc.cast(chunk, pa.date32()), pa.int32()), np.int32)
            hours[:] = 0.0
        else:
            unit = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[typ.unit]
            ticks = _primitive(pc.cast(chunk, pa.int64()), np.int64)
            days[:] = ticks / (unit * 86400)
            hours[:] = (
                _primitive(pc.cast(pc.hour(chunk), pa.int64()), np.int64)
                + _primitive(pc.cast(pc.minute(chunk), pa.int64()), np.int64) / 60
                + (
                    _primitive(pc.cast(pc.second(chunk), pa.int64()), np.int64)
                    + _primitive(pc.cast(pc.microsecond(chunk), pa.int64()), np.int64) / 1e6
                    + _primitive(pc.cast(pc.millisecond(chunk), pa.int64()), np.int64) / 1e3
                )
                / 3600
            )
        valid = _valid(chunk)
        if valid is not None:
            days[~valid] = math.nan
            hours[~valid] = math.nan

    def finish(self):
        return Dates(self.days.finish().values, self.hours.finish().values, self.style)


class _Decoded:
    """A dictionary of anything but text (categories of numbers, say): its values, gathered by their own type."""

    def __init__(self, part):
        self.part = part

    def add(self, chunk):
        self.part.add(chunk.dictionary_decode())

    def finish(self):
        return self.part.finish()


class _ObjectColumn:
    """Any other type (times of day, lists, ...): its values' text, dictionary-encoded, for the checks to name."""

    def __init__(self, rows_hint):
        self.builder = CodedBuilder(rows_hint)

    def add(self, chunk):
        values = chunk.to_pylist()
        distinct = {}
        codes = np.array(
            [-1 if v is None else distinct.setdefault(str(v), len(distinct)) for v in values], dtype=CODE_DTYPE
        )
        self.builder.add(codes, list(distinct))

    def finish(self):
        return self.builder.finish()


def _gatherer(pa, pc, typ, rows_hint: int, from_csv: bool, where: str):
    if _is_number(pa, typ):
        return _NumberColumn(pa, pc, rows_hint)
    if pa.types.is_null(typ):
        return _NullColumn(rows_hint)
    if pa.types.is_boolean(typ):
        return _BoolColumn(rows_hint)
    if pa.types.is_dictionary(typ) and not _is_text(pa, typ.value_type):
        return _Decoded(_gatherer(pa, pc, typ.value_type, rows_hint, from_csv, where))
    if _is_text(pa, typ) or pa.types.is_dictionary(typ) or pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return _TextColumn(pa, pc, rows_hint, where)
    if (pa.types.is_date(typ) or pa.types.is_timestamp(typ)) and not from_csv:
        return _DateColumn(pa, pc, rows_hint, typ)
    return _ObjectColumn(rows_hint)


def gaps_of_text(column):
    """A column of trimmed CSV text with the spellings of a gap (:data:`NULLS`) made gaps, and nothing else:
    what a block of a table read block by block gets (whether a column is numbers is decided on all its blocks)."""
    if not isinstance(column, Coded):
        return column
    levels = column.levels
    gap = np.fromiter((isinstance(v, str) and v in NULLS for v in levels), dtype=bool, count=len(levels))
    if not gap.any():
        return column
    keep = np.flatnonzero(~gap)
    remap = np.full(len(levels) + 1, -1, dtype=CODE_DTYPE)
    remap[keep] = np.arange(len(keep), dtype=CODE_DTYPE)
    return Coded(remap[column.codes], [levels[k] for k in keep])


def text_rules(column):
    """A column of trimmed CSV text under the cell rules: gaps (:data:`NULLS`), then numbers when every present
    value is one (:class:`Numbers`), booleans when every one is a boolean spelling, else text (:class:`Coded`).

    The same rules as the standard library's reader applies, on the column's distinct values only.
    """
    if not isinstance(column, Coded):
        return column
    column = gaps_of_text(column)
    levels, codes = column.levels, column.codes
    numbers = level_numbers(levels)
    if not np.isnan(numbers).any():  # every value a number (or none present): a column of numbers
        return Numbers(
            np.concatenate([numbers, [math.nan]])[codes],
            all(isinstance(v, str) and v.lstrip("+-").isdigit() for v in levels),
        )
    if all(isinstance(v, str) and (v in TRUE or v in FALSE) for v in levels):
        truth = np.array([v in TRUE for v in levels] + [False])
        return Coded(np.where(codes >= 0, truth[codes].astype(CODE_DTYPE), -1), [False, True])
    return Coded(codes, levels)


class ArrowColumns:
    """Arrow record batches (of one schema) gathered into typed columns, batch after batch.

    ``rows_hint``: the rows to allocate for (grown if more come).  ``from_csv``: text follows the CSV cell
    rules (:func:`text_rules`; with ``rules="gaps"`` only the spellings of a gap, :func:`gaps_of_text`: a block of
    a table read block by block), and dates stay text (as the standard library's reader reads them).  ``raw``:
    names of text columns left as the file's (trimmed) text, no spelling of a gap made a gap (``--keep``).
    """

    def __init__(self, pa, pc, schema, rows_hint: int, path, from_csv: bool, rules: str = "cells", raw=()):
        self.pa, self.path, self.from_csv, self.raw = pa, path, from_csv, set(raw)
        self.rules = text_rules if rules == "cells" else gaps_of_text
        self.names = [str(n) for n in schema.names]
        self.parts = [
            _gatherer(pa, pc, f.type, rows_hint, from_csv, f"{path}, column {n!r}")
            for f, n in zip(schema, self.names, strict=True)
        ]
        self.n_rows = 0

    def add(self, batch):
        for part, col in zip(self.parts, batch.columns, strict=True):
            part.add(col)
        self.n_rows += batch.num_rows
        self.pa.default_memory_pool().release_unused()  # mimalloc/jemalloc keep freed pages otherwise

    def columns(self) -> list:
        out = []
        for j, part in enumerate(self.parts):
            column = part.finish()
            self.parts[j] = None
            ruled = self.from_csv and isinstance(part, _TextColumn) and self.names[j].strip() not in self.raw
            out.append(self.rules(column) if ruled else column)
        return out


def arrow_column(pa, pc, col, from_csv: bool, where: str):
    """One Arrow (chunked) array as a typed column."""
    part = _gatherer(pa, pc, col.type, len(col), from_csv, where)
    for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        part.add(chunk)
    column = part.finish()
    return text_rules(column) if from_csv and isinstance(part, _TextColumn) else column


# -- Parquet ----------------------------------------------------------------------------------------------
def parquet_names(path: Path) -> list:
    pa, _ = arrow_modules(path, ".parquet")
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as f:
            return [str(n) for n in f.schema_arrow.names]
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: cannot be read as PARQUET ({' '.join(str(e).split())})") from None


def read_parquet(path: Path, columns=None):
    """``(names, columns, n_rows)`` of the Parquet file ``path``: the columns ``columns`` (default all), read one
    column and one row group at a time into typed columns."""
    pa, pc = arrow_modules(path, ".parquet")
    try:
        import pyarrow.parquet as pq

        # text columns stay dictionary-encoded as Parquet stores them: their codes are read, not their strings
        schema = pq.read_schema(path)
        text = [f.name for f in schema if _is_text(pa, f.type)]
        with pq.ParquetFile(path, read_dictionary=text) as f:
            names = [str(n) for n in f.schema_arrow.names]
            twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
            if twice is not None:
                raise DataError(f"{path}: column name {twice!r} appears twice")
            wanted = names if columns is None else [n for n in names if n in set(columns)]
            n_rows = f.metadata.num_rows
            out = []
            for name in wanted:
                field_ = f.schema_arrow.field(name)
                part = _gatherer(pa, pc, field_.type, n_rows, False, f"{path}, column {name!r}")
                for g in range(f.num_row_groups):
                    # by name: read(columns=) matches column paths, so "s.a" also brings a struct column s
                    col = f.read_row_group(g, columns=[name], use_threads=False).column(name)
                    for chunk in col.chunks:
                        part.add(chunk)
                    del col
                out.append(part.finish())
                pa.default_memory_pool().release_unused()
            return wanted, out, n_rows
    except pa.ArrowInvalid as e:
        text = " ".join(str(e).split())
        raise DataError(f"{path}: cannot be read as PARQUET ({text})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
