"""CSV and TSV files as named columns: the UTF-8 check, the delimiter, the rows, and the two readers.

What :func:`mlp.io.readers.read_table` calls for ``.csv`` and ``.tsv`` files (see there for the rules).
With pyarrow installed, its CSV reader reads the file (block by block); without it, the standard
library's :mod:`csv` reader does.  Both apply the cell rules of :mod:`mlp.io.cells`, so they give the
same columns; a malformed row is refused naming the row and the line, whichever reader found it.
"""
from __future__ import annotations

import array
import codecs
import math
import contextlib
import contextvars
import csv
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

from .arrays import _arrow_columns, _arrow_modules, _BatchColumns
from .cells import _NULLS, _column_from_text, parse_number

__all__ = ["SEPARATORS", "csv_separator", "sniff_separator"]

#: the delimiters :func:`sniff_separator` chooses from, in the order that breaks ties
SEPARATORS = (",", ";", "\t", "|")

#: the delimiter :func:`mlp.io.readers.read_table` uses when it is given none (set with :func:`csv_separator`)
_SEP = contextvars.ContextVar("mlp_csv_separator", default=None)

_CHUNK = 1 << 20
#: the bytes pyarrow's streaming CSV reader parses at a time: the reader holds a few blocks and their columns
#: (measured on a 78.5 MB CSV: 4 MB blocks held about 100 MB while reading, 512 KB blocks 40 MB, as fast)
_BLOCK = 1 << 19


@contextlib.contextmanager
def csv_separator(sep):
    """Within the block, :func:`~mlp.io.readers.read_table` reads CSV files with delimiter ``sep`` (None: sniffed).

    What ``--sep`` of ``mlp train``, ``mlp evaluate`` and ``mlp predict`` sets, for every table the
    command reads (``--data``, ``--val-data``).
    """
    token = _SEP.set(sep)
    try:
        yield
    finally:
        _SEP.reset(token)


def _read_csv(path: Path, sep):
    """``(names, columns, lines)`` of a CSV file: ``lines(row)`` is the line where 0-based data ``row`` starts.

    ``sep`` None: a tab for ``.tsv`` files, else sniffed.  pyarrow reads the file when it can be imported.
    """
    line_breaks = _check_utf8(path, sep)
    if sep is None:
        sep = "\t" if path.suffix.lower() == ".tsv" else sniff_separator(path)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        names, columns = _read_csv_stdlib(path, sep)
    else:
        names, columns = _read_csv_arrow(path, sep, rows_hint=line_breaks)
    return names, columns, _line_finder(path, sep)


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
    if sep is None:
        sep = "\t" if path.suffix.lower() == ".tsv" else sniff_separator(path)
    for line, row_index, row in _csv_rows(path, sep, errors="surrogateescape"):
        for j, cell in enumerate(row):
            bad = re.search("[\udc80-\udcff]", cell)
            if bad:
                raw = cell.encode("utf-8", "surrogateescape")
                where = (f"{path}, line 1 (the header), column {j + 1}" if row_index < 0
                         else f"{path}, row {row_index + 1} (line {line}), column {j + 1}")
                raise DataError(f"{where}: {raw[:40]!r} is not valid UTF-8 text (byte "
                                f"0x{ord(bad.group()) - 0xDC00:02x}); save the file as UTF-8")
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
                raise DataError(f"{path}, {'the header' if row_index < 0 else f'row {row_index + 2}'} (line "
                                f"{previous + 1}): cannot be read as CSV ({e}); an unbalanced quote \" opens a cell "
                                "that never closes?") from None
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
        text += f"; a quoted cell spans {n + 1} lines from line {line}: an unbalanced quote \"?"
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


def _line_finder(path: Path, sep: str) -> Callable[[int], int]:
    def line_of(row: int) -> int:
        for line, index, _ in _csv_rows(path, sep, errors="replace"):
            if index == row:
                return line
        return row + 2  # pragma: no cover - the row exists: the table was read from this file

    return line_of


# -- the standard library's reader ------------------------------------------------------------------
def _read_csv_stdlib(path: Path, sep: str):
    """``(names, columns)`` without pyarrow: the standard library's reader, numbers parsed by ``parse_number``.

    A column is kept as packed float64 numbers (8 bytes a cell) while every cell is a number or a gap; at its
    first other cell it becomes a column of text, and the texts of its earlier rows are read again from the file
    at the end (a text column from its first row on needs no second reading).  So a table of numbers holds one
    float64 copy, not a Python string per cell.
    """
    rows = _csv_rows(path, sep)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: empty file (a CSV table needs a header line)")
    header = [h.strip() for h in first[2]]
    width = len(header)
    numbers = [array.array("d") for _ in range(width)]  # None once the column holds text
    texts = [None] * width
    since = {}  # column -> the row from which its texts are kept (earlier ones are read again)
    n = 0
    for line, row_index, row in rows:
        if len(row) != width:
            raise _structure_error(path, sep, width, line, row_index, row)
        for j, v in enumerate(row):
            v = v.strip()
            if v in _NULLS:
                v = None
            column = numbers[j]
            if column is not None:
                x = math.nan if v is None else parse_number(v)
                if x is not None:
                    column.append(x)
                    continue
                numbers[j], texts[j], since[j] = None, [], n
            texts[j].append(v)
        n += 1
    if any(since.values()):
        _earlier_texts(path, sep, texts, since)
    columns = []
    for j in range(width):
        if numbers[j] is not None:
            columns.append(np.frombuffer(numbers[j], dtype=np.float64) if len(numbers[j])
                           else np.empty(0, dtype=np.float64))
        else:
            columns.append(_column_from_text(texts[j]))
        numbers[j] = texts[j] = None  # free each column's cells once it is converted
    return header, columns


def _earlier_texts(path: Path, sep: str, texts: list, since: dict):
    """Put before ``texts[j]`` the cells of the rows before ``since[j]`` (columns that turned to text late)."""
    late = {j: [] for j, k in since.items() if k}
    for _, row_index, row in _csv_rows(path, sep):
        if row_index < 0:
            continue
        for j, earlier in late.items():
            if row_index < since[j]:
                v = row[j].strip()
                earlier.append(None if v in _NULLS else v)
        if all(row_index + 1 >= since[j] for j in late):
            break
    for j, earlier in late.items():
        texts[j] = earlier + texts[j]


# -- pyarrow's reader ---------------------------------------------------------------------------------
def _read_csv_arrow(path: Path, sep: str, rows_hint: int = 0):
    """``(names, columns)`` read by pyarrow: block by block, or (when the types change) the whole file at once."""
    pa, pc = _arrow_modules(path, ".csv")
    try:
        import pyarrow.csv as pacsv

        # strings_can_be_null: an empty label is a missing value, not the class "";
        # newlines_in_values: a quoted cell may hold a line break, as the csv module reads it
        parse = pacsv.ParseOptions(delimiter=sep, newlines_in_values=True)
        block, types, tries = _BLOCK, {}, 0
        while True:
            options = {"parse_options": parse,
                       "convert_options": pacsv.ConvertOptions(strings_can_be_null=True, column_types=types)}
            try:
                streamed = _stream_csv(pa, pc, pacsv, path, options, rows_hint, block)
            except pa.ArrowInvalid as e:  # a row (or the header) longer than the block: read in larger blocks
                longer = "straddl" in str(e) or "cannot infer number of columns" in str(e)
                if not longer or block >= path.stat().st_size:
                    raise
                block *= 16
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
        t = pacsv.read_csv(path, **options)  # cannot tell which column: infer the types from all rows at once
    except pa.ArrowInvalid as e:
        located = _scan_structure(path, sep)  # pyarrow names neither row nor line: find them
        if located is not None:
            raise located from None
        text = " ".join(str(e).split())
        raise DataError(f"{path}: cannot be read as CSV ({text})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from None
    names = [str(n) for n in t.column_names]
    arrow_columns = list(t.columns)
    del t  # the list now holds the only references: _arrow_columns releases each column once converted
    return names, _arrow_columns(pa, pc, names, arrow_columns, True, path)


def _stream_csv(pa, pc, pacsv, path: Path, options: dict, rows_hint: int = 0, block: int = 1 << 19):
    """``(names, columns)`` of a CSV file read block by block into :class:`~mlp.io.arrays._BatchColumns`
    allocated for ``rows_hint`` rows (the file's line count, from the UTF-8 pass): one float64 copy of the
    numbers is held.  (Reading the whole file first held 2.5 to 3 times that in Arrow's buffers.)

    A :class:`_Retype` when a later block does not fit the column types the first block showed (a column of
    integers that turns to text): the caller then reads it again with that column's type given.
    """
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(use_threads=False, block_size=block),
                            **options)
    gathered = _BatchColumns(pa, pc, reader.schema, rows_hint, path, from_csv=True)
    try:
        for batch in reader:
            gathered.add(batch)
            batch = None
    except pa.ArrowInvalid as e:
        if "conversion error" in str(e):
            return _Retype(str(e), reader.schema)
        raise
    finally:
        reader.close()
    return gathered.names, gathered.columns()


class _Retype:
    """Which column did not fit the type pyarrow guessed from a CSV's first block (``name`` None: not known)."""

    def __init__(self, message: str, schema):
        self.names = [str(n) for n in schema.names]
        found = re.match(r"In CSV column #(\d+): CSV conversion error to (\w+)", message)
        j = int(found.group(1)) if found else -1
        unique = len(set(self.names)) == len(self.names)
        self.name = self.names[j] if 0 <= j < len(self.names) and unique else None
        self.was_integer = bool(found) and found.group(2).startswith(("int", "uint"))
