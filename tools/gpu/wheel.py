"""This project's wheel for the GPU proof: built from the working tree, and checked against it (a pack built before
the last edit must not prove an older tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .plan import ROOT

PROJECT = "mlp_arrayapi"  # the wheel's file-name prefix (the distribution mlp-arrayapi)
#: folders the walk leaves out where git cannot list the tree
SKIP = {
    ".git",
    ".whl",
    "build",
    "dist",
    "__pycache__",
    ".venv",
    "venv",
    ".pytest_cache",
    ".hypothesis",
    "runs",
    "shared",
}


def say(*text):
    print(*text, flush=True)


def tree_files(root=ROOT):
    """The working tree's files that travel: git's tracked and untracked-but-not-ignored ones, else a walk."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=60,
            check=True,
        ).stdout
        files = [f for f in out.decode().split("\0") if f]
        return [f for f in files if (root / f).is_file()]
    except (OSError, subprocess.SubprocessError):
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP and not d.endswith(".egg-info")]
            files += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames]
        return files


def _setuptools_ok(python):
    r = subprocess.run(
        [python, "-c", "import setuptools; print(setuptools.__version__)"], capture_output=True, text=True, timeout=60
    )
    try:
        return r.returncode == 0 and int(r.stdout.strip().split(".")[0]) >= 68
    except ValueError:
        return False


def build_project_wheel(dest, root=ROOT, python=sys.executable, offline=False, log=say):
    """This project's wheel, built into ``dest`` from a clean copy of the tree (no stale build/ can leak in).

    Offline (or where setuptools>=68 is installed) without build isolation; otherwise pip fetches setuptools.
    Returns the wheel's path; raises RuntimeError with pip's last lines when it fails.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlp-wheel-") as tmp:
        src = Path(tmp) / "src"
        for f in tree_files(root):
            target = src / f
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / f, target)
        out = Path(tmp) / "out"
        base = [python, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", "-w", str(out)]
        attempts = []
        if offline or _setuptools_ok(python):
            attempts.append(base + ["--no-index", "--no-build-isolation", str(src)])
        if not offline:
            attempts.append(base + [str(src)])
        errors = []
        for cmd in attempts:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            wheels = sorted(out.glob(f"{PROJECT}-*.whl"))
            if r.returncode == 0 and wheels:
                final = dest / wheels[-1].name
                shutil.copy2(wheels[-1], final)
                return final
            errors.append(" ".join(cmd[3:5]) + ": " + " | ".join((r.stdout + r.stderr).strip().splitlines()[-3:]))
        raise RuntimeError("could not build this project's wheel: " + "; ".join(errors))


def compare_wheel_to_tree(wheel, root=ROOT):
    """Where the wheel and the working tree disagree: ``[]`` when every module is the tree's own.

    A wheel path is matched to the tree as it is, or with leading folders dropped (setuptools' package-dir:
    ``mlp/backends/x.py`` comes from ``backends/x.py``); a ``.py`` file of a matched tree folder that the wheel
    lacks is reported too (a new module, or a package missing from pyproject's list).
    """
    root = Path(root)
    problems, mapped, tops = [], set(), set()
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            parts = name.split("/")
            if name.endswith("/") or parts[0].endswith((".dist-info", ".data")):
                continue
            cand = _in_tree(root, parts)
            if cand is None:
                problems.append(f"{name}: in the wheel, not in the tree")
                continue
            mapped.add(cand.resolve())
            tops.add(cand.relative_to(root).parts[0])
            if cand.read_bytes() != z.read(name):
                problems.append(f"{name}: differs from the tree's {cand.relative_to(root).as_posix()}")
    for top in sorted(tops):
        folder = root / top
        if not folder.is_dir():
            continue
        for p in sorted(folder.rglob("*.py")):
            if "__pycache__" not in p.parts and p.resolve() not in mapped:
                problems.append(f"{p.relative_to(root).as_posix()}: in the tree, not in the wheel")
    return problems


def _in_tree(root, parts):
    """The tree's file a wheel path comes from: the path as it is, else with leading folders dropped; or None."""
    for k in range(max(1, len(parts) - 1)):
        cand = root.joinpath(*parts[k:])
        if cand.is_file():
            return cand
    return None
