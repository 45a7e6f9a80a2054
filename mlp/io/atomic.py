"""Atomic writes: a crash, a kill or a full disk leaves either the old file or the new one, never a mix."""

from __future__ import annotations

import os
import stat
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


def _chunks(data):
    return [data] if isinstance(data, (bytes, bytearray, memoryview)) else data


def _write(path: Path, data):
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "xb") as f:
            for chunk in _chunks(data):
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


def _stream(path: Path, data):
    """Write into a named pipe, a terminal or a device (``/dev/stdout``) as a stream: it cannot be replaced."""
    with open(path, "wb") as f:
        for chunk in _chunks(data):
            f.write(chunk)


def _target(path: Path) -> tuple[Path, bool]:
    """``(the file to write, whether it is a stream)``: a symbolic link's target (every link in the chain
    followed; a link to nowhere: the file it names), and whether that is something other than a regular file
    or a folder (a named pipe, a device)."""
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        mode = os.stat(path).st_mode
    except OSError:  # not there yet (or unreadable: the write says why)
        return path, False
    return path, not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_atomic(path, data) -> Path:
    """Write ``data`` to the file ``path`` atomically (temporary file, fsync, rename); returns ``path``.

    ``data``: bytes, or an iterable of bytes written one after the other (a file made as it goes, never
    held whole).  A crash at any point, or an error raised by the iterable, leaves either the old file or
    the new one at ``path``, never a mix.
    Missing parent folders are created.  A symbolic link is written through: its target is replaced
    (atomically, in the target's folder) and the link stays a link.  A named pipe or a device (``/dev/stdout``)
    is written into as a stream (there is nothing to replace, and nothing atomic about it).

    Raises
    ------
    OSError
        Of the original errno (and subclass: ``PermissionError``, ...), its message naming ``path``:
        ``[Errno 28] cannot write runs/a.safetensors: No space left on device (the file there, if any, is
        unchanged)``.
    """
    path = Path(os.fspath(path))
    try:
        target, stream = _target(path)
        (_stream if stream else _write)(target, data)
    except OSError as e:
        # the error names the temporary file, or nothing ("[Errno 28] No space left on device"): name the file
        # the caller asked for, and say that it is untouched (the write is atomic)
        why = e.strerror or str(e) or type(e).__name__
        text = f"cannot write {path}: {why} (the file there, if any, is unchanged)"
        if e.errno is None:
            raise OSError(text) from e
        raise OSError(e.errno, text) from e
    return path
