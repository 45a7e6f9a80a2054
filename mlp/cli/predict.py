"""``mlp predict``: a saved model's predictions for the rows of a table, as CSV."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import add_sep_option, backend_of_args, csv_field, refuse_overwrite, write_csv


def add_parser(subparsers, common):
    pr = subparsers.add_parser("predict", parents=[common], help="predictions of a saved model for the rows of a table")
    pr.add_argument("path", help="checkpoint (.safetensors)")
    pr.add_argument(
        "data",
        help="table file (.csv, .parquet, .npy, .npz); the target column may be absent, and "
        "features are matched by the names saved at training",
    )
    pr.add_argument(
        "--out", metavar="PATH", help="write a CSV file, in a folder that exists (default: CSV on standard output)"
    )
    pr.add_argument(
        "--keep",
        type=_names_arg,
        default=[],
        metavar="COLUMNS",
        help="copy these input columns (comma-separated, e.g. an id) into the output, before the "
        "predictions, to join them back on",
    )
    pr.add_argument("--proba", action="store_true", help="class probabilities, one column per class")
    add_sep_option(pr)
    from .table_data import add_decimal_option

    add_decimal_option(pr)
    pr.set_defaults(func=run)
    return pr


def run(args) -> int:
    """The predictions, with what the table's values told on the way said after them (:func:`said_notices`)."""
    from .table_data import decimal_of, said_notices

    with decimal_of(args), said_notices():  # the checkpoint's decimal point once it is loaded (saved_decimal)
        return _run(args)


def _run(args) -> int:
    import numpy as np

    from mlp.core.losses import get_loss
    from mlp.io.checkpoint import load_checkpoint
    from mlp.io.tables import load_for, numeric_column, read_table
    from mlp.io.tables.stream import by_groups, groups_for

    from .table_data import saved_decimal

    if args.out and not Path(args.out).parent.is_dir():
        raise ValueError(f"--out {args.out}: the folder {Path(args.out).parent} does not exist (create it first)")
    refuse_overwrite({"--out": args.out}, {"the table": args.data, "the checkpoint": args.path})
    ckpt = load_checkpoint(args.path, backend=backend_of_args(args))
    model, pre = ckpt.model, ckpt.preprocessor
    saved_decimal(args, pre)  # no --decimal: the decimal point the model's table was read with (--decimal , kept)
    task = pre.task if pre is not None else "classification"
    if args.proba and task != "classification":
        raise ValueError(f"--proba needs a classifier; {args.path} does regression")
    loss = get_loss(ckpt.loss_name).bind(model.K) if ckpt.loss_name else None
    _check_kept_names(args.data, args.keep, getattr(args, "sep", None))
    sep = getattr(args, "sep", None)
    if pre is not None and by_groups(args.data):  # Parquet or CSV: read, encoded and written a group at a time
        groups = ((table, [(0, X)]) for table, X, _ in groups_for(pre, args.data, model.dtype, keep=args.keep, sep=sep))
    elif pre is not None:
        ds = load_for(pre, args.data, keep=args.keep)  # the features and the kept columns only
        groups = [(ds.output_table(), ds.blocks(pre, model.dtype))]  # kept columns: the file's text
    else:  # a model trained on a built-in set: the columns in order, as they are
        table = read_table(args.data)
        X = np.stack([numeric_column(table, n) for n in table.names], axis=1).astype(model.dtype)
        groups = [(table, [(0, X)])]
    if task == "regression":
        names = list(pre.targets)
    else:
        classes = pre.classes if pre is not None else list(range(max(2, model.sizes[-1])))
        labels = np.array([csv_field(_label_text(c)) for c in classes])  # indexed by the predicted classes
        names = [pre.targets[0] if pre is not None else "prediction"] + (
            [f"proba_{c}" for c in classes] if args.proba else []
        )
    clash = sorted(set(args.keep) & set(names))
    if clash:
        raise ValueError(f"--keep {clash[0]}: the output already has a column {clash[0]!r} (the model's)")

    counted = [0]

    def rows():  # one forward pass a block: labels and probabilities from the same outputs
        for table, blocks in groups:
            kept = {name: kept_fields(table, name) for name in args.keep}
            for start, X in blocks:
                yield [*(fields(start, start + len(X)) for fields in kept.values()), *predictions(X)]
                counted[0] += len(X)

    def predictions(X) -> list:
        Y = model.outputs(X)
        if task == "regression":
            return [_number_fields(v) for v in pre.values(model.backend.to_numpy(Y)).T]
        index = np.asarray(model.backend.to_numpy(model.classes(Y, loss)), dtype=np.int64)
        columns = [labels[index].tolist()]
        if args.proba:  # NumPy's shortest round-trip text of the model's own dtype (no float32 noise)
            columns += [_number_fields(p) for p in np.asarray(model.backend.to_numpy(model.probabilities(Y, loss))).T]
        return columns

    write_csv(args.out, [*args.keep, *names], rows())
    if args.out:
        print(f"{counted[0]} predictions for {args.data} written to {args.out}", file=sys.stderr, flush=True)
    return 0


def _names_arg(text):
    """``--keep``: column names, comma-separated, none empty."""
    import argparse

    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"--keep takes column names separated by commas, got {text!r}")
    return names


def _label_text(v) -> str:
    """A class label as the CSV writes it: text as it is, numbers as Python prints them."""
    return repr(v) if isinstance(v, float) else str(v)


def _number_fields(values) -> list:
    """Numbers as their shortest round-trip text in their own dtype (float32 stays short: 0.1, not 0.10000000149)."""
    import numpy as np

    return np.asarray(values).astype(str).tolist()


def _check_kept_names(data, names, sep):
    """A ``--keep`` name the table lacks is an error that names it and the closest column."""
    import difflib

    from mlp.io.tables import table_names

    if not names:
        return
    columns = table_names(data, sep)
    for name in names:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; its columns: {', '.join(columns)}"
            raise ValueError(f"--keep {name}: {data} has no column {name!r}{hint}")


def kept_fields(table, name):
    """``fields(start, stop)``: the CSV fields of rows ``start..stop-1`` of column ``name`` for ``--keep``, cells
    as the file had them (whole numbers without ``.0``, missing as empty; a text's field made once per distinct
    value), made a block at a time."""
    import numpy as np

    from mlp.io.tables import Numbers
    from mlp.io.tables.values import as_levels

    col = table.column(name)
    if isinstance(col, Numbers):

        def numbers(start, stop):
            v = col.values[start:stop]
            whole = np.isfinite(v) & (v == np.round(v)) & (np.abs(v) < 2**53)
            out = v.astype(str)
            out = np.where(whole, np.where(whole, v, 0).astype(np.int64).astype(str), out)
            return np.where(np.isnan(v), "", out).tolist()

        return numbers
    coded = as_levels(table, name, column=col) if not hasattr(col, "codes") else col
    fields = np.array([csv_field(str(v)) for v in coded.levels] + [""])

    def texts(start, stop):
        return fields[coded.codes[start:stop]].tolist()

    return texts
