"""``mlp train``: a new run on a built-in data set or a table, or ``--resume`` of a saved one."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

# the table recipe (network, budget, early stopping): one place for the command and mlp.sklearn's Tabular estimators
from mlp.train import recipe
from mlp.train.recipe import (
    TABLE_DEFAULTS,
    TABLE_MONITOR,
    TABLE_MOST_EPOCHS,
    TABLE_NUMERIC_EMBEDDING,
    TABLE_PATIENCE,
    TABLE_SCHEDULE,
    TABLE_STEPS,
    VAL_SPLIT,
)

from .common import (
    add_sep_option,
    backend_of_args,
    baseline_warning,
    check_data,
    format_metrics,
    fraction_arg,
    hidden_arg,
    is_table,
    load_builtin,
    metrics,
    positive_int_arg,
    refuse_overwrite,
    same_file,
    say,
    seed_arg,
    sizes_arg,
    streamed_metrics,
)

#: the defaults of `mlp train`: a modern recipe that reaches ~98% on MNIST in about a minute on 2 CPU cores
DEFAULTS = dict(
    data="mnist",
    sizes=[784, 512, 256, 10],
    activation="relu",
    loss="cross_entropy",
    init="he",
    optimizer="sgd",
    lr=0.05,
    momentum=0.9,
    l2=0.0,
    l1=0.0,
    dropout=0.0,
    epochs=15,
    batch_size=64,
    dtype="float32",
    seed=0,
)
#: what differs for the small synthetic sets (used only where the option was not given)
DATA_DEFAULTS = {
    "xor": dict(sizes=[2, 8, 2], epochs=300, batch_size=4, lr=0.1),
    "spirals": dict(sizes=[2, 64, 64, 2], epochs=60, batch_size=32, lr=0.05),
}
#: the options that apply to a table of your own only
TABLE_OPTIONS = (
    "target",
    "task",
    "val_split",
    "val_data",
    "categorical",
    "numeric",
    "drop",
    "patience",
    "class_weight",
    "schedule",
    "scaling",
    "numeric_embedding",
)
#: options a process of a job may set its own way: files, which may lie under other paths on other hosts (the table
#: is compared by its contents), its device and its threads
PER_PROCESS = ("data", "val_data", "save", "resume", "plot", "data_dir", "device", "threads")
#: stream a table when it would take more than this share of the memory available to hold it whole
STREAM_SHARE = 0.6


def _columns_arg(text):
    """``--categorical a,b``: column names, comma-separated (the option may be given again: the lists add up)."""
    return [c.strip() for c in text.split(",") if c.strip()]


def _options_text(options: dict) -> str:
    return ", ".join(
        f"--{k.replace('_', '-')} {','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in options.items()
    )


def add_parser(subparsers, common):
    """Register ``train`` with ``func=run`` (wrapped for ``--distributed``)."""
    from mlp.core.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS
    from mlp.io.datasets import DATASETS
    from mlp.io.tables.preprocessing import SCALINGS
    from mlp.train.distributed import command as with_communicator

    synthetic = "; ".join(f"{name}: {_options_text(o)}" for name, o in DATA_DEFAULTS.items())
    t = subparsers.add_parser(
        "train",
        parents=[common],
        help="train a network (default: MNIST, ~98%% in about a minute)",
        description=f"Defaults: {_options_text(DEFAULTS)}. For {synthetic}. For a table: "
        f"{_options_text(TABLE_DEFAULTS)} (more for a small table: enough for {TABLE_STEPS} steps, "
        f"at most {TABLE_MOST_EPOCHS}), the loss from the task, --val-split {VAL_SPLIT}, early stopping "
        f"on the validation loss (--patience {TABLE_PATIENCE}) keeping the best epoch's weights.",
    )
    t.add_argument(
        "--data",
        default=None,
        metavar="DATA",
        help=f"{', '.join(DATASETS)}, or a table file (.csv with a header, .parquet, .npy, .npz); default "
        f"{DEFAULTS['data']}, or with --resume the run's own data (another table with the columns "
        f"the run was trained on continues the run on it)",
    )
    t.add_argument(
        "--target",
        help="a table's target column (default: the last column; comma-separated: several regression targets)",
    )
    t.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="default: inferred from the target (text or few integer values: classification)",
    )
    t.add_argument(
        "--val-split",
        type=fraction_arg("--val-split"),
        metavar="FRACTION",
        help=f"hold out this share of a table for validation (default {VAL_SPLIT}; 0: none)",
    )
    t.add_argument("--val-data", metavar="PATH", help="a separate validation table (instead of --val-split)")
    t.add_argument(
        "--scaling",
        choices=SCALINGS,
        help="how a table's numbers are scaled, from the training split (saved in the checkpoint): robust "
        "(default: median and interquartile range, then a smooth clip to +-3, so that a heavy tail "
        "does not dominate) or standard (mean and standard deviation); regression predictions are "
        "kept within the training targets' range either way",
    )
    t.add_argument(
        "--numeric-embedding",
        choices=recipe.NUMERIC_EMBEDDINGS,
        help="learned features of a table's numbers before the first layer: periodic "
        "(cos(2 pi f x + p) of 16 learned frequencies, then 3 learned features a column: RealMLP-TD's "
        f"PBLD; mlp.PeriodicEmbedding), none, or auto (the default: periodic up to "
        f"{recipe.PERIODIC_MOST_ROWS:,} training rows, none above)",
    )
    t.add_argument(
        "--no-standardize", action="store_true", help="do not scale a table's features nor standardise its target"
    )
    t.add_argument(
        "--categorical",
        type=_columns_arg,
        action="extend",
        metavar="COLS",
        help="read these table columns as categories (one-hot), e.g. numbers that are codes; default: "
        "text and booleans are categories",
    )
    t.add_argument(
        "--numeric",
        type=_columns_arg,
        action="extend",
        metavar="COLS",
        help="read these table columns as numbers; a value that is not a number counts as a gap",
    )
    t.add_argument(
        "--drop",
        type=_columns_arg,
        action="extend",
        metavar="COLS",
        help="leave these table columns out (default: identifier-like and constant columns are left out)",
    )
    t.add_argument("--verbose", action="store_true", help="say each table column's kind, fill value and categories")
    t.add_argument(
        "--stream",
        action="store_true",
        help="read the table block by block and train from its encoded rows on disk, a window at a time: "
        "memory is a window's, not the table's (default: when the table would not fit in memory, "
        "for a folder or glob of Parquet files, and with --distributed, where each process reads "
        "its share)",
    )
    t.add_argument(
        "--patience",
        type=positive_int_arg("--patience"),
        metavar="N",
        help=f"a table's early stopping: stop after N epochs without a better validation loss and keep "
        f"the best epoch's weights (default {TABLE_PATIENCE})",
    )
    t.add_argument(
        "--no-early-stopping",
        action="store_true",
        help="train a table for every epoch of the budget and keep the last weights",
    )
    t.add_argument(
        "--class-weight",
        choices=("balanced",),
        help="weigh a table's classes inversely to their frequency in the training split (as "
        "scikit-learn's class_weight='balanced')",
    )
    t.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        help="a table's learning-rate schedule: constant, or a cosine decay over the epoch budget",
    )
    t.add_argument("--sizes", type=sizes_arg, default=None, help="layer widths; input and output must fit the data")
    t.add_argument(
        "--hidden",
        type=hidden_arg,
        default=None,
        metavar="WIDTHS",
        help="hidden-layer widths only, e.g. 64,32 (input and output widths come from the data)",
    )
    t.add_argument("--activation", choices=sorted(ACTIVATIONS), default=None, help="hidden-layer activation")
    t.add_argument(
        "--loss",
        choices=sorted(LOSSES),
        default=None,
        help="quadratic adds a sigmoid output (the book's chapter 1 network)",
    )
    t.add_argument("--init", choices=INITS, default=None)
    t.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None)
    t.add_argument("--lr", type=float, default=None, help="learning rate (the book's eta)")
    t.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    t.add_argument("--l2", type=float, default=None, help="the book's L2 lambda (scaled by the training-set size)")
    t.add_argument(
        "--l1",
        type=float,
        default=None,
        metavar="LAMBDA",
        help="the book's L1 lambda (scaled by the training-set size)",
    )
    t.add_argument(
        "--dropout",
        type=float,
        default=None,
        metavar="P",
        help="drop each hidden unit with probability P in training (inverted dropout; default 0)",
    )
    t.add_argument(
        "--epochs",
        type=int,
        default=None,
        metavar="N",
        help="epochs to train (with --resume: N more epochs than the checkpoint holds)",
    )
    t.add_argument("--batch-size", type=int, default=None)
    t.add_argument("--dtype", choices=("float32", "float64"), default=None)
    t.add_argument(
        "--seed",
        type=seed_arg,
        default=None,
        metavar="N",
        help="seed of the initial weights, the shuffling and dropout: an integer in [0, 2**63)",
    )
    t.add_argument(
        "--save",
        metavar="PATH",
        help="checkpoint file, written after every epoch (default: runs/<data>-<time>.safetensors)",
    )
    t.add_argument(
        "--resume",
        metavar="PATH",
        help="continue the run saved in this checkpoint to the epochs it planned (the hint an "
        "interrupted run prints); with --epochs N, train N more instead",
    )
    add_sep_option(t)
    from .table_data import add_decimal_option

    add_decimal_option(t)  # --decimal ,
    t.add_argument("--plot", metavar="PATH", help="write a PNG of loss and accuracy per epoch (needs matplotlib)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training over the processes of an MPI job: mpiexec -n 4 mlp train "
        "--distributed (needs: pip install mpi4py mpich); --batch-size is the global batch",
    )
    t.set_defaults(func=with_communicator(run))
    return t


class Run:
    """What a ``mlp train`` invocation trains: the settings, model, optimizer and where it resumes and saves."""

    def __init__(
        self,
        config,
        save_path,
        epochs,
        model=None,
        optimizer=None,
        ckpt=None,
        initial_epoch=0,
        initial_step=0,
        history=None,
    ):
        self.config, self.save_path, self.epochs = config, save_path, epochs
        self.model, self.optimizer, self.ckpt = model, optimizer, ckpt
        self.initial_epoch, self.initial_step, self.history = initial_epoch, initial_step, history
        self.previous_data = None  # resumed on other data (--data): what the run trained on before


def _given(args) -> dict:
    return {k: getattr(args, k) for k in (*DEFAULTS, "hidden") if getattr(args, k) is not None}


def resumed_run(args) -> Run:
    """The run saved in ``args.resume``; only ``--epochs`` (more epochs), ``--save`` and the machine may change.

    Without ``--epochs`` the run goes on to the epochs it planned (its saved ``epochs``: the total it was
    started, or last resumed, to reach), so that an interrupted ``mlp train --epochs 3`` resumed ends after
    epoch 3; a run that finished its plan needs ``--epochs N`` (N more).  The new plan is what the
    checkpoint then saves.
    """
    import mlp
    from mlp.train.distributed import communicator_of, load_checkpoint_shared

    comm = communicator_of(args)  # several processes: rank 0 reads the checkpoint and hands it to the others
    ckpt = load_checkpoint_shared(args.resume, backend=backend_of_args(args), comm=comm)
    extra = ckpt.metadata.get("extra", {})
    saved = extra.get("cli")
    asked = (_given(args).keys() - {"data", "epochs"}) | {k for k in TABLE_OPTIONS if getattr(args, k) is not None}
    # --verbose says how the columns are read, which the run decided when it started (it is not said again)
    asked |= {k for k in ("no_standardize", "no_early_stopping", "stream", "verbose") if getattr(args, k, False)}
    if asked:
        raise ValueError(
            f"--resume continues the saved run with its own settings; drop "
            f"{', '.join('--' + k.replace('_', '-') for k in sorted(asked))}"
        )
    if not saved:
        raise mlp.CheckpointError(
            f"{args.resume}: this checkpoint was not written by `mlp train`, so it cannot be "
            f"resumed from the command line"
        )
    if ckpt.optimizer is None:
        raise mlp.CheckpointError(f"{args.resume}: the checkpoint holds no optimizer state to resume from")
    config = dict(saved)
    initial_epoch, initial_step = int(extra.get("epoch", 0)), int(extra.get("step", 0))
    previous = config["data"]
    config["data"] = args.data = _resumed_data(args, config, ckpt, initial_epoch, initial_step)
    if args.epochs is not None:
        epochs = initial_epoch + args.epochs
    else:
        epochs = int(config["epochs"])
        if epochs <= initial_epoch and not initial_step:
            raise ValueError(
                f"{args.resume} has finished the {epochs} epochs its run planned; to train more, "
                f"give --epochs N (N more epochs)"
            )
    config["epochs"] = epochs
    r = Run(
        config,
        args.save or args.resume,
        epochs,
        ckpt.model,
        ckpt.optimizer,
        ckpt,
        initial_epoch,
        initial_step,
        mlp.History.from_dict(extra.get("history", {})),
    )
    r.previous_data = previous if previous != args.data else None
    return r


def _resumed_data(args, config, ckpt, epoch: int, step: int) -> str:
    """The data a resumed run trains on: its own (no ``--data``, or the same), or the ``--data`` given where the run
    can go on with it: a table read with the run's saved preprocessing (the same columns and classes), or a built-in
    set of the same width.  Anything else is refused, naming both."""
    saved, new = config["data"], args.data
    if (
        new is None
        or new == saved
        or (is_table(new) and is_table(saved) and Path(new).exists() and same_file(new, saved))
    ):
        return saved
    check_data(new)
    hint = f"drop --data to continue on {saved}, or start a new run without --resume"
    if is_table(saved) != is_table(new) or (is_table(saved) and ckpt.preprocessor is None):
        kind = "the table" if is_table(saved) else "the built-in data set"
        fits = "another table with the same columns" if is_table(saved) else "another built-in data set of its width"
        raise ValueError(
            f"--data {new}: {args.resume} is a run on {kind} {saved}; it can go on only on {fits} ({hint})"
        )
    if config.get("stream"):
        raise ValueError(
            f"--data {new}: {args.resume} streamed its table {saved} (its order and validation rows are "
            f"the table's); a streamed run goes on only on its own table ({hint})"
        )
    if step:
        raise ValueError(
            f"--data {new}: {args.resume} stopped in the middle of epoch {epoch + 1} (after step {step}) "
            f"of {saved}; finish that epoch on it first (mlp train --resume {args.resume} --epochs 1), "
            f"then go on with --data {new}"
        )
    return new


def new_run(args) -> Run:
    """A new run: the defaults for the kind of data, overridden by the options given."""
    if args.data is None:
        args.data = DEFAULTS["data"]
    check_data(args.data)
    table = is_table(args.data)
    flags = ("no_standardize", "no_early_stopping", "verbose", "stream")
    given = [k for k in TABLE_OPTIONS if getattr(args, k) is not None] + [k for k in flags if getattr(args, k, False)]
    if not table and given:
        named = ", ".join("--" + k.replace("_", "-") for k in given)
        raise ValueError(
            f"{named} {'applies' if len(given) == 1 else 'apply'} to a table of your own, not to --data {args.data}"
        )
    if args.no_standardize and args.scaling is not None:
        raise ValueError("give --scaling or --no-standardize, not both")
    if args.no_early_stopping and args.patience is not None:
        raise ValueError("give --patience N (early stopping after N epochs) or --no-early-stopping, not both")
    given = _given(args)
    base = {**DEFAULTS, **(TABLE_DEFAULTS if table else DATA_DEFAULTS.get(args.data, {}))}
    if table:
        base["loss"] = None  # chosen from the task once the table is read
    if "sizes" in given:
        base.pop("hidden", None)
    config = {**base, **given}
    if table:
        config.update(
            patience=None if args.no_early_stopping else (args.patience or TABLE_PATIENCE),
            class_weight=args.class_weight,
            schedule=args.schedule or TABLE_SCHEDULE,
            numeric_embedding=args.numeric_embedding or TABLE_NUMERIC_EMBEDDING,
        )
    stem = Path(args.data).stem if table else args.data
    save_path = args.save or os.path.join("runs", f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors")
    return Run(config, save_path, config["epochs"])


def run(args) -> int:
    from mlp.train.distributed import communicator_of

    _check_plot_possible(args.plot)
    if args.sizes is not None and args.hidden is not None:
        raise ValueError("give --sizes (every width) or --hidden (hidden widths only), not both")
    if args.epochs is not None and args.epochs < 1:  # with --resume: the epochs to add, which is no fewer than one
        raise ValueError(
            f"--epochs must be a positive integer, got {args.epochs}"
            + (" (with --resume: the epochs to train beyond the checkpoint's)" if args.resume else "")
        )
    comm = communicator_of(args)  # --distributed: one MPI job, where rank 0 alone prints and writes files
    quiet = args.quiet or not comm.is_root
    if comm.size > 1:  # the same options everywhere (paths may differ between hosts), before any file is read
        from mlp.train.distributed import same_settings

        same_settings(
            comm,
            {
                k: v
                for k, v in vars(args).items()  # the options, as parsed (not what was added)
                if k not in PER_PROCESS and isinstance(v, (type(None), bool, int, float, str, list))
            },
        )
    r = resumed_run(args) if args.resume else new_run(args)
    config = r.config
    for option in ("sep", "decimal"):  # how a CSV table is read: never silently unused
        if getattr(args, option, None) is not None and not is_table(args.data):
            raise ValueError(f"--{option} applies to a CSV table, not to the built-in data set --data {args.data}")
    # before any work: a typo such as --save train.csv would replace the table with a checkpoint
    tables = {
        "--data": args.data if is_table(args.data) else None,
        "--val-data": config.get("val_data") or getattr(args, "val_data", None),
    }
    refuse_overwrite({"--save": r.save_path, "--plot": args.plot}, tables)
    refuse_overwrite({"--plot": args.plot}, {"--resume": args.resume})  # --save may be --resume: it goes on
    if args.plot and same_file(args.plot, r.save_path):
        raise ValueError(
            f"--plot {args.plot} is the same file as --save {r.save_path}: the plot would replace the "
            f"checkpoint; choose another plot path"
        )
    streamed = None
    if is_table(args.data) and _streams(args, config, comm, quiet):
        from .table_data import stream_data

        *data, streamed = stream_data(args, config, r.ckpt, quiet, VAL_SPLIT, comm)
    elif is_table(args.data):
        from .table_data import table_data

        data = table_data(args, config, r.ckpt, quiet, VAL_SPLIT)
    else:
        data = _builtin_data(args, quiet)
    try:
        return _train(args, r, config, comm, quiet, data, streamed)
    finally:
        if streamed is not None:
            streamed.close()


def _streams(args, config, comm, quiet) -> bool:
    """Whether the table is streamed: as the resumed run was; else when asked (``--stream``), for a folder or glob,
    for several processes, or for a table that would take more than :data:`STREAM_SHARE` of the memory available
    (said)."""
    from mlp.io.tables.sources import available_memory, memory_needed

    if args.resume:  # as the run was (--stream is refused there): its validation rows and its order depend on it
        return bool(config.get("stream"))
    if args.stream or comm.size > 1 or Path(args.data).is_dir() or any(ch in str(args.data) for ch in "*?["):
        return True
    need, have = memory_needed(args.data, config["dtype"]), available_memory()
    if need is not None and have is not None and need > STREAM_SHARE * have:
        if not quiet:
            say(
                f"streaming {args.data}: held whole it would take about {need / 2**30:.1f} GiB of the "
                f"{have / 2**30:.1f} GiB of memory available; it is read block by block instead (--stream)"
            )
        return True
    return False


def _train(args, r, config, comm, quiet, data, streamed) -> int:
    import mlp

    (X, y), val, evaluation, task, pre = data
    if args.resume and r.previous_data and pre is None and X.shape[1] != r.model.sizes[0]:
        raise ValueError(
            f"--data {args.data}: its rows have {X.shape[1]} values, but the model of {args.resume} (a "
            f"run on {r.previous_data}) reads {r.model.sizes[0]}"
        )
    if config.get("optimizer") == "lbfgs" and not args.resume and args.batch_size is None:
        config["batch_size"] = len(X)  # L-BFGS is a full-batch method: the whole training set, unless asked
    if is_table(args.data) and not args.resume and args.epochs is None:
        config["epochs"] = r.epochs = recipe.table_epochs(len(X), config["batch_size"], config["epochs"])
    if not args.resume:
        r.model, r.optimizer = _new_model(args, config, X, y, task, pre)
        config["loss"] = config.get("loss") or ("mse" if task == "regression" else "cross_entropy")
    if not quiet:
        say(
            f"training {r.model.sizes} ({config['activation']}, {config['loss']}, {r.optimizer!r}) on {args.data}: "
            f"{len(X)} samples, batch {config['batch_size']}, {r.epochs} epochs, backend {r.model.backend.name} "
            f"({r.model.backend.device}), {r.model.dtype}, {_threads_text()}"
        )
        periodic = [layer for layer in r.model.layers[:1] if isinstance(layer, mlp.PeriodicEmbedding)]
        if periodic and not args.resume:
            say(
                f"numbers: {len(periodic[0].columns)} inputs embedded with learned periodic features "
                f"({periodic[0].n_frequencies} frequencies, {periodic[0].dim} features each: mlp.PeriodicEmbedding); "
                f"--numeric-embedding none to turn off"
            )
        elif (
            pre is not None
            and pre.mean is not None
            and config.get("numeric_embedding") == "auto"
            and not args.resume
            and len(X) > recipe.PERIODIC_MOST_ROWS
        ):
            say(
                f"numbers: no periodic features above {recipe.PERIODIC_MOST_ROWS:,} training rows (their cost); "
                f"--numeric-embedding periodic to add them"
            )
        if r.initial_epoch or r.initial_step:
            say(
                f"resuming {args.resume} after epoch {r.initial_epoch}"
                + (f", step {r.initial_step}" if r.initial_step else "")
                + f", to epoch {r.epochs}"
                + (f", on {args.data} (the run so far trained on {r.previous_data})" if r.previous_data else "")
            )
    stopper = _early_stopping(config, val, quiet)
    if config.get("class_weight") and task != "classification":
        raise ValueError(f"--class-weight {config['class_weight']} weighs classes; the task is {task}")
    saved_config = {k: v for k, v in config.items() if k != "hidden"}
    saved_config["sizes"] = list(config["sizes"])
    from mlp.train.distributed import same_settings

    # several processes: the same settings everywhere (as the table made them), or a refusal naming them
    same_settings(comm, {k: v for k, v in saved_config.items() if k not in PER_PROCESS})
    extra = {"cli": saved_config, "data": args.data}
    if pre is not None:
        extra["preprocessing"] = pre.to_dict()
    _check_saveable(r.save_path, extra)  # before any work: a checkpoint that could not be loaded back is no save
    try:
        history = mlp.fit(
            r.model,
            X,
            y,
            loss=config["loss"],
            optimizer=r.optimizer,
            epochs=r.epochs,
            batch_size=config["batch_size"],
            validation_data=val,
            seed=config["seed"],
            progress=not quiet,
            callbacks=[*stopper, mlp.ModelCheckpoint(r.save_path)],
            initial_epoch=r.initial_epoch,
            initial_step=r.initial_step,
            history=r.history,
            extra=extra,
            task=task,
            communicator=comm,
            class_weight=config.get("class_weight"),
        )
    except mlp.TrainingInterrupted as stop:
        from mlp.train.epoch import stop_signal

        # every rank stopped at the same step, some perhaps by the signal of another: the job's signal is agreed
        # (the highest number: SIGTERM over SIGINT over SIGHUP), and rank 0 saves the step
        signum = stop_signal() or signal.SIGINT
        if comm.size > 1:
            signum = int(comm.allreduce(int(stop_signal() or 0), op="max")) or signal.SIGINT
        if comm.is_root:
            _save_interrupted(r, stop, extra, task, signum)
        return 128 + signum
    if not comm.is_root:
        if streamed is not None:  # the final metrics are measured by every process (a sum over their rows)
            streamed_metrics(r.model, evaluation[1], config["loss"], task, pre, comm)
        return 0
    if args.plot:
        write_plot(history, args.plot)

    seconds = sum(history.history["seconds"][-(r.epochs - r.initial_epoch) :]) if history.epoch else 0.0
    if streamed is not None:
        name, rows = evaluation
        result = streamed_metrics(r.model, rows, config["loss"], task, pre, comm)
    else:
        name, (X_eval, y_eval) = evaluation
        result = metrics(r.model, X_eval, y_eval, config["loss"], task, pre)
    summary = format_metrics(result)
    warning = baseline_warning(result, f"{name} accuracy")
    if warning:  # on stderr, before the summary: the summary stays the last line
        print(warning, file=sys.stderr, flush=True)
    kept = ""
    if stopper and stopper[0].best_epoch is not None:
        watched = stopper[0].monitor.replace("val_", "validation ")
        kept = (
            ", stopped early" if stopper[0].stopped_epoch is not None else ""
        ) + f"; weights of epoch {stopper[0].best_epoch + 1} kept (the best {watched})"
    say(
        f"{name} {summary} after {len(history.epoch)} epochs{kept} ({seconds:.1f} s of training); checkpoint saved "
        f"to {r.save_path}" + (f"; plot in {args.plot}" if args.plot else "")
    )
    return 0


def _early_stopping(config, val, quiet) -> list:
    """``[callback]`` for a table's early stopping (``config["patience"]``), or ``[]``; says which, unless quiet."""
    import mlp

    patience = config.get("patience")
    if not patience:
        if "patience" in config and not quiet:  # a table with --no-early-stopping
            say("early stopping: off (--no-early-stopping); the last epoch's weights are kept")
        return []
    if val is None:
        if not quiet:
            say("early stopping: off (no validation data: --val-split 0); the last epoch's weights are kept")
        return []

    class KeepBest(mlp.EarlyStopping):
        """Early stopping that keeps the best epoch's weights also when the epoch budget ends first.

        It restores them in the epoch that stops (or ends the budget), before the checkpoint callback that
        follows it writes the file, so that the checkpoint holds the weights that were measured best.
        """

        def __init__(self):
            super().__init__(TABLE_MONITOR, patience, restore_best=False)
            self.best_weights, self.stopped_epoch = None, None

        def on_epoch_end(self, epoch, logs, state):
            super().on_epoch_end(epoch, logs, state)
            if self.best_epoch == epoch:
                self.best_weights = state.model.state_dict()
            last = state.stop_training or epoch + 1 == state.epochs
            if state.stop_training:
                self.stopped_epoch = epoch
                # the run's plan ends here: the checkpoint written next says so, so that --resume without
                # --epochs does not train on past the stop (with --epochs N it trains N more, as for any run)
                if isinstance(state.extra.get("cli"), dict):
                    state.extra["cli"]["epochs"] = epoch + 1
            if last and self.best_weights is not None and self.best_epoch != epoch:
                state.model.load_state_dict(self.best_weights)

    if not quiet:
        watched = TABLE_MONITOR or mlp.train.callbacks.default_monitor(config["task"])
        say(
            f"early stopping: on the {watched.replace('val_', 'validation ')}, patience {patience} epochs; "
            f"the best epoch's weights are kept (--patience N, --no-early-stopping)"
        )
    return [KeepBest()]


def _threads_text() -> str:
    from mlp.train import threads

    choice = threads.current
    return f"BLAS {choice.describe(detail=False)}" if choice is not None else "BLAS threads as the libraries chose"


def _check_saveable(path, extra: dict):
    """Refuse, before training, a run whose checkpoint ``mlp`` could not load back (a value out of the metadata's
    range, such as an integer category code of 20 digits), naming the value."""
    from mlp.core.errors import CheckpointError
    from mlp.io.checkpoint_checks import check_values

    try:
        check_values(path, {"extra": extra})
    except CheckpointError as e:
        problem = str(e).removeprefix(f"checkpoint {os.fspath(path)!r}: ").replace('invalid "mlp" metadata: ', "")
        import re

        found = re.match(r"extra\.preprocessing\.columns\[(\d+)\]", problem)
        columns = (extra.get("preprocessing") or {}).get("columns") or []
        if found and int(found[1]) < len(columns) and isinstance(columns[int(found[1])], dict):
            problem = f"column {columns[int(found[1])].get('name')!r}: {problem}"
        raise ValueError(
            f"--save {path}: this run's checkpoint could not be loaded back ({problem}; a checkpoint "
            f"holds integers of magnitude at most 2**63): nothing was trained"
        ) from None


def _save_interrupted(r: Run, stop, extra, task, signum=signal.SIGINT):
    import mlp
    from mlp.train.loop import save_training_state

    state = mlp.FitState(
        r.model,
        r.optimizer,
        mlp.get_loss(r.config["loss"]),
        stop.history,
        r.epochs,
        r.config["seed"],
        extra={**extra, "step": stop.step},
        task=task,
    )
    save_training_state(r.save_path, state, stop.epoch)
    from mlp.train.epoch import signal_name

    by = "" if signum == signal.SIGINT else f" by {signal_name(signum)}"  # Ctrl-C's line is as it always was
    print(
        f"mlp: interrupted{by} at epoch {stop.epoch + 1}, step {stop.step}; checkpoint saved to {r.save_path} "
        f"(continue with: mlp train --resume {r.save_path})",
        file=sys.stderr,
        flush=True,
    )


def _split(args, data):
    """Training, validation and test sets: MNIST-like data use the book's split (50k/10k/10k)."""
    (X, y), (X_test, y_test) = data
    if args.data in ("mnist", "fashion-mnist") and len(X) == 60_000:
        return (X[:50_000], y[:50_000]), (X[50_000:], y[50_000:]), (X_test, y_test)
    return (X, y), None, (X_test, y_test)


def _builtin_data(args, quiet):
    """``((X, y), validation or None, ("test", (X_test, y_test)), "classification", None)``."""
    data = load_builtin(args, quiet)
    (X, y), val, test = _split(args, data)
    return (X, y), val, ("test", test), "classification", None


def _new_model(args, config, X, y, task, pre):
    import mlp
    from mlp.core.registry import OPTIMIZERS

    n_in = pre.n_inputs() if pre is not None else X.shape[1]
    n_out = pre.n_outputs() if pre is not None else int(y.max()) + 1
    sizes = [n_in, *config["hidden"], n_out] if config.get("hidden") is not None else config["sizes"]
    if pre is None:
        n_classes = n_out
        n_out = 1 if n_classes == 2 and sizes[-1] == 1 else n_classes
    elif task == "classification" and n_out == 2 and sizes[-1] == 1:
        n_out = 1
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise ValueError(
            f"--sizes {','.join(map(str, sizes))} does not fit --data {args.data}: "
            f"the input width must be {n_in} and the output width {n_out}"
        )
    config["sizes"] = sizes
    if args.momentum is not None and config["optimizer"] != "sgd":
        raise ValueError(
            f"--momentum applies to --optimizer sgd; {config['optimizer']} has no momentum to set"
            + (" (its moments are Adam's betas)" if config["optimizer"].startswith("adam") else "")
        )
    _check_model_fits(args, config, sizes)
    loss = config.get("loss") or ("mse" if task == "regression" else "cross_entropy")
    output = "identity" if task == "regression" else None
    # a table's categorical columns are codes: its OneHot and Embedding layers come first
    inputs = (
        pre.input_layers(
            numeric_embedding=recipe.numeric_embedding(
                config.get("numeric_embedding"), len(X), scaled=pre.mean is not None
            )
        )
        if pre is not None
        else []
    )
    model = mlp.build_mlp(
        sizes,
        config["activation"],
        loss,
        config["init"],
        backend_of_args(args),
        config["dtype"],
        config["seed"],
        output=output,
        input_layers=inputs,
        **({"dropout": config["dropout"]} if config.get("dropout") else {}),
    )
    settings = {
        "lr": config["lr"],
        "weight_decay": mlp.l2_weight_decay(config["l2"], len(X)) if config["l2"] else 0.0,
        "l1": mlp.l1_strength(config["l1"], len(X)) if config.get("l1") else 0.0,
    }
    if config["optimizer"] == "sgd":
        settings["momentum"] = config["momentum"]
    if config["optimizer"] == "adamw" and not config["l2"]:
        settings.pop("weight_decay")  # AdamW's own decoupled decay, not none
    if config.get("schedule") == "cosine":  # over the whole budget: early stopping may end it sooner
        steps = -(-len(X) // config["batch_size"]) * config["epochs"]
        from mlp.io.tables import StreamedRows

        if isinstance(X, StreamedRows):  # a streamed epoch's last batch of each window may be short: more steps
            from mlp.train.windows import WindowPlan

            plan = WindowPlan(X.layout, config["batch_size"], config["seed"])
            steps = sum(plan.n_steps(e) for e in range(config["epochs"]))
        settings["schedule"] = mlp.Cosine(steps, warmup_steps=0, final=0.0)
    if config["optimizer"] == "lbfgs" and args.lr is None:
        settings.pop("lr")  # its line search sets the step; lr=1 (scipy's) unless --lr asks otherwise
    optimizer = OPTIMIZERS[config["optimizer"]](**settings)
    return model, optimizer


#: copies of the weights training holds: the weights, their gradients, the last good state kept for a roll-back,
#: and the optimizer's state (per optimizer; L-BFGS its history of 10 pairs)
_COPIES = {"sgd": 4, "adam": 5, "adamw": 5, "lbfgs": 24}


def _check_model_fits(args, config, sizes):
    """Refuse, before allocating, a model whose training state would not fit in this machine's memory (a CPU
    backend; ``--hidden 100000000`` was killed by the system with no word), naming the option and the sizes."""
    from mlp.backends import get_backend
    from mlp.io.tables.sources import available_memory

    if "cpu" not in str(get_backend(backend_of_args(args)).device).lower():
        return
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    size = 4 if config["dtype"] == "float32" else 8
    # the weights' copies, and a step's activations (forward values, their gradients and a temporary) at its batch
    need = size * (params * _COPIES.get(config["optimizer"], 5) + 3 * config["batch_size"] * sum(sizes[1:]))
    have = available_memory()
    if have is not None and need > have:
        option = "--hidden" if args.hidden is not None else "--sizes"
        raise ValueError(
            f"{option}: a model of widths {','.join(map(str, sizes))} has {params:,} parameters; "
            f"training it ({config['optimizer']}, {config['dtype']}) needs about {need / 2**30:.1f} GiB, "
            f"and {have / 2**30:.1f} GiB of memory is available"
        )


def _check_plot_possible(path):
    """Refuse, before training, a ``--plot`` that could not be written: matplotlib missing, or a file suffix that is
    not an image format matplotlib writes."""
    if path is None:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"mlp: error: --plot {path} needs matplotlib: pip install 'mlp-arrayapi[plot]' (or pip install matplotlib)"
        ) from None
    _plot_format(path)


def _plot_format(path) -> str:
    """The image format of ``--plot path``: its suffix (png without one), checked against matplotlib's formats."""
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise ValueError(
            f"--plot {path}: .{suffix} is not an image format matplotlib writes; name the file "
            f"{Path(path).stem}.png (or .{', .'.join(f for f in sorted(formats) if f != 'png')})"
        )
    return suffix or "png"


def write_plot(history, path):
    """An image (PNG unless the suffix says otherwise) with loss and accuracy per epoch (training and validation),
    written atomically (through a link to its target)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mlp.io.atomic import write_atomic

    h = history.history
    epochs = [e + 1 for e in history.epoch]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    metric = "r2" if "r2" in h else "accuracy"
    for key, ax in ((("loss", ax1)), (metric, ax2)):
        ax.plot(epochs, h[key], marker="o", label="training")
        if any(v == v for v in h["val_" + key]):
            ax.plot(epochs, h["val_" + key], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format=_plot_format(path), dpi=100)
    plt.close(fig)
    write_atomic(path, image.getvalue())
