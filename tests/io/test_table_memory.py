"""Memory proportional to the data: a table is held about once, its text as codes, its inputs in the model's dtype.

The allocations numpy and the readers make are traced with :mod:`tracemalloc` (numpy reports its array
buffers to it; Arrow's own buffers are not traced, so for the pyarrow reader these tests see what mlp keeps
of each block).  Bytes, not seconds: the bounds do not depend on the machine or its load.  What the whole
``mlp train`` peaks at on a million-row file is measured by ``examples/bench_tables.py`` (docs/tables.md).

Before the typed pipeline, a table with one text column was an object array (a Python object per cell:
3.5 times the memory of the numbers on the benchmark's table), and its one-hot inputs were stored for every row.
"""

import tracemalloc

import numpy as np
import pytest

from mlp.core.errors import DataError
from mlp.io import tables
from mlp.io.tables import batches, delimited, read_table

#: reading and preprocessing tables, no arrays of a backend: MLP_BACKEND changes nothing here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent

N_ROWS, N_FEATURES = 60_000, 8


@pytest.fixture(scope="module")
def numbers_csv(tmp_path_factory):
    """A table of numbers: ``N_FEATURES`` float columns and an integer label (three classes)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    path = tmp_path_factory.mktemp("memory") / "numbers.csv"
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(N_FEATURES)) + ",label\n")
        np.savetxt(f, np.column_stack([X, y]), fmt=",".join(["%.5f"] * N_FEATURES) + ",%d")
    return path


@pytest.fixture(scope="module")
def text_csv(tmp_path_factory):
    """The same numbers with two text columns (8 and 40 levels) and a text label."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N_ROWS, N_FEATURES))
    a, b = rng.integers(0, 8, N_ROWS), rng.integers(0, 40, N_ROWS)
    label = np.array(["low", "mid", "high"])[(X[:, 0] > 0).astype(int) + (X[:, 1] > 1)]
    path = tmp_path_factory.mktemp("memory") / "text.csv"
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(N_FEATURES)) + ",colour,shop,label\n")
        for i in range(N_ROWS):
            f.write(",".join(f"{v:.5f}" for v in X[i]) + f",colour{a[i]},shop{b[i]:02d},{label[i]}\n")
    return path


def _peak(fn):
    """``(result, peak traced bytes)`` of ``fn()``, counted from zero at the call (modules imported first)."""
    fn()  # imports (pyarrow's modules are 1.3 MB) and first-call caches are not what is measured
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


FLOAT64_TABLE = N_ROWS * (N_FEATURES + 1) * 8  # the numbers of the file once, as float64


def test_reading_holds_one_float64_copy(numbers_csv, reader):
    table, peak = _peak(lambda: read_table(numbers_csv))
    assert table.n_rows == N_ROWS and all(isinstance(c, tables.Numbers) for c in table.columns)
    # one float64 copy of the cells, plus the rows being parsed and the growth of a column (stdlib)
    assert peak < 1.3 * FLOAT64_TABLE, f"{reader}: reading peaked at {peak / FLOAT64_TABLE:.2f}x the numbers"


def test_load_table_holds_the_table_once(numbers_csv, reader):
    ds, peak = _peak(lambda: tables.load_table(numbers_csv))
    # the typed table (1.0), and the label's distinct values found (a sorted copy of the label column, the code and
    # the class index of each row: 0.35 of a table of 9 columns); no matrix of the features is made here
    assert peak < 1.5 * FLOAT64_TABLE, f"{reader}: load_table peaked at {peak / FLOAT64_TABLE:.2f}x the numbers"
    assert len(ds) == N_ROWS and ds.rows is None and ds.y.dtype == np.int64


def test_text_columns_cost_their_codes(numbers_csv, text_csv, reader):
    """Two text columns and a text label add 4 bytes a row each to the numbers (8 bytes a cell): their codes,
    never a Python string per cell; the model's inputs hold one code per text column, not its one-hot slots."""
    numbers, peak_numbers = _peak(lambda: tables.load_table(numbers_csv))
    text, peak_text = _peak(lambda: tables.load_table(text_csv))
    codes = 3 * N_ROWS * 4  # colour, shop and the label: int32 codes
    assert peak_text < peak_numbers + 1.5 * codes, (peak_text / peak_numbers, reader)
    for name in ("colour", "shop"):
        col = text.table.column(name)
        assert isinstance(col, tables.Coded) and col.codes.dtype == np.int32 and len(col.levels) in (8, 40)
    pre = text.preprocessor()
    X, peak = _peak(lambda: text.inputs(pre))
    assert X.shape == (N_ROWS, N_FEATURES + 2) and X.dtype == np.float32  # a code per text column
    assert [type(layer).__name__ for layer in pre.input_layers()] == ["OneHot"]
    assert pre.input_layers()[0].n_out == N_FEATURES + 8 + 1 + 40 + 1  # the slots exist a batch at a time
    assert peak < 1.3 * X.nbytes + 12 * batches.BLOCK_ROWS * (N_FEATURES + 2) * 8, peak / X.nbytes


def test_no_object_array_is_made_from_reading_to_the_model_inputs(text_csv, reader, monkeypatch):
    """Every NumPy array the table pipeline makes, with text columns and gaps, is typed: a call of NumPy that
    gives an object array fails the test (its modules' ``np`` is wrapped), and so does a column that holds one."""
    import importlib

    class NoObjects:
        def __getattr__(self, name):
            value = getattr(np, name)
            if not callable(value) or isinstance(value, type):
                return value

            def checked(*args, **kwargs):
                out = value(*args, **kwargs)
                for a in out if isinstance(out, tuple) else (out,):
                    assert not (isinstance(a, np.ndarray) and a.dtype == object), f"np.{name} made an object array"
                return out

            return checked

    watched = [
        "arrow",
        "batches",
        "cells",
        "delimited",
        "encoders",
        "kinds",
        "pipeline",
        "preprocessing",
        "read",
        "split",
        "target",
        "typed",
        "values",
    ]
    for module in watched:
        module = importlib.import_module(f"mlp.io.tables.{module}")
        if hasattr(module, "np"):
            monkeypatch.setattr(module, "np", NoObjects())
    path = text_csv.parent / "gaps.csv"
    lines = text_csv.read_text().splitlines()[:3000]
    for i in range(1, len(lines)):  # gaps: a number every 7th row, a text every 11th
        cells = lines[i].split(",")
        cells[0] = "" if i % 7 == 0 else cells[0]
        cells[-2] = "" if i % 11 == 0 else cells[-2]
        lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    ds = tables.load_table(path)
    train, val = tables.split_indices(len(ds), 0.2, labels=ds.y)
    pre = ds.preprocessor(train)
    X, y = ds.inputs(pre, rows=train), ds.encoded_targets(pre, train)
    assert X.dtype == np.float32 and y.dtype == np.int64 and any(c.indicator for c in pre.columns)
    assert pre.columns[N_FEATURES].missing or pre.columns[N_FEATURES + 1].missing
    for col in ds.table.columns:
        for a in vars(col).values() if hasattr(col, "__dict__") else [getattr(col, k) for k in col.__slots__]:
            assert not (isinstance(a, np.ndarray) and a.dtype == object)
    new = tables.load_for(pre, path, need_target=True)
    np.testing.assert_array_equal(new.inputs(pre), ds.inputs(pre))


def test_the_model_inputs_are_made_without_float64_copies(numbers_csv, monkeypatch):
    monkeypatch.setattr(batches, "BLOCK_ROWS", 512)  # blocks small against the table, to see what else is made
    ds = tables.load_table(numbers_csv)
    train, val = tables.split_indices(len(ds), 0.2, seed=0)
    pre, fit_peak = _peak(lambda: ds.preprocessor(train))
    X, peak = _peak(lambda: ds.inputs(pre, "float32", rows=train))
    assert X.shape == (len(train), N_FEATURES) and X.dtype == np.float32
    # the float32 inputs, and a few blocks of float64 on the way (not the split's float64 copy: 2x X more)
    blocks = 6 * 512 * N_FEATURES * 8
    assert peak < 1.1 * X.nbytes + blocks, f"inputs peaked at {peak / X.nbytes:.2f}x its output"
    # fitting encodes a column of the training rows at a time, never the matrix
    assert fit_peak < 3 * len(train) * 8 + blocks, f"fitting peaked at {fit_peak / (len(train) * 8):.2f} columns"


def test_rows_argument_equals_taking_the_rows_first(numbers_csv, monkeypatch):
    """``preprocessor(rows)`` and ``inputs(rows=)`` are the fit and transform of the table's rows ``rows``."""
    monkeypatch.setattr(batches, "BLOCK_ROWS", 1000)  # many blocks
    ds = tables.load_table(numbers_csv)
    rows = np.random.default_rng(1).permutation(len(ds))[:7_001]
    pre = ds.preprocessor(rows)
    X = np.stack([ds.table.column(f).values[rows] for f in ds.features], axis=1)
    whole = tables.Preprocessor.fit(X, ds.features, ds.targets, ds.task, y=ds.y[rows], classes=ds.classes)
    q1, median, q3 = np.quantile(X, [0.25, 0.5, 0.75], axis=0)  # robust scaling, the default
    np.testing.assert_array_equal(pre.mean, median)
    np.testing.assert_allclose(pre.scale, q3 - q1, rtol=1e-12)
    np.testing.assert_array_equal(pre.mean, whole.mean)
    standard = ds.preprocessor(rows, scaling="standard")
    np.testing.assert_allclose(standard.mean, X.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(standard.scale, X.std(axis=0), rtol=1e-12)
    assert [c.to_dict() for c in pre.columns] == [c.to_dict() for c in whole.columns]
    np.testing.assert_array_equal(ds.inputs(pre, "float64", rows=rows), pre.transform(X, "float64"))


def test_a_mixed_table_reads_the_same_block_by_block(tmp_path, monkeypatch):
    """Categories, gaps and numbers through the block-wise encoding: the same inputs as one block."""
    path = tmp_path / "mixed.csv"
    rng = np.random.default_rng(2)
    with open(path, "w") as f:
        f.write("x,city,z,label\n")
        for i in range(3_000):
            x = "" if i % 17 == 0 else f"{rng.normal():.4f}"
            f.write(f"{x},{['oslo', 'rome', '', 'lima'][i % 4]},{rng.integers(0, 9)},{'ab'[i % 3 == 0]}\n")
    ds = tables.load_table(path)
    train, _ = tables.split_indices(len(ds), 0.25, seed=0)
    pre = ds.preprocessor(train)
    one = ds.inputs(pre, "float64", rows=train)
    monkeypatch.setattr(batches, "BLOCK_ROWS", 7)
    many = ds.inputs(pre, "float64", rows=train)
    np.testing.assert_array_equal(many, one)


def test_a_column_that_turns_to_text_keeps_its_earlier_cells_as_written(tmp_path, reader):
    """The standard library's reader keeps numbers packed until a column shows text; then it reads the earlier
    cells again, as written ("1.50", "007"), across blank lines and quoted line breaks; pyarrow reads the same."""
    path = tmp_path / "late.csv"
    path.write_text(
        'code,note,y\n1.50,"two\nlines",0\n\n007,x,1\n' + "".join(f"{i},n{i},{i % 2}\n" for i in range(5)) + "A7,z,0\n"
    )
    table = read_table(path)
    assert table.column("code").to_list() == ["1.50", "007", "0", "1", "2", "3", "4", "A7"]
    assert table.column("note").to_list()[0] == "two\nlines"
    assert table.column("y").to_list() == [0, 1, 0, 1, 0, 1, 0, 0]
    assert table.where(1) == f"{path}, row 2 (line 5)"


def test_old_mac_line_ends_and_long_rows_read_alike(tmp_path, monkeypatch):
    """pyarrow's column arrays are allocated for the file's line count: a file of CR line ends (no line feed to
    count) grows them; a row longer than a read block is read with larger blocks."""
    pytest.importorskip("pyarrow")
    rows = "".join(f"{i},{i * 0.5}\n" for i in range(3_000))
    lf, cr = tmp_path / "lf.csv", tmp_path / "cr.csv"
    lf.write_text("a,b\n" + rows)
    cr.write_bytes(("a,b\n" + rows).replace("\n", "\r").encode())
    a, b = read_table(lf), read_table(cr)
    for x, y in zip(a.columns, b.columns, strict=True):
        np.testing.assert_array_equal(x.values, y.values)
    monkeypatch.setattr(delimited, "_BLOCK", 16)  # the header alone is longer than a block
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column{j}" for j in range(40)) + "\n" + ",".join(["1.5"] * 40) + "\n")
    t = read_table(wide)
    assert t.n_rows == 1 and len(t.names) == 40 and t.columns[39].values[0] == 1.5


def test_a_line_of_spaces_before_a_column_turns_to_text(tmp_path, reader):
    """A line of spaces is not a row (of a table of several columns) in both passes of the standard library's
    reader, and rows after it are named by their own line; pyarrow refuses such a line, naming it."""
    path = tmp_path / "spaces.csv"
    path.write_text("x,c,y\n1,1,a\n   \n2,2,b\n3,3,a\n4,red,b\n5,inf,a\n")
    if reader == "pyarrow":
        with pytest.raises(DataError, match=r"row 2 \(line 3\): 1 value, but the header has 3 columns"):
            read_table(path)
        return
    table = read_table(path)
    assert [len(c) for c in table.columns] == [5, 5, 5]
    assert table.column("c").to_list() == ["1", "2", "3", "red", "inf"]
    assert table.where(3) == f"{path}, row 4 (line 6)"  # the value 4 is on line 6
    one = tmp_path / "one.csv"
    one.write_text("a\n1\n   \n2\nx\n")  # of one column, a line of spaces is a gap
    assert read_table(one).column("a").to_list() == ["1", None, "2", "x"]


def test_messages_name_the_row_of_the_file_in_any_block(tmp_path, monkeypatch):
    monkeypatch.setattr(batches, "BLOCK_ROWS", 10)
    path = tmp_path / "t.csv"
    rows = [f"{i},{i % 3},{i % 2}" for i in range(60)]
    rows[47] = "47,,1"  # a gap in b
    rows[50] = "1e30,2,0"  # too large for float32 once standardised (robust scaling clips it to 3)
    rows[55] = "55,1,"  # no target: left out, so the rows after it are not the table's
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    ds = tables.load_table(path)
    assert np.abs(ds.inputs(ds.preprocessor(np.arange(40)))).max() <= 3.0
    pre = ds.preprocessor(np.arange(40), scaling="standard")
    pre.columns[1].fill = None  # as a model saved without fill values
    with pytest.raises(DataError, match=r"t.csv, row 48, column 'b': missing value"):
        ds.inputs(pre)
    pre.columns[1].fill = 1.0
    with pytest.raises(DataError, match=r"t.csv, row 51, column 'a'"):
        ds.inputs(pre)
    rows[50] = "50,2,0"
    rows[58] = "1e30,2,0"  # after the row without a target: named by its row in the file
    path.write_text("a,b,label\n" + "\n".join(rows) + "\n")
    ds = tables.load_table(path)
    with pytest.raises(DataError, match=r"t.csv, row 59, column 'a'"):
        ds.inputs(pre, "float32", rows=np.arange(40, 59))


def test_parquet_columns_are_read_by_name(tmp_path):
    """Read column by column: a column named "s.a" beside a struct column "s" is itself, not the struct."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "clash.parquet"
    pq.write_table(pa.table({"s": pa.array([{"a": 1}, {"a": 2}]), "s.a": [5.0, 6.0], "y": [0, 1]}), path)
    table = read_table(path)
    assert table.names == ["s", "s.a", "y"]
    assert table.column("s.a").to_list() == [5.0, 6.0]


def test_a_type_that_changes_after_the_first_block_is_read_again(tmp_path, monkeypatch):
    """pyarrow guesses a column's type from its first block; a later fraction or text re-reads that column as
    float64 or text (still one copy), and the table is the one the standard library's reader gives."""
    pytest.importorskip("pyarrow")
    monkeypatch.setattr(delimited, "_BLOCK", 1 << 10)
    path = tmp_path / "late.csv"
    path.write_text("a,b,c,d\n" + "".join(f"{i},{i},{i % 2},x{i}\n" for i in range(2_000)) + "1.5,abc,true,y\n")
    import pyarrow.csv

    def whole(*args, **kwargs):
        raise AssertionError("read whole: the column that changed type was not found in pyarrow's message")

    with monkeypatch.context() as m:  # streamed again with the column's type given, never read whole
        m.setattr(pyarrow.csv, "read_csv", whole)
        arrow = read_table(path)
        assert read_table(path, columns=["b", "d"]).column("b").to_list()[-2:] == ["1999", "abc"]
    assert isinstance(arrow.columns[0], tables.Numbers) and arrow.columns[0].values[-1] == 1.5
    assert arrow.column("b").to_list()[-2:] == ["1999", "abc"]
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    stdlib = read_table(path)
    for x, y in zip(arrow.columns, stdlib.columns, strict=True):
        assert type(x) is type(y) and x.to_list() == y.to_list()
