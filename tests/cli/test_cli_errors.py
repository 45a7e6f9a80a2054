"""The `mlp` command's errors: one readable line on stderr, a non-zero status, no traceback; a typo never destroys
the user's data.

Run in this process (``tests_helpers.run_cli``), for speed; tests/cli/test_cli.py runs the command as users do.
"""

import os
import pickle

import pytest

from mlp.io import datasets, download
from tests_helpers import one_line_error, run_cli, usable

TRAIN = ["train", "--data", "spirals", "--quiet", "--epochs", "1"]


def _table_csv(tmp_path, name="data.csv"):
    path = tmp_path / name
    rows = "".join(f"{i % 7},{(i * 3) % 5},{'ab'[i % 2]}\n" for i in range(20))
    path.write_text("a,b,label\n" + rows)
    return path


# -- argument parsing and the library's checks -----------------------------------------------------


@pytest.mark.backend_independent  # refused while the arguments are read, before any backend
@pytest.mark.parametrize(
    "argv, needles",
    [
        (["train", "--activation", "swish"], ["mlp train: error: argument --activation: invalid choice: 'swish'"]),
        (["train", "--dtype", "float16"], ["argument --dtype: invalid choice: 'float16'"]),
        (["train", "--sizes", "abc"], ["--sizes must be comma-separated integers"]),
        (["train", "--sizes", "2,0,2"], ["--sizes needs at least two positive widths"]),
        (["train", "--lr", "fast"], ["argument --lr: invalid float value: 'fast'"]),
        (["train", "--loss", "hinge"], ["argument --loss: invalid choice: 'hinge'"]),
        (["train", "--init", "glorot"], ["argument --init: invalid choice: 'glorot'"]),
        (["evaluate"], ["the following arguments are required: path"]),
        ([], ["mlp: error: the following arguments are required: COMMAND"]),
    ],
    ids=[
        "activation",
        "dtype",
        "sizes-text",
        "sizes-zero",
        "lr-text",
        "loss",
        "init",
        "evaluate-no-path",
        "no-command",
    ],
)
def test_cli_usage_errors_are_one_line(capsys, argv, needles):
    code, _, err = run_cli(argv, capsys)
    line = one_line_error(code, err, *needles)
    assert "--help" in line


@pytest.mark.parametrize(
    "extra, env, needles",
    [
        (["--lr", "inf"], {}, ["mlp: error: SGD: lr must be a positive number (finite), got inf"]),
        (["--lr", "0"], {}, ["lr must be a positive number"]),
        (["--momentum", "1.5"], {}, ["SGD: momentum must be in [0, 1), got 1.5"]),
        (["--epochs", "0"], {}, ["epochs must be a positive integer, got 0"]),
        (["--batch-size", "-1"], {}, ["batch_size must be a positive integer, got -1"]),
        (["--l2", "-1"], {}, ["lmbda must be a finite number >= 0"]),
        (["--sizes", "2,8,3"], {}, ["--sizes 2,8,3 does not fit --data spirals", "output width 2"]),
        (["--lr", "1e9"], {}, ["the loss became", "epoch 1, step", "try a smaller learning rate"]),
        ([], {"MLP_BACKEND": "NumPy"}, ["unknown backend 'NumPy' (from MLP_BACKEND)", "did you mean 'numpy'?"]),
        ([], {"MLP_BACKEND": "numpy "}, ["unknown backend 'numpy ' (from MLP_BACKEND)"]),
        (["--backend", "tensorflow"], {}, ["unknown backend 'tensorflow' (from argument)"]),
        (
            ["--backend", "numpy"],
            {"MLP_DEVICE": "cuda:1"},
            ["MLP_DEVICE='cuda:1' does not exist for the numpy backend"],
        ),
        (["--backend", "torch"], {"MLP_DEVICE": "tpu"}, ["MLP_DEVICE='tpu' is not a torch device"]),
    ],
    ids=[
        "lr-inf",
        "lr-0",
        "momentum",
        "epochs",
        "batch-size",
        "l2",
        "sizes",
        "diverges",
        "MLP_BACKEND-case",
        "MLP_BACKEND-space",
        "backend-unknown",
        "MLP_DEVICE-numpy",
        "MLP_DEVICE-torch",
    ],
)
def test_cli_library_errors_are_one_line(capsys, fresh, tmp_path, extra, env, needles):
    if "torch" in extra and not usable("torch"):
        pytest.skip("torch is not usable here")
    for k, v in env.items():
        fresh.setenv(k, v)
    code, _, err = run_cli([*TRAIN, "--save", str(tmp_path / "run.safetensors"), *extra], capsys)
    line = one_line_error(code, err, *needles)
    assert line.startswith("mlp: error: ")


@pytest.mark.backend_independent  # sets MLP_BACKEND itself
@pytest.mark.parametrize("value", ["", "NumPy", " numpy "])
def test_mlp_backend_is_read_one_way_by_every_command(fresh, capsys, value):
    fresh.setenv("MLP_BACKEND", value)
    messages = []
    for argv in (["info"], TRAIN):
        code, out, err = run_cli(argv, capsys)
        messages.append(one_line_error(code, err, f"unknown backend {value!r} (from MLP_BACKEND)"))
    assert messages[0] == messages[1]


# -- hostile or corrupt files ----------------------------------------------------------------------


def test_cli_hostile_checkpoints_are_one_line_and_run_nothing(capsys, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"W0": Payload()}))
    for command in (["evaluate", str(evil), "--data", "spirals"], ["train", "--resume", str(evil), "--quiet"]):
        code, _, err = run_cli(command, capsys)
        one_line_error(code, err, "evil.safetensors", "looks like a pickle", "never loaded")
    assert not marker.exists()

    good = tmp_path / "good.safetensors"
    assert run_cli([*TRAIN, "--save", str(good)], capsys)[0] == 0
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-10])
    for command in (["evaluate", str(cut), "--data", "spirals"], ["train", "--resume", str(cut), "--quiet"]):
        code, _, err = run_cli(command, capsys)
        one_line_error(code, err, "cut.safetensors", "truncated")
    code, _, err = run_cli(["evaluate", str(tmp_path / "none.safetensors"), "--data", "spirals"], capsys)
    one_line_error(code, err, "none.safetensors", "no such file")
    code, _, err = run_cli(["train", "--resume", str(good), "--lr", "0.5"], capsys)
    one_line_error(code, err, "--resume continues the saved run with its own settings; drop --lr")


@pytest.mark.backend_independent  # refused when the files are checked, before any backend
def test_cli_corrupt_data_files_are_one_line(capsys, tmp_path, monkeypatch):
    def no_network(url, timeout):
        raise AssertionError(f"tried to reach {url}")

    monkeypatch.setattr(download, "_urlopen", no_network)
    for name in datasets.FILES:
        (tmp_path / name).write_bytes(b"\x1f\x8b not the canonical file")
    code, _, err = run_cli(["train", "--data", "mnist", "--data-dir", str(tmp_path), "--quiet"], capsys)
    one_line_error(code, err, str(tmp_path / datasets.FILES[0]), "SHA-256", "not used")


# -- outputs that would overwrite the inputs; the delimiter option ---------------------------------


@pytest.mark.backend_independent  # refused before any work
@pytest.mark.parametrize("how", ["same-name", "symlink", "hard-link"])
def test_train_save_onto_its_own_table_is_refused(tmp_path, capsys, how, monkeypatch):
    data = _table_csv(tmp_path)
    before = data.read_bytes()
    target = data
    if how == "symlink":
        target = tmp_path / "alias.csv"
        target.symlink_to(data)
    elif how == "hard-link":
        target = tmp_path / "hard.csv"
        os.link(data, target)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["train", "--data", "data.csv", "--quiet", "--epochs", "1", "--save", target.name], capsys)
    one_line_error(code, err, f"--save {target.name} is the same file as --data data.csv")
    assert data.read_bytes() == before


def test_predict_out_onto_its_inputs_is_refused(tmp_path, capsys):
    data = _table_csv(tmp_path)
    ckpt = tmp_path / "m.safetensors"
    code, _, err = run_cli(["train", "--data", str(data), "--quiet", "--epochs", "1", "--save", str(ckpt)], capsys)
    assert code == 0, err
    before, saved = data.read_bytes(), ckpt.read_bytes()
    code, out, err = run_cli(["predict", str(ckpt), str(data), "--out", str(data)], capsys)
    one_line_error(code, err, f"--out {data} is the same file as the table {data}")
    code, out, err = run_cli(["predict", str(ckpt), str(data), "--out", str(ckpt)], capsys)
    one_line_error(code, err, f"--out {ckpt} is the same file as the checkpoint {ckpt}")
    assert data.read_bytes() == before and ckpt.read_bytes() == saved
    # another path still works, and --save onto the checkpoint being resumed goes on as before
    code, _, err = run_cli(["predict", str(ckpt), str(data), "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 0 and (tmp_path / "p.csv").exists(), err


def test_sep_option_of_train_evaluate_and_predict(tmp_path, capsys):
    path = tmp_path / "semi.csv"
    rows = "".join(f"{i % 7};{(i * 3) % 5};{'ab'[i % 2]}\n" for i in range(20))
    path.write_text("a;b;label\n" + rows)
    ckpt = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        ["train", "--data", str(path), "--sep", ";", "--quiet", "--epochs", "1", "--save", str(ckpt)], capsys
    )
    assert code == 0, err
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--sep", "\\t"], capsys)
    one_line_error(code, err, "semi.csv")  # read with tabs: one column, not the model's features
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--sep", ";"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 21, err
    code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--sep", ";"], capsys)
    assert code == 0 and "accuracy" in out, err
