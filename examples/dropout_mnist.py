"""Dropout on MNIST: a wide ReLU network trained with and without dropout, side by side.

    MLP_DATA_DIR=path/to/data python examples/dropout_mnist.py [--epochs 30] [--hidden 1024] [--p 0.5]

Both runs use the same network (784-H-H-10, ReLU, He initialisation), the same initial weights
(one seed), the same mini-batch order, SGD with momentum 0.9 and a learning rate that decays
as ``lr0 / (1 + epoch / 10)``.  The dropout run puts ``Dropout(p)`` after each hidden ReLU.
Each epoch logs the training and test accuracy (the model is evaluated in eval mode, where
dropout is the identity); the test set is only measured, never used to choose anything.

``--only plain`` / ``--only dropout`` run one of the two (two processes can then share the cores),
and ``--combine A.json B.json`` draws their records into one figure.

Writes ``<out>.json`` (per-epoch numbers of both runs, the command, the seconds) and
``<out>.svg`` (test accuracy and the train - test gap per epoch, drawn without any plotting
library).  Default ``out``: ``docs/dropout_mnist``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import mlp
from mlp.train.callbacks import Callback


class DecayLearningRate(Callback):
    """lr = lr0 / (1 + epoch / tau), set after every epoch for the next one."""

    def __init__(self, lr0: float, tau: float):
        self.lr0, self.tau = lr0, tau

    def on_epoch_end(self, epoch, logs, state):
        state.optimizer.lr = self.lr0 / (1.0 + (epoch + 1) / self.tau)


def network(hidden: int, p: float, seed: int, backend):
    layers = []
    for n_in in (784, hidden):
        layers += [mlp.Linear(n_in, hidden, init="he"), mlp.ReLU()]
        if p > 0:
            layers.append(mlp.Dropout(p))
    layers.append(mlp.Linear(hidden, 10, init="he"))
    return mlp.Sequential(layers, backend=backend, dtype="float32", seed=seed)


def run(p, args, data):
    (X, y), (Xt, yt) = data
    model = network(args.hidden, p, args.seed, args.backend)
    opt = mlp.SGD(args.lr, momentum=0.9)
    start = time.perf_counter()
    history = mlp.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=(Xt, yt),
        seed=args.seed,
        progress=False,
        callbacks=[DecayLearningRate(args.lr, 10.0)],
    )
    seconds = time.perf_counter() - start
    h = history.history
    for e, (a, v) in enumerate(zip(h["accuracy"], h["val_accuracy"], strict=True)):
        print(f"p={p}: epoch {e + 1}: train {a:.4f} test {v:.4f} gap {a - v:+.4f}", flush=True)
    return {
        "p": p,
        "train_accuracy": h["accuracy"],
        "test_accuracy": h["val_accuracy"],
        "loss": h["loss"],
        "seconds": seconds,
    }


def svg(runs, path):
    """Two panels: test accuracy, and train - test accuracy, per epoch, one line per run."""
    W, H, pad = 420, 260, 48
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]

    def panel(x0, title, series, lo, hi, fmt):
        n = max(len(s) for _, s in series)
        sx = lambda i: x0 + pad + (W - 1.5 * pad) * i / max(n - 1, 1)  # noqa: E731
        sy = lambda v: H - pad + (pad - H + pad) * (min(max(v, lo), hi) - lo) / (hi - lo)  # noqa: E731
        out = [
            f'<text x="{x0 + W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
            f'<rect x="{x0 + pad}" y="{pad}" width="{W - 1.5 * pad}" height="{H - 2 * pad}" '
            f'fill="none" stroke="#999"/>',
        ]
        for k in range(5):
            v = lo + (hi - lo) * k / 4
            out.append(f'<text x="{x0 + pad - 4}" y="{sy(v) + 4}" text-anchor="end" font-size="10">{fmt(v)}</text>')
        for i in range(0, n, max(n // 6, 1)):
            out.append(f'<text x="{sx(i)}" y="{H - pad + 14}" text-anchor="middle" font-size="10">{i + 1}</text>')
        out.append(f'<text x="{x0 + W / 2}" y="{H - 8}" text-anchor="middle" font-size="11">epoch</text>')
        for (label, s), c in zip(series, colours, strict=True):
            pts = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in enumerate(s))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>')
        for j, ((label, _), c) in enumerate(zip(series, colours, strict=True)):
            out.append(f'<text x="{x0 + pad + 8}" y="{pad + 16 + 14 * j}" font-size="11" fill="{c}">{label}</text>')
        return out

    names = [("no dropout" if r["p"] == 0 else f"dropout p={r['p']}") for r in runs]
    acc = [(n, r["test_accuracy"]) for n, r in zip(names, runs, strict=True)]
    gap = [
        (n, [a - v for a, v in zip(r["train_accuracy"], r["test_accuracy"], strict=True)])
        for n, r in zip(names, runs, strict=True)
    ]
    lo = min(min(s) for _, s in acc)
    body = panel(0, "test accuracy", acc, max(0.97, lo - 0.001), 1.0, lambda v: f"{100 * v:.1f}%")
    body += panel(
        W,
        "train - test accuracy",
        gap,
        min(0.0, min(min(s) for _, s in gap)),
        max(0.005, max(max(s) for _, s in gap)),
        lambda v: f"{100 * v:.2f}",
    )
    text = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * W}" height="{H}" font-family="sans-serif">'
        + "".join(body)
        + "</svg>\n"
    )
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--p", type=float, default=0.5, help="dropout probability after each hidden layer")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default=None)
    ap.add_argument("--out", default="docs/dropout_mnist")
    ap.add_argument("--only", choices=["dropout", "plain"], default=None, help="run one of the two")
    ap.add_argument(
        "--combine",
        nargs="+",
        metavar="JSON",
        help="train nothing: draw the runs recorded in these files (from --only runs) into <out>",
    )
    args = ap.parse_args(argv)
    if args.combine:
        records = [json.load(open(path)) for path in args.combine]
        runs = [r for rec in records for r in rec["runs"]]
        record = {"commands": [rec["command"] for rec in records], "runs": runs}
        tmp = args.out + ".json.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=1)
        os.replace(tmp, args.out + ".json")
        svg(runs, args.out + ".svg")
        return
    data = mlp.io.datasets.load_mnist(progress=False)
    ps = {"dropout": [args.p], "plain": [0.0], None: [0.0, args.p]}[args.only]
    runs = [run(p, args, data) for p in ps]
    for r in runs:
        print(
            f"p={r['p']}: final test accuracy {r['test_accuracy'][-1]:.2%}, best {max(r['test_accuracy']):.2%}, "
            f"final train - test gap {r['train_accuracy'][-1] - r['test_accuracy'][-1]:+.2%}, {r['seconds']:.0f} s"
        )
    record = {
        "command": "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:])),
        "args": vars(args),
        "runs": runs,
    }
    tmp = args.out + ".json.tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, args.out + ".json")
    svg(runs, args.out + ".svg")


if __name__ == "__main__":
    main()
