"""Tables at size: peak memory and seconds of ``mlp train`` and ``mlp predict`` on synthetic tables.

The tables are those of the issue that asked for typed columns: ``n`` rows of 40 numeric columns, two text
columns of 8 and 40 levels and a 3-class text label (or the 40 numbers and the label alone), as Parquet and as
CSV, made here with a fixed seed (:func:`make_table`).  Each measurement is one ``mlp`` command in a fresh
process (``mlp train --data FILE --target label --epochs 1 --threads 1``, then ``mlp predict``), whose peak
resident memory comes from the kernel (``os.wait4``) and whose phases from the lines ``mlp train`` prints
(``table: read ... s, ...``).  Prediction is compared with the pipeline a user would write around the exported
ONNX file: pyarrow reads the CSV, ONNX Runtime runs ``mlp export``'s file, pyarrow writes the labels (one thread
each, also a fresh process).

With ``--streaming`` it measures tables read block by block instead (``mlp train --stream``): the million-row table
in memory and streamed, a folder of Parquet files, two MPI processes (``mpiexec -n 2 ... --distributed``, each
reading its share: peak memory and bytes of the file read per process), and a table several times larger than an
address-space cap (``ulimit -v``), streamed under it.

Run::

    python examples/bench_tables.py --rows 1000000 --predict-rows 200000,1000000 --repeat 3
    python examples/bench_tables.py --streaming --rows 1000000 --big-rows 10000000 --cap-mib 1280
    python examples/bench_tables.py --rows 10000000 --formats parquet --kinds text   # the 10M-row table
    python examples/bench_tables.py --quick                                          # a smoke run, seconds

It prints a Markdown table (``--json PATH`` also writes the numbers); the tables are written under ``--dir``
(default: a temporary folder, removed afterwards; ``--keep`` keeps it) and reused when already there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

#: the columns of the benchmark's tables: numbers, text columns (name -> number of levels), the label's classes
N_NUMBERS = 40
TEXT_LEVELS = {"c8": 8, "c40": 40}
CLASSES = ("alpha", "beta", "gamma")
#: the prediction tables' shape (the issue's serving figure: 10 numbers and 2 text columns)
PREDICT_NUMBERS = 10
#: rows generated and written at a time: the generator's memory stays small for any table size
CHUNK = 250_000


def _chunk(rng, n, n_numbers):
    """One block of ``n`` rows as a pyarrow Table: numbers rounded to 5 decimals, text levels, the label."""
    import pyarrow as pa

    X = np.round(rng.normal(size=(n, n_numbers)) * 3.0 + 1.0, 5)
    score = X[:, 0] - 0.5 * X[:, 1] + 0.3 * X[:, 2 % n_numbers]
    columns, names = [X[:, j] for j in range(n_numbers)], [f"x{j}" for j in range(n_numbers)]
    for name, levels in TEXT_LEVELS.items():
        codes = rng.integers(0, levels, size=n)
        score = score + (codes % 3 - 1) * (1.5 if levels == 8 else 0.7)
        columns.append(
            pa.DictionaryArray.from_arrays(
                pa.array(codes.astype(np.int32)), pa.array([f"{name}_{k:02d}" for k in range(levels)])
            ).dictionary_decode()
        )
        names.append(name)
    label = np.digitize(score + rng.normal(size=n), [-2.0, 2.0])
    columns.append(pa.array(np.asarray(CLASSES)[label]))
    names.append("label")
    return pa.table(columns, names=names)


def make_table(path: Path, rows: int, kind: str, seed: int = 0, n_numbers: int = N_NUMBERS):
    """Write ``rows`` rows to ``path`` (.csv or .parquet); ``kind`` "text" (with the text columns) or "numbers"."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    tmp = path.with_name(path.name + ".part")
    writer = None
    try:
        for start in range(0, rows, CHUNK):
            t = _chunk(rng, min(CHUNK, rows - start), n_numbers)
            if kind == "numbers":
                t = t.drop_columns(list(TEXT_LEVELS))
            if writer is None:
                writer = (
                    pq.ParquetWriter(tmp, t.schema) if path.suffix == ".parquet" else pacsv.CSVWriter(tmp, t.schema)
                )
            writer.write_table(t)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)


def table_path(folder: Path, rows: int, kind: str, fmt: str, n_numbers: int = N_NUMBERS) -> Path:
    path = folder / f"{kind}-{n_numbers}-{rows}.{fmt}"
    if not path.exists():
        make_table(path, rows, kind, seed=rows % 1000, n_numbers=n_numbers)
    return path


def measured(argv, env=None, cwd=None) -> dict:
    """Run ``argv``; ``{"seconds", "peak_mib", "out"}`` (peak resident memory of that process, from the kernel).

    It runs in the checkout measured (``python -m mlp`` imports the package of its working folder first).
    """
    cwd = cwd or AGAINST or str(Path(__file__).resolve().parents[1])
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited with {p.returncode}:\n{text[-3000:]}")
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "out": text}


def _phases(text: str) -> dict:
    """The seconds ``mlp train`` reports: ``table: read 1.23 s, ...`` and ``(... s of training)``."""
    found = {}
    line = re.search(r"^table: (.*)$", text, re.M)
    if line:
        for name, value in re.findall(r"(\w[\w ]*?) ([0-9.]+) s", line.group(1)):
            found[name.strip()] = float(value)
    trained = re.search(r"\(([0-9.]+) s of training\)", text)
    if trained:
        found["training"] = float(trained.group(1))
    return found


#: another checkout of mlp to run instead of this one (``--against``): its commands measured the same way
AGAINST = None


def _env():
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MLP_BACKEND=os.environ.get("MLP_BACKEND", "numpy"),
        TQDM_DISABLE="1",
    )
    env.pop("MLP_THREADS", None)
    if AGAINST:
        env["PYTHONPATH"] = AGAINST
    return env


def mlp_command() -> list:
    return [sys.executable, "-m", "mlp"]


def bench_train(path: Path, work: Path, epochs: int = 1) -> dict:
    model = work / f"{path.stem}-{path.suffix[1:]}.safetensors"
    model.unlink(missing_ok=True)
    r = measured(
        [
            *mlp_command(),
            "train",
            "--data",
            str(path),
            "--target",
            "label",
            "--epochs",
            str(epochs),
            "--threads",
            "1",
            "--save",
            str(model),
        ],
        env=_env(),
    )
    r.update(_phases(r["out"]), model=str(model))
    return r


def bench_predict(model: Path, path: Path, work: Path) -> dict:
    out = work / f"predictions-{path.stem}.csv"
    out.unlink(missing_ok=True)
    r = measured([*mlp_command(), "predict", str(model), str(path), "--out", str(out), "--threads", "1"], env=_env())
    r["rows_out"] = sum(1 for _ in open(out)) - 1
    return r


def bench_onnx(model: Path, path: Path, work: Path) -> dict:
    onnx_file = work / (model.stem + ".onnx")
    if not onnx_file.exists():
        measured([*mlp_command(), "export", str(model), str(onnx_file)], env=_env())
    out = work / f"onnx-predictions-{path.stem}.csv"
    out.unlink(missing_ok=True)
    r = measured([sys.executable, __file__, "onnx-predict", str(onnx_file), str(path), str(out)], env=_env())
    r["rows_out"] = sum(1 for _ in open(out)) - 1
    return r


def onnx_predict(onnx_file: str, data: str, out: str):
    """What a user serving the exported file writes: pyarrow reads, ONNX Runtime runs, pyarrow writes the labels."""
    import onnxruntime as ort
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
    inputs = {i.name: i.type for i in session.get_inputs()}
    table = pacsv.read_csv(
        data,
        read_options=pacsv.ReadOptions(use_threads=False),
        convert_options=pacsv.ConvertOptions(include_columns=list(inputs)),
    )
    feeds = {}
    for name, typ in inputs.items():
        column = table.column(name)
        if typ == "tensor(string)":
            feeds[name] = np.asarray(column.to_numpy(zero_copy_only=False), dtype=object).reshape(-1, 1)
        else:
            dtype = np.float32 if typ == "tensor(float)" else np.float64
            feeds[name] = column.to_numpy().astype(dtype).reshape(-1, 1)
    label = session.run(["label"], feeds)[0]
    pacsv.write_csv(pa.table({"label": label.astype(str) if label.dtype != object else label}), out)


def best_of(repeat: int, fn, *args) -> dict:
    """The fastest of ``repeat`` runs of ``fn(*args)`` (a shared machine's load only ever slows a run down)."""
    runs = [fn(*args) for _ in range(max(1, repeat))]
    return min(runs, key=lambda r: r["seconds"])


CHILD = r"""
import json, os, resource, sys
cap = int(os.environ.get("MLP_BENCH_CAP", "0"))
if cap:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import mlp_entry
code = mlp_entry.main(sys.argv[1:])
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
io = dict(l.split(":", 1) for l in open("/proc/self/io"))
print("BENCH " + json.dumps({"code": code, "rank": int(os.environ.get("PMI_RANK", "0")),
                             "peak_mib": int(status["VmHWM"].split()[0]) / 1024,
                             "rchar_mib": int(io["rchar"]) / 2**20}), flush=True)
sys.exit(code)
"""


def measured_ranks(argv, n=1, cap=0):
    """``mlp`` under the :data:`CHILD` wrapper (``n`` processes under mpiexec, or one): per process its peak resident
    memory and the bytes it read (``rchar``), and the command's seconds and output."""
    env = _env()
    if cap:
        env["MLP_BENCH_CAP"] = str(cap)
    cmd = [sys.executable, "-c", CHILD, *argv]
    if n > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec if mpiexec.exists() else shutil.which("mpiexec")), "-n", str(n), *cmd]
    r = measured(cmd, env=env)
    ranks = [json.loads(line[6:]) for line in r["out"].splitlines() if line.startswith("BENCH ")]
    r["ranks"] = sorted(ranks, key=lambda x: x["rank"])
    read = re.search(r"([0-9,]+) MiB of the table's files read", r["out"])
    r["read_mib"] = float(read.group(1).replace(",", "")) if read else None
    r.update(_phases(r["out"]))
    return r


def bench_streaming(args, work: Path) -> list:
    """The measurements of ``--streaming`` (see the module docstring)."""
    import pyarrow.parquet as pq

    out = []
    n = int(args.rows.split(",")[0])
    path = table_path(work, n, "text", "parquet")
    size = path.stat().st_size / 2**20
    train = [
        "train",
        "--data",
        str(path),
        "--target",
        "label",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--save",
        str(work / "s.safetensors"),
    ]
    for what, extra, procs in (
        ("in memory", [], 1),
        ("streamed", ["--stream"], 1),
        ("streamed, 2 processes", ["--distributed"], 2),
    ):
        r = measured_ranks(train + extra, n=procs)
        out.append(
            {
                "what": f"mlp train, 40 numbers + 2 text, {what}",
                "rows": n,
                "file_mib": round(size),
                "peak_mib": " / ".join(str(round(x["peak_mib"])) for x in r["ranks"]),
                "read_mib": r["read_mib"],
                "seconds": round(r["seconds"], 2),
                "training": r.get("training"),
            }
        )
        print(out[-1], file=sys.stderr, flush=True)
    folder = work / f"parts-{n}"
    if not folder.exists():
        folder.mkdir()
        table = pq.read_table(path)
        step = -(-table.num_rows // 8)
        for k in range(8):
            pq.write_table(table.slice(k * step, step), folder / f"part{k}.parquet")
        del table
    r = measured_ranks(
        [
            "train",
            "--data",
            str(folder),
            "--target",
            "label",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--save",
            str(work / "f.safetensors"),
        ]
    )
    accuracy = re.search(r"validation accuracy ([0-9.]+)", r["out"])
    out.append(
        {
            "what": "mlp train, the same table as 8 Parquet files (a folder)",
            "rows": n,
            "file_mib": round(sum(p.stat().st_size for p in folder.iterdir()) / 2**20),
            "peak_mib": round(r["ranks"][0]["peak_mib"]),
            "read_mib": r["read_mib"],
            "seconds": round(r["seconds"], 2),
            "training": r.get("training"),
            "accuracy": accuracy.group(1) if accuracy else None,
        }
    )
    print(out[-1], file=sys.stderr, flush=True)
    if args.big_rows:
        big = table_path(work, args.big_rows, "text", "parquet")
        cap = args.cap_mib * 2**20
        r = measured_ranks(
            [
                "train",
                "--data",
                str(big),
                "--target",
                "label",
                "--epochs",
                "1",
                "--threads",
                "1",
                "--save",
                str(work / "b.safetensors"),
            ],
            cap=cap,
        )
        out.append(
            {
                "what": f"mlp train under ulimit -v {args.cap_mib} MiB (streamed by itself)",
                "rows": args.big_rows,
                "file_mib": round(big.stat().st_size / 2**20),
                "peak_mib": round(r["ranks"][0]["peak_mib"]),
                "read_mib": r["read_mib"],
                "seconds": round(r["seconds"], 2),
                "training": r.get("training"),
                "streamed_by_itself": "streaming" in r["out"],
            }
        )
        print(out[-1], file=sys.stderr, flush=True)
    return out


def _row(what, fmt, rows, r, extra=None) -> dict:
    row = {
        "what": what,
        "format": fmt,
        "rows": rows,
        "peak_mib": round(r["peak_mib"]),
        "seconds": round(r["seconds"], 2),
        "rows_per_s": round(rows / r["seconds"]),
    }
    for k in ("read", "columns", "target", "preprocessing", "training"):
        if k in r:
            row[k] = r[k]
    row.update(extra or {})
    return row


def _fmt(v):
    return "" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def markdown(rows) -> str:
    cols = ["what", "format", "rows", "peak_mib", "read", "preprocessing", "training", "seconds", "rows_per_s"]
    head = ["run", "format", "rows", "peak MiB", "read s", "preprocessing s", "training s", "whole command s", "rows/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def _cpu() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", default="1000000", help="training tables' rows, comma-separated (default 1000000)")
    p.add_argument("--predict-rows", default="200000", help="prediction tables' rows, comma-separated, or none")
    p.add_argument("--formats", default="parquet,csv", help="parquet,csv (default both)")
    p.add_argument("--kinds", default="numbers,text", help="numbers,text (default both)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--dir", help="where the tables are written and reused (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--json", metavar="PATH")
    p.add_argument("--repeat", type=int, default=1, help="run each command this many times and report the fastest")
    p.add_argument("--quick", action="store_true", help="5,000-row tables, CSV only: a smoke run")
    p.add_argument("--streaming", action="store_true", help="measure streamed tables instead (see the docstring)")
    p.add_argument("--big-rows", type=int, default=0, help="--streaming: rows of the table trained under the cap")
    p.add_argument("--cap-mib", type=int, default=1280, help="--streaming: the address-space cap (ulimit -v), MiB")
    p.add_argument(
        "--against",
        metavar="CHECKOUT",
        help="measure the mlp of another source checkout (its folder, put first on PYTHONPATH) instead",
    )
    args = p.parse_args(argv)
    global AGAINST
    AGAINST = str(Path(args.against).resolve()) if args.against else None
    if args.quick:
        args.rows, args.predict_rows, args.formats, args.predict_train = "5000", "5000", "csv", 5000
    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mlp-bench-tables-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.streaming:
        found = bench_streaming(args, work)
        print(
            f"CPU: {_cpu()} ({os.cpu_count()} cores); one thread each; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        )
        keys = ["what", "rows", "file_mib", "peak_mib", "read_mib", "training", "seconds"]
        print(
            "| run | rows | file MiB | peak MiB (per process) | MiB of the files read | training s "
            "| whole command s |\n|---|---|---|---|---|---|---|"
        )
        for r in found:
            print("| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |")
        if args.json:
            Path(args.json).write_text(json.dumps({"cpu": _cpu(), "rows": found}, indent=1))
        return
    rows = []
    try:
        for n in [int(v) for v in args.rows.split(",") if v]:
            for kind in args.kinds.split(","):
                for fmt in args.formats.split(","):
                    path = table_path(work, n, kind, fmt)
                    r = best_of(args.repeat, bench_train, path, work, args.epochs)
                    rows.append(
                        _row(f"mlp train, {N_NUMBERS} numbers" + (" + 2 text" if kind == "text" else ""), fmt, n, r)
                    )
                    print(markdown(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        if args.predict_rows != "none":
            train = table_path(work, getattr(args, "predict_train", 100_000), "text", "csv", PREDICT_NUMBERS)
            model = Path(bench_train(train, work, 1)["model"])
            for n in [int(v) for v in args.predict_rows.split(",") if v]:
                path = table_path(work, n, "text", "csv", PREDICT_NUMBERS)
                for name, fn in (("mlp predict", bench_predict), ("pyarrow + ONNX Runtime", bench_onnx)):
                    r = best_of(args.repeat, fn, model, path, work)
                    assert r["rows_out"] == n, (name, r["rows_out"], n)
                    rows.append(_row(f"{name}, {PREDICT_NUMBERS} numbers + 2 text", "csv", n, r))
                    print(markdown(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    finally:
        if not args.dir and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"CPU: {_cpu()} ({os.cpu_count()} cores); one thread each (BLAS, pyarrow's CSV reader, ONNX Runtime); "
        f"the fastest of {max(1, args.repeat)} run(s); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    print(markdown(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"cpu": _cpu(), "rows": rows}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "onnx-predict":
        onnx_predict(*sys.argv[2:5])
    else:
        main()
