"""The IDX format of MNIST and Fashion-MNIST: :func:`read_idx` (one file) and :func:`load_idx_pair`.

Only the structure is checked here (magic number, header, byte count, label range); whether a
file is the canonical distribution file is :mod:`mlp.io.download`'s SHA-256 check.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from mlp.core.errors import DataError

__all__ = ["load_idx_pair", "read_idx"]

_IDX_MAGIC = {2049: "labels", 2051: "images"}


def read_idx(path):
    """Read an IDX file (raw or gzip-compressed) of unsigned bytes, checking its structure.

    Parameters
    ----------
    path : str or os.PathLike
        An IDX file: big-endian int32 magic 2051 (images) then int32 count, rows, cols, or
        magic 2049 (labels) then int32 count; then the uint8 data. Compressed files are
        recognised by their gzip signature, not by their name.

    Returns
    -------
    numpy.ndarray
        uint8, shape ``(count, rows, cols)`` for images or ``(count,)`` for labels; writable.

    Raises
    ------
    mlp.core.errors.DataError
        The file cannot be read, is not valid gzip, has another magic number, is truncated,
        or holds more or fewer bytes than its header announces. The message names the file.

    Notes
    -----
    No checksum is involved: this checks structure only, so any well-formed IDX file loads.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 8:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, need at least 8)")
    (magic,) = struct.unpack_from(">i", data, 0)
    if magic not in _IDX_MAGIC:
        raise DataError(
            f"{path}: wrong IDX magic number {magic} (0x{magic & 0xFFFFFFFF:08x}), expected 2051 "
            f"(uint8 images) or 2049 (uint8 labels)"
        )
    ndim = magic & 0xFF
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, {_IDX_MAGIC[magic]} need {offset})")
    dims = struct.unpack_from(f">{ndim}i", data, 4)
    if any(d < 0 for d in dims):
        raise DataError(f"{path}: negative size in IDX header {dims}")
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - offset
    what = " x ".join(str(d) for d in dims)
    if actual < expected:
        raise DataError(
            f"{path}: truncated: header announces {_IDX_MAGIC[magic]} of {what} = {expected} bytes, "
            f"only {actual} present"
        )
    if actual > expected:
        raise DataError(
            f"{path}: wrong count: header announces {_IDX_MAGIC[magic]} of {what} = {expected} bytes, "
            f"but {actual} are present ({actual - expected} extra)"
        )
    # frombuffer over a bytearray, not bytes, so callers get a writable array without a second copy.
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=offset).reshape(dims)


def _read_bytes(path):
    """The bytes of ``path``, gunzipped when it starts with the gzip signature."""
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file or truncated gzip stream ({e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from e


def load_idx_pair(images_path, labels_path, n_classes=10):
    """Read an images/labels pair of IDX files as a classification set.

    Parameters
    ----------
    images_path, labels_path : str or os.PathLike
        IDX image file (3-d) and label file (1-d), raw or gzip.
    n_classes : int, default 10
        Labels must lie in ``0 .. n_classes - 1``.

    Returns
    -------
    X : numpy.ndarray
        float32, shape ``(n, rows * cols)``, pixels divided by 255 (so in ``[0, 1]``).
    y : numpy.ndarray
        int64, shape ``(n,)``.

    Raises
    ------
    mlp.core.errors.DataError
        Either file is malformed (see :func:`read_idx`), holds the other kind of data, the
        counts differ, or a label is out of range. The message names the file.
    """
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: expected an IDX image file (3-d), found {images.ndim}-d data")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected an IDX label file (1-d), found {labels.ndim}-d data")
    if len(images) != len(labels):
        raise DataError(f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}")
    if labels.size and int(labels.max()) >= n_classes:
        bad = int(np.argmax(labels >= n_classes))
        raise DataError(f"{labels_path}: label {int(labels[bad])} at index {bad} is outside 0..{n_classes - 1}")
    # One pass, straight to float32: the quotient is the correctly rounded float32 of u / 255.
    X = np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)
    return X, labels.astype(np.int64)
