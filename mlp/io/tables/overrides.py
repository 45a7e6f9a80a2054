"""The overrides of a column's inferred kind, in the words of whoever called: shared by every stage that advises one.

A column can be dropped, read as numbers or read as categories whatever its values suggest: the ``drop``,
``numeric`` and ``categorical`` arguments of :func:`~mlp.io.tables.load_table` and
:func:`~mlp.io.tables.stream_table`.  A message that advises one (``'?' is not a number ...; numeric=['b'] reads
such values as gaps``) writes it with :func:`override`, in the Python API's words; a face with words of its own
(the command line's ``--numeric b``) puts each in its words with :func:`reword_overrides` when it prints.
"""

from __future__ import annotations

import ast
import re

__all__ = ["ANY_COLUMN", "OPTIONS", "override", "reword_overrides"]

#: the overrides, by the kind each asks for
OPTIONS = {"drop": "dropped", "numeric": "numeric", "categorical": "categorical"}
#: the name of :func:`override` for "a column, whichever"
ANY_COLUMN = ...

_QUOTED = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
#: ``numeric=['b']``, ``numeric=[...]``, or ``numeric=`` alone, as :func:`override` writes them
_OVERRIDE = re.compile(
    rf"(?<![\w'\"])({'|'.join(OPTIONS)})=(?:\[({_QUOTED}|\.\.\.)\]|(?=[\s),;]|$))",
)


def override(option: str, name=None) -> str:
    """Override ``option`` (one of :data:`OPTIONS`) of column ``name`` in the Python API's words: ``numeric=['b']``
    (``load_table(..., numeric=['b'])``); :data:`ANY_COLUMN`: ``numeric=[...]``; None: the option, ``numeric=``."""
    if option not in OPTIONS:
        raise ValueError(f"unknown override {option!r}; the overrides are {', '.join(OPTIONS)}")
    if name is None:
        return f"{option}="
    return f"{option}=[{'...' if name is ANY_COLUMN else repr(str(name))}]"


def reword_overrides(text: str, words) -> str:
    """``text`` with each override :func:`override` wrote in it put in other words: ``words(option, name)``, ``name``
    the column's name, :data:`ANY_COLUMN` or None (the option itself), as :func:`override` was given them."""

    def reworded(m):
        option, name = m.group(1), m.group(2)
        return words(option, None if name is None else ANY_COLUMN if name == "..." else ast.literal_eval(name))

    return _OVERRIDE.sub(reworded, text)
