"""Step 2 of the GPU proof, tests: `python -m pytest -m "not slow"` once per GPU backend, the suites at once, each
in pytest-xdist workers where installed, so that every parity test compares a GPU backend with NumPy."""

from __future__ import annotations

import os
import shlex
import time

from .plan import DRY_TESTS, NEEDS, ROOT, SUITES, has_mnist, worst
from .procs import output, run_all
from .readback import parse_pytest


def tests(ctx, rec, end):
    labels = [s for s in SUITES if s in ctx.args.suites]
    base, threads = pytest_command(ctx, labels)
    procs = []
    for label in labels:
        suite_env = {"MLP_BACKEND": "numpy"} if ctx.dry else dict(SUITES[label])
        extra = {
            **suite_env,
            "OMP_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "COLUMNS": "400",
        }  # wide: the summary keeps each failure's message
        junit = ctx.logs / f"pytest-{label}.xml"
        p = ctx.proc(f"pytest-{label}", base + [f"--junitxml={junit}"] + selection(ctx), cwd=ROOT, **extra)
        p.junit, p.label, p.suite_env = junit, label, suite_env
        procs.append(p)
    ctx.report["tests"] = {
        p.label: {
            "env": " ".join(f"{k}={v}" for k, v in p.suite_env.items()),
            "status": "running",
            "log": ctx.rel(p.log),
        }
        for p in procs
    }
    ctx.write_report()
    run_all(procs, end - time.monotonic())
    for p in procs:
        read_suite(ctx, p)
    rec["status"] = worst(ctx.report["tests"][p.label]["status"] for p in procs)
    rec["detail"] = "; ".join(f"{label}: {s.get('summary') or s['status']}" for label, s in ctx.report["tests"].items())


def selection(ctx):
    """The tests chosen: --select's, else the dry run's few, else the whole suite."""
    return shlex.split(ctx.args.select) if ctx.args.select is not None else (DRY_TESTS if ctx.dry else [])


def deselected(ctx):
    """The tests in ``NEEDS`` whose need this machine lacks, each with why."""
    have_plot = output([ctx.python, "-c", "import matplotlib; print('yes')"]).strip() == "yes"
    have_fashion = has_mnist(ctx.data_root, "fashion-mnist")
    return [
        {"test": test, "why": why}
        for test, need, why in NEEDS
        if (need == "matplotlib" and not have_plot) or (need == "fashion-mnist" and not have_fashion)
    ]


def pytest_command(ctx, labels):
    """pytest's command line, common to the suites, and the BLAS threads of each; its setup in the report."""
    xdist = output([ctx.python, "-c", "import xdist; print('yes')"]).strip() == "yes"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs = ctx.args.jobs or cores
    workers = max(1, jobs // max(1, len(labels))) if xdist else 1
    threads = str(max(1, jobs // (len(labels) * workers)))
    skip = deselected(ctx)
    base = [ctx.python, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-m", "not slow"]
    base += ["--ignore=tests/tools/test_gpu_script.py", "--durations=15"]
    if workers > 1:
        base += ["-n", str(workers)]
    for d in skip:
        base += ["--deselect", d["test"]]
    how = (
        f"{workers} pytest-xdist workers each, the {len(labels)} suites at once"
        if workers > 1
        else f"serially ({'pytest-xdist is not installed' if not xdist else 'one core each'}), the "
        f"{len(labels)} suites at once"
    )
    if ctx.dry:
        how += "; dry run: NumPy stands in for each GPU backend"
    if selection(ctx):
        how += "; only " + shlex.join(selection(ctx))
    ctx.report["tests_setup"] = {
        "command": shlex.join(["python"] + base[1:]).replace(ctx.python, "python"),
        "how": how,
        "deselected": skip,
        "xdist": xdist,
        "workers": workers,
    }
    return base, threads


def read_suite(ctx, p):
    """One suite's outcome, counts and failures, read back from its log and junit XML, into the report."""
    parsed = parse_pytest(p.text(), p.junit)
    status = "cut" if p.cut else "pass" if p.rc == 0 else "fail" if p.rc == 1 else "error"
    detail = ""
    if p.cut:
        detail = f"stopped after {p.seconds:.0f} s (its time limit): the counts are what ran before"
    elif p.rc not in (0, 1):
        detail = {5: "pytest collected no tests"}.get(p.rc, f"pytest exit status {p.rc}: {p.last_line()}")
    ctx.report["tests"][p.label].update(
        status=status,
        counts=parsed["counts"],
        source=parsed["source"],
        failures=parsed["failures"],
        seconds=p.seconds,
        rc=p.rc,
        summary=parsed["summary"],
        detail=detail,
    )
