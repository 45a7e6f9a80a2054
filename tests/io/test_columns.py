"""Columns as they come: each kind inferred and encoded, gaps filled, the overrides, the errors, unseen values at
prediction, the preprocessing in the checkpoint, and tables from pandas and Arrow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp.core.errors import CheckpointError, DataError
from mlp.io.tables import MAX_CODES, MAX_LEVELS, Preprocessor, from_frame, load_for, load_table

ROOT = Path(__file__).resolve().parents[2]


#: the preprocessing's fields that format 4 added (a checkpoint of an earlier format has none of them)
NEW_IN_4 = ("scaling", "clip", "target_low", "target_high")


def expanded(pre, X):
    """The inputs the first Linear layer sees: the model inputs ``X`` with the codes of the categorical columns
    expanded by the preprocessor's input layers (a OneHot; an Embedding's codes are left as they are)."""
    for layer in pre.input_layers():
        if isinstance(layer, mlp.OneHot):
            forward, _ = layer.functions(mlp.get_kernels(mlp.get_backend("numpy")), 0)
            X = np.asarray(forward((), np.asarray(X, dtype=np.float64), None)[0])
    return X


def categorical(values, y=None, **kw):
    """A preprocessor of one categorical column ``c`` fitted on ``values`` (labels; None a gap)."""
    values = np.array([*values, None], dtype=object)[:-1, None]
    y = np.arange(len(values)) % 2 if y is None else y
    return Preprocessor.fit(values, ["c"], ["t"], "classification", y=y, kinds={"c": "categorical"}, **kw)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def messy_csv(n=40):
    """Every kind of column: an id, numbers and text with gaps, booleans, dates, a constant; two targets missing."""
    lines = ["id,age,city,member,joined,const,label"]
    for i in range(n):
        age = "" if i % 5 == 0 else str(20 + i)
        city = "" if i % 7 == 3 else ["paris", "rome", "oslo"][i % 3]
        member = ["True", "False"][i % 2]
        joined = "" if i % 9 == 4 else f"2021-{1 + i % 12:02d}-{1 + i % 28:02d}"
        label = "" if i in (6, 13) else ["yes", "no"][(i // 2) % 2]
        lines.append(f"c{i:03d},{age},{city},{member},{joined},7,{label}")
    return "\n".join(lines) + "\n"


# -- kinds ------------------------------------------------------------------------------------------
def test_each_kind_is_inferred_and_said(tmp_path, reader):
    ds = load_table(write(tmp_path, messy_csv()))
    assert {n: k.kind for n, k in ds.kinds.items() if k.used} == {
        "age": "numeric",
        "city": "categorical",
        "member": "categorical",
        "joined": "datetime",
    }
    assert ds.dropped["id"].startswith("identifier-like") and ds.dropped["const"].startswith("constant")
    assert ds.features == ["age", "city", "member", "joined"]
    np.testing.assert_array_equal(ds.left_out, [6, 13])  # rows whose target is missing: left out, and said
    assert len(ds) == 38 and ds.y.min() >= 0
    lines = ds.lines(ds.preprocessor())
    assert any(line.startswith("columns numeric: 1 (age); gaps in age") for line in lines), lines
    assert any("identifier-like: 1 (id: unique text in each of 40 rows)" in line for line in lines) and any(
        "constant: 1 (const)" in line for line in lines
    )
    assert "rows left out: 2 with a missing target (rows 7, 14)" in lines
    verbose = ds.lines(ds.preprocessor(), verbose=True)
    assert len(verbose) == len(lines) + 6 and "  column 'id': dropped, identifier-like" in "\n".join(verbose)


def test_numeric_gaps_get_the_training_median_and_an_indicator():
    X = np.array([[1.0], [np.nan], [3.0], [10.0]])
    pre = Preprocessor.fit(X, ["a"], ["t"], "regression", y=np.array([0.5, 1.0, 2.0, 3.0]), standardize=False)
    assert pre.columns[0].fill == 3.0 and pre.columns[0].indicator and pre.n_inputs() == 2
    np.testing.assert_array_equal(pre.transform(X, "float64"), [[1, 0], [3, 1], [3, 0], [10, 0]])
    # statistics from the training rows only: a new gap takes their median, whatever the new rows hold
    np.testing.assert_array_equal(pre.transform(np.array([[np.nan], [100.0]]), "float64"), [[3, 1], [100, 0]])
    # standardisation leaves the indicator as it is (mean 0, scale 1)
    pre = Preprocessor.fit(X, ["a"], ["t"], "regression", y=np.array([0.5, 1.0, 2.0, 3.0]), scaling="standard")
    assert pre.mean[1] == 0.0 and pre.scale[1] == 1.0 and pre.mean[0] == pytest.approx(np.mean([1, 3, 3, 10]))
    pre = Preprocessor.fit(X, ["a"], ["t"], "regression", y=np.array([0.5, 1.0, 2.0, 3.0]))  # robust: of 1, 3, 10
    assert pre.mean.tolist() == [3.0, 0.0] and pre.scale.tolist() == [4.5, 1.0]


def test_a_column_without_training_gaps_fills_a_new_gap_without_indicator():
    pre = Preprocessor.fit(
        np.array([[1.0], [2.0], [4.0]]), ["a"], ["t"], "classification", y=np.array([0.0, 1.0, 0.0]), standardize=False
    )
    assert not pre.columns[0].indicator and pre.n_inputs() == 1
    np.testing.assert_array_equal(pre.transform(np.array([[np.nan]]), "float64"), [[2.0]])


def test_categories_one_hot_gap_slot_and_unknown_slot():
    pre = categorical(["red", "blue", None, "red"])
    col = pre.columns[0]
    assert col.categories == ["blue", "red"] and col.missing and col.n_slots == 4
    # the table holds one code; the model's OneHot layer makes the slots a batch at a time
    assert col.codes and col.layer == "OneHot" and pre.n_inputs() == 1 and pre.input_names() == ["c:code"]
    assert pre.mean is not None and not pre.mean.any() and (pre.scale == 1).all()  # codes are not scaled
    new = np.array([["red"], [None], ["green"], ["blue"]], dtype=object)
    np.testing.assert_array_equal(pre.transform(new, "float64"), [[1], [2], [3], [0]])
    np.testing.assert_array_equal(
        expanded(pre, pre.transform(new, "float64")), [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]
    )
    # without gaps in training, a gap at prediction goes to the unknown slot
    pre = categorical(["red", "blue"])
    np.testing.assert_array_equal(
        expanded(pre, pre.transform(np.array([[None]], dtype=object), "float64")), [[0, 0, 1]]
    )


def test_categories_match_across_readers_numbers_and_text_booleans_and_words():
    col = categorical(["1", "2", True]).columns[0]
    slots = col.slots_of([1.0, "2", "true", True, False])
    assert slots[:-1].tolist() == [
        col.categories.index("1"),
        col.categories.index("2"),
        col.categories.index(True),
        col.categories.index(True),
        col.n_slots - 1,
    ]


def test_up_to_max_levels_one_hot_and_more_become_learned_vectors():
    values = [f"v{i}" for i in range(MAX_LEVELS)]
    pre = categorical(values)
    col = pre.columns[0]
    assert col.layer == "OneHot" and col.width == 1 and col.n_slots == MAX_LEVELS + 1
    assert [type(layer).__name__ for layer in pre.input_layers()] == ["OneHot"]
    assert expanded(pre, pre.transform(np.array([["v3"]], dtype=object))).shape == (1, MAX_LEVELS + 1)
    pre = categorical([f"v{i}" for i in range(MAX_LEVELS + 1)] + [None])
    col = pre.columns[0]
    assert col.layer == "Embedding" and col.width == 1 and col.n_slots == MAX_LEVELS + 1 + 2
    assert col.scaled() == [False] and col.input_names() == ["c:code"] and col.embedded
    assert [type(layer).__name__ for layer in pre.input_layers()] == ["Embedding"]
    codes = pre.transform(np.array([["v1"], [None], ["never seen"], ["v0"]], dtype=object), "float64")
    assert codes[:, 0].tolist() == [
        col.categories.index("v1"),
        MAX_LEVELS + 1,
        MAX_LEVELS + 2,
        col.categories.index("v0"),
    ]
    d = col.to_dict()
    assert type(col).from_dict(d) == col and d["codes"] is True and d["layer"] == "Embedding"
    # a format-2 file's code column (no layer) is an Embedding's; its one-hot columns are made by the preprocessor
    old = type(col).from_dict({k: v for k, v in d.items() if k != "layer"}, format=2)
    assert old.layer == "Embedding" and old.codes
    onehot = type(col).from_dict(
        {"name": "c", "kind": "categorical", "categories": ["a", "b"], "missing": False}, format=2
    )
    assert not onehot.codes and onehot.width == 3 and onehot.layer is None


def test_many_levels_keep_the_most_frequent_and_share_the_unknown_code():
    pre = categorical([f"v{i}" for i in range(MAX_CODES + 10)] + ["v0"] * 5)
    col = pre.columns[0]
    assert col.embedded and len(col.categories) == MAX_CODES and "v0" in col.categories
    dropped = [f"v{i}" for i in range(MAX_CODES + 10) if f"v{i}" not in col.categories]
    codes = pre.transform(np.array(dropped, dtype=object)[:, None], "float64")
    assert len(dropped) == 10 and codes[:, 0].tolist() == [MAX_CODES] * 10


def test_dates_become_numeric_parts_and_times_add_the_hour(tmp_path, reader):
    ds = load_table(write(tmp_path, "when,x,y\n2024-05-31,1,a\n2023-01-02T13:30,2,b\n,3,a\n2022-12-25,4,b\n"))
    pre = ds.preprocessor(standardize=False)
    col = pre.columns[0]
    assert col.kind == "datetime" and col.parts == ["days", "hour"] and col.indicator
    E = ds.inputs(pre, "float64")
    np.testing.assert_array_equal(E[0, :3], [19874, 0.0, 0])  # days since 1970-01-01, midnight
    np.testing.assert_allclose(E[1, :3], [19359 + 13.5 / 24, 13.5, 0], rtol=1e-15)  # 13:30
    np.testing.assert_array_equal(E[2, :3], [*col.fill, 1])  # a gap: the training medians, and the indicator
    assert col.fill == [19359 + 13.5 / 24, 0.0]  # per part, the median of the three dates
    # a checkpoint of an earlier version names the parts it used: read, and encoded with them
    old = type(col).from_dict(
        {
            "name": "when",
            "kind": "datetime",
            "parts": ["year", "month", "day", "weekday"],
            "fill": [2023.0, 5.0, 25.0, 4.0],
            "indicator": False,
        }
    )
    np.testing.assert_array_equal(old.encode(old.parse(ds.table), slice(0, 2)), [[2024, 5, 31, 4], [2023, 1, 2, 0]])
    # (Friday, Monday)


def test_a_column_of_mostly_dates_reads_its_other_text_as_gaps_and_says_how_many(tmp_path, reader):
    path = write(tmp_path, "when,y\n2024-05-31,a\n2024-06-01,b\nyesterday,a\n2024-06-03,b\n")
    ds = load_table(path)
    assert ds.kinds["when"].kind == "datetime"
    note = [line for line in ds.lines(ds.preprocessor()) if line.startswith("note: ")]
    assert note == [
        "note: column 'when': 1 of its 4 values are not dates ('yesterday' at row 3 (line 4) first; "
        "read: ISO 8601, e.g. 2024-05-31 or 2024-05-31T13:45; also US 05/31/2024 and 31.05.2024), read "
        "as gaps; categorical=['when'] reads the column as categories, drop=['when'] leaves it out"
    ]
    pre = ds.preprocessor(standardize=False)
    assert pre.columns[0].indicator and pre.columns[0].lenient
    np.testing.assert_array_equal(ds.inputs(pre, "float64")[:, -1], [0, 0, 1, 0])  # the gap's indicator
    assert load_table(path, categorical="when").kinds["when"][:2] == ("categorical", "asked")
    # fewer dates than other values: not a date column (categories, as ever)
    other = write(tmp_path, "when,y\n2024-05-31,a\nsoon,b\nyesterday,a\nlater,b\n", "other.csv")
    assert load_table(other).kinds["when"].kind == "categorical"


def test_mostly_numbers_with_text_is_refused_then_settled_by_the_options(tmp_path, reader):
    path = write(tmp_path, "a,b,y\n1,2,x\n2,?,y\n3,4,x\n4,5,y\n")
    with pytest.raises(
        DataError,
        match=r"row 2 \(line 3\), column 'b': '\?' is not a number, though 3 of the 4 "
        r"values .* numeric=\['b'\] reads such values as gaps, categorical=\['b'\]",
    ):
        load_table(path)
    ds = load_table(path, numeric=["b"])
    pre = ds.preprocessor(standardize=False)
    assert pre.columns[1].indicator and ds.inputs(pre, "float64")[1].tolist() == [2.0, 4.0, 1.0]  # '?': a gap
    ds = load_table(path, categorical="b")
    assert ds.preprocessor().columns[1].categories == ["2", "4", "5", "?"]
    assert load_table(path, drop="b").features == ["a"]


def test_numbers_named_categorical_and_overrides_checked(tmp_path, reader):
    path = write(tmp_path, "code,x,y\n10,1.5,a\n20,2.5,b\n10,3.5,a\n30,4.5,b\n")
    pre = load_table(path, categorical=["code"]).preprocessor()
    assert pre.columns[0].categories == [10, 20, 30] and pre.n_inputs() == 2 and pre.input_layers()[0].n_out == 5
    with pytest.raises(DataError, match=r"no column 'kode' \(categorical=\); the columns are 'code', 'x', 'y'"):
        load_table(path, categorical=["kode"])
    with pytest.raises(DataError, match=r"column 'y' is the target; drop= names feature columns"):
        load_table(path, drop="y")
    with pytest.raises(DataError, match=r"no feature column left: 'code' asked for \(drop=\); 'x' asked for"):
        load_table(path, drop="code,x")
    with pytest.raises(ValueError, match="named both categorical and numeric"):
        load_table(path, categorical="x", numeric="x")


def test_small_text_columns_stay_categories_and_empty_columns_are_dropped(tmp_path, reader):
    ds = load_table(write(tmp_path, "name,blank,x,y\nann,,1,a\nbob,,2,b\ncid,,3,a\n"))
    assert ds.kinds["name"].kind == "categorical"  # unique per row, but too few rows to call it an identifier
    assert ds.dropped["blank"].startswith("empty")


# -- prediction and the checkpoint ------------------------------------------------------------------
def test_preprocessing_round_trips_through_json_and_the_checkpoint(tmp_path, reader):
    ds = load_table(write(tmp_path, messy_csv()))
    pre = ds.preprocessor()
    d = pre.to_dict()
    assert d["format"] == 4 and [c["kind"] for c in d["columns"]] == [
        "numeric",
        "categorical",
        "categorical",
        "datetime",
    ]
    assert len(d["mean"]) == pre.n_inputs() == 2 + 1 + 1 + 2  # a code per category column; joined: days, gap
    assert pre.input_layers()[0].n_out == 2 + 5 + 3 + 2  # the first Linear sees the one-hot slots
    back = Preprocessor.from_dict(json.loads(json.dumps(d)))
    assert back.to_dict() == d
    np.testing.assert_array_equal(back.transform(ds.table, "float64"), pre.transform(ds.table, "float64"))
    model = mlp.build_mlp([pre.n_inputs(), 4, 2], loss="cross_entropy", input_layers=pre.input_layers())
    loaded = mlp.load_checkpoint(mlp.save(model, tmp_path / "m.safetensors", preprocessor=pre)).preprocessor
    assert loaded.to_dict() == d


def test_a_format_1_checkpoint_is_still_read(tmp_path):
    pre = Preprocessor.fit(
        np.array([[1.0, 2.0], [3.0, 6.0]]),
        ["u", "v"],
        ["label"],
        "classification",
        y=np.array(["x", "y"], dtype=object),
        scaling="standard",
    )
    d = pre.to_dict()
    old = {k: v for k, v in d.items() if k not in ("columns", *NEW_IN_4)} | {"format": 1}
    back = Preprocessor.from_dict(old)
    assert [c.kind for c in back.columns] == ["numeric", "numeric"] and back.columns[0].fill is None
    np.testing.assert_array_equal(back.transform(np.array([[2.0, 4.0]])), pre.transform(np.array([[2.0, 4.0]])))
    with pytest.raises(DataError, match="row 1, column 'u': missing value"):  # no fill values saved: said
        back.transform(np.array([[np.nan, 4.0]]))


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda c: c[0].update(kind="ordinal"), "column 'age': kind must be one of"),
        (
            lambda c: c[0].update(fill=None, indicator="yes"),
            "indicator, missing, codes and lenient must be true or false",
        ),
        (lambda c: c[1].update(codes=1), "column 'city': indicator, missing, codes and lenient must be true or false"),
        (lambda c: c[0].update(codes=True), "column 'age': unexpected field 'codes'"),
        (lambda c: c[1].update(categories=["paris", "paris"]), "column 'city': categories hold a label twice"),
        (lambda c: c[1].update(categories=[["a"]]), "categories must be a list of labels"),
        (lambda c: c[1].update(layer="Gather"), "column 'city': a code column's layer must be one of OneHot"),
        (lambda c: c[1].update(categories=["oslo"]), "preprocessing has code inputs"),
        (lambda c: c[1].update(codes=False, layer=None), "preprocessing mean must be a list of 10 finite numbers"),
        (lambda c: c[3].update(parts=["month", "year"]), "parts must be a non-empty list"),
        (lambda c: c[3].update(fill=[1.0, 2.0]), "fill must be a list of 1 finite numbers"),
        (lambda c: c[3].update(extra=1), "unexpected field 'extra'"),
        (lambda c: c.pop(), "columns do not name the features"),
    ],
)
def test_tampered_columns_are_refused_on_load_naming_the_file(tmp_path, edit, needle):
    import safetensors.numpy

    ds = load_table(write(tmp_path, messy_csv()))
    pre = ds.preprocessor()
    path = mlp.save(
        mlp.build_mlp([pre.n_inputs(), 2], loss="cross_entropy", input_layers=pre.input_layers()),
        tmp_path / "m.safetensors",
        preprocessor=pre,
    )
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8 : 8 + header_len])["__metadata__"]["mlp"])
    edit(meta["extra"]["preprocessing"]["columns"])
    path.write_bytes(safetensors.numpy.save(safetensors.numpy.load(data), metadata={"mlp": json.dumps(meta)}))
    with pytest.raises(CheckpointError) as info:
        mlp.load_checkpoint(path)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)


@pytest.mark.filterwarnings("ignore::mlp.io.tables.notices.TableWarning")  # said once, checked below
def test_a_new_table_is_read_for_the_model_and_rows_without_a_target_left_out_when_asked(tmp_path, reader):
    pre = load_table(write(tmp_path, messy_csv())).preprocessor()
    new = write(tmp_path, "joined,member,city,age,label\n2022-02-02,True,tokyo,,yes\n,False,,30,\n", "new.csv")
    from mlp.io.tables.notices import TableWarning

    ds = load_for(pre, new)
    assert len(ds) == 2 and ds.table.names == ["joined", "member", "city", "age"]  # no target read to predict
    with pytest.warns(TableWarning, match=r"column 'city': 1 of 2 rows hold categories not seen in training"):
        E = ds.inputs(pre, "float64")
    assert pre.input_names()[2] == "city:code"  # age, age:missing, then city's code
    assert pre.columns[1].categories == ["oslo", "paris", "rome"] and pre.columns[1].missing
    np.testing.assert_array_equal(E[:, 2], [4, 3])  # tokyo: unknown; a gap: the gap slot
    np.testing.assert_array_equal(expanded(pre, E)[:, 2:7], [[0, 0, 0, 0, 1], [0, 0, 0, 1, 0]])
    ds = load_for(pre, new, need_target=True)
    assert len(ds) == 1 and [pre.classes[k] for k in ds.y] == ["yes"]
    np.testing.assert_array_equal(ds.inputs(pre, "float64"), E[:1])
    bad = write(tmp_path, "joined,member,city,age\n2022-02-02,True,rome,old\n", "bad.csv")
    with pytest.raises(DataError, match=r"bad.csv, row 1 \(line 2\), column 'age': 'old' is not a number"):
        load_for(pre, bad).inputs(pre)


# -- from Python: pandas and Arrow --------------------------------------------------------------------
def test_pandas_and_arrow_tables_read_like_the_file(tmp_path):
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    path = write(tmp_path, messy_csv())
    from_file = load_table(path)
    df = pd.read_csv(path, dtype={"member": object})
    df["joined"] = pd.to_datetime(df["joined"])
    pre = from_file.preprocessor()
    for frame in (df, pa.Table.from_pandas(df, preserve_index=False)):
        ds = load_table(frame, target="label")
        assert ds.kinds.keys() == from_file.kinds.keys() and ds.dropped.keys() == from_file.dropped.keys()
        assert [k.kind for k in ds.kinds.values()] == [k.kind for k in from_file.kinds.values()]
        np.testing.assert_array_equal(ds.left_out, from_file.left_out)
        np.testing.assert_allclose(pre.transform(from_frame(frame), "float64"), pre.transform(path, "float64"))
        np.testing.assert_array_equal(ds.inputs(pre), from_file.inputs(pre))
    with pytest.raises(TypeError, match="pandas DataFrame or a pyarrow Table"):
        from_frame([[1, 2]])


# -- the command line ---------------------------------------------------------------------------------
def run(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mlp", *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_trains_on_a_messy_table_and_predicts_unseen_values(tmp_path):
    path, ckpt = write(tmp_path, messy_csv(120)), tmp_path / "m.safetensors"
    r = run("train", "--data", str(path), "--epochs", "3", "--save", str(ckpt), "--verbose", "--backend", "numpy")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "118 rows (2 left out: target missing), 4 features" in out
    assert "columns categorical (one-hot, with an unknown slot): 2 (city, member)" in out
    assert "columns dropped, identifier-like: 1 (id: unique text in each of 120 rows)" in out
    assert "  column 'age': numeric (numbers)" in out
    new = write(tmp_path, "age,city,member,joined\n,tokyo,True,\n99,,False,2030-01-01T23:59\n", "new.csv")
    r = run("predict", str(ckpt), str(new), "--proba")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "label,proba_no,proba_yes" and len(lines) == 3
    assert all(line.split(",")[0] in ("yes", "no") for line in lines[1:])
    r = run("evaluate", str(ckpt), "--data", str(path))
    assert r.returncode == 0 and "(118 samples)" in r.stdout, r.stderr
    r = run("train", "--data", "xor", "--categorical", "a", "--quiet")
    assert r.returncode == 2 and "--categorical" in r.stderr and "to a table of your own" in r.stderr


def test_a_format_2_checkpoint_makes_its_one_hot_columns_as_before(tmp_path, reader):
    """Before format 3 the preprocessing made a category's one-hot columns itself (and a column of many levels was
    an Embedding's code): such a file is read, and gives the inputs its model was trained on."""
    path = write(tmp_path, messy_csv())
    ds = load_table(path)
    pre = ds.preprocessor(scaling="standard")
    d = {k: v for k, v in pre.to_dict().items() if k not in NEW_IN_4}
    old = {**d, "format": 2, "columns": [], "mean": [], "scale": []}
    at = 0
    for c, column in zip(d["columns"], pre.columns, strict=True):
        width = column.n_slots if column.kind == "categorical" else column.width
        if column.kind == "categorical":
            c = {k: v for k, v in c.items() if k not in ("codes", "layer")}
            old["mean"] += [0.0] * width
            old["scale"] += [1.0] * width
        else:
            old["mean"] += d["mean"][at : at + width]
            old["scale"] += d["scale"][at : at + width]
        old["columns"].append(c)
        at += column.width
    back = Preprocessor.from_dict(old)
    assert not any(c.codes for c in back.columns) and back.input_layers() == []
    np.testing.assert_array_equal(back.transform(path, "float64"), expanded(pre, pre.transform(path, "float64")))
    with pytest.raises(ValueError, match="unsupported preprocessing format 5; this mlp reads 1 to 4"):
        Preprocessor.from_dict({**d, "format": 5})
