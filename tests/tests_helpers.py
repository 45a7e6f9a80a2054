"""Helpers shared by test modules (imported as a plain module: tests/ is on sys.path)."""

import json
import struct
from pathlib import Path

import numpy as np

import mlp

ROOT = Path(__file__).resolve().parent.parent

RTOL = {"float32": 1e-4, "float64": 1e-9}


def small_net(backend, dtype, activation=mlp.Sigmoid, out_activation=None, sizes=(5, 7, 4, 3), seed=7, fast=None):
    """A small MLP with every Linear followed by ``activation`` (last: ``out_activation``)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(mlp.Linear(a, b))
        last = i == len(sizes) - 2
        act = out_activation if last else activation
        if act is not None:
            layers.append(act())
    return mlp.Sequential(layers, backend=backend, dtype=dtype, seed=seed, fast=fast)


def batch(n=6, n_in=5, n_out=3, seed=0, one_hot=True):
    """A host batch (X, T): X standard normal, T one-hot rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    T = np.eye(n_out)[rng.integers(0, n_out, n)] if one_hot else rng.random((n, n_out))
    return X, T


def host(x):
    from mlp.core.util import to_host

    return np.array(to_host(x), dtype=np.float64)  # always a copy: gradients are overwritten in place


def split_checkpoint(path):
    """A safetensors file's (JSON header, body bytes)."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def rewrite_checkpoint(path, edit):
    """Apply ``edit(header, meta)`` to the JSON header and the "mlp" metadata; fix the length prefix."""
    header, body = split_checkpoint(path)
    meta = json.loads(header["__metadata__"]["mlp"])
    edit(header, meta)
    header["__metadata__"]["mlp"] = json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


def interrupt_after(monkeypatch, n):
    """Send this process SIGINT (as Ctrl-C does) once the training loop has run ``n`` steps.

    ``mlp.train.loop.StepRunner.run`` is wrapped, so this works for step-by-step and compiled runs alike."""
    import os
    import signal

    import mlp.train.runner as training

    real, done = training.StepRunner.run, []

    def run(self, state, first, last):
        out = real(self, state, first, last)
        done.append(last - first)
        if sum(done) >= n > sum(done) - (last - first):
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(training.StepRunner, "run", run)


def run_cli(argv, capsys):
    """``mlp.cli.main`` in this process (fast); argparse's own exits are caught too: ``(status, stdout, stderr)``."""
    from mlp import cli

    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


# -- bad input: the error is mlp's own, and says where ----------------------------------------------------------


def raised_by_mlp(info):
    """The exception was raised by mlp's own code (mlp/ or its backends), not from inside an array library."""
    import traceback

    from mlp import backends

    frame = traceback.extract_tb(info.tb)[-1]
    where = Path(frame.filename).resolve()
    mine = (Path(mlp.__file__).resolve().parent, Path(backends.__file__).resolve().parent)
    assert any(d in where.parents for d in mine), f"raised from {frame.filename}:{frame.lineno}"


def raises(exc, *needles, match=None):
    """``pytest.raises`` that also checks the error comes from mlp and its message holds ``needles``."""
    import pytest

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *a):
            suppressed = self.ctx.__exit__(*a)
            raised_by_mlp(self.info)
            message = str(self.info.value)
            for needle in needles:
                assert needle in message, f"{needle!r} not in {message!r}"
            return suppressed

    return _Check()


def one_line_error(code, err, *needles, status=2):
    """A command's failure as users see it: ``status``, one line on stderr holding ``needles``, no traceback."""
    assert code == status, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and ": error: " in lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def usable(name):
    """Whether backend ``name`` can be built here."""
    from mlp import backends

    try:
        backends.get_backend(name)
        return True
    except backends.BackendUnavailableError:
        return False


def tiny_net(backend="numpy", dtype="float32", sizes=(3, 4, 2), activation=mlp.Sigmoid, seed=0):
    """A 3-4-2 sigmoid network: the model the bad-input tests feed."""
    return small_net(backend, dtype, activation, None, sizes=sizes, seed=seed)


def tiny_data(n=6, n_in=3, n_classes=2, seed=0):
    """Host ``(X, y)``: ``n`` standard normal rows, integer labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n_in)), rng.integers(0, n_classes, n)


def quick_fit(model, X, y, **kw):
    """``mlp.fit`` for one quiet epoch of batches of 2 with SGD(0.1) and cross entropy, unless ``kw`` says else."""
    kw = {"loss": "cross_entropy", "epochs": 1, "batch_size": 2, "progress": False, **kw}
    kw.setdefault("optimizer", mlp.SGD(0.1))
    return mlp.fit(model, X, y, **kw)


def assert_untouched(model, before):
    """The model's weights are those of the state dict ``before``, bit for bit."""
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
