"""The options of ``mlp bench`` (and ``python -m mlp.bench``), and the settings they give."""

from __future__ import annotations

import argparse

from mlp.bench.configs import BASELINES, CONFIGS, DEFAULTS, QUICK


def _csv(choices, allow_none=False):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if allow_none and items == ["none"]:
            return []
        bad = [t for t in items if t not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}{' (or none)' if allow_none else ''}, "
                f"got {text!r}"
            )
        return list(dict.fromkeys(items))

    return parse


def add_arguments(p):
    """Add the options of ``mlp bench`` to the parser ``p``; returns ``p``."""
    from mlp.backends import KNOWN

    p.add_argument(
        "--configs",
        type=_csv(list(CONFIGS)),
        default=list(CONFIGS),
        help="comma-separated: book,mid,wide (default: all)",
    )
    p.add_argument(
        "--backends",
        type=_csv(list(KNOWN)),
        default=None,
        help="mlp backends to time, comma-separated (default: every backend usable here)",
    )
    p.add_argument(
        "--baselines",
        type=_csv(list(BASELINES), allow_none=True),
        default=list(BASELINES),
        help="comparison rows: reference,handwritten,pytorch,jax,sklearn,per-example (default: all) or none",
    )
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument(
        "--epochs", type=int, default=None, help=f"timed epochs per contender (default {DEFAULTS['epochs']})"
    )
    p.add_argument("--warmup", type=int, default=None, help=f"untimed warm-up epochs (default {DEFAULTS['warmup']})")
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help=f"samples an epoch (default {DEFAULTS['samples']:,}; --quick: {QUICK['samples']:,})",
    )
    p.add_argument(
        "--data",
        choices=("auto", "mnist", "random"),
        default=None,
        help="auto (default): MNIST's training images when the files are present (nothing is "
        "downloaded), else random data of the same shape; --quick: random",
    )
    p.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files (default: $MLP_DATA_DIR/mnist)")
    p.add_argument(
        "--matmul-size",
        type=int,
        default=None,
        help=f"side of the square matmul that measures the machine (default {DEFAULTS['matmul_size']})",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds a slow contender (per-example, array-api-strict) is timed for each epoch before "
        f"extrapolating (default {DEFAULTS['budget']})",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run (tiny epochs, random data)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the raw numbers as JSON")
    return p


def settings_of(args):
    """The run's settings: each option given, else its ``--quick`` or default value; checked."""
    base = QUICK if args.quick else DEFAULTS
    s = {k: getattr(args, k) if getattr(args, k, None) is not None else v for k, v in base.items()}
    for k in ("samples", "epochs", "matmul_size"):
        if s[k] < 1:
            raise ValueError(f"--{k.replace('_', '-')} must be at least 1, got {s[k]}")
    if s["warmup"] < 0:
        raise ValueError(f"--warmup must be at least 0, got {s['warmup']}")
    if not s["budget"] > 0:
        raise ValueError(f"--budget must be a positive number of seconds, got {s['budget']}")
    return s
