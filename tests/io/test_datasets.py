"""Data sets: downloads from a real local HTTP mirror, checksums, IDX parsing, generated sets.

No test reaches the internet: every test runs with the default mirrors removed and with
the module's single network seam only letting requests to 127.0.0.1 through.
"""

import gzip
import hashlib
import os
import re
import struct
import urllib.parse

import numpy as np
import pytest

from data_server import MirrorServer, closed_port
from mlp.core.errors import DataError, DownloadError
from mlp.io import datasets, download  # download: where the network seam and the mirrors live

#: downloads and files, no arrays of a backend: MLP_BACKEND changes nothing here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent

FILES = datasets.FILES
MNIST_TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No default mirrors, no proxies, a throwaway HOME; records every URL the module opens."""
    for var in (
        "MLP_DATA_MIRROR",
        "MLP_DATA_DIR",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(download, "MIRRORS", {"mnist": [], "fashion-mnist": []})
    monkeypatch.setattr(download, "TIMEOUT", 5.0)
    opened = []
    real_urlopen = download._urlopen

    def local_only(url, timeout):
        if urllib.parse.urlsplit(url).hostname != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {url}")
        opened.append(url)
        return real_urlopen(url, timeout)

    monkeypatch.setattr(download, "_urlopen", local_only)
    return opened


def leftovers(folder):
    """Names in ``folder`` that are not canonical files (temp files, half downloads)."""
    return sorted(set(os.listdir(folder)) - set(FILES)) if folder.exists() else []


def link_canonical(shared_data, dataset, folder, names):
    """Put verified canonical files into ``folder`` without copying megabytes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.symlink(shared_data / dataset / name, folder / name)


def check_mnist_arrays(train, test):
    (X_train, y_train), (X_test, y_test) = train, test
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert X_train.dtype == np.float32 and X_test.dtype == np.float32
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert X_train.min() == 0.0 and X_train.max() == 1.0
    assert np.bincount(y_train).tolist() == MNIST_TRAIN_HISTOGRAM
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert X_train.mean() * 255 == pytest.approx(33.318, abs=1e-3)


# --- downloads from a local mirror -------------------------------------------------------


def test_downloads_verifies_and_loads_mnist(shared_data, tmp_path, monkeypatch, capsys, offline):
    (tmp_path / "data").mkdir()  # a folder the user names must exist; its mnist/ sub-folder is created
    monkeypatch.setenv("MLP_DATA_DIR", str(tmp_path / "data"))
    with MirrorServer(shared_data) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
        train, test = datasets.load_mnist(progress=True)
        assert server.requests == [f"/mnist/{name}" for name in FILES]
        folder = tmp_path / "data" / "mnist"
        assert sorted(os.listdir(folder)) == sorted(FILES)
        for name in FILES:
            assert (folder / name).read_bytes() == (shared_data / "mnist" / name).read_bytes()
        check_mnist_arrays(train, test)
        assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err  # the tqdm bar

        # Second load: no request, no re-hash (verification is cached by path, size, mtime).
        hashed = []
        real_hash = download._file_sha256
        monkeypatch.setattr(download, "_file_sha256", lambda p: hashed.append(p) or real_hash(p))
        paths = datasets.fetch("mnist", progress=False)
        assert paths == {name: folder / name for name in FILES}
        assert len(server.requests) == 4 and hashed == []

        # A file rewritten in place (new mtime) is hashed again.
        os.utime(folder / FILES[3], ns=(0, 10**9))
        datasets.fetch("mnist", progress=False)
        assert hashed == [folder / FILES[3]]
        datasets.fetch("mnist", progress=False)  # ... and then remembered again
        assert hashed == [folder / FILES[3]]
        assert "train-images" not in capsys.readouterr().err  # progress=False draws nothing
    assert all(url.startswith(server.url) for url in offline)


def test_downloads_fashion_mnist_from_its_own_folder(shared_data, tmp_path, monkeypatch):
    folder = tmp_path / "fashion"
    # The 26 MB training images are linked in, so no test downloads them.
    link_canonical(shared_data, "fashion-mnist", folder, [FILES[0]])
    with MirrorServer(shared_data) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url + "/")
        (X, y), (X_test, y_test) = datasets.load_fashion_mnist(data_dir=folder, progress=False)
    assert server.requests == [f"/fashion-mnist/{name}" for name in FILES[1:]]
    assert X.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10


@pytest.mark.parametrize("first", ["corrupt", "refused"])
def test_falls_back_to_the_next_mirror(shared_data, tmp_path, monkeypatch, first):
    name = "train-labels-idx1-ubyte.gz"
    link_canonical(shared_data, "mnist", tmp_path, [n for n in FILES if n != name])
    with MirrorServer(shared_data, corrupt={f"/mnist/{name}": 100}) as bad, MirrorServer(shared_data) as good:
        first_url = bad.url if first == "corrupt" else f"http://127.0.0.1:{closed_port()}"
        monkeypatch.setenv("MLP_DATA_MIRROR", first_url)
        monkeypatch.setattr(download, "MIRRORS", {"mnist": [good.url + "/mnist/"], "fashion-mnist": []})
        (_, y), _ = datasets.load_mnist(data_dir=tmp_path, progress=False)
    assert good.requests == [f"/mnist/{name}"]
    assert bad.requests == ([f"/mnist/{name}"] if first == "corrupt" else [])
    assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == datasets.CHECKSUMS["mnist"][name]
    assert np.bincount(y).tolist() == MNIST_TRAIN_HISTOGRAM
    assert leftovers(tmp_path) == []


def test_corrupt_download_is_discarded(shared_data, tmp_path, monkeypatch):
    name = "train-labels-idx1-ubyte.gz"
    with MirrorServer(shared_data, corrupt={f"/mnist/{name}": 1000}) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
        with pytest.raises(DataError) as info:
            datasets.load_mnist(data_dir=tmp_path, progress=False)
    message = str(info.value)
    assert name in message and datasets.CHECKSUMS["mnist"][name] in message
    assert not (tmp_path / name).exists()
    assert leftovers(tmp_path) == []
    # The file before it was verified and kept; the ones after were never fetched.
    assert os.listdir(tmp_path) == ["train-images-idx3-ubyte.gz"]
    assert server.requests == [f"/mnist/{n}" for n in FILES[:2]]


@pytest.mark.parametrize("failure", ["refused", "http-404"])
def test_unreachable_mirror_names_files_folder_and_variable(tmp_path, monkeypatch, failure):
    folder = tmp_path / "where"
    folder.mkdir()  # a folder the user names must exist (test_cli covers the one that does not)
    if failure == "refused":
        monkeypatch.setenv("MLP_DATA_MIRROR", f"http://127.0.0.1:{closed_port()}")
        with pytest.raises(DownloadError) as info:
            datasets.load_mnist(data_dir=folder, progress=False)
        assert re.search("refused", str(info.value), re.IGNORECASE)
    else:
        (tmp_path / "empty").mkdir()
        with MirrorServer(tmp_path / "empty") as server:
            monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
            with pytest.raises(DownloadError) as info:
                datasets.load_mnist(data_dir=folder, progress=False)
        assert "HTTP 404" in str(info.value)
    message = str(info.value)
    assert all(name in message for name in FILES)
    assert str(folder) in message and "MLP_DATA_DIR" in message
    assert leftovers(folder) == [] and not any(folder.iterdir())


def test_connection_dropped_mid_transfer_leaves_no_half_file(shared_data, tmp_path, monkeypatch):
    name = FILES[0]
    with MirrorServer(shared_data, drop={f"/mnist/{name}": 1 << 20}) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
        with pytest.raises(DownloadError, match=r"incomplete") as info:
            datasets.load_mnist(data_dir=tmp_path, progress=False)
    assert server.requests == [f"/mnist/{name}"]
    assert all(n in str(info.value) for n in FILES)
    assert os.listdir(tmp_path) == []


def test_download_false_never_touches_the_network(shared_data, tmp_path, monkeypatch, offline):
    link_canonical(shared_data, "mnist", tmp_path, FILES[:3])
    with MirrorServer(shared_data) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
        with pytest.raises(DownloadError) as info:
            datasets.load_mnist(data_dir=tmp_path, download=False)
    message = str(info.value)
    assert FILES[3] in message and FILES[0] not in message
    assert str(tmp_path) in message and "MLP_DATA_DIR" in message
    assert server.requests == [] and offline == []


def test_wrong_checksum_on_disk_is_reported_and_kept(shared_data, tmp_path, monkeypatch):
    name = "t10k-labels-idx1-ubyte.gz"
    data = bytearray((shared_data / "mnist" / name).read_bytes())
    data[20] ^= 1
    (tmp_path / name).write_bytes(data)
    with MirrorServer(shared_data) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
        with pytest.raises(DataError) as info:
            datasets.load_mnist(data_dir=tmp_path, progress=False)
    message = str(info.value)
    assert not isinstance(info.value, DownloadError)
    assert str(tmp_path / name) in message
    assert datasets.CHECKSUMS["mnist"][name] in message
    assert hashlib.sha256(data).hexdigest() in message
    assert "delete" in message.lower()
    assert (tmp_path / name).read_bytes() == data  # never deleted nor replaced
    assert server.requests == []


# --- where files are looked for ---------------------------------------------------------


def test_reads_from_MLP_DATA_DIR_without_network(shared_data, monkeypatch, offline):
    monkeypatch.setenv("MLP_DATA_DIR", str(shared_data))
    train, test = datasets.load("mnist", download=False, progress=False)
    check_mnist_arrays(train, test)
    (X, y), (_, y_test) = datasets.load("fashion-mnist", download=False, progress=False)
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert X.mean() * 255 == pytest.approx(72.94, abs=0.01)
    assert offline == []


def test_default_folder_is_home_cache(tmp_path):
    expected = tmp_path / "home" / ".cache" / "mlp" / "fashion-mnist"
    assert datasets.default_data_dir("fashion-mnist") == expected
    with pytest.raises(DownloadError, match=re.escape(str(expected))):
        datasets.load_fashion_mnist(download=False)


def test_data_dir_takes_precedence_over_MLP_DATA_DIR(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(shared_data))
    assert datasets.default_data_dir("mnist") == shared_data / "mnist"
    with pytest.raises(DownloadError, match=re.escape(str(tmp_path))):
        datasets.load_mnist(data_dir=tmp_path, download=False)


def test_checksum_table_matches_the_data_readme(shared_data):
    rows = re.findall(
        r"\| (mnist|fashion-mnist)/(\S+) \|.*\| ([0-9a-f]{64}) \|", (shared_data / "README.md").read_text()
    )
    assert len(rows) == 8
    assert {(d, n): s for d, n, s in rows} == {
        (d, n): s for d, sums in datasets.CHECKSUMS.items() for n, s in sums.items()
    }


# --- IDX parsing ------------------------------------------------------------------------


def write_idx(path, magic, dims, payload, compress=False):
    raw = struct.pack(f">i{len(dims)}i", magic, *dims) + bytes(payload)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_round_trip(tmp_path, compress):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    images = datasets.read_idx(write_idx(tmp_path / "img.idx", 2051, (2, 3, 4), pixels.tobytes(), compress))
    labels = datasets.read_idx(write_idx(tmp_path / "lab.idx", 2049, (3,), [7, 0, 9], compress))
    assert images.dtype == np.uint8 and images.shape == (2, 3, 4)
    np.testing.assert_array_equal(images, pixels)
    assert labels.tolist() == [7, 0, 9] and labels.flags.writeable


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("wrong magic", r"magic number 2050"),
        ("little-endian magic", r"magic number"),
        ("truncated header", r"truncated IDX header"),
        ("count larger than data", r"truncated: .*10 x 2 x 2 = 40 bytes, only 16"),
        ("count smaller than data", r"wrong count: .* 3 = 3 bytes, but 5"),
        ("negative count", r"negative"),
        ("truncated gzip", r"gzip"),
        ("not gzip", r"gzip"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path, case, pattern):
    path = tmp_path / f"{case.replace(' ', '-')}.idx"
    if case == "wrong magic":
        write_idx(path, 2050, (3,), [1, 2, 3])
    elif case == "little-endian magic":
        path.write_bytes(struct.pack("<ii", 2049, 3) + b"\x01\x02\x03")
    elif case == "truncated header":
        path.write_bytes(struct.pack(">i", 2051) + b"\x00\x00")
    elif case == "count larger than data":
        write_idx(path, 2051, (10, 2, 2), bytes(16))
    elif case == "count smaller than data":
        write_idx(path, 2049, (3,), [1, 2, 3, 4, 5])
    elif case == "negative count":
        write_idx(path, 2049, (-3,), [])
    elif case == "truncated gzip":
        data = gzip.compress(struct.pack(">ii", 2049, 1000) + bytes(range(250)) * 4)
        path.write_bytes(data[: len(data) // 2])
    else:  # gzip signature, garbage after it
        path.write_bytes(b"\x1f\x8b" + b"not really deflate data")
    with pytest.raises(DataError, match=pattern) as info:
        datasets.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "nope.gz"))):
        datasets.read_idx(tmp_path / "nope.gz")


def test_load_idx_pair_scales_and_validates(tmp_path):
    pixels = np.array([0, 255, 51, 102] * 3, dtype=np.uint8)
    images = write_idx(tmp_path / "images", 2051, (3, 2, 2), pixels)
    labels = write_idx(tmp_path / "labels", 2049, (3,), [9, 0, 3], compress=True)
    X, y = datasets.load_idx_pair(images, labels)
    assert X.dtype == np.float32 and X.shape == (3, 4) and y.dtype == np.int64
    np.testing.assert_array_equal(X[0], np.float32([0, 1, 0.2, 0.4]))
    assert y.tolist() == [9, 0, 3]

    two_labels = write_idx(tmp_path / "two", 2049, (2,), [1, 2])
    with pytest.raises(DataError, match=r"2 labels for 3 images") as info:
        datasets.load_idx_pair(images, two_labels)
    assert str(two_labels) in str(info.value)
    ten = write_idx(tmp_path / "ten", 2049, (3,), [1, 10, 2])
    with pytest.raises(DataError, match=r"label 10 at index 1 is outside 0..9") as info:
        datasets.load_idx_pair(images, ten)
    assert str(ten) in str(info.value)
    with pytest.raises(DataError, match=r"expected an IDX image file"):
        datasets.load_idx_pair(labels, images)


# --- generated sets and the dispatcher ---------------------------------------------------


def test_xor():
    X, y = datasets.xor()
    assert X.dtype == np.float32 and X.shape == (4, 2) and y.dtype == np.int64
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [int(a) ^ int(b) for a, b in X] == [0, 1, 1, 0]


def test_spirals_shapes_balance_and_determinism():
    X, y = datasets.spirals()
    assert X.shape == (1000, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500, 500]
    assert np.bincount(datasets.spirals(n_samples=7)[1]).tolist() == [4, 3]
    X2, y2 = datasets.spirals()
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = datasets.spirals(seed=1)
    assert not np.array_equal(X, X3)
    assert np.abs(X).max() < 1.5
    # Shuffled: both classes appear within any short run.
    assert 0 < y[:20].sum() < 20


def test_spirals_without_noise_lie_on_two_opposite_arms():
    X, y = datasets.spirals(n_samples=400, noise=0.0, seed=3)
    r = np.hypot(X[:, 0], X[:, 1]).astype(np.float64)
    assert r.max() <= 1.0 + 1e-6
    # On arm k the polar angle is 3 pi r + k pi (mod 2 pi).
    offset = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - 3 * np.pi * r - np.pi * y)))
    assert np.abs(offset[r > 0.05]).max() < 1e-3
    noisy, _ = datasets.spirals(n_samples=400, noise=0.2, seed=3)
    assert not np.allclose(noisy, X, atol=1e-3)


def test_load_dispatches_generated_sets():
    (X, y), (X_test, y_test) = datasets.load("xor")
    np.testing.assert_array_equal(X, X_test)
    np.testing.assert_array_equal(y, y_test)
    (X, y), (X_test, y_test) = datasets.load("spirals")
    assert X.shape == (1600, 2) and X_test.shape == (400, 2)
    assert set(y_test.tolist()) == {0, 1}
    X_all, y_all = datasets.spirals(n_samples=2000, seed=0)
    np.testing.assert_array_equal(np.concatenate([X, X_test]), X_all)
    np.testing.assert_array_equal(np.concatenate([y, y_test]), y_all)


def test_load_unknown_name_lists_known_ones():
    assert datasets.DATASETS.names() == ["mnist", "fashion-mnist", "xor", "spirals"]
    with pytest.raises(ValueError, match=r"'emnist'.*mnist, fashion-mnist, xor, spirals"):
        datasets.load("emnist")


def test_interrupted_download_leaves_nothing(shared_data, tmp_path, monkeypatch):
    # Ctrl-C in the middle of the body: the KeyboardInterrupt propagates, the temp file goes.
    real_urlopen = download._urlopen

    class Interrupting:
        def __init__(self, response):
            self.response, self.headers, self.reads = response, response.headers, 0

        def read(self, n):
            self.reads += 1
            if self.reads == 2:
                raise KeyboardInterrupt
            return self.response.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.response.close()

    monkeypatch.setattr(download, "_urlopen", lambda url, timeout: Interrupting(real_urlopen(url, timeout)))
    with MirrorServer(shared_data) as server:
        monkeypatch.setenv("MLP_DATA_MIRROR", server.url)
        with pytest.raises(KeyboardInterrupt):
            datasets.load_mnist(data_dir=tmp_path, progress=False)
    assert server.requests == [f"/mnist/{FILES[0]}"]
    assert os.listdir(tmp_path) == []
