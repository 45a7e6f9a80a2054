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
at ``path`` intact.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlp.core.errors import CheckpointError
from mlp.core.model import Sequential

from .atomic import write_atomic
from .checkpoint_checks import FORMAT, _check_file, _fail

__all__ = ["Checkpoint", "CheckpointNotFoundError", "FORMAT", "load", "load_checkpoint", "save"]


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
        The optimizer's state does not belong to ``model``, or its type cannot be checkpointed.
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
    write_atomic(path, data)
    return path


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
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        e = CheckpointNotFoundError(f"checkpoint {os.fspath(path)!r}: no such file")
        e.errno, e.filename = errno.ENOENT, os.fspath(path)
        raise e from None
    except IsADirectoryError:
        raise _fail(path, "is a folder, not a checkpoint file") from None
    except OSError as e:
        raise _fail(path, f"cannot be read ({e.strerror or e})") from None


def _check_preprocessing(data, sizes, layers=()):
    """The :class:`~mlp.io.tables.Preprocessor` in ``data``, checked against a model of widths ``sizes``
    (and, given its ``layers``, that its code inputs reach the OneHot and Embedding layers that read them)."""
    from .tables import Preprocessor

    pre = Preprocessor.from_dict(data)
    if pre.n_inputs() != sizes[0]:  # columns encode to n_inputs (codes, one-hot slots, indicators, date parts)
        raise ValueError(f"preprocessing makes {pre.n_inputs()} inputs from {len(pre.features)} features, but the "
                         f"model reads {sizes[0]} inputs")
    want = [_reads(layer) for layer in pre.input_layers()]
    if want and layers:  # code inputs must reach the layers that read them, each with its number of codes
        got = [_reads(layer) for layer in list(layers)[:len(want)]]
        if got != want:
            shown = "; ".join(f"{kind} of inputs {columns} with {counts} codes" for kind, columns, counts in want)
            first = ", ".join(type(layer).__name__ for layer in list(layers)[:len(want)])
            raise ValueError(f"preprocessing has code inputs ({shown}), but the model's first layers ({first}) "
                             f"read {'; '.join(f'{k} {c}' for k, c, _ in got if k) or 'no codes'}")
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


def load_checkpoint(path, backend=None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, checking it thoroughly first.

    Parameters
    ----------
    path : str or os.PathLike
    backend : str, backends.Backend or None
        Where to rebuild the model (None: the default backend, see :func:`backends.get_backend`).
        A checkpoint saved on any backend loads on any other with identical weights.

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
    data = _read(path)
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
        optimizer.load_state_dict({"type": info["type"], "hyper": info["hyper"], "t": info["t"],
                                   "arrays": arrays}, model)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        raise _fail(path, f"invalid optimizer state ({e})") from None


def load(path, backend=None):
    """The model of the checkpoint at ``path`` on ``backend`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path, backend=backend).model
