"""Step 4 of the GPU proof, mnist: `mlp train --data mnist` on CuPy, saved; the checkpoint evaluated with
`mlp evaluate` on CuPy and with `--backend numpy` on the CPU: the same test accuracy, within float32's rounding."""

from __future__ import annotations

import re
import shlex
import time

from .plan import SAME_WITHIN, has_mnist, worst

RESERVE = 12.0  # seconds kept for each evaluation still to come


def mnist(ctx, rec, end):
    gpu = "numpy" if ctx.dry else "cupy"
    label = "NumPy (standing in for CuPy)" if ctx.dry else "CuPy"
    mn = ctx.report["mnist"] = {"backend": gpu, "label": label, "verdict": "none", "commands": []}
    if not has_mnist(ctx.data_root):
        rec.update(
            status="fail", detail=f"no MNIST files in {ctx.data_root}/mnist (carry them: python -m tools.gpu.pack)"
        )
        mn["verdict"] = "not run: no MNIST files"
        return
    ckpt = ctx.work / "mnist.safetensors"
    ckpt.unlink(missing_ok=True)
    statuses = []
    for key, args, extra, keep in commands(ctx, gpu, ckpt):
        shown = (
            " ".join(f"{k}={v}" for k, v in extra.items() if v)
            + (" " if any(extra.values()) else "")
            + "mlp "
            + shlex.join(args).replace(str(ckpt), "mnist.safetensors").replace(str(ctx.data_root), "DATA")
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
        p = ctx.run(f"mnist-{key}", ctx.mlp + args, limit, **extra)
        mn[key] = read_run(ctx, p, key, extra)
        statuses.append(mn[key]["status"])
        ctx.write_report()
    statuses += verdict(mn)
    if mn.get("train", {}).get("status") == "cut" and ckpt.exists():
        mn["verdict"] += " (training was cut; the checkpoint of its last whole epoch was evaluated)"
    rec.update(status=worst(statuses), detail=mn["verdict"])


def commands(ctx, gpu, ckpt):
    """(key, `mlp` arguments, variables, seconds kept for the later ones) of training and the two evaluations."""
    data = ["--data-dir", str(ctx.data_root)]
    epochs = ctx.args.epochs if ctx.args.epochs is not None else (1 if ctx.dry else 3)
    train = ["train", "--data", "mnist", "--epochs", str(epochs), "--save", str(ckpt), "--quiet", "--seed", "0"]
    if ctx.dry:
        train += ["--sizes", "784,32,10"]  # a small network: seconds on two cores
    return [
        ("train", train + data, {"MLP_BACKEND": gpu}, 2 * RESERVE),
        ("eval_gpu", ["evaluate", str(ckpt), "--quiet"] + data, {"MLP_BACKEND": gpu}, RESERVE),
        (
            "eval_cpu",
            ["evaluate", str(ckpt), "--backend", "numpy", "--quiet"] + data,
            {"MLP_BACKEND": None, "MLP_DEVICE": None},
            0.0,
        ),
    ]


def read_run(ctx, p, key, extra):
    """The accuracy, backend and sample count that `mlp train` or `mlp evaluate` printed, and how it ended."""
    text = p.text()
    if key == "train":
        m = re.findall(r"^test accuracy (\d+\.\d+)", text, re.M)
        backend = re.findall(r"backend (\w+) \(", text)
    else:
        m = re.findall(r"backend (\w+): accuracy (\d+\.\d+)", text)
        backend = [b for b, _ in m]
        m = [acc for _, acc in m]
    samples = re.findall(r"\((\d+) samples\)", text)
    return {
        "status": "cut" if p.cut else "pass" if (p.rc == 0 and m) else "fail",
        "accuracy": float(m[-1]) if m else None,
        "text": m[-1] if m else None,
        "backend": backend[-1] if backend else (extra.get("MLP_BACKEND") or "numpy"),
        "samples": int(samples[-1]) if samples else None,
        "seconds": p.seconds,
        "log": ctx.rel(p.log),
        "last_line": p.last_line(),
    }


def verdict(mn):
    """``mn["verdict"]``: the two evaluations' accuracies compared; ["fail"] when they differ, or are missing."""
    g, c = mn.get("eval_gpu", {}), mn.get("eval_cpu", {})
    if not (g.get("text") and c.get("text")):
        mn["verdict"] = "no comparison: " + ", ".join(
            f"{k} {mn.get(k, {}).get('status', 'not run')}" for k in ("train", "eval_gpu", "eval_cpu")
        )
        return ["fail"]
    failed = []
    n = c.get("samples") or 10000
    flips = round(abs(g["accuracy"] - c["accuracy"]) * n)
    if g["text"] == c["text"]:
        mn["verdict"] = f"the same test accuracy, {c['text']}, evaluated with {g['backend']} and with NumPy on the CPU"
    elif flips <= SAME_WITHIN:
        mn["verdict"] = (
            f"{g['text']} on {g['backend']}, {c['text']} on NumPy: {flips} of {n:,} test samples "
            "flip between the GPU's and the CPU's float32 rounding"
        )
    else:
        mn["verdict"] = f"DIFFERENT: {g['text']} on {g['backend']}, {c['text']} on NumPy ({flips} samples)"
        failed.append("fail")
    t = mn.get("train", {})
    if t.get("text") and t["text"] != g["text"]:
        mn["verdict"] += f" (mlp train reported {t['text']})"
    return failed
