"""The `mlp` command end to end, in subprocesses (as a user runs it)."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import mlp
from tests_helpers import ROOT


def run(*args, env=None, timeout=300, **kw):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlp", *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, **kw)


def test_info_lists_backends_and_reasons():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "available backends:" in r.stdout and "numpy" in r.stdout
    for name, why in __import__("backends").unavailable().items():
        assert name in r.stdout.split("unavailable backends:")[1]


def test_train_save_evaluate_on_another_backend(tmp_path):
    path = tmp_path / "spirals.safetensors"
    plot = tmp_path / "curves.png"
    r = run("train", "--data", "spirals", "--epochs", "30", "--quiet", "--save", str(path), "--plot", str(plot))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy") and str(path) in last
    accuracy = float(last.split()[2])
    assert accuracy > 0.9
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run("evaluate", str(path), "--data", "spirals", "--backend", "array_api_strict")
    assert r.returncode == 0, r.stderr
    assert f"accuracy {accuracy:.4f}" in r.stdout and "array_api_strict" in r.stdout


def test_resume_two_plus_two_equals_four(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    common = ["train", "--data", "spirals", "--quiet", "--dtype", "float64"]
    assert run(*common, "--epochs", "4", "--save", str(a)).returncode == 0
    assert run(*common, "--epochs", "2", "--save", str(b)).returncode == 0
    r = run("train", "--resume", str(b), "--epochs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    one, two = mlp.load_checkpoint(a), mlp.load_checkpoint(b)
    assert two.metadata["extra"]["epoch"] == 4 and len(two.metadata["extra"]["history"]["epoch"]) == 4
    for k, v in one.model.state_dict().items():
        np.testing.assert_allclose(two.model.state_dict()[k], v, rtol=1e-12, atol=1e-14)


def test_progress_bar_shows_samples_per_second_and_quiet_silences_it(tmp_path):
    r = run("train", "--data", "spirals", "--epochs", "2", "--save", str(tmp_path / "p.safetensors"))
    assert r.returncode == 0 and "sample/s" in r.stderr and "loss=" in r.stderr
    r = run("train", "--data", "spirals", "--epochs", "2", "--quiet", "--save", str(tmp_path / "q.safetensors"))
    assert r.returncode == 0 and "sample/s" not in r.stderr + r.stdout


@pytest.mark.parametrize("args,env,needle", [
    (["train", "--data", "spirals", "--lr", "-1"], None, "lr must be a positive number"),
    (["train", "--data", "spirals", "--batch-size", "0"], None, "batch_size must be a positive integer"),
    (["train", "--data", "spirals", "--sizes", "784,10"], None, "does not fit --data spirals"),
    (["train", "--data", "xor"], {"MLP_BACKEND": " numpy"}, "unknown backend ' numpy'"),
    (["train", "--data", "xor"], {"MLP_BACKEND": ""}, "unknown backend ''"),
    (["train", "--data", "xor", "--backend", "cupy"], {"CUDA_VISIBLE_DEVICES": ""}, "cupy backend"),
    (["train", "--data", "xor"], {"MLP_DEVICE": "cuda:7"}, "MLP_DEVICE='cuda:7' does not exist"),
    (["evaluate", "/nonexistent/model.safetensors"], None, "no such file"),
])
def test_errors_are_one_line_and_non_zero(args, env, needle):
    r = run(*args, env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlp: error: ") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_debug_shows_the_traceback():
    r = run("--debug", "train", "--data", "spirals", "--lr", "-1")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path):
    path = tmp_path / "run.safetensors"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "mlp", "train", "--data", "spirals", "--epochs", "100000",
                             "--quiet", "--save", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    deadline = time.time() + 60
    while not path.exists() and time.time() < deadline:  # wait for the first epoch's checkpoint
        time.sleep(0.05)
    assert path.exists(), "no checkpoint written in time"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "--resume" in lines[0] and "Traceback" not in err
    extra = mlp.load_checkpoint(path).metadata["extra"]
    assert extra["epoch"] >= 1
    r = run("train", "--resume", str(path), "--epochs", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert mlp.load_checkpoint(path).metadata["extra"]["epoch"] == extra["epoch"] + 1


def test_evaluate_and_resume_default_to_the_saved_run(tmp_path):
    """`mlp evaluate` uses the data set the model was trained on; `--resume` alone adds the run's own epochs."""
    path = tmp_path / "xor.safetensors"
    assert run("train", "--data", "xor", "--epochs", "5", "--quiet", "--save", str(path)).returncode == 0
    r = run("evaluate", str(path))
    assert r.returncode == 0 and "on xor test" in r.stdout, r.stderr
    assert run("train", "--resume", str(path), "--quiet").returncode == 0
    assert mlp.load_checkpoint(path).metadata["extra"]["epoch"] == 10
