"""What accuracy hides: per-class precision and recall, balanced accuracy and the majority-class baseline.

``mlp.train.metrics.confusion`` / ``class_report`` are checked against scikit-learn's definitions, and
``mlp evaluate`` against the predictions ``mlp predict`` writes for the same rows.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from mlp.train.metrics import class_report
from tests_helpers import run_cli

sklearn_metrics = pytest.importorskip("sklearn.metrics")


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_the_report_of_a_confusion_matrix_is_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    truth = rng.choice(k, size=300, p=rng.dirichlet(np.ones(k)))
    predicted = np.where(rng.random(300) < 0.6, truth, rng.integers(0, k, 300))
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    got = class_report(counts)
    labels = np.arange(k)
    p, r, _, n = sklearn_metrics.precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=np.nan)
    np.testing.assert_allclose(got["precision"], p, equal_nan=True)
    np.testing.assert_allclose(got["recall"], r, equal_nan=True)
    assert got["support"] == n.tolist()
    assert got["balanced_accuracy"] == pytest.approx(sklearn_metrics.balanced_accuracy_score(truth, predicted))
    assert got["baseline"] == pytest.approx(np.bincount(truth, minlength=k).max() / 300)
    assert got["majority"] == int(np.argmax(np.bincount(truth, minlength=k)))


def test_the_confusion_of_a_model_counts_its_predictions(backend):
    import mlp
    from mlp.train.metrics import confusion

    model = mlp.Sequential([mlp.Linear(3, 4), mlp.ReLU(), mlp.Linear(4, 3)], backend=backend, seed=1)
    X = np.random.default_rng(0).normal(size=(50, 3))
    y = np.arange(50) % 3
    counts = confusion(model, None, model.backend.asarray(X, dtype=model.dtype), y, 3, batch_size=7)
    predicted = np.asarray(model.predict(X))
    expected = np.zeros((3, 3), dtype=np.int64)
    np.add.at(expected, (y, predicted), 1)
    np.testing.assert_array_equal(counts, expected)


def _table(path, n, rate, seed=0, learnable=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    cut = np.quantile(x[:, 0], 1 - rate)
    y = x[:, 0] > cut if learnable else rng.random(n) < rate
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "label"])
        for row, t in zip(x, y, strict=True):
            w.writerow([*(f"{v:.6f}" for v in row), "pos" if t else "neg"])
    return path


def _train_and_evaluate(tmp_path, capsys, data, epochs, *evaluate_options):
    """``(model path, train's (stdout, stderr), evaluate's (stdout, stderr))`` of ``data``'s label."""
    model = tmp_path / "m.safetensors"
    code, train_out, train_err = run_cli(
        ["train", "--data", str(data), "--target", "label", "--epochs", str(epochs), "--quiet", "--save", str(model)],
        capsys,
    )
    assert code == 0, train_err
    code, out, err = run_cli(["evaluate", str(model), "--data", str(data), *evaluate_options], capsys)
    assert code == 0, err
    return model, (train_out, train_err), (out, err)


def test_evaluate_reports_each_class_as_predict_sees_it(tmp_path, capsys):
    data = _table(tmp_path / "t.csv", 1500, 0.05)
    model, _, (out, _) = _train_and_evaluate(tmp_path, capsys, data, 4)
    code, _, err = run_cli(["predict", str(model), str(data), "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 0, err
    with open(data) as f:
        truth = [r["label"] for r in csv.DictReader(f)]
    with open(tmp_path / "p.csv") as f:
        predicted = [r["label"] for r in csv.DictReader(f)]
    p, r, _, n = sklearn_metrics.precision_recall_fscore_support(
        truth, predicted, labels=["neg", "pos"], zero_division=0
    )
    balanced = sklearn_metrics.balanced_accuracy_score(truth, predicted)
    assert f"balanced accuracy {balanced:.4f}, majority-class baseline 0.9500" in out, out
    for name, pk, rk, nk in zip(["neg", "pos"], p, r, n, strict=True):
        shown = f"{pk:.4f}" if name in predicted else "   n/a"  # a class never predicted has no precision
        assert f"  class {name}  precision {shown}  recall {rk:.4f} ({round(rk * nk)} of {nk} found)" in out, out


def test_a_model_no_better_than_the_majority_class_is_said(tmp_path, capsys):
    data = _table(tmp_path / "t.csv", 1000, 0.02, learnable=False)  # labels unrelated to the inputs
    _, (train_out, train_err), (out, err) = _train_and_evaluate(tmp_path, capsys, data, 2)
    assert "mlp: warning: validation accuracy 0.9" in train_err, train_err
    assert train_out.strip().splitlines()[-1].startswith("validation")  # the summary stays the last line
    with open(data) as f:
        positives = sum(r["label"] == "pos" for r in csv.DictReader(f))
    share = 1 - positives / 1000
    assert (
        f"mlp: warning: accuracy {share:.4f} is no better than always answering 'neg', the most frequent class "
        f"({share:.4f} of the rows)" in err
    ), err
    assert f"class pos  precision    n/a  recall 0.0000 (0 of {positives} found)" in out, out


def test_a_balanced_model_that_learnt_gets_no_warning(tmp_path, capsys):
    data = _table(tmp_path / "t.csv", 1000, 0.5)
    _, _, (out, err) = _train_and_evaluate(tmp_path, capsys, data, 5, "--quiet")
    assert "warning" not in out + err and "class neg" not in out  # --quiet: the summary line alone
    assert "majority-class baseline" not in out  # balanced classes: the baseline is not worth a mention
