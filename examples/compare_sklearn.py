"""mlp.sklearn beside scikit-learn's own MLPClassifier/MLPRegressor: the same steps, the same scores, the seconds.

Two tables, in Markdown:

* ``--table steps``: from identical initial weights (the same ``random_state``: both draw scikit-learn's Glorot
  initialisation from one ``RandomState``, then the epochs' orders from it), one epoch (``lbfgs``: one iteration)
  and ten of each solver, for a classifier (digits, 10 classes) and a regressor with 1 target (diabetes) and 3
  (``make_regression``); the largest difference between the two libraries' weights, and their final losses.
  Batches of 200 leave a short last batch in each of these data sets.
* ``--table scores``: each solver on the data sets that ship with scikit-learn, the same hidden sizes, rate, batch
  size and epochs for both (stopping on a plateau turned off, so both run every epoch), one run each, features
  standardised on the training split (and the diabetes target too), 25% held out (stratified for classification);
  test accuracy or R^2 and seconds of ``fit``, mlp in float64 (as scikit-learn computes) and float32.

    python examples/compare_sklearn.py [--table steps|scores|both] [--epochs 200] [--hidden 100] [--threads 1]

BLAS threads are limited to ``--threads`` (default 1, through threadpoolctl, for both libraries): on a small, busy
machine two BLAS threads per process made both ten times slower.
"""

import argparse
import os
import platform
import time
import warnings

import numpy as np
import sklearn
import sklearn.neural_network as sk
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlp
import mlp.sklearn as ours

DATASETS = {"digits": load_digits, "breast cancer": load_breast_cancer, "wine": load_wine, "diabetes": load_diabetes}
SOLVERS = ("sgd", "adam", "lbfgs")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def step_problems(seed):
    X, y = load_digits(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    Xr, Yr = make_regression(n_samples=500, n_features=10, n_targets=3, noise=5.0, random_state=seed)
    scale = StandardScaler().fit_transform
    return [
        ("classifier, digits (1797 x 64, 10 classes)", "MLPClassifier", scale(X), y),
        ("regressor, diabetes (442 x 10, 1 target)", "MLPRegressor", scale(Xd), scale(yd[:, None])[:, 0]),
        ("regressor, make_regression (500 x 10, 3 targets)", "MLPRegressor", scale(Xr), scale(Yr)),
    ]


def largest_difference(a, b):
    return max(
        float(np.max(np.abs(p - q))) for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True)
    )


def steps_table(args):
    print(
        f"From identical initial weights (random_state={args.seed}), hidden ({args.hidden},), batch 200, "
        "alpha 1e-4, lr 1e-3 (sgd: momentum 0.9, Nesterov), float64; largest |weight difference| and the final "
        "loss (`loss_curve_[-1]`, lbfgs `loss_`) of each.\n"
    )
    print("| solver | problem | 1 epoch: max abs diff | 10 epochs: max abs diff | loss scikit-learn | loss mlp |")
    print("|---|---|---|---|---|---|")
    for solver in SOLVERS:
        for label, name, X, y in step_problems(args.seed):
            row = []
            for epochs in (1, 10):
                kw = dict(
                    hidden_layer_sizes=(args.hidden,),
                    solver=solver,
                    max_iter=epochs,
                    batch_size=200,
                    random_state=args.seed,
                    tol=0.0,
                    n_iter_no_change=100,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    theirs = getattr(sk, name)(**kw).fit(X, y)
                    mine = getattr(ours, name)(**kw).fit(X, y)
                row.append(largest_difference(theirs, mine))
            losses = [e.loss_ for e in (theirs, mine)]
            print(
                f"| {solver} | {label} | {row[0]:.1e} | {row[1]:.1e} | {losses[0]:.10f} | {losses[1]:.10f} |",
                flush=True,
            )
    print()


def timed_score(estimator, split):
    X_train, X_test, y_train, y_test = split
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    return estimator.score(X_test, y_test), seconds


def scores_table(args):
    print(
        f"hidden ({args.hidden},), batch min(200, n), {args.epochs} epochs (lbfgs: iterations), alpha 1e-4, "
        f"lr 1e-3, seed {args.seed}\n"
    )
    print(
        "| data set | samples x features | metric | solver | scikit-learn | mlp float64 | mlp float32 |"
        " scikit-learn s | mlp float64 s | mlp float32 s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, loader in DATASETS.items():
        X, y = loader(return_X_y=True)
        regression = name == "diabetes"
        split = train_test_split(X, y, test_size=0.25, random_state=args.seed, stratify=None if regression else y)
        for solver in SOLVERS:
            common = dict(
                hidden_layer_sizes=(args.hidden,),
                solver=solver,
                learning_rate_init=1e-3,
                batch_size="auto",
                max_iter=args.epochs,
                tol=0.0,
                n_iter_no_change=args.epochs,
                random_state=args.seed,
                alpha=1e-4,
            )
            kind = "MLPRegressor" if regression else "MLPClassifier"
            results = []
            for make in (
                lambda: getattr(sk, kind)(**common),
                lambda: getattr(ours, kind)(**common),
                lambda: getattr(ours, kind)(dtype="float32", **common),
            ):
                estimator = make()
                if regression:
                    estimator = TransformedTargetRegressor(estimator, transformer=StandardScaler())
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    results.append(timed_score(make_pipeline(StandardScaler(), estimator), split))
            scores = " | ".join(f"{s:.4f}" for s, _ in results)
            times = " | ".join(f"{t:.2f}" for _, t in results)
            print(
                f"| {name} | {X.shape[0]} x {X.shape[1]} | {'R2' if regression else 'accuracy'} | {solver} | "
                f"{scores} | {times} |",
                flush=True,
            )
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", choices=("steps", "scores", "both"), default="both")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: the libraries' own default)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    print(
        f"CPU: {cpu_name()} ({os.cpu_count()} cores); mlp {mlp.__version__}, scikit-learn {sklearn.__version__}, "
        f"NumPy {np.__version__}, backend {mlp.get_backend().name}; BLAS threads {args.threads or 'default'}\n"
    )
    with threadpool_limits(args.threads or None):
        if args.table in ("steps", "both"):
            steps_table(args)
        if args.table in ("scores", "both"):
            scores_table(args)


if __name__ == "__main__":
    main()
