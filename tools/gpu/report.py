"""The GPU proof's report: gpu.md (docs/gpu.md as it would be) and report.json, written from the run's record.

Standard library only, and no import of the package's other modules: the tests load this file by its path.
``render(record)`` turns the run's record (the ``report.json`` beside the page) into the Markdown page; ``write``
is called after every step, so a page exists whatever happens later.
"""

from __future__ import annotations

import json
import os
import traceback

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
#: the distributions the machine table lists on its "also" row, when installed
ALSO = ("array-api-compat", "array-api-strict", "pytest", "pytest-xdist", "hypothesis", "safetensors", "scikit-learn")


def write(out, record, names):
    """``out``/report.json and ``out``/gpu.md, each replaced whole; ``names``: (path, name) pairs the page shows
    in place of this machine's paths (it is meant to be committed as docs/gpu.md)."""
    for name, text in (
        ("report.json", json.dumps(record, indent=1, default=str)),
        ("gpu.md", scrub(_render_or_say_why(record), names)),
    ):
        tmp = out / (name + ".tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, out / name)


def scrub(text, names):
    """``text`` with each path of ``names`` replaced by its name, the longest paths first."""
    for path, name in sorted(((str(p), n) for p, n in names), key=lambda pn: -len(pn[0])):
        if len(path) > 1:
            text = text.replace(path, name)
    return text


def _render_or_say_why(record):
    try:
        return render(record)
    except Exception:  # noqa: BLE001 -- the page must exist even when the renderer is broken
        return (
            "# GPU proof: the report could not be rendered\n\n```\n" + traceback.format_exc() + "```\n\n"
            "The record is in report.json."
        )


def _f(v, spec, suffix=""):
    return "-" if v is None else format(v, spec) + suffix


def _rate(v):
    """GFLOP/s: whole numbers from 100 on, three significant digits below."""
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _word(status):
    return STATUS_WORDS.get(status, status)


# -- the machine ----------------------------------------------------------------------------------
def machine_rows(r):
    """(name, text) rows of the machine table: the GPU, driver, Python and libraries, mlp, the CPU, the pack."""
    m = r.get("machine", {})
    dev = m.get("devices", {})
    dists = m.get("versions", {}).get("distributions", {})
    rows = _gpu_rows(r, m.get("nvidia_smi") or {}, dev)
    v = m.get("versions", {})
    if v.get("python"):
        rows.append(("Python", v["python"]))
    if "numpy" in dists:
        rows.append(("NumPy", dists["numpy"]))
    rows += _library_rows(dev, dists)
    mlp = m.get("mlp", {})
    if mlp:
        rows.append(("mlp", f"{mlp.get('version', '?')} from {mlp.get('source', '?')}"))
    others = [f"{k} {dists[k]}" for k in ALSO if k in dists]
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


def _gpu_rows(r, smi, dev):
    rows = []
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
    return rows


def _library_rows(dev, dists):
    """The CuPy, JAX and PyTorch rows: versions, and what each saw of the GPU."""
    rows = []
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
        rows.append(("JAX", _jax_text(jax, dists)))
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
    return rows


def _jax_text(jax, dists):
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
    return text


# -- the bench tables -----------------------------------------------------------------------------
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
        cells = [
            name,
            _f(d.get("min"), ".4f"),
            _f(d.get("median"), ".4f"),
            _f(d.get("samples_per_s"), ",.0f"),
            _f(d.get("gflops"), ".1f"),
            pct,
            _f(vs, ".2f", "x"),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


# -- the page -------------------------------------------------------------------------------------
def render(r):
    """docs/gpu.md from the run's record ``r`` (see tools/gpu/context.py for its fields)."""
    L = _head(r)
    L += ["## The machine", "", "| | |", "|---|---|"]
    L += [f"| {k} | {_cell(v)} |" for k, v in machine_rows(r)] + [""]
    info = [line for line in r.get("machine", {}).get("mlp_info", []) if line.strip()]
    if info:
        L += ["`mlp info`:", "", "```"] + info + ["```", ""]
    if r.get("tests", {}):
        L += _tests_section(r)
    if r.get("bench", {}) or r.get("matmul", []):
        L += _bench_section(r)
    if r.get("mnist"):
        L += _mnist_section(r["mnist"])
    L += _steps_section(r)
    return "\n".join(L)


def _head(r):
    dry = r.get("dry_run")
    machine = r.get("machine", {})
    gpu = (machine.get("nvidia_smi") or {}).get("name") or machine.get("devices", {}).get("torch", {}).get("name")
    title = "The dry run of the GPU proof (NumPy on the CPU)" if dry else f"mlp on a GPU: {gpu or 'no GPU found'}"
    L = [f"# {title}", ""]
    if dry:
        L += [
            "> **Dry run.** Every step ran on the CPU with NumPy standing in for CuPy, JAX on the GPU and torch on",
            "> CUDA, on a small subset: this page tests `tools/gpu` itself, not a GPU.",
            "",
        ]
    verdict = ", ".join(f"{s['title']}: {_word(s['status'])}" for s in r.get("steps", []))
    when = r.get("finished") or r.get("updated") or r.get("started")
    state = "" if r.get("finished") else " **(still running when this was written)**"
    L += [
        f"`{r.get('command', 'python -m tools.gpu')}` on {when}: {_f(r.get('elapsed_s'), '.0f')} s "
        f"of a {r.get('budget_s', 0):.0f} s budget{state}.",
        "",
        f"Result: {verdict or 'nothing ran'}.",
        "",
    ]
    if r.get("warnings"):
        L += [f"- **warning:** {w}" for w in r["warnings"]] + [""]
    return L


def _tests_section(r):
    tests, t = r["tests"], r.get("tests_setup", {})
    L = ["## The suite on each GPU backend", ""]
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
        note = _word(s.get("status"))
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
            L += _failures(label, s)
    return L


def _failures(label, s):
    L = [f"**{label}** ({len(s.get('failures', []))}; log `{s.get('log', '')}`):", ""]
    shown = s.get("failures", [])[:40]
    L += [f"- `{_cell(line[:300])}`" for line in shown]
    if len(s.get("failures", [])) > len(shown):
        L.append(f"- ... and {len(s['failures']) - len(shown)} more (see the log)")
    if s.get("detail"):
        L.append(f"- {s['detail']}")
    return L + [""]


def _bench_section(r):
    mm = r.get("matmul", [])
    L = ["## Benchmark: seconds per training epoch", ""]
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
    for cname, b in r.get("bench", {}).items():
        data = b.get("json") or {}
        cfg = (data.get("configs") or {}).get(cname)
        if cfg:
            L += _config_section(cname, cfg, data, b, mm)
        else:
            L += [
                f"### {cname}: {_word(b.get('status'))}",
                "",
                f"{b.get('detail', 'no table')} (log `{b.get('log', '')}`)",
                "",
            ]
    return L


def _config_section(cname, cfg, data, b, mm):
    """One configuration of `mlp bench`: what it trained, its table, and the notes the table needs."""
    L = [
        f"### {cname}: {cfg.get('sizes')} {cfg.get('activation')}, {str(cfg.get('loss')).replace('_', '-')} loss, "
        f"mini-batch {cfg.get('batch')}, SGD lr {cfg.get('lr')}",
        "",
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
    return L + [f"- note: {n}" for n in notes] + ([""] if notes else [])


def _mnist_section(mn):
    gpu_backend = mn.get("backend", "cupy")
    L = [f"## MNIST: trained on {mn.get('label', gpu_backend)}, the checkpoint evaluated on NumPy", ""]
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
                f"{_word(e.get('status'))}, {_f(e.get('seconds'), '.0f')} s |"
            )
    L += ["", f"**Checkpoint result: {mn.get('verdict', 'none')}.**", ""]
    if mn.get("commands"):
        L += ["```"] + mn["commands"] + ["```", ""]
    return L


def _steps_section(r):
    L = ["## Steps", "", "| step | result | seconds | time limit | detail |", "|---|---|---|---|---|"]
    for s in r.get("steps", []):
        L.append(
            f"| {s['title']} | {_word(s['status'])} | {_f(s.get('seconds'), '.0f')} | "
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
    return L
