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
"""
from __future__ import annotations

import errno
import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlp.core.errors import CheckpointError
from mlp.core.model import DTYPES, Sequential

from .atomic import write_atomic

__all__ = ["Checkpoint", "CheckpointNotFoundError", "FORMAT", "load", "load_checkpoint", "save"]

#: Version of the ``mlp`` metadata layout written by :func:`save`.
FORMAT = 1

#: safetensors dtype codes of the dtypes a checkpoint may hold.
_ST_DTYPES = {"F32": "float32", "F64": "float64"}
_ST_CODES = {v: k for k, v in _ST_DTYPES.items()}
_ITEMSIZE = {"float32": 4, "float64": 8}

#: safetensors refuses headers above 100 MB; anything bigger is not a safetensors file.
_MAX_HEADER = 100_000_000


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

    from mlp.core.version import __version__

    if not isinstance(model, Sequential):
        raise TypeError(f"save: model must be an mlp.Sequential, got {type(model).__name__}")
    path = Path(os.fspath(path))
    if preprocessor is not None:
        extra["preprocessing"] = preprocessor.to_dict()
    extra = _check_extra(extra)
    if "preprocessing" in extra:
        try:
            _check_preprocessing(extra["preprocessing"], model.sizes)
        except ValueError as e:
            raise ValueError(f"save: {e}") from None

    tensors = {f"model.{n}": np.ascontiguousarray(a, dtype=model.dtype) for n, a in model.state_dict().items()}
    opt_info = None
    if optimizer is not None:
        opt_info, opt_tensors = _optimizer_tensors(optimizer, model)
        tensors.update(opt_tensors)

    meta = {
        "format": FORMAT,
        "mlp_version": __version__,
        "architecture": model.config(),
        "dtype": model.dtype,
        "backend": model.backend.name,
        "optimizer": opt_info,
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in tensors.items()},
        "extra": extra,
    }
    data = safetensors.numpy.save(tensors, metadata={"mlp": json.dumps(meta)})
    write_atomic(path, data)
    return path


# -- loading ---------------------------------------------------------------------------------------


def _fail(path, problem) -> CheckpointError:
    return CheckpointError(f"checkpoint {os.fspath(path)!r}: {problem}")


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


def _looks_like_pickle(data: bytes) -> bool:
    """Recognise a pickle by decoding (never executing) its opcodes."""
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True
    if len(data) > 64 * 2**20 or not data.rstrip().endswith(b"."):
        return False
    import pickletools

    try:
        ops = list(pickletools.genops(data))  # decodes opcodes only; nothing is imported or called
    except Exception:
        return False
    return bool(ops) and ops[-1][0].name == "STOP"


def _not_safetensors(path, data: bytes, why: str) -> CheckpointError:
    if data[:4] == b"PK\x03\x04":
        return _fail(
            path,
            "this looks like a pickle/torch.save file (a zip archive); mlp checkpoints are safetensors "
            "and pickles are never loaded",
        )
    if _looks_like_pickle(data):
        return _fail(
            path,
            "this looks like a pickle/torch.save file; mlp checkpoints are safetensors and pickles are never loaded",
        )
    if data[:6] == b"\x93NUMPY":
        return _fail(path, "this is a NumPy .npy file, not a safetensors checkpoint")
    return _fail(path, f"not a safetensors file: {why}")


def _parse_header(path, data: bytes) -> tuple[dict, dict, int]:
    """Validate the safetensors framing; return ``(tensor entries, __metadata__, data start)``."""
    if len(data) == 0:
        raise _fail(path, "the file is empty (truncated write?)")
    if len(data) < 8:
        raise _not_safetensors(path, data,
                               f"only {len(data)} bytes, shorter than the 8-byte header length (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > _MAX_HEADER:
        raise _not_safetensors(path, data, f"absurd header length {n}")
    if 8 + n > len(data):
        if data[8:9] != b"{":
            raise _not_safetensors(path, data, f"header length {n} does not fit the file and the header is not JSON")
        raise _fail(path, f"truncated: the header claims {n} bytes but the file has only {len(data) - 8} "
                          "after the length")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _not_safetensors(path, data, f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _not_safetensors(path, data, f"the header is JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        raise _fail(path, 'no "mlp" metadata in the header (a safetensors file, but not an mlp checkpoint)')
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise _fail(path, "invalid header: __metadata__ must map strings to strings")

    body = len(data) - 8 - n
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise _fail(path, f"invalid header entry for tensor {name!r}: {entry!r:.200}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _ST_DTYPES:
            raise _fail(path, f"tensor {name!r} has dtype {dtype!r}; mlp checkpoints hold only F32 and F64 tensors")
        if not _small_shape(shape):
            raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r:.200} in the header")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and 0 <= o < 2**63
                                                                          for o in offsets)):
            raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r} in the header")
        begin, end = offsets
        if not 0 <= begin <= end:
            raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r} in the header")
        if end > body:
            raise _fail(
                path, f"truncated: tensor {name!r} ends at byte {end} of the data but the file holds only {body} bytes"
            )
        nbytes = math.prod(shape) * _ITEMSIZE[_ST_DTYPES[dtype]]
        if end - begin != nbytes:
            raise _fail(
                path, f"tensor {name!r}: shape {shape} of {dtype} needs {nbytes} bytes, the header gives {end - begin}"
            )
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise _fail(path, f"invalid header: tensor {name!r} starts at byte {begin}, expected {position} "
                              "(overlap or gap)")
        position = end
    if position != body:
        raise _fail(path, f"{body - position} unexpected bytes after the last tensor (corrupt file)")
    return header, metadata, 8 + n


def _expected_tensors(path, meta) -> tuple[dict, Any]:
    """Check the metadata's architecture and optimizer; return ``({tensor: shape}, optimizer or None)``."""
    from mlp.core.layers import from_config as layer_from_config
    from mlp.core.model import check_widths, parameter_layout
    from mlp.core.optim import from_state

    arch = meta["architecture"]
    if not isinstance(arch, dict) or not isinstance(arch.get("layers"), list) or not arch["layers"]:
        raise _fail(path, "invalid metadata: architecture must be an object with a non-empty list of layers")
    if not all(isinstance(cfg, dict) for cfg in arch["layers"]):
        raise _fail(path, "invalid metadata: each architecture layer must be an object")
    if arch.get("dtype", meta["dtype"]) != meta["dtype"]:
        raise _fail(path, f"metadata dtype {meta['dtype']!r} disagrees with the architecture's {arch.get('dtype')!r}")
    layers = []
    for i, cfg in enumerate(arch["layers"]):
        try:
            layers.append(layer_from_config(cfg))
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise _fail(path, f"architecture layer {i}: {e}") from None
    try:
        check_widths(layers)
    except ValueError as e:
        raise _fail(path, f"invalid architecture: {e}") from None
    names, shapes = zip(*parameter_layout(layers), strict=True)
    expected = {f"model.{n}": s for n, s in zip(names, shapes, strict=True)}

    optimizer = None
    info = meta["optimizer"]
    if info is not None:
        if not isinstance(info, dict) or set(info) != {"type", "hyper", "t"} or not isinstance(info["hyper"], dict):
            raise _fail(path, 'invalid metadata: optimizer must be {"type", "hyper", "t"} or null, '
                              f"got {info!r:.200}")
        if type(info["t"]) is not int or info["t"] < 0:
            raise _fail(path, f"invalid metadata: optimizer step count t={info['t']!r} is not a non-negative integer")
        try:
            optimizer = from_state({"type": info["type"], "hyper": info["hyper"]})
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise _fail(path, f"invalid optimizer in the metadata: {e}") from None
        state = {
            f"optimizer.{s}.{n}": tuple(shape)
            for s in optimizer.state_names for n, shape in zip(names, shapes, strict=True)
        }
        present = {k for k in meta["tensors"] if k.startswith("optimizer.")}
        if present:
            expected.update(state)
        elif state and info["t"] > 0:
            raise _fail(
                path, f"the {info['type']} optimizer has taken {info['t']} steps but its state tensors are missing"
            )
    return expected, optimizer


def _check_preprocessing(data, sizes):
    """The :class:`~mlp.io.tables.Preprocessor` in ``data``, checked against a model of widths ``sizes``."""
    from .tables import Preprocessor

    pre = Preprocessor.from_dict(data)
    if pre.n_inputs() != sizes[0]:  # columns encode to n_inputs (one-hot slots, indicators, date parts)
        raise ValueError(f"preprocessing makes {pre.n_inputs()} inputs from {len(pre.features)} features, but the "
                         f"model reads {sizes[0]} inputs")
    n_out = pre.n_outputs()
    if pre.task == "classification" and n_out == 2 and sizes[-1] == 1:
        n_out = 1  # two classes on one logistic output
    if n_out != sizes[-1]:
        what = f"{len(pre.classes)} classes" if pre.task == "classification" else f"{len(pre.targets)} targets"
        raise ValueError(f"preprocessing has {what}, but the model has {sizes[-1]} outputs")
    return pre


#: the largest tensor dimension and rank a checkpoint may claim (far above any MLP; far below an overflow)
_MAX_DIM, _MAX_RANK = 2**40, 8
#: the largest magnitude of a number in the metadata: past it a float() of an int overflows, or a hyperparameter
#: (lr, eps, Dropout p, a LeakyReLU slope, a mean) is no longer a number any computation can use
_MAX_NUMBER = 1e300


def _small_shape(shape) -> bool:
    return (isinstance(shape, list) and len(shape) <= _MAX_RANK
            and all(type(d) is int and 0 <= d <= _MAX_DIM for d in shape))


def _check_values(path, meta: dict):
    """Every number of the metadata finite and of sane magnitude (NaN and inf allowed in ``extra["history"]``).

    JSON holds integers of any length and ``NaN``/``Infinity``: a 401-digit integer would make the first
    ``float()`` of it (a Dropout p, an lr, a mean) raise OverflowError. Walked without recursion, so a deeply
    nested document cannot exhaust the stack.
    """
    stack = [(meta, "")]
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                stack.append((v, f"{where}.{k}" if where else str(k)))
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, int):
            if abs(value) > 2**63:
                raise _fail(path, f'invalid "mlp" metadata: {where} is an integer of {len(str(abs(value)))} digits')
        elif isinstance(value, float):
            if where.startswith("extra.history") and not math.isfinite(value):
                continue  # an epoch without validation logs NaN
            if not math.isfinite(value) or abs(value) > _MAX_NUMBER:
                raise _fail(path, f'invalid "mlp" metadata: {where} is {value!r}, not a finite number of sane '
                                  "magnitude")


def _check_extra_fields(path, extra: dict):
    """The ``extra`` keys that ``mlp train`` reads back: epoch and step counts, the history, the run's settings."""
    for key in ("epoch", "step"):
        if key in extra and (type(extra[key]) is not int or extra[key] < 0):
            raise _fail(path, f"invalid metadata: extra {key}={extra[key]!r:.100} is not a non-negative integer")
    history = extra.get("history")
    if history is not None and (not isinstance(history, dict) or not all(
            isinstance(v, list) and all(type(x) in (int, float) or x is None for x in v) for v in history.values())):
        raise _fail(path, "invalid metadata: extra history must map names to lists of numbers")
    for key in ("cli", "preprocessing"):
        if key in extra and not isinstance(extra[key], dict):
            raise _fail(path, f"invalid metadata: extra {key} must be an object, got {type(extra[key]).__name__}")
    if "data" in extra and not isinstance(extra["data"], str):
        raise _fail(path, f"invalid metadata: extra data must be a string, got {type(extra['data']).__name__}")


def _parse_metadata(path, metadata: dict) -> dict:
    if "mlp" not in metadata:
        raise _fail(path, 'no "mlp" metadata in the header (a safetensors file, but not an mlp checkpoint)')
    try:
        meta = json.loads(metadata["mlp"])
    except (ValueError, RecursionError) as e:
        raise _fail(path, f'invalid "mlp" metadata: not JSON ({e})') from None
    if not isinstance(meta, dict):
        raise _fail(path, f'invalid "mlp" metadata: a JSON {type(meta).__name__}, not an object')
    required = ("format", "architecture", "dtype", "optimizer", "tensors", "extra")
    missing = [k for k in required if k not in meta]
    if missing:
        raise _fail(path, f'invalid "mlp" metadata: missing {", ".join(missing)}')
    _check_values(path, meta)
    if type(meta["format"]) is not int or meta["format"] != FORMAT:
        raise _fail(path, f"unsupported checkpoint format {meta['format']!r:.100}; this mlp reads format {FORMAT}")
    if not isinstance(meta["dtype"], str) or meta["dtype"] not in DTYPES:
        raise _fail(path, f"unsupported dtype {meta['dtype']!r:.100}; checkpoints hold {' or '.join(DTYPES)}")
    if not isinstance(meta["extra"], dict):
        raise _fail(path, 'invalid "mlp" metadata: extra must be an object')
    _check_extra_fields(path, meta["extra"])
    table = meta["tensors"]
    if not isinstance(table, dict):
        raise _fail(path, 'invalid "mlp" metadata: tensors must be an object')
    for name, entry in table.items():
        if (
            not isinstance(entry, dict)
            or not _small_shape(entry.get("shape"))
            or not isinstance(entry.get("dtype"), str)
            or entry.get("dtype") not in DTYPES
        ):
            raise _fail(path, f"invalid metadata tensors entry for {name!r}: {entry!r:.200}")
    return meta


def _validate(path, header: dict, meta: dict):
    """Cross-check header, metadata table and architecture; return the optimizer to fill, or None."""
    table = meta["tensors"]
    if set(header) != set(table):
        only_header, only_meta = sorted(set(header) - set(table)), sorted(set(table) - set(header))
        raise _fail(
            path,
            f"header and metadata disagree on the tensor list (edited file?): only in the header {only_header}, "
            f"only in the metadata {only_meta}",
        )
    for name, entry in header.items():
        want = table[name]
        if list(entry["shape"]) != list(want["shape"]) or _ST_DTYPES[entry["dtype"]] != want["dtype"]:
            raise _fail(
                path,
                f"tensor {name!r} is {_ST_DTYPES[entry['dtype']]} {entry['shape']} in the header but "
                f"{want['dtype']} {want['shape']} in the metadata (edited file?)",
            )
        if want["dtype"] != meta["dtype"]:
            raise _fail(path, f"tensor {name!r} has dtype {want['dtype']} but the model is {meta['dtype']}")
    expected, optimizer = _expected_tensors(path, meta)
    if set(expected) != set(header):
        missing, unexpected = sorted(set(expected) - set(header)), sorted(set(header) - set(expected))
        raise _fail(
            path, f"the tensors do not fit the architecture: missing {missing}, unexpected {unexpected}"
        )
    for name, shape in expected.items():
        if tuple(header[name]["shape"]) != shape:
            raise _fail(
                path,
                f"tensor {name!r} has shape {tuple(header[name]['shape'])}, but the architecture needs {shape}",
            )
    return optimizer


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
    import safetensors.numpy

    from mlp.backends import get_backend

    be = get_backend(backend)  # an unknown or unusable backend is the caller's problem, not the file's
    data = _read(path)
    try:
        header, metadata, _ = _parse_header(path, data)
        meta = _parse_metadata(path, metadata)
        optimizer = _validate(path, header, meta)
    except (TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
        # a combination of values the checks above did not foresee: still the file's fault, and named so
        raise _fail(path, f"invalid metadata ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    try:
        tensors = safetensors.numpy.load(data)
    except Exception as e:  # SafetensorError and friends
        raise _fail(path, f"safetensors could not read it ({e})") from None
    for name, entry in header.items():
        a = tensors.get(name)
        if a is None or list(a.shape) != entry["shape"] or str(a.dtype) != meta["dtype"]:
            raise _fail(path, f"tensor {name!r} did not read back as {meta['dtype']} {entry['shape']}")

    arch = dict(meta["architecture"], dtype=meta["dtype"])
    try:
        model = Sequential.from_config(arch, backend=be)
        model.load_state_dict({n: tensors[f"model.{n}"] for n in model.param_names()})
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
        raise _fail(path, f"invalid architecture ({e})") from None
    preprocessor = None
    if "preprocessing" in meta["extra"]:
        try:
            preprocessor = _check_preprocessing(meta["extra"]["preprocessing"], model.sizes)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            raise _fail(path, f"invalid preprocessing metadata: {e}") from None
    if optimizer is not None:
        info = meta["optimizer"]
        arrays = {k[len("optimizer.") :]: v for k, v in tensors.items() if k.startswith("optimizer.")}
        try:
            optimizer.load_state_dict({"type": info["type"], "hyper": info["hyper"], "t": info["t"],
                                       "arrays": arrays}, model)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise _fail(path, f"invalid optimizer state ({e})") from None
    return Checkpoint(model=model, optimizer=optimizer, metadata=meta, preprocessor=preprocessor)


def load(path, backend=None):
    """The model of the checkpoint at ``path`` on ``backend`` (see :func:`load_checkpoint`)."""
    return load_checkpoint(path, backend=backend).model
