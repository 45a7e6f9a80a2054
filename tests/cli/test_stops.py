"""Issue 28, "never silently wrong": options `--resume` ignored, good files replaced by broken ones, stops that lose
work (SIGTERM, SIGHUP, a closed standard output), unbounded checkpoint reads, and messages that point the wrong way.

Signals are sent to real processes (``python -m mlp train``), as a batch scheduler sends them.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp.core.errors import CheckpointError
from tests_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def run(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "mlp", *map(str, args)], capture_output=True, text=True, env=ENV, timeout=120, **kwargs
    )


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def table(path: Path, n: int, seed: int, columns=("a", "b")) -> Path:
    rng = np.random.default_rng(seed)
    a, b = rng.random(n), rng.random(n)
    rows = [f"{x},{y},{'yes' if x > y else 'no'}" for x, y in zip(a, b, strict=True)]
    path.write_text(",".join([*columns, "y"]) + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def xor_run(tmp_path, capsys):
    path = tmp_path / "xor.safetensors"
    code, _, err = run_cli(["train", "--data", "xor", "--epochs", "2", "--quiet", "--save", str(path)], capsys)
    assert code == 0, err
    return path


# -- 1. options that --resume ignored ------------------------------------------------------------------------------


def test_resume_with_another_table_of_the_same_columns_goes_on_with_it(tmp_path, capsys):
    first, second = table(tmp_path / "first.csv", 60, 0), table(tmp_path / "second.csv", 50, 1)
    path = tmp_path / "run.safetensors"
    assert run_cli(["train", "--data", str(first), "--epochs", "2", "--save", str(path), "--quiet"], capsys)[0] == 0
    code, out, err = run_cli(["train", "--resume", str(path), "--data", str(second), "--epochs", "1"], capsys)
    assert code == 0, err
    assert f"on {second} (the run so far trained on {first})" in out
    extra = mlp.load_checkpoint(path).metadata["extra"]
    assert extra["data"] == str(second) and extra["cli"]["data"] == str(second) and extra["epoch"] == 3


def test_resume_with_a_table_of_other_columns_is_refused_naming_the_column(tmp_path, capsys):
    first, other = table(tmp_path / "first.csv", 60, 0), table(tmp_path / "other.csv", 20, 1, columns=("a", "c"))
    path = tmp_path / "run.safetensors"
    assert run_cli(["train", "--data", str(first), "--epochs", "1", "--save", str(path), "--quiet"], capsys)[0] == 0
    before = path.read_bytes()
    code, _, err = run_cli(["train", "--resume", str(path), "--data", str(other), "--epochs", "1"], capsys)
    assert code == 2 and "'b'" in one_line(err) and "other.csv" in err
    assert path.read_bytes() == before


def test_resume_with_data_of_another_kind_is_refused_naming_both(xor_run, tmp_path, capsys):
    csv = table(tmp_path / "t.csv", 20, 0)
    before = xor_run.read_bytes()
    code, _, err = run_cli(["train", "--resume", str(xor_run), "--data", str(csv), "--epochs", "1"], capsys)
    line = one_line(err)
    assert code == 2 and f"--data {csv}" in line and "built-in data set xor" in line
    assert xor_run.read_bytes() == before


def test_resume_on_another_built_in_set_of_the_same_width(xor_run, capsys):
    code, _, err = run_cli(["train", "--resume", str(xor_run), "--data", "spirals", "--epochs", "1", "--quiet"], capsys)
    assert code == 0, err
    assert mlp.load_checkpoint(xor_run).metadata["extra"]["data"] == "spirals"


@pytest.mark.parametrize("epochs", ["-7", "0"])
def test_resume_with_epochs_that_are_not_positive_is_refused(xor_run, capsys, epochs):
    before = xor_run.read_bytes()
    code, _, err = run_cli(["train", "--resume", str(xor_run), "--epochs", epochs, "--quiet"], capsys)
    assert code == 2 and f"--epochs must be a positive integer, got {epochs}" in one_line(err)
    assert xor_run.read_bytes() == before


@pytest.mark.parametrize("flag", ["--verbose", "--stream"])
def test_table_flags_are_refused_where_they_would_be_ignored(xor_run, capsys, flag):
    code, _, err = run_cli(["train", "--resume", str(xor_run), flag, "--epochs", "1", "--quiet"], capsys)
    assert code == 2 and flag in one_line(err)
    code, _, err = run_cli(["train", "--data", "xor", flag, "--epochs", "1", "--quiet"], capsys)
    assert code == 2 and flag in one_line(err) and "--data xor" in err


def test_sep_is_refused_for_a_built_in_set(xor_run, capsys):
    for argv in (["--data", "xor"], ["--resume", str(xor_run)]):
        code, _, err = run_cli(["train", *argv, "--sep", ";", "--epochs", "1", "--quiet"], capsys)
        assert code == 2 and "--sep applies to a CSV table, not to the built-in data set --data xor" in one_line(err)


# -- 2. a good file replaced by a broken one ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["1180591620717411303424", "-1", str(2**63)])
def test_seed_out_of_range_is_refused_at_the_option(xor_run, capsys, seed):
    before = xor_run.read_bytes()
    code, _, err = run_cli(["train", "--data", "xor", "--seed", seed, "--save", str(xor_run), "--quiet"], capsys)
    assert code == 2 and "--seed must be an integer in [0, 2**63)" in one_line(err)
    assert xor_run.read_bytes() == before


def test_largest_seed_saves_a_checkpoint_that_loads(tmp_path, capsys):
    path = tmp_path / "s.safetensors"
    code, _, err = run_cli(
        ["train", "--data", "xor", "--epochs", "1", "--seed", str(2**63 - 1), "--save", str(path), "--quiet"], capsys
    )
    assert code == 0, err
    assert mlp.load_checkpoint(path).metadata["extra"]["cli"]["seed"] == 2**63 - 1


def test_save_that_would_not_load_back_is_refused_and_keeps_the_good_file(xor_run):
    model = mlp.load(xor_run)
    before = xor_run.read_bytes()
    with pytest.raises(ValueError, match="could not load it back.*code is an integer of 21 digits") as info:
        mlp.save(model, xor_run, code=10**20)
    assert str(xor_run) in str(info.value)
    assert xor_run.read_bytes() == before and not list(xor_run.parent.glob(".*tmp*"))


def test_twenty_digit_category_codes_are_refused_before_training(tmp_path, capsys, xor_run):
    csv = tmp_path / "codes.csv"
    csv.write_text(
        "code,x,y\n"
        + "".join(f"{c},{i / 40},{i % 2}\n" for i, c in enumerate([12345678901234567890, 98765432109876543210] * 20))
    )
    before = xor_run.read_bytes()
    code, _, err = run_cli(
        ["train", "--data", str(csv), "--categorical", "code", "--epochs", "1", "--quiet", "--save", str(xor_run)],
        capsys,
    )
    line = one_line(err)
    assert code == 2 and f"--save {xor_run}" in line and "integer of 20 digits" in line
    assert "nothing was trained" in line
    assert xor_run.read_bytes() == before


def test_outputs_through_a_symbolic_link_replace_the_target(tmp_path, capsys):
    real = tmp_path / "real"
    real.mkdir()
    (real / "m.safetensors").write_bytes(b"old")
    (real / "p.csv").write_text("old\n")
    (real / "c.png").write_bytes(b"old")
    (real / "x.onnx").write_bytes(b"old")
    for name in ("m.safetensors", "p.csv", "c.png", "x.onnx"):
        (tmp_path / name).symlink_to(real / name)
    model = tmp_path / "m.safetensors"
    code, _, err = run_cli(
        ["train", "--data", "xor", "--epochs", "1", "--quiet", "--save", str(model), "--plot", str(tmp_path / "c.png")],
        capsys,
    )
    assert code == 0, err
    csv = table(tmp_path / "t.csv", 20, 0)
    tab = tmp_path / "tab.safetensors"
    assert run_cli(["train", "--data", str(csv), "--epochs", "1", "--quiet", "--save", str(tab)], capsys)[0] == 0
    code, _, err = run_cli(["predict", str(tab), str(csv), "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 0, err
    exported = False
    try:
        import onnx  # noqa: F401

        code, _, err = run_cli(["export", str(tab), str(tmp_path / "x.onnx")], capsys)
        assert code == 0, err
        exported = True
    except ImportError:
        pass
    for name in ("m.safetensors", "p.csv", "c.png", "x.onnx"):
        assert (tmp_path / name).is_symlink(), name
    mlp.load_checkpoint(real / "m.safetensors")
    assert (real / "p.csv").read_text().splitlines()[0] == "y"
    assert (real / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ((real / "x.onnx").read_bytes() != b"old") == exported
    assert sorted(p.name for p in real.iterdir()) == ["c.png", "m.safetensors", "p.csv", "x.onnx"]  # no temporary


def test_a_named_pipe_is_written_as_a_stream(tmp_path):
    from mlp.io.atomic import write_atomic

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_atomic(fifo, iter([b"one,", b"two\n"]))
    reader.join(10)
    assert got == [b"one,two\n"]
    assert fifo.is_fifo()


def test_plot_of_an_unknown_format_is_refused_before_training(tmp_path, capsys):
    save = tmp_path / "m.safetensors"
    code, _, err = run_cli(
        [
            "train",
            "--data",
            "xor",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            str(save),
            "--plot",
            str(tmp_path / "curves.txt"),
        ],
        capsys,
    )
    assert code == 2 and "--plot" in one_line(err) and ".txt is not an image format" in err
    assert not save.exists()  # refused before training: no checkpoint was written


def test_plot_onto_the_checkpoint_is_refused(tmp_path, capsys):
    save = tmp_path / "m.png"
    code, _, err = run_cli(
        ["train", "--data", "xor", "--epochs", "1", "--quiet", "--save", str(save), "--plot", str(save)], capsys
    )
    assert code == 2 and "same file as --save" in one_line(err)
    assert not save.exists()


# -- 3. stops that lose work ----------------------------------------------------------------------------------------


def _train_until_saved(save, *command):
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while not save.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the first epoch's checkpoint: training is under way
    assert save.exists(), f"no checkpoint appeared (status {proc.poll()})"
    return proc


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_save_the_step_like_ctrl_c(tmp_path, signum, status):
    save = tmp_path / "m.safetensors"
    proc = _train_until_saved(
        save,
        sys.executable,
        "-m",
        "mlp",
        "train",
        "--data",
        "spirals",
        "--epochs",
        "100000",
        "--quiet",
        "--save",
        str(save),
    )
    try:
        time.sleep(0.2)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == status, err
    line = one_line(err)
    name = signal.Signals(signum).name
    assert (
        line.startswith(f"mlp: interrupted by {name} at epoch ")
        and f"(continue with: mlp train --resume {save})" in line
    )
    extra = mlp.load_checkpoint(save).metadata["extra"]
    assert extra["epoch"] >= 1 and "step" in extra
    assert f"at epoch {extra['epoch'] + 1}, step {extra['step']};" in line


def test_sigterm_outside_training_is_one_line_and_143(tmp_path):
    fifo = tmp_path / "never.fifo"  # mlp waits for a writer: a process stopped before any training
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp", "evaluate", str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # the import and the open() of the pipe that blocks
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 143 and one_line(err) == "mlp: interrupted by SIGTERM", (proc.returncode, err)


def test_closed_standard_output_finishes_quietly_with_the_checkpoint(tmp_path):
    save = tmp_path / "m.safetensors"
    # `mlp train ... >&-`: the shell closes descriptor 1 before mlp starts
    r = subprocess.run(
        [
            "sh",
            "-c",
            'exec "$@" >&-',
            "sh",
            sys.executable,
            "-m",
            "mlp",
            "train",
            "--data",
            "xor",
            "--epochs",
            "3",
            "--save",
            str(save),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr and "Error" not in r.stderr, r.stderr
    assert mlp.load_checkpoint(save).metadata["extra"]["epoch"] == 3


def test_a_reader_that_goes_away_leaves_the_run_to_finish_and_exit_141(tmp_path):
    save = tmp_path / "m.safetensors"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlp", "train", "--data", "xor", "--epochs", "20", "--save", str(save)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    proc.stdout.close()  # `mlp train ... | head -0`: the first line already has no reader
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 141 and "Traceback" not in err and "Error" not in err, (proc.returncode, err)
    assert mlp.load_checkpoint(save).metadata["extra"]["epoch"] == 20  # every epoch trained and saved


# -- 4. unbounded reads ---------------------------------------------------------------------------------------------


def _counting_reads(monkeypatch):
    import mlp.io.checkpoint as checkpoint

    read = []
    real = checkpoint._read_up_to

    def counted(f, n):
        data = real(f, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(checkpoint, "_read_up_to", counted)
    return read


def test_a_large_safetensors_file_of_another_program_is_refused_after_its_header(tmp_path, monkeypatch):
    n = 256 * 2**20 // 4
    header = json.dumps(
        {"__metadata__": {"format": "pt"}, "w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}
    ).encode()
    path = tmp_path / "other.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 4 * n)  # sparse: 256 MiB that take no disk
    read = _counting_reads(monkeypatch)
    with pytest.raises(CheckpointError, match="not an mlp checkpoint"):
        mlp.load_checkpoint(path)
    assert sum(read) == 8 + len(header)


def test_a_header_over_the_cap_is_refused_unread(tmp_path, monkeypatch):
    from mlp.io.checkpoint_checks import MAX_HEADER

    header = json.dumps({"__metadata__": {"mlp": "x" * (MAX_HEADER + 10)}}).encode()
    path = tmp_path / "meta.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    read = _counting_reads(monkeypatch)
    with pytest.raises(CheckpointError, match=r"more than the 16 MiB an mlp checkpoint's header may have") as info:
        mlp.load_checkpoint(path)
    assert f"{len(header):,} bytes" in str(info.value) and path.name in str(info.value)
    assert sum(read) == 9  # the length, and the "{" that says it is a header


def test_running_out_of_memory_while_loading_names_the_file_and_size(xor_run, monkeypatch):
    import safetensors.numpy

    def no_memory(data):
        raise MemoryError

    monkeypatch.setattr(safetensors.numpy, "load", no_memory)
    with pytest.raises(CheckpointError, match="not enough memory to load it") as info:
        mlp.load_checkpoint(xor_run)
    assert repr(str(xor_run)) in str(info.value) and f"{xor_run.stat().st_size:,} bytes" in str(info.value)


def test_a_csv_given_as_the_checkpoint_is_not_an_mlp_checkpoint(tmp_path, capsys):
    csv = table(tmp_path / "t.csv", 20, 0)
    code, _, err = run_cli(["evaluate", str(csv)], capsys)
    assert code == 2 and "not an mlp checkpoint: it is text (it begins 'a,b,y')" in one_line(err)
    assert "header length" not in err


def test_a_checkpoint_from_a_named_pipe_is_read_once(xor_run, tmp_path):
    fifo = tmp_path / "ck.fifo"
    os.mkfifo(fifo)
    data = xor_run.read_bytes()

    def write():
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    r = run("evaluate", fifo)  # a second open of the pipe would wait for a writer that never comes
    assert r.returncode == 0 and "accuracy" in r.stdout, r.stderr
    writer.join(10)


# -- 5. messages that point the wrong way ---------------------------------------------------------------------------


def test_a_path_that_begins_with_a_dash_says_how_to_write_it(capsys):
    code, _, err = run_cli(["train", "--data", "xor", "--save", "-m.safetensors"], capsys)
    assert code == 2 and "write --save=-m.safetensors" in one_line(err)
    code, _, err = run_cli(["evaluate", "-m.safetensors"], capsys)
    assert code == 2 and "write ./-m.safetensors" in one_line(err)


def test_a_file_name_that_is_not_utf8_is_named(tmp_path):
    name = os.fsencode(tmp_path) + b"/\xfd.csv"
    table(Path(os.fsdecode(name)), 20, 0)
    r = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"mlp",
            b"train",
            b"--data",
            name,
            b"--epochs",
            b"1",
            b"--quiet",
            b"--save",
            os.fsencode(tmp_path) + b"/m.safetensors",
        ],
        capture_output=True,
        env=ENV,
        timeout=120,
    )
    err = r.stderr.decode("utf-8", "backslashreplace")
    if r.returncode == 0:  # the table reader took the name (pyarrow does not, here): a saved run
        assert (tmp_path / "m.safetensors").exists() and not err, err
    else:  # one line naming the file by its bytes, not "'utf-8' codec can't encode character '\udcfd'"
        assert r.returncode == 2 and "\\xfd.csv'" in one_line(err) and "is not valid UTF-8" in err, err
