"""Options at their edges: refused before any work, naming the option, rather than ignored or killed."""

from __future__ import annotations

import numpy as np
import pytest

import mlp
from tests_helpers import run_cli


def test_a_model_too_large_for_memory_is_refused_before_it_is_built(tmp_path, capsys, monkeypatch):
    from mlp.io.tables import sources

    monkeypatch.setattr(sources, "available_memory", lambda: 64 * 2**20)  # 64 MiB free
    save = tmp_path / "m.safetensors"
    code, _, err = run_cli(
        ["train", "--data", "xor", "--hidden", "3000000", "--epochs", "1", "--backend", "numpy", "--save", str(save)],
        capsys,
    )
    # 2*3e6+3e6 + 3e6*2+2 = 15,000,002 parameters: 4 bytes, 4 copies (sgd), and a batch of 4's activations
    assert (
        code == 2
        and "--hidden: a model of widths 2,3000000,2 has 15,000,002 parameters; training it (sgd, "
        "float32) needs about 0.4 GiB, and 0.1 GiB of memory is available"
        in err
    ), err
    assert not save.exists()
    code, _, err = run_cli(
        [
            "train",
            "--data",
            "xor",
            "--hidden",
            "300",
            "--epochs",
            "1",
            "--backend",
            "numpy",
            "--quiet",
            "--save",
            str(save),
        ],
        capsys,
    )
    assert code == 0, err  # a model that fits trains as before


def test_momentum_for_an_optimizer_without_it_is_refused(tmp_path, capsys):
    code, _, err = run_cli(
        [
            "train",
            "--data",
            "xor",
            "--optimizer",
            "adam",
            "--momentum",
            "0.5",
            "--epochs",
            "1",
            "--save",
            str(tmp_path / "m.safetensors"),
        ],
        capsys,
    )
    assert code == 2 and "--momentum applies to --optimizer sgd; adam has no momentum to set" in err, err
    code, _, err = run_cli(
        [
            "train",
            "--data",
            "xor",
            "--optimizer",
            "sgd",
            "--momentum",
            "0.5",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            str(tmp_path / "m.safetensors"),
        ],
        capsys,
    )
    assert code == 0, err


def test_wide_layers_are_measured_in_smaller_batches_with_the_same_result(monkeypatch):
    from mlp.train import metrics

    model = mlp.build_mlp([5, 64, 3], seed=0, dtype="float64")
    X = np.random.default_rng(0).normal(size=(100, 5))
    y = np.arange(100) % 3
    whole = mlp.evaluate(model, X, y, loss="cross_entropy")
    seen = []
    original = model.forward_function

    def counting():
        forward = original()

        def run(params, X, mode):
            seen.append(X.shape[0])
            return forward(params, X, mode)

        return run

    monkeypatch.setattr(model, "forward_function", counting)
    monkeypatch.setattr(metrics, "BATCH_BYTES", 64 * 8 * 7)  # room for 7 rows of the widest layer
    split = mlp.evaluate(model, X, y, loss="cross_entropy")
    assert max(seen) == 7 and sum(seen) == 100
    assert split["accuracy"] == whole["accuracy"] and split["loss"] == pytest.approx(whole["loss"], rel=1e-12)
