"""Stage 3 of the table pipeline, target and task: which columns are predicted, what the task is, and the targets.

:func:`resolve_targets` names the target columns (default the last column); :func:`infer_task` says whether
they are classes or values, and why; :func:`read_target` reads them into a :class:`Target`: the class index
of each row (classification) or its values (regression), with the rows whose target is missing left out.
Labels are matched once per distinct value, never once per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlp.core.errors import DataError
from mlp.core.tasks import TASKS, task_of_target

from .cells import label_key, sort_key
from .typed import Numbers
from .values import as_levels, as_numbers, check_spread

__all__ = ["Target", "exact_labels", "infer_task", "labels_of_text", "read_target", "resolve_targets"]


def resolve_targets(names, path, target) -> list:
    """The target column names among ``names`` (a table's columns): ``target`` (a name, or comma-separated
    names), default the last column."""
    names = list(names)
    if target is None:
        if len(names) < 2:
            raise DataError(
                f"{path}: only one column ({names[0]!r}); a table needs feature columns and a target column"
            )
        return [names[-1]]
    chosen = [target] if target in names else [t.strip() for t in str(target).split(",")]
    missing = [t for t in chosen if t not in names]
    if missing:
        listing = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
        raise DataError(f"{path}: no target column {missing[0]!r}; the columns are {listing}")
    if len(chosen) >= len(names):
        raise DataError(f"{path}: every column is a target ({', '.join(chosen)}); no features left")
    return chosen


#: a target of whole numbers with at most this many distinct values may be class labels: read as the file writes them
_LABEL_VALUES = 1000


def _label_text(label) -> str:
    """A label as ``mlp predict`` writes it: text as it is, integers as Python prints them, floats by ``repr``."""
    return repr(label) if isinstance(label, float) else str(label)


def exact_labels(table, name, task=None, source=None, sep=None):
    """``table`` with its column ``name`` (a target of numbers, read from a CSV file or a Parquet file's integers)
    as the file's text when its values do not come back as written (``007``, ``9007199254740993``: past float64's
    exact integers): a label is a number only when every value round-trips exactly.  Only a column that may hold
    class labels (whole numbers, at most :data:`_LABEL_VALUES` distinct values, or ``task`` classification) is read
    again.

    ``source``: the file (default ``table.path``); a table not read from such a file is given back as it is.
    """
    from pathlib import Path

    col = table.column(name)
    path = Path(str(source if source is not None else table.path))
    suffix = path.suffix.lower()
    if not isinstance(col, Numbers) or suffix not in (".csv", ".tsv", ".parquet", ".pq") or not path.is_file():
        return table
    if suffix in (".parquet", ".pq") and not _parquet_integers(path, name):
        return table  # a Parquet file's floats are what they are: only its integers may be past 2**53
    present = col.values[~np.isnan(col.values)]
    if task == "regression" or not present.size or not np.all(present == np.round(present)):
        return table
    distinct = np.unique(present)
    if task != "classification" and len(distinct) > _LABEL_VALUES:
        return table
    text = column_text(path, name, sep)
    if text is None or len(text) != len(col):
        return table
    if not all(isinstance(v, str) for v in labels_of_text(text.levels, "classification").values()):
        return table  # every value comes back exactly as written: numbers
    from .typed import Table

    columns = [text if n == name else c for n, c in zip(table.names, table.columns, strict=True)]
    return Table(
        table.path, list(table.names), columns, table.named, table.line_offset, table.lines, table.n_rows, table.offset
    )


def _parquet_integers(path, name) -> bool:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        return name in schema.names and pa.types.is_integer(schema.field(name).type)
    except Exception:  # noqa: BLE001 - not read as labels: the file's own errors come when it is read
        return False


def labels_of_text(texts, task=None) -> dict:
    """``{text: label}``: the labels of a target read as the file's text (``texts``: its distinct trimmed cells,
    no gap), typed as a whole column is (:func:`mlp.io.tables.arrow.text_rules`): numbers when every one is a
    number, booleans when every one is a boolean spelling, else the text.  Whole numbers stay the file's text
    when one of them does not come back exactly as written (``007``; ``9007199254740993``, past float64's exact
    integers), unless ``task`` is regression or, ``task`` not being classification, they are more than
    :data:`_LABEL_VALUES` distinct values: the rule of :func:`exact_labels`, for a target read a group of rows
    at a time."""
    from .cells import FALSE, TRUE, number_of, python_label

    texts = list(texts)
    numbers = [number_of(t) for t in texts]
    if all(x is not None for x in numbers):
        labels = [python_label(x) for x in numbers]
        whole = all(x == np.round(x) for x in numbers)
        if (
            task == "regression"
            or not whole
            or (task != "classification" and len(set(numbers)) > _LABEL_VALUES)
            or all(_label_text(v) == t for v, t in zip(labels, texts, strict=True))
        ):
            return dict(zip(texts, labels, strict=True))
        return {t: t for t in texts}
    if all(t in TRUE or t in FALSE for t in texts):
        return {t: t in TRUE for t in texts}
    return {t: t for t in texts}


def column_text(path, name, sep=None, raw=False):
    """Column ``name`` of a CSV file as its text (trimmed; the spellings of a gap as gaps), a :class:`Coded`;
    ``raw``: every cell as its text, ``NA`` and empty ones too (a column kept for ``mlp predict``'s output)."""
    from .cells import NULLS
    from .typed import CodedBuilder

    builder = CodedBuilder()
    try:
        import pyarrow  # noqa: F401

        from .sources import open_source

        source = open_source(path, sep)
        for item in source.read([name], types={name: "keep"}):
            _, _, block = item
            col = block.column(name)
            levels = [
                None if not isinstance(v, str) or (v.strip() in NULLS and not raw) else v.strip() for v in col.levels
            ]
            builder.add(col.codes, levels)
        return builder.finish()
    except ImportError:  # the standard library's reader
        from pathlib import Path

        from .delimited import _csv_rows, _separator

        rows = _csv_rows(Path(path), _separator(Path(path), sep))
        header = [h.strip() for h in next(rows)[2]]
        j = header.index(name)
        index, codes = {}, []
        for _, _, row in rows:
            v = row[j].strip()
            codes.append(-1 if v in NULLS and not raw else index.setdefault(v, len(index)))
        from .typed import Coded

        return Coded(np.array(codes, dtype=np.int32), list(index))


def infer_task(table, targets, task=None) -> tuple:
    """``(task, why)``: ``task`` as asked, or inferred from the target column(s) (see :func:`task_of_target`)."""
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        return task, "as asked"
    if len(targets) > 1:
        task, reason = "regression", f"{len(targets)} target columns"
    else:
        col = table.column(targets[0])
        if isinstance(col, Numbers):
            labels, numbers = None, np.unique(col.values[~np.isnan(col.values)])
        else:  # the distinct labels: numbers (a column of numbers as text) or text and booleans
            coded = as_levels(table, targets[0])
            labels = [coded.levels[k] for k in np.flatnonzero(coded.counts())]
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in labels)
            numbers = np.array(labels, dtype=np.float64) if numeric else None
        if not (len(labels) if numbers is None else len(numbers)):
            raise DataError(f"{table.path}, column {targets[0]!r}: every target value is missing")
        if numbers is None:
            task, reason = "classification", f"it holds {len(labels)} distinct text/boolean labels"
        else:
            task, reason = task_of_target(numbers)
    return task, f"inferred: target {', '.join(targets)!r} - {reason}; --task to override"


@dataclass
class Target:
    """The targets of a table's rows.

    ``y``: of the rows with a target (``rows``: their 0-based rows in the table, None when that is every row;
    ``left_out``: the rows whose target is missing), int64 class indices into ``classes`` (classification) or
    float64 values ``(n,)``/``(n, k)`` in the targets' own units (regression).
    """

    names: list
    task: str
    reason: str
    y: np.ndarray
    classes: list | None = None
    rows: np.ndarray | None = None
    left_out: np.ndarray | None = None

    def __len__(self):
        return 0 if self.y is None else len(self.y)


def _kept(table, gaps, names):
    rows, left_out = np.flatnonzero(~gaps), np.flatnonzero(gaps)
    if not len(rows):
        raise DataError(f"{table.path}, column {names[0]!r}: every target value is missing")
    return (rows if len(left_out) else None), left_out


def read_target(table, names, task, reason: str = "", classes=None) -> Target:
    """The targets ``names`` of ``table`` for ``task``: rows without one left out, the rest checked.

    Classification: the labels of every row with one (``classes`` default: their sorted distinct labels; a
    label not among given ``classes`` is a DataError naming its row), at least two; a float label must be
    finite.  Regression: finite numbers whose spread float64 can hold.
    """
    if task == "classification":
        if len(names) > 1:
            raise DataError(f"{table.path}: classification takes one target column, got {', '.join(names)}")
        col = table.column(names[0])
        coded = as_levels(table, names[0])
        if isinstance(col, Numbers):
            bad = np.flatnonzero(np.isinf(col.values))
            if bad.size:
                raise DataError(
                    f"{table.where(int(bad[0]), names[0])}: {col.values[bad[0]]} is not a finite number, "
                    "so not a class label"
                )
        rows, left_out = _kept(table, coded.codes < 0, names)
        used = np.flatnonzero(coded.counts())
        if classes is None:
            classes = sorted((coded.levels[k] for k in used), key=sort_key)
            if len(classes) < 2:
                raise DataError(
                    f"{table.path}, column {names[0]!r}: the target holds one class only "
                    f"({classes[0]!r}); a classifier needs at least two"
                )
        index = {label_key(c): k for k, c in enumerate(classes)}
        of_level = np.array([index.get(label_key(v), -1) for v in coded.levels] + [-1], dtype=np.int64)
        y = of_level[coded.codes]
        if rows is not None:
            y = y[rows]
        unknown = np.flatnonzero(y < 0)
        if unknown.size:
            row = int(unknown[0]) if rows is None else int(rows[unknown[0]])
            raise DataError(
                f"{table.where(row, names[0])}: label {coded.levels[coded.codes[row]]!r} is not one of "
                f"the model's classes {list(classes)!r}"
            )
        return Target(list(names), task, reason, y, list(classes), rows, left_out)
    cols = [as_numbers(table, t, role="target") for t in names]
    Y = cols[0] if len(cols) == 1 else np.stack(cols, axis=1)
    rows, left_out = _kept(table, np.isnan(Y).reshape(len(Y), -1).any(axis=1), names)
    if rows is not None:
        Y = Y[rows]
    for name, col in zip(names, cols, strict=True):
        check_spread(table, name, col, role="target")
    return Target(list(names), task, reason, Y, None, rows, left_out)
