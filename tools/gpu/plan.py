"""What the GPU proof runs and within what time: its steps, their shares of the budget, the suites and the tests
a bare GPU machine may lack what they need for."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STEPS = ("setup", "tests", "bench", "mnist")
TITLES = {"setup": "setup and versions", "tests": "test suites", "bench": "benchmark", "mnist": "MNIST checkpoint"}
#: each step's share of the budget (the rest is the margin for the report); unused time passes on to later steps
SHARES = {"setup": 0.08, "tests": 0.50, "bench": 0.27, "mnist": 0.12}
#: a step with less than this left is not started (reported as cut)
MIN_START = {"setup": 8, "tests": 15, "bench": 15, "mnist": 12}
BUDGET, DRY_BUDGET = 420.0, 300.0
#: (label, environment of the suite) on a GPU
SUITES = {
    "cupy": {"MLP_BACKEND": "cupy"},
    "jax": {"MLP_BACKEND": "jax", "MLP_DEVICE": "gpu"},
    "torch": {"MLP_BACKEND": "torch", "MLP_DEVICE": "cuda"},
}
DRY_TESTS = ["tests/core/test_parity.py", "-k", "numpy and float32 and not Leaky"]
#: tests that need what a bare GPU machine may lack: deselected (and listed) when it is absent
NEEDS = [
    (
        "tests/cli/test_cli.py::test_train_save_evaluate_on_another_backend",
        "matplotlib",
        "`mlp train --plot` needs matplotlib, not installed here (carry it: python -m tools.gpu.pack --plot)",
    ),
    (
        "tests/io/test_datasets.py::test_downloads_fashion_mnist_from_its_own_folder",
        "fashion-mnist",
        "needs the Fashion-MNIST files, not in the data folder (carry them: python -m tools.gpu.pack --fashion)",
    ),
    (
        "tests/io/test_datasets.py::test_reads_from_MLP_DATA_DIR_without_network",
        "fashion-mnist",
        "needs the Fashion-MNIST files, not in the data folder (carry them: python -m tools.gpu.pack --fashion)",
    ),
]
CONFIGS = ("book", "mid", "wide")
SAME_WITHIN = 2  # test samples that may flip between GPU and CPU float32 and still count as the same result
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
#: the outcomes of a step or a command, mildest first
ORDER = ["pass", "skipped", "cut", "fail", "error", "interrupted"]


def worst(statuses, start="pass"):
    """The worst of ``statuses`` (and ``start``) in ``ORDER``."""
    out = start
    for s in statuses:
        out = out if ORDER.index(out) >= ORDER.index(s) else s
    return out


def has_mnist(root, dataset="mnist"):
    """``root``/``dataset`` holds the four IDX files."""
    return bool(root) and all((Path(root) / dataset / f).is_file() for f in MNIST_FILES)
