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
