"""The commands of the GPU proof: each one a process group with its log and its time limit, stopped in stages
when it runs past it, so that a step that hangs is cut and the next one runs."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

GRACE = 10  # seconds a stopped step gets to write its summary (pytest's, after SIGINT) before SIGTERM
#: the commands running now (stopped when the run itself is interrupted)
ACTIVE: set = set()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


def say(*text):
    print("[gpu]", *text, flush=True)


class Proc:
    """One command of a step: its log, its time limit, how it ended."""

    def __init__(self, name, cmd, env, cwd, log):
        self.name, self.cmd, self.env, self.cwd, self.log = name, [str(c) for c in cmd], env, cwd, Path(log)
        self.rc = self.seconds = self.limit = None
        self.timed_out = False
        self.popen = None
        self.extra = {}
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

    def last_line(self):
        """The last line the command printed (not the log's own header and footer)."""
        lines = [line for line in self.text().splitlines()[4:] if line.strip() and not line.startswith("# ")]
        return (lines[-1].strip() if lines else f"exit {self.rc}")[:300]

    def probe_json(self):
        """The record a `probe.py` process printed on its ``PROBE {...}`` line, or None."""
        for line in reversed(self.text().splitlines()):
            if line.startswith("PROBE "):
                try:
                    return json.loads(line[6:])
                except ValueError:
                    return None
        return None


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


def run_all(procs, limit):
    """Start ``procs`` together and wait for them; those still running near ``limit`` seconds are stopped, with
    the last ``grace`` seconds of it to write what they have (so a cut step ends within its limit)."""
    limit = max(0.0, limit)
    grace = min(GRACE, max(3.0, 0.15 * limit))
    stop_at = time.monotonic() + max(0.0, limit - grace)
    for p in procs:
        p.limit = limit
        p.start(p.extra)
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


def stop_active():
    """Stop whatever still runs (the run itself was interrupted)."""
    running = list(ACTIVE)
    for p in running:
        p.timed_out = True
    stop_all(running, 3.0)
    for p in running:
        p.finish()


def output(cmd, timeout=60):
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
