"""The ``mlp`` command: ``mlp train``, ``mlp predict``, ``mlp evaluate``, ``mlp info``, ``mlp bench``.

``--data`` takes a built-in data set (mnist, fashion-mnist, xor, spirals) or a table of your
own (CSV with a header, Parquet, NPY, NPZ: see :mod:`mlp.io.tables`).  A model trained on a table
carries its preprocessing (feature names, standardisation, classes, task) in its checkpoint,
which ``mlp predict`` and ``mlp evaluate`` apply.

Every error a user can cause exits non-zero with one readable line
(``mlp: error: ...``); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130

#: the defaults of `mlp train`: a modern recipe that reaches ~98% on MNIST in about a minute on 2 CPU cores
DEFAULTS = dict(data="mnist", sizes=[784, 512, 256, 10], activation="relu", loss="cross_entropy", init="he",
                optimizer="sgd", lr=0.05, momentum=0.9, l2=0.0, l1=0.0, dropout=0.0, epochs=15, batch_size=64, dtype="float32", seed=0)
#: what differs for the small synthetic sets (used only where the option was not given)
DATA_DEFAULTS = {
    "xor": dict(sizes=[2, 8, 2], epochs=300, batch_size=4, lr=0.1),
    "spirals": dict(sizes=[2, 64, 64, 2], epochs=60, batch_size=32, lr=0.05),
}
#: what differs for a table of your own: one hidden layer of 100, Adam (as scikit-learn's MLP defaults)
TABLE_DEFAULTS = dict(hidden=[100], optimizer="adam", lr=0.001, epochs=50, batch_size=32)
#: the share of a table held out for validation when neither --val-split nor --val-data is given
VAL_SPLIT = 0.2


def _sizes(text):
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers like 784,100,10, got {text!r}")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--sizes needs at least two positive widths, got {text!r}")
    return sizes


def _hidden(text):
    try:
        sizes = [int(v) for v in text.split(",")] if text.strip() else []
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers like 64,32, got {text!r}")
    if min(sizes, default=1) < 1:
        raise argparse.ArgumentTypeError(f"--hidden widths must be positive, got {text!r}")
    return sizes


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"--val-split must be a fraction in [0, 1), got {text!r}")
    return value


def _threads(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"--threads must be a positive integer, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``mlp train: error: ...; see mlp train --help``), exit status 2."""

    def error(self, message):
        text = " ".join(message.split())
        self.exit(EXIT_ERROR, f"{self.prog}: error: {text}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    from mlp.io.datasets import DATASETS
    from mlp.core.layers import ACTIVATIONS, INITS
    from mlp.core.losses import LOSSES
    from mlp.core.optim import OPTIMIZERS

    from mlp.core.version import __version__

    parser = _Parser(prog="mlp", description="Train multilayer perceptrons on any array API backend.")
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend", help="numpy, cupy, torch, jax or array_api_strict (overrides MLP_BACKEND)")
    common.add_argument("--device", help="the backend's device, e.g. cuda:1 (overrides MLP_DEVICE)")
    common.add_argument("--threads", type=_threads, metavar="N",
                        help="limit BLAS/OpenMP threads to N (needs threadpoolctl: pip install threadpoolctl; "
                             "scikit-learn brings it); on a shared machine an oversubscribed BLAS is many times slower")
    common.add_argument("--data-dir", help="data root for mnist and fashion-mnist, like MLP_DATA_DIR (which it "
                                           "overrides): a folder holding mnist/ and fashion-mnist/ (or the four files "
                                           "directly); default $MLP_DATA_DIR, else ~/.cache/mlp")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    defaults = ", ".join(f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, list) else v}"
                         for k, v in DEFAULTS.items())
    t = sub.add_parser("train", parents=[common], help="train a network (default: MNIST, ~98%% in about a minute)",
                       description=f"Defaults: {defaults}; for xor and spirals: {DATA_DEFAULTS}; for a table: "
                                   f"{TABLE_DEFAULTS}, the loss from the task, --val-split {VAL_SPLIT}.")
    t.add_argument("--data", default=DEFAULTS["data"], metavar="DATA",
                   help=f"{', '.join(DATASETS)}, or a table file (.csv with a header, .parquet, .npy, .npz)")
    t.add_argument("--target", help="a table's target column (default: the last column; comma-separated: several "
                                    "regression targets)")
    t.add_argument("--task", choices=("classification", "regression"),
                   help="default: inferred from the target (text or few integer values: classification)")
    t.add_argument("--val-split", type=_fraction, metavar="FRACTION",
                   help=f"hold out this share of a table for validation (default {VAL_SPLIT}; 0: none)")
    t.add_argument("--val-data", metavar="PATH", help="a separate validation table (instead of --val-split)")
    t.add_argument("--no-standardize", action="store_true",
                   help="do not standardise a table's features (default: mean 0, standard deviation 1 from the "
                        "training split, saved in the checkpoint)")
    t.add_argument("--sizes", type=_sizes, default=None, help="layer widths; input and output must fit the data")
    t.add_argument("--hidden", type=_hidden, default=None, metavar="WIDTHS",
                   help="hidden-layer widths only, e.g. 64,32 (input and output widths come from the data)")
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), default=None, help="hidden-layer activation")
    t.add_argument("--loss", choices=sorted(LOSSES), default=None,
                   help="quadratic adds a sigmoid output (the book's chapter 1 network)")
    t.add_argument("--init", choices=INITS, default=None)
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None)
    t.add_argument("--lr", type=float, default=None, help="learning rate (the book's eta)")
    t.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    t.add_argument("--l2", type=float, default=None, help="the book's L2 lambda (scaled by the training-set size)")
    t.add_argument("--l1", type=float, default=None, metavar="LAMBDA",
                   help="the book's L1 lambda (scaled by the training-set size)")
    t.add_argument("--dropout", type=float, default=None, metavar="P",
                   help="drop each hidden unit with probability P in training (inverted dropout; default 0)")
    t.add_argument("--epochs", type=int, default=None, help="epochs to train (with --resume: more epochs)")
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--dtype", choices=("float32", "float64"), default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--save", metavar="PATH", help="checkpoint file, written after every epoch (default: runs/<data>-<time>.safetensors)")
    t.add_argument("--resume", metavar="PATH", help="continue the run saved in this checkpoint")
    t.add_argument("--plot", metavar="PATH", help="write a PNG of loss and accuracy per epoch (needs matplotlib)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel training over the processes of an MPI job: mpiexec -n 4 mlp train "
                        "--distributed (needs: pip install mpi4py mpich); --batch-size is the global batch")
    from mlp.train.distributed import command as with_communicator

    t.set_defaults(func=with_communicator(cmd_train))

    e = sub.add_parser("evaluate", parents=[common],
                       help="metrics of a saved model on a built-in test split or on a table with the target column")
    e.add_argument("path", help="checkpoint (.safetensors)")
    e.add_argument("--data", default=None, metavar="DATA",
                   help=f"{', '.join(DATASETS)} (its test split) or a table file; default: the built-in data set "
                        "the model was trained on")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", parents=[common], help="predictions of a saved model for the rows of a table")
    pr.add_argument("path", help="checkpoint (.safetensors)")
    pr.add_argument("data", help="table file (.csv, .parquet, .npy, .npz); the target column may be absent, and "
                                 "features are matched by the names saved at training")
    pr.add_argument("--out", metavar="PATH", help="write a CSV file (default: CSV on standard output)")
    pr.add_argument("--proba", action="store_true", help="class probabilities, one column per class")
    pr.set_defaults(func=cmd_predict)

    i = sub.add_parser("info", help="backends usable here, their devices and versions, and why the others are not")
    i.set_defaults(func=cmd_info)

    from mlp import bench

    bench.add_parser(sub)
    return parser


# -- helpers ------------------------------------------------------------------------------------
def _say(args, *text):
    print(*text, flush=True)


def _backend(args):
    """``--backend`` overrides MLP_BACKEND and ``--device`` MLP_DEVICE (the default backend's device)."""
    device = getattr(args, "device", None)
    if not args.backend and not device:
        return None
    from mlp import backends

    return backends.get_backend(args.backend or None, device=device or os.environ.get("MLP_DEVICE") or None)


def _load_data(args, quiet):
    from mlp.io.datasets import load

    return load(args.data, data_root=_data_root(args), download=True, progress=not quiet)


def _data_root(args):
    root = args.data_dir
    if root and Path(root).exists() and not Path(root).is_dir():
        raise ValueError(f"--data-dir {root} is a file, not a folder: --data-dir names the folder that holds mnist/ "
                         f"and fashion-mnist/; to train on a table of your own, use --data {root}")
    return root


def _is_table(data) -> bool:
    from mlp.io.datasets import DATASETS

    return data is not None and data not in DATASETS


def _check_data(data):
    """A built-in name, or a table path with a known suffix (an unknown name says what is accepted)."""
    from mlp.io.datasets import DATASETS
    from mlp.io.tables import FORMATS

    if data in DATASETS or Path(data).suffix.lower() in FORMATS:
        return
    raise ValueError(f"--data {data!r} is neither a built-in data set ({', '.join(DATASETS)}) nor a table file "
                     f"({', '.join(FORMATS)})")


def _split(args, data):
    """Training, validation and test sets: MNIST-like data use the book's split (50k/10k/10k)."""
    (X, y), (X_test, y_test) = data
    if args.data in ("mnist", "fashion-mnist") and len(X) == 60_000:
        return (X[:50_000], y[:50_000]), (X[50_000:], y[50_000:]), (X_test, y_test)
    return (X, y), None, (X_test, y_test)


def _check_plot_possible(path):
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(f"mlp: error: --plot {path} needs matplotlib: pip install 'mlp-arrayapi[plot]' (or pip install matplotlib)")


def write_plot(history, path):
    """A PNG with loss and accuracy per epoch (training and validation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h = history.history
    epochs = [e + 1 for e in history.epoch]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    metric = "r2" if "r2" in h else "accuracy"
    for key, ax in (("loss", ax1), (metric, ax2)):
        ax.plot(epochs, h[key], marker="o", label="training")
        if any(v == v for v in h["val_" + key]):
            ax.plot(epochs, h["val_" + key], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- commands -----------------------------------------------------------------------------------
def cmd_train(args) -> int:
    import mlp
    from mlp.io.checkpoint import load_checkpoint
    from mlp.train.loop import ModelCheckpoint, save_training_state

    _check_plot_possible(args.plot)
    if args.sizes is not None and args.hidden is not None:
        raise ValueError("give --sizes (every width) or --hidden (hidden widths only), not both")
    from mlp.train.distributed import communicator_of

    comm = communicator_of(args)  # --distributed: one MPI job, where rank 0 alone prints and writes files
    quiet = args.quiet or not comm.is_root
    table_options = {"target": args.target, "task": args.task, "val_split": args.val_split, "val_data": args.val_data}
    given = {k: getattr(args, k) for k in (*DEFAULTS, "hidden") if getattr(args, k) is not None}
    history = None
    initial_epoch = initial_step = 0
    ckpt = None
    if args.resume:
        ckpt = load_checkpoint(args.resume, backend=_backend(args))
        extra = ckpt.metadata.get("extra", {})
        saved = extra.get("cli")
        asked = (given.keys() - {"data", "epochs"}) | {k for k, v in table_options.items() if v is not None}
        if args.no_standardize:
            asked.add("no_standardize")
        if asked:
            raise ValueError(f"--resume continues the saved run with its own settings; drop "
                             f"{', '.join('--' + k.replace('_', '-') for k in sorted(asked))}")
        if not saved:
            raise mlp.CheckpointError(f"{args.resume}: this checkpoint was not written by `mlp train`, so it cannot be resumed from the command line")
        if ckpt.optimizer is None:
            raise mlp.CheckpointError(f"{args.resume}: the checkpoint holds no optimizer state to resume from")
        config = dict(saved)
        model, optimizer = ckpt.model, ckpt.optimizer
        initial_epoch, initial_step = int(extra.get("epoch", 0)), int(extra.get("step", 0))
        history = mlp.History.from_dict(extra.get("history", {}))
        args.data = config["data"]
        save_path = args.save or args.resume
        epochs = initial_epoch + (args.epochs if args.epochs is not None else config["epochs"])
    else:
        _check_data(args.data)
        if not _is_table(args.data) and (args.no_standardize or any(v is not None for v in table_options.values())):
            raise ValueError(f"--target, --task, --val-split, --val-data and --no-standardize apply to a table of "
                             f"your own, not to --data {args.data}")
        base = {**DEFAULTS, **(TABLE_DEFAULTS if _is_table(args.data) else DATA_DEFAULTS.get(args.data, {}))}
        if _is_table(args.data):
            base["loss"] = None  # chosen from the task once the table is read
        if "sizes" in given:
            base.pop("hidden", None)
        config = {**base, **given}
        stem = Path(args.data).stem if _is_table(args.data) else args.data
        save_path = args.save or os.path.join("runs", f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors")
        epochs = config["epochs"]

    if _is_table(args.data):
        data = _table_data(args, config, ckpt, quiet)
    else:
        data = _builtin_data(args, quiet)
    (X, y), val, evaluation, task, pre = data
    if not args.resume:
        model, optimizer = _new_model(args, config, X, y, task, pre)
        config["sizes"] = list(model.sizes)
        config["loss"] = config.get("loss") or ("mse" if task == "regression" else "cross_entropy")

    if not quiet:
        _say(args, f"training {model.sizes} ({config['activation']}, {config['loss']}, {optimizer!r}) on {args.data}: "
             f"{len(X)} samples, batch {config['batch_size']}, backend {model.backend.name} ({model.backend.device}), {model.dtype}")
        if initial_epoch or initial_step:
            _say(args, f"resuming {args.resume} after epoch {initial_epoch}" + (f", step {initial_step}" if initial_step else ""))
    saved_config = {k: v for k, v in config.items() if k != "hidden"}
    saved_config["sizes"] = list(config["sizes"])
    extra = {"cli": saved_config, "data": args.data}
    if pre is not None:
        extra["preprocessing"] = pre.to_dict()
    callbacks = [ModelCheckpoint(save_path)]
    try:
        history = mlp.fit(model, X, y, loss=config["loss"], optimizer=optimizer, epochs=epochs,
                          batch_size=config["batch_size"], validation_data=val, seed=config["seed"],
                          progress=not quiet, callbacks=callbacks, initial_epoch=initial_epoch,
                          initial_step=initial_step, history=history, extra=extra, task=task,
                          communicator=comm)
    except mlp.TrainingInterrupted as stop:
        if not comm.is_root:  # every rank stopped at the same step; rank 0 saves it
            return EXIT_INTERRUPTED
        from mlp.train.loop import FitState

        state = FitState(model, optimizer, mlp.get_loss(config["loss"]), stop.history, epochs, config["seed"],
                         extra={**extra, "step": stop.step}, task=task)
        save_training_state(save_path, state, stop.epoch)
        print(f"mlp: interrupted at epoch {stop.epoch + 1}, step {stop.step}; checkpoint saved to {save_path} "
              f"(continue with: mlp train --resume {save_path})", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    if not comm.is_root:
        return 0
    if args.plot:
        write_plot(history, args.plot)
    seconds = sum(history.history["seconds"][-(epochs - initial_epoch):]) if history.epoch else 0.0
    name, (X_eval, y_eval) = evaluation
    summary = _format(_metrics(model, X_eval, y_eval, config["loss"], task, pre))
    print(f"{name} {summary} after {len(history.epoch)} epochs "
          f"({seconds:.1f} s of training); checkpoint saved to {save_path}" + (f"; plot in {args.plot}" if args.plot else ""),
          flush=True)
    return 0


def _builtin_data(args, quiet):
    """``((X, y), validation or None, ("test", (X_test, y_test)), "classification", None)``."""
    data = _load_data(args, quiet)
    (X, y), val, test = _split(args, data)
    return (X, y), val, ("test", test), "classification", None


def _table_data(args, config, ckpt, quiet):
    """A table read, checked, split and preprocessed: ``((X, y), val, (name, eval set), task, Preprocessor)``."""
    import numpy as np

    from mlp.io.tables import Preprocessor, class_labels, load_table, read_table, split_indices

    if ckpt is not None:  # resuming: the saved preprocessing, never new statistics
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
                      val_split=(args.val_split if args.val_split is not None else (0.0 if args.val_data else VAL_SPLIT)))
        if not quiet:
            _say(args, f"{ds.source}: {len(ds.X)} rows, {len(ds.features)} features, target "
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
    if ckpt is not None:
        pre = ckpt.preprocessor
    else:
        pre = Preprocessor.fit(ds.X[train_idx], ds.y[train_idx], ds.features, ds.targets, task,
                               standardize=config["standardize"], classes=classes)
        if not quiet:
            scaled = "standardised with the training split's mean and standard deviation" \
                if config["standardize"] else "not standardised (--no-standardize)"
            if task == "regression" and config["standardize"]:
                scaled += " (the target too; predictions come back in its units)"
            if config["standardize"]:
                scaled += "; --no-standardize turns this off"
            _say(args, f"features {scaled}" + (f"; classes {pre.classes}" if pre.classes is not None else ""))
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


def _new_model(args, config, X, y, task, pre):
    import mlp
    from mlp.train.loop import l2_weight_decay

    n_in = X.shape[1]
    if pre is not None:
        n_out = pre.n_outputs()
    else:
        n_out = int(y.max()) + 1
    if config.get("hidden") is not None:
        sizes = [n_in, *config["hidden"], n_out]
    else:
        sizes = config["sizes"]
    if pre is None:
        n_classes = n_out
        n_out = 1 if n_classes == 2 and sizes[-1] == 1 else n_classes
    elif task == "classification" and n_out == 2 and sizes[-1] == 1:
        n_out = 1
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise ValueError(f"--sizes {','.join(map(str, sizes))} does not fit --data {args.data}: "
                         f"the input width must be {n_in} and the output width {n_out}")
    config["sizes"] = sizes
    loss = config.get("loss") or ("mse" if task == "regression" else "cross_entropy")
    output = "identity" if task == "regression" else None
    model = mlp.build_mlp(sizes, config["activation"], loss, config["init"], _backend(args), config["dtype"],
                          config["seed"], output=output,
                          **({"dropout": config["dropout"]} if config.get("dropout") else {}))
    wd = l2_weight_decay(config["l2"], len(X)) if config["l2"] else 0.0
    l1 = mlp.l1_strength(config["l1"], len(X)) if config.get("l1") else 0.0
    if config["optimizer"] == "sgd":
        optimizer = mlp.SGD(config["lr"], momentum=config["momentum"], weight_decay=wd, l1=l1)
    else:
        optimizer = mlp.Adam(config["lr"], weight_decay=wd, l1=l1)
    return model, optimizer


def _metrics(model, X, y, loss, task, pre) -> dict:
    """Accuracy, or MSE, MAE and R2 in the targets' own units (standardisation undone); and ``loss``."""
    from mlp.train.loop import evaluate

    result = evaluate(model, X, y, loss=loss, task=task)
    if task == "regression":
        from mlp.io.tables import regression_metrics

        values, truth = model.predict_values(X), y
        if pre is not None:
            values, truth = pre.values(values), pre.values(y)
        result.update(regression_metrics(truth, values))
    return result


def _format(m: dict, loss_name: str | None = None) -> str:
    """``accuracy 0.9737 (loss 0.0712)`` or ``mse 2890, mae 43.1, r2 0.4770 (loss 0.52)``."""
    if "r2" in m:
        text = f"mse {m['mse']:.6g}, mae {m['mae']:.6g}, r2 {m['r2']:.4f}"
    else:
        text = f"accuracy {m['accuracy']:.4f}"
    if "loss" in m:
        text += f", {loss_name} loss {m['loss']:.4f}" if loss_name else f" (loss {m['loss']:.4f})"
    return text


def _saved_loss(ckpt):
    extra = ckpt.metadata.get("extra", {})
    return (extra.get("cli") or {}).get("loss") or _loss_name(extra.get("loss"))


def cmd_evaluate(args) -> int:
    from mlp.io.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.path, backend=_backend(args))
    extra = ckpt.metadata.get("extra", {})
    loss_name = _saved_loss(ckpt)
    args.data = args.data or extra.get("data") or "mnist"
    _check_data(args.data)
    pre = ckpt.preprocessor
    if _is_table(args.data):
        from mlp.io.tables import read_table

        if pre is None:
            raise ValueError(f"{args.path} was trained on {extra.get('data', 'a built-in data set')} without "
                             f"preprocessing metadata; evaluate it with --data {extra.get('data', 'mnist')}")
        X, y = pre.select(read_table(args.data), need_target=True)
        X, y = pre.transform(X, ckpt.model.dtype), pre.encode(y, args.data)
        where, task = f"{args.data} ({len(X)} samples)", pre.task
    else:
        if not Path(args.data).suffix and pre is not None:
            raise ValueError(f"{args.path} was trained on a table; evaluate it on a table file with the target column")
        _, (X, y) = _load_data(args, args.quiet)
        where, task = f"{args.data} test ({len(X)} samples)", "classification"
    line = _format(_metrics(ckpt.model, X, y, loss_name, task, pre), loss_name)
    print(f"{args.path} on {where}, backend {ckpt.model.backend.name}: {line}", flush=True)
    return 0


def cmd_predict(args) -> int:
    import numpy as np

    from mlp.io.checkpoint import load_checkpoint
    from mlp.core.losses import get_loss
    from mlp.io.tables import numeric_column, read_table

    ckpt = load_checkpoint(args.path, backend=_backend(args))
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
    loss_name = _saved_loss(ckpt)
    loss = get_loss(loss_name) if loss_name else None
    if task == "regression":
        names = list(pre.targets)
        rows = pre.values(model.predict_values(X)).tolist()
    else:
        classes = pre.classes if pre is not None else list(range(max(2, model.sizes[-1])))
        names = [pre.targets[0] if pre is not None else "prediction"]
        labels = [classes[int(k)] for k in model.predict(X, loss=loss)]
        rows = [[label] for label in labels]
        if args.proba:
            P = np.asarray(model.predict_proba(X, loss=loss))
            names += [f"proba_{c}" for c in classes]
            # NumPy's shortest round-trip text of the model's own dtype (no float32 noise digits)
            rows = [row + [str(v) for v in p] for row, p in zip(rows, P)]
    _write_csv(args.out, names, rows)
    if args.out:
        print(f"{len(rows)} predictions for {args.data} written to {args.out}", file=sys.stderr, flush=True)
    return 0


def _write_csv(path, header, rows):
    """CSV to ``path`` (atomically: a temporary file, then renamed) or to standard output."""
    import csv
    import io

    def cell(v):
        return repr(v) if isinstance(v, float) else v

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([cell(v) for v in row] for row in rows)
    text = buf.getvalue()
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from mlp.io.checkpoint import write_atomic

    write_atomic(Path(path), text.encode("utf-8"))


def _loss_name(saved):
    from mlp.core.losses import LOSSES

    for name, cls in LOSSES.items():
        if saved in (name, cls.__name__):
            return name
    return None


def cmd_info(args) -> int:
    import numpy

    from mlp import backends
    import mlp

    print(f"mlp {mlp.__version__}, Python {sys.version.split()[0]}, NumPy {numpy.__version__}")
    default = os.environ.get("MLP_BACKEND") or "numpy"
    print(f"default backend: {default!r} (MLP_BACKEND={os.environ.get('MLP_BACKEND')!r}, MLP_DEVICE={os.environ.get('MLP_DEVICE')!r})")
    print("available backends:")
    for name in backends.available():
        be = backends.get_backend(name)
        print(f"  {name:17s} version {be.version:12s} device {be.device}")
    missing = backends.unavailable()
    if missing:
        print("unavailable backends:")
        for name, why in missing.items():
            print(f"  {name:17s} {why}")
    from mlp.train.distributed import info_lines

    print(*info_lines(), sep="\n")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        threads = getattr(args, "threads", None)
        if threads is None:
            return args.func(args)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            raise ValueError("--threads needs threadpoolctl: pip install threadpoolctl") from None
        with threadpool_limits(limits=threads):
            return args.func(args)
    except BrokenPipeError:
        # the reader went away (mlp info | head): not an error of ours. Point stdout at devnull so
        # that the interpreter's final flush cannot raise again, and exit as a tool killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13
    except KeyboardInterrupt:
        if debug:
            raise
        print("mlp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except Exception as e:  # one readable line for anything a user can cause
        if debug:
            raise
        print(f"mlp: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    from mlp.core.errors import MLPError

    from mlp.backends import BackendUnavailableError

    if isinstance(e, (MLPError, ValueError, TypeError, OSError, BackendUnavailableError)):
        return text
    return f"{type(e).__name__}: {text} (run with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
