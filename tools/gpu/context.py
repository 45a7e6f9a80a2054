"""What the steps of the GPU proof share: the budget, the folders, the Python and `mlp` they run, the environment
of every command, and the record the report is written from."""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from . import report
from .plan import BUDGET, DRY_BUDGET, ROOT, SHARES, STEPS
from .procs import Proc, now_iso, run_all

#: variables of the caller's environment that would change what a command tests: never passed on
DROPPED = (
    "MLP_BACKEND",
    "MLP_DEVICE",
    "CUPY_TF32",
    "PYTEST_XDIST_WORKER",
    "PYTEST_CURRENT_TEST",
    "PYTEST_ADDOPTS",
    "VIRTUAL_ENV",
)
HOW = (
    "Reproduce: on the GPU machine, from the repository root, `python -m tools.gpu --pack .whl --out OUT` "
    "after `python -m tools.gpu.pack .whl` with network; on any CUDA machine with the packages installed, "
    "`python -m tools.gpu --out OUT`. The dry run: `python -m tools.gpu --dry-run --out OUT`."
)


class Context:
    """One run: its arguments, its clock, its folders, the commands it starts and its record."""

    def __init__(self, args):
        self.args = args
        self.dry = args.dry_run
        self.budget = float(args.budget if args.budget is not None else (DRY_BUDGET if self.dry else BUDGET))
        self.t0 = time.monotonic()
        self.deadline = self.t0 + self.budget
        self.out = Path(args.out).absolute()
        self.logs = self.out / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.work = Path(args.work).absolute() if args.work else Path(tempfile.mkdtemp(prefix="mlp-gpu-"))
        self.work.mkdir(parents=True, exist_ok=True)
        self.steps = [s for s in STEPS if s in args.steps]
        self.python = sys.executable
        self.mlp = self.mlp_command()
        self.data_root = self.default_data_root()
        self.extra_path, self.extra_env = [], {}
        self.pack_abs = Path(args.pack).absolute() if args.pack else None
        inside = self.pack_abs and str(self.pack_abs).startswith(str(ROOT) + os.sep)
        self.pack_shown = os.path.relpath(self.pack_abs, ROOT) if inside else "PACK"
        self.report = {
            "dry_run": self.dry,
            "command": command_line(),
            "started": now_iso(),
            "finished": None,
            "budget_s": self.budget,
            "elapsed_s": 0.0,
            "steps": [],
            "warnings": [],
            "machine": {},
            "pack": {},
            "how": HOW,
        }
        self._n = 0

    def mlp_command(self):
        """The `mlp` command beside the run's Python (its console script), else `python -m mlp`."""
        script = Path(self.python).parent / "mlp"
        return [str(script)] if script.exists() else [self.python, "-m", "mlp"]

    def default_data_root(self):
        """--data-dir, else the pack's data/, else $MLP_DATA_DIR, else ../shared/data (the tests' default)."""
        a = self.args
        if a.data_dir:
            return Path(a.data_dir).absolute()
        if a.pack and (Path(a.pack) / "data" / "mnist").is_dir():
            return (Path(a.pack) / "data").absolute()
        for cand in (os.environ.get("MLP_DATA_DIR"), str(ROOT.parent / "shared" / "data")):
            if cand and Path(cand).expanduser().is_dir():
                return Path(cand).expanduser().absolute()
        return None

    def gpu_libs(self):
        return ["numpy"] if self.dry else ["cupy", "jax", "torch"]

    # -- time ------------------------------------------------------------------------------------
    def left(self):
        return self.deadline - time.monotonic()

    def window(self, name):
        """Seconds step ``name`` may use: what is left, less the shares of the steps after it."""
        later = sum(SHARES[s] * self.budget for s in self.steps[self.steps.index(name) + 1 :])
        return self.left() - later

    # -- commands --------------------------------------------------------------------------------
    def env(self, **extra):
        """The environment of a command: the caller's, less ``DROPPED``, with the run's own and ``extra`` (a
        value of None removes the variable)."""
        env = {k: v for k, v in os.environ.items() if k not in DROPPED}
        if self.extra_path:
            env["PATH"] = os.pathsep.join(self.extra_path + [env.get("PATH", "")])
        env.update(self.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # several processes share the GPU: JAX takes what it uses
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
        if self.data_root:
            env["MLP_DATA_DIR"] = str(self.data_root)
        env.update({k: v for k, v in extra.items() if v is not None})
        for k in [k for k, v in extra.items() if v is None]:
            env.pop(k, None)
        return env

    def proc(self, name, cmd, cwd=None, **extra):
        """A command, not started yet, its log numbered in the order the commands were made."""
        self._n += 1
        log = self.logs / f"{self._n:02d}-{name}.log"
        p = Proc(name, cmd, self.env(**extra), cwd or self.work, log)
        p.extra = {k: v for k, v in extra.items() if v is not None}
        return p

    def run(self, name, cmd, limit, cwd=None, **extra):
        """Run one command within ``limit`` seconds."""
        p = self.proc(name, cmd, cwd, **extra)
        run_all([p], limit)
        return p

    def rel(self, path):
        return os.path.relpath(path, self.out)

    # -- the record ------------------------------------------------------------------------------
    def write_report(self):
        """report.json and gpu.md, as they stand now (rewritten after every step)."""
        self.report["elapsed_s"] = time.monotonic() - self.t0
        self.report["updated"] = now_iso()
        names = [
            (self.out, "OUT"),
            (self.work, "WORK"),
            (self.data_root, "DATA"),
            (self.pack_abs, self.pack_shown),
            (ROOT, "."),
            (Path.home(), "~"),
        ]
        report.write(self.out, self.report, [(p, n) for p, n in names if p])


def command_line():
    """This run's command, with paths inside the repository relative to it (no machine's paths)."""

    def rel(a):
        return os.path.relpath(a, ROOT) if os.path.isabs(a) and a.startswith(str(ROOT) + os.sep) else a

    return "python -m tools.gpu " + shlex.join(rel(a) for a in sys.argv[1:])
