"""The GPU proof's orchestrator: each step within its window of the budget, recorded whatever happens to it, the
report rewritten after each; a step that fails is recorded and the next one runs."""

from __future__ import annotations

import shutil
import time
import traceback

from .context import Context
from .plan import MIN_START, STEPS, TITLES
from .procs import now_iso, say, stop_active
from .step_bench import bench
from .step_mnist import mnist
from .step_setup import setup
from .step_tests import tests

#: each step: a function of (context, its record, the monotonic time it must end by)
STEP_FUNCTIONS = {"setup": setup, "tests": tests, "bench": bench, "mnist": mnist}


def step(ctx, name, fn):
    """Run step ``name`` within its window, or record why it did not run; an exception in it is recorded (its
    traceback in logs/) and the run goes on."""
    rec = {"name": name, "title": TITLES[name], "status": "pending", "seconds": None, "timeout_s": None, "detail": ""}
    ctx.report["steps"].append(rec)
    if name not in ctx.steps:
        rec.update(status="skipped", detail="not in --steps")
        return rec
    window = ctx.window(name)
    if window < MIN_START[name]:
        rec.update(
            status="cut",
            detail=f"not started: {max(window, 0):.0f} s left for it, it needs at least {MIN_START[name]} s",
        )
        say(f"{name}: cut ({rec['detail']})")
        ctx.write_report()
        return rec
    rec.update(status="running", timeout_s=window)
    ctx.write_report()
    say(f"{name}: started, {window:.0f} s at most")
    t0 = time.monotonic()
    try:
        fn(ctx, rec, t0 + window)
    except KeyboardInterrupt:
        rec.update(status="interrupted", detail="the run itself was interrupted")
        raise
    except Exception as e:  # noqa: BLE001 -- a broken step is recorded; the next one runs
        rec.update(status="error", detail=f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
        with open(ctx.logs / f"{name}-traceback.log", "w") as f:
            f.write(traceback.format_exc())
    finally:
        rec["seconds"] = time.monotonic() - t0
        say(f"{name}: {rec['status']} after {rec['seconds']:.0f} s" + (f" ({rec['detail']})" if rec["detail"] else ""))
        ctx.write_report()
    return rec


def run(args):
    """The whole proof; its exit status: 0 when every step passed (or was left out), 1 otherwise."""
    ctx = Context(args)
    say(f"{'DRY RUN: ' if ctx.dry else ''}budget {ctx.budget:.0f} s; report in {ctx.out}; work in {ctx.work}")
    ctx.write_report()
    try:
        for name in STEPS:
            step(ctx, name, STEP_FUNCTIONS[name])
    except KeyboardInterrupt:
        ctx.report["warnings"].append("the run was interrupted (SIGINT/SIGTERM): later steps did not run")
        stop_active()
    finally:
        ctx.report["finished"] = now_iso()
        ctx.write_report()
        if not args.keep_work and not args.work:
            shutil.rmtree(ctx.work, ignore_errors=True)
    summarise(ctx)
    bad = [s for s in ctx.report["steps"] if s["status"] not in ("pass", "skipped")]
    return 1 if bad else 0


def summarise(ctx):
    """The outcome on standard output: each step's, each suite's, the checkpoint's, and where the report is."""
    say(
        f"done in {time.monotonic() - ctx.t0:.0f} s: "
        + ", ".join(f"{s['name']} {s['status']}" for s in ctx.report["steps"])
    )
    for label, s in ctx.report.get("tests", {}).items():
        say(f"  tests {label}: {s.get('summary') or s.get('status')}")
    for line in ctx.report.get("mnist", {}).get("verdict", "").splitlines():
        say(f"  mnist: {line}")
    say(f"report: {ctx.out / 'gpu.md'}")
