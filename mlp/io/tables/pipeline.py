"""The table pipeline as one line: read -> column kinds -> target and task -> split -> preprocessing -> batches.

Each stage is a module of this folder with one type:

=================  ===============================  ==================================================
stage              module                           gives
=================  ===============================  ==================================================
read               :mod:`~mlp.io.tables.read`       :class:`Table` of typed columns (only those used)
column kinds       :mod:`~mlp.io.tables.kinds`      ``{name: ColumnKind(kind, source, reason)}``
target and task    :mod:`~mlp.io.tables.target`     :class:`Target`: task, classes, ``y``, rows kept
split              :mod:`~mlp.io.tables.split`      training and validation row indices
preprocessing      :mod:`~mlp.io.tables.preprocessing`  :class:`Preprocessor` (fitted; saved in checkpoints)
batches            :mod:`~mlp.io.tables.batches`    the model's inputs, block by block, in its dtype
=================  ===============================  ==================================================

:func:`load_table` runs the first three for a new model and gives a :class:`Dataset`, which fits the
preprocessing (:meth:`Dataset.preprocessor`) and makes inputs and targets (:meth:`Dataset.inputs`,
:meth:`Dataset.encoded_targets`); :func:`load_for` reads a table for a fitted preprocessor (``mlp predict``,
``mlp evaluate``, ``--resume``, ``--val-data``).  ``mlp train``, ``mlp predict``, ``mlp evaluate`` and the
Python API (``mlp.tables``) call these, and nothing in between.

Every problem with the data is a :class:`mlp.core.errors.DataError` naming the file, the row (1-based,
counting data rows; for CSV files also the line) and the column.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlp.core.errors import DataError

from .batches import input_blocks, model_inputs
from .frames import as_table
from .kinds import ColumnKind, KindsOf, asked, infer_kinds, kind_lines
from .overrides import override
from .preprocessing import Preprocessor, feature_names_in
from .read import table_names
from .target import Target, exact_labels, infer_task, read_target, resolve_targets
from .typed import Table
from .values import as_numbers, check_spread

__all__ = ["Dataset", "load_for", "load_table"]


def _names_arg(names) -> list:
    if names is None:
        return []
    return [n.strip() for n in names.split(",") if n.strip()] if isinstance(names, str) else list(names)


@dataclass
class Dataset(KindsOf):
    """A table read for a model: its typed columns, each feature's kind, and the targets.

    ``table`` holds every row of the file (the feature and target columns only); ``target`` the targets of
    the rows that have one (``target.rows``: those rows, None when every row has one).  Row indices handed
    to :meth:`preprocessor`, :meth:`inputs` and :meth:`encoded_targets` count the rows with a target.
    """

    table: object
    kinds: dict
    target: Target
    source: str
    _parsed: tuple | None = field(default=None, repr=False)
    #: a table read for a fitted model (:func:`load_for`): values it does not know are said when parsed
    check: bool = False
    #: ``{column: Coded}``: the columns kept for ``mlp predict``'s output as the file's text (``NA`` and empty too),
    #: where the table's own (read for the model) made gaps of them (:meth:`output_table`)
    kept: dict | None = None

    def output_table(self):
        """:attr:`table` with the kept columns as the file's text (what ``mlp predict --keep`` writes)."""
        if not self.kept:
            return self.table
        t = self.table
        return Table(
            t.path,
            list(t.names),
            [self.kept.get(n, c) for n, c in zip(t.names, t.columns, strict=True)],
            t.named,
            t.line_offset,
            t.lines,
            t.n_rows,
            t.offset,
        )

    # -- what was read (features, dropped: KindsOf) --
    @property
    def targets(self) -> list:
        """The target column names."""
        return self.target.names

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def reason(self) -> str:
        return self.target.reason

    @property
    def classes(self):
        return self.target.classes

    @property
    def y(self) -> np.ndarray:
        """The targets of the rows with one: class indices (into :attr:`classes`) or values."""
        return self.target.y

    @property
    def rows(self):
        """The table rows with a target (None: every row)."""
        return self.target.rows

    @property
    def left_out(self) -> np.ndarray:
        return self.target.left_out

    @property
    def has_target(self) -> bool:
        return self.target.y is not None

    def __len__(self):
        """The rows with a target (every row of a table read for prediction)."""
        return self.table.n_rows if self.target.y is None else len(self.target.y)

    def _table_rows(self, rows):
        """Rows among those with a target -> rows of the table."""
        if rows is None:
            return self.target.rows
        rows = np.asarray(rows)
        return rows if self.target.rows is None else self.target.rows[rows]

    # -- the model's data --
    def preprocessor(self, rows=None, standardize=True, scaling="robust") -> Preprocessor:
        """A :class:`Preprocessor` fitted on ``rows`` (indices among the rows with a target; default all), with
        this table's kinds and classes (those of every row, so that a class seen only in validation rows is
        known); ``scaling``: see :meth:`Preprocessor.fit`."""
        at = self._table_rows(rows)
        y = None
        if self.task == "regression":
            y = self.y if rows is None else self.y[np.asarray(rows)]
        return Preprocessor.fit(
            self.table,
            self.features,
            self.target.names,
            self.task,
            kinds=self.kinds,
            rows=at,
            standardize=standardize,
            classes=self.classes,
            y=y,
            scaling=scaling,
        )

    def _parse(self, pre):
        if self._parsed is None or self._parsed[0] is not pre:
            self._parsed = (pre, pre.parse(self.table, self.check))
        return self._parsed[1]

    def inputs(self, pre: Preprocessor, dtype="float32", rows=None) -> np.ndarray:
        """The model's inputs ``(n, pre.n_inputs())`` in ``dtype`` of ``rows`` (indices among the rows with a
        target; default all), made block by block."""
        at = self._table_rows(rows)
        return model_inputs(pre, self._parse(pre), self.table.n_rows, dtype, at, None, self.source)

    def blocks(self, pre: Preprocessor, dtype="float32"):
        """``(start, inputs)`` block by block over the rows with a target (every row of a table read for
        prediction): the model's inputs made a block at a time (see :func:`input_blocks`)."""
        return input_blocks(pre, self._parse(pre), self.table.n_rows, dtype, self.target.rows, None, self.source)

    def encoded_targets(self, pre: Preprocessor, rows=None) -> np.ndarray:
        """What :func:`mlp.fit` takes for ``rows`` (indices among the rows with a target; default all): class
        indices, or values standardised as ``pre`` says."""
        y = self.y if rows is None else self.y[np.asarray(rows)]
        if self.task == "classification":
            if list(pre.classes) != list(self.classes):
                raise ValueError("the preprocessor's classes are not this table's")
            return y
        return pre.encode(y)

    def release(self):
        """Let go of the table's columns (once the model's inputs are made)."""
        self.table.columns = [None] * len(self.table.columns)
        self._parsed = None

    def lines(self, pre: Preprocessor | None = None, verbose: bool = False, max_levels=None) -> list:
        """What was made of the columns and rows, in words (one line per kind; ``verbose``: per column)."""
        from .encoders import MAX_LEVELS

        columns = {c.name: c for c in pre.columns} if pre is not None else None
        out = kind_lines(self.kinds, columns, verbose, max_levels or MAX_LEVELS)
        if self.left_out is not None and len(self.left_out):
            shown = ", ".join(str(int(i) + 1) for i in self.left_out[:8]) + (", ..." if len(self.left_out) > 8 else "")
            out.append(f"rows left out: {len(self.left_out)} with a missing target (rows {shown})")
        return out


def _names_of(data, sep):
    if hasattr(data, "names") and hasattr(data, "columns") and hasattr(data, "where"):  # a Table
        return list(data.names), data.path
    if hasattr(data, "dtypes") or hasattr(data, "schema"):
        return None, "table"
    return table_names(data, sep), str(data)


def load_table(path, target=None, task=None, categorical=None, numeric=None, drop=None, sep=None) -> Dataset:
    """Read a table and its target, inferring each column's kind and the task, checking both.

    Parameters
    ----------
    path : str, os.PathLike, Table, pandas.DataFrame or pyarrow.Table
    target : str or None
        The target column (comma-separated names: several regression targets); default the last.
    task : {"classification", "regression"} or None
        None: inferred from the target (see :func:`mlp.core.tasks.task_of_target`).
    categorical, numeric, drop : list of str or comma-separated str, optional
        Columns to read as categories, as numbers (text that is not a number: a gap), or to leave out
        (never read from the file); they override the inference (see :mod:`mlp.io.tables.kinds`).
    sep : str, optional
        A CSV file's delimiter (see :func:`mlp.io.tables.read.read_table`).

    Returns
    -------
    Dataset

    Raises
    ------
    mlp.core.errors.DataError
        Any problem of the file or its values (see the module's docstring); a column named in
        ``categorical``, ``numeric`` or ``drop`` that is not there; a classification target with one
        class only; no feature left.
    """
    overrides = {k: _names_arg(v) for k, v in (("categorical", categorical), ("numeric", numeric), ("drop", drop))}
    names, where = _names_of(path, sep)
    table = None
    if names is None:  # a data frame: its columns are at hand
        table = as_table(path, sep)
        names, where = table.names, table.path
    targets = _check_overrides(names, where, target, overrides)
    if table is None:  # a dropped column never leaves the file
        table = as_table(path, sep, columns=[n for n in names if n not in set(overrides["drop"])])
    features = [n for n in table.names if n not in targets]
    kinds = infer_kinds(table, features, **overrides)
    for n in overrides["drop"]:
        kinds[n] = asked("dropped")
    kinds = {n: kinds[n] for n in names if n in kinds}  # in file order
    if not any(k.used for k in kinds.values()):
        raise DataError(
            f"{table.path}: no feature column left: "
            + "; ".join(f"{n!r} {k.said(n)}" for n, k in list(kinds.items())[:5])
        )
    if len(targets) == 1 and not isinstance(path, Table) and names is not None:
        table = exact_labels(table, targets[0], task, path, sep)  # 007 stays 007: labels as the file writes them
    task, reason = infer_task(table, targets, task)
    target_ = read_target(table, targets, task, reason)
    for name, k in kinds.items():  # numbers whose standardisation would overflow, refused at the door
        if k.kind == "numeric":
            check_spread(table, name, as_numbers(table, name, lenient=k.asked))
    return Dataset(table, kinds, target_, table.path)


def _check_overrides(names, where, target, overrides) -> list:
    """The target columns; the columns named by ``overrides`` checked against the table's ``names``."""
    listing = ", ".join(repr(n) for n in names[:20]) + (", ..." if len(names) > 20 else "")
    targets = resolve_targets(names, where, target)
    for option, chosen in overrides.items():
        for n in chosen:
            if n not in names:
                raise DataError(f"{where}: no column {n!r} ({override(option)}); the columns are {listing}")
            if n in targets:
                raise DataError(f"{where}: column {n!r} is the target; {override(option)} names feature columns")
    both = set(overrides["categorical"]) & set(overrides["numeric"])
    if both:
        raise ValueError(f"column {sorted(both)[0]!r} is named both categorical and numeric")
    return targets


def load_for(pre: Preprocessor, data, need_target: bool = False, keep=(), sep=None) -> Dataset:
    """A table read for a fitted preprocessor: its features (by name; by position in a file without names),
    the target when the table has it, and the columns ``keep`` (copied to ``mlp predict``'s output).

    ``need_target``: the target must be there (``mlp evaluate``, ``--resume``, ``--val-data``), and rows
    whose target is missing are left out (a label that is not one of the model's classes is a DataError naming
    its row); else the table is read for prediction, every row, and its target (if any) is not read.
    """
    names, where = _names_of(data, sep)
    if names is not None:
        wanted = [*pre.features, *keep, *(pre.targets if need_target else [])]
        found = feature_names_in(names, wanted)  # None: some are not there by name (by position, or an error)
        table = as_table(data, sep, columns=None if found is None else [n for n in names if n in found.values()])
    else:
        table = as_table(data, sep)
    pre.parse_check(table)  # the features are there (a DataError naming the missing ones)
    kept = None
    if keep and names is not None and str(data).lower().endswith((".csv", ".tsv")):
        from .target import column_text

        columns = list(table.columns)
        for k in keep:  # kept for the output as the file writes them (00042, 9007199254740993), not as numbers
            if k in table.names and not hasattr(columns[table.names.index(k)], "codes"):
                columns[table.names.index(k)] = column_text(data, k, sep)
        table = Table(
            table.path,
            list(table.names),
            columns,
            table.named,
            table.line_offset,
            table.lines,
            table.n_rows,
            table.offset,
        )
        # and NA, null or empty as written: the model reads them as gaps, the output copies them
        kept = {k: column_text(data, k, sep, raw=True) for k in keep if k in table.names}
    kinds = {c.name: ColumnKind(c.kind, "saved", "as the model was trained") for c in pre.columns}
    if need_target:
        has_target = all(t in table.names for t in pre.targets) and (
            table.named or len(table.names) > len(pre.features)
        )
        if not has_target:
            raise DataError(
                f"{table.path}: no target column {', '.join(repr(t) for t in pre.targets)} to evaluate against"
            )
        if (
            pre.task == "classification"
            and all(isinstance(c, str) for c in pre.classes)
            and not isinstance(data, Table)
            and names is not None
        ):
            table = exact_labels(table, pre.targets[0], "classification", data, sep)  # text labels: the file's text
        target_ = read_target(table, pre.targets, pre.task, "as the model was trained", classes=pre.classes)
    else:  # predictions for every row: the target, if there, is not read
        target_ = Target(list(pre.targets), pre.task, "", None, pre.classes, None, np.zeros(0, dtype=np.int64))
    return Dataset(table, kinds, target_, table.path, check=True, kept=kept)
