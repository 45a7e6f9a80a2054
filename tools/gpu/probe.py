"""Probes that the GPU proof runs in its own environment: library versions and the matrix-product rate of a library.

    python tools/gpu/probe.py versions              # JSON: Python, NumPy and the versions of what the run uses
    python tools/gpu/probe.py device LIB            # JSON: what LIB (cupy, torch, jax) sees: devices, CUDA, TF32
    python tools/gpu/probe.py matmul LIB [--sizes 2048,8192] [--tf32 off|on|off,on]
                                                    # JSON: best GFLOP/s of an n x n float32 matmul on LIB's device

Standard library only, apart from the library probed, which is imported by name: a probe never imports mlp,
so it works whatever mlp's layout; nor does it import the rest of tools/gpu: it runs as a file.  Each probe is one
process: a library that hangs or crashes takes only its own probe with it.  CuPy reads ``CUPY_TF32`` when it is
imported, so ``matmul cupy --tf32 on`` sets it first.
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


# -- what each library sees -----------------------------------------------------------------------
def device(lib):
    probes = {"torch": _torch_device, "cupy": _cupy_device, "jax": _jax_device, "numpy": _numpy_device}
    if lib not in probes:
        raise SystemExit(f"probe: unknown library {lib!r}")
    return probes[lib]()


def _torch_device():
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


def _cupy_device():
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


def _jax_device():
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


def _numpy_device():
    import numpy

    return {"version": numpy.__version__, "devices": ["cpu"]}


def _cuda_version(v):
    return f"{v // 1000}.{(v % 1000) // 10}"


# -- the matrix-product rate ----------------------------------------------------------------------
def matmul(lib, sizes, settings, repeat):
    """``{"lib", "device", "rates": {"off"|"on": {n: GFLOP/s}}}``: the best of ``repeat`` synchronised products.

    TF32 "on" is PyTorch's float32 matmul precision "high", ``CUPY_TF32=1`` (before CuPy is imported: one
    setting a process) and JAX's default precision; "off" is "highest", ``CUPY_TF32=0`` and precision "highest".
    """
    import numpy as np

    libraries = {"cupy": _cupy_ops, "torch": _torch_ops, "jax": _jax_ops, "numpy": _numpy_ops}
    if lib not in libraries:
        raise SystemExit(f"probe: unknown library {lib!r}")
    rng = np.random.default_rng(0)
    out = {"lib": lib, "rates": {}}
    out["device"], to, sync, product = libraries[lib](settings)
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


def _nothing():
    pass


def _cupy_ops(settings):
    """(device, to the device, synchronise, product for a TF32 setting) of CuPy."""
    if len(settings) != 1:
        raise SystemExit("probe: CuPy reads CUPY_TF32 at import: one --tf32 setting a process")
    os.environ["CUPY_TF32"] = "1" if settings[0] == "on" else "0"
    import cupy

    return f"cuda:{cupy.cuda.Device().id}", cupy.asarray, cupy.cuda.Device().synchronize, lambda tf: cupy.matmul


def _torch_ops(settings):
    import torch

    dev = "cuda" if torch.cuda.is_available() else "cpu"

    def sync():
        if dev != "cpu":
            torch.cuda.synchronize()

    def product(tf):
        torch.set_float32_matmul_precision("high" if tf == "on" else "highest")  # "high": TF32 allowed
        return torch.matmul

    shown = dev if dev == "cpu" else f"cuda:{torch.cuda.current_device()}"
    return shown, lambda a: torch.from_numpy(a).to(dev), sync, product


def _jax_ops(settings):
    import jax
    import jax.numpy as jnp

    dev = jax.devices()[0]

    def product(tf):
        precision = None if tf == "on" else "highest"  # the default lets XLA use TF32 on NVIDIA GPUs
        run = jax.jit(lambda a, b: jnp.matmul(a, b, precision=precision))
        return lambda a, b: run(a, b).block_until_ready()

    return str(dev), lambda a: jax.device_put(a, dev), _nothing, product


def _numpy_ops(settings):
    import numpy as np

    return "cpu", lambda a: a, _nothing, lambda tf: np.matmul


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/gpu/probe.py", description=__doc__.split("\n\n")[0])
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
