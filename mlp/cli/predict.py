"""``mlp predict``: a saved model's predictions for the rows of a table, as CSV."""
from __future__ import annotations

import sys
from pathlib import Path

from .common import add_sep_option, backend_of_args, refuse_overwrite, write_csv


def add_parser(subparsers, common):
    pr = subparsers.add_parser("predict", parents=[common],
                               help="predictions of a saved model for the rows of a table")
    pr.add_argument("path", help="checkpoint (.safetensors)")
    pr.add_argument("data", help="table file (.csv, .parquet, .npy, .npz); the target column may be absent, and "
                                 "features are matched by the names saved at training")
    pr.add_argument("--out", metavar="PATH", help="write a CSV file, in a folder that exists (default: CSV on "
                                                  "standard output)")
    pr.add_argument("--keep", type=_names_arg, default=[], metavar="COLUMNS",
                    help="copy these input columns (comma-separated, e.g. an id) into the output, before the "
                         "predictions, to join them back on")
    pr.add_argument("--proba", action="store_true", help="class probabilities, one column per class")
    add_sep_option(pr)
    pr.set_defaults(func=run)
    return pr


def run(args) -> int:
    import numpy as np

    from mlp.core.losses import get_loss
    from mlp.io.checkpoint import load_checkpoint
    from mlp.io.tables import numeric_column, read_table

    if args.out and not Path(args.out).parent.is_dir():
        raise ValueError(f"--out {args.out}: the folder {Path(args.out).parent} does not exist (create it first)")
    refuse_overwrite({"--out": args.out}, {"the table": args.data, "the checkpoint": args.path})
    ckpt = load_checkpoint(args.path, backend=backend_of_args(args))
    model, pre = ckpt.model, ckpt.preprocessor
    table = read_table(args.data)
    kept = _kept_columns(table, args.keep)
    if pre is not None:
        X, _ = pre.select(table, release=True)  # the kept columns are copied out already
        del table
        X = pre.transform(X, model.dtype, args.data)
        task = pre.task
    else:  # a model trained on a built-in set: the columns in order, as they are
        X = np.stack([numeric_column(table, n) for n in table.names], axis=1).astype(model.dtype)
        task = "classification"
    if args.proba and task != "classification":
        raise ValueError(f"--proba needs a classifier; {args.path} does regression")
    loss_name = ckpt.loss_name
    loss = get_loss(loss_name) if loss_name else None
    # the output rows are made as they are written (generators), not held as a list of a million small lists
    # (100 MB); the CSV text itself is still made whole before it is written atomically
    n_rows = len(X)
    if task == "regression":
        names = list(pre.targets)
        rows = (v.tolist() for v in pre.values(model.predict_values(X)))
    else:
        classes = pre.classes if pre is not None else list(range(max(2, model.sizes[-1])))
        names = [pre.targets[0] if pre is not None else "prediction"]
        rows = ([classes[int(k)]] for k in model.predict(X, loss=loss))
        if args.proba:
            P = np.asarray(model.predict_proba(X, loss=loss))
            names += [f"proba_{c}" for c in classes]
            # NumPy's shortest round-trip text of the model's own dtype (no float32 noise digits)
            rows = (row + [str(v) for v in p] for row, p in zip(rows, P, strict=True))
    if kept:
        clash = sorted(set(kept) & set(names))
        if clash:
            raise ValueError(f"--keep {clash[0]}: the output already has a column {clash[0]!r} (the model's)")
        names = [*kept, *names]
        rows = ([*(kept[k][i] for k in kept), *row] for i, row in enumerate(rows))
    write_csv(args.out, names, rows)
    if args.out:
        print(f"{n_rows} predictions for {args.data} written to {args.out}", file=sys.stderr, flush=True)
    return 0


def _names_arg(text):
    """``--keep``: column names, comma-separated, none empty."""
    import argparse

    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"--keep takes column names separated by commas, got {text!r}")
    return names


def _kept_columns(table, names) -> dict:
    """``{name: [cell, ...]}`` for ``--keep``, cells as the file had them (whole numbers without ``.0``, missing
    as empty); a name the table lacks is an error that names it and the closest column."""
    import difflib
    import math

    kept = {}
    for name in names:
        if name not in table.names:
            close = difflib.get_close_matches(name, table.names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; its columns: {', '.join(table.names)}"
            raise ValueError(f"--keep {name}: {table.path} has no column {name!r}{hint}")

        def cell(v):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return ""
            if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
                return str(int(v))  # an id read as a number: 17, not 17.0
            return v if isinstance(v, str) else str(v)

        kept[name] = [cell(v.item() if hasattr(v, "item") else v) for v in table.column(name)]
    return kept
