"""``mlp train``'s settings, resolved once into one frozen :class:`TrainSettings`.

A new run's are resolved by :func:`resolve` from the options given, the defaults for the kind of data and what the
data read (:class:`TrainData`: its task and target, the model's input and output widths, its size); a resumed run's
are its checkpoint's (:meth:`TrainSettings.from_dict`), with the data and the epochs the resume chose.  Either way
the value is then saved in the checkpoint (:meth:`TrainSettings.to_dict`, its ``extra["cli"]``: the keys and values
``mlp train`` has always saved) and compared between the processes of a job (:meth:`TrainSettings.shared`).

What the data must know before the settings can be resolved (the seed of a table's split, the inputs' dtype, the
share held out, the scaling) is a :class:`Reading`, from the options or the resumed run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, NamedTuple

from mlp.train.recipe import (
    TABLE_DEFAULTS,
    TABLE_NUMERIC_EMBEDDING,
    TABLE_PATIENCE,
    TABLE_SCHEDULE,
    VAL_SPLIT,
    table_epochs,
)

from .common import is_table

__all__ = [
    "DATA_DEFAULTS",
    "DEFAULTS",
    "PER_PROCESS",
    "TABLE_OPTIONS",
    "Reading",
    "TableSettings",
    "TrainData",
    "TrainSettings",
    "given",
    "reading",
    "resolve",
]

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


#: settings a checkpoint may lack (it read them with a default of none)
_OPTIONAL = {"l1": 0.0, "dropout": 0.0}


def _tuple(value):
    return None if value is None else tuple(value)


def _list(value):
    return None if value is None else list(value)


@dataclass(frozen=True)
class TableSettings:
    """A table's part of the settings: how it was read, split and scaled, and its recipe's choices."""

    target: str
    task: str
    standardize: bool
    scaling: str | None
    val_data: str | None
    val_split: float
    categorical: tuple[str, ...] | None
    numeric: tuple[str, ...] | None
    drop: tuple[str, ...] | None
    patience: int | None
    class_weight: str | None
    schedule: str | None
    numeric_embedding: str | None
    stream: bool = False


@dataclass(frozen=True)
class TrainSettings:
    """Everything ``mlp train`` trains with (a table's part in ``table``, None for a built-in data set)."""

    data: str
    sizes: tuple[int, ...]
    activation: str
    loss: str
    init: str
    optimizer: str
    lr: float
    momentum: float
    l2: float
    l1: float
    dropout: float
    epochs: int
    batch_size: int
    dtype: str
    seed: int
    table: TableSettings | None = None

    def to_dict(self) -> dict:
        """The JSON-able dict saved as a checkpoint's ``extra["cli"]`` (lists for sequences; ``stream`` only when
        the table was streamed)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "table"}
        d["sizes"] = list(self.sizes)
        if self.table is not None:
            t = asdict(self.table)
            for k in ("categorical", "numeric", "drop"):
                t[k] = _list(t[k])
            if not t["stream"]:
                del t["stream"]
            d.update(t)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainSettings:
        """The settings a checkpoint saved (:meth:`to_dict`; a table's keys that an older ``mlp`` did not save read
        as their absence meant).  A ValueError names a key the dict lacks."""
        d = {**_OPTIONAL, **d}
        missing = [f.name for f in fields(cls) if f.name != "table" and f.name not in d]
        if missing:
            raise ValueError(f"the saved settings of `mlp train` lack {', '.join(missing)}")
        common = {f.name: d[f.name] for f in fields(cls) if f.name != "table"}
        common["sizes"] = tuple(int(s) for s in d["sizes"])
        table = None
        if "target" in d or "task" in d:  # what every table's run saves
            table = TableSettings(
                target=d.get("target"),
                task=d.get("task") or "classification",
                standardize=d.get("standardize", True),
                scaling=d.get("scaling"),
                val_data=d.get("val_data"),
                val_split=d.get("val_split") or 0.0,
                categorical=_tuple(d.get("categorical")),
                numeric=_tuple(d.get("numeric")),
                drop=_tuple(d.get("drop")),
                patience=d.get("patience"),
                class_weight=d.get("class_weight"),
                schedule=d.get("schedule"),
                numeric_embedding=d.get("numeric_embedding"),
                stream=bool(d.get("stream", False)),
            )
        return cls(**common, table=table)

    def shared(self) -> dict:
        """What every process of a job must agree on: :meth:`to_dict` less the :data:`PER_PROCESS` keys."""
        return {k: v for k, v in self.to_dict().items() if k not in PER_PROCESS}

    def resumed(self, data: str, epochs: int) -> TrainSettings:
        """These settings going on with ``data`` to ``epochs`` epochs in total (``mlp train --resume``)."""
        return replace(self, data=data, epochs=epochs)

    @property
    def task(self) -> str:
        return self.table.task if self.table is not None else "classification"


@dataclass(frozen=True)
class Reading:
    """How a table is read, split and encoded: what the data needs before the settings can be resolved."""

    seed: int
    dtype: str
    val_split: float
    val_data: str | None
    standardize: bool
    scaling: str | None


class TrainData(NamedTuple):
    """What ``mlp train`` read: ``train`` ``(X, y)`` (a streamed table: ``(training rows, None)``), ``val`` (the same,
    or None), ``evaluation`` ``(name, data)`` (what the final metrics are measured on), the ``task``; for a table
    its preprocessing ``pre``, its ``target`` columns (comma-separated), the :class:`Reading` it was read with and,
    streamed, the ``table`` (closed after training)."""

    train: tuple
    val: Any
    evaluation: tuple
    task: str
    pre: Any = None
    target: str | None = None
    reading: Reading | None = None
    table: Any = None

    def widths(self) -> tuple[int, int]:
        """The model's input width and its number of outputs (classes, or regression targets)."""
        X, y = self.train
        if self.pre is not None:
            return self.pre.n_inputs(), self.pre.n_outputs()
        return X.shape[1], int(y.max()) + 1


def given(args) -> dict:
    """The options of :data:`DEFAULTS` (and ``--hidden``) given on the command line."""
    return {k: getattr(args, k) for k in (*DEFAULTS, "hidden") if getattr(args, k) is not None}


def _asked(args) -> dict:
    """A new run's options: the defaults for the kind of data (a table's recipe, a synthetic set's own),
    overridden by the options given; ``hidden`` (a table's default, or ``--hidden``) unless ``--sizes`` was given."""
    table = is_table(args.data)
    base = {**DEFAULTS, **(TABLE_DEFAULTS if table else DATA_DEFAULTS.get(args.data, {}))}
    if table:
        base["loss"] = None  # chosen from the task once the table is read
    options = given(args)
    if "sizes" in options:
        base.pop("hidden", None)
    return {**base, **options}


def reading(args, saved: TrainSettings | None = None) -> Reading | None:
    """How the table ``--data`` is read: by a resumed run as it was (``saved``), by a new one as the options
    say (the share held out: ``--val-split``, none with ``--val-data``, else :data:`VAL_SPLIT`).  None for a
    built-in data set."""
    from mlp.io.tables.preprocessing import SCALINGS

    if not is_table(args.data):
        return None
    if saved is not None:
        t = saved.table
        if t is None:  # a run on a built-in set going on with a table is refused before (_resumed_data)
            raise ValueError(f"--data {args.data}: the resumed run was not trained on a table")
        return Reading(saved.seed, saved.dtype, t.val_split or 0.0, t.val_data, t.standardize, t.scaling)
    asked = _asked(args)
    val_split = args.val_split if args.val_split is not None else (0.0 if args.val_data else VAL_SPLIT)
    return Reading(
        asked["seed"], asked["dtype"], val_split, args.val_data, not args.no_standardize, args.scaling or SCALINGS[0]
    )


def resolve(args, data: TrainData) -> TrainSettings:
    """A new run's settings, once: the defaults for the kind of data overridden by the options given, and what the
    data decided (the widths of the model's input and output, the loss of its task, L-BFGS's full batch, a small
    table's longer budget, the table's target and task and how it was read).

    Raises
    ------
    ValueError
        Options that do not fit the data or each other: ``--sizes`` of other widths, ``--momentum`` without SGD,
        ``--class-weight`` for a regression.
    """
    asked = _asked(args)
    X, _ = data.train
    sizes = _sizes(args, asked, data)
    if args.momentum is not None and asked["optimizer"] != "sgd":
        raise ValueError(
            f"--momentum applies to --optimizer sgd; {asked['optimizer']} has no momentum to set"
            + (" (its moments are Adam's betas)" if asked["optimizer"].startswith("adam") else "")
        )
    # L-BFGS is a full-batch method: the whole training set, unless asked
    batch_size = len(X) if asked["optimizer"] == "lbfgs" and args.batch_size is None else asked["batch_size"]
    epochs = asked["epochs"]
    table = None
    if data.reading is not None:  # a table
        if args.epochs is None:  # a small table gets more epochs than the recipe's budget
            epochs = table_epochs(len(X), batch_size, epochs)
        table = _table_settings(args, data)
    common = {k: asked[k] for k in DEFAULTS if k not in ("sizes", "batch_size", "epochs", "loss")}
    loss = asked["loss"] or ("mse" if data.task == "regression" else "cross_entropy")
    return TrainSettings(**common, sizes=tuple(sizes), loss=loss, batch_size=batch_size, epochs=epochs, table=table)


def _table_settings(args, data: TrainData) -> TableSettings:
    r = data.reading
    if args.class_weight and data.task != "classification":
        raise ValueError(f"--class-weight {args.class_weight} weighs classes; the task is {data.task}")
    return TableSettings(
        target=data.target,
        task=data.task,
        standardize=r.standardize,
        scaling=r.scaling,
        val_data=r.val_data,
        val_split=r.val_split,
        categorical=_tuple(args.categorical),
        numeric=_tuple(args.numeric),
        drop=_tuple(args.drop),
        patience=None if args.no_early_stopping else (args.patience or TABLE_PATIENCE),
        class_weight=args.class_weight,
        schedule=args.schedule or TABLE_SCHEDULE,
        numeric_embedding=args.numeric_embedding or TABLE_NUMERIC_EMBEDDING,
        stream=data.table is not None,
    )


def _sizes(args, asked: dict, data: TrainData) -> list[int]:
    """The model's widths: ``[inputs, *hidden, outputs]``, or ``--sizes`` (checked against the data); two classes
    may have one output (a sigmoid's)."""
    n_in, n_out = data.widths()
    hidden = asked.get("hidden")
    sizes = [n_in, *hidden, n_out] if hidden is not None else list(asked["sizes"])
    if data.task == "classification" and n_out == 2 and sizes[-1] == 1:
        n_out = 1
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise ValueError(
            f"--sizes {','.join(map(str, sizes))} does not fit --data {args.data}: "
            f"the input width must be {n_in} and the output width {n_out}"
        )
    return sizes
