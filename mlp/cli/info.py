"""``mlp info``: the backends usable here, their devices and versions, and why the others are not."""

from __future__ import annotations

import os
import sys


def add_parser(subparsers, common):
    i = subparsers.add_parser(
        "info", help="backends usable here, their devices and versions, and why the others are not"
    )
    i.set_defaults(func=run)
    return i


def run(args) -> int:
    import numpy

    import mlp
    from mlp import backends

    from .distributed import info_lines

    default = backends.default_name()  # the reading every command uses: a malformed MLP_BACKEND is refused here too
    print(f"mlp {mlp.__version__}, Python {sys.version.split()[0]}, NumPy {numpy.__version__}")
    print(
        f"default backend: {default!r} (MLP_BACKEND={os.environ.get('MLP_BACKEND')!r}, "
        f"MLP_DEVICE={os.environ.get('MLP_DEVICE')!r})"
    )
    missing = backends.unavailable()
    if default in missing:  # every command that trains or loads would fail: say so here, on both streams
        warning = (
            f"warning: the default backend {default!r} cannot run here, so mlp train, evaluate and predict "
            f"will stop with this reason: {missing[default]}"
        )
        print(warning)
        print(f"mlp info: {warning}", file=sys.stderr)
    print("available backends:")
    for name in backends.available():
        be = backends.get_backend(name)
        print(f"  {name:17s} version {be.version:12s} device {be.device}")
    if missing:
        print("unavailable backends:")
        for name, why in missing.items():
            print(f"  {name:17s} {why}")
    from mlp.train import threads

    choice = threads.current or threads.choose()
    print(f"BLAS/OpenMP threads: {choice.describe()}; --threads N, MLP_THREADS or OMP_NUM_THREADS override")
    print(*info_lines(), sep="\n")
    from mlp.io.onnx import info_line as onnx_info_line

    print(onnx_info_line())
    return 0
