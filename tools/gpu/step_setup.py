"""Step 1 of the GPU proof, setup: the pack's wheels (this project's checked against the working tree, rebuilt from
it when they differ) installed into an environment of the run's own, then the machine's versions and `mlp info`."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

from . import machine, venv, wheel
from .plan import ROOT
from .procs import say
from .report import machine_rows


def setup(ctx, rec, end):
    problems = []
    pack = Path(ctx.args.pack).absolute() if ctx.args.pack else None
    wheels = read_pack(ctx, pack, problems) if pack else []
    ctx.report["data_root"] = str(ctx.data_root) if ctx.data_root else None
    own = [w for w in wheels if w.name.startswith(wheel.PROJECT + "-")]
    if pack and not own:
        problems.append("the pack has no wheel of this project")
    if own:
        wheels = check_project_wheel(ctx, wheels, own)
    ctx.report["machine"].setdefault("mlp", {"source": "the pack's wheels, none of them this project's"})
    if wheels:
        venv.make_env(ctx, wheels, end, problems)
    else:
        ctx.report["machine"]["mlp"] = {
            "source": "the packages of the Python that ran tools/gpu (no --pack)",
            "python": ctx.python,
        }
    ctx.mlp = ctx.mlp_command()
    problems += check_mlp(ctx, end)
    machine.versions(ctx, end)
    problems += machine.gpu_problems(ctx)
    rec["status"] = "fail" if problems else "pass"
    rec["detail"] = "; ".join(problems)
    write_environment_log(ctx)
    for k, v in machine_rows(ctx.report):
        say(f"{k}: {v}")


def read_pack(ctx, pack, problems):
    """The pack's record in the report (its size, its manifest's commit) and its wheels."""
    wheels = sorted((pack / "wheels").glob("*.whl")) or sorted(pack.glob("*.whl"))
    manifest = {}
    try:
        manifest = json.loads((pack / "manifest.json").read_text())
    except (OSError, ValueError):
        problems.append(f"{pack}: no readable manifest.json (not made by python -m tools.gpu.pack?)")
    files = [f for f in pack.rglob("*") if f.is_file()]
    ctx.report["pack"] = {
        "path": os.path.relpath(pack, ROOT) if str(pack).startswith(str(ROOT)) else str(pack),
        "files": len(files),
        "mib": sum(f.stat().st_size for f in files) / 2**20,
        "commit": (manifest.get("tree") or {}).get("commit"),
        "dirty": (manifest.get("tree") or {}).get("dirty"),
        "created": manifest.get("created"),
        "wheels": [w.name for w in wheels],
    }
    if not wheels:
        problems.append(f"{pack}: no wheels in it")
    return wheels


def check_project_wheel(ctx, wheels, own):
    """The wheels to install: the pack's, with this project's rebuilt from the working tree where it differs."""
    stale = wheel.compare_wheel_to_tree(own[-1], ROOT)
    source = f"the pack's {own[-1].name}"
    if stale:
        say(f"setup: {own[-1].name} differs from the working tree ({len(stale)} files): rebuilding it")
        (ctx.logs / "wheel-vs-tree.log").write_text("\n".join(stale) + "\n")
        try:
            fresh = wheel.build_project_wheel(ctx.work / "wheels", ROOT, ctx.python, offline=True)
            wheels = [w for w in wheels if w not in own] + [fresh]
            source = f"{fresh.name} rebuilt here from the working tree (the pack's differed: {stale[0]})"
            again = wheel.compare_wheel_to_tree(fresh, ROOT)
            if again:
                ctx.report["warnings"].append(
                    f"the wheel built from this tree is not the tree: {again[0]} "
                    "(a module pyproject.toml does not package?)"
                )
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            source = f"the pack's {own[-1].name}, STALE: {stale[0]} (rebuilding failed: {e})"
            ctx.report["warnings"].append(
                f"this project's wheel is not the working tree's ({stale[0]}; "
                f"{len(stale)} files in logs/wheel-vs-tree.log): rebuild the pack"
            )
    ctx.report["machine"]["mlp"] = {"source": source}
    return wheels


def check_mlp(ctx, end):
    """`import mlp` and `mlp info` in the run's environment: their output in the report, their failures returned."""
    problems = []
    p = ctx.run(
        "mlp-version",
        [ctx.python, "-c", "import mlp; print(mlp.__version__); print(mlp.__file__)"],
        min(60, end - time.monotonic()),
    )
    lines = [line for line in p.text().splitlines() if not line.startswith("#") and line.strip()]
    if p.rc == 0 and len(lines) >= 2:
        ctx.report["machine"]["mlp"].update(version=lines[-2], file=lines[-1])
    else:
        problems.append(f"`import mlp` failed in the run's environment (log {ctx.rel(p.log)})")
    p = ctx.run("mlp-info", ctx.mlp + ["info"], min(90, end - time.monotonic()))
    ctx.report["machine"]["mlp_info"] = [line for line in p.text().splitlines()[4:] if not line.startswith("# ")]
    if p.rc != 0:
        problems.append(f"`mlp info` failed (log {ctx.rel(p.log)})")
    return problems


def write_environment_log(ctx):
    """logs/environment.log: the Python and `mlp` the steps run, and how their environment differs from ours."""
    base = ctx.env()
    changed = {k: v for k, v in base.items() if os.environ.get(k) != v}
    (ctx.logs / "environment.log").write_text(
        f"python {ctx.python}\nmlp {shlex.join(ctx.mlp)}\n"
        + "".join(f"{k}={v}\n" for k, v in sorted(changed.items()))
        + "".join(f"unset {k}\n" for k in sorted(set(os.environ) - set(base)))
    )
