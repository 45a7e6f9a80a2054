"""What the benchmark prints and writes: each row's numbers, the table, the header lines."""

from __future__ import annotations

import datetime
import statistics

from mlp.bench.configs import PER_EXAMPLE, PYTORCH


def say(*text):
    """Print at once (a long run shows its progress line by line)."""
    print(*text, flush=True)


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
        d = {
            "name": c.name,
            "kind": c.kind,
            "backend": c.backend,
            "device": c.device,
            "extrapolated": r.timed_samples < samples,
            "timed_samples": r.timed_samples,
            "seconds": r.seconds,
            "min": best,
            "median": statistics.median(r.seconds),
            "samples_per_s": samples / best,
            "gflops": flops / best / 1e9,
        }
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

    lines = [
        [
            d["name"] + (" *" if d["extrapolated"] else ""),
            f(d["min"], ".3f"),
            f(d["median"], ".3f"),
            f(d["samples_per_s"], ",.0f"),
            f(d["gflops"], ".2f"),
            f(d["pct_matmul"], ".1f"),
            f(d["vs_pytorch"], ".2f", "x"),
            f(d["vs_per_example"], ".1f", "x"),
        ]
        for d in results
    ]
    widths = [max(len(COLUMNS[i]), *(len(line[i]) for line in lines)) for i in range(len(COLUMNS))]

    def fmt(row):
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))

    out = [fmt(COLUMNS), fmt(["-" * w for w in widths])] + [fmt(line) for line in lines]
    for d in results:
        if d["extrapolated"]:
            out.append(f"* {d['name']}: timed on {d['timed_samples']:,} samples an epoch, extrapolated")
    return "\n".join(out)


def print_header(command, info, torch, source, settings, dtype, rates):
    """The lines before the tables: the command, the machine, the data, the matmul rates, how it is timed."""
    size = settings["matmul_size"]
    say(f"mlp bench, {datetime.date.today().isoformat()}: {command}")
    say(
        f"machine: {info['cpu']}, {info['cores']} cores; python {info['python']}; numpy {info['numpy']} "
        f"({info['blas']}"
        + (f", {info['openblas_core']} kernels)" if info["openblas_core"] else ")")
        + (f"; torch {info['torch']} ({info['torch_threads']} threads)" if torch is not None else "")
    )
    if info["env"]:
        say("environment: " + ", ".join(f"{k}={v}" for k, v in info["env"].items()))
    say(f"data: {source}; {settings['samples']:,} samples an epoch; {dtype}")
    say(
        f"matmul ({size} x {size}, {dtype}), best of 5: "
        + ", ".join(f"{'numpy' if k == 'cpu' else k} {v:.1f} GFLOP/s" for k, v in rates.items())
    )
    say(
        f"timing: {settings['warmup']} warm-up + {settings['epochs']} timed epochs of each contender, interleaved; "
        "samples/s, GFLOP/s and ratios from the min"
    )


def print_config(cname, cfg, flops, results):
    """A configuration's title line and its table, after an empty line."""
    say("")
    say(
        f"{cname}: {cfg['sizes']} {cfg['activation']}, {cfg['loss'].replace('_', '-')} loss, mini-batch "
        f"{cfg['batch']}, SGD lr {cfg['lr']} ({flops / 1e9:.2f} GFLOP an epoch)"
    )
    say(format_table(results))
