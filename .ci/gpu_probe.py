"""Probes that `.ci/gpu` runs in its own environment: library versions and the matrix-product rate of a library.

    python .ci/gpu_probe.py versions              # JSON: Python, NumPy and the versions of what the run uses
    python .ci/gpu_probe.py device LIB            # JSON: what LIB (cupy, torch, jax) sees: devices, CUDA, TF32
    python .ci/gpu_probe.py matmul LIB [--sizes 2048,8192] [--tf32 off|on|off,on]
                                                  # JSON: best GFLOP/s of an n x n float32 matmul on LIB's device

Standard library only, apart from the library probed, which is imported by name: a probe never imports mlp,
so it works whatever mlp's layout.  Each probe is one process: a library that hangs or crashes takes only its
own probe with it.  CuPy reads ``CUPY_TF32`` when it is imported, so ``matmul cupy --tf32 on`` sets it first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

#: distributions whose versions the report lists (the import is not needed: metadata only)
DISTRIBUTIONS = [
    "numpy",
    "cupy-cuda13x",
    "cupy-cuda12x",
    "cupy",
    "jax",
    "jaxlib",
    "jax-cuda13-plugin",
    "jax-cuda12-plugin",
    "jax-cuda13-pjrt",
    "jax-cuda12-pjrt",
    "torch",
    "mlp-arrayapi",
    "array-api-compat",
    "array-api-strict",
    "safetensors",
    "tqdm",
    "threadpoolctl",
    "pytest",
    "pytest-xdist",
    "hypothesis",
    "scikit-learn",
    "pyarrow",
    "matplotlib",
    "mpi4py",
    "onnx",
    "onnxruntime",
]


def versions():
    from importlib import metadata

    out = {"python": sys.version.split()[0], "executable": sys.executable, "distributions": {}}
    for name in DISTRIBUTIONS:
        try:
            out["distributions"][name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def device(lib):
    if lib == "torch":
        import torch

        out = {"version": torch.__version__, "cuda": torch.version.cuda, "available": torch.cuda.is_available()}
        if out["available"]:
            out.update(
                count=torch.cuda.device_count(),
                name=torch.cuda.get_device_name(0),
                capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                cudnn=torch.backends.cudnn.version(),
                tf32_matmul_default=bool(torch.backends.cuda.matmul.allow_tf32),
                float32_matmul_precision=torch.get_float32_matmul_precision(),
            )
        return out
    if lib == "cupy":
        import cupy

        rt = cupy.cuda.runtime
        out = {
            "version": cupy.__version__,
            "runtime": _cuda_version(rt.runtimeGetVersion()),
            "driver": _cuda_version(rt.driverGetVersion()),
            "count": rt.getDeviceCount(),
            "CUPY_TF32": os.environ.get("CUPY_TF32"),
        }
        if out["count"]:
            props = rt.getDeviceProperties(0)
            name = props.get("name", b"")
            out.update(
                name=name.decode() if isinstance(name, bytes) else str(name),
                capability=f"{props.get('major')}.{props.get('minor')}",
                memory_gib=round(props.get("totalGlobalMem", 0) / 2**30, 1),
            )
        return out
    if lib == "jax":
        import jax

        out = {
            "version": jax.__version__,
            "default_backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "default_matmul_precision": str(getattr(jax.config, "jax_default_matmul_precision", None)),
        }
        try:
            import jaxlib

            out["jaxlib"] = jaxlib.__version__
        except Exception:  # noqa: BLE001 -- a version is a nicety, never a failure
            pass
        return out
    if lib == "numpy":
        import numpy

        return {"version": numpy.__version__, "devices": ["cpu"]}
    raise SystemExit(f"gpu_probe: unknown library {lib!r}")


def _cuda_version(v):
    return f"{v // 1000}.{(v % 1000) // 10}"


def matmul(lib, sizes, settings, repeat):
    """``{"lib", "device", "rates": {"off"|"on": {n: GFLOP/s}}}``: the best of ``repeat`` synchronised products.

    TF32 "on" is PyTorch's float32 matmul precision "high", ``CUPY_TF32=1`` (before CuPy is imported: one
    setting a process) and JAX's default precision; "off" is "highest", ``CUPY_TF32=0`` and precision "highest".
    """
    import numpy as np

    rng = np.random.default_rng(0)
    out = {"lib": lib, "rates": {}}
    if lib == "cupy":
        if len(settings) != 1:
            raise SystemExit("gpu_probe: CuPy reads CUPY_TF32 at import: one --tf32 setting a process")
        os.environ["CUPY_TF32"] = "1" if settings[0] == "on" else "0"
        import cupy

        out["device"] = f"cuda:{cupy.cuda.Device().id}"
        sync, to = cupy.cuda.Device().synchronize, cupy.asarray

        def product(tf):
            return cupy.matmul
    elif lib == "torch":
        import torch

        dev = "cuda" if torch.cuda.is_available() else "cpu"
        out["device"] = dev if dev == "cpu" else f"cuda:{torch.cuda.current_device()}"

        def sync():
            if dev != "cpu":
                torch.cuda.synchronize()

        def to(a):
            return torch.from_numpy(a).to(dev)

        def product(tf):
            torch.set_float32_matmul_precision("high" if tf == "on" else "highest")  # "high": TF32 allowed
            return torch.matmul
    elif lib == "jax":
        import jax
        import jax.numpy as jnp

        dev = jax.devices()[0]
        out["device"] = str(dev)

        def to(a):
            return jax.device_put(a, dev)

        def sync():
            pass

        def product(tf):
            precision = None if tf == "on" else "highest"  # the default lets XLA use TF32 on NVIDIA GPUs
            run = jax.jit(lambda a, b: jnp.matmul(a, b, precision=precision))
            return lambda a, b: run(a, b).block_until_ready()
    elif lib == "numpy":
        out["device"], to = "cpu", (lambda a: a)

        def sync():
            pass

        def product(tf):
            return np.matmul
    else:
        raise SystemExit(f"gpu_probe: unknown library {lib!r}")
    for tf in settings:
        mm = product(tf)
        rates = out["rates"].setdefault(tf, {})
        for n in sizes:
            A = to(rng.random((n, n), dtype=np.float32))
            B = to(rng.random((n, n), dtype=np.float32))
            mm(A, B)
            sync()
            best = float("inf")
            for _ in range(repeat):
                sync()
                t0 = time.perf_counter()
                mm(A, B)
                sync()
                best = min(best, time.perf_counter() - t0)
            rates[str(n)] = 2.0 * n**3 / best / 1e9
            del A, B
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="gpu_probe.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    sub.add_parser("versions")
    d = sub.add_parser("device")
    d.add_argument("lib")
    m = sub.add_parser("matmul")
    m.add_argument("lib")
    m.add_argument("--sizes", default="2048,8192")
    m.add_argument("--tf32", default="off", help="off, on or off,on (CuPy: one a process)")
    m.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    if args.what == "versions":
        result = versions()
    elif args.what == "device":
        result = device(args.lib)
    else:
        settings = [t for t in args.tf32.split(",") if t in ("off", "on")]
        result = matmul(args.lib, [int(s) for s in args.sizes.split(",")], settings or ["off"], args.repeat)
    print("PROBE " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
