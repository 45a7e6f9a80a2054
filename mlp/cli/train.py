"""``mlp train``: a new run on a built-in data set or a table, or ``--resume`` of a saved one."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# the table recipe (network, budget, early stopping): one place for the command and mlp.sklearn's Tabular estimators
from mlp.train import recipe
from mlp.train.callbacks import Resume
from mlp.train.recipe import TABLE_DEFAULTS, TABLE_MONITOR, TABLE_MOST_EPOCHS, TABLE_PATIENCE, TABLE_STEPS, VAL_SPLIT

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
from .settings import (
    DATA_DEFAULTS,
    DEFAULTS,
    PER_PROCESS,
    TABLE_OPTIONS,
    Reading,
    TrainData,
    TrainSettings,
    given,
    reading,
    resolve,
)

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
    from mlp.io.datasets import DATASETS

    from .distributed import command as with_communicator

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
    _add_table_options(t)
    _add_column_options(t)
    _add_recipe_options(t)
    _add_model_options(t)
    _add_run_options(t)
    t.set_defaults(func=with_communicator(run))
    return t


def _add_table_options(t):
    """A table's target and task, its validation rows, how its numbers are scaled and embedded."""
    from mlp.io.tables.preprocessing import SCALINGS

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


def _add_column_options(t):
    """How a table's columns are read: as categories, as numbers, left out; said column by column."""
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


def _add_recipe_options(t):
    """A table's recipe: early stopping, class weights, the learning-rate schedule."""
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


def _add_model_options(t):
    """The network's options: widths, activation, loss, initialisation, optimizer and regularisation."""
    from mlp.core.registry import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS

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


def _add_run_options(t):
    """The run's options: epochs, batch, dtype, seed; where it saves and resumes; how tables are read; output;
    data-parallel training."""
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


@dataclass(frozen=True)
class Run:
    """What a ``mlp train`` invocation trains: where it saves, how its table is read, and for a resumed run its
    checkpoint, its settings (with the data and epochs the resume chose) and where it goes on from."""

    save_path: str
    reading: Reading | None = None
    settings: TrainSettings | None = None  # a new run's are resolved once its data is read
    ckpt: Any = None
    resume: Resume = field(default_factory=Resume)
    previous_data: str | None = None  # resumed on other data (--data): what the run trained on before


def resumed_run(args, comm) -> Run:
    """The run saved in ``args.resume``; only ``--epochs`` (more epochs), ``--save`` and the machine may change.

    Without ``--epochs`` the run goes on to the epochs it planned (its saved ``epochs``: the total it was
    started, or last resumed, to reach), so that an interrupted ``mlp train --epochs 3`` resumed ends after
    epoch 3; a run that finished its plan needs ``--epochs N`` (N more).  The new plan is what the
    checkpoint then saves.
    """
    import mlp
    from mlp.train.distributed import load_checkpoint_shared

    # several processes: rank 0 reads the checkpoint and hands it to the others
    ckpt = load_checkpoint_shared(args.resume, backend=backend_of_args(args), comm=comm)
    extra = ckpt.metadata.get("extra", {})
    saved = extra.get("cli")
    asked = (given(args).keys() - {"data", "epochs"}) | {k for k in TABLE_OPTIONS if getattr(args, k) is not None}
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
    try:
        settings = TrainSettings.from_dict(saved)
    except (ValueError, TypeError) as e:
        raise mlp.CheckpointError(f"{args.resume}: {e}") from None
    epoch, step = int(extra.get("epoch", 0)), int(extra.get("step", 0))
    args.data = _resumed_data(args, settings, ckpt, epoch, step)
    if args.epochs is not None:
        epochs = epoch + args.epochs
    else:
        epochs = int(settings.epochs)
        if epochs <= epoch and not step:
            raise ValueError(
                f"{args.resume} has finished the {epochs} epochs its run planned; to train more, "
                f"give --epochs N (N more epochs)"
            )
    return Run(
        args.save or args.resume,
        reading(args, settings),
        settings.resumed(args.data, epochs),
        ckpt,
        Resume(epoch, step, mlp.History.from_dict(extra.get("history", {}))),
        settings.data if settings.data != args.data else None,
    )


def _resumed_data(args, saved: TrainSettings, ckpt, epoch: int, step: int) -> str:
    """The data a resumed run trains on: its own (no ``--data``, or the same), or the ``--data`` given where the run
    can go on with it: a table read with the run's saved preprocessing (the same columns and classes), or a built-in
    set of the same width.  Anything else is refused, naming both."""
    old, new = saved.data, args.data
    if new is None or new == old or (is_table(new) and is_table(old) and Path(new).exists() and same_file(new, old)):
        return old
    check_data(new)
    hint = f"drop --data to continue on {old}, or start a new run without --resume"
    if is_table(old) != is_table(new) or (is_table(old) and ckpt.preprocessor is None):
        kind = "the table" if is_table(old) else "the built-in data set"
        fits = "another table with the same columns" if is_table(old) else "another built-in data set of its width"
        raise ValueError(f"--data {new}: {args.resume} is a run on {kind} {old}; it can go on only on {fits} ({hint})")
    if saved.table is not None and saved.table.stream:
        raise ValueError(
            f"--data {new}: {args.resume} streamed its table {old} (its order and validation rows are "
            f"the table's); a streamed run goes on only on its own table ({hint})"
        )
    if step:
        raise ValueError(
            f"--data {new}: {args.resume} stopped in the middle of epoch {epoch + 1} (after step {step}) "
            f"of {old}; finish that epoch on it first (mlp train --resume {args.resume} --epochs 1), "
            f"then go on with --data {new}"
        )
    return new


def new_run(args) -> Run:
    """A new run: its options checked against the kind of data, where it saves, how its table is read."""
    if args.data is None:
        args.data = DEFAULTS["data"]
    check_data(args.data)
    table = is_table(args.data)
    flags = ("no_standardize", "no_early_stopping", "verbose", "stream")
    named = [k for k in TABLE_OPTIONS if getattr(args, k) is not None] + [k for k in flags if getattr(args, k, False)]
    if not table and named:
        text = ", ".join("--" + k.replace("_", "-") for k in named)
        raise ValueError(
            f"{text} {'applies' if len(named) == 1 else 'apply'} to a table of your own, not to --data {args.data}"
        )
    if args.no_standardize and args.scaling is not None:
        raise ValueError("give --scaling or --no-standardize, not both")
    if args.no_early_stopping and args.patience is not None:
        raise ValueError("give --patience N (early stopping after N epochs) or --no-early-stopping, not both")
    stem = Path(args.data).stem if table else args.data
    save_path = args.save or os.path.join("runs", f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}.safetensors")
    return Run(save_path, reading(args))


def run(args) -> int:
    from .distributed import communicator_of, same_settings

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
    # the same options everywhere (as parsed; paths may differ between hosts), before any file is read
    same_settings(
        comm,
        {
            k: v
            for k, v in vars(args).items()
            if k not in PER_PROCESS and isinstance(v, (type(None), bool, int, float, str, list))
        },
    )
    r = resumed_run(args, comm) if args.resume else new_run(args)
    for option in ("sep", "decimal"):  # how a CSV table is read: never silently unused
        if getattr(args, option, None) is not None and not is_table(args.data):
            raise ValueError(f"--{option} applies to a CSV table, not to the built-in data set --data {args.data}")
    # before any work: a typo such as --save train.csv would replace the table with a checkpoint
    tables = {
        "--data": args.data if is_table(args.data) else None,
        "--val-data": (r.reading.val_data if r.reading is not None else None) or getattr(args, "val_data", None),
    }
    refuse_overwrite({"--save": r.save_path, "--plot": args.plot}, tables)
    refuse_overwrite({"--plot": args.plot}, {"--resume": args.resume})  # --save may be --resume: it goes on
    if args.plot and same_file(args.plot, r.save_path):
        raise ValueError(
            f"--plot {args.plot} is the same file as --save {r.save_path}: the plot would replace the "
            f"checkpoint; choose another plot path"
        )
    if r.reading is not None and _streams(args, r, comm, quiet):
        from .table_data import stream_data

        data = stream_data(args, r.reading, r.ckpt, quiet, comm)
    elif r.reading is not None:
        from .table_data import table_data

        data = table_data(args, r.reading, r.ckpt, quiet)
    else:
        data = _builtin_data(args, quiet)
    try:
        return _train(args, r, comm, quiet, data)
    finally:
        if data.table is not None:
            data.table.close()


def _streams(args, r: Run, comm, quiet) -> bool:
    """Whether the table is streamed: as the resumed run was; else when asked (``--stream``), for a folder or glob,
    for several processes, or for a table that would take more than :data:`STREAM_SHARE` of the memory available
    (said)."""
    from mlp.io.tables.sources import available_memory, memory_needed

    if args.resume:  # as the run was (--stream is refused there): its validation rows and its order depend on it
        return bool(r.settings.table is not None and r.settings.table.stream)
    if args.stream or comm.size > 1 or Path(args.data).is_dir() or any(ch in str(args.data) for ch in "*?["):
        return True
    need, have = memory_needed(args.data, r.reading.dtype), available_memory()
    if need is not None and have is not None and need > STREAM_SHARE * have:
        if not quiet:
            say(
                f"streaming {args.data}: held whole it would take about {need / 2**30:.1f} GiB of the "
                f"{have / 2**30:.1f} GiB of memory available; it is read block by block instead (--stream)"
            )
        return True
    return False


def _train(args, r: Run, comm, quiet, data: TrainData) -> int:
    """The run trained on ``data``: its settings (resolved once, for a new run), model, callbacks; then the
    checkpoint of an interrupted run, or the summary of a finished one."""
    import mlp

    from .distributed import same_settings

    X, y = data.train
    if args.resume and r.previous_data and data.pre is None and X.shape[1] != r.ckpt.model.sizes[0]:
        raise ValueError(
            f"--data {args.data}: its rows have {X.shape[1]} values, but the model of {args.resume} (a "
            f"run on {r.previous_data}) reads {r.ckpt.model.sizes[0]}"
        )
    settings = r.settings if args.resume else resolve(args, data)
    if args.resume:
        model, optimizer = r.ckpt.model, r.ckpt.optimizer
    else:
        model, optimizer = _new_model(args, settings, data)
    if not quiet:
        _say_plan(args, r, settings, model, optimizer, data)
    stopper = _early_stopping(settings, data.val, quiet)
    # several processes: the same settings everywhere (as the table made them), or a refusal naming them
    same_settings(comm, settings.shared())
    extra = {"cli": settings.to_dict(), "data": args.data}
    if data.pre is not None:
        extra["preprocessing"] = data.pre.to_dict()
    _check_saveable(r.save_path, extra)  # before any work: a checkpoint that could not be loaded back is no save
    try:
        history = mlp.fit(
            model,
            X,
            y,
            loss=settings.loss,
            optimizer=optimizer,
            epochs=settings.epochs,
            batch_size=settings.batch_size,
            validation_data=data.val,
            seed=settings.seed,
            progress=not quiet,
            callbacks=[*stopper, mlp.ModelCheckpoint(r.save_path)],
            resume=replace(r.resume, extra=extra),
            task=data.task,
            communicator=comm,
            class_weight=settings.table.class_weight if settings.table is not None else None,
        )
    except mlp.TrainingInterrupted as stop:
        return _interrupted(r, settings, model, optimizer, stop, extra, data.task, comm)
    if not comm.is_root:
        if data.table is not None:  # the final metrics are measured by every process (a sum over their rows)
            streamed_metrics(model, data.evaluation[1], settings.loss, data.task, data.pre, comm)
        return 0
    if args.plot:
        write_plot(history, args.plot)
    _say_summary(args, r, settings, model, data, history, stopper, comm)
    return 0


def _say_plan(args, r: Run, settings: TrainSettings, model, optimizer, data: TrainData):
    """What is trained, on what, how; the numeric embedding chosen; where a resumed run goes on from."""
    import mlp

    X, _ = data.train
    say(
        f"training {model.sizes} ({settings.activation}, {settings.loss}, {optimizer!r}) on {args.data}: "
        f"{len(X)} samples, batch {settings.batch_size}, {settings.epochs} epochs, backend {model.backend.name} "
        f"({model.backend.device}), {model.dtype}, {_threads_text()}"
    )
    periodic = [layer for layer in model.layers[:1] if isinstance(layer, mlp.PeriodicEmbedding)]
    if periodic and not args.resume:
        say(
            f"numbers: {len(periodic[0].columns)} inputs embedded with learned periodic features "
            f"({periodic[0].n_frequencies} frequencies, {periodic[0].dim} features each: mlp.PeriodicEmbedding); "
            f"--numeric-embedding none to turn off"
        )
    elif (
        data.pre is not None
        and data.pre.mean is not None
        and settings.table is not None
        and settings.table.numeric_embedding == "auto"
        and not args.resume
        and len(X) > recipe.PERIODIC_MOST_ROWS
    ):
        say(
            f"numbers: no periodic features above {recipe.PERIODIC_MOST_ROWS:,} training rows (their cost); "
            f"--numeric-embedding periodic to add them"
        )
    if r.resume.epoch or r.resume.step:
        say(
            f"resuming {args.resume} after epoch {r.resume.epoch}"
            + (f", step {r.resume.step}" if r.resume.step else "")
            + f", to epoch {settings.epochs}"
            + (f", on {args.data} (the run so far trained on {r.previous_data})" if r.previous_data else "")
        )


def _interrupted(r: Run, settings: TrainSettings, model, optimizer, stop, extra, task, comm) -> int:
    """The exit status of a run stopped by a signal; rank 0 saves its step."""
    from mlp.train.epoch import stop_signal

    # every rank stopped at the same step, some perhaps by the signal of another: the job's signal is agreed
    # (the highest number: SIGTERM over SIGINT over SIGHUP), and rank 0 saves the step
    signum = stop_signal() or signal.SIGINT
    if comm.size > 1:
        signum = int(comm.allreduce(int(stop_signal() or 0), op="max")) or signal.SIGINT
    if comm.is_root:
        _save_interrupted(r.save_path, settings, model, optimizer, stop, extra, task, signum)
    return 128 + signum


def _say_summary(args, r: Run, settings: TrainSettings, model, data: TrainData, history, stopper, comm):
    """The last line: the final metrics, the epochs, the weights kept, the seconds, where the checkpoint is."""
    seconds = sum(history.history["seconds"][-(settings.epochs - r.resume.epoch) :]) if history.epoch else 0.0
    name, evaluated = data.evaluation
    if data.table is not None:
        result = streamed_metrics(model, evaluated, settings.loss, data.task, data.pre, comm)
    else:
        X_eval, y_eval = evaluated
        result = metrics(model, X_eval, y_eval, settings.loss, data.task, data.pre)
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


def _early_stopping(settings: TrainSettings, val, quiet) -> list:
    """``[callback]`` for a table's early stopping (its ``patience``), or ``[]``; says which, unless quiet."""
    import mlp

    patience = settings.table.patience if settings.table is not None else None
    if not patience:
        if settings.table is not None and not quiet:  # a table with --no-early-stopping
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
                    state.extra["cli"] = {**state.extra["cli"], "epochs": epoch + 1}
            if last and self.best_weights is not None and self.best_epoch != epoch:
                state.model.load_state_dict(self.best_weights)

    if not quiet:
        watched = TABLE_MONITOR or mlp.train.callbacks.default_monitor(settings.task)
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


def _save_interrupted(path, settings: TrainSettings, model, optimizer, stop, extra, task, signum=signal.SIGINT):
    import mlp
    from mlp.train.loop import save_training_state

    state = mlp.FitState(
        model,
        optimizer,
        mlp.get_loss(settings.loss),
        stop.history,
        settings.epochs,
        settings.seed,
        extra={**extra, "step": stop.step},
        task=task,
    )
    save_training_state(path, state, stop.epoch)
    from mlp.train.epoch import signal_name

    by = "" if signum == signal.SIGINT else f" by {signal_name(signum)}"  # Ctrl-C's line is as it always was
    print(
        f"mlp: interrupted{by} at epoch {stop.epoch + 1}, step {stop.step}; checkpoint saved to {path} "
        f"(continue with: mlp train --resume {path})",
        file=sys.stderr,
        flush=True,
    )


def _split(args, data):
    """Training, validation and test sets: MNIST-like data use the book's split (50k/10k/10k)."""
    (X, y), (X_test, y_test) = data
    if args.data in ("mnist", "fashion-mnist") and len(X) == 60_000:
        return (X[:50_000], y[:50_000]), (X[50_000:], y[50_000:]), (X_test, y_test)
    return (X, y), None, (X_test, y_test)


def _builtin_data(args, quiet) -> TrainData:
    """A built-in data set: its training, validation (or None) and test sets; always a classification."""
    data = load_builtin(args, quiet)
    (X, y), val, test = _split(args, data)
    return TrainData((X, y), val, ("test", test), "classification")


def _new_model(args, settings: TrainSettings, data: TrainData):
    """A new run's model and optimizer, as ``settings`` say (a table's input layers first)."""
    import mlp
    from mlp.core.registry import OPTIMIZERS

    X, _ = data.train
    _check_model_fits(args, settings)
    output = "identity" if data.task == "regression" else None
    # a table's categorical columns are codes: its OneHot and Embedding layers come first
    inputs = []
    if data.pre is not None:
        embedding = recipe.numeric_embedding(settings.table.numeric_embedding, len(X), scaled=data.pre.mean is not None)
        inputs = data.pre.input_layers(numeric_embedding=embedding)
    model = mlp.build_mlp(
        list(settings.sizes),
        settings.activation,
        settings.loss,
        settings.init,
        backend_of_args(args),
        settings.dtype,
        settings.seed,
        output=output,
        input_layers=inputs,
        **({"dropout": settings.dropout} if settings.dropout else {}),
    )
    return model, OPTIMIZERS[settings.optimizer](**_optimizer_settings(args, settings, X))


def _optimizer_settings(args, settings: TrainSettings, X) -> dict:
    """The optimizer's arguments: the learning rate, the book's L2 and L1 scaled by the training rows, SGD's
    momentum, a cosine schedule over the whole budget."""
    import mlp

    s = settings
    kwargs = {
        "lr": s.lr,
        "weight_decay": mlp.l2_weight_decay(s.l2, len(X)) if s.l2 else 0.0,
        "l1": mlp.l1_strength(s.l1, len(X)) if s.l1 else 0.0,
    }
    if s.optimizer == "sgd":
        kwargs["momentum"] = s.momentum
    if s.optimizer == "adamw" and not s.l2:
        kwargs.pop("weight_decay")  # AdamW's own decoupled decay, not none
    if s.table is not None and s.table.schedule == "cosine":  # over the whole budget: early stopping may end it sooner
        steps = -(-len(X) // s.batch_size) * s.epochs
        from mlp.io.tables import StreamedRows

        if isinstance(X, StreamedRows):  # a streamed epoch's last batch of each window may be short: more steps
            from mlp.train.windows import WindowPlan

            plan = WindowPlan(X.layout, s.batch_size, s.seed)
            steps = sum(plan.n_steps(e) for e in range(s.epochs))
        kwargs["schedule"] = mlp.Cosine(steps, warmup_steps=0, final=0.0)
    if s.optimizer == "lbfgs" and args.lr is None:
        kwargs.pop("lr")  # its line search sets the step; lr=1 (scipy's) unless --lr asks otherwise
    return kwargs


#: copies of the weights training holds: the weights, their gradients, the last good state kept for a roll-back,
#: and the optimizer's state (per optimizer; L-BFGS its history of 10 pairs)
_COPIES = {"sgd": 4, "adam": 5, "adamw": 5, "lbfgs": 24}


def _check_model_fits(args, settings: TrainSettings):
    """Refuse, before allocating, a model whose training state would not fit in this machine's memory (a CPU
    backend; ``--hidden 100000000`` was killed by the system with no word), naming the option and the sizes."""
    from mlp.backends import get_backend
    from mlp.io.tables.sources import available_memory

    if "cpu" not in str(get_backend(backend_of_args(args)).device).lower():
        return
    sizes = settings.sizes
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    size = 4 if settings.dtype == "float32" else 8
    # the weights' copies, and a step's activations (forward values, their gradients and a temporary) at its batch
    need = size * (params * _COPIES.get(settings.optimizer, 5) + 3 * settings.batch_size * sum(sizes[1:]))
    have = available_memory()
    if have is not None and need > have:
        option = "--hidden" if args.hidden is not None else "--sizes"
        raise ValueError(
            f"{option}: a model of widths {','.join(map(str, sizes))} has {params:,} parameters; "
            f"training it ({settings.optimizer}, {settings.dtype}) needs about {need / 2**30:.1f} GiB, "
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
