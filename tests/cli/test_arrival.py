"""Issue 28, "never silently wrong", at the door: what arrives at predict time is checked against the checkpoint,
identities (kept columns, class labels) stay the file's text, identifier columns are dropped and said, and numbers
and dates written the common other ways are read (``--decimal ,``; US and dotted dates), or said."""

from __future__ import annotations

import csv
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp.core.errors import DataError
from mlp.io.tables import load_for, load_table
from tests_helpers import run_cli

N = 120


def _table(n=N, seed=0):
    """Rows of a table with a boolean, a text category, two numbers (one written as integers), an id, a target."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), 3)
    k = rng.integers(0, 9, size=n)
    b = rng.random(n) < 0.5
    c = rng.choice(["red", "green", "blue"], n)
    y = np.where(x + 1.5 * b + (c == "red") - 0.2 * k > 0, "yes", "no")
    return [
        {"id": f"{i:05d}", "x": float(x[i]), "k": int(k[i]), "b": bool(b[i]), "c": str(c[i]), "y": str(y[i])}
        for i in range(n)
    ]


def _write(path, rows, columns, spell=lambda name, v: str(v)):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([spell(col, r.get(col, "extra")) for col in columns])
    return path


def _spell(name, v):
    if name == "b":
        return "True" if v else "False"
    if name == "x":
        return repr(v)
    return str(v)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A classifier trained on the table written the usual way, and its rows."""
    from mlp import cli

    folder = tmp_path_factory.mktemp("arrival")
    rows = _table()
    data = _write(folder / "t.csv", rows, ["id", "x", "k", "b", "c", "y"], _spell)
    ckpt = folder / "m.safetensors"
    assert (
        cli.main(
            [
                "train",
                "--data",
                str(data),
                "--target",
                "y",
                "--epochs",
                "3",
                "--seed",
                "1",
                "--quiet",
                "--save",
                str(ckpt),
                "--backend",
                "numpy",
            ]
        )
        == 0
    )
    return folder, ckpt, rows, data


def _predict(ckpt, path, capsys, *extra):
    out = path.with_suffix(".out.csv")
    code, _, err = run_cli(
        ["predict", str(ckpt), str(path), "--proba", "--out", str(out), "--backend", "numpy", *extra], capsys
    )
    assert code == 0, err
    return out.read_text(), err


# -- 1. what arrives at predict time ----------------------------------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**31 - 1),
    bools=st.sampled_from(["True/False", "true/false", "1/0", "TRUE/FALSE"]),
    floats=st.booleans(),
    extra=st.integers(0, 2),
)
def test_predictions_are_the_same_whatever_the_order_spelling_or_extra_columns(
    trained, capsys, seed, bools, floats, extra
):
    folder, ckpt, rows, data = trained
    expected, _ = _predict(ckpt, data, capsys)
    columns = ["id", "x", "k", "b", "c", "y"] + [f"extra{j}" for j in range(extra)]
    random.Random(seed).shuffle(columns)
    true, false = bools.split("/")

    def spell(name, v):
        if name == "b":
            return true if v else false
        if name == "k" and floats:  # 3 as 3.0
            return f"{v:.1f}"
        if name == "x" and floats:
            return f"{v:.6f}"  # the same number, with trailing zeros
        return str(v) if name.startswith("extra") else _spell(name, v)

    path = _write(folder / f"variant{seed % 1000}.csv", rows, columns, spell)
    got, err = _predict(ckpt, path, capsys)
    assert got == expected and "warning" not in err  # row by row, every probability to the last digit


def test_a_boolean_column_given_as_1_and_0_is_read_as_its_booleans(trained, capsys):
    folder, ckpt, rows, data = trained
    expected, _ = _predict(ckpt, data, capsys)
    ones = _write(
        folder / "ones.csv",
        rows,
        ["id", "x", "k", "b", "c", "y"],
        lambda n, v: str(int(v)) if n == "b" else _spell(n, v),
    )
    assert _predict(ckpt, ones, capsys)[0] == expected
    # and yes/no is not a boolean spelling: no value of it known, and of another type: refused, naming it
    words = _write(
        folder / "words.csv",
        rows,
        ["id", "x", "k", "b", "c", "y"],
        lambda n, v: ("yes" if v else "no") if n == "b" else _spell(n, v),
    )
    code, _, err = run_cli(["predict", str(ckpt), str(words), "--backend", "numpy"], capsys)
    assert (
        code != 0
        and ("column 'b': the model was trained on boolean categories (False, True); here the column holds text (")
        in err
        and "none of them a category it knows" in err
    )


def test_codes_given_for_text_categories_are_refused_naming_the_column(trained, capsys):
    folder, ckpt, rows, _ = trained
    codes = {"red": 1, "green": 2, "blue": 3}
    path = _write(
        folder / "codes.csv",
        rows,
        ["id", "x", "k", "b", "c", "y"],
        lambda n, v: str(codes[v]) if n == "c" else _spell(n, v),
    )
    for command in (["predict", str(ckpt), str(path)], ["evaluate", str(ckpt), "--data", str(path)]):
        code, out, err = run_cli([*command, "--backend", "numpy"], capsys)
        assert code != 0 and out == ""
        assert (
            err.startswith(
                f"mlp: error: {path}, row 1 (line 2), column 'c': the model was trained on text "
                "categories ('blue', 'green', 'red'); here the column holds numbers"
            )
            and err.count("\n") == 1
        )


def test_unseen_categories_are_said_with_their_rows_and_column(trained, capsys):
    folder, ckpt, rows, data = trained
    changed = [dict(r, c="purple") if i in (4, 9, 30) else r for i, r in enumerate(rows)]
    path = _write(folder / "purple.csv", changed, ["id", "x", "k", "b", "c", "y"], _spell)
    _, err = _predict(ckpt, path, capsys)
    assert (
        f"mlp: warning: {path}, column 'c': 3 of {N} rows hold categories not seen in training ('purple'; first "
        "at row 5 (line 6)): read as the unknown category"
    ) in err.splitlines()
    _, err = _predict(ckpt, data, capsys)  # the training file: nothing to say
    assert "warning" not in err
    code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--backend", "numpy"], capsys)
    assert code == 0 and "accuracy" in out and "3 of 120 rows hold categories not seen in training" in err


# -- 2. identities ----------------------------------------------------------------------------------------------
IDS = ["00042", "9007199254740993", "9007199254740992", "7", "-0", "+5", "1e3", "a,b", 'say "hi"', " spaced "]


def test_kept_columns_round_trip_byte_for_byte_from_csv(trained, capsys, reader):
    folder, ckpt, rows, _ = trained
    ids = [IDS[i % len(IDS)] + ("" if i < len(IDS) else f"-{i}") for i in range(len(rows))]
    numeric = [IDS[i % 3] if i < 3 else f"{9007199254740993 + 2 * i}" for i in range(len(rows))]
    table = [dict(r, id=ids[i], num=numeric[i]) for i, r in enumerate(rows)]
    path = _write(folder / f"keep-{reader}.csv", table, ["id", "num", "x", "k", "b", "c"], _spell)
    out = folder / f"keep-{reader}.out.csv"
    code, _, err = run_cli(
        ["predict", str(ckpt), str(path), "--keep", "id,num", "--out", str(out), "--backend", "numpy"], capsys
    )
    assert code == 0, err
    with open(out, newline="") as f:
        got = list(csv.reader(f))[1:]
    assert [r[0] for r in got] == [i.strip() for i in ids]  # cells are trimmed, as every reader trims them
    assert [r[1] for r in got] == numeric  # 00042 and 9007199254740993: not 42, not 9007199254740992.0


GAPS = ["NA", "null", "NaN", "", "N/A", "nan", "#N/A", "keep me"]


def test_kept_cells_spelled_like_a_gap_are_copied_as_written_from_csv(trained, capsys, reader):
    folder, ckpt, rows, _ = trained
    notes = [GAPS[i % len(GAPS)] for i in range(len(rows))]
    ks = ["NA" if i % 9 == 0 else str(r["k"]) for i, r in enumerate(rows)]  # a kept feature: a gap to the model
    table = [dict(r, note=notes[i], k=ks[i]) for i, r in enumerate(rows)]
    path = _write(folder / f"gaps-{reader}.csv", table, ["note", "x", "k", "b", "c"], _spell)
    out = folder / f"gaps-{reader}.out.csv"
    code, _, err = run_cli(
        ["predict", str(ckpt), str(path), "--keep", "note,k", "--out", str(out), "--backend", "numpy"], capsys
    )
    assert code == 0, err
    with open(out, newline="") as f:
        got = list(csv.reader(f))[1:]
    assert [r[0] for r in got] == notes and [r[1] for r in got] == ks
    # the model reads the kept feature's NA as a gap, as without --keep
    plain = folder / f"gaps-{reader}.plain.csv"
    code, _, err = run_cli(["predict", str(ckpt), str(path), "--out", str(plain), "--backend", "numpy"], capsys)
    assert code == 0, err
    with open(plain, newline="") as f:
        assert [r[-1] for r in got] == [r[-1] for r in list(csv.reader(f))[1:]]


def test_kept_cells_spelled_like_a_gap_are_copied_as_written_from_parquet(trained, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder, ckpt, rows, _ = trained
    notes = [None if i % 10 == 3 else GAPS[i % len(GAPS)] for i in range(len(rows))]  # and real nulls
    columns = {
        "note": pa.array(notes, pa.string()),
        "x": [r["x"] for r in rows],
        "k": [r["k"] for r in rows],
        "b": [r["b"] for r in rows],
        "c": [r["c"] for r in rows],
    }
    pq.write_table(pa.table(columns), folder / "gaps.parquet", row_group_size=50)
    out = folder / "gaps-parquet.out.csv"
    code, _, err = run_cli(
        ["predict", str(ckpt), str(folder / "gaps.parquet"), "--keep", "note", "--out", str(out), "--backend", "numpy"],
        capsys,
    )
    assert code == 0, err
    with open(out, newline="") as f:
        assert [r[0] for r in list(csv.reader(f))[1:]] == ["" if v is None else v for v in notes]


def test_kept_columns_round_trip_byte_for_byte_from_parquet(trained, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder, ckpt, rows, _ = trained
    big = [9007199254740993 + i for i in range(len(rows))]
    text = [f"{i:05d}" for i in range(len(rows))]
    columns = {
        "big": pa.array(big, pa.int64()),
        "text": text,
        "x": [r["x"] for r in rows],
        "k": [r["k"] for r in rows],
        "b": [r["b"] for r in rows],
        "c": [r["c"] for r in rows],
    }
    pq.write_table(pa.table(columns), folder / "keep.parquet", row_group_size=50)
    out = folder / "keep-parquet.out.csv"
    code, _, err = run_cli(
        [
            "predict",
            str(ckpt),
            str(folder / "keep.parquet"),
            "--keep",
            "big,text",
            "--out",
            str(out),
            "--backend",
            "numpy",
        ],
        capsys,
    )
    assert code == 0, err
    with open(out, newline="") as f:
        got = list(csv.reader(f))[1:]
    assert [r[0] for r in got] == [str(v) for v in big] and [r[1] for r in got] == text


@pytest.mark.parametrize("labels", [("007", "012"), ("9007199254740993", "9007199254740992")])
def test_class_labels_keep_the_files_text(tmp_path, capsys, labels):
    rng = np.random.default_rng(3)
    x = rng.normal(size=80)
    path = tmp_path / "labels.csv"
    path.write_text("a,y\n" + "".join(f"{v:.3f},{labels[0] if v > 0 else labels[1]}\n" for v in x))
    ds = load_table(path)
    assert ds.task == "classification" and ds.classes == sorted(labels)
    ckpt = tmp_path / "m.safetensors"
    code, _, err = run_cli(
        ["train", "--data", str(path), "--epochs", "2", "--quiet", "--save", str(ckpt), "--backend", "numpy"], capsys
    )
    assert code == 0, err
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--backend", "numpy"], capsys)
    assert code == 0 and set(out.split()[1:]) <= set(labels), err
    code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--backend", "numpy"], capsys)
    assert code == 0 and "accuracy" in out, err
    # numbers that do come back as written stay numbers
    (tmp_path / "ints.csv").write_text("a,y\n" + "".join(f"{v:.3f},{7 if v > 0 else 12}\n" for v in x))
    assert load_table(tmp_path / "ints.csv").classes == [7, 12]


def _separable_labels(path, labels, n=200, seed=5):
    """A CSV file whose target (``labels[0]`` for a > 0, else ``labels[1]``) is far from the boundary."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(1, 3, n) * rng.choice([-1, 1], n)
    path.write_text("a,y\n" + "".join(f"{v:.3f},{labels[0] if v > 0 else labels[1]}\n" for v in a))
    return path, [labels[0] if v > 0 else labels[1] for v in a]


@pytest.mark.backend_independent  # --backend numpy
@pytest.mark.parametrize("labels", [("007", "012"), ("9007199254740993", "9007199254740992"), ("7", "12")])
def test_streamed_training_keeps_the_labels_as_the_in_memory_one(tmp_path, capsys, labels):
    pytest.importorskip("pyarrow")
    from mlp.io.tables.stream import stream_table

    path, truth = _separable_labels(tmp_path / "labels.csv", labels)
    expected = [7, 12] if labels == ("7", "12") else sorted(labels)
    assert load_table(path).classes == expected and stream_table(path).classes == expected
    outputs = {}
    for how in ("memory", "stream"):
        ckpt = tmp_path / f"{how}.safetensors"
        code, out, err = run_cli(
            [
                "train",
                "--data",
                str(path),
                "--epochs",
                "30",
                "--seed",
                "1",
                "--backend",
                "numpy",
                "--save",
                str(ckpt),
                *(["--stream"] if how == "stream" else []),
            ],
            capsys,
        )
        assert code == 0, err
        assert f"classes {expected!r}" in out + err
        code, out, err = run_cli(["predict", str(ckpt), str(path), "--backend", "numpy"], capsys)
        assert code == 0, err
        outputs[how] = out.split()
        code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--backend", "numpy"], capsys)
        assert code == 0 and "accuracy 1.0000" in out, out + err
    assert outputs["stream"] == outputs["memory"]
    assert outputs["stream"][1:] == truth  # 007 written as 007, 9007199254740993 as itself


def test_a_parquet_int64_target_past_2_53_keeps_its_classes_apart(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from mlp.io.tables.stream import stream_table

    rng = np.random.default_rng(2)
    a = rng.uniform(1, 3, 200) * rng.choice([-1, 1], 200)
    y = [9007199254740993 if v > 0 else 9007199254740992 for v in a]
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"a": a, "y": pa.array(y, pa.int64())}), path, row_group_size=50)
    expected = ["9007199254740992", "9007199254740993"]
    assert stream_table(path).classes == expected and load_table(path).classes == expected
    folder = tmp_path / "parts"  # a folder of Parquet files is streamed
    folder.mkdir()
    pq.write_table(pa.table({"a": a, "y": pa.array(y, pa.int64())}), folder / "0.parquet", row_group_size=50)
    ckpt = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        ["train", "--data", str(folder), "--epochs", "30", "--seed", "1", "--backend", "numpy", "--save", str(ckpt)],
        capsys,
    )
    assert code == 0 and f"classes {expected!r}" in out + err, err
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--backend", "numpy"], capsys)
    assert code == 0 and out.split()[1:] == [str(v) for v in y], err
    code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--backend", "numpy"], capsys)
    assert code == 0 and "accuracy 1.0000" in out, out + err


# -- 3. identifiers ---------------------------------------------------------------------------------------------
def _people(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    subject = rng.choice(np.arange(1000, 100000), n, replace=False)
    height = np.round(rng.normal(170, 10, n), 6) + rng.random(n) * 1e-4  # all distinct: a measurement
    score = rng.choice(np.arange(0, 10**6), n, replace=False)  # unique integers, neither a run nor an id's name
    names = [f"Person {i}" for i in range(n - 2)] + ["Person 0", "Person 1"]  # near unique
    y = np.where(height > 170, "tall", "short")
    lines = ["rownames,subject_id,height,score,Name,colour,y"]
    for i in range(n):
        lines.append(f"{i + 1},{subject[i]},{float(height[i])!r},{score[i]},{names[i]},{'rgb'[i % 3]},{y[i]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_identifier_columns_are_dropped_and_said_in_one_line(tmp_path, capsys, reader):
    path = _people(tmp_path / "people.csv")
    ds = load_table(path)
    assert ds.features == ["height", "score", "colour"]
    assert set(ds.dropped) == {"rownames", "subject_id", "Name"}
    code, out, err = run_cli(
        [
            "train",
            "--data",
            str(path),
            "--epochs",
            "1",
            "--backend",
            "numpy",
            "--save",
            str(tmp_path / "m.safetensors"),
        ],
        capsys,
    )
    assert code == 0, err
    line = [x for x in out.splitlines() if x.startswith("columns dropped, identifier-like")]
    assert line == [
        "columns dropped, identifier-like: 3 (rownames: unique integers 1..200: row numbers; "
        "subject_id: unique integers in each of 200 rows, named like an identifier; Name: 198 distinct "
        "texts in 200 rows: names or free text); --numeric COL (integers) or --categorical COL keeps one"
    ]
    # kept on purpose when asked for
    asked = load_table(path, numeric="rownames,subject_id", categorical="Name")
    assert asked.features == ["rownames", "subject_id", "height", "score", "Name", "colour"]


def test_floats_and_runs_stored_as_floats_are_not_identifiers(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    n = 300
    pq.write_table(
        pa.table(
            {"x": np.arange(float(n)), "ints": pa.array(np.arange(n), pa.int64()), "y": ["ab"[i % 2] for i in range(n)]}
        ),
        tmp_path / "t.parquet",
    )
    ds = load_table(tmp_path / "t.parquet")
    assert ds.kinds["x"].kind == "numeric"  # 0.0, 1.0, ...: stored as floats, a measurement
    assert ds.kinds["ints"].kind == "dropped" and "row numbers" in ds.kinds["ints"].reason


def test_streamed_and_in_memory_tables_drop_the_same_identifiers(tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")
    from mlp.io.tables import stream_table, summary

    monkeypatch.setattr(summary, "CAP", 64)  # past the cap too: the same decision from the keyed sample
    path = _people(tmp_path / "people.csv", n=400)
    memory = load_table(path)
    with stream_table(path, target="y") as streamed:
        assert {n: k.kind for n, k in streamed.kinds.items()} == {n: k.kind for n, k in memory.kinds.items()}
        assert set(streamed.dropped) == {"rownames", "subject_id", "Name"}


# -- 4. numbers and dates ---------------------------------------------------------------------------------------
def _decimal_csv(path, n=100):
    rng = np.random.default_rng(2)
    x, z = rng.normal(50, 5, n), rng.normal(size=n)
    rows = [f"{a:.1f};{b:.2f};{'hi' if a > 50 else 'lo'}".replace(".", ",") for a, b in zip(x, z, strict=True)]
    path.write_text("x;z;y\n" + "\n".join(rows) + "\n")
    return path


def test_decimal_commas_are_read_with_the_option_and_said_without_it(tmp_path, capsys):
    path = _decimal_csv(tmp_path / "dec.csv")
    ckpt = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        ["train", "--data", str(path), "--epochs", "1", "--save", str(ckpt), "--backend", "numpy"], capsys
    )
    assert code == 0, err
    assert (
        "note: column 'x': 100 of its 100 values look like numbers with a decimal comma ('50,9'), read as "
        "categories; --decimal , reads them as numbers"
    ) in out.splitlines()
    code, out, err = run_cli(
        ["train", "--data", str(path), "--epochs", "1", "--save", str(ckpt), "--decimal", ",", "--backend", "numpy"],
        capsys,
    )
    assert code == 0 and "columns numeric: 2 (x, z)" in out and "decimal comma" not in out, err
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--decimal", ",", "--backend", "numpy"], capsys)
    assert code == 0 and len(out.splitlines()) == 101, err
    code, out, err = run_cli(
        ["evaluate", str(ckpt), "--data", str(path), "--decimal", ",", "--backend", "numpy"], capsys
    )
    assert code == 0 and "accuracy" in out, err
    code, out, err = run_cli(["predict", str(ckpt), str(path), "--decimal", ".", "--backend", "numpy"], capsys)
    assert code != 0 and err == (
        f"mlp: error: {path}, row 1 (line 2), column 'x': '50,9' is not a number (the "
        "model reads column 'x' as numbers; it looks like a number with a decimal comma: "
        "--decimal , reads it)\n"
    )
    comma = tmp_path / "comma.csv"
    comma.write_text("a,y\n1,2\n")
    code, _, err = run_cli(["train", "--data", str(comma), "--decimal", ",", "--backend", "numpy"], capsys)
    assert code != 0 and "the delimiter is ',' and so is the decimal point (--decimal ,)" in err
    code, _, err = run_cli(["train", "--data", str(comma), "--decimal", ";", "--backend", "numpy"], capsys)
    assert code != 0 and "--decimal must be '.' or ','" in err


@pytest.mark.parametrize("stream", [False, True])
def test_the_decimal_comma_of_training_is_kept_in_the_checkpoint(tmp_path, capsys, stream):
    import json

    from mlp.io.checkpoint import load_checkpoint

    path = _decimal_csv(tmp_path / "dec.csv")
    ckpt = tmp_path / "m.safetensors"
    code, out, err = run_cli(
        [
            "train",
            "--data",
            str(path),
            "--epochs",
            "2",
            "--save",
            str(ckpt),
            "--decimal",
            ",",
            "--backend",
            "numpy",
            *(["--stream"] if stream else []),
        ],
        capsys,
    )
    assert code == 0 and "columns numeric: 2 (x, z)" in out, err
    assert load_checkpoint(ckpt).preprocessor.decimal == ","
    outputs = {}
    for how, option in (("saved", []), ("given", ["--decimal", ","])):
        code, out, err = run_cli(["predict", str(ckpt), str(path), "--proba", "--backend", "numpy", *option], capsys)
        assert code == 0 and err == "", err
        outputs[how] = out
        code, out, err = run_cli(["evaluate", str(ckpt), "--data", str(path), "--backend", "numpy", *option], capsys)
        assert code == 0 and "accuracy" in out, err
        outputs[how + " evaluate"] = out
    assert outputs["saved"] == outputs["given"] and len(outputs["saved"].splitlines()) == 101
    assert outputs["saved evaluate"] == outputs["given evaluate"]
    # an explicit --decimal wins over the saved one
    code, _, err = run_cli(["predict", str(ckpt), str(path), "--decimal", ".", "--backend", "numpy"], capsys)
    assert code != 0 and "'50,9' is not a number" in err
    # a model trained with the decimal point stores nothing: its preprocessing is as it was (absent means '.')
    plain = tmp_path / "plain.csv"
    plain.write_text(path.read_text().replace(",", "."))
    code, _, err = run_cli(
        ["train", "--data", str(plain), "--epochs", "1", "--save", str(ckpt), "--backend", "numpy"], capsys
    )
    assert code == 0, err
    pre = load_checkpoint(ckpt).preprocessor
    assert pre.decimal == "." and "decimal" not in pre.to_dict()
    stored = json.loads(json.dumps(pre.to_dict()))
    assert type(pre).from_dict(stored).decimal == "."
    stored["decimal"] = ";"
    with pytest.raises(ValueError, match="preprocessing decimal must be"):
        type(pre).from_dict(stored)


def test_decimal_comma_reads_the_same_with_either_reader(tmp_path, reader):
    from mlp.io.tables import decimal_point

    path = _decimal_csv(tmp_path / "dec.csv")
    with decimal_point(","):
        ds = load_table(path)
        assert ds.kinds["x"].kind == "numeric"
        assert ds.table.column("x").values[0] == 50.9 and ds.table.column("z").values[0] == -1.57


def test_us_and_dotted_dates_are_dates_and_unparsable_ones_are_counted_gaps(tmp_path, capsys, reader):
    import datetime as dt

    lines = ["iso,us,dotted,x,y"]
    for i in range(60):
        d = dt.date(2024, 1, 1) + dt.timedelta(days=5 * i)
        iso = "unknown" if i in (7, 20) else d.isoformat()
        lines.append(f"{iso},{d.month}/{d.day}/{d.year},{d.day:02d}.{d.month:02d}.{d.year},{i % 7},{'ab'[i % 2]}")
    path = tmp_path / "dates.csv"
    path.write_text("\n".join(lines) + "\n")
    ds = load_table(path)
    assert {n: ds.kinds[n].kind for n in ("iso", "us", "dotted")} == dict.fromkeys(("iso", "us", "dotted"), "datetime")
    pre = ds.preprocessor(standardize=False)
    X = ds.inputs(pre, "float64")
    us, dotted = pre.input_names().index("us:days"), pre.input_names().index("dotted:days")
    np.testing.assert_array_equal(X[:, us], X[:, dotted])  # 12/31/2024 and 31.12.2024: the same day
    assert X[0, us] == (dt.date(2024, 1, 1) - dt.date(1970, 1, 1)).days
    assert any(
        line.startswith("note: column 'iso': 2 of its 60 values are not dates ('unknown' at row 8 (line 9) first")
        for line in ds.lines(pre)
    )
    gaps = pre.input_names().index("iso:missing")
    assert np.flatnonzero(X[:, gaps]).tolist() == [7, 20]
    # a new table: its text that is not a date is a gap too, and said
    new = tmp_path / "new.csv"
    new.write_text("iso,us,dotted,x\nsoon,1/2/2025,02.01.2025,3\n2025-01-02,1/2/2025,02.01.2025,3\n")
    from mlp.io.tables.notices import TableWarning

    with pytest.warns(
        TableWarning,
        match=r"new.csv, column 'iso': 1 of 2 rows hold text that is not a date \('soon'; "
        r"first at row 1 \(line 2\)\): read as gaps",
    ):
        assert load_for(pre, new).inputs(pre, "float64")[:, gaps].tolist() == [1, 0]


def test_a_conversion_error_names_the_files_row_and_line_past_blank_lines_and_quoted_breaks(trained, capsys):
    folder, ckpt, _, _ = trained
    path = folder / "blank.csv"
    path.write_text('id,x,k,b,c\n1,0.5,2,True,red\n\n\n2,"0.25",3,False,"gr\neen"\n3,abc,1,True,red\n')
    code, _, err = run_cli(["predict", str(ckpt), str(path), "--backend", "numpy"], capsys)
    assert code != 0 and err == (
        f"mlp: error: {path}, row 3 (line 7), column 'x': 'abc' is not a number (the model "
        "reads column 'x' as numbers)\n"
    )


def test_older_checkpoint_columns_without_the_new_fields_still_load():
    from mlp.io.tables.encoders import Column

    old = Column.from_dict({"name": "when", "kind": "datetime", "parts": ["days"], "fill": [1.0], "indicator": False})
    assert not old.lenient and "lenient" not in old.to_dict()
    with pytest.raises(DataError, match="'soon' is not a date/time"):
        from mlp.io.tables import Table, column_of

        old.parse(Table("t.csv", ["when"], [column_of(["2024-01-01", "soon"])]))


def test_a_categorys_value_spelt_otherwise_meets_its_slot_and_only_then():
    from mlp.io.tables.encoders import Column

    numbers = Column("n", "categorical", categories=[1, 2, 3], codes=True, layer="OneHot")
    assert numbers.slots_of(["3.0", 2.0, "1", "4", "three"]).tolist() == [2, 1, 0, 3, 3, 3]
    flags = Column("f", "categorical", categories=[False, True], codes=True, layer="OneHot")
    assert flags.slots_of([1, 0, "TRUE", "false", "no", 2]).tolist() == [1, 0, 1, 0, 2, 2, 2]
    text = Column("t", "categorical", categories=["1", "2"], codes=True, layer="OneHot")
    assert text.slots_of([1, 2.0, "3"]).tolist() == [0, 1, 2, 2]


def test_a_gap_where_training_had_none_is_said(trained, capsys):
    folder, ckpt, rows, _ = trained
    path = _write(
        folder / "gap.csv",
        [dict(r, c="") if i == 2 else r for i, r in enumerate(rows)],
        ["id", "x", "k", "b", "c"],
        _spell,
    )
    _, err = _predict(ckpt, path, capsys)
    assert (
        f"mlp: warning: {path}, column 'c': 1 of {N} rows are empty, as no training row was (''; first at row 3 "
        "(line 4)): read as the unknown category"
    ) in err.splitlines()
