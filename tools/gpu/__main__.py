"""`python -m tools.gpu`: the GPU proof in one call, within a time budget, its report always written.

On a CUDA machine (a bare one with no network: what it lacks travels in a pack, see `python -m tools.gpu.pack`),
from the repository root:

    python -m tools.gpu.pack .whl                   # here, with network: wheels + MNIST into .whl (about 12 MiB)
    python -m tools.gpu --pack .whl --out OUT       # there, in the repository root; OUT receives the report

(`bash .ci/gpu-pack` and `bash .ci/gpu` are the same two commands, as CI calls them.)

Steps, each with its share of the budget (--budget, default 420 s) as its time limit; a step that fails is
recorded and the next one runs; a step past its limit is stopped and reported as cut:

  1. setup: a virtual environment of its own (in --work, default a temporary folder) that sees the machine's
     packages (its CUDA builds of CuPy, JAX, PyTorch) and has the pack's wheels installed over them (pip
     --no-index --no-deps); this project's wheel is checked against the working tree, and rebuilt from it when
     they differ; then the GPU, driver, CUDA and library versions, and `mlp info`.
  2. tests: `python -m pytest -m "not slow"` three times at once, with MLP_BACKEND=cupy, with MLP_BACKEND=jax
     MLP_DEVICE=gpu and with MLP_BACKEND=torch MLP_DEVICE=cuda, each in parallel workers (pytest-xdist, when
     installed; else serially), so that every parity test compares a GPU backend with NumPy.
  3. bench: the float32 matrix-product rate of CuPy, JAX and PyTorch with TF32 off and on; then
     `mlp bench --configs C --backends cupy,jax,torch --baselines pytorch` for book, mid and wide (PyTorch eager
     on CUDA is the peer; TF32 off: mlp bench turns it off for torch and CuPy, JAX_DEFAULT_MATMUL_PRECISION=highest
     for JAX).
  4. mnist: `mlp train --data mnist --epochs 3` with MLP_BACKEND=cupy, saved; the checkpoint evaluated with
     `mlp evaluate` on CuPy and with `--backend numpy` on the CPU: the same test accuracy.
  5. report: OUT/gpu.md (docs/gpu.md as it would be), OUT/report.json and OUT/logs/, rewritten after every step.

A second, narrower run (what the first found, fixed): e.g. `python -m tools.gpu --pack .whl --out OUT --budget 200
--steps setup,tests --suites jax --select "tests/core/test_parity.py"`.  On a machine lent for one bash command with
ignored folders carried beside the working tree: carry .whl, run `python -m tools.gpu --pack .whl --out "$OUT"`
with a time limit of about 540 s (the default budget is 420 s; stopping a cut step takes up to 10 s more).

`--dry-run` runs the same steps on the CPU with NumPy standing in for the three GPU backends, on a small subset
(a few parity tests, short benches, one epoch of a small network), so that the tool itself is tested; with
`--pack` it also rehearses the installation.  Without `--pack` the run uses the packages of the Python that runs
it, as they are (any CUDA machine where `pip install` works: see the README's GPU section).

Only the `mlp` command, `python -m pytest` and probes that import the array libraries by name are used, never
mlp's internals.  Exit status: 0 when every step passed, 1 otherwise (the report says which).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys

from .plan import BUDGET, CONFIGS, DRY_BUDGET, DRY_TESTS, SHARES, STEPS, SUITES
from .run import run


def _csv(choices):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return items

    return parse


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m tools.gpu",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="folder for gpu.md, report.json and logs/ (created)")
    p.add_argument(
        "--pack",
        help="the folder python -m tools.gpu.pack made (wheels/, data/): installed into a virtual environment of "
        "the run's own; without it, this Python's packages are used as they are",
    )
    p.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, NumPy standing in for the GPU")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help=f"seconds for the whole run (default {BUDGET:.0f}; dry run {DRY_BUDGET:.0f}); each step gets "
        f"its share ({', '.join(f'{k} {v * 100:.0f}%%' for k, v in SHARES.items())}) plus what earlier "
        "steps left",
    )
    p.add_argument(
        "--steps",
        type=_csv(STEPS),
        default=list(STEPS),
        help=f"comma-separated subset of {','.join(STEPS)} (default: all)",
    )
    p.add_argument("--suites", type=_csv(list(SUITES)), default=list(SUITES), help="test suites to run (default: all)")
    p.add_argument("--configs", type=_csv(CONFIGS), default=list(CONFIGS), help="bench configurations (default: all)")
    p.add_argument("--jobs", type=int, default=None, help="CPU cores to use for the tests (default: all)")
    p.add_argument("--epochs", type=int, default=None, help="MNIST training epochs (default 3; dry run: 1)")
    p.add_argument("--bench-epochs", type=int, default=3, help="timed epochs per bench contender (default 3)")
    p.add_argument(
        "--data-dir",
        help="data root holding mnist/ (default: the pack's data/, else $MLP_DATA_DIR, else ../shared/data)",
    )
    p.add_argument(
        "--select",
        default=None,
        metavar="PYTEST_ARGS",
        help="pytest arguments choosing the tests, e.g. for a second run of what failed: "
        "'tests/core/test_parity.py -k cupy' (default: the whole suite, slow tests left out; dry run: "
        f"{shlex.join(DRY_TESTS)})",
    )
    p.add_argument("--work", help="folder for the environment and the checkpoint (default: a temporary one, removed)")
    p.add_argument("--keep-work", action="store_true", help="keep the temporary work folder")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
