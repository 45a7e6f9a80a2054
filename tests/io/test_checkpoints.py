"""Checkpoints: safetensors round trips on every backend, optimizer resume, atomic saves, hostile files, a full disk."""

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import safetensors.numpy

import mlp
from mlp import backends
from mlp.core.errors import CheckpointError
from mlp.io.checkpoint import Checkpoint, CheckpointNotFoundError, load, load_checkpoint, save
from tests_helpers import ROOT, RTOL, batch, host, raises, rewrite_checkpoint, small_net

EXTRA = {
    "epoch": 3,
    "loss": "cross_entropy",
    "seed": 11,
    "history": {"train_loss": [0.9, 0.5, 0.25], "acc": [0.5, 0.75]},
}


def _data(model):
    X, T = batch()
    return model.backend.asarray(X, dtype=model.dtype), model.backend.asarray(T, dtype=model.dtype)


def _train(model, optimizer, steps, loss=None):
    loss = loss or mlp.CrossEntropy()
    X, T = _data(model)
    for _ in range(steps):
        loss.forward(model.forward(X), T)
        model.backward(loss.backward(), need_input_grad=False)
        optimizer.step(model)
    return model


def _trained(backend, dtype, steps=3):
    """A small net moved away from its seed's initial weights (so a load must really read the file)."""
    return _train(small_net(backend, dtype), mlp.SGD(lr=0.5), steps)


def _outputs(model):
    return host(model.forward(_data(model)[0]))


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


# -- round trips ----------------------------------------------------------------------------------


def test_round_trip_same_backend(backend, dtype, tmp_path):
    model = _trained(backend, dtype)
    fresh = small_net(backend, dtype)  # same seed: the weights a load that ignored the file would give
    assert not np.array_equal(_outputs(model), _outputs(fresh))
    path = save(model, tmp_path / "net.safetensors", **EXTRA)

    ckpt = load_checkpoint(path, backend=backend)
    assert isinstance(ckpt, Checkpoint) and ckpt.optimizer is None
    loaded = ckpt.model
    assert loaded.backend is backend and loaded.dtype == dtype
    assert all(backend.owns(p) for p in loaded.parameters())
    assert all(p.dtype == getattr(backend.xp, dtype) for p in loaded.parameters())
    assert loaded.config() == model.config()
    _assert_same_state(loaded, model)
    np.testing.assert_array_equal(_outputs(loaded), _outputs(model))  # bitwise on the same backend
    assert ckpt.extra == EXTRA and ckpt.metadata["extra"] == EXTRA
    assert ckpt.metadata["backend"] == backend.name and ckpt.metadata["dtype"] == dtype
    assert ckpt.metadata["format"] == 1 and ckpt.metadata["mlp_version"] == mlp.__version__
    assert ckpt.metadata["optimizer"] is None


def test_file_is_plain_safetensors(tmp_path):
    """Any safetensors reader sees the documented tensor names, dtypes and metadata."""
    model = _trained("numpy", "float64")
    opt = mlp.SGD(lr=0.1, momentum=0.9)
    _train(model, opt, 2)
    path = save(model, tmp_path / "net.safetensors", opt, epoch=2)
    tensors = safetensors.numpy.load_file(str(path))
    names = model.param_names()
    assert set(tensors) == {f"model.{n}" for n in names} | {f"optimizer.velocity.{n}" for n in names}
    for n, value in model.state_dict().items():
        assert tensors[f"model.{n}"].dtype == np.float64
        np.testing.assert_array_equal(tensors[f"model.{n}"], value)
    np.testing.assert_array_equal(tensors["optimizer.velocity.W1"], opt.state_dict()["arrays"]["velocity.W1"])
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["mlp"])
    assert meta["tensors"]["model.W0"] == {"shape": [5, 7], "dtype": "float64"}
    assert meta["optimizer"] == {"type": "SGD", "hyper": opt.hyperparameters(), "t": 2}
    assert meta["architecture"] == model.config() and meta["extra"] == {"epoch": 2}
    assert not path.read_bytes().startswith(b"\x80")


def test_load_returns_model_on_default_backend(tmp_path):
    path = save(_trained("numpy", "float32"), tmp_path / "net.safetensors")
    model = load(path)
    assert isinstance(model, mlp.Sequential)
    assert model.backend is backends.get_backend()


def test_saved_on_numpy_loads_everywhere(backend, dtype, tmp_path):
    model = _trained("numpy", dtype)
    path = save(model, tmp_path / "net.safetensors")
    loaded = load(path, backend=backend)
    assert loaded.backend is backend
    _assert_same_state(loaded, model)  # weights cross backends bit for bit
    np.testing.assert_allclose(_outputs(loaded), _outputs(model), rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-2)
    X = batch()[0].astype(dtype)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_saved_everywhere_loads_on_numpy(backend, dtype, tmp_path):
    model = _trained(backend, dtype)
    path = save(model, tmp_path / "net.safetensors")
    loaded = load(path, backend="numpy")
    assert loaded.backend.name == "numpy" and load_checkpoint(path).metadata["backend"] == backend.name
    _assert_same_state(loaded, model)
    np.testing.assert_allclose(_outputs(loaded), _outputs(model), rtol=RTOL[dtype], atol=RTOL[dtype] * 1e-2)


# -- optimizer state ------------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd-momentum": lambda: mlp.SGD(lr=0.3, momentum=0.9, weight_decay=1e-3),
    "sgd-nesterov": lambda: mlp.SGD(lr=0.3, momentum=0.8, nesterov=True),
    "adam": lambda: mlp.Adam(lr=0.05, betas=(0.8, 0.99), weight_decay=1e-3),
}


@pytest.mark.parametrize("make_opt", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_resume_equals_never_stopping(backend, make_opt, tmp_path):
    dtype = "float64"
    model, opt = small_net(backend, dtype), make_opt()
    _train(model, opt, 3)
    path = save(model, tmp_path / "resume.safetensors", opt, epoch=3)
    _train(model, opt, 4)  # the run that never stopped

    ckpt = load_checkpoint(path, backend=backend)
    assert type(ckpt.optimizer) is type(opt) and ckpt.optimizer.t == 3
    assert ckpt.optimizer.hyperparameters() == opt.hyperparameters()
    _train(ckpt.model, ckpt.optimizer, 4)
    _assert_same_state(ckpt.model, model)
    assert ckpt.optimizer.t == opt.t == 7

    # the saved state matters: the same weights with a fresh optimizer end elsewhere
    restarted = load(path, backend=backend)
    _train(restarted, make_opt(), 4)
    assert not np.array_equal(restarted.state_dict()["W0"], model.state_dict()["W0"])


def test_resume_on_another_backend(backend, tmp_path):
    model, opt = small_net("numpy", "float64"), mlp.Adam(lr=0.05)
    _train(model, opt, 3)
    path = save(model, tmp_path / "resume.safetensors", opt)
    _train(model, opt, 3)
    ckpt = load_checkpoint(path, backend=backend)
    _train(ckpt.model, ckpt.optimizer, 3)
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(ckpt.model.state_dict()[name], value, rtol=1e-9, atol=1e-12, err_msg=name)


def test_optimizer_without_state_arrays(tmp_path):
    model = _trained("numpy", "float32")
    plain = mlp.SGD(lr=0.2)
    _train(model, plain, 2)
    ckpt = load_checkpoint(save(model, tmp_path / "a.safetensors", plain))
    assert isinstance(ckpt.optimizer, mlp.SGD) and ckpt.optimizer.t == 2 and ckpt.optimizer.momentum == 0
    assert not any(k.startswith("optimizer.") for k in ckpt.metadata["tensors"])
    unstepped = mlp.Adam(lr=0.01)
    ckpt = load_checkpoint(save(model, tmp_path / "b.safetensors", unstepped))
    assert isinstance(ckpt.optimizer, mlp.Adam) and ckpt.optimizer.t == 0 and ckpt.optimizer.lr == 0.01


# -- saving: arguments and atomicity ----------------------------------------------------------------


def test_extra_must_be_json(tmp_path):
    model = small_net("numpy", "float32")
    with pytest.raises(TypeError, match=r"extra when=.*not JSON-serialisable"):
        save(model, tmp_path / "x.safetensors", epoch=1, when=object())
    assert not (tmp_path / "x.safetensors").exists()
    ckpt = load_checkpoint(save(model, tmp_path / "x.safetensors", loss_value=np.float32(0.5), epoch=np.int64(2)))
    assert ckpt.extra == {"loss_value": 0.5, "epoch": 2}


def test_optimizer_of_another_model_is_refused(tmp_path):
    opt = mlp.Adam()
    _train(small_net("numpy", "float32"), opt, 1)
    other = small_net("numpy", "float32", sizes=(5, 6, 3))
    with pytest.raises(ValueError, match="does not belong to this model"):
        save(other, tmp_path / "x.safetensors", opt)


def test_save_creates_folders_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "deep" / "er" / "net.safetensors"
    save(small_net("numpy", "float32"), path)
    save(_trained("numpy", "float32"), path)  # overwrite
    assert os.listdir(path.parent) == ["net.safetensors"]
    _assert_same_state(load(path), _trained("numpy", "float32"))


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_save_keeps_previous_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "net.safetensors"
    good = _trained("numpy", "float32")
    save(good, path)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        save(small_net("numpy", "float32", seed=3), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["net.safetensors"]  # the temporary file was removed
    _assert_same_state(load(path), good)


_SAVER = textwrap.dedent(
    """
    import sys
    import mlp
    from mlp.io.checkpoint import save
    model = mlp.Sequential([mlp.Linear(2000, 3000)], backend="numpy", dtype="float32", seed=1)
    print("ready", flush=True)
    while True:
        save(model, sys.argv[1], epoch=1)
    """
)


def _big(seed):
    return mlp.Sequential([mlp.Linear(2000, 3000)], backend="numpy", dtype="float32", seed=seed)


def test_save_killed_mid_write_leaves_previous_checkpoint(tmp_path):
    """SIGKILL a process that keeps saving a 24 MB model over a good checkpoint: ``path`` stays whole."""
    ref = tmp_path / "ref"
    folder = tmp_path / "run"
    path = folder / "big.safetensors"
    original, new = _big(0).state_dict(), _big(1).state_dict()
    sizes = {0: save(_big(0), path, epoch=0).stat().st_size, 1: save(_big(1), ref / "new", epoch=1).stat().st_size}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for delay in (0.0, 0.02, 0.15):  # right after the temporary file appears, and a little later
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], stdout=subprocess.PIPE, env=env)
        try:
            assert proc.stdout.readline().strip() == b"ready"
            deadline = time.monotonic() + 5
            while not list(folder.glob(".big.safetensors.tmp-*")):  # a write has started
                assert time.monotonic() < deadline, "the saver never started writing"
                time.sleep(0.0005)
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL  # killed, not finished
        ckpt = load_checkpoint(path)  # checks that every byte the header promises is there
        epoch = ckpt.metadata["extra"]["epoch"]
        assert path.stat().st_size == sizes[epoch]
        W0 = ckpt.model.state_dict()["W0"]
        if epoch == 0:
            np.testing.assert_array_equal(W0, original["W0"])
        else:
            np.testing.assert_array_equal(W0, new["W0"])  # a later save completed before the kill
        for leftover in folder.glob(".big.safetensors.tmp-*"):  # what a killed save leaves behind
            leftover.unlink()
    assert [p.name for p in folder.iterdir()] == ["big.safetensors"]
    assert not np.array_equal(original["W0"], new["W0"])


# -- hostile and broken files -----------------------------------------------------------------------


@pytest.fixture
def good(tmp_path):
    """A real checkpoint with optimizer state, to be broken in various ways."""
    model, opt = small_net("numpy", "float32"), mlp.Adam(lr=0.01)
    _train(model, opt, 2)
    return save(model, tmp_path / "model.safetensors", opt, epoch=2)


def _refused(path, *words):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


def test_rewrite_helper_keeps_a_valid_file(good):
    """Control for the edits below: a no-op rewrite of the header still loads."""
    before = load(good).state_dict()
    rewrite_checkpoint(good, lambda header, meta: None)
    _assert_same_state(load(good), small_net("numpy", "float32").load_state_dict(before))


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.safetensors"
    with pytest.raises(CheckpointNotFoundError) as info:
        load(path)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, CheckpointError)
    assert "nowhere.safetensors" in str(info.value) and "no such file" in str(info.value)
    assert info.value.filename == str(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    _refused(path, "empty")


@pytest.mark.parametrize("cut", ["half", "last tensor", "inside header", "inside length"])
def test_truncated_file(good, cut):
    data = good.read_bytes()
    keep = {"half": len(data) // 2, "last tensor": len(data) - 4, "inside header": 20, "inside length": 5}[cut]
    good.write_bytes(data[:keep])
    _refused(good, "truncated")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _refused(path, "not a safetensors file")


def test_header_not_json(good):
    data = bytearray(good.read_bytes())
    data[8] = ord("[")
    good.write_bytes(bytes(data))
    _refused(good, "not a safetensors file", "JSON")


def test_deeply_nested_header(tmp_path):
    path = tmp_path / "deep.safetensors"
    raw = b"[" * 100_000 + b"]" * 100_000
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    _refused(path, "not a safetensors file", "JSON")


def test_trailing_garbage(good):
    good.write_bytes(good.read_bytes() + b"\0" * 16)
    _refused(good, "unexpected bytes")


def test_header_shape_edited(good):
    rewrite_checkpoint(good, lambda header, meta: header["model.W0"].update(shape=[7, 5]))
    _refused(good, "model.W0", "metadata", "edited")


def test_metadata_table_edited(good):
    rewrite_checkpoint(good, lambda header, meta: meta["tensors"]["model.b1"].update(shape=[2, 2]))
    _refused(good, "model.b1", "metadata")


def test_metadata_table_missing_a_tensor(good):
    rewrite_checkpoint(good, lambda header, meta: meta["tensors"].pop("optimizer.v.b2"))
    _refused(good, "disagree", "optimizer.v.b2")


def test_header_and_table_edited_together_disagree_with_architecture(good):
    def transpose_w0(header, meta):
        header["model.W0"]["shape"] = [7, 5]
        meta["tensors"]["model.W0"]["shape"] = [7, 5]

    rewrite_checkpoint(good, transpose_w0)
    _refused(good, "model.W0", "architecture needs (5, 7)")


def test_renamed_tensor(good):
    def rename(header, meta):
        header["model.W9"] = header.pop("model.W0")
        meta["tensors"]["model.W9"] = meta["tensors"].pop("model.W0")

    rewrite_checkpoint(good, rename)
    _refused(good, "architecture", "model.W0", "model.W9")


def test_unknown_layer_type(good):
    rewrite_checkpoint(good, lambda header, meta: meta["architecture"]["layers"].__setitem__(1, {"type": "Conv2d"}))
    _refused(good, "layer 1", "Conv2d")


def test_layer_widths_disagree(good):
    rewrite_checkpoint(good, lambda header, meta: meta["architecture"]["layers"][2].update(n_in=6))
    _refused(good, "architecture")


@pytest.mark.parametrize("where", ["metadata", "header"])
def test_unsupported_dtype(good, where):
    if where == "metadata":
        rewrite_checkpoint(good, lambda header, meta: meta.update(dtype="float16"))
        _refused(good, "float16")
    else:
        rewrite_checkpoint(good, lambda header, meta: header["model.b0"].update(dtype="I32"))
        _refused(good, "model.b0", "I32", "F32")


def test_missing_mlp_metadata(tmp_path):
    path = tmp_path / "other.safetensors"
    path.write_bytes(safetensors.numpy.save({"W0": np.zeros((2, 2), np.float32)}))
    _refused(path, '"mlp" metadata', "not an mlp checkpoint")
    path.write_bytes(safetensors.numpy.save({"W0": np.zeros((2, 2), np.float32)}, metadata={"mlp": "{oops"}))
    _refused(path, '"mlp" metadata', "not JSON")


def test_metadata_missing_keys_and_bad_format(good):
    rewrite_checkpoint(good, lambda header, meta: meta.pop("architecture"))
    _refused(good, "missing architecture")
    rewrite_checkpoint(good, lambda header, meta: meta.update(architecture={"layers": []}, format=2))
    _refused(good, "format 2")


def test_bad_optimizer_metadata(good):
    rewrite_checkpoint(good, lambda header, meta: meta["optimizer"].update(type="Lion"))
    _refused(good, "optimizer", "Lion")


class _Payload:
    """Unpickling this creates a folder: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_is_never_loaded(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"W0": _Payload(marker)}, protocol=protocol)
    path = tmp_path / "evil.safetensors"
    path.write_bytes(payload)
    _refused(path, "looks like a pickle", "never loaded")
    assert not marker.exists()
    pickle.loads(payload)  # control: the payload is live, so the assertion above could have failed
    assert marker.exists()


def test_torch_save_files_are_refused(tmp_path):
    torch = pytest.importorskip("torch")
    state = {"W0": torch.zeros(5, 7), "b0": torch.zeros(7)}
    path = tmp_path / "torch.safetensors"
    torch.save(state, path)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    _refused(path, "pickle/torch.save", "never loaded")
    torch.save(state, path, _use_new_zipfile_serialization=False)
    _refused(path, "pickle", "never loaded")


def test_numpy_file_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    with open(path, "wb") as f:
        np.save(f, np.zeros((3, 3)))
    _refused(path, "NumPy")


def test_safetensors_errors_are_wrapped(good, monkeypatch):
    def broken(data):
        raise RuntimeError("Error while deserializing header")

    monkeypatch.setattr(safetensors.numpy, "load", broken)
    _refused(good, "safetensors could not read it", "deserializing")


def test_unknown_backend_is_not_a_checkpoint_error(good):
    with pytest.raises(ValueError, match="unknown backend") as info:
        load(good, backend="tensorflow")
    assert not isinstance(info.value, CheckpointError)


# -- metadata that disagrees with the header (same byte sizes); hostile values ---------------------


@pytest.fixture
def even_checkpoint(tmp_path):
    """A float32 checkpoint whose W0 (4 x 6) has as many bytes as a float64 (4 x 3)."""
    model = mlp.Sequential([mlp.Linear(4, 6), mlp.ReLU(), mlp.Linear(6, 2)], backend="numpy", dtype="float32")
    return mlp.save(model, tmp_path / "even.safetensors")


def test_checkpoint_header_dtype_edited_with_consistent_sizes(even_checkpoint):
    rewrite_checkpoint(even_checkpoint, lambda header, meta: header["model.W0"].update(dtype="F64", shape=[4, 3]))
    with raises(
        CheckpointError,
        "even.safetensors",
        "'model.W0' is float64 [4, 3] in the header",
        "float32 [4, 6] in the metadata",
        "edited",
    ):
        mlp.load_checkpoint(even_checkpoint)


def test_checkpoint_metadata_dtype_edited(even_checkpoint):
    rewrite_checkpoint(even_checkpoint, lambda header, meta: meta["tensors"]["model.b0"].update(dtype="float64"))
    with raises(
        CheckpointError, "even.safetensors", "'model.b0' is float32 [6] in the header", "float64 [6] in the metadata"
    ):
        mlp.load_checkpoint(even_checkpoint)


def test_checkpoint_model_dtype_edited(even_checkpoint):
    rewrite_checkpoint(even_checkpoint, lambda header, meta: meta.update(dtype="float64"))
    with raises(CheckpointError, "even.safetensors", "float64"):
        mlp.load_checkpoint(even_checkpoint)


@pytest.fixture
def full_checkpoint(tmp_path):
    from mlp.io.tables import Preprocessor

    model = mlp.Sequential(
        [mlp.Linear(2, 3), mlp.LeakyReLU(0.1), mlp.Dropout(0.2), mlp.Linear(3, 2)], backend="numpy", seed=0
    )
    X, y = np.random.default_rng(0).standard_normal((8, 2)), np.array([0, 1] * 4)
    opt = mlp.Adam(lr=0.01, weight_decay=1e-4)
    mlp.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=4, progress=False)
    pre = Preprocessor.fit(X, ["a", "b"], ["t"], "classification", y=y)
    return mlp.save(model, tmp_path / "full.safetensors", optimizer=opt, preprocessor=pre)


def _edit_layer(i, key, value):
    def edit(header, meta):
        meta["architecture"]["layers"][i][key] = value

    return edit


def _edit_hyper(key, value):
    def edit(header, meta):
        meta["optimizer"]["hyper"][key] = value

    return edit


def _edit_pre(key, value):
    def edit(header, meta):
        meta["extra"]["preprocessing"][key][0] = value

    return edit


HUGE = 10**400


@pytest.mark.parametrize(
    "edit",
    [
        lambda h, m: _edit_layer(2, next(k for k in m["architecture"]["layers"][2] if k != "type"), HUGE)(h, m),
        lambda h, m: _edit_layer(1, next(k for k in m["architecture"]["layers"][1] if k != "type"), HUGE)(h, m),
        _edit_hyper("lr", HUGE),
        _edit_hyper("eps", HUGE),
        _edit_hyper("weight_decay", HUGE),
        _edit_pre("mean", HUGE),
        _edit_pre("scale", HUGE),
        lambda h, m: m.update(dtype=["F32"]),
        lambda h, m: h["model.W0"].update(dtype=["F32"]),
        lambda h, m: m["tensors"]["model.W0"].update(dtype=["float32"]),
        lambda h, m: m["tensors"]["model.W0"].update(shape=[2**70, 3]),
        lambda h, m: m["optimizer"].update(type=["Adam"]),
        lambda h, m: m["architecture"]["layers"].insert(0, ["Linear"]),
        lambda h, m: m["extra"].update(epoch="three"),
    ],
    ids=[
        "dropout-p",
        "leaky-slope",
        "lr",
        "eps",
        "weight_decay",
        "mean",
        "scale",
        "dtype-list",
        "header-dtype-list",
        "table-dtype-list",
        "shape-huge",
        "optimizer-type-list",
        "layer-not-object",
        "epoch-text",
    ],
)
def test_hostile_checkpoint_metadata_is_a_checkpoint_error(full_checkpoint, edit):
    load_checkpoint(full_checkpoint)
    rewrite_checkpoint(full_checkpoint, edit)
    with raises(CheckpointError, str(full_checkpoint)):
        load_checkpoint(full_checkpoint)


# -- a full disk -----------------------------------------------------------------------------------


def test_full_disk_names_the_file(tmp_path, monkeypatch):
    import errno

    from mlp.io import atomic

    target = tmp_path / "model.safetensors"
    target.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic.write_atomic(target, b"new")
    assert info.value.errno == errno.ENOSPC
    assert f"cannot write {target}: No space left on device" in str(info.value)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]
