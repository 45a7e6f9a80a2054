"""Running the benchmark: the contenders timed interleaved (:func:`bench_config`) and ``mlp bench`` (:func:`run`)."""

from __future__ import annotations

import datetime
import json
import os
import sys
from dataclasses import dataclass, field

from mlp.bench.configs import CONFIGS, Problem, load_data
from mlp.bench.contenders import Contender, make_contenders
from mlp.bench.machine import machine_info, matmul_rate, matmul_rates, notes_on_machine, prepare_gpus
from mlp.bench.options import settings_of
from mlp.bench.report import print_config, print_header, say, summarise


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


def run(args) -> int:
    """``mlp bench``: print the table (and write ``--json``); returns the exit status."""
    settings = settings_of(args)
    torch, names, notes = _prepare(args)
    dtype = args.dtype
    command = getattr(args, "_command", None) or "mlp " + " ".join(sys.argv[1:])
    info = machine_info(torch)
    notes = notes_on_machine(info) + notes
    X, y, source = load_data(settings["data"], settings["samples"], args.data_dir, args.seed)
    rates = matmul_rates(settings["matmul_size"], dtype, torch, names)
    print_header(command, info, torch, source, settings, dtype, rates)
    # ``notes`` is the list make_contenders adds to: the report holds it, so its notes are the final ones
    report = {
        "date": datetime.date.today().isoformat(),
        "command": command,
        "machine": info,
        "data": source,
        "dtype": dtype,
        "samples_per_epoch": settings["samples"],
        "epochs": settings["epochs"],
        "warmup": settings["warmup"],
        "budget": settings["budget"],
        "matmul": {"size": settings["matmul_size"], "gflops": rates},
        "notes": notes,
        "configs": {},
    }
    for cname in args.configs:
        problem = Problem.make(cname, X, y, dtype, args.seed)
        report["configs"][cname] = _bench_problem(problem, args, names, torch, notes, settings, rates)
    _finish(report, notes, settings["matmul_size"], dtype, args.json)
    return 0


def _prepare(args):
    """``(torch or None, the mlp backends to time, notes)``; torch is loaded before the backends are prepared."""
    from mlp import backends
    from mlp.bench.reference import torch_eager

    wants_torch = "pytorch" in args.baselines or "torch" in (args.backends or ["torch"])
    torch = torch_eager.load() if wants_torch else None

    notes = prepare_gpus(args.backends or list(backends.KNOWN))  # before anything imports CuPy
    names = args.backends if args.backends is not None else backends.available()
    return torch, names, notes


def _bench_problem(problem, args, names, torch, notes, settings, rates):
    """Time every contender on ``problem``, print its table; returns the configuration's part of the report."""
    contenders = make_contenders(problem, names, args.baselines, torch, notes)
    if not contenders:
        raise ValueError("nothing to time: no usable backend and no baselines")
    results = summarise(problem, bench_config(problem, contenders, settings), rates)
    cfg = CONFIGS[problem.name]
    flops = problem.flops_per_sample * settings["samples"]
    print_config(problem.name, cfg, flops, results)
    return {**cfg, "flops_per_epoch": flops, "rows": results}


def _finish(report, notes, size, dtype, json_path):
    """The matmul once more (did the machine change during the run?), the notes, and ``--json``."""
    after = matmul_rate(size, dtype)
    report["matmul"]["cpu_after"] = after
    if hasattr(os, "getloadavg"):
        report["machine"]["load_average_after"] = list(os.getloadavg())
    say("")
    say(f"matmul again after the run: numpy {after:.1f} GFLOP/s")
    for n in notes:
        say("note: " + n)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(report, f, indent=1)
        say(f"wrote {json_path}")
