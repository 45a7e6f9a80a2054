"""``mlp predict``: a saved model's predictions for the rows of a table, as CSV."""
from __future__ import annotations

import sys

from .common import backend_of_args, saved_loss, write_csv


def add_parser(subparsers, common):
    pr = subparsers.add_parser("predict", parents=[common],
                               help="predictions of a saved model for the rows of a table")
    pr.add_argument("path", help="checkpoint (.safetensors)")
    pr.add_argument("data", help="table file (.csv, .parquet, .npy, .npz); the target column may be absent, and "
                                 "features are matched by the names saved at training")
    pr.add_argument("--out", metavar="PATH", help="write a CSV file (default: CSV on standard output)")
    pr.add_argument("--proba", action="store_true", help="class probabilities, one column per class")
    pr.set_defaults(func=run)
    return pr


def run(args) -> int:
    import numpy as np

    from mlp.core.losses import get_loss
    from mlp.io.checkpoint import load_checkpoint
    from mlp.io.tables import numeric_column, read_table

    ckpt = load_checkpoint(args.path, backend=backend_of_args(args))
    model, pre = ckpt.model, ckpt.preprocessor
    table = read_table(args.data)
    if pre is not None:
        X, _ = pre.select(table)
        X = pre.transform(X, model.dtype)
        task = pre.task
    else:  # a model trained on a built-in set: the columns in order, as they are
        X = np.stack([numeric_column(table, n) for n in table.names], axis=1).astype(model.dtype)
        task = "classification"
    if args.proba and task != "classification":
        raise ValueError(f"--proba needs a classifier; {args.path} does regression")
    loss_name = saved_loss(ckpt)
    loss = get_loss(loss_name) if loss_name else None
    if task == "regression":
        names = list(pre.targets)
        rows = pre.values(model.predict_values(X)).tolist()
    else:
        classes = pre.classes if pre is not None else list(range(max(2, model.sizes[-1])))
        names = [pre.targets[0] if pre is not None else "prediction"]
        rows = [[classes[int(k)]] for k in model.predict(X, loss=loss)]
        if args.proba:
            P = np.asarray(model.predict_proba(X, loss=loss))
            names += [f"proba_{c}" for c in classes]
            # NumPy's shortest round-trip text of the model's own dtype (no float32 noise digits)
            rows = [row + [str(v) for v in p] for row, p in zip(rows, P, strict=True)]
    write_csv(args.out, names, rows)
    if args.out:
        print(f"{len(rows)} predictions for {args.data} written to {args.out}", file=sys.stderr, flush=True)
    return 0
