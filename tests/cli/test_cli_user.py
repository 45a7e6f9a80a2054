"""What a new user hit (issue 19): thread defaults, a resume that finishes the run, evaluation on training rows,
an id copied into predictions, abbreviated options."""

import csv
import os
import re
import sys

import numpy as np
import pytest

import mlp
from mlp import cli
from mlp.train import threads
from tests_helpers import interrupt_after, run_cli


def one_line_error(code, err, *needles):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def write_table(path, n=80, regression=False, seed=0):
    """``id,a,b,target``: a class (or a value) from a and b; ``id`` a row number from 1000."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "a", "b", "target"])
        for i in range(n):
            a, b = rng.normal(size=2)
            w.writerow(
                [
                    1000 + i,
                    f"{a:.4f}",
                    f"{b:.4f}",
                    f"{50 + 20 * a - 5 * b:.3f}" if regression else ("yes" if a + b > 0 else "no"),
                ]
            )


# -- 5. no abbreviations: an unknown option names the closest one ----------------------------------
@pytest.mark.parametrize(
    "argv, wrong, meant",
    [
        (["train", "--epoch", "3"], "--epoch", "--epochs"),
        (["train", "--data", "x.csv", "--dropou", "0.2"], "--dropou", "--dropout"),  # --drop is the columns' option
        (["evaluate", "m.safetensors", "--dat", "spirals"], "--dat", "--data"),
        (["train", "--epochs=3", "--batchsize=8"], "--batchsize", "--batch-size"),
    ],
)
def test_an_abbreviated_option_is_refused_naming_the_option_meant(argv, wrong, meant, capsys):
    code, out, err = run_cli(argv, capsys)
    line = one_line_error(
        code,
        err,
        f"mlp {argv[0]}: error: unrecognized arguments:",
        f"{wrong}: did you mean {meant}?",
        f"see mlp {argv[0]} --help",
    )
    assert "invalid float" not in line and out == ""


def test_an_unknown_option_far_from_every_option_gets_no_guess(capsys):
    code, _, err = run_cli(["train", "--frobnicate", "3"], capsys)
    line = one_line_error(code, err, "unrecognized arguments: --frobnicate 3")
    assert "did you mean" not in line


# -- 2. resume finishes the run ---------------------------------------------------------------------
def test_ctrl_c_hint_resumes_to_the_planned_epochs_not_past_them(tmp_path, monkeypatch, capsys):
    """Interrupted in epoch 2 of `--epochs 3`: the printed `mlp train --resume CK` ends after epoch 3 (not 4), with
    the weights of a run never stopped; resuming the finished run again without --epochs refuses, --epochs 2 adds 2."""
    import mlp.train.runner as training

    monkeypatch.setattr(training, "CHECK_EVERY", 1)
    common = ["train", "--data", "spirals", "--quiet", "--dtype", "float64", "--batch-size", "100"]  # 16 steps/epoch
    whole, stopped = tmp_path / "whole.safetensors", tmp_path / "stopped.safetensors"
    assert run_cli([*common, "--epochs", "3", "--save", str(whole)], capsys)[0] == 0
    real_run = training.StepRunner.run
    interrupt_after(monkeypatch, 16 + 5)
    code, _, err = run_cli([*common, "--epochs", "3", "--save", str(stopped)], capsys)
    monkeypatch.setattr(training.StepRunner, "run", real_run)
    assert code == 130, err
    hint = err.strip().split("(continue with: ")[1].rstrip(")").split()
    assert hint == ["mlp", "train", "--resume", str(stopped)]

    code, _, err = run_cli([*hint[1:], "--quiet"], capsys)
    assert code == 0, err
    a, b = mlp.load_checkpoint(whole), mlp.load_checkpoint(stopped)
    assert b.extra["epoch"] == 3 and b.extra["history"]["epoch"] == [0, 1, 2]
    for k, v in a.model.state_dict().items():
        np.testing.assert_allclose(b.model.state_dict()[k], v, rtol=1e-12, atol=1e-14, err_msg=k)

    code, _, err = run_cli(["train", "--resume", str(stopped), "--quiet"], capsys)
    one_line_error(code, err, f"{stopped} has finished the 3 epochs its run planned", "--epochs N")
    assert mlp.load_checkpoint(stopped).extra["epoch"] == 3

    code, out, err = run_cli(["train", "--resume", str(stopped), "--epochs", "2"], capsys)
    assert code == 0, err
    assert "after epoch 3, to epoch 5" in out
    extra = mlp.load_checkpoint(stopped).extra
    assert extra["epoch"] == 5 and extra["cli"]["epochs"] == 5  # the new plan is the one a later resume finishes


# -- 4. evaluate without --data does not score the training rows --------------------------------------
def test_evaluate_a_table_model_without_data_refuses_and_regression_names_its_two_numbers(tmp_path, capsys):
    data, test, ckpt = tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "m.safetensors"
    write_table(data, regression=True)
    write_table(test, n=30, regression=True, seed=1)
    assert run_cli(["train", "--data", str(data), "--epochs", "2", "--quiet", "--save", str(ckpt)], capsys)[0] == 0
    code, out, err = run_cli(["evaluate", str(ckpt)], capsys)
    one_line_error(code, err, f"{ckpt} was trained on the table {data}", "give --data TABLE")
    assert out == ""
    code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(test)], capsys)
    assert code == 0, err
    assert "(30 samples)" in out and out.count("mse") == 2 and "mse of the standardised targets" in out
    assert len(re.findall(r"\bmse [0-9]", out)) == 1  # one number called mse; the loss is named as what it is


# -- 3. predict --keep copies an id to join on; --out needs an existing folder ------------------------
def test_predict_keep_copies_the_id_column_and_refuses_an_unknown_name(tmp_path, capsys):
    data, ckpt, out_path = tmp_path / "t.csv", tmp_path / "m.safetensors", tmp_path / "p.csv"
    write_table(data)
    assert run_cli(["train", "--data", str(data), "--epochs", "2", "--quiet", "--save", str(ckpt)], capsys)[0] == 0
    code, _, err = run_cli(["predict", str(ckpt), str(data), "--keep", "id", "--proba", "--out", str(out_path)], capsys)
    assert code == 0, err
    rows = list(csv.reader(out_path.open()))
    assert rows[0] == ["id", "target", "proba_no", "proba_yes"]
    assert [r[0] for r in rows[1:]] == [str(1000 + i) for i in range(80)]  # as in the file: 1000, not 1000.0
    assert {r[1] for r in rows[1:]} <= {"yes", "no"}

    code, _, err = run_cli(["predict", str(ckpt), str(data), "--keep", "idd"], capsys)
    one_line_error(code, err, "--keep idd:", "has no column 'idd'", "did you mean 'id'?")
    code, _, err = run_cli(["predict", str(ckpt), str(data), "--keep", "target"], capsys)
    one_line_error(code, err, "--keep target: the output already has a column 'target'")

    missing = tmp_path / "absent" / "p.csv"
    code, _, err = run_cli(["predict", str(ckpt), str(data), "--out", str(missing)], capsys)
    one_line_error(code, err, f"--out {missing}: the folder {missing.parent} does not exist")
    assert not missing.parent.exists()


# -- 1. threads: measured default, overrides, said where the user sees it ------------------------------
def test_thread_overrides_in_order(monkeypatch):
    env = {"MLP_THREADS": "3", "OMP_NUM_THREADS": "2"}
    assert threads.choose(5, env) == threads.Choice(5, "--threads")
    assert threads.choose(None, env) == threads.Choice(3, "MLP_THREADS=3")
    assert threads.choose(None, {"OMP_NUM_THREADS": "4,2"}).threads == 4  # OpenMP's nested form: the outer count
    assert threads.choose(None, {"OPENBLAS_NUM_THREADS": "2"}).source == "OPENBLAS_NUM_THREADS=2"
    with pytest.raises(ValueError, match="MLP_THREADS must be a positive integer, got '0'"):
        threads.choose(None, {"MLP_THREADS": "0"})
    assert threads.choose(None, {"OMP_NUM_THREADS": "lots"}).source == "measured"  # another tool's odd value


def test_the_measured_default_takes_more_threads_only_when_clearly_faster():
    assert threads.measure(cores=1) == threads.Choice(1, "measured", "1 usable core")
    assert threads.decide(2, large=1.7, small=1.1).threads == 2
    assert threads.decide(2, large=1.7, small=0.05).threads == 1  # a busy core: small products 20x slower
    assert threads.decide(2, large=1.1, small=1.2).threads == 1  # not worth the risk
    busy = threads.measure(cores=2, load=0.9)  # another process on one of two cores: no second thread, no probe
    assert busy == threads.Choice(1, "measured", "load average 0.9 on 2 cores leaves no core for a second thread")
    assert threads.measure(cores=4, load=2.2, budget=0.05).detail.startswith("2 threads x")  # 2 cores left free
    measured = threads.measure(cores=2, load=0.0, budget=0.05)
    assert measured.threads in (1, 2) and measured.detail.startswith("2 threads x")


def test_applied_limits_the_loaded_pools_and_sets_the_variables_for_later_ones(monkeypatch):
    from threadpoolctl import threadpool_info

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with threads.applied(threads.Choice(1, "--threads")):
        assert threads.current == threads.Choice(1, "--threads")
        assert os.environ["OMP_NUM_THREADS"] == "1" == os.environ["OPENBLAS_NUM_THREADS"]
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert threads.current is None and "OMP_NUM_THREADS" not in os.environ


def test_applied_finds_the_pools_once_and_again_after_an_import(monkeypatch):
    """threadpoolctl's look through the loaded libraries is made once and kept while no module is imported (mlp.fit
    applies the policy on every call); an import may load a library with a pool of its own, so it looks again."""
    import types

    from threadpoolctl import threadpool_info

    monkeypatch.setattr(threads, "_pools", [None, -1])
    with threads.applied(threads.Choice(1, "--threads")):
        pass
    first = threads._pools[0]
    assert first is not None
    with threads.applied(threads.Choice(1, "--threads")):
        assert threads._pools[0] is first and all(pool["num_threads"] == 1 for pool in threadpool_info())
    monkeypatch.setitem(sys.modules, "_mlp_test_new_module", types.ModuleType("_mlp_test_new_module"))
    with threads.applied(threads.Choice(1, "--threads")):
        assert threads._pools[0] is not first


def test_threads_are_said_by_info_and_by_the_training_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLP_THREADS", "1")
    code, out, _ = run_cli(["info"], capsys)
    assert code == 0 and "BLAS/OpenMP threads: 1 thread (MLP_THREADS=1)" in out
    code, out, err = run_cli(
        ["train", "--data", "xor", "--epochs", "1", "--threads", "2", "--save", str(tmp_path / "x.safetensors")], capsys
    )
    assert code == 0, err
    assert out.startswith("training ") and "BLAS 2 threads (--threads)" in out.splitlines()[0]


def test_mlp_fit_and_evaluate_run_under_the_commands_thread_policy(monkeypatch):
    """One thread policy for every face: mlp.fit and mlp.evaluate apply the process default (here
    MLP_THREADS=1) as the command and the estimators do, and leave the pools as they found them; a choice
    applied around them (the command's --threads) is kept."""
    from threadpoolctl import threadpool_info

    import mlp

    monkeypatch.setenv("MLP_THREADS", "1")
    monkeypatch.setattr(threads, "_default", [])
    model = mlp.Sequential([mlp.Linear(2, 3), mlp.ReLU(), mlp.Linear(3, 2)], dtype="float64")
    seen = []

    class Watch(mlp.Callback):
        def on_epoch_end(self, epoch, logs, state):
            seen.append((threads.current, [pool["num_threads"] for pool in threadpool_info()]))

    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    before = threads.current
    mlp.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=mlp.SGD(lr=0.1),
        epochs=1,
        batch_size=5,
        progress=False,
        callbacks=[Watch()],
    )
    assert seen == [(threads.Choice(1, "MLP_THREADS=1"), [1] * len(seen[0][1]))]
    assert threads.current is before is None
    with threads.applied(threads.Choice(2, "--threads")):
        mlp.fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(lr=0.1),
            epochs=2,
            initial_epoch=1,
            batch_size=5,
            progress=False,
            callbacks=[Watch()],
        )
    assert seen[1][0] == threads.Choice(2, "--threads")


# -- 7. smaller items -------------------------------------------------------------------------------
def test_train_help_prints_defaults_as_options_not_python_values(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    assert "--sizes 784,512,256,10" in text and "--epochs 15" in text and "--hidden 100" in text
    assert "{'" not in text and "[784" not in text and "[100]" not in text


def test_a_small_table_trains_for_enough_steps_unless_epochs_is_given(tmp_path, capsys):
    """80 rows: 64 for training, 2 steps of 32 an epoch, so 500 epochs (1000 steps) instead of 50."""
    from mlp.train.recipe import table_epochs

    assert table_epochs(64, 32, 50) == 500 and table_epochs(120, 32, 50) == 250 and table_epochs(10_000, 32, 50) == 50
    assert table_epochs(3, 32, 50) == 500  # at most 500
    data, ckpt = tmp_path / "t.csv", tmp_path / "m.safetensors"
    write_table(data)
    code, out, err = run_cli(["train", "--data", str(data), "--save", str(ckpt), "--no-early-stopping"], capsys)
    assert code == 0, err
    assert "64 samples, batch 32, 500 epochs" in out  # the plan
    assert mlp.load_checkpoint(ckpt).extra["cli"]["epochs"] == 500
    # with early stopping (the tables' default) the plan is the same; a run that stops early saves the epochs it
    # ended at as its plan, so that --resume without --epochs says it is finished instead of training on
    code, out, err = run_cli(["train", "--data", str(data), "--save", str(ckpt)], capsys)
    assert code == 0 and "64 samples, batch 32, 500 epochs" in out, err
    saved = mlp.load_checkpoint(ckpt).extra
    assert saved["cli"]["epochs"] == len(saved["history"]["loss"]) <= 500
    code, out, err = run_cli(["train", "--data", str(data), "--epochs", "7", "--quiet", "--save", str(ckpt)], capsys)
    assert code == 0 and "after 7 epochs" in out, err


def test_info_warns_when_the_default_backend_cannot_run(monkeypatch, capsys):
    """`MLP_BACKEND=cupy mlp info` on a machine without CuPy: the default is named, and a warning says it cannot run
    and why (the other backends are still listed)."""
    from mlp import backends

    if "cupy" in backends.available():
        pytest.skip("CuPy runs here: nothing to warn about")
    monkeypatch.setenv("MLP_BACKEND", "cupy")
    assert cli.main(["info"]) == 0
    out, err = capsys.readouterr()
    assert "default backend: 'cupy'" in out
    assert "warning: the default backend 'cupy' cannot run here" in out and "cupy backend:" in out
    assert "warning: the default backend 'cupy' cannot run here" in err
    monkeypatch.setenv("MLP_BACKEND", "numpy")
    assert cli.main(["info"]) == 0
    assert "warning" not in capsys.readouterr().out
