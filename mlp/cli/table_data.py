"""The table path of ``mlp train``: the table pipeline (:mod:`mlp.io.tables`) called as one line, and said."""

from __future__ import annotations

import contextlib
import time

from .common import flag_words, say
from .settings import Reading, TrainData


def add_decimal_option(parser):
    """``--decimal ,``: numbers written with a decimal comma (``46,2``): ``mlp train``, ``evaluate``, ``predict``."""
    parser.add_argument(
        "--decimal",
        metavar="CHAR",
        type=decimal_arg,
        default=None,
        help="the decimal point of numbers in a CSV table: '.' (default) or ',' (46,2; the "
        "delimiter is then another character, e.g. --sep ';')",
    )


def decimal_arg(text):
    """``--decimal`` text: ``.`` or ``,``."""
    import argparse

    if text not in (".", ","):
        raise argparse.ArgumentTypeError(f"--decimal must be '.' or ',', got {text!r}")
    return text


def saved_decimal(args, pre):
    """Without ``--decimal``, the decimal point the checkpoint's table was read with (``mlp train --decimal ,``,
    stored in its preprocessing) is the one its tables are read with, from here to the end of :func:`decimal_of`'s
    block: the same kind of file reads the same way.  An explicit ``--decimal`` wins."""
    from mlp.io.tables.cells import use_decimal

    if getattr(args, "decimal", None) is None and getattr(pre, "decimal", ".") != ".":
        use_decimal(pre.decimal)


def decimal_of(args):
    """The context in which every table of the command is read with ``--decimal`` (see
    :func:`mlp.io.tables.decimal_point`)."""
    from mlp.io.tables import decimal_point

    return decimal_point(getattr(args, "decimal", None))


@contextlib.contextmanager
def said_notices():
    """Within the block, what a table's values tell without stopping (categories never seen in training, text of a
    date column read as gaps; :mod:`mlp.io.tables.notices`) is counted per column and said at the end, one line
    each on standard error: ``mlp: warning: new.csv, column 'colour': 3 of 120 rows hold categories ...``."""
    import sys

    from mlp.io.tables.notices import collected

    with collected() as notices:
        try:
            yield notices
        finally:
            for line in notices.lines():
                print(f"mlp: warning: {line}", file=sys.stderr, flush=True)


def table_data(args, reading: Reading, ckpt, quiet) -> TrainData:
    """A table read as ``reading`` says, checked, split and preprocessed: a :class:`TrainData` of arrays.

    Each column's kind is inferred (or named with ``--categorical``, ``--numeric``, ``--drop``) and said,
    one line per kind (``--verbose``: per column); rows whose target is missing are left out and said.
    When resuming (``ckpt`` given), the saved preprocessing is applied, never new statistics.  Running out of
    memory on the way is a DataError naming the file, its size and what holds memory, not a bare MemoryError.
    """
    try:
        with decimal_of(args), said_notices():  # --val-data, --resume: values the model does not know, said
            return _table_data(args, reading, ckpt, quiet)
    except MemoryError:
        from pathlib import Path

        from mlp.core.errors import DataError

        size = Path(args.data).stat().st_size / 2**20
        raise DataError(
            f"{args.data}: out of memory while reading and encoding the table ({size:,.0f} MiB on "
            f"disk; it takes about 8 bytes a number and 4 a text cell, then the model's inputs, "
            f"{reading.dtype}, about as much again): read it block by block (--stream), "
            "or leave columns out (--drop)"
        ) from None


def _resumed_preprocessor(args, ckpt):
    """The preprocessing a resumed run reads its table with (and the checkpoint's decimal point, set for it)."""
    pre = ckpt.preprocessor
    if pre is None:
        raise ValueError(f"{args.resume}: the checkpoint has no preprocessing for the table {args.data}")
    saved_decimal(args, pre)  # --resume: the table is read with the checkpoint's decimal point
    return pre


def _table_data(args, reading: Reading, ckpt, quiet) -> TrainData:
    from mlp.io.tables import load_for, load_table

    sep = getattr(args, "sep", None)
    start = time.perf_counter()
    if ckpt is not None:
        pre = _resumed_preprocessor(args, ckpt)
        ds = load_for(pre, args.data, need_target=True, sep=sep)  # the same rows as the first run
    else:
        ds = load_table(
            args.data,
            args.target,
            args.task,
            categorical=args.categorical,
            numeric=args.numeric,
            drop=args.drop,
            sep=sep,
        )
        if not quiet:
            left = f" ({len(ds.left_out)} left out: target missing)" if len(ds.left_out) else ""
            say(
                f"{ds.source}: {len(ds)} rows{left}, {len(ds.features)} features, target "
                f"{', '.join(ds.target.names)}; task {ds.task} ({ds.reason})"
            )
    read_seconds = time.perf_counter() - start
    task = ds.task
    fraction = reading.val_split or 0.0
    if reading.val_data and fraction:
        raise ValueError("give --val-data or --val-split, not both")
    train_idx, val_idx = _split(ds, fraction, reading.seed)
    start = time.perf_counter()
    if ckpt is None:
        pre = ds.preprocessor(train_idx, standardize=reading.standardize, scaling=reading.scaling)
        if not quiet:
            for line in ds.lines(pre, verbose=getattr(args, "verbose", False)):
                say(flag_words(line))
            say(_scaling_line(task, pre))
    dtype = reading.dtype
    # the model's inputs in its dtype, made block by block from the typed columns (a code per categorical column)
    X, y = ds.inputs(pre, dtype, rows=train_idx), ds.encoded_targets(pre, train_idx)
    val = None
    if val_idx is not None:
        val = (ds.inputs(pre, dtype, rows=val_idx), ds.encoded_targets(pre, val_idx))
    elif reading.val_data:
        vds = load_for(pre, reading.val_data, need_target=True, sep=sep)
        val = (vds.inputs(pre, dtype), vds.encoded_targets(pre))
    ds.release()
    if not quiet:
        say(
            f"table: read {read_seconds:.2f} s, preprocessing {time.perf_counter() - start:.2f} s "
            f"({X.nbytes / 2**20:,.0f} MiB of model inputs, {X.shape[1]} a row)"
        )
    evaluation = ("validation", val) if val is not None else ("training", (X, y))
    return TrainData((X, y), val, evaluation, task, pre, ",".join(ds.target.names), reading)


def _split(ds, fraction, seed):
    """``(training rows, validation rows or None)`` among the table's rows with a target: a share ``fraction``
    held out, stratified by class for a classifier (every row for training when ``fraction`` is 0)."""
    import numpy as np

    from mlp.io.tables import split_indices

    if not fraction:
        return np.arange(len(ds)), None
    strata = ds.y if ds.task == "classification" else None
    return split_indices(len(ds), fraction, seed, strata, ds.source)


def _scaling_line(task, pre) -> str:
    if pre.scaling == "robust":
        scaled = (
            f"numbers centred on the training split's median, divided by its interquartile range and smoothly "
            f"clipped to +-{pre.clip:g}"
        )
    elif pre.scaling == "standard":
        scaled = "numbers standardised with the training split's mean and standard deviation"
    else:
        scaled = "numbers not scaled (--no-standardize)"
    if task == "regression" and pre.target_mean is not None:
        scaled += " (the target standardised; predictions come back in its units)"
    if task == "regression" and pre.target_low is not None:
        scaled += "; predictions kept within the training targets' range"
    if pre.scaling is not None:
        scaled += f"; --scaling {'standard' if pre.scaling == 'robust' else 'robust'} or --no-standardize to change"
    inputs = f"{pre.n_inputs()} model inputs from {len(pre.features)} columns"
    return f"features: {inputs}, {scaled}" + (f"; classes {pre.classes}" if pre.classes is not None else "")


def stream_data(args, reading: Reading, ckpt, quiet, comm) -> TrainData:
    """A table streamed (read block by block into an encoded copy on disk; see :mod:`mlp.io.tables.stream`):
    a :class:`TrainData` of the training rows (``y`` None), the validation rows and the table, as
    :func:`table_data` gives arrays.  Each process reads its share; only rank 0 says what was done.  Memory holds a
    group of rows at a time: running out of it is a DataError naming the largest group and what to do."""
    try:
        with decimal_of(args), said_notices():
            return _stream_data(args, reading, ckpt, quiet, comm)
    except MemoryError:
        from mlp.core.errors import DataError
        from mlp.io.tables.sources import CsvSource, open_source

        source = open_source(args.data, getattr(args, "sep", None))
        if isinstance(source, CsvSource):  # blocks of 1 MiB: what is left is the columns and the window
            raise DataError(
                f"{args.data}: out of memory while streaming it, a block of rows at a time: leave "
                "columns out (--drop), or free memory"
            ) from None
        largest = max(source.group_rows, default=0)
        raise DataError(
            f"{args.data}: out of memory while streaming it, a row group at a time (its largest row "
            f"group holds {largest:,} rows): write it with smaller row groups "
            "(pyarrow.parquet.write_table(..., row_group_size=100_000)), or leave columns out "
            "(--drop)"
        ) from None


def _stream_data(args, reading: Reading, ckpt, quiet, comm) -> TrainData:
    from mlp.io.tables import stream_table
    from mlp.io.tables.stream import stream_for

    sep = getattr(args, "sep", None)
    if reading.val_data:
        raise ValueError(
            "a streamed table holds out its own validation rows (--val-split); --val-data is for a table in memory"
        )
    start = time.perf_counter()
    if ckpt is not None:
        pre = _resumed_preprocessor(args, ckpt)
        table = stream_for(pre, args.data, val_split=reading.val_split or 0.0, seed=reading.seed, comm=comm, sep=sep)
    else:
        table = stream_table(
            args.data,
            args.target,
            args.task,
            categorical=args.categorical,
            numeric=args.numeric,
            drop=args.drop,
            sep=sep,
            val_split=reading.val_split,
            seed=reading.seed,
            comm=comm,
        )
        if not quiet:
            left = f" ({table.left_out} left out: target missing)" if table.left_out else ""
            say(
                f"{table.source.path}: {table.rows_with_target} rows{left} in {len(table.source.group_rows)} "
                f"groups, {len(table.features)} features, target {', '.join(table.targets)}; task {table.task} "
                f"({table.reason}); streamed, {comm.size} process{'es' if comm.size > 1 else ''}"
            )
        pre = table.preprocessor(standardize=reading.standardize, scaling=reading.scaling)
        if not quiet:
            for line in table.lines(pre, verbose=getattr(args, "verbose", False)):
                say(flag_words(line))
            say(_scaling_line(pre.task, pre))
    read_seconds = time.perf_counter() - start
    start = time.perf_counter()
    table.encode(pre, reading.dtype)  # its cache goes with an error on the way (StreamedTable.encode)
    try:
        train, val = table.rows("train"), table.rows("val")
    except BaseException:
        table.close()
        raise
    read = comm.allreduce(float(table.source.bytes_read), op="max") if comm.size > 1 else table.source.bytes_read
    if not quiet:
        say(
            f"table: read {read_seconds:.2f} s, preprocessing {time.perf_counter() - start:.2f} s (the model's "
            f"inputs on disk: {len(train)} training and {len(val)} validation rows, {train.width} a row, held out "
            f"by a keyed hash of the row number; {read / 2**20:,.0f} MiB of the table's files read"
            + (", by the process that read most" if comm.size > 1 else "")
            + ")"
        )
    val = val if len(val) else None
    evaluation = ("validation", val) if val is not None else ("training", train)
    return TrainData((train, None), val, evaluation, pre.task, pre, ",".join(table.targets), reading, table)
