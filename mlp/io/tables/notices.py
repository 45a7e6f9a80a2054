"""What a table's reading tells the user without stopping: values of a new table that the model reads otherwise
than the file says (categories never seen in training, text read as gaps), counted and said once per column.

A stage calls :func:`notice`; within :func:`collected` (what ``mlp predict`` and ``mlp evaluate`` run in) the counts
of every block of rows add up and :meth:`Notices.lines` gives one line per column and kind of notice at the end;
outside it, each is a :class:`TableWarning` at once (the Python API's way of saying it).
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings

__all__ = ["Notices", "TableWarning", "collected", "notice"]


class TableWarning(UserWarning):
    """Values of a table read otherwise than written (see the module docstring)."""


class Notices:
    """Notices counted per ``(path, column, what)``: rows, of how many, the first row and a few examples."""

    def __init__(self):
        self.entries = {}

    def add(self, path, column, what, rows, total, first, examples, tail):
        entry = self.entries.get((path, column, what))
        if entry is None:
            self.entries[(path, column, what)] = [rows, total, first, list(examples), tail]
            return
        entry[0] += rows
        entry[1] += total
        for e in examples:
            if len(entry[3]) < 5 and e not in entry[3]:
                entry[3].append(e)

    def lines(self) -> list:
        return [_line(path, column, what, *entry) for (path, column, what), entry in self.entries.items()]


def _line(path, column, what, rows, total, first, examples, tail) -> str:
    shown = ", ".join(repr(e) for e in examples[:5]) + (", ..." if len(examples) > 5 else "")
    return f"{path}, column {column!r}: {rows} of {total} rows {what} ({shown}; first at {first}){tail}"


_CURRENT = contextvars.ContextVar("mlp_table_notices", default=None)


@contextlib.contextmanager
def collected():
    """Within the block, notices are counted (yielded: :class:`Notices`) rather than warned one by one."""
    notices = Notices()
    token = _CURRENT.set(notices)
    try:
        yield notices
    finally:
        _CURRENT.reset(token)


def notice(path, column, what, rows, total, first, examples, tail=""):
    """Say that ``rows`` of ``total`` rows of ``column`` ``what`` (e.g. "hold categories not seen in training"),
    the first at ``first`` (``"row 3 (line 4)"``), with ``examples`` of the values, and ``tail`` (what was done)."""
    notices = _CURRENT.get()
    if notices is not None:
        notices.add(path, column, what, rows, total, first, examples, tail)
    else:
        warnings.warn(_line(path, column, what, rows, total, first, list(examples), tail), TableWarning, stacklevel=3)
