"""Your own data: tables from files or data frames to a model's inputs, in one straight line of stages.

read (:mod:`~mlp.io.tables.read`: typed columns, only those used) -> column kinds
(:mod:`~mlp.io.tables.kinds`) -> target and task (:mod:`~mlp.io.tables.target`) -> split
(:mod:`~mlp.io.tables.split`) -> preprocessing fit/transform (:mod:`~mlp.io.tables.preprocessing`) -> batches
(:mod:`~mlp.io.tables.batches`); :mod:`~mlp.io.tables.pipeline` strings them together (:func:`load_table`,
:func:`load_for`).  Columns keep their types from the file to the model: numbers as float64 arrays, text and
booleans as integer codes into their distinct values, dates as days and hours; never an array of Python objects.

This package is public as ``mlp.tables``::

    ds = mlp.tables.load_table("patients.csv", target="diagnosis")   # kinds inferred, task inferred
    train, val = mlp.tables.split_indices(len(ds), 0.2, labels=ds.y)
    pre = ds.preprocessor(train)                                       # fitted on the training rows
    X, y = ds.inputs(pre, rows=train), ds.encoded_targets(pre, rows=train)
    model = mlp.build_mlp([pre.n_inputs(), 100, pre.n_outputs()], input_layers=pre.input_layers())
    X_new = pre.transform("new_patients.csv")                         # any table: a file, DataFrame, Arrow table
"""

from .cells import NULLS, decimal_point, parse_number
from .delimited import SEPARATORS, csv_separator, sniff_separator
from .encoders import MAX_CODES, MAX_LEVELS, Column
from .frames import as_table, from_frame
from .kinds import KINDS, ColumnKind, infer_kinds, kind_lines
from .overrides import ANY_COLUMN, override, reword_overrides
from .pipeline import Dataset, load_for, load_table
from .preprocessing import PREPROCESSING_FORMAT, Preprocessor, class_labels, embedding_dim
from .read import FORMATS, read_table, table_names
from .sources import open_source
from .split import split_indices
from .stream import StreamedRows, StreamedTable, stream_table
from .target import Target, infer_task, read_target, resolve_targets
from .typed import Coded, Dates, Numbers, Table, column_of
from .values import check_cast, check_spread, numeric_column

__all__ = [
    "ANY_COLUMN",
    "FORMATS",
    "KINDS",
    "MAX_CODES",
    "MAX_LEVELS",
    "NULLS",
    "PREPROCESSING_FORMAT",
    "SEPARATORS",
    "Coded",
    "Column",
    "ColumnKind",
    "Dataset",
    "Dates",
    "Numbers",
    "Preprocessor",
    "StreamedRows",
    "StreamedTable",
    "Table",
    "Target",
    "as_table",
    "check_cast",
    "check_spread",
    "class_labels",
    "column_of",
    "csv_separator",
    "decimal_point",
    "embedding_dim",
    "from_frame",
    "infer_kinds",
    "infer_task",
    "kind_lines",
    "load_for",
    "load_table",
    "numeric_column",
    "parse_number",
    "open_source",
    "override",
    "read_table",
    "read_target",
    "resolve_targets",
    "reword_overrides",
    "sniff_separator",
    "split_indices",
    "stream_table",
    "table_names",
]
