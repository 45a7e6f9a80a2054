"""Tables as they come: mlp's CLI from the raw CSV file against scikit-learn, on clean and on messy tables.

For each of scikit-learn's bundled data sets (iris, wine, breast_cancer, diabetes: no download) the script
writes a clean table and a messy version of it (a numeric column turned into text categories, gaps in two
columns, an identifier column, a date column; class labels as text), splits each three times (75/25,
seeds 0, 1, 2: one 38-row test set of iris moves the accuracy by 0.026 a row), and scores three ways on the same
held-out rows; the table gives the means over the splits.  A larger table made here (:func:`synthetic`:
50,000 rows of ``make_classification``, with text categories, one of 200 levels, and gaps; one split) compares
the times on a table of some size.  The three ways:

* **mlp**: ``mlp train --data train.csv`` on the raw file with its defaults, then ``mlp predict`` on the
  raw test file; the seconds are both commands' wall time (Python start-up, and the checkpoint that
  ``mlp train`` writes after every epoch, included);
* **HistGradientBoosting** with native categories (``categorical_features="from_dtype"``) and native gaps;
  the identifier dropped and the date made a number by hand, as it needs;
* **scikit-learn MLP**: a hand-built pipeline (median imputer with indicators and a scaler for numbers,
  a one-hot encoder ignoring unknown categories for text, the same hand-made date and identifier handling)
  before ``MLPClassifier``/``MLPRegressor`` (defaults, ``max_iter=500``).

Scores: accuracy for classification, R2 for regression.  Every library runs on one thread
(``OMP_NUM_THREADS=1``), so the seconds compare on a shared machine.  Run::

    python examples/compare_tables.py            # prints a Markdown table
    python examples/compare_tables.py --quick    # iris and diabetes only, no synthetic table
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy and scikit-learn start their thread pools

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEED = 0


def bundled(name):
    """``(frame of features, target series, task)`` of a scikit-learn data set that ships with it."""
    from sklearn import datasets

    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
    }[name]
    d = loader(as_frame=True)
    X = d.data.copy()
    X.columns = [str(c).replace(" ", "_").replace("(", "").replace(")", "") for c in X.columns]
    if name == "diabetes":
        return X, d.target.rename("target"), "regression"
    names = np.asarray(d.target_names)
    return X, pd.Series(names[d.target.to_numpy()], name="target"), "classification"


def synthetic(n=50_000, seed=SEED):
    """A larger table made here (no download): ``make_classification`` (3 classes, 20 features, 10 informative)
    with two features turned into text (8 levels, and one of 200 levels in shuffled order), gaps in three
    columns, as ``(frame, target series, "classification")``."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        n_classes=3,
        n_clusters_per_class=2,
        flip_y=0.02,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    levels = np.array(["a", "b", "c", "d", "e", "f", "g", "h"])
    frame["x0"] = pd.Series(levels[pd.qcut(frame["x0"], 8, labels=False).to_numpy()], dtype=object)
    names = np.array([f"shop-{k:03d}" for k in rng.permutation(200)])  # many levels, no order in the names
    frame["x1"] = pd.Series(names[pd.qcut(frame["x1"], 200, labels=False).to_numpy()], dtype=object)
    for col in ("x2", "x3", "x0"):
        frame.loc[rng.random(n) < 0.1, col] = None
    frame = frame.rename(columns={"x0": "grade", "x1": "shop"})
    return frame, pd.Series(np.array(["red", "green", "blue"])[y], name="target"), "classification"


def messy(X: pd.DataFrame, seed=SEED) -> pd.DataFrame:
    """The table as real files come: text categories, gaps, an identifier column, a date column."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    n = len(X)
    first = X.columns[0]
    # a number recorded as words (quartiles: the model sees categories, not the value)
    X[first] = pd.qcut(X[first], 4, labels=["low", "mid", "high", "top"], duplicates="drop").astype(object)
    for col in X.columns[1:3]:  # gaps in 15% of two columns' cells
        X.loc[rng.random(n) < 0.15, col] = np.nan
    X.loc[rng.random(n) < 0.05, first] = None  # and a few in the text column
    X.insert(0, "record_id", [f"r-{i:05d}" for i in rng.permutation(n)])
    X["recorded"] = (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")).strftime(
        "%Y-%m-%d"
    )
    return X


def by_hand(X: pd.DataFrame) -> pd.DataFrame:
    """What scikit-learn needs done first: no identifier, dates as numbers, text as pandas categories."""
    X = X.drop(columns=[c for c in ("record_id",) if c in X])
    if "recorded" in X:
        X["recorded"] = (pd.to_datetime(X["recorded"]) - pd.Timestamp("2020-01-01")).dt.days.astype(float)
    for c in X.columns:
        if X[c].dtype == object:
            X[c] = X[c].astype("category")
    return X


def score(task, y_true, y_pred) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(accuracy_score(y_true, y_pred) if task == "classification" else r2_score(y_true, y_pred))


def run_mlp(task, train: pd.DataFrame, test: pd.DataFrame, folder: Path):
    train_csv, test_csv = folder / "train.csv", folder / "test.csv"
    train.to_csv(train_csv, index=False)
    test.drop(columns=["target"]).to_csv(test_csv, index=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    mlp = [sys.executable, "-m", "mlp"]
    start = time.perf_counter()
    subprocess.run(
        [
            *mlp,
            "train",
            "--data",
            str(train_csv),
            "--target",
            "target",
            "--quiet",
            "--backend",
            "numpy",
            "--threads",
            "1",
            "--save",
            str(folder / "m.safetensors"),
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    subprocess.run(
        [
            *mlp,
            "predict",
            str(folder / "m.safetensors"),
            str(test_csv),
            "--out",
            str(folder / "p.csv"),
            "--threads",
            "1",
        ],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    pred = pd.read_csv(folder / "p.csv")["target"]
    return score(task, test["target"], pred.astype(test["target"].dtype)), seconds


def run_hgb(task, Xtr, ytr, Xte, yte):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    cls = HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor
    start = time.perf_counter()
    model = cls(categorical_features="from_dtype", random_state=SEED).fit(by_hand(Xtr), ytr)
    pred = model.predict(by_hand(Xte))
    return score(task, yte, pred), time.perf_counter() - start


def run_sklearn_mlp(task, Xtr, ytr, Xte, yte):
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    text = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"), OneHotEncoder(handle_unknown="ignore")
    )
    columns = ColumnTransformer(
        [
            ("num", numbers, make_column_selector(dtype_include="number")),
            ("cat", text, make_column_selector(dtype_include="category")),
        ]
    )
    net = (MLPClassifier if task == "classification" else MLPRegressor)(max_iter=500, random_state=SEED)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        Xtr_, Xte_ = by_hand(Xtr), by_hand(Xte)
        for X in (Xtr_, Xte_):  # the imputer takes text, not pandas categories with NaN
            for c in X.columns:
                if isinstance(X[c].dtype, pd.CategoricalDtype):
                    X[c] = X[c].astype(object).where(X[c].notna(), "missing").astype("category")
        pred = make_pipeline(columns, net).fit(Xtr_, ytr).predict(Xte_)
    return score(task, yte, pred), time.perf_counter() - start


def main(argv=None):
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="iris and diabetes only, no synthetic table")
    parser.add_argument(
        "--splits",
        type=int,
        default=3,
        help="75/25 splits of each small table, seeds 0, 1, ...; the table gives the means (default 3; "
        "the synthetic table gets one)",
    )
    args = parser.parse_args(argv)
    names = ["iris", "diabetes"] if args.quick else ["iris", "wine", "breast_cancer", "diabetes"]
    tables = [
        (name, version, table, y, task)
        for name in names
        for X, y, task in [bundled(name)]
        for version, table in (("clean", X), ("messy", messy(X)))
    ]
    if not args.quick:
        tables.append(("synthetic", "50k rows", *synthetic()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, table, y, task in tables:
            runs = []
            for split in range(1 if name == "synthetic" else args.splits):
                Xtr, Xte, ytr, yte = train_test_split(
                    table,
                    y,
                    test_size=0.25,
                    random_state=SEED + split,
                    stratify=y if task == "classification" else None,
                )
                folder = Path(tmp) / f"{name}-{version}-{split}".replace(" ", "-")
                folder.mkdir()
                train = Xtr.assign(target=ytr.to_numpy())
                test = Xte.assign(target=yte.to_numpy())
                runs.append(
                    [
                        run_mlp(task, train, test, folder),
                        run_hgb(task, Xtr, ytr, Xte, yte),
                        run_sklearn_mlp(task, Xtr, ytr, Xte, yte),
                    ]
                )
            results = [tuple(float(np.mean([r[k][i] for r in runs])) for i in (0, 1)) for k in range(3)]
            rows.append(
                (
                    f"{name} ({version})",
                    f"{len(table)}x{table.shape[1]}",
                    "accuracy" if task == "classification" else "R2",
                    results,
                )
            )
            print(
                f"  {rows[-1][0]}: " + ", ".join(f"{s:.3f} in {t:.1f} s" for s, t in results),
                file=sys.stderr,
                flush=True,
            )
    print(
        "| table | rows x columns | score | mlp CLI (raw file) | s | HistGradientBoosting | s | "
        "scikit-learn MLP pipeline | s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, shape, metric, results in rows:
        cells = " | ".join(f"{s:.3f} | {t:.1f}" for s, t in results)
        print(f"| {name} | {shape} | {metric} | {cells} |")
    medians = [float(np.median([r[3][k][0] for r in rows])) for k in range(3)]
    print(f"| **median score** | | | {medians[0]:.3f} | | {medians[1]:.3f} | | {medians[2]:.3f} | |")


if __name__ == "__main__":
    main()
