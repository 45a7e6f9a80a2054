"""The machine the benchmark runs on: CPU, BLAS and its kernels, load, and a matmul's rate."""

from __future__ import annotations

import glob
import math
import os
import platform
import sys
import time

import numpy as np


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
            for name in (
                "scipy_openblas_get_corename64_",
                "scipy_openblas_get_corename",
                "openblas_get_corename64_",
                "openblas_get_corename",
            ):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn.restype = ctypes.c_char_p
                    return fn().decode()
    except Exception:  # not OpenBLAS, not a wheel layout, no ctypes: just not reported
        pass
    return None


def machine_info(torch=None):
    """CPU, cores, versions, BLAS, thread variables and load average (and torch's, given ``torch``)."""
    cpu = _cpuinfo()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {
        "cpu": cpu.get("model name") or platform.processor() or platform.machine(),
        "cores": cores,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas(),
        "openblas_core": _openblas_core(),
        "env": {
            k: os.environ.get(k)
            for k in (
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
                "MKL_NUM_THREADS",
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
            )
            if os.environ.get(k) is not None
        },
    }
    if torch is not None:
        from mlp.bench.reference import torch_eager

        info.update(torch_eager.describe(torch))
    if hasattr(os, "getloadavg"):
        info["load_average"] = list(os.getloadavg())
    return info


def notes_on_machine(info):
    """Warnings about the machine that bear on the numbers (kernels below the CPU's, a busy machine)."""
    notes = []
    flags = set(_cpuinfo().get("flags", "").split())
    core = info.get("openblas_core")
    if core in ("Haswell", "Zen", "Sandybridge") and {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        forced = os.environ.get("OPENBLAS_CORETYPE")
        why = f"OPENBLAS_CORETYPE={forced} in the environment keeps" if forced else "OpenBLAS chose"
        notes.append(
            f"{why} NumPy's OpenBLAS on its {core} (AVX2) kernels although this CPU has AVX-512 "
            "(see docs/benchmarks.md)"
        )
    load = info.get("load_average")
    if load and load[0] > 0.5:
        notes.append(
            f"load average {load[0]:.2f} on {info['cores']} cores as the run began: other processes were "
            "running, and multi-threaded contenders suffer most from that"
        )
    return notes


def prepare_gpus(names) -> list:
    """Float32 matmuls in full float32 on GPUs for a benchmark run (TF32 off); returns notes for the report.

    The benchmark's policy, not the engine's: ``mlp.fit`` leaves each library's TF32 setting as the user set it.

    Call before anything imports CuPy: CuPy reads ``CUPY_TF32`` when it is imported.
    """
    notes = []
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        notes.append("PyTorch on CUDA: TF32 off (allow_tf32 = False)")
    if "cupy" in names and os.environ.get("CUPY_TF32", "0") != "0":
        if "cupy" in sys.modules:
            notes.append("CUPY_TF32 is set and CuPy is already imported: its float32 matmuls may use TF32")
        else:
            os.environ["CUPY_TF32"] = "0"
            notes.append("CUPY_TF32 was set: set to 0 for this run")
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


def cuda_available(torch):
    """Whether ``torch`` (or None) can use a CUDA device."""
    from mlp.bench.reference import torch_eager

    return torch is not None and torch_eager.cuda_available(torch)


def matmul_rates(size, dtype, torch, names):
    """``{"cpu": ..., "cuda": ..., "cupy": ...}``: :func:`matmul_rate` on each kind of device the run uses."""
    from mlp import backends

    rates = {"cpu": matmul_rate(size, dtype)}
    if cuda_available(torch):
        rates["cuda"] = matmul_rate(size, dtype, backends.get_backend("torch", device="cuda"))
    if "cupy" in names and "cupy" in backends.available():
        rates["cupy"] = matmul_rate(size, dtype, "cupy")
    return rates
