"""Data sets: MNIST and Fashion-MNIST from their canonical IDX files, XOR and two spirals.

MNIST and Fashion-MNIST are read from the four canonical gzip files::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

found in ``data_dir`` if given, else in the data root ``data_root`` (the CLI's ``--data-dir``) or
``$MLP_DATA_DIR``, else in ``~/.cache/mlp/<dataset>/`` (``<dataset>`` is ``mnist`` or
``fashion-mnist``).  A data root, named either way, is the same kind of folder: it holds one
sub-folder per data set (``<root>/mnist/``, ``<root>/fashion-mnist/``), as ``MLP_DATA_MIRROR``
and ``shared/data`` are laid out; a root that holds a data set's four files directly is read
as that data set's folder.  Nothing creates a folder the user named that does not exist (a
missing one is an error); only the default cache, and a data set's sub-folder inside an
existing root, are created for downloads.
Missing files are downloaded from the public mirrors in :data:`MIRRORS` (after
``$MLP_DATA_MIRROR/<dataset>/`` when that variable is set). Every file, downloaded
or already on disk, must match the SHA-256 in :data:`CHECKSUMS` before it is used.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import secrets
import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mlp.core.errors import DataError, DownloadError
from mlp.core.registry import DATASETS  # filled at the end of this module

__all__ = [
    "CHECKSUMS",
    "DATASETS",
    "FILES",
    "MIRRORS",
    "data_folder",
    "default_data_dir",
    "fetch",
    "load",
    "load_fashion_mnist",
    "load_idx_pair",
    "load_mnist",
    "read_idx",
    "spirals",
    "xor",
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
_IDX_MAGIC = {2049: "labels", 2051: "images"}
_CHUNK = 1 << 20

# Hashing 40 MB on every load would dominate short runs; a file is re-hashed only when its
# identity (path, size, mtime, inode) changes, which any rewrite of the bytes does.
_verified: dict[tuple, str] = {}


def _urlopen(url, timeout):
    # One seam for every network access, so tests can forbid anything but their local server.
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
        raise DataError(f"{source} {str(root)!r} is a file, not a folder; it must name a folder that holds "
                        f"mnist/ and fashion-mnist/ (to train on a table of your own, use --data {root})")
    if not root.exists():
        raise DataError(f"{source} {str(root)!r} does not exist; create it (mlp never creates a folder you named) "
                        "or leave it unset to use ~/.cache/mlp")


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
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name,
                      disable=not progress, leave=False) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            # http.client returns a short body without complaint when the server closes early.
            if total is not None and received != total:
                raise urllib.error.URLError(
                    f"connection closed after {received} of {total} bytes (incomplete transfer)")
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
    return (f"Without network access, copy the canonical files into {folder}, or set MLP_DATA_DIR to a "
            f"folder that holds {dataset}/ with them.")


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
    if data_dir is not None:
        folder, creatable = Path(data_dir).expanduser(), False
    else:
        _check_root(data_root)
        folder, creatable = data_folder(dataset, data_root)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder}: is a file, not a folder of {_TITLES[dataset]} files")
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
            + _manual_hint(dataset, folder))
    if missing and not folder.is_dir():
        if not creatable:
            raise DataError(f"{_TITLES[dataset]}: the folder {folder} does not exist; create it (mlp never creates "
                            f"a folder you named) or set MLP_DATA_DIR to a folder that holds {dataset}/")
        folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(missing):
        urls = _mirror_urls(dataset, name)
        failures, last_net_error, bad_sum = [], None, False
        for url in urls:
            try:
                _download_one(url, paths[name], sums[name], progress)
                break
            except _ChecksumMismatch as e:
                bad_sum = True
                failures.append(str(e))
            except (OSError, ValueError, http.client.HTTPException) as e:
                # URLError, timeouts and resets are OSErrors, a bad URL is a ValueError, a broken
                # response an HTTPException: each means "this mirror did not work", try the next.
                last_net_error = e
                failures.append(f"{url}: {_describe(e)}")
        else:
            still_missing = missing[i:]
            tried = "; ".join(failures) if failures else "no mirror configured (MIRRORS is empty)"
            if bad_sum:
                raise DataError(
                    f"{_TITLES[dataset]}: every mirror's copy of {name} failed verification and was "
                    f"discarded ({tried}). Still missing in {folder}: {', '.join(still_missing)}. "
                    + _manual_hint(dataset, folder))
            last = _describe(last_net_error) if last_net_error is not None else "none"
            raise DownloadError(
                f"{_TITLES[dataset]}: could not download {name}; still missing in {folder}: "
                f"{', '.join(still_missing)}. Tried: {tried}. Last error: {last}. "
                + _manual_hint(dataset, folder))
    return paths


def _describe(e):
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{type(e.reason).__name__ if isinstance(e.reason, BaseException) else 'URLError'}: {e.reason}"
    return f"{type(e).__name__}: {e}"


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
    try:
        with open(path, "rb") as f:
            compressed = f.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: not a valid gzip file or truncated gzip stream ({e})") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    if len(data) < 8:
        raise DataError(f"{path}: truncated IDX header ({len(data)} bytes, need at least 8)")
    (magic,) = struct.unpack_from(">i", data, 0)
    if magic not in _IDX_MAGIC:
        raise DataError(
            f"{path}: wrong IDX magic number {magic} (0x{magic & 0xFFFFFFFF:08x}), expected 2051 "
            f"(uint8 images) or 2049 (uint8 labels)")
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
            f"only {actual} present")
    if actual > expected:
        raise DataError(
            f"{path}: wrong count: header announces {_IDX_MAGIC[magic]} of {what} = {expected} bytes, "
            f"but {actual} are present ({actual - expected} extra)")
    # frombuffer over a bytearray, not bytes, so callers get a writable array without a second copy.
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=offset).reshape(dims)


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
        raise DataError(
            f"{labels_path}: {len(labels)} labels for {len(images)} images in {images_path}")
    if labels.size and int(labels.max()) >= n_classes:
        bad = int(np.argmax(labels >= n_classes))
        raise DataError(
            f"{labels_path}: label {int(labels[bad])} at index {bad} is outside 0..{n_classes - 1}")
    # One pass, straight to float32: the quotient is the correctly rounded float32 of u / 255.
    X = np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)
    return X, labels.astype(np.int64)


def _load_file_dataset(dataset, data_dir, download, progress, data_root=None):
    paths = fetch(dataset, data_dir=data_dir, download=download, progress=progress, data_root=data_root)
    train = load_idx_pair(paths[FILES[0]], paths[FILES[1]])
    test = load_idx_pair(paths[FILES[2]], paths[FILES[3]])
    return train, test


def load_mnist(data_dir=None, download=True, progress=True, data_root=None):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28 x 28.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four canonical files directly. Default ``$MLP_DATA_DIR/mnist``,
        else ``~/.cache/mlp/mnist``.
    download : bool, default True
        Download missing files from :data:`MIRRORS` (``$MLP_DATA_MIRROR`` first).
    progress : bool, default True
        Show a download progress bar.
    data_root : str or os.PathLike, optional
        A data root holding ``<dataset>/`` (see :func:`data_folder`); overrides ``MLP_DATA_DIR``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuple of numpy.ndarray
        Host arrays: X float32 ``(n, 784)`` in ``[0, 1]``, y int64 ``(n,)`` in ``0..9``.

    Raises
    ------
    mlp.core.errors.DownloadError
        Files missing and no mirror reachable (or ``download=False``).
    mlp.core.errors.DataError
        A file fails its SHA-256 check or is malformed.
    """
    return _load_file_dataset("mnist", data_dir, download, progress, data_root)


def load_fashion_mnist(data_dir=None, download=True, progress=True, data_root=None):
    """Fashion-MNIST (Zalando): 60,000 training and 10,000 test clothing images of 28 x 28.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four canonical files directly. Default
        ``$MLP_DATA_DIR/fashion-mnist``, else ``~/.cache/mlp/fashion-mnist``.
    download : bool, default True
        Download missing files from :data:`MIRRORS` (``$MLP_DATA_MIRROR`` first).
    progress : bool, default True
        Show a download progress bar.
    data_root : str or os.PathLike, optional
        A data root holding ``<dataset>/`` (see :func:`data_folder`); overrides ``MLP_DATA_DIR``.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuple of numpy.ndarray
        Host arrays: X float32 ``(n, 784)`` in ``[0, 1]``, y int64 ``(n,)`` in ``0..9``.

    Raises
    ------
    mlp.core.errors.DownloadError
        Files missing and no mirror reachable (or ``download=False``).
    mlp.core.errors.DataError
        A file fails its SHA-256 check or is malformed.
    """
    return _load_file_dataset("fashion-mnist", data_dir, download, progress, data_root)


def xor():
    """The four XOR points.

    Returns
    -------
    X : numpy.ndarray
        float32, shape ``(4, 2)``: ``[0, 0], [0, 1], [1, 0], [1, 1]``.
    y : numpy.ndarray
        int64, shape ``(4,)``: ``[0, 1, 1, 0]``.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def spirals(n_samples=1000, noise=0.2, seed=0):
    """Two interleaved spirals (Lang and Witbrock's benchmark), generated on the host.

    Arm ``k`` (= the class) is the curve ``t * (cos(t + k pi), sin(t + k pi))`` for
    ``t`` in ``[0, 3 pi]`` (one and a half turns), so the arms are ``pi`` apart. Points
    are drawn with ``t = 3 pi sqrt(u)``, ``u`` uniform, which spreads them evenly along
    the arms instead of crowding the centre; Gaussian noise of standard deviation
    ``noise`` is added to each coordinate; then everything is divided by ``3 pi`` so the
    inputs lie within about ``[-1, 1]``.

    Parameters
    ----------
    n_samples : int, default 1000
        Total number of points; class 0 gets ``ceil(n_samples / 2)``, class 1 the rest.
    noise : float, default 0.2
        Standard deviation of the noise, in the units where the arms are ``pi`` apart
        (before the final scaling).
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the same seed gives the same points.

    Returns
    -------
    X : numpy.ndarray
        float32, shape ``(n_samples, 2)``, in random order.
    y : numpy.ndarray
        int64, shape ``(n_samples,)``, 0 or 1.
    """
    n_samples = int(n_samples)
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    t_max = 3 * np.pi
    y = np.arange(n_samples) % 2
    t = t_max * np.sqrt(rng.random(n_samples))
    angle = t + np.pi * y
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    X += noise * rng.standard_normal((n_samples, 2))
    X /= t_max
    # Shuffled so that any contiguous split (load's 80/20) sees both classes.
    order = rng.permutation(n_samples)
    return X[order].astype(np.float32), y[order].astype(np.int64)


def load(name, data_dir=None, download=True, progress=True, data_root=None):
    """Any data set of :data:`DATASETS` by name, as a train and a test split.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "xor", "spirals"}
        Data set name.
    data_dir, download, progress, data_root
        Passed to :func:`load_mnist` / :func:`load_fashion_mnist`; ignored by the
        generated sets.

    Returns
    -------
    (X_train, y_train), (X_test, y_test) : tuple of tuple of numpy.ndarray
        X float32 ``(n, n_features)``, y int64 ``(n,)``. ``xor``: the test set is the
        training set. ``spirals``: :func:`spirals` with 2000 samples and seed 0, the
        first 1600 for training and the last 400 for testing.

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    return DATASETS.get(name)(data_dir=data_dir, download=download, progress=progress, data_root=data_root)


@DATASETS.register("mnist")
def _mnist(**where):
    return load_mnist(**where)


@DATASETS.register("fashion-mnist", "fashion_mnist")
def _fashion_mnist(**where):
    return load_fashion_mnist(**where)


@DATASETS.register("xor")
def _xor(**where):
    X, y = xor()
    return (X, y), (X.copy(), y.copy())


@DATASETS.register("spirals")
def _spirals(**where):
    X, y = spirals(n_samples=2000, seed=0)
    return (X[:1600], y[:1600]), (X[1600:], y[1600:])
