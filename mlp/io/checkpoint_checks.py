"""The checks a checkpoint passes before its bytes reach ``safetensors``: framing, metadata, architecture.

What :func:`mlp.io.checkpoint.load_checkpoint` runs, in order: :func:`_parse_header` (the safetensors
framing: header length, JSON, tensor entries, their byte spans), :func:`_parse_metadata` (the ``"mlp"``
metadata: types, sane numbers, the format version, the tensor table) and :func:`_validate` (header,
metadata and architecture against each other).  Every problem is a :class:`mlp.core.errors.CheckpointError`
naming the file (:func:`_fail`).
"""

from __future__ import annotations

import json
import math
import os
import struct
from typing import Any

from mlp.core.errors import CheckpointError
from mlp.core.model import DTYPES

#: Version of the ``mlp`` metadata layout written by :func:`mlp.io.checkpoint.save` (and the one read back).
FORMAT = 1

#: safetensors dtype codes of the dtypes a checkpoint may hold.
_ST_DTYPES = {"F32": "float32", "F64": "float64"}
_ST_CODES = {v: k for k, v in _ST_DTYPES.items()}
_ITEMSIZE = {"float32": 4, "float64": 8}

#: the largest header (JSON: the tensor table and the "mlp" metadata) a checkpoint may have: 16 MiB.  mlp's own are a
#: few kB (a table's categories add their names; 16 MiB holds about a million short ones); parsing JSON takes about
#: 20 times its size in memory, so a larger header is refused before it is read (safetensors' own limit is 100 MB)
MAX_HEADER = 16 * 2**20
_MAX_HEADER = MAX_HEADER


def _fail(path, problem) -> CheckpointError:
    return CheckpointError(f"checkpoint {os.fspath(path)!r}: {problem}")


# -- the safetensors framing ---------------------------------------------------------------------------


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
    if _looks_like_text(data):
        start = data[:40].decode("utf-8", "replace").split("\n")[0]
        return _fail(path, f"not an mlp checkpoint: it is text (it begins {start!r}), not a safetensors file")
    return _fail(path, f"not an mlp checkpoint (not a safetensors file: {why})")


def _looks_like_text(data: bytes) -> bool:
    """Whether the first bytes are printable text (a CSV, a JSON, a script given as the checkpoint)."""
    head = data[:64]
    if len(head) < 8 or head[:8].startswith(b"\x93NUMPY"):
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a character cut at the end of the 64 bytes is still text
        if e.start < len(head) - 4:
            return False
        text = head[: e.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def _parse_header(path, data: bytes, total: int | None = None) -> tuple[dict, dict, int]:
    """Validate the safetensors framing; return ``(tensor entries, __metadata__, data start)``.

    ``data``: the file's bytes, or its first bytes (the length and the header) when ``total`` gives the file's size.
    """
    total = len(data) if total is None else total
    header, n = _header_json(path, data, total)
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        raise _fail(path, 'no "mlp" metadata in the header (a safetensors file, but not an mlp checkpoint)')
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise _fail(path, "invalid header: __metadata__ must map strings to strings")
    body = total - 8 - n
    spans = [(*_tensor_span(path, name, entry, body), name) for name, entry in header.items()]
    _check_spans(path, spans, body)
    return header, metadata, 8 + n


def _header_json(path, data: bytes, total: int | None = None) -> tuple[Any, int]:
    """The JSON object of the header and its length ``n`` (the data starts at byte ``8 + n``).

    ``total``: the file's size, when ``data`` holds only its first bytes (default: ``len(data)``)."""
    total = len(data) if total is None else total
    if total == 0:
        raise _fail(path, "the file is empty (truncated write?)")
    if total < 8:
        raise _not_safetensors(path, data, f"only {total} bytes, shorter than the 8-byte header length (truncated?)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER and data[8:9] == b"{":
        raise _fail(
            path,
            f"the header is {n:,} bytes, more than the {MAX_HEADER // 2**20} MiB an mlp checkpoint's "
            "header may have (not read)",
        )
    if n < 2 or n > _MAX_HEADER:
        raise _not_safetensors(path, data, f"absurd header length {n}")
    if 8 + n > total:
        if data[8:9] != b"{":
            raise _not_safetensors(path, data, f"header length {n} does not fit the file and the header is not JSON")
        raise _fail(path, f"truncated: the header claims {n} bytes but the file has only {total - 8} after the length")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _not_safetensors(path, data, f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _not_safetensors(path, data, f"the header is JSON {type(header).__name__}, not an object")
    return header, n


def _tensor_span(path, name, entry, body: int) -> tuple[int, int]:
    """``(begin, end)`` of tensor ``name``'s bytes in the data (of ``body`` bytes), its header ``entry`` checked."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(path, f"invalid header entry for tensor {name!r}: {entry!r:.200}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in _ST_DTYPES:
        raise _fail(path, f"tensor {name!r} has dtype {dtype!r}; mlp checkpoints hold only F32 and F64 tensors")
    if not _small_shape(shape):
        raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r:.200} in the header")
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and 0 <= o < 2**63 for o in offsets)
    ):
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
    return begin, end


def _check_spans(path, spans: list, body: int):
    """The ``(begin, end, name)`` spans tile the data: no overlap, no gap, nothing after the last tensor."""
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise _fail(
                path, f"invalid header: tensor {name!r} starts at byte {begin}, expected {position} (overlap or gap)"
            )
        position = end
    if position != body:
        raise _fail(path, f"{body - position} unexpected bytes after the last tensor (corrupt file)")


# -- the "mlp" metadata --------------------------------------------------------------------------------


#: the largest tensor dimension and rank a checkpoint may claim (far above any MLP; far below an overflow)
_MAX_DIM, _MAX_RANK = 2**40, 8
#: the largest magnitude of a number in the metadata: past it a float() of an int overflows, or a hyperparameter
#: (lr, eps, Dropout p, a LeakyReLU slope, a mean) is no longer a number any computation can use
_MAX_NUMBER = 1e300


def _small_shape(shape) -> bool:
    return (
        isinstance(shape, list)
        and len(shape) <= _MAX_RANK
        and all(type(d) is int and 0 <= d <= _MAX_DIM for d in shape)
    )


def check_values(path, meta: dict):
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
                raise _fail(
                    path, f'invalid "mlp" metadata: {where} is {value!r}, not a finite number of sane magnitude'
                )


def _check_extra_fields(path, extra: dict):
    """The ``extra`` keys that ``mlp train`` reads back: epoch and step counts, the history, the run's settings."""
    for key in ("epoch", "step"):
        if key in extra and (type(extra[key]) is not int or extra[key] < 0):
            raise _fail(path, f"invalid metadata: extra {key}={extra[key]!r:.100} is not a non-negative integer")
    history = extra.get("history")
    if history is not None and (
        not isinstance(history, dict)
        or not all(
            isinstance(v, list) and all(type(x) in (int, float) or x is None for x in v) for v in history.values()
        )
    ):
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
    check_values(path, meta)
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


# -- header, metadata and architecture together ----------------------------------------------------


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
        raise _fail(path, f"the tensors do not fit the architecture: missing {missing}, unexpected {unexpected}")
    for name, shape in expected.items():
        if tuple(header[name]["shape"]) != shape:
            raise _fail(
                path,
                f"tensor {name!r} has shape {tuple(header[name]['shape'])}, but the architecture needs {shape}",
            )
    return optimizer


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
            raise _fail(
                path, f'invalid metadata: optimizer must be {{"type", "hyper", "t"}} or null, got {info!r:.200}'
            )
        if type(info["t"]) is not int or info["t"] < 0:
            raise _fail(path, f"invalid metadata: optimizer step count t={info['t']!r} is not a non-negative integer")
        try:
            optimizer = from_state({"type": info["type"], "hyper": info["hyper"]})
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as e:
            raise _fail(path, f"invalid optimizer in the metadata: {e}") from None
        state = {
            f"optimizer.{s}.{n}": tuple(shape)
            for s in optimizer.state_names
            for n, shape in zip(names, shapes, strict=True)
        }
        present = {k for k in meta["tensors"] if k.startswith("optimizer.")}
        if present:
            expected.update(state)
        elif state and info["t"] > 0:
            raise _fail(
                path, f"the {info['type']} optimizer has taken {info['t']} steps but its state tensors are missing"
            )
    return expected, optimizer


def head_size(path, first: bytes) -> int | None:
    """The bytes to read after the first 8 (``first``) for :func:`check_head`: the header's length, or None when
    ``first`` is not the start of a safetensors file of a header mlp reads (:func:`_check_file` then says what it
    is)."""
    if len(first) < 8:
        return None
    (n,) = struct.unpack("<Q", first[:8])
    return n if 2 <= n <= _MAX_HEADER else None


def check_head(path, head: bytes, total: int | None) -> int:
    """The checks that need only the start of the file (``head``: the 8-byte length and the header) and its size
    (``total``; None for a pipe): the framing, the header against the size, the "mlp" metadata.  Returns the bytes
    of tensor data that follow the header (what remains to be read).  A file that is not an mlp checkpoint (a
    6 GB safetensors file of another program) is refused here, before its data is read."""
    try:
        if total is None:  # a pipe: the framing of the tensors is checked once they are read
            header, n = _header_json(path, head, len(head))
            metadata = header.pop("__metadata__", None)
            if not isinstance(metadata, dict):
                metadata = {}
            ends = [_tensor_span(path, name, entry, 2**63)[1] for name, entry in header.items()]
            body = max(ends, default=0)
        else:
            header, metadata, start = _parse_header(path, head, total)
            body = total - start
        _parse_metadata(path, metadata)
    except (TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
        raise _fail(path, f"invalid metadata ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    return body


def _check_file(path, data: bytes) -> tuple[dict, dict, Any]:
    """Every check of the checkpoint bytes ``data``; return ``(header entries, metadata, optimizer or None)``."""
    try:
        header, metadata, _ = _parse_header(path, data)
        meta = _parse_metadata(path, metadata)
        optimizer = _validate(path, header, meta)
    except (TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
        # a combination of values the checks above did not foresee: still the file's fault, and named so
        raise _fail(path, f"invalid metadata ({type(e).__name__}: {' '.join(str(e).split())[:200]})") from None
    return header, meta, optimizer
