"""Step 3 of the GPU proof, bench: `mlp bench` for each configuration beside PyTorch eager on CUDA (TF32 off), then
the float32 matrix-product rate of CuPy, JAX and PyTorch with TF32 off and on (`probe.py matmul`)."""

from __future__ import annotations

import shlex
import time

from .machine import PROBE
from .plan import CONFIGS, worst
from .readback import read_bench

RESERVE, PROBES_RESERVE = 15.0, 20.0  # seconds kept for each configuration still to come, and for the probes
DRY_TF32 = (
    "Dry run: NumPy on the CPU stands in for every GPU library (no TF32 there); the bench rows are "
    "NumPy's and PyTorch's on the CPU."
)
TF32 = (
    "**TF32: off in the bench tables.** `mlp bench` sets PyTorch's `allow_tf32 = False` and "
    "`CUPY_TF32=0`, and this run sets `JAX_DEFAULT_MATMUL_PRECISION=highest` for it, so every float32 "
    "product is a full float32 one, on mlp's rows and PyTorch eager's alike. **TF32 on** is measured "
    "for the matrix products alone (the right-hand column below: PyTorch "
    "`set_float32_matmul_precision('high')`, `CUPY_TF32=1`, JAX's default precision). The test suites "
    "ran with each library's defaults."
)
#: (library, TF32 settings, more probe arguments): CuPy reads CUPY_TF32 once, at import: one process per setting
PROBES = [("cupy", "off", []), ("cupy", "on", []), ("torch", "off,on", []), ("jax", "off,on", [])]
DRY_PROBES = [("numpy", "off", ["--sizes", "256", "--repeat", "3"])]


def bench(ctx, rec, end):
    configs = [c for c in CONFIGS if c in ctx.args.configs]
    ctx.report["bench_setup"] = {"tf32": DRY_TF32 if ctx.dry else TF32}
    ctx.report["bench"] = {}
    statuses = []
    for i, c in enumerate(configs):
        limit = end - time.monotonic() - RESERVE * (len(configs) - i - 1) - PROBES_RESERVE
        if limit < 10:
            ctx.report["bench"][c] = {"status": "cut", "detail": f"not started: {max(limit, 0):.0f} s left"}
            statuses.append("cut")
            continue
        statuses.append(run_config(ctx, c, limit))
        ctx.write_report()
    results = matmul_probes(ctx, end, statuses)
    rec["status"] = worst(statuses)
    rec["detail"] = "; ".join(
        [f"{c}: {b['status']}" for c, b in ctx.report["bench"].items()]
        + [f"matmul {e['lib']}: {e['error']}" for e in results.values() if e.get("error")]
    )


def bench_args(ctx, config, js):
    """`mlp bench`'s arguments for ``config`` and the variables it runs with."""
    if ctx.dry:
        args = ["bench", "--configs", config, "--backends", "numpy", "--baselines", "pytorch", "--samples", "2000"]
        args += ["--epochs", "1", "--warmup", "0", "--matmul-size", "128", "--json", js]
        return args, {"MLP_BACKEND": "numpy"}
    args = ["bench", "--configs", config, "--backends", "cupy,jax,torch", "--baselines", "pytorch"]
    args += ["--epochs", str(ctx.args.bench_epochs), "--warmup", "1", "--json", js]
    return args, {"MLP_BACKEND": "torch", "MLP_DEVICE": "cuda", "JAX_DEFAULT_MATMUL_PRECISION": "highest"}


def run_config(ctx, c, limit):
    """`mlp bench` on configuration ``c`` within ``limit`` seconds: its table's record in the report; its status."""
    js = ctx.logs / f"bench-{c}.json"
    args, extra = bench_args(ctx, c, js)
    p = ctx.run(f"bench-{c}", ctx.mlp + args, limit, **extra)
    data = read_bench(js) if p.rc == 0 else None
    status = "cut" if p.cut else "pass" if (p.rc == 0 and data) else "fail"
    shown = (
        " ".join(f"{k}={v}" for k, v in extra.items())
        + " mlp "
        + shlex.join([str(x) for x in args]).replace(str(js), ctx.rel(js))
    )
    ctx.report["bench"][c] = {
        "status": status,
        "seconds": p.seconds,
        "log": ctx.rel(p.log),
        "json": data,
        "command": shown,
        "detail": (
            f"stopped after {p.seconds:.0f} s (its time limit)" if p.cut else "" if status == "pass" else p.last_line()
        ),
    }
    return status


def matmul_probes(ctx, end, statuses):
    """The matrix-product rates, one probe process per library and setting, in ``ctx.report["matmul"]``; a probe
    that fails or is cut adds its status to ``statuses``.  Returns the rates by library."""
    results = {}
    probe = [ctx.python, PROBE, "matmul"]
    for lib, settings, extra_args in DRY_PROBES if ctx.dry else PROBES:
        entry = results.setdefault(lib, {"lib": lib})
        limit = min(60.0, end - time.monotonic())
        if limit < 5:
            entry["error"] = "cut: no time left for the matrix-product probe"
            statuses.append("cut")
            continue
        p = ctx.run(
            f"matmul-{lib}-tf32-{settings.replace(',', '-')}",
            probe + [lib, "--tf32", settings] + extra_args,
            limit,
            **({"CUPY_TF32": None} if lib == "cupy" else {}),
        )
        got = p.probe_json()
        if got:
            entry["device"] = got.get("device")
            for tf, rates in got.get("rates", {}).items():
                entry[tf] = rates
        else:
            entry["error"] = ("cut: " if p.cut else "") + p.last_line()
            statuses.append("cut" if p.cut else "fail")
        ctx.report["matmul"] = list(results.values())
    return results
