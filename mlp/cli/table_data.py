"""The table path of ``mlp train``: read, check, split and preprocess a table of the user's own."""
from __future__ import annotations

from .common import say


def table_data(args, config, ckpt, quiet, default_val_split):
    """A table read, checked, split and preprocessed: ``((X, y), val, (name, eval set), task, Preprocessor)``.

    When resuming (``ckpt`` given), the saved preprocessing is applied, never new statistics.
    """
    import numpy as np

    from mlp.io.tables import Preprocessor, class_labels, load_table, read_table, split_indices

    if ckpt is not None:
        pre = ckpt.preprocessor
        if pre is None:
            raise ValueError(f"{args.resume}: the checkpoint has no preprocessing for the table {args.data}")
        ds = load_table(args.data, ",".join(pre.targets), pre.task)
    else:
        ds = load_table(args.data, args.target, args.task)
    task = ds.task
    if ckpt is None:
        config.update(target=",".join(ds.targets), task=task, standardize=not args.no_standardize,
                      val_data=args.val_data,
                      val_split=(args.val_split if args.val_split is not None
                                 else (0.0 if args.val_data else default_val_split)))
        if not quiet:
            say(f"{ds.source}: {len(ds.X)} rows, {len(ds.features)} features, target "
                f"{', '.join(ds.targets)}; task {task} ({ds.reason})")
    # the classes of the whole file, so that a class seen only in the validation rows is still known
    classes = class_labels(ds.y) if task == "classification" else None
    fraction = config.get("val_split") or 0.0
    if config.get("val_data") and fraction:
        raise ValueError("give --val-data or --val-split, not both")
    train_idx, val_idx = np.arange(len(ds.X)), None
    if fraction:
        strata = None
        if task == "classification":
            strata = Preprocessor(ds.features, ds.targets, task, classes).encode(ds.y, ds.source)
        train_idx, val_idx = split_indices(len(ds.X), fraction, config["seed"], strata, ds.source)
    if ckpt is None:
        pre = Preprocessor.fit(ds.X[train_idx], ds.y[train_idx], ds.features, ds.targets, task,
                               standardize=config["standardize"], classes=classes)
        if not quiet:
            say(_scaling_line(config["standardize"], task, pre))
    dtype = config["dtype"]
    X, y = pre.transform(ds.X[train_idx], dtype), pre.encode(ds.y[train_idx], ds.source)
    val = None
    if val_idx is not None:
        val = (pre.transform(ds.X[val_idx], dtype), pre.encode(ds.y[val_idx], ds.source))
    elif config.get("val_data"):
        X_val, y_val = pre.select(read_table(config["val_data"]), need_target=True)
        val = (pre.transform(X_val, dtype), pre.encode(y_val, config["val_data"]))
    evaluation = ("validation", val) if val is not None else ("training", (X, y))
    return (X, y), val, evaluation, task, pre


def _scaling_line(standardize, task, pre) -> str:
    scaled = ("standardised with the training split's mean and standard deviation" if standardize
              else "not standardised (--no-standardize)")
    if task == "regression" and standardize:
        scaled += " (the target too; predictions come back in its units)"
    if standardize:
        scaled += "; --no-standardize turns this off"
    return f"features {scaled}" + (f"; classes {pre.classes}" if pre.classes is not None else "")
