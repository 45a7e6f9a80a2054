"""Seeded fuzzing: a corrupt or hostile checkpoint or table is always the documented error, never an internal one.

Each test mutates one valid file a few hundred times with a fixed seed (so a failure reproduces: the message
names the mutation) and asserts that reading the result either succeeds or raises the one documented error
type naming the file: :class:`mlp.CheckpointError` for checkpoints, :class:`mlp.DataError` for tables.
Bounded in time: each test stops mutating after ``BUDGET_S`` seconds even if its count is not reached.
"""

from __future__ import annotations

import copy
import json
import struct
import time

import numpy as np
import pytest

import mlp
from mlp.core.errors import CheckpointError, DataError
from mlp.io.checkpoint import load_checkpoint
from mlp.io.tables import Coded, read_table
from tests_helpers import split_checkpoint

#: mutations per test, and the wall-clock cap of each test (the count is what normally ends it)
N_MUTATIONS, BUDGET_S = 300, 20.0

#: values a hostile metadata edit plants: huge integers, non-finite numbers, wrong types, deep nesting
NASTY = [
    10**400,
    -(10**400),
    2**64,
    1e308,
    -1e308,
    float("inf"),
    float("nan"),
    -1,
    0,
    1.5,
    True,
    None,
    "",
    "F32",
    "float32",
    ["F32"],
    {"a": 1},
    [],
    {},
    [[[[[[0]]]]]],
    "x" * 1000,
    2**31,
    -(2**63),
]


def _paths(obj, prefix=()):
    """Every (path, value) inside a JSON document, leaves and containers."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _set(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _pack(header, body) -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.fixture(scope="module")
def valid_checkpoint(tmp_path_factory):
    """A checkpoint with every part a mutation can reach: Dropout, LeakyReLU, Adam state, preprocessing."""
    from mlp.io.tables import Preprocessor

    folder = tmp_path_factory.mktemp("fuzz")
    model = mlp.Sequential(
        [mlp.Linear(3, 4), mlp.LeakyReLU(0.1), mlp.Dropout(0.2), mlp.Linear(4, 2)], backend="numpy", seed=0
    )
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.integers(0, 2, 16)
    opt = mlp.Adam(lr=0.01, weight_decay=1e-4)
    mlp.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=1, batch_size=8, progress=False)
    pre = Preprocessor.fit(X, ["f0", "f1", "f2"], ["label"], "classification", y=np.array(["a", "b"] * 8))
    path = folder / "valid.safetensors"
    mlp.save(model, path, optimizer=opt, preprocessor=pre, epoch=1, history={"loss": [0.5], "val_loss": [None]})
    load_checkpoint(path)  # the starting point is valid
    return path


def _check_one(path, data: bytes, what: str):
    path.write_bytes(data)
    try:
        load_checkpoint(path)
    except CheckpointError as e:
        assert str(path) in str(e), f"{what}: the message does not name the file: {e}"
        assert "\n" not in str(e), f"{what}: a message of several lines: {e!r}"
    except Exception as e:  # noqa: BLE001 - the point of the test: nothing else may escape
        pytest.fail(f"{what}: {type(e).__name__} escaped instead of CheckpointError: {e}")


def test_mutated_checkpoints_raise_only_checkpoint_errors(valid_checkpoint, tmp_path):
    rng = np.random.default_rng(20240618)
    header, body = split_checkpoint(valid_checkpoint)
    raw = valid_checkpoint.read_bytes()
    meta = json.loads(header["__metadata__"]["mlp"])
    meta_paths = [p for p, _ in _paths(meta) if p]
    header_paths = [p for p, _ in _paths({k: v for k, v in header.items() if k != "__metadata__"}) if p]
    target, start, done = tmp_path / "mutant.safetensors", time.perf_counter(), 0
    while done < N_MUTATIONS and time.perf_counter() - start < BUDGET_S:
        kind = done % 5
        if kind == 0:  # a metadata value replaced by a nasty one
            m = copy.deepcopy(meta)
            p = meta_paths[rng.integers(len(meta_paths))]
            value = NASTY[rng.integers(len(NASTY))]
            _set(m, p, value)
            h = copy.deepcopy(header)
            h["__metadata__"]["mlp"] = json.dumps(m)
            data, what = _pack(h, body), f"metadata {'.'.join(map(str, p))} = {value!r:.60}"
        elif kind == 1:  # a header value replaced (shape, dtype, offsets)
            h = copy.deepcopy(header)
            p = header_paths[rng.integers(len(header_paths))]
            value = NASTY[rng.integers(len(NASTY))]
            _set(h, p, value)
            data, what = _pack(h, body), f"header {'.'.join(map(str, p))} = {value!r:.60}"
        elif kind == 2:  # random bytes flipped anywhere
            b = bytearray(raw)
            for i in rng.integers(0, len(b), rng.integers(1, 9)):
                b[i] = int(rng.integers(256))
            data, what = bytes(b), "flipped bytes"
        elif kind == 3:  # truncated, or grown
            n = int(rng.integers(0, len(raw) + 64))
            data, what = (
                (raw[:n] if n <= len(raw) else raw + bytes(rng.integers(0, 256, n - len(raw), dtype=np.uint8))),
                f"{n} bytes",
            )
        else:  # a metadata key removed
            m = copy.deepcopy(meta)
            p = meta_paths[rng.integers(len(meta_paths))]
            parent = m
            for key in p[:-1]:
                parent = parent[key]
            del parent[p[-1]]
            h = copy.deepcopy(header)
            h["__metadata__"]["mlp"] = json.dumps(m)
            data, what = _pack(h, body), f"metadata {'.'.join(map(str, p))} removed"
        _check_one(target, data, f"mutation {done} ({what})")
        done += 1
    assert done >= 100, f"only {done} mutations in {BUDGET_S} s"


TABLE = "age,height,smoker,city,label\n" + "".join(
    f'{20 + i},{1.5 + i / 100:.2f},{"True" if i % 3 else "False"},"c{i % 4}, x",{"yn"[i % 2]}\n' for i in range(30)
)
#: bytes a table mutation plants: invalid UTF-8, delimiters, quotes, line breaks, number syntax, huge values
TABLE_NASTY = [
    b"\xff",
    b"\xc3",
    b"\x00",
    b",",
    b";",
    b"\t",
    b'"',
    b"\n",
    b"\r\n",
    b"\n\n",
    b"1_5",
    b"1e400",
    b"-1e308",
    b"inf",
    b"nan",
    b"0x1F",
    b" ",
    b"\xef\xbb\xbf",
    b"1" * 400,
    b"True",
    b"",
]


@pytest.mark.backend_independent
def test_mutated_tables_raise_only_data_errors(tmp_path, reader):
    from mlp.io.tables import load_table

    rng = np.random.default_rng(618)
    raw = TABLE.encode()
    path, start, done = tmp_path / "mutant.csv", time.perf_counter(), 0
    while done < N_MUTATIONS and time.perf_counter() - start < BUDGET_S / 2:
        b = bytearray(raw)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(b)))
            if rng.random() < 0.5:
                b[i : i + int(rng.integers(0, 4))] = TABLE_NASTY[rng.integers(len(TABLE_NASTY))]
            else:
                b[i] = int(rng.integers(256))
        path.write_bytes(bytes(b))
        what = f"mutation {done}: {bytes(b)[:120]!r}"
        try:
            table = read_table(path)
            ds = load_table(table)
            pre = ds.preprocessor()
            X = ds.inputs(pre)  # the whole pipeline: kinds, target, preprocessing, the model's inputs
            assert X.dtype == np.float32 and np.isfinite(X).all(), what
        except DataError as e:
            assert str(path) in str(e), f"{what}: the message does not name the file: {e}"
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{what}: {type(e).__name__} escaped instead of DataError: {e}")
        else:  # what was read must be what the file says: no bytes reprs, no underscores read as digits
            for col in table.columns:
                if isinstance(col, Coded):
                    assert not any(isinstance(v, bytes) for v in col.levels), what
        done += 1
    assert done >= 100, f"only {done} mutations"


@pytest.mark.backend_independent
@pytest.mark.parametrize("kind", [".npy", ".npz"])
def test_mutated_numpy_tables_raise_only_data_errors(tmp_path, kind):
    rng = np.random.default_rng(19)
    path = tmp_path / f"valid{kind}"
    A = np.arange(24, dtype=np.float64).reshape(6, 4)
    if kind == ".npy":
        np.save(path, A)
    else:
        np.savez(path, X=A[:, :3], y=A[:, 3], feature_names=np.array(["a", "b", "c"]))
    raw = path.read_bytes()
    read_table(path)
    start, done = time.perf_counter(), 0
    while done < N_MUTATIONS and time.perf_counter() - start < BUDGET_S / 4:
        b = bytearray(raw)
        if done % 3 == 0:
            b = b[: int(rng.integers(0, len(b)))]
        else:
            for i in rng.integers(0, len(b), rng.integers(1, 6)):
                b[i] = int(rng.integers(256))
        path.write_bytes(bytes(b))
        try:
            read_table(path)
        except DataError as e:
            assert str(path) in str(e), e
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{kind} mutation {done}: {type(e).__name__} escaped instead of DataError: {e}")
        done += 1
    assert done >= 100
