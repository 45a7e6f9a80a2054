"""``mlp evaluate``: a saved model's metrics on a built-in test split or on a table with the target column."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import backend_of_args, block_metrics, check_data, format_metrics, is_table, load_builtin, metrics


def add_parser(subparsers, common):
    from mlp.io.datasets import DATASETS

    e = subparsers.add_parser(
        "evaluate",
        parents=[common],
        help="metrics of a saved model on a built-in test split or on a table with the target column",
    )
    e.add_argument("path", help="checkpoint (.safetensors)")
    e.add_argument(
        "--data",
        default=None,
        metavar="DATA",
        help=f"{', '.join(DATASETS)} (its test split) or a table file with the target column; default: "
        "the built-in data set the model was trained on (a model trained on a table needs --data: "
        "its training file holds the rows it learnt)",
    )
    e.add_argument("--quiet", action="store_true")
    from .common import add_sep_option

    add_sep_option(e)  # read by mlp.cli.main for every table the command reads
    from .table_data import add_decimal_option

    add_decimal_option(e)  # --decimal ,
    e.set_defaults(func=run)
    return e


def run(args) -> int:
    """The metrics, with what the table's values told on the way (unseen categories, ...) said after them."""
    from .table_data import decimal_of, said_notices

    with decimal_of(args), said_notices():
        return _run(args)


def _run(args) -> int:
    from mlp.io.checkpoint import load_checkpoint

    from .table_data import saved_decimal

    ckpt = load_checkpoint(args.path, backend=backend_of_args(args))
    extra = ckpt.metadata.get("extra", {})
    loss_name = ckpt.loss_name
    pre = ckpt.preprocessor
    saved_decimal(args, pre)  # no --decimal: the decimal point the model's table was read with (--decimal , kept)
    trained_on = extra.get("data")
    if args.data is None and (pre is not None or is_table(trained_on)):
        # its own file would score the training rows along with the held-out ones, and look better than it is
        raise ValueError(
            f"{args.path} was trained on the table {trained_on or '(unknown)'}: give --data TABLE "
            f"with rows it was not trained on (and the target column); the training file's score "
            f"would count the rows it learnt"
        )
    args.data = args.data or trained_on or "mnist"
    check_data(args.data)
    if is_table(args.data):
        from mlp.io.tables import load_for
        from mlp.io.tables.stream import by_groups, groups_for

        if pre is None:
            raise ValueError(
                f"{args.path} was trained on {extra.get('data', 'a built-in data set')} without "
                f"preprocessing metadata; evaluate it with --data {extra.get('data', 'mnist')}"
            )
        sep, counted = getattr(args, "sep", None), [0]
        if by_groups(args.data):  # Parquet or CSV: read, encoded and measured a group at a time
            blocks = ((X, y) for _, X, y in groups_for(pre, args.data, ckpt.model.dtype, need_target=True, sep=sep))
        else:
            ds = load_for(pre, args.data, need_target=True, sep=sep)
            y = ds.encoded_targets(pre)
            # the inputs made and measured a block at a time: one block's inputs held, not the table's
            blocks = ((X, y[start : start + len(X)]) for start, X in ds.blocks(pre, ckpt.model.dtype))

        def counting(blocks):
            for X, y in blocks:
                counted[0] += len(X)
                if len(X):
                    yield X, y

        result = block_metrics(ckpt.model, counting(blocks), loss_name, pre.task, pre)
        where, task = f"{args.data} ({counted[0]} samples)", pre.task
    else:
        if not Path(args.data).suffix and pre is not None:
            raise ValueError(f"{args.path} was trained on a table; evaluate it on a table file with the target column")
        _, (X, y) = load_builtin(args, args.quiet)
        where, task = f"{args.data} test ({len(X)} samples)", "classification"
        result = metrics(ckpt.model, X, y, loss_name, task, pre)
    if task == "regression" and getattr(pre, "target_mean", None) is not None:
        # mse above is in the targets' units; the loss is the training objective on the standardised targets,
        # a different number that must not be called "mse" on the same line
        loss = result.pop("loss")
        line = format_metrics(result) + f", training loss ({loss_name or 'mse'} of the standardised targets) {loss:.4f}"
    else:
        line = format_metrics(result, loss_name)
    print(f"{args.path} on {where}, backend {ckpt.model.backend.name}: {line}", flush=True)
    if task == "classification":
        from .common import baseline_warning, class_lines

        # what accuracy hides: each class's precision and recall, and a warning when one answer does as well
        for text in [] if args.quiet else class_lines(result):
            print(text, flush=True)
        warning = baseline_warning(result)
        if warning:
            print(warning, file=sys.stderr, flush=True)
    return 0
