"""Tables read a group of rows at a time: Parquet files (one, a folder, a glob) by row group, CSV by block.

A :class:`Source` is a table too large to read whole.  It is a sequence of *groups* of rows in a fixed order (the
row groups of the Parquet files in name order; the blocks pyarrow's streaming CSV reader gives), numbered
``0..G-1``; :meth:`Source.read` yields the groups asked for as typed :class:`~mlp.io.tables.typed.Table` blocks
(only the columns asked for), so that a process reads its share of a table and nothing else (Parquet; a CSV is
parsed whole by each process, and converted for its share only).  :meth:`Source.fingerprint` says what the table is
(its columns, its groups' sizes, and for Parquet each column chunk's statistics and compressed size from the files'
footers and the first rows of up to 16 of its files, for CSV a hash of sampled bytes), so that processes can check
that they read the same table before training on it.

Needs pyarrow (the ``tables`` extra).
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .arrow import ArrowColumns, arrow_column, arrow_modules
from .cells import current_decimal, decimal_comma_like
from .delimited import csv_header, current_separator, line_finder, sniff_separator
from .typed import Table

__all__ = ["CsvSource", "ParquetSource", "Restart", "Source", "available_memory", "memory_needed", "open_source"]

#: the suffixes of Parquet files a folder's files are chosen by
PARQUET = (".parquet", ".pq")
#: the bytes of a CSV file parsed at a time when it is streamed (one group; a few thousand rows)
CSV_BLOCK = 1 << 20


class Restart:
    """Yielded by :meth:`CsvSource.read` when a column's type, guessed from the first block, did not fit a later
    one: the reading starts again from the first group with that column read as text; what was counted so far is
    to be forgotten."""


class Source:
    """A table read a group of rows at a time (see the module docstring)."""

    path: str
    names: list
    #: rows of each group, in order (known once the table has been read once, for a CSV file)
    group_rows: list
    #: bytes of the files read so far (Parquet: the column chunks read, as the footers give their sizes; CSV: the
    #: whole file each time it is parsed)
    bytes_read: int = 0

    @property
    def n_rows(self) -> int:
        return sum(self.group_rows)

    def read(self, columns, groups=None, types=None):
        """``(group, first row, Table)`` for each group in ``groups`` (default all), in order: only ``columns``.

        ``types``: ``{column: "keep"}`` reads a column as the file's text (Parquet numbers cast to text), ``"label"``
        a target's labels as text (a Parquet file's integers only: its floats and booleans are exact as they are);
        a CSV file also takes ``"text"`` and ``"number"`` (see :meth:`CsvSource.read`)."""
        raise NotImplementedError

    def fingerprint(self) -> dict:
        """``{part: hex digest}`` of what the table is: ``columns``, ``layout`` (its groups' sizes), ``content``."""
        raise NotImplementedError

    def where(self, row: int, column: str | None = None) -> str:
        """``"data.csv, row 17 (line 18), column 'age'"`` for the table's 0-based ``row``."""
        text = f"{self.path}, row {row + 1}"
        if isinstance(self, CsvSource):
            text += f" (line {line_finder(self.file, self.sep)(row)})"
        return text + (f", column {column!r}" if column is not None else "")


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


class ParquetSource(Source):
    """Parquet files read a row group at a time; text columns as Parquet's dictionary codes."""

    def __init__(self, paths, name: str):
        pa, self._pc = arrow_modules(paths[0], ".parquet")
        import pyarrow.parquet as pq

        self._pa, self._pq, self.path, self.paths = pa, pq, name, [Path(p) for p in paths]
        self.groups = []  # (file index, row group index)
        self.group_rows = []
        self.schema = None
        for i, p in enumerate(self.paths):
            try:
                meta = pq.read_metadata(p)
                schema = pq.read_schema(p)
            except (pa.ArrowInvalid, OSError) as e:
                raise DataError(f"{p}: cannot be read as PARQUET ({' '.join(str(e).split())})") from None
            if self.schema is None:
                self.schema = schema
            elif not schema.equals(self.schema):
                raise DataError(
                    f"{p}: its columns ({', '.join(schema.names)}) differ from those of {self.paths[0]} "
                    f"({', '.join(self.schema.names)}); a folder of Parquet files is one table"
                )
            for g in range(meta.num_row_groups):
                self.groups.append((i, g))
                self.group_rows.append(meta.row_group(g).num_rows)
        self.names = [str(n) for n in self.schema.names]
        twice = next((n for i, n in enumerate(self.names) if n in self.names[:i]), None)
        if twice is not None:
            raise DataError(f"{self.path}: column name {twice!r} appears twice")
        self._text = [f.name for f in self.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]

    def read(self, columns, groups=None, types=None):
        pa, pc = self._pa, self._pc
        wanted = set(range(len(self.groups)) if groups is None else groups)
        names = [n for n in self.names if n in set(columns)]
        first, open_file, f = 0, None, None
        try:
            for k, (i, g) in enumerate(self.groups):
                rows = self.group_rows[k]
                if k in wanted:
                    if open_file != i:
                        if f is not None:
                            f.close()
                        f, open_file = self._pq.ParquetFile(self.paths[i], read_dictionary=self._text), i
                    typed = []
                    meta = f.metadata.row_group(g)
                    sizes = {
                        meta.column(c).path_in_schema: meta.column(c).total_compressed_size
                        for c in range(meta.num_columns)
                    }
                    for name in names:  # a column at a time: a row group's column, never the whole row group
                        self.bytes_read += sizes.get(name, 0)
                        col = f.read_row_group(g, columns=[name], use_threads=False).column(name)
                        asked = (types or {}).get(name)
                        if (asked == "keep" and not _text_type(pa, col.type)) or (
                            asked == "label" and pa.types.is_integer(col.type)
                        ):
                            # kept for the output: its exact text; a target's integers as labels: exact past 2**53
                            col = pc.cast(col, pa.string())
                        typed.append(arrow_column(pa, pc, col, False, f"{self.paths[i]}, column {name!r}"))
                        del col
                    pa.default_memory_pool().release_unused()
                    yield k, first, Table(self.path, names, typed, named=True, n_rows=rows, offset=first)
                first += rows
        except pa.ArrowInvalid as e:
            raise DataError(
                f"{self.paths[open_file or 0]}: cannot be read as PARQUET ({' '.join(str(e).split())})"
            ) from None
        finally:
            if f is not None:
                f.close()

    def fingerprint(self) -> dict:
        stats = []
        for p in self.paths:
            meta = self._pq.read_metadata(p)
            for g in range(meta.num_row_groups):
                rg = meta.row_group(g)
                for c in range(rg.num_columns):  # each column chunk's statistics and compressed size
                    col = rg.column(c)
                    s = col.statistics
                    stats.append(
                        (
                            col.total_compressed_size,
                            None if s is None or not s.has_min_max else (s.min, s.max, s.null_count),
                        )
                    )
        return {
            "columns": _digest(str(self.schema)),
            "layout": _digest(self.group_rows),
            "content": _digest([os.path.getsize(p) for p in self.paths], stats, self._sampled_rows()),
        }

    def _sampled_rows(self, files: int = 16, rows: int = 64):
        """The first ``rows`` rows of the first row group of ``files`` of the files (spread over them), as values:
        a few pages read, so that tables alike in every statistic but not in their rows are told apart too."""
        picked = sorted({round(k * (len(self.paths) - 1) / max(1, files - 1)) for k in range(files)})
        out = []
        for i in picked:
            with self._pq.ParquetFile(self.paths[i]) as f:
                if f.metadata.num_rows:
                    batch = next(f.iter_batches(batch_size=rows, row_groups=[0], use_threads=False))
                    out.append([batch.column(c).to_pylist() for c in range(batch.num_columns)])
        return out


def _text_type(pa, typ) -> bool:
    return (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or (pa.types.is_dictionary(typ) and _text_type(pa, typ.value_type))
    )


class CsvSource(Source):
    """A CSV file parsed block by block by pyarrow's streaming reader (:data:`CSV_BLOCK` bytes a block): each
    block one group.  Every process parses the whole file; a block is converted for the process whose group it is."""

    def __init__(self, path: Path, sep=None):
        self._pa, self._pc = arrow_modules(path, ".csv")
        self.path, self.file = str(path), Path(path)
        self.sep = (
            sep or current_separator() or ("\t" if self.file.suffix.lower() == ".tsv" else sniff_separator(self.file))
        )
        self.names = csv_header(self.file, self.sep)
        self.types = {}  # columns read as text after a block showed they are not what the first block said
        self.group_rows = []

    def read(self, columns, groups=None, types=None):
        """As :meth:`Source.read`; ``types``: ``{column: "text", "keep", "label" or "number"}``, columns read as
        that type (the first three: text) from the first block on (a fitted model's columns: a value that is not
        a number is then an error naming it, and the reading never starts over)."""
        import re

        import pyarrow.csv as pacsv

        pa, pc = self._pa, self._pc
        wanted = None if groups is None else set(groups)
        given = {n: pa.string() if t in ("text", "keep", "label") else pa.float64() for n, t in (types or {}).items()}
        while True:
            parse = pacsv.ParseOptions(delimiter=self.sep, newlines_in_values=True)
            reader = None
            try:
                probe = pacsv.open_csv(
                    self.file,
                    parse_options=parse,
                    read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK),
                )
                raw = [str(n) for n in probe.schema.names]
                temporal = {f.name: pa.string() for f in probe.schema if pa.types.is_temporal(f.type)}
                probe.close()
                include = [n for n in raw if n.strip() in set(columns)]
                fixed = {n: given[n.strip()] for n in raw if n.strip() in given}
                # kept columns (--keep) are the file's text, NA and empty too: the other text columns' gaps are
                # then made by the cell rules (gaps_of_text), the numbers' by pyarrow's null values as before
                kept = {n for n, t in (types or {}).items() if t == "keep"}
                convert = pacsv.ConvertOptions(
                    strings_can_be_null=not kept,
                    include_columns=include,
                    decimal_point=current_decimal(),
                    column_types={**temporal, **self.types, **fixed},
                )
                reader = pacsv.open_csv(
                    self.file,
                    parse_options=parse,
                    convert_options=convert,
                    read_options=pacsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK),
                )
                sizes, first = [], 0
                for k, batch in enumerate(reader):
                    rows = batch.num_rows
                    sizes.append(rows)
                    if wanted is None or k in wanted:
                        gathered = ArrowColumns(
                            pa, pc, batch.schema, rows, self.file, from_csv=True, rules="gaps", raw=kept
                        )
                        gathered.add(batch)
                        names = [n.strip() for n in gathered.names]
                        yield (
                            k,
                            first,
                            Table(
                                self.path,
                                names,
                                gathered.columns(),
                                named=True,
                                n_rows=rows,
                                offset=first,
                                lines=line_finder(self.file, self.sep),
                            ),
                        )
                    first += rows
                self.group_rows = sizes
                self.bytes_read += self.file.stat().st_size
                return
            except pa.ArrowInvalid as e:
                found = re.match(
                    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to \w+: invalid value "
                    r"'(.*)'",
                    str(e),
                    re.DOTALL,
                )
                name = raw[int(found.group(1))] if found and int(found.group(1)) < len(raw) else None
                if name is not None and name.strip() in given and found.group(2):
                    row = int(found.group(2)) - 1  # pyarrow counts the header as row 1: the 1-based data row
                    line = line_finder(self.file, self.sep)(row - 1)  # blank lines and quoted line breaks counted
                    comma = (
                        "; it looks like a number with a decimal comma: --decimal , reads it"
                        if decimal_comma_like(found.group(3))
                        else ""
                    )
                    raise DataError(
                        f"{self.path}, row {row} (line {line}), column {name.strip()!r}: "
                        f"{found.group(3)!r} is not a number (the model reads column {name.strip()!r} "
                        f"as numbers{comma})"
                    ) from None
                if name is None or name in self.types:
                    raise DataError(f"{self.path}: cannot be read as CSV ({' '.join(str(e).split())})") from None
                self.types[name] = pa.string()  # read again, that column as text
                yield Restart
            except OSError as e:
                raise DataError(f"{self.path}: cannot be read ({e})") from None
            finally:
                if reader is not None:
                    reader.close()

    def fingerprint(self) -> dict:
        size = self.file.stat().st_size
        h = hashlib.sha256()
        with open(self.file, "rb") as f:  # the head, the tail and 14 places between: 1 MB at most
            for k in range(16):
                f.seek(max(0, min(size - 65536, size * k // 15)))
                h.update(f.read(65536))
        return {"columns": _digest(self.names), "layout": _digest(size), "content": h.hexdigest()[:16]}


def open_source(data, sep=None) -> Source:
    """A table file (Parquet or CSV), a folder of Parquet files or a glob of them, as a :class:`Source`."""
    text = os.fspath(data)
    if any(ch in text for ch in "*?["):
        paths = sorted(p for p in glob.glob(text) if Path(p).suffix.lower() in PARQUET)
        if not paths:
            raise DataError(f"{text}: no Parquet file matches")
        return ParquetSource(paths, text)
    path = Path(text)
    if path.is_dir():
        paths = sorted(p for p in path.iterdir() if p.suffix.lower() in PARQUET and p.is_file())
        if not paths:
            raise DataError(f"{path}: a folder without Parquet files (.parquet, .pq)")
        return ParquetSource(paths, text)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in PARQUET:
        return ParquetSource([path], text)
    if suffix in (".csv", ".tsv"):
        return CsvSource(path, sep)
    raise DataError(
        f"{path}: a table is streamed from Parquet files (a file, a folder of them, a glob) or a CSV "
        f"file, not {suffix or 'a file without a suffix'}"
    )


def memory_needed(data, dtype="float32"):
    """About the bytes a table takes held whole for training (its columns as read, the model's inputs and the
    epoch's shuffled copy of them), from a Parquet file's footer or a CSV file's first block; None when not known."""
    path = Path(os.fspath(data))
    if not path.is_file():
        return None
    item = np.dtype(dtype).itemsize
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET:
            import pyarrow as pa
            import pyarrow.parquet as pq

            meta, schema = pq.read_metadata(path), pq.read_schema(path)
            per_row = sum(
                8 if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)) else 4
                for f in schema
            )
            return meta.num_rows * (per_row + 2.2 * item * len(schema))
        if suffix in (".csv", ".tsv"):
            size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(1 << 20)
            lines = max(1, head.count(b"\n") - 1)
            rows = size * lines / max(1, len(head))
            columns = len(head.split(b"\n", 1)[0].split(b"," if b"," in head[:4096] else b";")) or 1
            return rows * columns * (8 + 2.2 * item)
    except Exception:  # noqa: BLE001 - an estimate: a file that cannot be read says so when it is read
        return None
    return None


def available_memory():
    """Bytes this process can still allocate: the memory the system has available (``MemAvailable``), or less
    under an address-space limit (``ulimit -v``, ``prlimit --as``); None when not known."""
    have = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    have = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            have = min(have if have is not None else limit, max(0, limit - used))
    except (OSError, ValueError, ImportError):
        pass
    return have
