"""``mlp bench``: seconds per training epoch, every contender side by side in one run.

For each configuration (``book``, ``mid``, ``wide``) the same network, with the
same initial weights, is trained by:

* ``mlp <backend>``: ``mlp.fit`` on every backend usable here (its
  ``seconds`` are the device-synchronised wall time of an epoch's training steps);
* ``mlp numpy (reference kernels)``: the NumPy backend with its fast paths off,
  so that what the fast paths buy is visible;
* ``PyTorch eager``: the loop a PyTorch user writes (``nn.Sequential``, forward,
  loss, ``backward``, ``optimizer.step``, ``zero_grad``), with the weights copied
  from the mlp model and plain SGD;
* ``numpy hand-written``: a minimal mini-batch loop written straight in NumPy;
* ``JAX jit (hand-written)``: the epoch a JAX user writes, ``jax.grad`` and plain
  SGD with the full mini-batches in one jitted ``lax.scan``;
* ``scikit-learn MLPClassifier``: scikit-learn's own trainer, one ``partial_fit``
  per epoch (softmax and cross-entropy at the output, always);
* ``per-example (book)``: the book's ``network.py`` algorithm, backprop one
  example at a time and the gradients summed over the mini-batch, on NumPy.

The reference loops live in ``mlp/bench/reference/`` (they are other libraries'
code, and the benchmark's, not the engine's), and so does the benchmark's TF32 policy
(:func:`mlp.bench.machine.prepare_gpus`): ``backends/`` knows array libraries for the engine only.

Contenders run interleaved, one epoch of each in turn (``--warmup`` untimed
rounds, then ``--epochs`` timed ones), so that a change in the machine's load
hits them all alike.  Slow contenders (per-example, array-api-strict) are timed
on whole mini-batches worth about ``--budget`` seconds and extrapolated to the
epoch; their rows are marked ``*``.

Columns: min and median seconds per epoch; samples/s and achieved GFLOP/s
(``6 x samples x sum(n_in * n_out)`` an epoch: forward, input gradient and
weight gradient of every layer) from the min; that rate as a percentage of a
square matmul timed with the same library on the same device in the same run;
and speed-ups ``t_other / t_row`` (above 1: this row is faster) over PyTorch
eager on the same device and over the per-example loop.
"""

from __future__ import annotations

import argparse
import sys

from mlp.bench.configs import (
    BASELINES,
    CONFIGS,
    DEFAULTS,
    EPOCH_SAMPLES,
    HANDWRITTEN,
    JAX_SCAN,
    PER_EXAMPLE,
    PYTORCH,
    QUICK,
    REFERENCE,
    SKLEARN,
    Problem,
    build_model,
    initial_weights,
    load_data,
)
from mlp.bench.contenders import Contender, MLPFit, make_contenders, torch_eager
from mlp.bench.harness import Row, bench_config, run
from mlp.bench.machine import machine_info, matmul_rate
from mlp.bench.options import add_arguments
from mlp.bench.report import COLUMNS, format_table, summarise

__all__ = [
    "BASELINES",
    "COLUMNS",
    "CONFIGS",
    "DEFAULTS",
    "EPOCH_SAMPLES",
    "HANDWRITTEN",
    "JAX_SCAN",
    "PER_EXAMPLE",
    "PYTORCH",
    "QUICK",
    "REFERENCE",
    "SKLEARN",
    "Contender",
    "MLPFit",
    "Problem",
    "Row",
    "add_parser",
    "bench_config",
    "build_model",
    "format_table",
    "initial_weights",
    "load_data",
    "machine_info",
    "main",
    "make_contenders",
    "matmul_rate",
    "run",
    "summarise",
    "torch_eager",
]


def add_parser(subparsers):
    """Register ``bench`` on an argparse ``subparsers`` object, with ``func=run``."""
    p = subparsers.add_parser(
        "bench",
        help="time training epochs: mlp on each backend beside PyTorch and plain NumPy loops",
        description=__doc__.replace("``", "'"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    p.set_defaults(func=run)
    return p


def main(argv=None) -> int:
    """``python -m mlp.bench [options]``."""
    parser = add_arguments(argparse.ArgumentParser(prog="python -m mlp.bench", description=__doc__.split("\n\n")[0]))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args._command = " ".join(["python -m mlp.bench", *argv])
    return run(args)
