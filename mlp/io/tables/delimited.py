"""CSV and TSV files as typed columns: the UTF-8 check, the delimiter, the rows, and the two readers.

What :func:`mlp.io.tables.read.read_table` calls for ``.csv`` and ``.tsv`` files (see there for the rules).
With pyarrow installed, its CSV reader reads the file (block by block, text dictionary-encoded as it comes);
without it, the standard library's :mod:`csv` reader does.  Both apply the cell rules of
:mod:`mlp.io.tables.cells`, so they give the same columns; a malformed row is refused naming the row and the
line, whichever reader found it.  Only the columns asked for are converted (``columns=``): the others are
parsed for their delimiters and never kept.
"""

from __future__ import annotations

import array
import codecs
import contextlib
import contextvars
import csv
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .arrow import ArrowColumns, arrow_column, arrow_modules, text_rules
from .cells import NULLS, current_decimal, parse_number
from .typed import CODE_DTYPE, Coded, Numbers

__all__ = [
    "SEPARATORS",
    "csv_header",
    "csv_separator",
    "current_separator",
    "line_finder",
    "read_csv",
    "sniff_separator",
]

#: the delimiters :func:`sniff_separator` chooses from, in the order that breaks ties
SEPARATORS = (",", ";", "\t", "|")

#: the delimiter :func:`mlp.io.tables.read.read_table` uses when it is given none (set with :func:`csv_separator`)
_SEP = contextvars.ContextVar("mlp_csv_separator", default=None)

_CHUNK = 1 << 20
#: the bytes pyarrow's streaming CSV reader parses at a time: the reader holds a few blocks and their columns
#: (measured on a 78.5 MB CSV: 4 MB blocks held about 100 MB while reading, 512 KB blocks 40 MB, as fast)
_BLOCK = 1 << 19


def current_separator():
    """The delimiter set with :func:`csv_separator` (None: sniffed)."""
    return _SEP.get()


@contextlib.contextmanager
def csv_separator(sep):
    """Within the block, :func:`~mlp.io.tables.read.read_table` reads CSV files with delimiter ``sep`` (None: sniffed).

    What ``--sep`` of ``mlp train``, ``mlp evaluate`` and ``mlp predict`` sets, for every table the
    command reads (``--data``, ``--val-data``).
    """
    token = _SEP.set(sep)
    try:
        yield
    finally:
        _SEP.reset(token)


def _separator(path: Path, sep):
    sep = sep if sep is not None else ("\t" if path.suffix.lower() == ".tsv" else sniff_separator(path))
    check_decimal(path, sep)
    return sep


def check_decimal(path, sep):
    """A DataError when the decimal comma (``--decimal ,``) is also the file's delimiter."""
    if sep == "," and current_decimal() == ",":
        raise DataError(
            f"{path}: the delimiter is ',' and so is the decimal point (--decimal ,); a file with "
            "decimal commas separates its cells with another character (--sep ';')"
        )


def csv_header(path: Path, sep=None) -> list:
    """The column names of a CSV file's header line (trimmed), or a DataError for an empty file."""
    first = next(_csv_rows(path, _separator(path, sep), errors="replace"), None)
    if first is None:
        raise DataError(f"{path}: empty file (a CSV table needs a header line)")
    return [h.strip() for h in first[2]]


def read_csv(path: Path, sep, columns=None):
    """``(names, columns, n_rows, lines)`` of a CSV file: the typed columns named in ``columns`` (default all),
    and ``lines(row)``, the line where 0-based data ``row`` starts.

    ``sep`` None: a tab for ``.tsv`` files, else sniffed.  pyarrow reads the file when it can be imported.
    """
    line_breaks = _check_utf8(path, sep)
    sep = _separator(path, sep)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        names, typed, n_rows = _read_csv_stdlib(path, sep, columns)
    else:
        names, typed, n_rows = _read_csv_arrow(path, sep, rows_hint=line_breaks, columns=columns)
        names = [n.strip() for n in names]  # as the standard library's reader names them
    return names, typed, n_rows, line_finder(path, sep)


# -- bytes, delimiter, structure ------------------------------------------------------------------------
def _check_utf8(path: Path, sep) -> int:
    """Decode the whole file as UTF-8 in chunks (constant memory); locate the first invalid byte.

    Returns the number of line feeds: at most one more than the data rows, a size to allocate columns for.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line_feeds = 0
    with open(path, "rb") as f:
        try:
            while True:
                chunk = f.read(_CHUNK)
                decoder.decode(chunk, final=not chunk)
                if not chunk:
                    return line_feeds
                line_feeds += chunk.count(b"\n")
        except UnicodeDecodeError:
            pass
    sep = _separator(path, sep)
    for line, row_index, row in _csv_rows(path, sep, errors="surrogateescape"):
        for j, cell in enumerate(row):
            bad = re.search("[\udc80-\udcff]", cell)
            if bad:
                raw = cell.encode("utf-8", "surrogateescape")
                where = (
                    f"{path}, line 1 (the header), column {j + 1}"
                    if row_index < 0
                    else f"{path}, row {row_index + 1} (line {line}), column {j + 1}"
                )
                raise DataError(
                    f"{where}: {raw[:40]!r} is not valid UTF-8 text (byte "
                    f"0x{ord(bad.group()) - 0xDC00:02x}); save the file as UTF-8"
                )
    raise DataError(f"{path}: not valid UTF-8 text; save the file as UTF-8")  # pragma: no cover


def sniff_separator(path) -> str:
    """The delimiter of a CSV file: the most frequent of ``,`` ``;`` tab ``|`` in its header line.

    Quoted text is not counted; a header without any of them (one column) is read with ``,``.
    """
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    line, quoted = [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "\r\n":
            break
        elif not quoted:
            line.append(ch)
    counts = {s: line.count(s) for s in SEPARATORS}
    best = max(SEPARATORS, key=lambda s: (counts[s], -SEPARATORS.index(s)))
    return best if counts[best] else ","


def _csv_rows(path: Path, sep: str, errors: str = "strict", spaces: bool = False):
    """``(line, row index, cells)`` for the header (row index -1) and each data row, skipping blank lines
    and (unless ``spaces``) lines of spaces only in a table of several columns: the rows the standard
    library's reader reads, so that their index is the data row's everywhere (its cells, its line).

    ``line`` is the 1-based line where the row starts, counting blank lines and the lines of quoted cells.
    """
    with open(path, newline="", encoding="utf-8-sig", errors=errors) as f:
        reader = csv.reader(f, delimiter=sep)
        row_index, previous, width = -1, 0, None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise DataError(
                    f"{path}, {'the header' if row_index < 0 else f'row {row_index + 2}'} (line "
                    f'{previous + 1}): cannot be read as CSV ({e}); an unbalanced quote " opens a cell '
                    "that never closes?"
                ) from None
            start, previous = previous + 1, reader.line_num
            if not row:  # a blank line is not a row (as pyarrow reads it)
                continue
            if width is None:
                width = len(row)
            elif not spaces and width > 1 and len(row) == 1 and not row[0].strip():
                continue  # a line of spaces only is not a row (of a table of one column, it is a gap)
            yield start, row_index, row
            row_index += 1


def _structure_error(path: Path, sep: str, width: int, line: int, row_index: int, row: list) -> DataError:
    where = f"{path}, row {row_index + 1} (line {line})"
    text = f"{where}: {len(row)} value{'s' if len(row) != 1 else ''}, but the header has {width} columns"
    spans = [c for c in row if "\n" in c or "\r" in c]
    if spans:
        n = max(c.count("\n") for c in spans)
        text += f'; a quoted cell spans {n + 1} lines from line {line}: an unbalanced quote "?'
    elif len(row) < width:
        text += f" (a missing delimiter {'tab' if sep == chr(9) else repr(sep)}?)"
    else:
        text += " (an extra delimiter, or a value that needs quotes?)"
    return DataError(text)


def _scan_structure(path: Path, sep: str):
    """The first row whose width differs from the header's, as a DataError, or None."""
    rows = _csv_rows(path, sep, spaces=True)  # pyarrow refuses a line of spaces: name it
    first = next(rows, None)
    if first is None:
        return None
    width = len(first[2])
    for line, row_index, row in rows:
        if len(row) != width:
            return _structure_error(path, sep, width, line, row_index, row)
    return None


def line_finder(path: Path, sep: str) -> Callable[[int], int]:
    def line_of(row: int) -> int:
        for line, index, _ in _csv_rows(path, sep, errors="replace"):
            if index == row:
                return line
        return row + 2  # pragma: no cover - the row exists: the table was read from this file

    return line_of


# -- the standard library's reader ------------------------------------------------------------------
def _read_csv_stdlib(path: Path, sep: str, columns=None):
    """``(names, columns, n_rows)`` without pyarrow: the standard library's reader, numbers parsed by
    ``parse_number``.

    A column is kept as packed float64 numbers (8 bytes a cell) while every cell is a number or a gap; at its
    first other cell it becomes a column of text codes (each distinct text once, a 4-byte code a row), and the
    texts of its earlier rows are read again from the file at the end (a text column from its first row on
    needs no second reading).  So a table of numbers holds one float64 copy, and a column of text its codes,
    never a Python string per cell.  Columns not in ``columns`` are skipped.
    """
    rows = _csv_rows(path, sep)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: empty file (a CSV table needs a header line)")
    header = [h.strip() for h in first[2]]
    width = len(header)
    wanted = list(range(width)) if columns is None else [j for j, h in enumerate(header) if h in set(columns)]
    numbers = {j: array.array("d") for j in wanted}  # None once the column holds text
    integers = dict.fromkeys(wanted, True)  # every number written without a point or exponent
    codes, index = {}, {}  # the text columns' codes and their distinct texts
    since = {}  # column -> the row from which its codes are kept (earlier ones are read again)
    n, nan, nulls = 0, math.nan, NULLS
    for line, row_index, row in rows:
        if len(row) != width:
            raise _structure_error(path, sep, width, line, row_index, row)
        for j in wanted:
            v = row[j].strip()
            column = numbers[j]
            if column is not None:
                if v in nulls:
                    column.append(nan)
                    continue
                x = parse_number(v)
                if x is not None:
                    column.append(x)
                    if integers[j] and not v.lstrip("+-").isdigit():
                        integers[j] = False
                    continue
                numbers[j], codes[j], index[j], since[j] = None, array.array("i"), {}, n
            if v in nulls:
                codes[j].append(-1)
            else:
                known = index[j]
                code = known.get(v)
                if code is None:
                    code = known[v] = len(known)
                codes[j].append(code)
        n += 1
    if any(since.values()):
        _earlier_texts(path, sep, codes, index, since)
    typed = []
    for j in wanted:
        if numbers[j] is not None:
            typed.append(
                Numbers(
                    np.frombuffer(numbers[j], dtype=np.float64) if len(numbers[j]) else np.empty(0, dtype=np.float64),
                    integers[j],
                )
            )
        else:
            column = (
                np.frombuffer(codes[j], dtype=np.int32).astype(CODE_DTYPE)
                if len(codes[j])
                else np.empty(0, dtype=CODE_DTYPE)
            )
            typed.append(text_rules(Coded(column, list(index[j]))))
        numbers[j] = codes[j] = index[j] = None  # free each column's cells once it is converted
    return [header[j] for j in wanted], typed, n


def _earlier_texts(path: Path, sep: str, codes: dict, index: dict, since: dict):
    """Put before ``codes[j]`` the codes of the rows before ``since[j]`` (columns that turned to text late)."""
    late = {j: array.array("i") for j, k in since.items() if k}
    for _, row_index, row in _csv_rows(path, sep):
        if row_index < 0:
            continue
        for j, earlier in late.items():
            if row_index < since[j]:
                v = row[j].strip()
                if v in NULLS:
                    earlier.append(-1)
                    continue
                known = index[j]
                code = known.get(v)
                if code is None:
                    code = known[v] = len(known)
                earlier.append(code)
        if all(row_index + 1 >= since[j] for j in late):
            break
    for j, earlier in late.items():
        codes[j] = earlier + codes[j]


# -- pyarrow's reader ---------------------------------------------------------------------------------
def _read_csv_arrow(path: Path, sep: str, rows_hint: int = 0, columns=None):
    """``(names, columns, n_rows)`` read by pyarrow: block by block, or (when the types change in a way that
    does not name the column) the whole file at once."""
    pa, pc = arrow_modules(path, ".csv")
    try:
        import pyarrow.csv as pacsv

        # strings_can_be_null: an empty label is a missing value, not the class "";
        # newlines_in_values: a quoted cell may hold a line break, as the csv module reads it
        parse = pacsv.ParseOptions(delimiter=sep, newlines_in_values=True)
        block, types, tries, include, file_names = _BLOCK, {}, 0, None, None
        while True:
            options = {
                "parse_options": parse,
                "convert_options": pacsv.ConvertOptions(
                    strings_can_be_null=True,
                    column_types=types,
                    decimal_point=current_decimal(),
                    include_columns=include or [],
                ),
            }
            try:
                streamed = _stream_csv(pa, pc, pacsv, path, options, rows_hint, block, columns, include, file_names)
            except pa.ArrowInvalid as e:  # a row (or the header) longer than the block: read in larger blocks
                longer = "straddl" in str(e) or "cannot infer number of columns" in str(e)
                if not longer or block >= path.stat().st_size:
                    raise
                block *= 16
                continue
            if isinstance(streamed, _Reopen):  # the columns asked for, and dates as text: known from the schema
                types.update(streamed.types)
                include, file_names = streamed.include, streamed.names
                continue
            if not isinstance(streamed, _Retype):
                return streamed
            # a column's type, guessed from the first block, does not fit a later one: read it again as
            # float64 (integers that turn out to have fractions) or as text (whose cells follow the stdlib
            # reader's rules, numbers included), and stream again; held memory stays one copy
            tries += 1
            if streamed.name is None or tries > 2 * len(streamed.names):
                break
            types[streamed.name] = pa.float64() if streamed.was_integer and streamed.name not in types else pa.string()
        # cannot tell which column: infer the types from all rows at once, dates and times as text
        t = pacsv.read_csv(path, **options)
        temporal = {f.name: pa.string() for f in t.schema if pa.types.is_temporal(f.type)}
        if temporal:
            options["convert_options"].column_types = {**types, **temporal}
            t = pacsv.read_csv(path, **options)
    except pa.ArrowInvalid as e:
        located = _scan_structure(path, sep)  # pyarrow names neither row nor line: find them
        if located is not None:
            raise located from None
        text = " ".join(str(e).split())
        raise DataError(f"{path}: cannot be read as CSV ({text})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    names = [str(n) for n in t.column_names]
    arrow_columns, n_rows = list(t.columns), t.num_rows
    del t
    typed = []
    for j in range(len(arrow_columns)):  # each Arrow column released once converted
        col, arrow_columns[j] = arrow_columns[j], None
        typed.append(arrow_column(pa, pc, col, True, f"{path}, column {names[j]!r}"))
        del col
    pa.default_memory_pool().release_unused()
    return names, typed, n_rows


class _Reopen:
    """Open the CSV again with these column ``types`` and ``include``d columns (learnt from its schema, whose
    column ``names`` are the file's)."""

    def __init__(self, types: dict, include, names):
        self.types, self.include, self.names = types, include, names


def _stream_csv(
    pa,
    pc,
    pacsv,
    path: Path,
    options: dict,
    rows_hint: int = 0,
    block: int = 1 << 19,
    columns=None,
    include=None,
    file_names=None,
):
    """``(names, columns, n_rows)`` of a CSV file read block by block into :class:`ArrowColumns` allocated for
    ``rows_hint`` rows (the file's line count, from the UTF-8 pass): one float64 copy of the numbers is held,
    and text as codes.  (Reading the whole file first held 2.5 to 3 times that in Arrow's buffers.)

    A :class:`_Reopen` when the schema shows what to read differently (the columns asked for, ``columns``, by
    their names in the file; dates and times, which stay text as the standard library's reader reads them);
    a :class:`_Retype` when a later block does not fit the column types the first block showed (a column of
    integers that turns to text): the caller then reads it again with that column's type given.
    ``file_names``: the names of every column of the file (pyarrow's messages number the file's columns).
    """
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(use_threads=False, block_size=block), **options)
    try:
        schema = reader.schema
        file_names = file_names or [str(n) for n in schema.names]
        temporal = {
            f.name: pa.string()
            for f in schema
            if pa.types.is_temporal(f.type) and f.name not in options["convert_options"].column_types
        }
        if columns is not None and include is None:
            wanted = set(columns)
            return _Reopen(temporal, [f.name for f in schema if f.name.strip() in wanted], file_names)
        if temporal:
            return _Reopen(temporal, include, file_names)
        gathered = ArrowColumns(pa, pc, schema, rows_hint, path, from_csv=True)
        for batch in reader:
            gathered.add(batch)
            batch = None
    except pa.ArrowInvalid as e:
        if "conversion error" in str(e):
            return _Retype(str(e), file_names)
        raise
    finally:
        reader.close()
    return gathered.names, gathered.columns(), gathered.n_rows


class _Retype:
    """Which column did not fit the type pyarrow guessed from a CSV's first block (``name`` None: not known).

    pyarrow says ``In CSV column #1: Row #3002: CSV conversion error to int64: invalid value '1.5'``, the column
    numbered among the file's ``names`` (whichever columns were asked for).
    """

    def __init__(self, message: str, names):
        self.names = list(names)
        found = re.match(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to (\w+)", message)
        j = int(found.group(1)) if found else -1
        unique = len(set(self.names)) == len(self.names)
        self.name = self.names[j] if 0 <= j < len(self.names) and unique else None
        self.was_integer = bool(found) and found.group(2).startswith(("int", "uint"))
