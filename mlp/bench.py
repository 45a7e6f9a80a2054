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

The reference loops live in ``backends/reference/`` (they are other libraries'
code, and the benchmark's, not the engine's).

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
import datetime
import glob
import json
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

#: the benchmark's networks; ``book`` is the book's chapter 1 network
CONFIGS = {
    "book": dict(sizes=[784, 30, 10], activation="sigmoid", loss="quadratic", batch=10, lr=3.0, init="normal"),
    "mid": dict(sizes=[784, 100, 10], activation="relu", loss="cross_entropy", batch=64, lr=0.05, init="he"),
    "wide": dict(sizes=[784, 1024, 1024, 10], activation="relu", loss="cross_entropy", batch=256, lr=0.05,
                 init="he"),
}
EPOCH_SAMPLES = 50_000
DEFAULTS = dict(samples=EPOCH_SAMPLES, epochs=5, warmup=1, matmul_size=2048, budget=1.0, data="auto")
QUICK = dict(samples=600, epochs=2, warmup=1, matmul_size=256, budget=0.02, data="random")

REFERENCE = "mlp numpy (reference kernels)"
HANDWRITTEN = "numpy hand-written"
PYTORCH = "PyTorch eager"
PER_EXAMPLE = "per-example (book)"
JAX_SCAN = "JAX jit (hand-written)"
SKLEARN = "scikit-learn MLPClassifier"
#: ``--baselines`` names -> what they add
BASELINES = {"reference": REFERENCE, "handwritten": HANDWRITTEN, "pytorch": PYTORCH, "jax": JAX_SCAN,
             "sklearn": SKLEARN, "per-example": PER_EXAMPLE}


# -- arguments ---------------------------------------------------------------------------------
def _csv(choices, allow_none=False):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        if allow_none and items == ["none"]:
            return []
        bad = [t for t in items if t not in choices]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated subset of {','.join(choices)}{' (or none)' if allow_none else ''}, "
                f"got {text!r}")
        return list(dict.fromkeys(items))

    return parse


def _add_arguments(p):
    from mlp.backends import KNOWN

    p.add_argument("--configs", type=_csv(list(CONFIGS)), default=list(CONFIGS),
                   help="comma-separated: book,mid,wide (default: all)")
    p.add_argument("--backends", type=_csv(list(KNOWN)), default=None,
                   help="mlp backends to time, comma-separated (default: every backend usable here)")
    p.add_argument("--baselines", type=_csv(list(BASELINES), allow_none=True), default=list(BASELINES),
                   help="comparison rows: reference,handwritten,pytorch,jax,sklearn,per-example (default: all) "
                        "or none")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--epochs", type=int, default=None, help=f"timed epochs per contender (default {DEFAULTS['epochs']})")
    p.add_argument("--warmup", type=int, default=None, help=f"untimed warm-up epochs (default {DEFAULTS['warmup']})")
    p.add_argument("--samples", type=int, default=None,
                   help=f"samples an epoch (default {DEFAULTS['samples']:,}; --quick: {QUICK['samples']:,})")
    p.add_argument("--data", choices=("auto", "mnist", "random"), default=None,
                   help="auto (default): MNIST's training images when the files are present (nothing is "
                        "downloaded), else random data of the same shape; --quick: random")
    p.add_argument("--data-dir", default=None, help="folder with MNIST's IDX files (default: $MLP_DATA_DIR/mnist)")
    p.add_argument("--matmul-size", type=int, default=None,
                   help=f"side of the square matmul that measures the machine (default {DEFAULTS['matmul_size']})")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds a slow contender (per-example, array-api-strict) is timed for each epoch before "
                        f"extrapolating (default {DEFAULTS['budget']})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run (tiny epochs, random data)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the raw numbers as JSON")
    return p


def add_parser(subparsers):
    """Register ``bench`` on an argparse ``subparsers`` object, with ``func=run``."""
    p = subparsers.add_parser(
        "bench", help="time training epochs: mlp on each backend beside PyTorch and plain NumPy loops",
        description=__doc__.replace("``", "'"), formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    p.set_defaults(func=run)
    return p


def _settings(args):
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


# -- the machine -------------------------------------------------------------------------------
def _cpuinfo():
    """``{"model name": ..., "flags": ..., "cpu family": ...}`` of the first CPU, where readable."""
    out = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                out.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return out


def _blas():
    try:
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy: no mode="dicts"
        return "unknown"


def _openblas_core():
    """The kernel set NumPy's bundled OpenBLAS chose at load time (e.g. "Haswell"), or None."""
    try:
        import ctypes

        libs = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
        for path in libs:
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
                         "openblas_get_corename"):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.restype = ctypes.c_char_p
                    return fn().decode()
    except Exception:  # not OpenBLAS, not a wheel layout, no ctypes: just not reported
        pass
    return None


def machine_info(torch=None):
    cpu = _cpuinfo()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"cpu": cpu.get("model name") or platform.processor() or platform.machine(), "cores": cores,
            "python": platform.python_version(), "numpy": np.__version__, "blas": _blas(),
            "openblas_core": _openblas_core(),
            "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                    if os.environ.get(k) is not None}}
    if torch is not None:
        from mlp.backends.reference import torch_eager

        info.update(torch_eager.describe(torch))
    if hasattr(os, "getloadavg"):
        info["load_average"] = list(os.getloadavg())
    return info


def _notes_on_machine(info):
    notes = []
    flags = set(_cpuinfo().get("flags", "").split())
    core = info.get("openblas_core")
    if core in ("Haswell", "Zen", "Sandybridge") and {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        forced = os.environ.get("OPENBLAS_CORETYPE")
        why = f"OPENBLAS_CORETYPE={forced} in the environment keeps" if forced else "OpenBLAS chose"
        notes.append(f"{why} NumPy's OpenBLAS on its {core} (AVX2) kernels although this CPU has AVX-512 "
                     "(see docs/benchmarks.md)")
    load = info.get("load_average")
    if load and load[0] > 0.5:
        notes.append(f"load average {load[0]:.2f} on {info['cores']} cores as the run began: other processes were "
                     "running, and multi-threaded contenders suffer most from that")
    return notes


def matmul_rate(n, dtype, backend="numpy", repeat=5):
    """Best GFLOP/s of an ``n x n`` matmul on ``backend`` (a name or a Backend), device synchronised around it."""
    from mlp import backends

    be = backends.get_backend(backend)
    rng = np.random.default_rng(0)
    A = be.asarray(rng.standard_normal((n, n)), dtype=dtype)
    B = be.asarray(rng.standard_normal((n, n)), dtype=dtype)
    mm = be.xp.matmul
    mm(A, B)
    best = math.inf
    for _ in range(repeat):
        be.synchronize()
        t0 = time.perf_counter()
        mm(A, B)
        be.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def load_data(kind, samples, data_dir=None, seed=0):
    """``(X, y, source)``: the first ``samples`` MNIST training images, or random data of that shape."""
    if kind in ("auto", "mnist"):
        try:
            from mlp.io.datasets import load_mnist

            (X, y), _ = load_mnist(data_dir=data_dir, download=False, progress=False)
        except Exception as e:  # files absent or broken: say so, and use random data when allowed
            if kind == "mnist":
                raise
            reason = " ".join(str(e).split())
            reason = reason if len(reason) <= 120 else reason[:117] + "..."
        else:
            if samples > len(X):
                idx = np.arange(samples) % len(X)
                return X[idx], y[idx], f"MNIST training images ({len(X):,}, repeated to {samples:,})"
            return X[:samples], y[:samples], f"MNIST training images (the first {samples:,})"
    else:
        reason = "--data random"
    rng = np.random.default_rng(seed)
    X = rng.random((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    return X, y, f"random data of MNIST's shape ({reason})"


@dataclass
class Problem:
    """One configuration on one data set: what every contender trains."""

    name: str
    sizes: list
    activation: str
    loss: str
    batch: int
    lr: float
    init: str
    dtype: str
    seed: int
    X: np.ndarray  # host, dtype
    y: np.ndarray  # int64 labels
    T: np.ndarray  # host one-hot targets, dtype

    @classmethod
    def make(cls, name, X, y, dtype="float32", seed=0):
        cfg = CONFIGS[name]
        X = np.ascontiguousarray(X, dtype=dtype)
        return cls(name, cfg["sizes"], cfg["activation"], cfg["loss"], cfg["batch"], cfg["lr"], cfg["init"], dtype,
                   seed, X, y, np.eye(cfg["sizes"][-1], dtype=dtype)[y])

    @property
    def flops_per_sample(self):
        return 6 * sum(a * b for a, b in zip(self.sizes, self.sizes[1:]))

    def perm(self, epoch, m):
        """The permutation :func:`mlp.fit` uses for an epoch of ``m`` samples."""
        return np.random.default_rng((self.seed, epoch)).permutation(m)


def build_model(problem, backend, fast=None):
    """The network of ``problem`` (see :func:`mlp.core.model.build_mlp`)."""
    from mlp.core.model import build_mlp

    return build_mlp(problem.sizes, problem.activation, problem.loss, problem.init, backend, problem.dtype,
                     problem.seed, fast)


def initial_weights(problem):
    """The ``[(W, b), ...]`` every contender starts from (``W`` is ``(n_in, n_out)``), from the mlp model."""
    state = build_model(problem, "numpy").state_dict()
    return [(state[f"W{i}"].copy(), state[f"b{i}"].copy()) for i in range(len(problem.sizes) - 1)]


# -- contenders ----------------------------------------------------------------------------------
class Contender:
    """Trains ``problem`` for (the first ``m`` samples of) an epoch and returns the synchronised seconds."""

    name = ""
    kind = ""
    backend = "numpy"
    device = "cpu"
    slow = False  # timed on part of an epoch, then extrapolated

    def epoch(self, epoch: int, m: int) -> float:
        raise NotImplementedError


class MLPFit(Contender):
    """:func:`mlp.fit` for one epoch; its ``seconds`` are the time of the training steps alone."""

    kind = "mlp"

    def __init__(self, problem, backend, fast=None, name=None):
        import mlp

        self.problem = problem
        self.model = build_model(problem, backend, fast=fast)
        be = self.model.backend
        self.backend, self.device = be.name, be.label
        self.name = name or f"mlp {be.name}" + ("" if self.device == "cpu" else f" ({self.device})")
        self.slow = be.slow
        self.loss = mlp.get_loss(problem.loss)
        self.optimizer = mlp.SGD(lr=problem.lr)
        # the data on the device once, rather than at every fit
        self.X = be.asarray(problem.X, dtype=problem.dtype)  # no copy where it is already there (NumPy)

    def epoch(self, epoch, m):
        import mlp

        X = self.X if m == self.problem.X.shape[0] else self.X[:m, ...]
        h = mlp.fit(self.model, X, self.problem.y[:m], loss=self.loss, optimizer=self.optimizer,
                    epochs=epoch + 1, initial_epoch=epoch, batch_size=self.problem.batch, seed=self.problem.seed,
                    progress=False, train_metrics=False)
        return h.history["seconds"][-1]


# -- running -------------------------------------------------------------------------------------
@dataclass
class Row:
    contender: Contender
    timed_samples: int = 0
    seconds: list = field(default_factory=list)  # per epoch of the problem's samples (extrapolated where timed less)


def _timed_samples(contender, problem, budget):
    """Whole mini-batches worth about ``budget`` seconds, for a slow contender (its first call warms it up)."""
    samples, bs = problem.X.shape[0], problem.batch
    one = contender.epoch(0, min(bs, samples))
    n_batches = max(1, min(-(-samples // bs), int(budget / max(one, 1e-9))))
    return min(samples, n_batches * bs)


def _cuda(torch):
    from mlp.backends.reference import torch_eager

    return torch is not None and torch_eager.cuda_available(torch)


def torch_eager(problem, weights, torch, device="cpu"):
    """The PyTorch eager contender (its code lives in ``backends.reference.torch_eager``)."""
    from mlp.backends.reference.torch_eager import EagerLoop

    return EagerLoop(problem, weights, torch, device,
                     name=PYTORCH + ("" if str(device) == "cpu" else f" ({device})"))


def make_contenders(problem, backend_names, baselines, torch, notes):
    from mlp import backends
    from mlp.backends.reference import jax_scan, numpy_loops, sklearn_mlp

    weights = initial_weights(problem)
    out = []
    for name in backend_names:
        try:
            be = backends.get_backend(name)
        except backends.BackendUnavailableError as e:
            note = f"mlp {name} skipped: {' '.join(str(e).split())}"
            if note not in notes:
                notes.append(note)
            continue
        out.append(MLPFit(problem, be, fast=True))  # backends without fast paths get the reference
        if name == "numpy" and "reference" in baselines:
            out.append(MLPFit(problem, be, fast=False, name=REFERENCE))
        if name == "torch" and str(be.device) == "cpu" and _cuda(torch):
            out.append(MLPFit(problem, backends.get_backend("torch", device="cuda")))
    if "handwritten" in baselines:
        out.append(numpy_loops.HandWritten(problem, weights))
    if "jax" in baselines:
        jax = jax_scan.load()
        if jax is not None:
            out.append(jax_scan.ScanLoop(problem, weights, jax, name=JAX_SCAN))
        elif "JAX jit skipped: jax is not installed (pip install jax)" not in notes:
            notes.append("JAX jit skipped: jax is not installed (pip install jax)")
    if "sklearn" in baselines:
        nn = sklearn_mlp.load()
        if nn is None:
            if "scikit-learn skipped: it is not installed (pip install scikit-learn)" not in notes:
                notes.append("scikit-learn skipped: it is not installed (pip install scikit-learn)")
        else:
            out.append(sklearn_mlp.PartialFitLoop(problem, weights, nn, name=SKLEARN))
            if problem.loss != "cross_entropy":
                note = (f"{SKLEARN} on {problem.name}: scikit-learn trains a softmax with cross-entropy at the "
                        f"output, not the {problem.loss} cost: the same sizes, a slightly different network")
                if note not in notes:
                    notes.append(note)
    if "pytorch" in baselines:
        if torch is not None:
            out.append(torch_eager(problem, weights, torch))
            if _cuda(torch):
                out.append(torch_eager(problem, weights, torch, device="cuda"))
        elif "PyTorch eager skipped: torch is not installed (pip install torch)" not in notes:
            notes.append("PyTorch eager skipped: torch is not installed (pip install torch)")
    if "per-example" in baselines:
        out.append(numpy_loops.PerExample(problem, weights))
    return out


def bench_config(problem, contenders, settings):
    """Time every contender, interleaved; returns a :class:`Row` each."""
    samples = problem.X.shape[0]
    rows = [Row(c) for c in contenders]
    for r in rows:
        r.timed_samples = _timed_samples(r.contender, problem, settings["budget"]) if r.contender.slow else samples
    for rnd in range(settings["warmup"] + settings["epochs"]):
        for r in rows:
            s = r.contender.epoch(rnd + 1, r.timed_samples)
            if rnd >= settings["warmup"]:
                r.seconds.append(s * samples / r.timed_samples)
    return rows


def _rate_key(d):
    if d["device"] == "cpu":
        return "cpu"
    return "cupy" if d["backend"] == "cupy" else d["device"]


def summarise(problem, rows, rates):
    """The numbers of each row, as plain data (what ``--json`` writes)."""
    samples = problem.X.shape[0]
    flops = problem.flops_per_sample * samples
    out = []
    for r in rows:
        c = r.contender
        best = min(r.seconds)
        d = {"name": c.name, "kind": c.kind, "backend": c.backend, "device": c.device,
             "extrapolated": r.timed_samples < samples, "timed_samples": r.timed_samples,
             "seconds": r.seconds, "min": best, "median": statistics.median(r.seconds),
             "samples_per_s": samples / best, "gflops": flops / best / 1e9}
        rate = rates.get(_rate_key(d))
        d["pct_matmul"] = 100.0 * d["gflops"] / rate if rate else None
        out.append(d)
    by_name = {d["name"]: d for d in out}
    for d in out:
        torch_row = by_name.get(PYTORCH + ("" if d["device"] == "cpu" else f" ({d['device']})"))
        d["vs_pytorch"] = torch_row["min"] / d["min"] if torch_row else None
        pe = by_name.get(PER_EXAMPLE)
        d["vs_per_example"] = pe["min"] / d["min"] if pe else None
    return out


COLUMNS = ["contender", "s/epoch min", "median", "samples/s", "GFLOP/s", "% matmul", "vs PyTorch", "vs per-example"]


def format_table(results):
    def f(v, spec, suffix=""):
        return "-" if v is None else format(v, spec) + suffix

    lines = [[d["name"] + (" *" if d["extrapolated"] else ""), f(d["min"], ".3f"), f(d["median"], ".3f"),
              f(d["samples_per_s"], ",.0f"), f(d["gflops"], ".2f"), f(d["pct_matmul"], ".1f"),
              f(d["vs_pytorch"], ".2f", "x"), f(d["vs_per_example"], ".1f", "x")] for d in results]
    widths = [max(len(COLUMNS[i]), *(len(line[i]) for line in lines)) for i in range(len(COLUMNS))]

    def fmt(row):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))

    out = [fmt(COLUMNS), fmt(["-" * w for w in widths])] + [fmt(line) for line in lines]
    for d in results:
        if d["extrapolated"]:
            out.append(f"* {d['name']}: timed on {d['timed_samples']:,} samples an epoch, extrapolated")
    return "\n".join(out)


def run(args) -> int:
    """``mlp bench``: print the table (and write ``--json``); returns the exit status."""
    settings = _settings(args)
    from mlp import backends
    from mlp.backends.reference import torch_eager

    wants_torch = "pytorch" in args.baselines or "torch" in (args.backends or ["torch"])
    torch = torch_eager.load() if wants_torch else None

    notes = backends.prepare_benchmark(args.backends or list(backends.KNOWN))  # before anything imports CuPy
    names = args.backends if args.backends is not None else backends.available()
    dtype = args.dtype
    command = getattr(args, "_command", None) or "mlp " + " ".join(sys.argv[1:])
    info = machine_info(torch)
    notes = _notes_on_machine(info) + notes
    X, y, source = load_data(settings["data"], settings["samples"], args.data_dir, args.seed)

    size = settings["matmul_size"]
    rates = {"cpu": matmul_rate(size, dtype)}
    if _cuda(torch):
        rates["cuda"] = matmul_rate(size, dtype, backends.get_backend("torch", device="cuda"))
    if "cupy" in names and "cupy" in backends.available():
        rates["cupy"] = matmul_rate(size, dtype, "cupy")

    def say(*text):
        print(*text, flush=True)

    say(f"mlp bench, {datetime.date.today().isoformat()}: {command}")
    say(f"machine: {info['cpu']}, {info['cores']} cores; python {info['python']}; numpy {info['numpy']} "
        f"({info['blas']}" + (f", {info['openblas_core']} kernels)" if info["openblas_core"] else ")")
        + (f"; torch {info['torch']} ({info['torch_threads']} threads)" if torch is not None else ""))
    if info["env"]:
        say("environment: " + ", ".join(f"{k}={v}" for k, v in info["env"].items()))
    say(f"data: {source}; {settings['samples']:,} samples an epoch; {dtype}")
    say(f"matmul ({size} x {size}, {dtype}), best of 5: "
        + ", ".join(f"{'numpy' if k == 'cpu' else k} {v:.1f} GFLOP/s" for k, v in rates.items()))
    say(f"timing: {settings['warmup']} warm-up + {settings['epochs']} timed epochs of each contender, interleaved; "
        "samples/s, GFLOP/s and ratios from the min")
    report = {"date": datetime.date.today().isoformat(), "command": command, "machine": info, "data": source,
              "dtype": dtype, "samples_per_epoch": settings["samples"], "epochs": settings["epochs"],
              "warmup": settings["warmup"], "budget": settings["budget"],
              "matmul": {"size": size, "gflops": rates}, "notes": notes, "configs": {}}
    for cname in args.configs:
        problem = Problem.make(cname, X, y, dtype, args.seed)
        contenders = make_contenders(problem, names, args.baselines, torch, notes)
        if not contenders:
            raise ValueError("nothing to time: no usable backend and no baselines")
        results = summarise(problem, bench_config(problem, contenders, settings), rates)
        cfg = CONFIGS[cname]
        flops = problem.flops_per_sample * settings["samples"]
        say("")
        say(f"{cname}: {cfg['sizes']} {cfg['activation']}, {cfg['loss'].replace('_', '-')} loss, mini-batch "
            f"{cfg['batch']}, SGD lr {cfg['lr']} ({flops / 1e9:.2f} GFLOP an epoch)")
        say(format_table(results))
        report["configs"][cname] = {**cfg, "flops_per_epoch": flops, "rows": results}
    after = matmul_rate(size, dtype)
    report["matmul"]["cpu_after"] = after
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_after"] = list(os.getloadavg())
    say("")
    say(f"matmul again after the run: numpy {after:.1f} GFLOP/s")
    for n in notes:
        say("note: " + n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        say(f"wrote {args.json}")
    return 0


def main(argv=None) -> int:
    """``python -m mlp.bench [options]``."""
    parser = _add_arguments(argparse.ArgumentParser(prog="python -m mlp.bench", description=__doc__.split("\n\n")[0]))
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args._command = " ".join(["python -m mlp.bench", *argv])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
