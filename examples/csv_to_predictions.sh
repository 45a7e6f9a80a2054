#!/usr/bin/env bash
# From a CSV file to predictions, through the `mlp` command only.
#
#   bash examples/csv_to_predictions.sh [FOLDER]      (default: a new temporary folder)
#
# The only Python here writes the CSV files: scikit-learn's copy of the Wisconsin breast-cancer
# data (569 tumours, 30 measurements, diagnosis "malignant" or "benign"). 100 rows are kept apart
# as a test file the model never sees in training, and the last 20, without their diagnosis and with
# a patient number, as "new patients" to predict. Everything else is `mlp`.
set -euo pipefail
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
mlp="${MLP:-mlp}"    # MLP="python -m mlp" runs it from a checkout

python3 - "$work" <<'PY'
import sys
from sklearn.datasets import load_breast_cancer

work = sys.argv[1]
data = load_breast_cancer(as_frame=True)
table = data.frame.rename(columns={"target": "diagnosis"})
table["diagnosis"] = table["diagnosis"].map(dict(enumerate(data.target_names)))  # 0/1 -> text labels
table.iloc[:-120].to_csv(f"{work}/breast_cancer.csv", index=False)
table.iloc[-120:-20].to_csv(f"{work}/test.csv", index=False)
new = table.iloc[-20:].drop(columns="diagnosis")
new.insert(0, "patient", [f"P{i:04d}" for i in new.index])  # not a measurement: copied out with --keep
new.to_csv(f"{work}/new_patients.csv", index=False)
PY

# train: the target column by name, the task inferred (text labels: classification), the features
# standardised with the training split's statistics, 20% held out for validation
$mlp train --data "$work/breast_cancer.csv" --target diagnosis --epochs 50 --quiet --save "$work/model.safetensors"

# the saved model on rows it was not trained on (its preprocessing travels in the checkpoint);
# `mlp evaluate` without --data refuses for a table: the training file would score the rows it learnt
$mlp evaluate "$work/model.safetensors" --data "$work/test.csv"

# new rows without the diagnosis column: labels and class probabilities, rows in input order, each
# after its patient number (--keep copies input columns into the output, to join on)
$mlp predict "$work/model.safetensors" "$work/new_patients.csv" --keep patient --proba --out "$work/predictions.csv"
head -n 6 "$work/predictions.csv"
echo "files in $work"
