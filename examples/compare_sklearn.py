"""mlp.sklearn beside scikit-learn's own MLPClassifier/MLPRegressor on the data sets that ship with scikit-learn.

Same hidden sizes, solver, learning rate, batch size and number of epochs for both (stopping on a
plateau is turned off, so both run every epoch), one run each, features standardised on the
training split (and the diabetes target too, through TransformedTargetRegressor), 25% held out
(stratified for classification).  Prints a Markdown table: test accuracy or R^2, and seconds of
``fit``; mlp in float64 (as scikit-learn computes) and in float32.

    python examples/compare_sklearn.py [--epochs 200] [--hidden 100] [--threads 1]

BLAS threads are limited to ``--threads`` (default 1, through threadpoolctl, for both libraries):
on a small, busy machine two BLAS threads per process made both ten times slower.
"""
import argparse
import platform
import time
import warnings

import numpy as np
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlp
from mlp.sklearn import MLPClassifier, MLPRegressor

DATASETS = {"digits": load_digits, "breast cancer": load_breast_cancer, "wine": load_wine, "diabetes": load_diabetes}


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed_score(estimator, split):
    X_train, X_test, y_train, y_test = split
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return estimator.score(X_test, y_test), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: the libraries' own default)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads or None):
        compare(args)


def compare(args):
    common = dict(hidden_layer_sizes=(args.hidden,), solver="adam", learning_rate_init=1e-3, batch_size="auto",
                  max_iter=args.epochs, tol=0.0, n_iter_no_change=args.epochs, random_state=args.seed, alpha=1e-4)
    import os

    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); mlp {mlp.__version__}, scikit-learn {sklearn.__version__}, "
          f"NumPy {np.__version__}; hidden ({args.hidden},), adam, lr 1e-3, batch min(200, n), "
          f"{args.epochs} epochs, alpha 1e-4, seed {args.seed}, BLAS threads {args.threads or 'default'}\n")
    print("| data set | samples x features | metric | scikit-learn | mlp float64 | mlp float32 |"
          " scikit-learn s | mlp float64 s | mlp float32 s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, loader in DATASETS.items():
        X, y = loader(return_X_y=True)
        regression = name == "diabetes"
        split = train_test_split(X, y, test_size=0.25, random_state=args.seed, stratify=None if regression else y)
        results = []
        for make in (lambda: SkRegressor(**common) if regression else SkClassifier(**common),
                     lambda: MLPRegressor(**common) if regression else MLPClassifier(**common),
                     lambda: MLPRegressor(dtype="float32", **common) if regression else MLPClassifier(dtype="float32", **common)):
            estimator = make()
            if regression:
                estimator = TransformedTargetRegressor(estimator, transformer=StandardScaler())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                results.append(timed_score(make_pipeline(StandardScaler(), estimator), split))
        scores = " | ".join(f"{s:.4f}" for s, _ in results)
        times = " | ".join(f"{t:.2f}" for _, t in results)
        print(f"| {name} | {X.shape[0]} x {X.shape[1]} | {'R2' if regression else 'accuracy'} | {scores} | {times} |",
              flush=True)


if __name__ == "__main__":
    main()
