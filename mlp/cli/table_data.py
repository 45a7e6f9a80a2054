"""The table path of ``mlp train``: read, check, split and preprocess a table of the user's own."""
from __future__ import annotations

from .common import say


def table_data(args, config, ckpt, quiet, default_val_split):
    """A table read, checked, split and preprocessed: ``((X, y), val, (name, eval set), task, Preprocessor)``.

    Each column's kind is inferred (or named with ``--categorical``, ``--numeric``, ``--drop``) and said,
    one line per kind (``--verbose``: per column); rows whose target is missing are left out and said.
    When resuming (``ckpt`` given), the saved preprocessing is applied, never new statistics.
    """
    from mlp.io.tables import class_labels, load_table, read_table

    sep = getattr(args, "sep", None)
    if ckpt is not None:
        pre = ckpt.preprocessor
        if pre is None:
            raise ValueError(f"{args.resume}: the checkpoint has no preprocessing for the table {args.data}")
        read = (lambda p: read_table(p, sep)) if sep is not None else read_table
        X_all, y_all = pre.select(read(args.data), need_target=True, release=True)  # the same rows as the first run
        source, task, file_rows = args.data, pre.task, None
        classes = pre.classes
    else:
        ds = load_table(args.data, args.target, args.task, categorical=args.categorical, numeric=args.numeric,
                        drop=args.drop, sep=sep)
        X_all, y_all, source, task, file_rows = ds.X, ds.y, ds.source, ds.task, ds.rows
        config.update(target=",".join(ds.targets), task=task, standardize=not args.no_standardize,
                      val_data=args.val_data,
                      val_split=(args.val_split if args.val_split is not None
                                 else (0.0 if args.val_data else default_val_split)),
                      categorical=args.categorical, numeric=args.numeric, drop=args.drop)
        if not quiet:
            left = f" ({len(ds.left_out)} left out: target missing)" if len(ds.left_out) else ""
            say(f"{ds.source}: {len(ds.X)} rows{left}, {len(ds.features)} features, target "
                f"{', '.join(ds.targets)}; task {task} ({ds.reason})")
        # the classes of the whole file, so that a class seen only in the validation rows is still known
        classes = class_labels(ds.y) if task == "classification" else None
    fraction = config.get("val_split") or 0.0
    if config.get("val_data") and fraction:
        raise ValueError("give --val-data or --val-split, not both")
    train_idx, val_idx = _split(y_all, task, classes, fraction, config["seed"], source)
    if ckpt is None:
        pre = ds.preprocessor(train_idx, standardize=config["standardize"], classes=classes)
        if not quiet:
            for line in ds.lines(pre, verbose=getattr(args, "verbose", False)):
                say(line)
            say(_scaling_line(config["standardize"], task, pre))
    dtype = config["dtype"]
    # the model's inputs in its dtype, made block by block from the parsed table (no float64 copy of a split);
    # messages name the file's rows (file_rows: those with a target, when some were left out)
    X = pre.transform(X_all, dtype, source, rows=train_idx, row_numbers=file_rows)
    y = pre.encode(y_all[train_idx], source)
    val = None
    if val_idx is not None:
        val = (pre.transform(X_all, dtype, source, rows=val_idx, row_numbers=file_rows),
               pre.encode(y_all[val_idx], source))
    elif config.get("val_data"):
        X_val, y_val = pre.select(read_table(config["val_data"]), need_target=True, release=True)
        val = (pre.transform(X_val, dtype, config["val_data"]), pre.encode(y_val, config["val_data"]))
    evaluation = ("validation", val) if val is not None else ("training", (X, y))
    return (X, y), val, evaluation, task, pre


def _split(y_all, task, classes, fraction, seed, source):
    """``(training rows, validation rows or None)`` of the table: a share ``fraction`` held out, stratified by
    class for a classifier (every row for training when ``fraction`` is 0)."""
    import numpy as np

    from mlp.io.tables import Preprocessor, split_indices

    if not fraction:
        return np.arange(len(y_all)), None
    strata = Preprocessor(["_"], ["_"], task, classes).encode(y_all, source) if task == "classification" else None
    return split_indices(len(y_all), fraction, seed, strata, source)


def _scaling_line(standardize, task, pre) -> str:
    scaled = ("numbers standardised with the training split's mean and standard deviation" if standardize
              else "not standardised (--no-standardize)")
    if task == "regression" and standardize:
        scaled += " (the target too; predictions come back in its units)"
    if standardize:
        scaled += "; --no-standardize turns this off"
    inputs = f"{pre.n_inputs()} model inputs from {len(pre.features)} columns"
    return f"features: {inputs}, {scaled}" + (f"; classes {pre.classes}" if pre.classes is not None else "")
