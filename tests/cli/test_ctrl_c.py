"""Ctrl-C at any moment of `mlp`: one line, status 130, and a run stopped mid-epoch saves a checkpoint that resumes
exactly. SIGTERM, SIGHUP and closed pipes are in tests/cli/test_stops.py."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlp
from tests_helpers import interrupt_after, run_cli

REPO = Path(__file__).resolve().parents[2]


def test_cli_ctrl_c_mid_epoch_saves_and_resumes_exactly(tmp_path, monkeypatch, capsys):
    """`mlp train` stopped by SIGINT in the middle of epoch 2: status 130, one line naming the checkpoint,
    a checkpoint with epoch 1 and step 7; `mlp train --resume` then ends where an unbroken run ends."""
    import mlp.train.runner as training

    monkeypatch.setattr(training, "CHECK_EVERY", 1)
    common = ["train", "--data", "spirals", "--quiet", "--dtype", "float64", "--batch-size", "100"]  # 16 steps/epoch
    whole, stopped = tmp_path / "whole.safetensors", tmp_path / "stopped.safetensors"
    assert run_cli([*common, "--epochs", "3", "--save", str(whole)], capsys)[0] == 0

    import mlp.train.runner as training

    real_run = training.StepRunner.run
    interrupt_after(monkeypatch, 16 + 7)  # epoch 1 (16 steps), then 7 steps of epoch 2
    code, _, err = run_cli([*common, "--epochs", "3", "--save", str(stopped)], capsys)
    monkeypatch.setattr(training.StepRunner, "run", real_run)
    assert code == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0] == (
        f"mlp: interrupted at epoch 2, step 7; checkpoint saved to {stopped} "
        f"(continue with: mlp train --resume {stopped})"
    )
    extra = mlp.load_checkpoint(stopped).extra
    assert (extra["epoch"], extra["step"]) == (1, 7) and len(extra["history"]["epoch"]) == 1

    code, _, err = run_cli(["train", "--resume", str(stopped), "--epochs", "2", "--quiet"], capsys)
    assert code == 0, err
    a, b = mlp.load_checkpoint(whole), mlp.load_checkpoint(stopped)
    assert b.extra["epoch"] == 3 and "step" not in b.extra and b.extra["history"]["epoch"] == [0, 1, 2]
    assert b.optimizer.t == a.optimizer.t == 48
    for k, v in a.model.state_dict().items():
        np.testing.assert_allclose(b.model.state_dict()[k], v, rtol=1e-12, atol=1e-14, err_msg=k)


# -- while the command starts and after it finished ------------------------------------------------


@pytest.mark.backend_independent  # mlp info, MLP_* cleared
@pytest.mark.parametrize("delay", [0.01, 0.1, 0.3, 0.6])
def test_ctrl_c_while_the_command_starts(delay):
    """SIGINT while ``mlp`` imports the package (0.2 to 0.9 s here) or runs ``info``.

    The child says when the interpreter itself has started (a Ctrl-C inside Python's own start-up, before any
    code of ours, is Python's), then the signal comes ``delay`` seconds later."""
    import time

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    code = "import sys, mlp_entry; print('ready', flush=True); sys.exit(mlp_entry.main(['info']))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert "Traceback" not in text and "Exception ignored" not in text, text
    if proc.returncode == 0:  # it finished before the signal: nothing to show
        return
    assert proc.returncode == 130 and text.strip().splitlines()[-1:] == ["mlp: interrupted"], (proc.returncode, text)


@pytest.mark.backend_independent  # mlp info's run replaced
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_the_interpreter_turns_into_another_error_is_still_the_interrupt(signum, monkeypatch, capsys):
    """CPython can turn a KeyboardInterrupt raised while it builds an ImportError into ``TypeError: expected a
    message argument`` (seen in CI at 0.6 s above): the command reports the interrupt, not that error; an error
    with no signal before it is still an error."""
    from mlp.cli import info, main

    if signal.getsignal(signum) is not (signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL):
        # a background job of a shell starts with SIGINT ignored (nohup: SIGHUP), and the command keeps it so
        pytest.skip(f"{signal.Signals(signum).name} is not at its default in this process: the command leaves it")

    def interrupted_then_replaced(args):
        try:
            os.kill(os.getpid(), signum)
            signal.pause()  # pragma: no cover - the handler raises first
        except KeyboardInterrupt:
            raise TypeError("expected a message argument") from None

    monkeypatch.setattr(info, "run", interrupted_then_replaced)
    before = signal.getsignal(signal.SIGINT)
    assert main(["info"]) == 128 + signum
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mlp: interrupted" if signum == signal.SIGINT else "mlp: interrupted by SIGTERM"], err
    assert signal.getsignal(signal.SIGINT) is before  # the command's handlers are gone again

    def plain_error(args):
        raise TypeError("expected a message argument")

    monkeypatch.setattr(info, "run", plain_error)
    assert main(["info"]) == 2
    assert capsys.readouterr().err.strip() == "mlp: error: expected a message argument"


@pytest.mark.backend_independent  # mlp info, MLP_* cleared
def test_ctrl_c_after_the_command_finished_is_quiet():
    """The late handler: a SIGINT sent once the command has returned (during the interpreter's shutdown)."""
    code = (
        "import os, signal, sys, threading, mlp_entry\n"
        "t = threading.Thread(target=lambda: None); t.start()\n"
        "rc = mlp_entry.main(['info'])\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "import time; time.sleep(5)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, timeout=120)
    text = proc.stderr.decode()
    assert proc.returncode == 130 and text.strip().splitlines() == ["mlp: interrupted"], (proc.returncode, text)
