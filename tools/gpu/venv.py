"""The GPU proof's own environment for a pack: a venv that sees this Python's packages (the machine's CUDA builds
of CuPy, JAX, PyTorch) with the pack's wheels installed over them."""

from __future__ import annotations

import configparser
import os
import site
import sys
import time
import zipfile
from pathlib import Path

from .procs import output


def make_env(ctx, wheels, end, problems):
    """A venv of its own over this Python's packages (a .pth file), the wheels installed into it; ``ctx`` then runs
    its Python.  What goes wrong is added to ``problems`` (and this Python is used as it is)."""
    env_dir = ctx.work / "env"
    p = ctx.run(
        "venv", [ctx.python, "-m", "venv", "--without-pip", "--clear", env_dir], min(60, end - time.monotonic())
    )
    py = env_dir / "bin" / "python"
    if p.rc != 0 or not py.exists():
        problems.append(f"could not make a virtual environment (log {ctx.rel(p.log)}); using this Python as it is")
        return
    purelib = Path(output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    if not purelib.is_absolute():
        problems.append("the virtual environment's Python does not run; using this Python as it is")
        return
    prefixes = [p for p in dict.fromkeys(site.PREFIXES) if p and p != str(env_dir)]
    dirs = _site_dirs()
    purelib.mkdir(parents=True, exist_ok=True)
    (purelib / "_mlp_gpu_machine.pth").write_text(  # one line: a .pth file runs lines, not blocks
        f"import site; site.PREFIXES[1:1] = {prefixes!r}; list(map(site.addsitedir, {dirs!r}))\n"
    )
    ctx.report["machine"]["site_dirs"] = dirs
    pip = [py, "-m", "pip", "install", "--no-index", "--no-deps", "--ignore-installed", "--disable-pip-version-check"]
    p = ctx.run("pip-install", [*pip, "--no-warn-script-location", *wheels], min(120, end - time.monotonic()))
    if p.rc != 0:
        if "No module named pip" not in p.text():
            problems.append(f"pip install failed (log {ctx.rel(p.log)})")
            return
        unpack(ctx, wheels, purelib, env_dir / "bin", py)
    ctx.python = str(py)
    # and what lives beside this Python outside site-packages: its commands (mpiexec of the mpich wheel) on
    # PATH after the venv's, and the MPI library of that wheel, which mpi4py looks for under sys.prefix
    ctx.extra_path = [str(env_dir / "bin"), str(Path(sys.executable).parent)]
    libs = [str(Path(p) / "lib") for p in prefixes if list((Path(p) / "lib").glob("libmpi*.so*"))]
    if libs:
        ctx.extra_env["LD_LIBRARY_PATH"] = os.pathsep.join(libs + [v for v in [os.environ.get("LD_LIBRARY_PATH")] if v])


def _site_dirs():
    """This Python's site folders, in its own order (sys.path's).

    They become the venv's, after the venv's own; and this Python's site prefixes join site.PREFIXES, so that
    site.getsitepackages() lists them too: CuPy finds the CUDA libraries of the nvidia-* wheels through it
    (cuda-pathfinder), as it would outside the venv.
    """
    known = {*site.getsitepackages(), site.getusersitepackages() if site.ENABLE_USER_SITE else None}
    dirs = []
    for d in [*sys.path, *sorted(d for d in known if d)]:
        if d and (d in known or "site-packages" in d or "dist-packages" in d) and os.path.isdir(d) and d not in dirs:
            dirs.append(d)
    return dirs


def unpack(ctx, wheels, purelib, bindir, py):
    """No pip: a wheel is a zip file; unpack it and write its console scripts (enough for pure-Python ones)."""
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            z.extractall(purelib)
            eps = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
            for n in eps:
                cp = configparser.ConfigParser()
                cp.read_string(z.read(n).decode())
                for name, target in cp["console_scripts"].items() if cp.has_section("console_scripts") else []:
                    module, _, func = target.partition(":")
                    script = bindir / name
                    script.write_text(
                        f"#!{py}\nimport sys\nfrom {module.strip()} import {func.strip()}\nsys.exit({func.strip()}())\n"
                    )
                    script.chmod(0o755)
    (ctx.logs / "unpacked.log").write_text("pip was missing: unpacked " + ", ".join(w.name for w in wheels) + "\n")
