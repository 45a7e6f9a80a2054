#!/usr/bin/env bash
# From a CSV file to predictions, through the `mlp` command only.
#
#   bash examples/csv_to_predictions.sh [FOLDER]      (default: a new temporary folder)
#
# The only Python here writes the CSV files: scikit-learn's copy of the Wisconsin breast-cancer
# data (569 tumours, 30 measurements, diagnosis "malignant" or "benign"). The last 20 rows are kept
# apart, without their diagnosis, as "new patients" to predict. Everything else is `mlp`.
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
table.iloc[:-20].to_csv(f"{work}/breast_cancer.csv", index=False)
table.iloc[-20:].drop(columns="diagnosis").to_csv(f"{work}/new_patients.csv", index=False)
PY

# train: the target column by name, the task inferred (text labels: classification), the features
# standardised with the training split's statistics, 20% held out for validation
$mlp train --data "$work/breast_cancer.csv" --target diagnosis --epochs 50 --quiet --save "$work/model.safetensors"

# the saved model on the whole file (its preprocessing travels in the checkpoint)
$mlp evaluate "$work/model.safetensors" --data "$work/breast_cancer.csv"

# new rows without the diagnosis column: labels and class probabilities, rows in input order
$mlp predict "$work/model.safetensors" "$work/new_patients.csv" --proba --out "$work/predictions.csv"
head -n 6 "$work/predictions.csv"
echo "files in $work"
