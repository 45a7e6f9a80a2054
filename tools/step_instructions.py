"""Instructions per training epoch: ``mlp.fit`` against the hand-written NumPy loop, counted by callgrind.

    python tools/step_instructions.py [--config book] [--samples 2000] [--hash-seeds 1,2,3]

Timings on a shared 2-core machine move with its load; instruction counts do not.  Each contender runs
under ``valgrind --tool=callgrind`` twice, for 1 and for 3 epochs of ``--samples`` random rows of MNIST's
shape (the ``mlp bench`` problem, NumPy, one BLAS thread); half the difference is one epoch, without the
start-up, imports and set-up.  ``mlp.fit`` reads the losses back every 200 steps or 0.2 s, whichever comes first;
under valgrind a step is some 50 times slower, so the child fixes that at 200 steps, as at full speed, or the count
would follow the machine's load.  Each count is made under fixed ``PYTHONHASHSEED``s (``--hash-seeds``, the median
is shown): the interpreter's string hashes change dict layouts and the heap, which moved the hand-written loop's
count by about 1 % from one random seed to the next (the engine's by 0.05 %).  Needs valgrind.  ``--child`` is the
process callgrind runs.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(who: str, config: str, epochs: int, samples: int):
    from mlp import backends
    from mlp.bench.configs import Problem, initial_weights, load_data
    from mlp.train import runner

    runner.CHECK_SECONDS = 1e9  # a host read every CHECK_EVERY steps, whatever valgrind's speed
    from mlp.bench.contenders import MLPFit
    from mlp.bench.reference.numpy_loops import HandWritten

    X, y, _ = load_data("random", samples)
    problem = Problem.make(config, X, y)
    if who == "mlp":
        contender = MLPFit(problem, backends.get_backend("numpy"), fast=True)
    else:
        contender = HandWritten(problem, initial_weights(problem))
    for epoch in range(epochs):
        contender.epoch(epoch, samples)


def count(who: str, config: str, epochs: int, samples: int, folder: str, hash_seed: int) -> int:
    out = os.path.join(folder, f"{who}.{epochs}.{hash_seed}.out")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MLP_THREADS="1",
        PYTHONHASHSEED=str(hash_seed),
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    r = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            who,
            "--config",
            config,
            "--epochs",
            str(epochs),
            "--samples",
            str(samples),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    found = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode or not found:
        raise SystemExit(f"callgrind failed ({r.returncode}): {r.stderr[-2000:]}")
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="book", help="an mlp bench configuration: book, mid, wide")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--child", choices=("mlp", "hand"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--hash-seeds", default="1,2,3", help="PYTHONHASHSEED values to count under (the median)")
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.config, args.epochs, args.samples)
    seeds = [int(v) for v in args.hash_seeds.split(",")]
    per_epoch = {}
    with tempfile.TemporaryDirectory() as folder:
        for who in ("mlp", "hand"):
            per_epoch[who] = []
            for seed in seeds:
                one, three = (count(who, args.config, e, args.samples, folder, seed) for e in (1, 3))
                per_epoch[who].append((three - one) / 2)
    mlp, hand = statistics.median(per_epoch["mlp"]), statistics.median(per_epoch["hand"])
    spread = "; ".join(f"{who} {min(v) / 1e6:.1f} to {max(v) / 1e6:.1f}" for who, v in per_epoch.items())
    spread = f" ({spread} over hash seeds {args.hash_seeds})" if len(seeds) > 1 else ""
    print(
        f"{args.config}, {args.samples} rows an epoch: mlp.fit {mlp / 1e6:.1f} M instructions, hand-written loop "
        f"{hand / 1e6:.1f} M: {mlp / hand:.3f}x{spread}"
    )


if __name__ == "__main__":
    main()
