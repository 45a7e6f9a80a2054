"""``mlp bench``: the table and the JSON (no timing assertions: speed is shown, not tested).

Also checks that every contender trains the same network: from the same initial
weights, one epoch of mlp (numpy, and jax's compiled loop), the hand-written loop, the
book's per-example loop, the hand-written JAX scan and PyTorch eager end with the same weights.
"""

import argparse
import json

import numpy as np
import pytest

import mlp
from mlp import bench
from mlp.bench.reference import jax_scan, numpy_loops, sklearn_mlp

#: every command here names its backends (--backends numpy, each contender's own): MLP_BACKEND changes nothing
pytestmark = pytest.mark.backend_independent

QUICK = ["--quick", "--backends", "numpy"]


def _run(capsys, *args):
    assert bench.main(list(args)) == 0
    return capsys.readouterr().out


def _table_rows(out, config):
    """Names of the rows in the table printed for ``config``."""
    lines = out.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith(f"{config}: "))
    header = lines[start + 1]
    assert header.split() == " ".join(bench.COLUMNS).split()
    rows = []
    for line in lines[start + 3 :]:
        if not line.strip() or line.startswith("*"):
            break
        rows.append(line.split("  ")[0].rstrip(" *"))
    return rows


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert (
            bench.main(
                QUICK
                + ["--configs", "book,mid", "--baselines", "reference,handwritten,per-example", "--json", str(path)]
            )
            == 0
        )
    return buf.getvalue(), json.loads(path.read_text())


def test_table_has_every_contender_and_column(quick_report):
    out, _ = quick_report
    assert "machine:" in out and "matmul (256 x 256, float32)" in out and "random data of MNIST's shape" in out
    for config in ("book", "mid"):
        assert _table_rows(out, config) == ["mlp numpy", bench.REFERENCE, bench.HANDWRITTEN, bench.PER_EXAMPLE]
    assert "wide:" not in out
    assert "* per-example (book): timed on" in out  # the extrapolated row is marked and explained


def test_json_numbers_are_consistent(quick_report):
    _, report = quick_report
    assert report["dtype"] == "float32" and report["samples_per_epoch"] == bench.QUICK["samples"]
    rate = report["matmul"]["gflops"]["cpu"]
    assert rate > 0 and report["matmul"]["cpu_after"] > 0
    assert set(report["configs"]) == {"book", "mid"}
    for name, cfg in report["configs"].items():
        samples = report["samples_per_epoch"]
        # pairwise zip(x, x[1:]) over consecutive layer sizes: one pair fewer than sizes, by design
        assert cfg["flops_per_epoch"] == 6 * samples * sum(
            a * b for a, b in zip(cfg["sizes"], cfg["sizes"][1:], strict=False)
        )
        rows = {r["name"]: r for r in cfg["rows"]}
        for r in cfg["rows"]:
            assert len(r["seconds"]) == report["epochs"] and all(s > 0 for s in r["seconds"])
            assert r["min"] == min(r["seconds"]) and r["min"] <= r["median"] <= max(r["seconds"])
            assert r["samples_per_s"] == pytest.approx(samples / r["min"])
            assert r["gflops"] == pytest.approx(cfg["flops_per_epoch"] / r["min"] / 1e9)
            assert r["pct_matmul"] == pytest.approx(100 * r["gflops"] / rate)
            assert r["vs_pytorch"] is None  # no PyTorch row asked for
            assert r["vs_per_example"] == pytest.approx(rows[bench.PER_EXAMPLE]["min"] / r["min"])
            assert 0 < r["timed_samples"] <= samples
            assert r["extrapolated"] == (r["timed_samples"] < samples)
        assert rows[bench.PER_EXAMPLE]["vs_per_example"] == pytest.approx(1.0)
        assert rows["mlp numpy"]["timed_samples"] == samples and not rows["mlp numpy"]["extrapolated"]
        pe = rows[bench.PER_EXAMPLE]
        assert pe["timed_samples"] % cfg["batch"] == 0 or pe["timed_samples"] == samples


def test_pytorch_row_and_ratios(capsys, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "b.json"
    out = _run(capsys, *QUICK, "--configs", "book", "--samples", "100", "--baselines", "pytorch", "--json", str(path))
    assert _table_rows(out, "book") == ["mlp numpy", bench.PYTORCH]
    assert "torch 2" in out or "torch " in out
    rows = {r["name"]: r for r in json.loads(path.read_text())["configs"]["book"]["rows"]}
    assert rows[bench.PYTORCH]["vs_pytorch"] == pytest.approx(1.0)
    assert rows["mlp numpy"]["vs_pytorch"] == pytest.approx(rows[bench.PYTORCH]["min"] / rows["mlp numpy"]["min"])


def test_slow_backend_is_extrapolated(capsys, tmp_path):
    pytest.importorskip("array_api_strict")
    path = tmp_path / "b.json"
    _run(
        capsys,
        "--quick",
        "--backends",
        "array_api_strict",
        "--configs",
        "book",
        "--baselines",
        "none",
        "--samples",
        "200",
        "--budget",
        "1e-6",
        "--json",
        str(path),
    )
    (row,) = json.loads(path.read_text())["configs"]["book"]["rows"]
    assert row["name"] == "mlp array_api_strict" and row["extrapolated"] and row["timed_samples"] == 10


def test_unusable_backend_is_skipped_with_a_note(capsys):
    from mlp import backends

    if "cupy" in backends.available():
        pytest.skip("cupy is usable here")
    out = _run(
        capsys, "--quick", "--backends", "numpy,cupy", "--configs", "book", "--baselines", "none", "--samples", "50"
    )
    assert "note: mlp cupy skipped:" in out
    assert _table_rows(out, "book") == ["mlp numpy"]


def test_cli_wires_bench(capsys):
    from mlp import cli

    assert (
        cli.main(
            ["bench", "--quick", "--backends", "numpy", "--configs", "book", "--baselines", "none", "--samples", "50"]
        )
        == 0
    )
    assert "mlp numpy" in capsys.readouterr().out


def test_add_parser_sets_run():
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "--configs", "wide,book", "--dtype", "float64"])
    assert args.func is bench.run and args.configs == ["wide", "book"] and args.dtype == "float64"


@pytest.mark.parametrize(
    "argv",
    [["--configs", "huge"], ["--backends", "numpy,tensorflow"], ["--baselines", "torch"], ["--dtype", "float16"]],
)
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert "error" in capsys.readouterr().err


def test_bad_numbers_are_refused():
    with pytest.raises(ValueError, match="--epochs"):
        bench.main(["--quick", "--epochs", "0"])


def test_random_data_when_mnist_is_absent(tmp_path):
    X, y, source = bench.load_data("auto", 30, data_dir=tmp_path)
    assert X.shape == (30, 784) and X.dtype == np.float32 and y.shape == (30,) and "random" in source
    with pytest.raises(mlp.MLPError):
        bench.load_data("mnist", 30, data_dir=tmp_path)


def test_mnist_when_present(shared_data):
    X, y, source = bench.load_data("auto", 1000, data_dir=shared_data / "mnist")
    assert X.shape == (1000, 784) and source.startswith("MNIST") and 0 <= X.min() and X.max() <= 1


@pytest.mark.parametrize("config", ["book", "mid"])
def test_every_contender_trains_the_same_network(config):
    """One epoch from the same weights on the same batches: the same weights at the end, whoever trains."""
    rng = np.random.default_rng(0)
    X, y = rng.random((60, 784), dtype=np.float32), rng.integers(0, 10, 60)
    problem = bench.Problem.make(config, X, y, dtype="float64")
    weights = bench.initial_weights(problem)
    fit = bench.MLPFit(problem, "numpy")
    hand = numpy_loops.HandWritten(problem, weights)
    book = numpy_loops.PerExample(problem, weights)
    contenders = [fit, hand, book]
    jax = jax_scan.load()
    if jax is not None:
        contenders.append(jax_scan.ScanLoop(problem, weights, jax))
        contenders.append(bench.MLPFit(problem, "jax"))
    torch = None
    try:
        import torch
    except ImportError:
        pass
    sk = sklearn_mlp.load() if config == "mid" else None  # scikit-learn: softmax + cross-entropy outputs only
    if sk is not None:
        skl = sklearn_mlp.PartialFitLoop(problem, weights, sk)
        contenders.append(skl)
    if torch is not None:
        contenders.append(bench.torch_eager(problem, weights, torch))
    for c in contenders:
        assert c.epoch(0, 60) > 0
    state = fit.model.state_dict()
    want = [(state[f"W{i}"], state[f"b{i}"]) for i in range(len(weights))]
    got = {
        "hand-written": list(zip(hand.Ws, hand.bs, strict=True)),
        "per-example": [(w.T, b[:, 0]) for w, b in zip(book.weights, book.biases, strict=True)],
    }
    if jax is not None:
        got["jax scan"] = [(np.asarray(W), np.asarray(b)) for W, b in contenders[3].params]
        jstate = contenders[4].model.state_dict()
        got["mlp jax"] = [(jstate[f"W{i}"], jstate[f"b{i}"]) for i in range(len(weights))]
    if sk is not None:
        got["scikit-learn"] = list(zip(skl.clf.coefs_, skl.clf.intercepts_, strict=True))
    if torch is not None:
        lins = [m for m in contenders[-1].net if isinstance(m, torch.nn.Linear)]
        got["pytorch"] = [(l.weight.detach().numpy().T, l.bias.detach().numpy()) for l in lins]
    for who, params in got.items():
        for (W, b), (W0, b0) in zip(params, want, strict=True):
            np.testing.assert_allclose(W, W0, rtol=1e-9, atol=1e-12, err_msg=who)
            np.testing.assert_allclose(b, b0, rtol=1e-9, atol=1e-12, err_msg=who)
    assert any(not np.allclose(W, w0) for (W, _), (w0, _) in zip(want, weights, strict=True)), "nothing was trained"
