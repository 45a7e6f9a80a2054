"""A reference of what a table becomes, a cell at a time: the oracle the typed, vectorised pipeline is checked against.

It restates, with plain Python loops over a CSV file's cells (the standard library's ``csv`` module), the rules
the table pipeline implements with codes and NumPy (``mlp.io.tables``): the cell rules (gaps, numbers, booleans,
text), each column's kind, the target's classes, each column's encoder fitted on the training rows, and the
model's inputs as a table stored one-hot would hold them (what the first Linear layer sees after the model's
OneHot layer; a column of many levels is one code, as an Embedding reads it).  It is how mlp encoded tables
before the typed pipeline (one Python object per cell), kept here so that the two are compared on messy tables.
Slow by design; for tests only.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
import statistics

import numpy as np

NULLS = {
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "n/a",
    "nan",
    "null",
}
TRUE, FALSE = {"1", "True", "TRUE", "true"}, {"0", "False", "FALSE", "false"}
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.IGNORECASE)
MAX_LEVELS, MAX_CODES, MIN_ID_ROWS = 50, 1000, 10


def number(v):
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and NUMBER.fullmatch(v.strip()):
        return float(v.strip())
    return None


def date(v):
    if isinstance(v, str) and len(v.strip()) >= 8 and v.strip()[:1].isdigit():
        try:
            return dt.datetime.fromisoformat(v.strip())
        except ValueError:
            return None
    return None


def label(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return int(v) if v.is_integer() else v
    return v


def key(v):
    return (type(v) is bool, v)


def sort_key(v):
    return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))


def read(path):
    """``{name: [value, ...]}``: each cell trimmed, gaps None; a column of numbers floats, of booleans bools."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [row for row in csv.reader(f) if row]
    names, columns = [h.strip() for h in rows[0]], {}
    for j, name in enumerate(names):
        cells = [None if r[j].strip() in NULLS else r[j].strip() for r in rows[1:]]
        present = [c for c in cells if c is not None]
        if all(NUMBER.fullmatch(c) for c in present):
            columns[name] = [math.nan if c is None else float(c) for c in cells]
        elif present and all(c in TRUE or c in FALSE for c in present):
            columns[name] = [None if c is None else c in TRUE for c in cells]
        else:
            columns[name] = cells
    return columns


def kind_of(values):
    """The kind of a column (numeric, categorical, datetime) or ``"dropped"``, as the rules read it."""
    n = len(values)
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return "dropped"
    if all(isinstance(v, float) for v in values):
        return "dropped" if len(present) == n and len(set(present)) == 1 else "numeric"
    distinct = {key(label(v)) for v in present}
    if len(distinct) == 1 and len(present) == n:
        return "dropped"
    if all(isinstance(v, bool) for v in present):
        return "categorical"
    texts = [v for v in present if not isinstance(v, bool)]
    if all(number(v) is not None for v in texts):
        return "numeric"
    if all(date(v) is not None for v in texts):
        return "datetime"
    if len(distinct) == len(present) and len(present) >= MIN_ID_ROWS:
        return "dropped"
    return "categorical"


def encoder(kind, values):
    """What the training ``values`` of a column teach its encoder."""
    if kind == "numeric":
        x = [number(v) if v is not None else math.nan for v in values]
        present = [v for v in x if not math.isnan(v)]
        return {"fill": float(np.median(present)) if present else 0.0, "indicator": len(present) < len(x)}
    if kind == "categorical":
        counts = {}
        for v in values:
            if v is not None:
                counts[key(label(v))] = counts.get(key(label(v)), 0) + 1
        codes = len(counts) > MAX_LEVELS
        top = sorted(counts, key=lambda k: (-counts[k], sort_key(k[1])))[: MAX_CODES if codes else MAX_LEVELS]
        return {"categories": sorted((k[1] for k in top), key=sort_key), "missing": None in values, "codes": codes}
    dates = [date(v) for v in values if v is not None]
    timed = any((d.hour, d.minute, d.second, d.microsecond) != (0, 0, 0, 0) for d in dates)
    parts = [days_and_hour(d)[: 2 if timed else 1] for d in dates]
    fill = list(np.median(np.array(parts), axis=0)) if parts else [0.0] * (2 if timed else 1)
    return {"fill": fill, "indicator": len(dates) < len(values), "timed": timed}


def days_and_hour(d):
    hour = d.hour + d.minute / 60 + (d.second + d.microsecond / 1e6) / 3600
    return ((d - dt.datetime(1970, 1, 1)).total_seconds() / 86400, hour)


def encode(kind, enc, v):
    """The inputs one cell gives (before standardisation): a table stored one-hot, codes for many levels."""
    if kind == "numeric":
        x = math.nan if v is None else number(v)
        gap = x is None or math.isnan(x)
        return [enc["fill"] if gap else x] + ([1.0 if gap else 0.0] if enc["indicator"] else [])
    if kind == "categorical":
        cats = enc["categories"]
        width = len(cats) + enc["missing"] + 1
        if v is None:
            slot = len(cats) if enc["missing"] else width - 1
        else:
            exact = {key(c): k for k, c in enumerate(cats)}
            loose = {str(c).lower(): k for k, c in enumerate(cats)}
            slot = exact.get(key(label(v)), loose.get(str(label(v)).lower(), width - 1))
        return [float(slot)] if enc["codes"] else [float(slot == k) for k in range(width)]
    d = None if v is None else date(v)
    parts = list(enc["fill"]) if d is None else list(days_and_hour(d)[: len(enc["fill"])])
    return parts + ([1.0 if d is None else 0.0] if enc["indicator"] else [])


def reference(path, target, val_fraction_rows=None, scaling="robust"):
    """``(kinds, classes, inputs, y)`` of a CSV file and its target column, the encoders fitted on the training
    rows ``val_fraction_rows`` (indices among the rows with a target; default all), the inputs (numbers and date
    parts; slots, codes and indicators as they are) scaled with those rows' statistics: ``"standard"``, their mean
    and standard deviation; ``"robust"``, the median and interquartile range of the values present (half the range
    where the quartiles are equal), then ``x / sqrt(1 + (x/3)**2)``."""
    columns = read(path)
    labels = columns.pop(target)
    keep = [i for i, v in enumerate(labels) if v is not None and not (isinstance(v, float) and math.isnan(v))]
    kinds = {name: kind_of(values) for name, values in columns.items()}
    used = [n for n, k in kinds.items() if k != "dropped"]
    train = keep if val_fraction_rows is None else [keep[i] for i in val_fraction_rows]
    encoders = {n: encoder(kinds[n], [columns[n][i] for i in train]) for n in used}
    rows = [[x for n in used for x in encode(kinds[n], encoders[n], columns[n][i])] for i in keep]
    X = np.array(rows, dtype=np.float64)
    scaled = [kinds[n] in ("numeric", "datetime") for n in used for _ in encode(kinds[n], encoders[n], None)]
    indicator = [
        kinds[n] != "categorical" and (j == len(encode(kinds[n], encoders[n], None)) - 1 and encoders[n]["indicator"])
        for n in used
        for j in range(len(encode(kinds[n], encoders[n], None)))
    ]
    T = np.array([[x for n in used for x in encode(kinds[n], encoders[n], columns[n][i])] for i in train])
    gap_input = []  # each input's column's indicator input (or None)
    for n in used:
        width = len(encode(kinds[n], encoders[n], None))
        last = len(gap_input) + width - 1
        has = kinds[n] != "categorical" and encoders[n]["indicator"]
        gap_input += [last if has else None] * width
    for j, (s, ind) in enumerate(zip(scaled, indicator, strict=True)):
        if s and not ind and scaling == "standard":
            scale = T[:, j].std()
            X[:, j] = (X[:, j] - T[:, j].mean()) / (scale if scale > 1e-12 * max(1.0, abs(T[:, j].mean())) else 1.0)
        elif s and not ind:
            present = sorted(float(T[i, j]) for i in range(len(T)) if gap_input[j] is None or T[i, gap_input[j]] == 0)
            q1, median, q3 = statistics.quantiles(present, n=4, method="inclusive")
            scale = q3 - q1 if q3 > q1 else (present[-1] - present[0]) / 2
            z = (X[:, j] - median) / (scale if scale > 1e-12 * max(1.0, abs(median)) else 1.0)
            X[:, j] = z / np.sqrt(1 + (z / 3) ** 2)
    classes = sorted({key(label(labels[i])): label(labels[i]) for i in keep}.values(), key=sort_key)
    index = {key(c): k for k, c in enumerate(classes)}
    y = np.array([index[key(label(labels[i]))] for i in keep])
    return kinds, classes, X, y
