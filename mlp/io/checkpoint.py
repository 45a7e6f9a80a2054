"""Checkpoints: a model (and optionally its optimizer) in one safetensors file.

Never pickle: a checkpoint is the `safetensors <https://github.com/huggingface/safetensors>`_
format, a JSON header followed by raw little-endian tensor bytes, so loading one
can never execute code.

File layout
-----------
Tensors
    ``model.W0, model.b0, model.W1, ...`` in the model's dtype, and, when an
    optimizer is saved, its per-parameter state ``optimizer.<state>.<param>``
    (``optimizer.velocity.W0`` for SGD with momentum, ``optimizer.m.W0`` and
    ``optimizer.v.W0`` for Adam).
Metadata
    One key, ``"mlp"``, a JSON string::

        {"format": 1, "mlp_version": "0.1.0",
         "architecture": model.config(), "dtype": "float32",
         "backend": "numpy",                       # where it was saved from
         "optimizer": {"type": "Adam", "hyper": {...}, "t": 120} or null,
         "tensors": {"model.W0": {"shape": [784, 30], "dtype": "float32"}, ...},
         "extra": {"epoch": 3, "loss": "cross_entropy", "history": {...},
                   "preprocessing": {...}}}     # optional, see below

``extra["preprocessing"]`` (written when a model is trained on a table, see
:class:`mlp.io.tables.Preprocessor`) holds the feature names, the standardisation statistics,
the task and the original class labels, as plain JSON.  It is checked on load (types,
lengths, finite positive scales, and against the model's input and output widths) and
returned as :attr:`Checkpoint.preprocessor`, so ``mlp predict`` and ``mlp evaluate`` apply
exactly what training applied.

Saving is atomic (temporary file in the same folder, fsync, ``os.replace``,
fsync of the folder): a save interrupted at any point leaves the previous file
at ``path`` intact.  What is saved is checked as a load would check it before anything is
written, so a checkpoint that ``load_checkpoint`` would refuse never replaces a good file.
A symbolic link at ``path`` is written through (its target replaced), a named pipe as a stream.

Loading reads the 8-byte header length and the header first, and checks them (the header is at
most 16 MiB, :data:`~mlp.io.checkpoint_checks.MAX_HEADER`) before reading the tensors: a file
that is not an mlp checkpoint is refused without reading it whole, and the file is read once,
front to back, so a named pipe works.  Running out of memory is a ``CheckpointError`` naming the
file and its size.

Loading reads the bytes itself and checks the safetensors header, the ``mlp``
metadata and the architecture against each other *before* handing the bytes to
``safetensors``.  Every problem is a :class:`mlp.core.errors.CheckpointError` whose
message names the file and the problem.  A missing file raises
:class:`CheckpointNotFoundError`, which is both a ``CheckpointError`` and a
``FileNotFoundError``.

The checks of the bytes, the metadata and the architecture live in :mod:`mlp.io.checkpoint_checks`.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlp.core.errors import CheckpointError
from mlp.core.model import Sequential

from .atomic import write_atomic
from .checkpoint_checks import FORMAT, MAX_HEADER, _check_file, _fail, check_head, head_size

__all__ = [
    "Checkpoint",
    "CheckpointNotFoundError",
    "FORMAT",
    "load",
    "load_checkpoint",
    "read_checkpoint_bytes",
    "save",
]


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist (a :class:`CheckpointError` and a ``FileNotFoundError``)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns.

    Attributes
    ----------
    model : Sequential
        Rebuilt from the saved architecture, on the requested backend, with the saved weights.
    optimizer : Optimizer or None
        Rebuilt with the saved hyperparameters, step count and state, or None if none was saved.
    metadata : dict
        The parsed ``"mlp"`` metadata (``format``, ``architecture``, ``dtype``, ``backend``,
        ``optimizer``, ``tensors``, ``extra``, ...).
    preprocessor : mlp.io.tables.Preprocessor or None
        What the model needs applied to a table's columns (features, statistics, classes,
        task), checked against the model; None when the checkpoint has none.
    """

    model: Any
    optimizer: Any = None
    metadata: dict = field(default_factory=dict)
    preprocessor: Any = None

    @property
    def extra(self) -> dict:
        """The keyword arguments given to :func:`save` (epoch, loss, seed, history, ...)."""
        return self.metadata.get("extra", {})

    @property
    def loss_name(self) -> str | None:
        """The registry name of the loss the model was trained with (from ``mlp train`` or ``save(..., loss=)``),
        or None when the checkpoint does not say."""
        from mlp.core.registry import LOSSES

        name = (self.extra.get("cli") or {}).get("loss") or self.extra.get("loss")
        for key, cls in LOSSES.items():
            if name in (key, cls.__name__):
                return key
        return None


# -- saving ----------------------------------------------------------------------------------------


def _json_default(obj):
    """Let NumPy scalars (e.g. a loss as ``np.float32``) through as Python numbers."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _check_extra(extra: dict) -> dict:
    """Round-trip ``extra`` through JSON, naming the first key that cannot be written."""
    for key, value in extra.items():
        try:
            json.dumps(value, default=_json_default)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"checkpoint extra {key}={value!r:.80} is not JSON-serialisable ({e}); "
                "extra values must be str, int, float, bool, None, lists or dicts of those"
            ) from None
    return json.loads(json.dumps(extra, default=_json_default))


def _optimizer_tensors(optimizer, model) -> tuple[dict, dict]:
    """``({"type", "hyper", "t"}, {"optimizer.<state>.<param>": host array})`` for ``model``."""
    from mlp.core.optim import from_state

    state = optimizer.state_dict()
    info = {"type": state["type"], "hyper": state["hyper"], "t": int(state["t"])}
    try:
        from_state(info)  # a checkpoint is only worth writing if it can be read back
        json.dumps(info)
    except (TypeError, ValueError) as e:
        raise ValueError(f"optimizer {optimizer!r} cannot be checkpointed: {e}") from None
    names, shapes = model.param_names(), model.param_shapes()
    arrays = state["arrays"]
    expected = {f"{s}.{n}": shape for s in optimizer.state_names for n, shape in zip(names, shapes, strict=True)}
    if arrays and set(arrays) != set(expected):
        raise ValueError(
            f"optimizer state {sorted(arrays)} does not belong to this model (expected {sorted(expected)}); "
            "was the optimizer used with another model?"
        )
    if not arrays and expected and info["t"] > 0:
        raise ValueError(f"optimizer has taken {info['t']} steps but holds no state arrays; cannot checkpoint it")
    tensors = {}
    for key, shape in expected.items():
        if key in arrays:
            a = np.asarray(arrays[key])
            if tuple(a.shape) != tuple(shape):
                raise ValueError(f"optimizer state {key} has shape {a.shape}, the model's parameter has {shape}")
            tensors[f"optimizer.{key}"] = np.ascontiguousarray(a, dtype=model.dtype)
    return info, tensors


def save(model, path, optimizer=None, preprocessor=None, **extra) -> Path:
    """Write ``model`` (and ``optimizer``'s state) to the safetensors file ``path``, atomically.

    Parameters
    ----------
    model : Sequential
    path : str or os.PathLike
        Target file (conventionally ``*.safetensors``); missing parent folders are created.
    optimizer : Optimizer or None
        Its type, hyperparameters, step count and state arrays are saved too, so that
        training resumes exactly where it stopped.
    preprocessor : mlp.io.tables.Preprocessor or None
        Stored as ``extra["preprocessing"]`` (checked against ``model`` first).
    **extra
        JSON-able values stored in the metadata (``epoch=``, ``loss=``, ``seed=``, ``history=``...);
        NumPy scalars are written as Python numbers.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        A value in ``extra`` is not JSON-serialisable (the message names its key).
    ValueError
        The optimizer's state does not belong to ``model``, or its type cannot be checkpointed; or the file
        would not load back (an integer of more than 19 digits in ``extra``, a header over 16 MiB): nothing is
        written then.
    """
    import safetensors.numpy

    if not isinstance(model, Sequential):
        raise TypeError(f"save: model must be an mlp.Sequential, got {type(model).__name__}")
    path = Path(os.fspath(path))
    extra = _checked_extra(model, preprocessor, extra)

    tensors = {f"model.{n}": np.ascontiguousarray(a, dtype=model.dtype) for n, a in model.state_dict().items()}
    opt_info = None
    if optimizer is not None:
        opt_info, opt_tensors = _optimizer_tensors(optimizer, model)
        tensors.update(opt_tensors)
    data = safetensors.numpy.save(tensors, metadata={"mlp": json.dumps(_metadata(model, opt_info, tensors, extra))})
    _check_readable(path, data)
    write_atomic(path, data)
    return path


def _check_readable(path, data: bytes):
    """Refuse to write ``data`` to ``path`` unless :func:`load_checkpoint` would read it back (a value out of the
    metadata's range, a header over :data:`~mlp.io.checkpoint_checks.MAX_HEADER`): the file there stays as it was."""
    try:
        _check_file(path, data)
    except CheckpointError as e:
        problem = str(e).removeprefix(f"checkpoint {os.fspath(path)!r}: ")
        raise ValueError(
            f"save: {os.fspath(path)} was not written, because mlp could not load it back: {problem} "
            f"(the file there, if any, is unchanged)"
        ) from None


def _checked_extra(model, preprocessor, extra: dict) -> dict:
    """``extra`` as JSON, with ``preprocessor`` as its ``"preprocessing"``, checked against ``model``."""
    if preprocessor is not None:
        extra["preprocessing"] = preprocessor.to_dict()
    extra = _check_extra(extra)
    if "preprocessing" in extra:
        try:
            _check_preprocessing(extra["preprocessing"], model.sizes, model.layers)
        except ValueError as e:
            raise ValueError(f"save: {e}") from None
    return extra


def _metadata(model, opt_info, tensors: dict, extra: dict) -> dict:
    """The ``"mlp"`` metadata of a checkpoint of ``model`` holding ``tensors``."""
    from mlp.core.version import __version__

    return {
        "format": FORMAT,
        "mlp_version": __version__,
        "architecture": model.config(),
        "dtype": model.dtype,
        "backend": model.backend.name,
        "optimizer": opt_info,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in tensors.items()},
        "extra": extra,
    }


# -- loading ---------------------------------------------------------------------------------------


def _read(path) -> bytes:
    """The checkpoint's bytes, read once, front to back (a named pipe works too), with the header checked first.

    The 8-byte length and the header (at most :data:`~mlp.io.checkpoint_checks.MAX_HEADER`) are read and checked
    (:func:`~mlp.io.checkpoint_checks.check_head`) before the tensor data: a file that is not an mlp checkpoint, or
    whose header is larger than the cap, is refused having read at most the header (a file with another header,
    at most 64 MiB, to say what it is).
    """
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        e = CheckpointNotFoundError(f"checkpoint {os.fspath(path)!r}: no such file")
        e.errno, e.filename = errno.ENOENT, os.fspath(path)
        raise e from None
    except IsADirectoryError:
        raise _fail(path, "is a folder, not a checkpoint file") from None
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror or e})") from None
    try:
        with f:
            mode = os.fstat(f.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise _fail(path, "is a folder, not a checkpoint file")
            total = os.fstat(f.fileno()).st_size if stat.S_ISREG(mode) else None
            data = _read_up_to(f, 8)
            n = head_size(path, data)
            if n is None:  # not safetensors, too short, or a header over the cap (said, unread): enough to say
                data += _read_up_to(f, 1)  # what it is, never more
                return data if data[8:9] == b"{" else data + _read_up_to(f, 64 * 2**20)
            data += _read_up_to(f, n)
            if len(data) < 8 + n:
                return data  # truncated: said by the checks
            body = check_head(path, data, total)
            # the tensors, and one byte more from a pipe, whose size was not known: trailing bytes are an error
            return data + _read_up_to(f, body + (1 if total is None else 0))
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror or e})") from None


def _read_up_to(f, n: int) -> bytes:
    """Up to ``n`` bytes of ``f`` (fewer only at its end), in pieces: a pipe gives a few kB a read."""
    pieces, left = [], n
    while left > 0:
        piece = f.read(min(left, 2**26))
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _size_text(path) -> str:
    try:
        return f"{os.stat(path).st_size:,} bytes"
    except OSError:
        return "size unknown"


def _check_preprocessing(data, sizes, layers=()):
    """The :class:`~mlp.io.tables.Preprocessor` in ``data``, checked against a model of widths ``sizes``
    (and, given its ``layers``, that its code inputs reach the OneHot and Embedding layers that read them)."""
    from .tables import Preprocessor

    pre = Preprocessor.from_dict(data)
    if pre.n_inputs() != sizes[0]:  # columns encode to n_inputs (codes, one-hot slots, indicators, date parts)
        raise ValueError(
            f"preprocessing makes {pre.n_inputs()} inputs from {len(pre.features)} features, but the "
            f"model reads {sizes[0]} inputs"
        )
    want = [_reads(layer) for layer in pre.input_layers()]
    if want and layers:  # code inputs must reach the layers that read them, each with its number of codes
        # a numeric embedding before them keeps the inputs in their places
        skipped = int(bool(layers) and type(list(layers)[0]).__name__ == "PeriodicEmbedding")
        got = [_reads(layer) for layer in list(layers)[skipped : skipped + len(want)]]
        if got != want:
            shown = "; ".join(f"{kind} of inputs {columns} with {counts} codes" for kind, columns, counts in want)
            first = ", ".join(type(layer).__name__ for layer in list(layers)[: skipped + len(want)])
            raise ValueError(
                f"preprocessing has code inputs ({shown}), but the model's first layers ({first}) "
                f"read {'; '.join(f'{k} {c}' for k, c, _ in got if k) or 'no codes'}"
            )
    n_out = pre.n_outputs()
    if pre.task == "classification" and n_out == 2 and sizes[-1] == 1:
        n_out = 1  # two classes on one logistic output
    if n_out != sizes[-1]:
        what = f"{len(pre.classes)} classes" if pre.task == "classification" else f"{len(pre.targets)} targets"
        raise ValueError(f"preprocessing has {what}, but the model has {sizes[-1]} outputs")
    return pre


def _reads(layer) -> tuple:
    """``(type, code columns, numbers of codes)`` of a layer that reads codes; ``(None, [], [])`` otherwise."""
    if type(layer).__name__ not in ("OneHot", "Embedding"):
        return (None, [], [])
    return (type(layer).__name__, list(layer.columns), list(layer.n_categories))


def load_checkpoint(path, backend=None, data: bytes | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, checking it thoroughly first.

    Parameters
    ----------
    path : str or os.PathLike
    backend : str, backends.Backend or None
        Where to rebuild the model (None: the default backend, see :func:`backends.get_backend`).
        A checkpoint saved on any backend loads on any other with identical weights.
    data : bytes or None
        The file's bytes, read already (:func:`read_checkpoint_bytes`, or received from another process):
        checked and loaded as the file at ``path`` would be, without reading it again (``path`` names it in
        messages).

    Returns
    -------
    Checkpoint
        ``model``, ``optimizer`` (None if none was saved), the parsed ``metadata`` and the
        checked ``preprocessor`` (None if none was saved).

    Raises
    ------
    CheckpointNotFoundError
        No file at ``path`` (also a FileNotFoundError and a CheckpointError).
    CheckpointError
        Anything wrong with the file: empty, truncated, not safetensors, a pickle or torch.save
        file, missing or invalid metadata, a header that disagrees with the metadata or with the
        architecture, unknown layer types, unsupported dtypes.  The message names the file.
    ValueError, BackendUnavailableError
        ``backend`` is unknown or cannot run here (not a problem of the file).
    """
    from mlp.backends import get_backend

    be = get_backend(backend)  # an unknown or unusable backend is the caller's problem, not the file's
    try:
        return _load(path, be, data)
    except MemoryError:
        raise _fail(
            path,
            f"not enough memory to load it ({_size_text(path)}, with a header of at most {MAX_HEADER // 2**20} MiB)",
        ) from None


def read_checkpoint_bytes(path) -> bytes:
    """The bytes of the checkpoint at ``path``, read once with its header checked first (see :func:`_read`): what
    :func:`load_checkpoint` takes as ``data``, to load them elsewhere (another process) without reading again.

    Raises :class:`CheckpointNotFoundError` or :class:`CheckpointError` as :func:`load_checkpoint` does."""
    try:
        return _read(path)
    except MemoryError:
        raise _fail(path, f"not enough memory to read it ({_size_text(path)})") from None


def _load(path, be, data=None) -> Checkpoint:
    data = _read(path) if data is None else data
    header, meta, optimizer = _check_file(path, data)
    tensors = _read_tensors(path, data, header, meta)
    model = _rebuild_model(path, meta, tensors, be)
    preprocessor = None
    if "preprocessing" in meta["extra"]:
        try:
            preprocessor = _check_preprocessing(meta["extra"]["preprocessing"], model.sizes, model.layers)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            raise _fail(path, f"invalid preprocessing metadata: {e}") from None
    if optimizer is not None:
        _fill_optimizer(path, optimizer, meta, tensors, model)
    return Checkpoint(model=model, optimizer=optimizer, metadata=meta, preprocessor=preprocessor)


def _read_tensors(path, data: bytes, header: dict, meta: dict) -> dict:
    """The tensors of the checked ``data``, each as the header and the metadata describe it."""
    import safetensors.numpy

    try:
        tensors = safetensors.numpy.load(data)
    except MemoryError:
        raise  # said by load_checkpoint, with the file's size
    except Exception as e:  # SafetensorError and friends
        raise _fail(path, f"safetensors could not read it ({e})") from None
    for name, entry in header.items():
        a = tensors.get(name)
        if a is None or list(a.shape) != entry["shape"] or str(a.dtype) != meta["dtype"]:
            raise _fail(path, f"tensor {name!r} did not read back as {meta['dtype']} {entry['shape']}")
    return tensors


def _rebuild_model(path, meta: dict, tensors: dict, be) -> Sequential:
    """The model of the saved architecture on backend ``be``, with the saved weights."""
    arch = dict(meta["architecture"], dtype=meta["dtype"])
    try:
        model = Sequential.from_config(arch, backend=be)
        model.load_state_dict({n: tensors[f"model.{n}"] for n in model.param_names()})
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        raise _fail(path, f"invalid architecture ({e})") from None
    return model


def _fill_optimizer(path, optimizer, meta: dict, tensors: dict, model):
    """Load the saved step count and state tensors into the rebuilt ``optimizer``."""
    info = meta["optimizer"]
    arrays = {k[len("optimizer.") :]: v for k, v in tensors.items() if k.startswith("optimizer.")}
    try:
        optimizer.load_state_dict(
            {"type": info["type"], "hyper": info["hyper"], "t": info["t"], "arrays": arrays}, model
        )
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        raise _fail(path, f"invalid optimizer state ({e})") from None


def load(path, backend=None):
    """The model of the checkpoint at ``path`` on ``backend`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path, backend=backend).model
