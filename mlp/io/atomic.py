"""Atomic writes: a crash, a kill or a full disk leaves either the old file or the new one, never a mix."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def _fsync_dir(folder: Path):
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows cannot open folders
        return
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def _write(path: Path, data):
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "xb") as f:
            for chunk in ([data] if isinstance(data, (bytes, bytearray, memoryview)) else data):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def write_atomic(path, data) -> Path:
    """Write ``data`` to the file ``path`` atomically (temporary file, fsync, rename); returns ``path``.

    ``data``: bytes, or an iterable of bytes written one after the other (a file made as it goes, never
    held whole).  A crash at any point, or an error raised by the iterable, leaves either the old file or
    the new one at ``path``, never a mix.
    Missing parent folders are created.

    Raises
    ------
    OSError
        Of the original errno (and subclass: ``PermissionError``, ...), its message naming ``path``:
        ``[Errno 28] cannot write runs/a.safetensors: No space left on device (the file there, if any, is
        unchanged)``.
    """
    path = Path(os.fspath(path))
    try:
        _write(path, data)
    except OSError as e:
        # the error names the temporary file, or nothing ("[Errno 28] No space left on device"): name the file
        # the caller asked for, and say that it is untouched (the write is atomic)
        why = e.strerror or str(e) or type(e).__name__
        text = f"cannot write {path}: {why} (the file there, if any, is unchanged)"
        if e.errno is None:
            raise OSError(text) from e
        raise OSError(e.errno, text) from e
    return path
