"""The report of `.ci/gpu`: pytest's and `mlp bench`'s output read back, and docs/gpu.md written from the run.

Standard library only.  ``render(report)`` turns the run's record (the ``report.json`` beside it) into the
Markdown page; it is called after every step, so a page exists whatever happens later.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

OUTCOMES = ("passed", "failed", "errors", "skipped", "deselected", "xfailed", "xpassed")
_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+)(?: in ([\d.]+)s)?.*?=*$")
_ITEM = re.compile(r"(\d+) ([a-z]+)")
_PROGRESS = re.compile(r"^([.FEsxX]+)\s*(\[\s*\d+%\])?\s*$")
STATUS_WORDS = {
    "pass": "passed",
    "fail": "FAILED",
    "cut": "CUT",
    "error": "ERROR",
    "skipped": "not run",
    "running": "running",
    "pending": "pending",
    "interrupted": "INTERRUPTED",
}


# -- pytest ---------------------------------------------------------------------------------------
def _norm(word):
    return {"error": "errors", "warning": "warnings"}.get(word, word)


def parse_pytest(text, junit_path=None):
    """``{"counts": {...}, "seconds", "summary", "failures": [first lines], "interrupted"}`` from a pytest log.

    The counts are pytest's closing line; without one (the run was killed) the junit XML's, else the progress
    characters printed so far; ``source`` says which.
    """
    lines = text.splitlines()
    out = {
        "counts": {},
        "seconds": None,
        "summary": None,
        "failures": [],
        "source": None,
        "interrupted": any("KeyboardInterrupt" in line or "Interrupted:" in line for line in lines),
    }
    for line in reversed(lines):
        m = _SUMMARY.match(line.strip())
        if m and any(w in m.group(1) for w in ("passed", "failed", "skipped", "error", "deselected", "xfail")):
            out["counts"] = {_norm(w): int(n) for n, w in _ITEM.findall(m.group(1))}
            out["seconds"] = float(m.group(2)) if m.group(2) else None
            out["summary"] = line.strip().strip("= ")
            out["source"] = "summary"
            break
    in_summary = False
    for line in lines:
        if "short test summary info" in line:
            in_summary = True
            continue
        if in_summary and line.startswith(("FAILED ", "ERROR ")):
            out["failures"].append(line.strip())
        elif in_summary and line.startswith("="):
            in_summary = False
    junit = _parse_junit(junit_path) if junit_path else None
    if not out["counts"] and junit:
        out["counts"], out["source"] = junit["counts"], "junit"
    if junit:
        if not out["failures"]:
            out["failures"] = [line for _, line in junit["failures"]]
        else:  # a summary line cut to the terminal's width: its message from the XML
            messages = {key: line.split(" - ", 1)[1] for key, line in junit["failures"] if " - " in line}
            out["failures"] = [
                line if " - " in line or _key(line) not in messages else f"{line} - {messages[_key(line)]}"
                for line in out["failures"]
            ]
    if not out["counts"]:
        chars = "".join(m.group(1) for m in map(_PROGRESS.match, lines) if m)
        if chars:
            out["counts"] = {
                k: chars.count(c)
                for k, c in (
                    ("passed", "."),
                    ("failed", "F"),
                    ("errors", "E"),
                    ("skipped", "s"),
                    ("xfailed", "x"),
                    ("xpassed", "X"),
                )
                if chars.count(c)
            }
            out["source"] = "progress"
    return out


def _key(line):
    """``(module or class, test name)`` of a summary line ``FAILED tests/test_x.py::test_y[p] - message``."""
    parts = line.split(" - ", 1)[0].split(" ", 1)[-1].split("::")
    if len(parts) < 2:  # a module that did not import: ERROR tests/test_x.py
        return parts[0], ""
    return parts[-2].rsplit("/", 1)[-1].removesuffix(".py"), parts[-1]


def _parse_junit(path):
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    failures = []
    for case in root.iter("testcase"):
        node = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        kinds = [child.tag for child in case]
        if "failure" in kinds or "error" in kinds:
            child = case.find("failure") if "failure" in kinds else case.find("error")
            word = "FAILED" if child.tag == "failure" else "ERROR"
            counts["failed" if child.tag == "failure" else "errors"] += 1
            message = (child.get("message") or "").strip().splitlines()
            key = (case.get("classname", "").rsplit(".", 1)[-1], case.get("name"))
            failures.append((key, f"{word} {node} - {message[0] if message else ''}".rstrip(" -")))
        elif "skipped" in kinds:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return {"counts": {k: v for k, v in counts.items() if v}, "failures": failures}


# -- mlp bench ------------------------------------------------------------------------------------
def read_bench(path):
    """The JSON ``mlp bench --json`` wrote, or None."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _f(v, spec, suffix=""):
    return "-" if v is None else format(v, spec) + suffix


def _rate(v):
    """GFLOP/s: whole numbers from 100 on, three significant digits below."""
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _library(d):
    """The library a bench row's matrix products run on: cupy, jax, torch or numpy."""
    if d.get("backend") in ("cupy", "jax", "torch"):
        return d["backend"]
    return "torch" if d.get("kind") == "pytorch" else "numpy"


def bench_table(config, probes=None, matmul_size=None):
    """Markdown rows for one configuration of ``mlp bench``'s JSON.

    "vs PyTorch eager" divides PyTorch eager's seconds on the same kind of device (the CPU, or the GPU) by the
    row's.  "% of matmul" is mlp bench's own where it has one; for a GPU row without one it is the row's GFLOP/s
    over this run's matrix-product probe of the same library at the same size, TF32 off (marked †).
    """
    head = ["contender", "s/epoch (min)", "median", "samples/s", "GFLOP/s", "% of matmul", "vs PyTorch eager"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    data = config.get("rows", [])
    peers = {}
    for d in data:
        if d.get("kind") == "pytorch" and d.get("min"):
            peers.setdefault("cpu" if d.get("device") == "cpu" else "gpu", d["min"])
    rates = {e["lib"]: e.get("off", {}).get(str(matmul_size)) for e in (probes or []) if not e.get("error")}
    for d in data:
        name = d.get("name", "?") + (" *" if d.get("extrapolated") else "")
        peer = peers.get("cpu" if d.get("device") == "cpu" else "gpu")
        vs = peer / d["min"] if peer and d.get("min") else None
        pct = _f(d.get("pct_matmul"), ".1f")
        rate = rates.get(_library(d))
        if d.get("pct_matmul") is None and d.get("device") != "cpu" and rate and d.get("gflops") is not None:
            pct = f"{100.0 * d['gflops'] / rate:.1f} †"
        rows.append(
            "| "
            + " | ".join(
                [
                    name,
                    _f(d.get("min"), ".4f"),
                    _f(d.get("median"), ".4f"),
                    _f(d.get("samples_per_s"), ",.0f"),
                    _f(d.get("gflops"), ".1f"),
                    pct,
                    _f(vs, ".2f", "x"),
                ]
            )
            + " |"
        )
    return rows


# -- the page -------------------------------------------------------------------------------------
def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _machine_rows(r):
    m = r.get("machine", {})
    dev = m.get("devices", {})
    dists = m.get("versions", {}).get("distributions", {})
    rows = []
    smi = m.get("nvidia_smi") or {}
    gpu = smi.get("name") or dev.get("torch", {}).get("name") or dev.get("cupy", {}).get("name")
    if gpu:
        mem = smi.get("memory") or (f"{dev['cupy']['memory_gib']} GiB" if dev.get("cupy", {}).get("memory_gib") else "")
        cap = dev.get("torch", {}).get("capability") or dev.get("cupy", {}).get("capability")
        rows.append(("GPU", f"{gpu}" + (f", compute capability {cap}" if cap else "") + (f", {mem}" if mem else "")))
    elif r.get("dry_run"):
        rows.append(("GPU", "none (dry run: NumPy on the CPU stands in for each GPU backend)"))
    if smi.get("driver") or smi.get("cuda"):
        rows.append(
            ("driver", f"{smi.get('driver', '?')}" + (f", CUDA {smi['cuda']} (driver API)" if smi.get("cuda") else ""))
        )
    v = m.get("versions", {})
    if v.get("python"):
        rows.append(("Python", v["python"]))
    if "numpy" in dists:
        rows.append(("NumPy", dists["numpy"]))
    cupy = dev.get("cupy", {})
    cupy_v = cupy.get("version") or dists.get("cupy-cuda13x") or dists.get("cupy-cuda12x") or dists.get("cupy")
    if cupy_v:
        rows.append(
            (
                "CuPy",
                cupy_v
                + (f" (CUDA runtime {cupy['runtime']}, driver {cupy['driver']})" if cupy.get("runtime") else "")
                + (f"; error: {cupy['error']}" if cupy.get("error") else ""),
            )
        )
    jax = dev.get("jax", {})
    if jax.get("version") or dists.get("jax"):
        plugin = next((f"{k} {dists[k]}" for k in ("jax-cuda13-plugin", "jax-cuda12-plugin") if k in dists), None)
        text = (jax.get("version") or dists.get("jax")) + (f", jaxlib {jax.get('jaxlib') or dists.get('jaxlib')}")
        if plugin:
            text += f", {plugin}"
        if jax.get("devices"):
            text += f"; devices {', '.join(jax['devices'])}"
        if jax.get("default_matmul_precision"):
            text += f"; default matmul precision {jax['default_matmul_precision']}"
        if jax.get("error"):
            text += f"; error: {jax['error']}"
        rows.append(("JAX", text))
    torch = dev.get("torch", {})
    if torch.get("version") or dists.get("torch"):
        text = torch.get("version") or dists.get("torch")
        if torch.get("cuda"):
            text += f" (CUDA {torch['cuda']}, cuDNN {torch.get('cudnn')})"
        if "tf32_matmul_default" in torch:
            text += f"; float32 matmul precision {torch.get('float32_matmul_precision')!r} by default"
        if torch.get("error"):
            text += f"; error: {torch['error']}"
        rows.append(("PyTorch", text))
    mlp = m.get("mlp", {})
    if mlp:
        rows.append(("mlp", f"{mlp.get('version', '?')} from {mlp.get('source', '?')}"))
    others = [
        f"{k} {dists[k]}"
        for k in (
            "array-api-compat",
            "array-api-strict",
            "pytest",
            "pytest-xdist",
            "hypothesis",
            "safetensors",
            "scikit-learn",
        )
        if k in dists
    ]
    if others:
        rows.append(("also", ", ".join(others)))
    if m.get("cores"):
        rows.append(("CPU", f"{m.get('cpu') or '?'}, {m['cores']} cores"))
    pack = r.get("pack") or {}
    if pack.get("path"):
        text = f"{pack['path']}: {pack.get('files', '?')} files, {pack.get('mib', 0):.1f} MiB"
        if pack.get("commit"):
            text += f", built from {pack['commit'][:12]}" + (" (with local changes)" if pack.get("dirty") else "")
        rows.append(("pack", text))
    return rows


def render(r):
    """docs/gpu.md from the run's record ``r`` (see gpu_run.py for its fields)."""
    dry = r.get("dry_run")
    gpu = (r.get("machine", {}).get("nvidia_smi") or {}).get("name") or r.get("machine", {}).get("devices", {}).get(
        "torch", {}
    ).get("name")
    title = "The dry run of the GPU proof (NumPy on the CPU)" if dry else f"mlp on a GPU: {gpu or 'no GPU found'}"
    L = [f"# {title}", ""]
    if dry:
        L += [
            "> **Dry run.** Every step ran on the CPU with NumPy standing in for CuPy, JAX on the GPU and torch on",
            "> CUDA, on a small subset: this page tests `.ci/gpu` itself, not a GPU.",
            "",
        ]
    steps = r.get("steps", [])
    verdict = ", ".join(f"{s['title']}: {STATUS_WORDS.get(s['status'], s['status'])}" for s in steps)
    when = r.get("finished") or r.get("updated") or r.get("started")
    state = "" if r.get("finished") else " **(still running when this was written)**"
    L += [
        f"`{r.get('command', '.ci/gpu')}` on {when}: {_f(r.get('elapsed_s'), '.0f')} s "
        f"of a {r.get('budget_s', 0):.0f} s budget{state}.",
        "",
        f"Result: {verdict or 'nothing ran'}.",
        "",
    ]
    if r.get("warnings"):
        L += [f"- **warning:** {w}" for w in r["warnings"]] + [""]

    L += ["## The machine", "", "| | |", "|---|---|"]
    L += [f"| {k} | {_cell(v)} |" for k, v in _machine_rows(r)] + [""]
    info = [line for line in r.get("machine", {}).get("mlp_info", []) if line.strip()]
    if info:
        L += ["`mlp info`:", "", "```"] + info + ["```", ""]

    tests = r.get("tests", {})
    if tests:
        t = r.get("tests_setup", {})
        L += ["## The suite on each GPU backend", ""]
        if t.get("command"):
            L += [
                f"`{t['command']}`, with each backend as the default in turn (`MLP_BACKEND`, `MLP_DEVICE`), "
                f"{t.get('how', '')}. Every parity test then compares that backend with NumPy.",
                "",
            ]
        L += [
            "| backend | environment | passed | failed | errors | skipped | deselected | seconds | result |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for label, s in tests.items():
            c = s.get("counts", {})
            note = STATUS_WORDS.get(s.get("status"), s.get("status"))
            if s.get("source") and s["source"] != "summary":
                note += f" (counts from {s['source']})"
            L.append(
                f"| {label} | `{s.get('env', '')}` | {c.get('passed', 0)} | {c.get('failed', 0)} | "
                f"{c.get('errors', 0)} | {c.get('skipped', 0)} | {c.get('deselected', 0)} | "
                f"{_f(s.get('seconds'), '.0f')} | {note} |"
            )
        L.append("")
        if t.get("deselected"):
            L += ["Deselected because this machine lacks what they need (not GPU tests):", ""]
            L += [f"- `{d['test']}`: {d['why']}" for d in t["deselected"]] + [""]
        failing = {k: s for k, s in tests.items() if s.get("failures") or s.get("status") in ("fail", "error", "cut")}
        if failing:
            L += ["### Failures: first lines", ""]
            for label, s in failing.items():
                L.append(f"**{label}** ({len(s.get('failures', []))}; log `{s.get('log', '')}`):")
                L.append("")
                shown = s.get("failures", [])[:40]
                L += [f"- `{_cell(line[:300])}`" for line in shown]
                if len(s.get("failures", [])) > len(shown):
                    L.append(f"- ... and {len(s['failures']) - len(shown)} more (see the log)")
                if s.get("detail"):
                    L.append(f"- {s['detail']}")
                L.append("")

    bench = r.get("bench", {})
    mm = r.get("matmul", [])
    if bench or mm:
        L += ["## Benchmark: seconds per training epoch", ""]
        if r.get("bench_setup", {}).get("tf32"):
            L += [r["bench_setup"]["tf32"], ""]
        if mm:
            L += [
                "Matrix products (float32, n x n, best of 5, synchronised): the rate each library reaches.",
                "",
                "| library | device | n | TF32 off, GFLOP/s | TF32 on, GFLOP/s |",
                "|---|---|---|---|---|",
            ]
            for e in mm:
                if e.get("error"):
                    L.append(f"| {e['lib']} | - | - | {_cell(e['error'][:120])} | |")
                    continue
                for n, off in e.get("off", {}).items():
                    on = e.get("on", {}).get(n)
                    L.append(f"| {e['lib']} | {e.get('device', '?')} | {n} | {_rate(off)} | {_rate(on)} |")
            L.append("")
        for cname, b in bench.items():
            data = b.get("json") or {}
            cfg = (data.get("configs") or {}).get(cname)
            if cfg:
                sizes = cfg.get("sizes")
                L += [
                    f"### {cname}: {sizes} {cfg.get('activation')}, {str(cfg.get('loss')).replace('_', '-')} loss, "
                    f"mini-batch {cfg.get('batch')}, SGD lr {cfg.get('lr')}",
                    "",
                ]
                L += [
                    f"{data.get('data', '?')}; {data.get('samples_per_epoch', 0):,} samples an epoch; "
                    f"{data.get('warmup')} warm-up + {data.get('epochs')} timed epochs of each contender, "
                    f"interleaved; {data.get('dtype')}. `{b.get('command', '')}`",
                    "",
                ]
                size = (data.get("matmul") or {}).get("size")
                table = bench_table(cfg, mm, size)
                L += table + [""]
                if any(d.get("extrapolated") for d in cfg.get("rows", [])):
                    L += ["\\* timed on part of an epoch and extrapolated (a slow contender).", ""]
                if any("†" in line for line in table):
                    L += [
                        f"† of this run's matrix-product probe of the same library ({size} x {size}, TF32 off), "
                        "which mlp bench does not measure for it.",
                        "",
                    ]
                rates = (data.get("matmul") or {}).get("gflops") or {}
                if rates:
                    L += [
                        "`% of matmul`: of "
                        + ", ".join(f"{'numpy' if k == 'cpu' else k} {_rate(v)} GFLOP/s" for k, v in rates.items())
                        + f" ({data['matmul'].get('size')} x {data['matmul'].get('size')}, as mlp bench measured it "
                        "in the same run).",
                        "",
                    ]
                notes = data.get("notes") or []
                L += [f"- note: {n}" for n in notes] + ([""] if notes else [])
            else:
                L += [
                    f"### {cname}: {STATUS_WORDS.get(b.get('status'), b.get('status'))}",
                    "",
                    f"{b.get('detail', 'no table')} (log `{b.get('log', '')}`)",
                    "",
                ]

    mn = r.get("mnist")
    if mn:
        gpu_backend = mn.get("backend", "cupy")
        L += [f"## MNIST: trained on {mn.get('label', gpu_backend)}, the checkpoint evaluated on NumPy", ""]
        L += ["| run | backend | test accuracy | |", "|---|---|---|---|"]
        for key, what in (
            ("train", "`mlp train` (after its last epoch)"),
            ("eval_gpu", "`mlp evaluate`"),
            ("eval_cpu", "`mlp evaluate --backend numpy`"),
        ):
            e = mn.get(key)
            if e:
                L.append(
                    f"| {what} | {e.get('backend', '?')} | {_f(e.get('accuracy'), '.4f')} | "
                    f"{STATUS_WORDS.get(e.get('status'), e.get('status'))}, {_f(e.get('seconds'), '.0f')} s |"
                )
        L += ["", f"**Checkpoint result: {mn.get('verdict', 'none')}.**", ""]
        if mn.get("commands"):
            L += ["```"] + mn["commands"] + ["```", ""]

    L += ["## Steps", "", "| step | result | seconds | time limit | detail |", "|---|---|---|---|---|"]
    for s in steps:
        L.append(
            f"| {s['title']} | {STATUS_WORDS.get(s['status'], s['status'])} | {_f(s.get('seconds'), '.0f')} | "
            f"{_f(s.get('timeout_s'), '.0f')} | {_cell(s.get('detail', ''))} |"
        )
    L += [
        "",
        "Cut steps ran past their share of the budget (or had no time left to start) and were stopped; "
        "what they did before is above. Raw output: `logs/` beside this page; the record: `report.json`.",
        "",
    ]
    L += ["## How it was run", "", "```", r.get("command", ""), "```", ""]
    if r.get("how"):
        L += [r["how"], ""]
    return "\n".join(L)
