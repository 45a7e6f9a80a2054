"""The GPU proof (`python -m tools.gpu --dry-run`, which CI calls as `bash .ci/gpu`) rehearsed on the CPU, NumPy
standing in for the GPU backends.

The dry run does not depend on MLP_BACKEND (it sets the backend of every step itself), so it runs once, where
MLP_BACKEND is unset or numpy, and it is marked slow (it trains on MNIST).  Each run is a subprocess with a time
limit, and the tool's own budget is smaller still: a broken tool fails these tests instead of hanging them.
The report's reading of pytest's and mlp bench's output is tested directly, in milliseconds.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "gpu"


def dry_run(test):
    test = pytest.mark.slow(test)
    return pytest.mark.skipif(
        os.environ.get("MLP_BACKEND", "numpy") != "numpy",
        reason="the dry run sets its own backends: it runs once, with MLP_BACKEND unset or numpy",
    )(test)


def tool_module(name):
    """tools/gpu/``name``.py loaded by its path (readback and report import nothing of the package: tools/ is not
    on the tests' path)."""
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", TOOL / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(*args, timeout, wrapper=False):
    """``python -m tools.gpu ARGS`` from the repository root, or with ``wrapper`` CI's ``bash .ci/gpu ARGS``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHON"] = sys.executable  # the wrapper runs the tool with this Python, whose packages are the tests'
    command = ["bash", str(ROOT / ".ci" / "gpu")] if wrapper else [sys.executable, "-m", "tools.gpu"]
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def rows(page, first_cell):
    """The cells of the Markdown table rows of ``page`` whose first cell is ``first_cell``."""
    out = []
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            out.append(cells)
    return out


@dry_run
def test_dry_run_writes_the_report_of_every_step(shared_data, tmp_path):
    out = tmp_path / "out"
    r = run_tool("--dry-run", "--out", out, "--data-dir", shared_data, "--budget", 240, timeout=300, wrapper=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    page = (out / "gpu.md").read_text()
    record = json.loads((out / "report.json").read_text())
    assert [s["status"] for s in record["steps"]] == ["pass"] * 4, record["steps"]
    assert "Dry run" in page
    # per backend: passed, failed, errors, skipped counts of its suite
    for label in ("cupy", "jax", "torch"):
        (cells,) = rows(page, label)
        assert cells[1] == "`MLP_BACKEND=numpy`"
        passed, failed, errors = (int(c) for c in cells[2:5])
        assert passed > 0 and failed == 0 and errors == 0, cells
        assert cells[-1] == "passed"
    # one bench table per configuration, each with mlp's row and a number in its seconds column
    mlp_rows = rows(page, "mlp numpy")
    assert len(mlp_rows) == 3 and all(re.fullmatch(r"\d+\.\d{4}", cells[1]) for cells in mlp_rows), mlp_rows
    for config in ("book", "mid", "wide"):
        assert f"### {config}: " in page
    # the checkpoint: trained, evaluated twice, the same accuracy
    m = re.search(r"\*\*Checkpoint result: the same test accuracy, (0\.\d{4}), evaluated with numpy", page)
    assert m and float(m.group(1)) > 0.8, page[-2500:]
    assert {e["accuracy"] for e in (record["mnist"][k] for k in ("train", "eval_gpu", "eval_cpu"))} == {
        float(m.group(1))
    }
    # the page is meant to be committed: no path of this machine in it; the raw logs beside it
    assert str(tmp_path) not in page and str(ROOT) not in page
    assert len(list((out / "logs").glob("*.log"))) >= 10


@dry_run
def test_a_failing_test_and_a_step_past_its_time_are_reported(tmp_path):
    tests = tmp_path / "test_sample.py"
    tests.write_text(
        "import time\n\n"
        "def test_passes():\n    assert True\n\n"
        "def test_fails():\n    assert 1 == 2, 'the first line of the failure'\n\n"
        "def test_hangs():\n    time.sleep(600)\n"
    )
    out = tmp_path / "out"
    r = run_tool(
        "--dry-run",
        "--out",
        out,
        "--steps",
        "tests",
        "--suites",
        "cupy",
        "--budget",
        30,
        "--select",
        f"{tests} -p no:randomly",
        timeout=120,
    )
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    page = (out / "gpu.md").read_text()
    record = json.loads((out / "report.json").read_text())
    steps = {s["name"]: s for s in record["steps"]}
    assert steps["tests"]["status"] == "cut" and steps["tests"]["seconds"] < 40
    assert {steps[n]["status"] for n in ("setup", "bench", "mnist")} == {"skipped"}
    (cells,) = rows(page, "cupy")
    assert cells[2:4] == ["1", "1"] and cells[-1].startswith("CUT"), cells
    assert "the first line of the failure" in page and "test_sample.py::test_fails" in page


def test_pytest_output_is_read_back_even_when_cut(tmp_path):
    readback = tool_module("readback")
    log = (
        "....F..s\n"
        "=========================== short test summary info ============================\n"
        "FAILED tests/core/test_parity.py::test_parity_sgd_momentum[cupy-float32-ReLU-Quadratic-fast]\n"
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!! KeyboardInterrupt !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        "1 failed, 6 passed, 1 skipped, 3 deselected in 12.50s\n"
    )
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite><testcase classname="tests.test_parity" '
        'name="test_parity_sgd_momentum[cupy-float32-ReLU-Quadratic-fast]">'
        '<failure message="AssertionError: dW0: 3e-3 over rtol 1e-4&#10;assert False"/></testcase>'
        '<testcase classname="tests.test_parity" name="test_ok"/></testsuite></testsuites>'
    )
    got = readback.parse_pytest(log, junit)
    assert got["counts"] == {"failed": 1, "passed": 6, "skipped": 1, "deselected": 3}
    assert got["interrupted"] and got["seconds"] == 12.5 and got["source"] == "summary"
    # the summary line cut to the terminal's width gets its message back from the XML, first line only
    assert got["failures"] == [
        "FAILED tests/core/test_parity.py::test_parity_sgd_momentum[cupy-float32-ReLU-Quadratic-"
        "fast] - AssertionError: dW0: 3e-3 over rtol 1e-4"
    ]
    # killed before any summary: the XML's counts, else the progress characters
    assert readback.parse_pytest("....F..s\n", junit)["counts"] == {"passed": 1, "failed": 1}
    assert readback.parse_pytest("....F..s [ 40%]\n")["counts"] == {"passed": 6, "failed": 1, "skipped": 1}


def test_bench_rows_compare_with_pytorch_eager_on_the_same_kind_of_device():
    report = tool_module("report")
    rows = [
        {
            "name": "mlp cupy (cuda:0)",
            "backend": "cupy",
            "kind": "mlp",
            "device": "cuda:0",
            "min": 0.5,
            "median": 0.6,
            "samples_per_s": 100000.0,
            "gflops": 900.0,
            "pct_matmul": None,
        },
        {
            "name": "PyTorch eager",
            "backend": "torch",
            "kind": "pytorch",
            "device": "cpu",
            "min": 4.0,
            "median": 4.0,
            "samples_per_s": 12500.0,
            "gflops": 110.0,
            "pct_matmul": 50.0,
        },
        {
            "name": "PyTorch eager (cuda)",
            "backend": "torch",
            "kind": "pytorch",
            "device": "cuda",
            "min": 1.0,
            "median": 1.1,
            "samples_per_s": 50000.0,
            "gflops": 450.0,
            "pct_matmul": 2.0,
        },
    ]
    probes = [{"lib": "cupy", "device": "cuda:0", "off": {"2048": 30000.0}, "on": {"2048": 90000.0}}]
    table = report.bench_table({"rows": rows}, probes, 2048)
    cupy = [c.strip() for c in table[2].strip("|").split("|")]
    assert cupy == ["mlp cupy (cuda:0)", "0.5000", "0.6000", "100,000", "900.0", "3.0 †", "2.00x"]
    assert table[3].rstrip(" |").endswith("1.00x") and table[4].rstrip(" |").endswith("1.00x")
