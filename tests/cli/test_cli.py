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
    return subprocess.run(
        [sys.executable, "-m", "mlp", *args], capture_output=True, text=True, env=full_env, timeout=timeout, **kw
    )


def test_info_lists_backends_and_reasons():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert "available backends:" in r.stdout and "numpy" in r.stdout
    for name, why in mlp.backends.unavailable().items():
        assert name in r.stdout.split("unavailable backends:")[1]


def test_train_save_evaluate_on_another_backend(tmp_path):
    path = tmp_path / "spirals.safetensors"
    plot = tmp_path / "curves.png"
    r = run("train", "--data", "spirals", "--epochs", "30", "--quiet", "--save", str(path), "--plot", str(plot))
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy") and str(path) in last
    accuracy = float(last.split()[2].rstrip(","))
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


@pytest.mark.parametrize(
    "args,env,needle",
    [
        (["train", "--data", "spirals", "--lr", "-1"], None, "lr must be a positive number"),
        (["train", "--data", "spirals", "--batch-size", "0"], None, "batch_size must be a positive integer"),
        (["train", "--data", "spirals", "--sizes", "784,10"], None, "does not fit --data spirals"),
        (["train", "--data", "xor"], {"MLP_BACKEND": " numpy"}, "unknown backend ' numpy'"),
        (["train", "--data", "xor"], {"MLP_BACKEND": ""}, "unknown backend ''"),
        (["train", "--data", "xor", "--backend", "cupy"], {"CUDA_VISIBLE_DEVICES": ""}, "cupy backend"),
        (["train", "--data", "xor"], {"MLP_DEVICE": "cuda:7"}, "MLP_DEVICE='cuda:7' does not exist"),
        (["evaluate", "/nonexistent/model.safetensors"], None, "no such file"),
    ],
)
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
    proc = subprocess.Popen(
        [
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
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
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
    """`mlp evaluate` uses the data set the model was trained on; `--resume --epochs 5` adds 5 epochs (alone, it
    finishes an interrupted run: tests/cli/test_cli_user.py)."""
    path = tmp_path / "xor.safetensors"
    assert run("train", "--data", "xor", "--epochs", "5", "--quiet", "--save", str(path)).returncode == 0
    r = run("evaluate", str(path))
    assert r.returncode == 0 and "on xor test" in r.stdout, r.stderr
    assert run("train", "--resume", str(path), "--epochs", "5", "--quiet").returncode == 0
    assert mlp.load_checkpoint(path).metadata["extra"]["epoch"] == 10


# -- tables of your own ---------------------------------------------------------------------------
def write_classes_csv(path, n=120, seed=0):
    """Two numeric features and a text label that depends on them (linearly separable with margin)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) * [1.0, 100.0] + [0.0, 500.0]  # very different scales
    label = np.where(X[:, 0] + (X[:, 1] - 500.0) / 100.0 > 0, "yes", "no")
    lines = ["width,height,answer"] + [f"{a!r},{b!r},{c}" for (a, b), c in zip(X.tolist(), label, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return X, label


def test_csv_train_predict_evaluate_round_trip(tmp_path):
    csv_path, ckpt = tmp_path / "data.csv", tmp_path / "model.safetensors"
    X, label = write_classes_csv(csv_path)
    r = run("train", "--data", str(csv_path), "--epochs", "40", "--save", str(ckpt))
    assert r.returncode == 0, r.stderr
    assert "task classification (inferred: target 'answer'" in r.stdout and "interquartile range" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("validation accuracy") and float(last.split()[2].rstrip(",")) >= 0.9
    pre = mlp.load_checkpoint(ckpt).preprocessor
    assert pre.features == ["width", "height"] and pre.classes == ["no", "yes"]

    # new rows without the target, columns in another order: matched by name, rows in input order
    new = tmp_path / "new.csv"
    new.write_text("height,width\n" + "\n".join(f"{b!r},{a!r}" for a, b in X[:10].tolist()) + "\n")
    out = tmp_path / "preds.csv"
    r = run("predict", str(ckpt), str(new), "--out", str(out), "--proba")
    assert r.returncode == 0, r.stderr
    rows = [line.split(",") for line in out.read_text().strip().splitlines()]
    assert rows[0] == ["answer", "proba_no", "proba_yes"] and len(rows) == 11
    assert sum(row[0] == want for row, want in zip(rows[1:], label[:10], strict=True)) >= 9
    for row in rows[1:]:
        p_no, p_yes = float(row[1]), float(row[2])
        assert p_no + p_yes == pytest.approx(1.0, abs=1e-6) and row[0] == ("yes" if p_yes > p_no else "no")

    r = run("evaluate", str(ckpt), "--data", str(csv_path))
    assert r.returncode == 0, r.stderr
    accuracy = float(r.stdout.split("accuracy ")[1].split(",")[0])
    assert accuracy >= 0.9 and "(120 samples)" in r.stdout


def test_regression_from_an_npy_file_reports_r2_and_predicts_values(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    y = 300.0 + 50.0 * (X @ [1.0, -2.0, 0.5]) + rng.normal(size=200)
    path, ckpt = tmp_path / "data.npy", tmp_path / "reg.safetensors"
    np.save(path, np.column_stack([X, y]))
    r = run("train", "--data", str(path), "--epochs", "60", "--hidden", "16", "--save", str(ckpt))
    assert r.returncode == 0, r.stderr
    assert "task regression" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("validation mse") and "accuracy" not in last
    assert float(last.split("r2 ")[1].split()[0]) > 0.9
    features = tmp_path / "features.npy"
    np.save(features, X[:5])
    r = run("predict", str(ckpt), str(features))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "3" and len(lines) == 6  # the target column's name, then values in its own units
    ck = mlp.load_checkpoint(ckpt)
    want = ck.preprocessor.values(ck.model.predict_values(ck.preprocessor.transform(X[:5])))[:, 0]
    np.testing.assert_allclose([float(v) for v in lines[1:]], want, rtol=1e-9)
    assert np.abs(want - y[:5]).max() < np.std(y)  # in the target's units, not standardised ones
    r = run("predict", str(ckpt), str(features), "--proba")
    assert r.returncode == 2 and "--proba needs a classifier" in r.stderr


def test_no_standardize_saves_no_statistics(tmp_path):
    csv_path, ckpt = tmp_path / "data.csv", tmp_path / "m.safetensors"
    write_classes_csv(csv_path, n=40)
    r = run(
        "train",
        "--data",
        str(csv_path),
        "--epochs",
        "1",
        "--quiet",
        "--no-standardize",
        "--val-split",
        "0",
        "--save",
        str(ckpt),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("training accuracy")
    assert mlp.load_checkpoint(ckpt).preprocessor.mean is None


@pytest.mark.parametrize(
    "content,args,needle",
    [
        ("a,b\n1,x\n2,y\n", ["--target", "price"], "no target column 'price'; the columns are 'a', 'b'"),
        # a gap in a feature is filled now, not refused; a column the user names must be there
        ("a,b\n1,x\n,y\n", ["--categorical", "c"], "bad.csv: no column 'c' (--categorical); the columns are 'a', 'b'"),
        ("a,b\n1,x\n,y\n", ["--drop", "b"], "column 'b' is the target; --drop names feature columns"),
        ("a,b\n1,x\nred,y\n", [], "row 2 (line 3), column 'a': 'red' is not a number"),
        ("a,b\n1,x\n2,x\n", [], "column 'b': the target holds one class only ('x')"),
        ("a,b\n1,x\n2,y\n", ["--val-split", "1.5"], "--val-split must be a fraction in [0, 1)"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, content, args, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    r = run("train", "--data", str(path), "--quiet", "--save", str(tmp_path / "m.safetensors"), *args)
    assert r.returncode == 2, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr, r.stderr


def test_predict_names_a_missing_feature_column(tmp_path):
    csv_path, ckpt = tmp_path / "data.csv", tmp_path / "m.safetensors"
    write_classes_csv(csv_path, n=40)
    assert run("train", "--data", str(csv_path), "--epochs", "1", "--quiet", "--save", str(ckpt)).returncode == 0
    new = tmp_path / "new.csv"
    new.write_text("width\n1.0\n")
    r = run("predict", str(ckpt), str(new))
    assert r.returncode == 2 and "trained with feature column 'height', missing here" in r.stderr


@pytest.mark.parametrize(
    "args,env,needle",
    [
        (["train", "--data", "mnist", "--data-dir", "{tmp}/data.csv"], None, "--data-dir {tmp}/data.csv is a file"),
        (["train", "--data", "mnist", "--data-dir", "{tmp}/absent"], None, "'{tmp}/absent' does not exist"),
        (["train", "--data", "mnist"], {"MLP_DATA_DIR": "{tmp}/absent"}, "MLP_DATA_DIR '{tmp}/absent' does not exist"),
        (["train", "--data", "nosuch"], None, "neither a built-in data set"),
        (["train", "--data", "{tmp}/absent.csv"], None, "absent.csv: no such file"),
    ],
)
def test_data_options_are_checked_and_nothing_is_created(tmp_path, args, env, needle):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    fill = lambda s: s.replace("{tmp}", str(tmp_path))  # noqa: E731
    r = run(*[fill(a) for a in args], "--quiet", env={k: fill(v) for k, v in (env or {}).items()})
    assert r.returncode == 2 and fill(needle) in r.stderr, r.stderr
    assert not (tmp_path / "absent").exists()


def test_version_device_threads_and_a_closed_pipe(tmp_path):
    r = run("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"mlp {mlp.__version__}"
    r = run(
        "train",
        "--data",
        "xor",
        "--epochs",
        "2",
        "--quiet",
        "--backend",
        "numpy",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--save",
        str(tmp_path / "xor.safetensors"),
    )
    assert r.returncode == 0, r.stderr
    shell = subprocess.run(
        f"{sys.executable} -m mlp info | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert shell.stdout.startswith("mlp ") and "BrokenPipe" not in shell.stderr and "Traceback" not in shell.stderr


def test_resuming_a_table_run_reuses_its_preprocessing(tmp_path):
    csv_path, a, b = tmp_path / "data.csv", tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    write_classes_csv(csv_path, n=60)
    common = ["train", "--data", str(csv_path), "--quiet", "--dtype", "float64"]
    assert run(*common, "--epochs", "4", "--save", str(a)).returncode == 0
    assert run(*common, "--epochs", "2", "--save", str(b)).returncode == 0
    r = run("train", "--resume", str(b), "--epochs", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    one, two = mlp.load_checkpoint(a), mlp.load_checkpoint(b)
    assert two.preprocessor.to_dict() == one.preprocessor.to_dict()
    for k, v in one.model.state_dict().items():
        np.testing.assert_allclose(two.model.state_dict()[k], v, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("layout", ["root", "files"])
def test_data_dir_is_a_data_root_like_MLP_DATA_DIR(shared_data, tmp_path, layout):
    """--data-dir names the folder holding mnist/ (as MLP_DATA_DIR does); one holding the files directly also works."""
    path = mlp.save(mlp.build_mlp([784, 10], loss="cross_entropy"), tmp_path / "m.safetensors")
    folder = shared_data if layout == "root" else shared_data / "mnist"
    r = run(
        "evaluate",
        str(path),
        "--data",
        "mnist",
        "--data-dir",
        str(folder),
        "--quiet",
        env={"MLP_DATA_DIR": str(tmp_path / "absent")},
    )  # --data-dir overrides the variable
    assert r.returncode == 0, r.stderr
    assert "on mnist test (10000 samples)" in r.stdout
