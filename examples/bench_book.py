"""One epoch of the book's chapter 1 and chapter 3 calls: ``mlp.book`` against Nielsen's own code.

    MLP_DATA_DIR=path/to/data OPENBLAS_NUM_THREADS=1 python examples/bench_book.py [--book-src DIR]
        [--repeat 3] [--seed 0] [--dtype float32] [--chapters 1 3]

Each call is the book's, on the book's MNIST lists (``mnist_loader.load_data_wrapper()``):

* chapter 1: ``network.Network([784, 30, 10]).SGD(training_data, 1, 10, 3.0)``;
* chapter 3: ``network2.Network([784, 100, 10]).SGD(training_data, 1, 10, 0.5, lmbda=5.0)``.

The seconds are the network's construction and its ``SGD`` call (its ``Epoch ...`` lines are
swallowed).  ``mlp.book`` is timed twice: *again*, the list already converted to matrices (every
epoch after the first of a run, and every later network trained on the same list); *first*, the
conversion included (what a session's first ``SGD`` pays once).  The median of ``--repeat`` runs.

``--book-src DIR`` points at a folder holding the book's ``network.py`` and ``network2.py`` ported
to Python 3 (from https://github.com/mnielsen/neural-networks-and-deep-learning, ``src/``: ``print``
as a function, ``range`` for ``xrange``); they are then timed too, in turn with ``mlp.book`` from the
same seeds (``np.random.seed`` and ``random.seed``, as the book's code uses them) on lists in the same
order, so both shuffle into the same mini-batches.  The table then gives the speed-ups and, as a check,
each network's test accuracy after its epoch (the book's is float64, ``mlp.book`` ``--dtype``).
"""

import argparse
import contextlib
import importlib.util
import io
import operator
import os
import platform
import random
import statistics
import time
from pathlib import Path

import numpy as np

import mlp.book
from mlp.book import mnist_loader, network, network2

CALLS = {  # chapter: (module attribute, sizes, SGD positional arguments after the data, SGD keywords)
    1: ("network", [784, 30, 10], (1, 10, 3.0), {}),
    3: ("network2", [784, 100, 10], (1, 10, 0.5), {"lmbda": 5.0}),
}


def load_book(folder):
    """The book's two modules from ``folder`` (a Python 3 port), imported under private names."""
    modules = {}
    for name in ("network", "network2"):
        path = Path(folder) / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"_book_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


def timed_call(module, chapter, data, seed, **network_options):
    """Seconds for the chapter's call on ``data`` (shuffled in place, as the book does), and the network."""
    _, sizes, args, kwargs = CALLS[chapter]
    np.random.seed(seed)
    random.seed(seed)
    start = time.perf_counter()
    net = module.Network(sizes, **network_options)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD(data, *args, **kwargs)
    return time.perf_counter() - start, net


def accuracy(weights, biases, X, labels):
    """Test accuracy of a book network from its weight and bias lists (one matrix pass, float64)."""
    a = X.T.astype(np.float64)
    for w, b in zip(weights, biases, strict=True):
        a = 1.0 / (1.0 + np.exp(-(np.asarray(w, dtype=np.float64) @ a + np.asarray(b, dtype=np.float64))))
    return float(np.mean(np.argmax(a, axis=0) == labels))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    return cpu, os.cpu_count(), load


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book-src", help="folder with the book's network.py and network2.py ported to Python 3")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--seed", type=int, default=0, help="np.random.seed and random.seed before each call")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="mlp.book's dtype")
    parser.add_argument("--chapters", type=int, nargs="+", default=[1, 3], choices=sorted(CALLS))
    args = parser.parse_args()

    training_data, _, test_data = mnist_loader.load_data_wrapper()
    X_test = np.concatenate([x for x, _ in test_data], axis=1).T
    y_test = np.array([y for _, y in test_data])
    book = load_book(args.book_src) if args.book_src else None
    ours = {"network": network, "network2": network2}
    cpu, cores, load = machine()
    print(
        f"{cpu}, {cores} cores, load average {load} (before); NumPy {np.__version__}, "
        f"backend {os.environ.get('MLP_BACKEND', 'numpy')}, mlp.book {args.dtype}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    )

    rows, cold = [], None
    for chapter in args.chapters:
        name = CALLS[chapter][0]
        times = {"book": [], "first": [], "again": []}
        acc = {}
        same_order = True
        for r in range(args.repeat):
            mlp.book.clear_cache()  # the first call converts the list
            seconds, net = timed_call(ours[name], chapter, training_data, args.seed + r, dtype=args.dtype)
            times["first"].append(seconds)
            cold = seconds if cold is None else cold
            if book is not None:
                book_data = list(training_data)  # the same pairs in the same order: the same shuffles
                seconds, book_net = timed_call(book[name], chapter, book_data, args.seed + r)
                times["book"].append(seconds)
                acc["book"] = accuracy(book_net.weights, book_net.biases, X_test, y_test)
            seconds, net = timed_call(ours[name], chapter, training_data, args.seed + r, dtype=args.dtype)
            times["again"].append(seconds)
            acc["mlp"] = accuracy(net.weights, net.biases, X_test, y_test)
            if book is not None:
                same_order &= all(map(operator.is_, book_data, training_data))
        med = {k: statistics.median(v) for k, v in times.items() if v}
        rows.append((chapter, med, acc, same_order))

    print()
    head = "| call | book's code (s) | mlp.book again (s) | mlp.book first (s) | speed-up again | speed-up first |"
    print(head)
    print("|" + "---|" * 6)
    for chapter, med, acc, _ in rows:
        name, sizes, a, kw = CALLS[chapter]
        call = (
            f"ch.{chapter} {name}.Network({sizes}).SGD(data, {', '.join(map(str, a))}"
            + "".join(f", {k}={v}" for k, v in kw.items())
            + ")"
        )
        book_s = med.get("book")
        print(f"| {call} | {book_s:.2f} | " if book_s else f"| {call} | - | ", end="")
        print(f"{med['again']:.3f} | {med['first']:.3f} | ", end="")
        print(f"{book_s / med['again']:.1f}x | {book_s / med['first']:.1f}x |" if book_s else "- | - |")
    print()
    print(
        f"the process's first call (ch.{args.chapters[0]}: backend built, list converted into new memory): {cold:.3f} s"
    )
    for chapter, med, acc, same_order in rows:
        line = f"ch.{chapter}: test accuracy after the epoch: mlp.book {acc['mlp']:.2%}"
        if "book" in acc:
            line += f", book's code {acc['book']:.2%}; same shuffles: {'yes' if same_order else 'NO'}"
        print(line)
    print(f"load average {machine()[2]} (after); median of {args.repeat} runs")


if __name__ == "__main__":
    main()
