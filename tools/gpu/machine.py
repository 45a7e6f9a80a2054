"""The machine the GPU proof runs on: the CPU, nvidia-smi's GPU, driver and CUDA, the libraries' versions and what
each array library sees, each read by a probe process of its own (`probe.py`)."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from .procs import output

PROBE = Path(__file__).resolve().parent / "probe.py"


def versions(ctx, end):
    """The machine's record in ``ctx.report["machine"]``: cores, CPU, versions, nvidia-smi, each library's device."""
    m = ctx.report["machine"]
    m["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        with open("/proc/cpuinfo") as f:
            m["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    probe = [ctx.python, PROBE]
    p = ctx.run("versions", probe + ["versions"], min(60, end - time.monotonic()))
    m["versions"] = p.probe_json() or {}
    smi = shutil.which("nvidia-smi")
    if smi:
        m["nvidia_smi"] = nvidia_smi(ctx, smi, end)
    elif not ctx.dry:
        ctx.report["warnings"].append("no nvidia-smi on PATH: the driver version is CuPy's report only")
    m["devices"] = {}
    for lib in ctx.gpu_libs():
        p = ctx.run(f"device-{lib}", probe + ["device", lib], min(90, end - time.monotonic()))
        m["devices"][lib] = p.probe_json() or {"error": p.last_line()}


def nvidia_smi(ctx, smi, end):
    """The GPU's name, driver, memory and CUDA version as nvidia-smi reports them (its whole output in a log)."""
    p = ctx.run("nvidia-smi", [smi], min(30, end - time.monotonic()))
    cuda = re.search(r"CUDA Version:\s*([\d.]+)", p.text())
    q = output([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    fields = [f.strip() for f in (q.splitlines() or [""])[0].split(",")]
    return {
        "name": fields[0] if fields[0] else None,
        "driver": fields[1] if len(fields) > 1 else None,
        "memory": fields[2] if len(fields) > 2 else None,
        "cuda": cuda.group(1) if cuda else None,
        "gpus": len(q.splitlines()),
    }


def gpu_problems(ctx):
    """What the libraries' probes found wrong: an error, and (not in a dry run) a library that sees no GPU, for
    then its suite proves nothing about one."""
    problems = []
    gpu = ctx.report["machine"].get("devices", {})
    for lib in ctx.gpu_libs():
        if gpu.get(lib, {}).get("error"):
            problems.append(f"{lib}: {gpu[lib]['error']}")
    if ctx.dry:
        return problems
    if gpu.get("torch") and "available" in gpu["torch"] and not gpu["torch"]["available"]:
        problems.append(f"torch {gpu['torch'].get('version')} sees no CUDA device")
    if gpu.get("jax") and gpu["jax"].get("default_backend") not in (None, "gpu", "cuda"):
        problems.append(
            f"JAX's devices are {', '.join(gpu['jax'].get('devices', []))}: no GPU (its CUDA plugin missing?)"
        )
    if gpu.get("cupy") and gpu["cupy"].get("count") == 0:
        problems.append("CuPy sees no CUDA device")
    return problems
