"""``mlp bench``: epoch timings side by side with the hand-written reference loops (see :mod:`mlp.bench`)."""

from __future__ import annotations


def add_parser(subparsers, common):
    from mlp import bench

    return bench.add_parser(subparsers)
