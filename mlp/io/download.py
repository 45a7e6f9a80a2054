"""Finding, downloading and verifying the canonical MNIST and Fashion-MNIST files.

A data set's four gzip files (:data:`FILES`) are found in ``data_dir`` if given, else in the
data root ``data_root`` (the CLI's ``--data-dir``) or ``$MLP_DATA_DIR``, else in
``~/.cache/mlp/<dataset>/`` (``<dataset>`` is ``mnist`` or ``fashion-mnist``).  A data root,
named either way, is the same kind of folder: it holds one sub-folder per data set
(``<root>/mnist/``, ``<root>/fashion-mnist/``), as ``MLP_DATA_MIRROR`` and ``shared/data`` are
laid out; a root that holds a data set's four files directly is read as that data set's folder.
Nothing creates a folder the user named that does not exist (a missing one is an error); only
the default cache, and a data set's sub-folder inside an existing root, are created for downloads.
Missing files are downloaded from the public mirrors in :data:`MIRRORS` (after
``$MLP_DATA_MIRROR/<dataset>/`` when that variable is set). Every file, downloaded or already on
disk, must match the SHA-256 in :data:`CHECKSUMS` before it is used.

:data:`MIRRORS`, :data:`TIMEOUT` and the network seam ``_urlopen`` are read from this module at
call time, so replacing them here (as the tests do) takes effect; :mod:`mlp.io.datasets`
re-exports the public names.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from mlp.core.errors import DataError, DownloadError

__all__ = [
    "CHECKSUMS",
    "FILES",
    "MIRRORS",
    "TIMEOUT",
    "data_folder",
    "default_data_dir",
    "fetch",
]

#: The four canonical file names, in the order (train images, train labels, test images, test labels).
FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: SHA-256 of each canonical distribution file (the gzip bytes, as the mirrors serve them).
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

#: Base URLs tried in order for each data set (a file's URL is base + file name): the mirrors
#: torchvision uses, then the one TensorFlow's tutorials and Keras use. Replaceable (tests do).
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ],
}

#: Seconds a connection may stall (connect or between reads) before the mirror counts as failed.
TIMEOUT = 60.0

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_CHUNK = 1 << 20

# Hashing 40 MB on every load would dominate short runs; a file is re-hashed only when its
# identity (path, size, mtime, inode) changes, which any rewrite of the bytes does.
_verified: dict[tuple, str] = {}


# urllib, http.client and tqdm are imported where a download happens: 35 ms that every `mlp` command (and `import
# mlp`) would otherwise pay for files already on disk


def _urlopen(url, timeout):
    # One seam for every network access, so tests can forbid anything but their local server.
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "mlp-datasets (python urllib)"})
    return urllib.request.urlopen(request, timeout=timeout)


def default_data_dir(dataset):
    """The folder where a data set's files are looked for when no ``data_dir`` is given.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
        Data set name.

    Returns
    -------
    pathlib.Path
        ``$MLP_DATA_DIR/<dataset>`` if ``MLP_DATA_DIR`` is set and non-empty, else
        ``~/.cache/mlp/<dataset>``.
    """
    return data_folder(dataset)[0]


def data_folder(dataset, data_root=None):
    """Where a data set's files are, under a data root, and whether that folder may be created.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
    data_root : str or os.PathLike, optional
        A data root (the CLI's ``--data-dir``); default ``$MLP_DATA_DIR``, else none.

    Returns
    -------
    folder : pathlib.Path
        ``<root>/<dataset>`` (or ``<root>`` itself when it holds the data set's files directly),
        or ``~/.cache/mlp/<dataset>`` without a root.
    creatable : bool
        True for the default cache and for a sub-folder of an existing root.

    Raises
    ------
    mlp.core.errors.DataError
        The named root does not exist or is not a folder (only by :func:`fetch`, which needs it).
    """
    _check_file_dataset(dataset)
    if data_root is None or data_root == "":
        data_root = os.environ.get("MLP_DATA_DIR") or None
    if data_root is None:
        return Path.home() / ".cache" / "mlp" / dataset, True
    root = Path(data_root).expanduser()
    sub = root / dataset
    if not sub.is_dir() and root.is_dir() and any((root / name).is_file() for name in FILES):
        return root, False
    return sub, root.is_dir()


def _check_root(data_root):
    """A named data root must exist and be a folder: nothing creates it."""
    source = "data_root (--data-dir)"
    if data_root is None or data_root == "":
        data_root, source = os.environ.get("MLP_DATA_DIR") or None, "MLP_DATA_DIR"
    if data_root is None:
        return
    root = Path(data_root).expanduser()
    if root.exists() and not root.is_dir():
        raise DataError(
            f"{source} {str(root)!r} is a file, not a folder; it must name a folder that holds "
            f"mnist/ and fashion-mnist/ (to train on a table of your own, use --data {root})"
        )
    if not root.exists():
        raise DataError(
            f"{source} {str(root)!r} does not exist; create it (mlp never creates a folder you named) "
            "or leave it unset to use ~/.cache/mlp"
        )


def _check_file_dataset(dataset):
    if dataset not in CHECKSUMS:
        raise ValueError(f"unknown file data set {dataset!r}; known: {', '.join(CHECKSUMS)}")


def _file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stat_key(path):
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)


def _verify_on_disk(path, expected):
    key = _stat_key(path)
    if _verified.get(key) == expected:
        return
    actual = _file_sha256(path)
    if actual != expected:
        raise DataError(
            f"{path}: SHA-256 is {actual}, expected {expected}: the file is corrupt or not the canonical "
            f"distribution file, so it was not used (and not touched). Delete it to have it downloaded "
            f"again, or replace it with the canonical file."
        )
    _verified[key] = expected


def _mirror_urls(dataset, name):
    urls = []
    base = os.environ.get("MLP_DATA_MIRROR")
    if base:
        # The variable names a root laid out like MLP_DATA_DIR (one sub-folder per data set),
        # so one local mirror serves both data sets.
        urls.append(f"{base.rstrip('/')}/{dataset}/{name}")
    for base in MIRRORS.get(dataset, ()):
        urls.append(f"{base.rstrip('/')}/{name}")
    return urls


class _ChecksumMismatch(Exception):
    pass


def _download_one(url, dest, expected, progress):
    """Fetch ``url`` into a temp file beside ``dest``; move it to ``dest`` only once verified."""
    import urllib.error

    from tqdm import tqdm

    folder = dest.parent
    # A unique hidden name in the same folder: os.replace is then atomic, concurrent downloads
    # cannot collide, and nothing ever sits at the canonical name unverified.
    tmp = folder / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    done = False
    try:
        with _urlopen(url, TIMEOUT) as response, open(tmp, "xb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            h = hashlib.sha256()
            received = 0
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
                leave=False,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            # http.client returns a short body without complaint when the server closes early.
            if total is not None and received != total:
                raise urllib.error.URLError(
                    f"connection closed after {received} of {total} bytes (incomplete transfer)"
                )
            out.flush()
            os.fsync(out.fileno())
        actual = h.hexdigest()
        if actual != expected:
            raise _ChecksumMismatch(f"{url} gave a file with SHA-256 {actual}, expected {expected}")
        os.replace(tmp, dest)
        done = True
        _verified[_stat_key(dest)] = expected
    finally:
        if not done:
            try:
                os.remove(tmp)
            except FileNotFoundError:
                pass


def _manual_hint(dataset, folder):
    return (
        f"Without network access, copy the canonical files into {folder}, or set MLP_DATA_DIR to a "
        f"folder that holds {dataset}/ with them."
    )


def fetch(dataset, data_dir=None, download=True, progress=True, data_root=None):
    """Make sure a data set's four canonical files are present and verified.

    Files already on disk are checked against :data:`CHECKSUMS` (once per process while
    they stay unchanged). Missing ones are downloaded, mirror after mirror, into a temp
    file in the same folder that is moved to its canonical name only after verification.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
        Data set name.
    data_dir : str or os.PathLike, optional
        Folder holding the four files directly; it must exist (nothing creates it).
        Default: the data set's folder in ``data_root`` (see :func:`data_folder`).
    download : bool, default True
        Download missing files; if False, missing files are an error at once.
    progress : bool, default True
        Show a tqdm progress bar for each download.
    data_root : str or os.PathLike, optional
        A data root (one sub-folder per data set); overrides ``$MLP_DATA_DIR``.

    Returns
    -------
    dict of str to pathlib.Path
        Canonical file name to its verified path.

    Raises
    ------
    mlp.core.errors.DataError
        A file on disk, or every mirror's copy of a file, has the wrong SHA-256 (files on
        disk are never deleted); a folder the user named does not exist or is a file.
    mlp.core.errors.DownloadError
        Files are missing and ``download`` is False, or no mirror could deliver one; the
        message names the missing files, the folder and ``MLP_DATA_DIR``.
    """
    _check_file_dataset(dataset)
    folder, creatable = _target_folder(dataset, data_dir, data_root)
    sums = CHECKSUMS[dataset]
    paths = {name: folder / name for name in FILES}
    missing = [name for name in FILES if not paths[name].is_file()]
    # A corrupt file already here should fail before minutes of downloading the others.
    for name in FILES:
        if name not in missing:
            _verify_on_disk(paths[name], sums[name])
    if missing and not download:
        raise DownloadError(
            f"{_TITLES[dataset]}: missing {', '.join(missing)} in {folder} and downloading is off. "
            + _manual_hint(dataset, folder)
        )
    if missing and not folder.is_dir():
        if not creatable:
            raise DataError(
                f"{_TITLES[dataset]}: the folder {folder} does not exist; create it (mlp never creates "
                f"a folder you named) or set MLP_DATA_DIR to a folder that holds {dataset}/"
            )
        folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(missing):
        _download_file(dataset, name, folder, paths[name], sums[name], progress, still_missing=missing[i:])
    return paths


def _target_folder(dataset, data_dir, data_root):
    """The folder of a data set's files and whether it may be created; a file in its place is an error."""
    if data_dir is not None:
        folder, creatable = Path(data_dir).expanduser(), False
    else:
        _check_root(data_root)
        folder, creatable = data_folder(dataset, data_root)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: is a file, not a folder of {_TITLES[dataset]} files")
    return folder, creatable


def _download_file(dataset, name, folder, dest, expected, progress, still_missing):
    """Download ``name`` to ``dest`` from the first mirror that delivers a verified copy, else raise."""
    import http.client

    failures, last_net_error, bad_sum = [], None, False
    for url in _mirror_urls(dataset, name):
        try:
            _download_one(url, dest, expected, progress)
            return
        except _ChecksumMismatch as e:
            bad_sum = True
            failures.append(str(e))
        except (OSError, ValueError, http.client.HTTPException) as e:
            # URLError, timeouts and resets are OSErrors, a bad URL is a ValueError, a broken
            # response an HTTPException: each means "this mirror did not work", try the next.
            last_net_error = e
            failures.append(f"{url}: {_describe(e)}")
    tried = "; ".join(failures) if failures else "no mirror configured (MIRRORS is empty)"
    if bad_sum:
        raise DataError(
            f"{_TITLES[dataset]}: every mirror's copy of {name} failed verification and was "
            f"discarded ({tried}). Still missing in {folder}: {', '.join(still_missing)}. "
            + _manual_hint(dataset, folder)
        )
    last = _describe(last_net_error) if last_net_error is not None else "none"
    raise DownloadError(
        f"{_TITLES[dataset]}: could not download {name}; still missing in {folder}: "
        f"{', '.join(still_missing)}. Tried: {tried}. Last error: {last}. " + _manual_hint(dataset, folder)
    )


def _describe(e):
    import urllib.error

    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{type(e.reason).__name__ if isinstance(e.reason, BaseException) else 'URLError'}: {e.reason}"
    return f"{type(e).__name__}: {e}"
