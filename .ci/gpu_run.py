"""`.ci/gpu`: the GPU proof in one call, within a time budget, its report always written.

On a CUDA machine (a bare one with no network: what it lacks travels in a pack, see `.ci/gpu-pack`):

    bash .ci/gpu-pack .whl                    # here, with network: wheels + MNIST into .whl (about 12 MiB)
    bash .ci/gpu --pack .whl --out OUT        # there, in the repository root; OUT receives the report

Steps, each with its share of the budget (--budget, default 420 s) as its time limit; a step that fails is
recorded and the next one runs; a step past its limit is stopped and reported as cut:

  1. setup: a virtual environment of its own (in --work, default a temporary folder) that sees the machine's
     packages (its CUDA builds of CuPy, JAX, PyTorch) and has the pack's wheels installed over them (pip
     --no-index --no-deps); this project's wheel is checked against the working tree, and rebuilt from it when
     they differ; then the GPU, driver, CUDA and library versions, and `mlp info`.
  2. tests: `python -m pytest -m "not slow"` three times at once, with MLP_BACKEND=cupy, with MLP_BACKEND=jax
     MLP_DEVICE=gpu and with MLP_BACKEND=torch MLP_DEVICE=cuda, each in parallel workers (pytest-xdist, when
     installed; else serially), so that every parity test compares a GPU backend with NumPy.
  3. bench: the float32 matrix-product rate of CuPy, JAX and PyTorch with TF32 off and on; then
     `mlp bench --configs C --backends cupy,jax,torch --baselines pytorch` for book, mid and wide (PyTorch eager
     on CUDA is the peer; TF32 off: mlp bench turns it off for torch and CuPy, JAX_DEFAULT_MATMUL_PRECISION=highest
     for JAX).
  4. mnist: `mlp train --data mnist --epochs 3` with MLP_BACKEND=cupy, saved; the checkpoint evaluated with
     `mlp evaluate` on CuPy and with `--backend numpy` on the CPU: the same test accuracy.
  5. report: OUT/gpu.md (docs/gpu.md as it would be), OUT/report.json and OUT/logs/, rewritten after every step.

A second, narrower run (what the first found, fixed): e.g. `bash .ci/gpu --pack .whl --out OUT --budget 200
--steps setup,tests --suites jax --select "tests/core/test_parity.py"`.  On a machine lent for one bash command with
ignored folders carried beside the working tree: carry .whl, run `bash .ci/gpu --pack .whl --out "$OUT"` with a
time limit of about 540 s (the default budget is 420 s; stopping a cut step takes up to 10 s more).

`--dry-run` runs the same steps on the CPU with NumPy standing in for the three GPU backends, on a small subset
(a few parity tests, short benches, one epoch of a small network), so that the script itself is tested; with
`--pack` it also rehearses the installation.  Without `--pack` the run uses the packages of the Python that runs
it, as they are (any CUDA machine where `pip install` works: see the README's GPU section).

Only the `mlp` command, `python -m pytest` and probes that import the array libraries by name are used, never
mlp's internals.  Exit status: 0 when every step passed, 1 otherwise (the report says which).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # no __pycache__ of these helpers in the tree

import gpu_pack  # noqa: E402
import gpu_report  # noqa: E402

STEPS = ("setup", "tests", "bench", "mnist")
TITLES = {"setup": "setup and versions", "tests": "test suites", "bench": "benchmark", "mnist": "MNIST checkpoint"}
#: each step's share of the budget (the rest is the margin for the report); unused time passes on to later steps
SHARES = {"setup": 0.08, "tests": 0.50, "bench": 0.27, "mnist": 0.12}
#: a step with less than this left is not started (reported as cut)
MIN_START = {"setup": 8, "tests": 15, "bench": 15, "mnist": 12}
BUDGET, DRY_BUDGET = 420.0, 300.0
#: (label, environment of the suite) on a GPU
SUITES = {
    "cupy": {"MLP_BACKEND": "cupy"},
    "jax": {"MLP_BACKEND": "jax", "MLP_DEVICE": "gpu"},
    "torch": {"MLP_BACKEND": "torch", "MLP_DEVICE": "cuda"},
}
DRY_TESTS = ["tests/core/test_parity.py", "-k", "numpy and float32 and not Leaky"]
#: tests that need what a bare GPU machine may lack: deselected (and listed) when it is absent
NEEDS = [
    (
        "tests/cli/test_cli.py::test_train_save_evaluate_on_another_backend",
        "matplotlib",
        "`mlp train --plot` needs matplotlib, not installed here (carry it: .ci/gpu-pack --plot)",
    ),
    (
        "tests/io/test_datasets.py::test_downloads_fashion_mnist_from_its_own_folder",
        "fashion-mnist",
        "needs the Fashion-MNIST files, not in the data folder (carry them: .ci/gpu-pack --fashion)",
    ),
    (
        "tests/io/test_datasets.py::test_reads_from_MLP_DATA_DIR_without_network",
        "fashion-mnist",
        "needs the Fashion-MNIST files, not in the data folder (carry them: .ci/gpu-pack --fashion)",
    ),
]
CONFIGS = ("book", "mid", "wide")
GRACE = 10  # seconds a stopped step gets to write its summary (pytest's, after SIGINT) before SIGTERM
SAME_WITHIN = 2  # test samples that may flip between GPU and CPU float32 and still count as the same result


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


def say(*text):
    print("[gpu]", *text, flush=True)


class Proc:
    """One command of a step: its log, its time limit, how it ended."""

    def __init__(self, name, cmd, env, cwd, log):
        self.name, self.cmd, self.env, self.cwd, self.log = name, [str(c) for c in cmd], env, cwd, Path(log)
        self.rc = self.seconds = None
        self.timed_out = False
        self.popen = None
        self._file = None

    def start(self, extra_env):
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.log, "w", buffering=1)
        shown = " ".join(f"{k}={v}" for k, v in sorted(extra_env.items()))
        self._file.write(
            f"$ {shlex.join(self.cmd)}\n# cwd {self.cwd}\n# env {shown or '(unchanged)'}\n# started {now_iso()}\n"
        )
        self._file.flush()
        self.t0 = time.monotonic()
        self.popen = subprocess.Popen(
            self.cmd,
            env=self.env,
            cwd=self.cwd,
            stdout=self._file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        ACTIVE.add(self)

    @property
    def cut(self):
        """Stopped at its time limit (one that finished cleanly in its grace seconds was not cut)."""
        return self.timed_out and self.rc != 0

    def finish(self):
        self.rc = self.popen.poll()
        self.seconds = time.monotonic() - self.t0
        try:  # children it left behind (an xdist worker, an MPI rank) go with it
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        end = f"cut: stopped at its {self.limit:.0f} s, exit {self.rc}" if self.timed_out else f"exit {self.rc}"
        self._file.write(f"\n# {end} after {self.seconds:.1f} s\n")
        self._file.close()
        ACTIVE.discard(self)

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


ACTIVE: set = set()


def stop_all(procs, grace):
    """SIGINT to each process group (pytest writes its summary, `mlp train` saves), then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        alive = [p for p in procs if p.popen.poll() is None]
        if not alive:
            return
        for p in alive:
            try:
                os.killpg(p.popen.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        end = time.monotonic() + wait
        while time.monotonic() < end and any(p.popen.poll() is None for p in alive):
            time.sleep(0.1)


def run_all(procs, limit, extra_envs):
    """Start ``procs`` together and wait for them; those still running near ``limit`` seconds are stopped, with
    the last ``grace`` seconds of it to write what they have (so a cut step ends within its limit)."""
    limit = max(0.0, limit)
    grace = min(GRACE, max(3.0, 0.15 * limit))
    stop_at = time.monotonic() + max(0.0, limit - grace)
    for p, extra in zip(procs, extra_envs, strict=True):
        p.limit = limit
        p.start(extra)
    while any(p.popen.poll() is None for p in procs):
        if time.monotonic() >= stop_at:
            running = [p for p in procs if p.popen.poll() is None]
            for p in running:
                p.timed_out = True
            stop_all(running, grace)
            break
        time.sleep(0.2)
    for p in procs:
        p.finish()
    return procs


class Run:
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
        self.extra_path = []
        self.extra_env = {}
        self.pack_abs = Path(args.pack).absolute() if args.pack else None
        self.pack_shown = (
            os.path.relpath(self.pack_abs, ROOT)
            if self.pack_abs and str(self.pack_abs).startswith(str(ROOT) + os.sep)
            else "PACK"
        )
        self.report = {
            "dry_run": self.dry,
            "command": self.command_line(),
            "started": now_iso(),
            "finished": None,
            "budget_s": self.budget,
            "elapsed_s": 0.0,
            "steps": [],
            "warnings": [],
            "machine": {},
            "pack": {},
            "how": (
                "Reproduce: on the GPU machine, from the repository root, `bash .ci/gpu --pack .whl --out OUT` "
                "after `bash .ci/gpu-pack .whl` with network; on any CUDA machine with the packages installed, "
                "`bash .ci/gpu --out OUT`. The dry run: `bash .ci/gpu --dry-run --out OUT`."
            ),
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

    def command_line(self):
        """This run's command, with paths inside the repository relative to it (no machine's paths)."""

        def rel(a):
            return os.path.relpath(a, ROOT) if os.path.isabs(a) and a.startswith(str(ROOT) + os.sep) else a

        return "bash .ci/gpu " + shlex.join(rel(a) for a in sys.argv[1:])

    # -- time ------------------------------------------------------------------------------------
    def left(self):
        return self.deadline - time.monotonic()

    def window(self, name):
        """Seconds step ``name`` may use: what is left, less the shares of the steps after it."""
        later = sum(SHARES[s] * self.budget for s in self.steps[self.steps.index(name) + 1 :])
        return self.left() - later

    # -- environment -----------------------------------------------------------------------------
    def env(self, **extra):
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in (
                "MLP_BACKEND",
                "MLP_DEVICE",
                "CUPY_TF32",
                "PYTEST_XDIST_WORKER",
                "PYTEST_CURRENT_TEST",
                "PYTEST_ADDOPTS",
                "VIRTUAL_ENV",
            )
        }
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
        self._n += 1
        log = self.logs / f"{self._n:02d}-{name}.log"
        p = Proc(name, cmd, self.env(**extra), cwd or self.work, log)
        p.extra = {k: v for k, v in extra.items() if v is not None}
        return p

    def run(self, name, cmd, limit, cwd=None, **extra):
        p = self.proc(name, cmd, cwd, **extra)
        run_all([p], limit, [p.extra])
        return p

    def rel(self, path):
        return os.path.relpath(path, self.out)

    # -- the report ------------------------------------------------------------------------------
    def write_report(self):
        r = self.report
        r["elapsed_s"] = time.monotonic() - self.t0
        r["updated"] = now_iso()
        for name, text in (
            ("report.json", json.dumps(r, indent=1, default=str)),
            ("gpu.md", self.scrub(self._render())),
        ):
            tmp = self.out / (name + ".tmp")
            tmp.write_text(text + "\n")
            os.replace(tmp, self.out / name)

    def scrub(self, text):
        """The page without this machine's paths (it is meant to be committed as docs/gpu.md)."""
        pairs = [
            (self.out, "OUT"),
            (self.work, "WORK"),
            (self.data_root, "DATA"),
            (self.pack_abs, self.pack_shown),
            (ROOT, "."),
            (Path.home(), "~"),
        ]
        for path, name in sorted(((str(p), n) for p, n in pairs if p), key=lambda pn: -len(pn[0])):
            if len(path) > 1:
                text = text.replace(path, name)
        return text

    def _render(self):
        try:
            return gpu_report.render(self.report)
        except Exception:  # noqa: BLE001 -- the page must exist even when the renderer is broken
            return (
                "# GPU proof: the report could not be rendered\n\n```\n" + traceback.format_exc() + "```\n\n"
                "The record is in report.json."
            )

    # -- steps -----------------------------------------------------------------------------------
    def step(self, name, fn):
        rec = {
            "name": name,
            "title": TITLES[name],
            "status": "pending",
            "seconds": None,
            "timeout_s": None,
            "detail": "",
        }
        self.report["steps"].append(rec)
        if name not in self.steps:
            rec.update(status="skipped", detail="not in --steps")
            return rec
        window = self.window(name)
        if window < MIN_START[name]:
            rec.update(
                status="cut",
                detail=f"not started: {max(window, 0):.0f} s left for it, it needs at least {MIN_START[name]} s",
            )
            say(f"{name}: cut ({rec['detail']})")
            self.write_report()
            return rec
        rec.update(status="running", timeout_s=window)
        self.write_report()
        say(f"{name}: started, {window:.0f} s at most")
        t0 = time.monotonic()
        try:
            fn(rec, t0 + window)
        except KeyboardInterrupt:
            rec.update(status="interrupted", detail="the run itself was interrupted")
            raise
        except Exception as e:  # noqa: BLE001 -- a broken step is recorded; the next one runs
            rec.update(status="error", detail=f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
            with open(self.logs / f"{name}-traceback.log", "w") as f:
                f.write(traceback.format_exc())
        finally:
            rec["seconds"] = time.monotonic() - t0
            say(
                f"{name}: {rec['status']} after {rec['seconds']:.0f} s"
                + (f" ({rec['detail']})" if rec["detail"] else "")
            )
            self.write_report()
        return rec

    # 1. setup ------------------------------------------------------------------------------------
    def setup(self, rec, end):
        a, problems = self.args, []
        pack = Path(a.pack).absolute() if a.pack else None
        wheels = []
        if pack:
            wheels = sorted((pack / "wheels").glob("*.whl")) or sorted(pack.glob("*.whl"))
            manifest = {}
            try:
                manifest = json.loads((pack / "manifest.json").read_text())
            except (OSError, ValueError):
                problems.append(f"{pack}: no readable manifest.json (not made by .ci/gpu-pack?)")
            files = [f for f in pack.rglob("*") if f.is_file()]
            self.report["pack"] = {
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
        self.report["data_root"] = str(self.data_root) if self.data_root else None

        own = [w for w in wheels if w.name.startswith(gpu_pack.PROJECT + "-")]
        if pack and not own:
            problems.append("the pack has no wheel of this project")
        if own:
            stale = gpu_pack.compare_wheel_to_tree(own[-1], ROOT)
            source = f"the pack's {own[-1].name}"
            if stale:
                say(f"setup: {own[-1].name} differs from the working tree ({len(stale)} files): rebuilding it")
                (self.logs / "wheel-vs-tree.log").write_text("\n".join(stale) + "\n")
                try:
                    fresh = gpu_pack.build_project_wheel(self.work / "wheels", ROOT, self.python, offline=True)
                    wheels = [w for w in wheels if w not in own] + [fresh]
                    source = f"{fresh.name} rebuilt here from the working tree (the pack's differed: {stale[0]})"
                    again = gpu_pack.compare_wheel_to_tree(fresh, ROOT)
                    if again:
                        self.report["warnings"].append(
                            f"the wheel built from this tree is not the tree: {again[0]} "
                            "(a module pyproject.toml does not package?)"
                        )
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    source = f"the pack's {own[-1].name}, STALE: {stale[0]} (rebuilding failed: {e})"
                    self.report["warnings"].append(
                        f"this project's wheel is not the working tree's ({stale[0]}; "
                        f"{len(stale)} files in logs/wheel-vs-tree.log): rebuild the pack"
                    )
            self.report["machine"]["mlp"] = {"source": source}
        self.report["machine"].setdefault("mlp", {"source": "the pack's wheels, none of them this project's"})

        if wheels:
            self.make_env(wheels, end, problems)
        else:
            self.report["machine"]["mlp"] = {
                "source": "the packages of the Python that ran .ci/gpu (no --pack)",
                "python": self.python,
            }
        self.mlp = self.mlp_command()

        p = self.run(
            "mlp-version",
            [self.python, "-c", "import mlp; print(mlp.__version__); print(mlp.__file__)"],
            min(60, end - time.monotonic()),
        )
        lines = [line for line in p.text().splitlines() if not line.startswith("#") and line.strip()]
        if p.rc == 0 and len(lines) >= 2:
            self.report["machine"]["mlp"].update(version=lines[-2], file=lines[-1])
        else:
            problems.append(f"`import mlp` failed in the run's environment (log {self.rel(p.log)})")
        p = self.run("mlp-info", self.mlp + ["info"], min(90, end - time.monotonic()))
        self.report["machine"]["mlp_info"] = [line for line in p.text().splitlines()[4:] if not line.startswith("# ")]
        if p.rc != 0:
            problems.append(f"`mlp info` failed (log {self.rel(p.log)})")

        self.versions(end)
        gpu = self.report["machine"].get("devices", {})
        for lib in self.gpu_libs():
            if gpu.get(lib, {}).get("error"):
                problems.append(f"{lib}: {gpu[lib]['error']}")
        if not self.dry:  # each library must see the GPU, or its suite proves nothing about one
            if gpu.get("torch") and "available" in gpu["torch"] and not gpu["torch"]["available"]:
                problems.append(f"torch {gpu['torch'].get('version')} sees no CUDA device")
            if gpu.get("jax") and gpu["jax"].get("default_backend") not in (None, "gpu", "cuda"):
                problems.append(
                    f"JAX's devices are {', '.join(gpu['jax'].get('devices', []))}: no GPU (its CUDA plugin missing?)"
                )
            if gpu.get("cupy") and gpu["cupy"].get("count") == 0:
                problems.append("CuPy sees no CUDA device")
        rec["status"] = "fail" if problems else "pass"
        rec["detail"] = "; ".join(problems)
        base = self.env()
        changed = {k: v for k, v in base.items() if os.environ.get(k) != v}
        (self.logs / "environment.log").write_text(
            f"python {self.python}\nmlp {shlex.join(self.mlp)}\n"
            + "".join(f"{k}={v}\n" for k, v in sorted(changed.items()))
            + "".join(f"unset {k}\n" for k in sorted(set(os.environ) - set(base)))
        )
        for line in self.summary_lines():
            say(line)

    def gpu_libs(self):
        return ["numpy"] if self.dry else ["cupy", "jax", "torch"]

    def make_env(self, wheels, end, problems):
        """A venv of its own over this Python's packages (a .pth file), the wheels installed into it."""
        import site

        env_dir = self.work / "env"
        p = self.run(
            "venv", [self.python, "-m", "venv", "--without-pip", "--clear", env_dir], min(60, end - time.monotonic())
        )
        py = env_dir / "bin" / "python"
        if p.rc != 0 or not py.exists():
            problems.append(f"could not make a virtual environment (log {self.rel(p.log)}); using this Python as it is")
            return
        purelib = Path(_output([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
        if not purelib.is_absolute():
            problems.append("the virtual environment's Python does not run; using this Python as it is")
            return
        # This Python's site folders, in its own order (sys.path's), become the venv's, after the venv's own; and
        # its site prefixes join site.PREFIXES, so that site.getsitepackages() lists them too: CuPy finds the CUDA
        # libraries of the nvidia-* wheels through it (cuda-pathfinder), as it would outside the venv.
        known = {*site.getsitepackages(), site.getusersitepackages() if site.ENABLE_USER_SITE else None}
        dirs = []
        for d in [*sys.path, *sorted(d for d in known if d)]:
            if (
                d
                and (d in known or "site-packages" in d or "dist-packages" in d)
                and os.path.isdir(d)
                and d not in dirs
            ):
                dirs.append(d)
        prefixes = [p for p in dict.fromkeys(site.PREFIXES) if p and p != str(env_dir)]
        purelib.mkdir(parents=True, exist_ok=True)
        (purelib / "_mlp_gpu_machine.pth").write_text(  # one line: a .pth file runs lines, not blocks
            f"import site; site.PREFIXES[1:1] = {prefixes!r}; list(map(site.addsitedir, {dirs!r}))\n"
        )
        self.report["machine"]["site_dirs"] = dirs
        p = self.run(
            "pip-install",
            [
                py,
                "-m",
                "pip",
                "install",
                "--no-index",
                "--no-deps",
                "--ignore-installed",
                "--disable-pip-version-check",
                "--no-warn-script-location",
                *wheels,
            ],
            min(120, end - time.monotonic()),
        )
        if p.rc != 0:
            if "No module named pip" not in p.text():
                problems.append(f"pip install failed (log {self.rel(p.log)})")
                return
            self.unpack(wheels, purelib, env_dir / "bin", py)
        self.python = str(py)
        # and what lives beside this Python outside site-packages: its commands (mpiexec of the mpich wheel) on
        # PATH after the venv's, and the MPI library of that wheel, which mpi4py looks for under sys.prefix
        self.extra_path = [str(env_dir / "bin"), str(Path(sys.executable).parent)]
        libs = [str(Path(p) / "lib") for p in prefixes if list((Path(p) / "lib").glob("libmpi*.so*"))]
        if libs:
            self.extra_env["LD_LIBRARY_PATH"] = os.pathsep.join(
                libs + [v for v in [os.environ.get("LD_LIBRARY_PATH")] if v]
            )

    def unpack(self, wheels, purelib, bindir, py):
        """No pip: a wheel is a zip file; unpack it and write its console scripts (enough for pure-Python ones)."""
        import configparser
        import zipfile

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
                            f"#!{py}\nimport sys\nfrom {module.strip()} import {func.strip()}\n"
                            f"sys.exit({func.strip()}())\n"
                        )
                        script.chmod(0o755)
        (self.logs / "unpacked.log").write_text("pip was missing: unpacked " + ", ".join(w.name for w in wheels) + "\n")

    def versions(self, end):
        m = self.report["machine"]
        m["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        try:
            with open("/proc/cpuinfo") as f:
                m["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
        except OSError:
            pass
        probe = [self.python, HERE / "gpu_probe.py"]
        p = self.run("versions", probe + ["versions"], min(60, end - time.monotonic()))
        m["versions"] = _probe_json(p) or {}
        smi = shutil.which("nvidia-smi")
        if smi:
            p = self.run("nvidia-smi", [smi], min(30, end - time.monotonic()))
            head = p.text()
            cuda = re.search(r"CUDA Version:\s*([\d.]+)", head)
            q = _output([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
            fields = [f.strip() for f in (q.splitlines() or [""])[0].split(",")]
            m["nvidia_smi"] = {
                "name": fields[0] if fields[0] else None,
                "driver": fields[1] if len(fields) > 1 else None,
                "memory": fields[2] if len(fields) > 2 else None,
                "cuda": cuda.group(1) if cuda else None,
                "gpus": len(q.splitlines()),
            }
        elif not self.dry:
            self.report["warnings"].append("no nvidia-smi on PATH: the driver version is CuPy's report only")
        m["devices"] = {}
        for lib in self.gpu_libs():
            p = self.run(f"device-{lib}", probe + ["device", lib], min(90, end - time.monotonic()))
            m["devices"][lib] = _probe_json(p) or {"error": _last_line(p)}

    def summary_lines(self):
        lines = []
        for k, v in gpu_report._machine_rows(self.report):
            lines.append(f"{k}: {v}")
        return lines

    # 2. tests ------------------------------------------------------------------------------------
    def tests(self, rec, end):
        a = self.args
        labels = [s for s in SUITES if s in a.suites]
        xdist = _output([self.python, "-c", "import xdist; print('yes')"]).strip() == "yes"
        jobs = a.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
        workers = max(1, jobs // max(1, len(labels))) if xdist else 1
        threads = str(max(1, jobs // (len(labels) * workers)))
        deselected = []
        have_plot = _output([self.python, "-c", "import matplotlib; print('yes')"]).strip() == "yes"
        have_fashion = bool(self.data_root) and all(
            (Path(self.data_root) / "fashion-mnist" / f).is_file() for f in gpu_pack.MNIST_FILES
        )
        for test, need, why in NEEDS:
            if (need == "matplotlib" and not have_plot) or (need == "fashion-mnist" and not have_fashion):
                deselected.append({"test": test, "why": why})
        base = [
            self.python,
            "-m",
            "pytest",
            "-q",
            "-rfE",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            "--ignore=tests/tools/test_gpu_script.py",
            "--durations=15",
        ]
        if workers > 1:
            base += ["-n", str(workers)]
        for d in deselected:
            base += ["--deselect", d["test"]]
        selection = shlex.split(a.select) if a.select is not None else (DRY_TESTS if self.dry else [])
        how = (
            f"{workers} pytest-xdist workers each, the {len(labels)} suites at once"
            if workers > 1
            else f"serially ({'pytest-xdist is not installed' if not xdist else 'one core each'}), the "
            f"{len(labels)} suites at once"
        )
        if self.dry:
            how += "; dry run: NumPy stands in for each GPU backend"
        if selection:
            how += "; only " + shlex.join(selection)
        self.report["tests_setup"] = {
            "command": shlex.join(["python"] + base[1:]).replace(self.python, "python"),
            "how": how,
            "deselected": deselected,
            "xdist": xdist,
            "workers": workers,
        }
        procs, extras = [], []
        for label in labels:
            suite_env = {"MLP_BACKEND": "numpy"} if self.dry else dict(SUITES[label])
            extra = {
                **suite_env,
                "OMP_NUM_THREADS": threads,
                "OPENBLAS_NUM_THREADS": threads,
                "MKL_NUM_THREADS": threads,
                "COLUMNS": "400",
            }  # wide: the summary keeps each failure's message
            junit = self.logs / f"pytest-{label}.xml"
            p = self.proc(f"pytest-{label}", base + [f"--junitxml={junit}"] + selection, cwd=ROOT, **extra)
            p.junit, p.label, p.suite_env = junit, label, suite_env
            procs.append(p)
            extras.append(p.extra)
        self.report["tests"] = {
            p.label: {
                "env": " ".join(f"{k}={v}" for k, v in p.suite_env.items()),
                "status": "running",
                "log": self.rel(p.log),
            }
            for p in procs
        }
        self.write_report()
        run_all(procs, end - time.monotonic(), extras)
        worst = "pass"
        for p in procs:
            parsed = gpu_report.parse_pytest(p.text(), p.junit)
            status = "cut" if p.cut else "pass" if p.rc == 0 else "fail" if p.rc == 1 else "error"
            detail = ""
            if p.cut:
                detail = f"stopped after {p.seconds:.0f} s (its time limit): the counts are what ran before"
            elif p.rc not in (0, 1):
                detail = {5: "pytest collected no tests"}.get(p.rc, f"pytest exit status {p.rc}: {_last_line(p)}")
            self.report["tests"][p.label].update(
                status=status,
                counts=parsed["counts"],
                source=parsed["source"],
                failures=parsed["failures"],
                seconds=p.seconds,
                rc=p.rc,
                summary=parsed["summary"],
                detail=detail,
            )
            worst = _worse(worst, status)
        rec["status"] = worst
        rec["detail"] = "; ".join(
            f"{label}: {s.get('summary') or s['status']}" for label, s in self.report["tests"].items()
        )

    # 3. bench ------------------------------------------------------------------------------------
    def bench(self, rec, end):
        a = self.args
        configs = [c for c in CONFIGS if c in a.configs]
        reserve, probes_reserve = 15.0, 20.0  # seconds kept for each configuration still to come, and the probes
        statuses = []
        if self.dry:
            plan = [("numpy", "off", ["--sizes", "256", "--repeat", "3"])]
            tf32 = (
                "Dry run: NumPy on the CPU stands in for every GPU library (no TF32 there); the bench rows are "
                "NumPy's and PyTorch's on the CPU."
            )
        else:  # CuPy reads CUPY_TF32 once, at import: one process per setting
            plan = [("cupy", "off", []), ("cupy", "on", []), ("torch", "off,on", []), ("jax", "off,on", [])]
            tf32 = (
                "**TF32: off in the bench tables.** `mlp bench` sets PyTorch's `allow_tf32 = False` and "
                "`CUPY_TF32=0`, and this run sets `JAX_DEFAULT_MATMUL_PRECISION=highest` for it, so every float32 "
                "product is a full float32 one, on mlp's rows and PyTorch eager's alike. **TF32 on** is measured "
                "for the matrix products alone (the right-hand column below: PyTorch "
                "`set_float32_matmul_precision('high')`, `CUPY_TF32=1`, JAX's default precision). The test suites "
                "ran with each library's defaults."
            )
        self.report["bench_setup"] = {"tf32": tf32}
        self.report["bench"] = {}
        for i, c in enumerate(configs):
            limit = end - time.monotonic() - reserve * (len(configs) - i - 1) - probes_reserve
            if limit < 10:
                self.report["bench"][c] = {"status": "cut", "detail": f"not started: {max(limit, 0):.0f} s left"}
                statuses.append("cut")
                continue
            js = self.logs / f"bench-{c}.json"
            if self.dry:
                args = [
                    "bench",
                    "--configs",
                    c,
                    "--backends",
                    "numpy",
                    "--baselines",
                    "pytorch",
                    "--samples",
                    "2000",
                    "--epochs",
                    "1",
                    "--warmup",
                    "0",
                    "--matmul-size",
                    "128",
                    "--json",
                    js,
                ]
                extra = {"MLP_BACKEND": "numpy"}
            else:
                args = [
                    "bench",
                    "--configs",
                    c,
                    "--backends",
                    "cupy,jax,torch",
                    "--baselines",
                    "pytorch",
                    "--epochs",
                    str(a.bench_epochs),
                    "--warmup",
                    "1",
                    "--json",
                    js,
                ]
                extra = {"MLP_BACKEND": "torch", "MLP_DEVICE": "cuda", "JAX_DEFAULT_MATMUL_PRECISION": "highest"}
            p = self.run(f"bench-{c}", self.mlp + args, limit, **extra)
            data = gpu_report.read_bench(js) if p.rc == 0 else None
            status = "cut" if p.cut else "pass" if (p.rc == 0 and data) else "fail"
            statuses.append(status)
            shown = (
                " ".join(f"{k}={v}" for k, v in extra.items())
                + " mlp "
                + shlex.join([str(x) for x in args]).replace(str(js), self.rel(js))
            )
            self.report["bench"][c] = {
                "status": status,
                "seconds": p.seconds,
                "log": self.rel(p.log),
                "json": data,
                "command": shown,
                "detail": (
                    f"stopped after {p.seconds:.0f} s (its time limit)"
                    if p.cut
                    else ""
                    if status == "pass"
                    else _last_line(p)
                ),
            }
            self.write_report()
        results = {}
        probe = [self.python, HERE / "gpu_probe.py", "matmul"]
        for lib, settings, extra_args in plan:
            entry = results.setdefault(lib, {"lib": lib})
            limit = min(60.0, end - time.monotonic())
            if limit < 5:
                entry["error"] = "cut: no time left for the matrix-product probe"
                statuses.append("cut")
                continue
            p = self.run(
                f"matmul-{lib}-tf32-{settings.replace(',', '-')}",
                probe + [lib, "--tf32", settings] + extra_args,
                limit,
                **({"CUPY_TF32": None} if lib == "cupy" else {}),
            )
            got = _probe_json(p)
            if got:
                entry["device"] = got.get("device")
                for tf, rates in got.get("rates", {}).items():
                    entry[tf] = rates
            else:
                entry["error"] = ("cut: " if p.cut else "") + _last_line(p)
                statuses.append("cut" if p.cut else "fail")
            self.report["matmul"] = list(results.values())
        worst = "pass"
        for s in statuses:
            worst = _worse(worst, s)
        rec["status"] = worst
        rec["detail"] = "; ".join(
            [f"{c}: {b['status']}" for c, b in self.report["bench"].items()]
            + [f"matmul {e['lib']}: {e['error']}" for e in results.values() if e.get("error")]
        )

    # 4. MNIST ------------------------------------------------------------------------------------
    def mnist(self, rec, end):
        a = self.args
        gpu = "numpy" if self.dry else "cupy"
        label = "NumPy (standing in for CuPy)" if self.dry else "CuPy"
        mn = self.report["mnist"] = {"backend": gpu, "label": label, "verdict": "none", "commands": []}
        if not self.data_root or not all((Path(self.data_root) / "mnist" / f).is_file() for f in gpu_pack.MNIST_FILES):
            rec.update(status="fail", detail=f"no MNIST files in {self.data_root}/mnist (carry them: .ci/gpu-pack)")
            mn["verdict"] = "not run: no MNIST files"
            return
        ckpt = self.work / "mnist.safetensors"
        ckpt.unlink(missing_ok=True)
        data = ["--data-dir", str(self.data_root)]
        epochs = a.epochs if a.epochs is not None else (1 if self.dry else 3)
        train = ["train", "--data", "mnist", "--epochs", str(epochs), "--save", str(ckpt), "--quiet", "--seed", "0"]
        if self.dry:
            train += ["--sizes", "784,32,10"]  # a small network: seconds on two cores
        reserve = 12.0
        runs = [
            ("train", train + data, {"MLP_BACKEND": gpu}, 2 * reserve),
            ("eval_gpu", ["evaluate", str(ckpt), "--quiet"] + data, {"MLP_BACKEND": gpu}, reserve),
            (
                "eval_cpu",
                ["evaluate", str(ckpt), "--backend", "numpy", "--quiet"] + data,
                {"MLP_BACKEND": None, "MLP_DEVICE": None},
                0.0,
            ),
        ]
        statuses = []
        for key, args, extra, keep in runs:
            shown = (
                " ".join(f"{k}={v}" for k, v in extra.items() if v)
                + (" " if any(extra.values()) else "")
                + "mlp "
                + shlex.join(args).replace(str(ckpt), "mnist.safetensors").replace(str(self.data_root), "DATA")
            )
            mn["commands"].append(shown)
            limit = end - time.monotonic() - keep
            if key != "train" and not ckpt.exists():
                mn[key] = {"status": "skipped", "backend": extra.get("MLP_BACKEND") or "numpy"}
                continue
            if limit < 8:
                mn[key] = {"status": "cut", "backend": extra.get("MLP_BACKEND") or "numpy"}
                statuses.append("cut")
                continue
            p = self.run(f"mnist-{key}", self.mlp + args, limit, **extra)
            text = p.text()
            if key == "train":
                m = re.findall(r"^test accuracy (\d+\.\d+)", text, re.M)
                backend = re.findall(r"backend (\w+) \(", text)
            else:
                m = re.findall(r"backend (\w+): accuracy (\d+\.\d+)", text)
                backend = [b for b, _ in m]
                m = [acc for _, acc in m]
            samples = re.findall(r"\((\d+) samples\)", text)
            status = "cut" if p.cut else "pass" if (p.rc == 0 and m) else "fail"
            statuses.append(status)
            mn[key] = {
                "status": status,
                "accuracy": float(m[-1]) if m else None,
                "text": m[-1] if m else None,
                "backend": backend[-1] if backend else (extra.get("MLP_BACKEND") or "numpy"),
                "samples": int(samples[-1]) if samples else None,
                "seconds": p.seconds,
                "log": self.rel(p.log),
                "last_line": _last_line(p),
            }
            self.write_report()
        g, c = mn.get("eval_gpu", {}), mn.get("eval_cpu", {})
        if g.get("text") and c.get("text"):
            n = c.get("samples") or 10000
            flips = round(abs(g["accuracy"] - c["accuracy"]) * n)
            if g["text"] == c["text"]:
                mn["verdict"] = (
                    f"the same test accuracy, {c['text']}, evaluated with {g['backend']} and with NumPy on the CPU"
                )
            elif flips <= SAME_WITHIN:
                mn["verdict"] = (
                    f"{g['text']} on {g['backend']}, {c['text']} on NumPy: {flips} of {n:,} test samples "
                    "flip between the GPU's and the CPU's float32 rounding"
                )
            else:
                mn["verdict"] = f"DIFFERENT: {g['text']} on {g['backend']}, {c['text']} on NumPy ({flips} samples)"
                statuses.append("fail")
            t = mn.get("train", {})
            if t.get("text") and t["text"] != g["text"]:
                mn["verdict"] += f" (mlp train reported {t['text']})"
        else:
            mn["verdict"] = "no comparison: " + ", ".join(
                f"{k} {mn.get(k, {}).get('status', 'not run')}" for k in ("train", "eval_gpu", "eval_cpu")
            )
            statuses.append("fail")
        if mn.get("train", {}).get("status") == "cut" and ckpt.exists():
            mn["verdict"] += " (training was cut; the checkpoint of its last whole epoch was evaluated)"
        worst = "pass"
        for s in statuses:
            worst = _worse(worst, s)
        rec.update(status=worst, detail=mn["verdict"])

    # -- all -------------------------------------------------------------------------------------
    def main(self):
        say(f"{'DRY RUN: ' if self.dry else ''}budget {self.budget:.0f} s; report in {self.out}; work in {self.work}")
        self.write_report()
        try:
            for name in STEPS:
                self.step(name, getattr(self, name))
        except KeyboardInterrupt:
            self.report["warnings"].append("the run was interrupted (SIGINT/SIGTERM): later steps did not run")
            running = list(ACTIVE)
            for p in running:
                p.timed_out = True
            stop_all(running, 3.0)
            for p in running:
                p.finish()
        finally:
            self.report["finished"] = now_iso()
            self.write_report()
            if not self.args.keep_work and not self.args.work:
                shutil.rmtree(self.work, ignore_errors=True)
        bad = [s for s in self.report["steps"] if s["status"] not in ("pass", "skipped")]
        say(
            f"done in {time.monotonic() - self.t0:.0f} s: "
            + ", ".join(f"{s['name']} {s['status']}" for s in self.report["steps"])
        )
        for label, s in self.report.get("tests", {}).items():
            say(f"  tests {label}: {s.get('summary') or s.get('status')}")
        for line in self.report.get("mnist", {}).get("verdict", "").splitlines():
            say(f"  mnist: {line}")
        say(f"report: {self.out / 'gpu.md'}")
        return 1 if bad else 0


def _worse(a, b):
    order = ["pass", "skipped", "cut", "fail", "error", "interrupted"]
    return a if order.index(a) >= order.index(b) else b


def _output(cmd, timeout=60):
    """What ``cmd`` prints, or "" when it fails, hangs or cannot start."""
    try:
        return subprocess.run(
            [str(c) for c in cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _probe_json(p):
    for line in reversed(p.text().splitlines()):
        if line.startswith("PROBE "):
            try:
                return json.loads(line[6:])
            except ValueError:
                return None
    return None


def _last_line(p):
    """The last line the command printed (not the log's own header and footer)."""
    lines = [line for line in p.text().splitlines()[4:] if line.strip() and not line.startswith("# ")]
    return (lines[-1].strip() if lines else f"exit {p.rc}")[:300]


def _csv(choices):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(choices)}, got {text!r}")
        return items

    return parse


def parse_args(argv=None):
    doc = __doc__
    p = argparse.ArgumentParser(
        prog=".ci/gpu",
        description=doc.split("\n\n")[0],
        epilog=doc.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, help="folder for gpu.md, report.json and logs/ (created)")
    p.add_argument(
        "--pack",
        help="the folder .ci/gpu-pack made (wheels/, data/): installed into a virtual "
        "environment of the run's own; without it, this Python's packages are used "
        "as they are",
    )
    p.add_argument("--dry-run", action="store_true", help="the same steps on the CPU, NumPy standing in for the GPU")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help=f"seconds for the whole run (default {BUDGET:.0f}; dry run {DRY_BUDGET:.0f}); each step gets "
        f"its share ({', '.join(f'{k} {v * 100:.0f}%%' for k, v in SHARES.items())}) plus what earlier "
        "steps left",
    )
    p.add_argument(
        "--steps",
        type=_csv(STEPS),
        default=list(STEPS),
        help=f"comma-separated subset of {','.join(STEPS)} (default: all)",
    )
    p.add_argument("--suites", type=_csv(list(SUITES)), default=list(SUITES), help="test suites to run (default: all)")
    p.add_argument("--configs", type=_csv(CONFIGS), default=list(CONFIGS), help="bench configurations (default: all)")
    p.add_argument("--jobs", type=int, default=None, help="CPU cores to use for the tests (default: all)")
    p.add_argument("--epochs", type=int, default=None, help="MNIST training epochs (default 3; dry run: 1)")
    p.add_argument("--bench-epochs", type=int, default=3, help="timed epochs per bench contender (default 3)")
    p.add_argument(
        "--data-dir",
        help="data root holding mnist/ (default: the pack's data/, else $MLP_DATA_DIR, else ../shared/data)",
    )
    p.add_argument(
        "--select",
        default=None,
        metavar="PYTEST_ARGS",
        help="pytest arguments choosing the tests, e.g. for a second run of what failed: "
        "'tests/core/test_parity.py -k cupy' (default: the whole suite, slow tests left out; dry run: "
        f"{shlex.join(DRY_TESTS)})",
    )
    p.add_argument("--work", help="folder for the environment and the checkpoint (default: a temporary one, removed)")
    p.add_argument("--keep-work", action="store_true", help="keep the temporary work folder")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    return Run(args).main()


if __name__ == "__main__":
    sys.exit(main())
