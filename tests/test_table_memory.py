"""Memory proportional to the data (issue 18, item 5): a table of numbers is held about once.

The allocations numpy and the readers make are traced with :mod:`tracemalloc` (numpy reports its array
buffers to it; Arrow's own buffers are not traced, so for the pyarrow reader these tests see what mlp keeps
of each block).  Bytes, not seconds: the bounds do not depend on the machine or its load.  What the whole
``mlp train`` peaks at on a million-row file is measured in docs/reliability.md ("Memory of the million-row
table"), with its command.

Before this was built, reading held the numbers about twice (each block's arrays, then their join),
``load_table`` stacked a float64 matrix while the table was still held and then copied its rows, and
``Preprocessor.transform`` made float64 copies of the whole split: each bound below failed by 1.5x to 3x.
"""
import tracemalloc

import numpy as np
import pytest

from mlp.core.errors import DataError
from mlp.io import delimited, preprocessing, tables
from mlp.io.readers import read_table

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


def test_18_5_reading_holds_one_float64_copy(numbers_csv, reader):
    table, peak = _peak(lambda: read_table(numbers_csv))
    assert table.n_rows == N_ROWS and all(c.dtype == np.float64 for c in table.columns)
    # one float64 copy of the cells, plus the rows being parsed and the growth of a column (stdlib)
    assert peak < 1.3 * FLOAT64_TABLE, f"{reader}: reading peaked at {peak / FLOAT64_TABLE:.2f}x the numbers"


def test_18_5_load_table_copies_the_numbers_once(numbers_csv, reader):
    ds, peak = _peak(lambda: tables.load_table(numbers_csv))
    # the table (1.0), the matrix (0.89: allocated at once, but column-major, so that its pages are touched
    # column by column as the table's columns are dropped) and the labels (an object array, its list: 0.35);
    # stacking the columns and then copying the rows with a target (every one) made it 3.0
    assert peak < 2.35 * FLOAT64_TABLE, f"{reader}: load_table peaked at {peak / FLOAT64_TABLE:.2f}x the numbers"
    assert ds.X.shape == (N_ROWS, N_FEATURES) and ds.rows is None and ds.X.flags.f_contiguous


def test_18_5_the_model_inputs_are_made_without_float64_copies(numbers_csv, monkeypatch):
    monkeypatch.setattr(preprocessing, "_BLOCK_CELLS", 4096)  # blocks small against the table, to see what else is made
    ds = tables.load_table(numbers_csv)
    train, val = tables.split_indices(len(ds.X), 0.2, seed=0)
    pre, fit_peak = _peak(lambda: ds.preprocessor(train))
    X, peak = _peak(lambda: pre.transform(ds.X, "float32", "numbers.csv", rows=train))
    assert X.shape == (len(train), N_FEATURES) and X.dtype == np.float32
    # the float32 inputs, and a few blocks of float64 on the way (not the split's float64 copy: 2x X more)
    blocks = 6 * preprocessing._BLOCK_CELLS * 8  # the float64 blocks being encoded and standardised
    assert peak < 1.1 * X.nbytes + blocks, f"transform peaked at {peak / X.nbytes:.2f}x its output"
    # fitting copies a column of the training rows at a time, and blocks, never the matrix
    assert fit_peak < 0.4 * ds.X.nbytes + blocks, f"fitting peaked at {fit_peak / ds.X.nbytes:.2f}x the matrix"


def test_18_5_rows_argument_equals_taking_the_rows_first(numbers_csv, monkeypatch):
    """``fit(rows=)`` and ``transform(rows=)`` are ``fit(X[rows])`` and ``transform(X[rows])``, block by block."""
    monkeypatch.setattr(preprocessing, "_BLOCK_CELLS", 1000)  # many blocks, so that their combination is tested
    ds = tables.load_table(numbers_csv)
    rows = np.random.default_rng(1).permutation(len(ds.X))[:7_001]
    pre = ds.preprocessor(rows)
    whole = tables.Preprocessor.fit(ds.X[rows], ds.y[rows], ds.features, ds.targets, ds.task,
                                    classes=tables.class_labels(ds.y), kinds=ds.kinds)
    X = ds.X[rows]
    np.testing.assert_allclose(pre.mean, X.mean(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pre.scale, X.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pre.mean, whole.mean, rtol=1e-12, atol=1e-15)
    assert [c.to_dict() for c in pre.columns] == [c.to_dict() for c in whole.columns]
    np.testing.assert_array_equal(pre.transform(ds.X, "float64", rows=rows), pre.transform(X, "float64"))


def test_18_5_a_mixed_table_reads_the_same_block_by_block(tmp_path, monkeypatch):
    """Categories, gaps and numbers through the block-wise fit and transform: the same inputs as one block."""
    path = tmp_path / "mixed.csv"
    rng = np.random.default_rng(2)
    with open(path, "w") as f:
        f.write("x,city,z,label\n")
        for i in range(3_000):
            x = "" if i % 17 == 0 else f"{rng.normal():.4f}"
            f.write(f"{x},{['oslo', 'rome', '', 'lima'][i % 4]},{rng.integers(0, 9)},{'ab'[i % 3 == 0]}\n")
    ds = tables.load_table(path)
    train, _ = tables.split_indices(len(ds.X), 0.25, seed=0)
    one = ds.preprocessor(train).transform(ds.X, "float64", rows=train)
    monkeypatch.setattr(preprocessing, "_BLOCK_CELLS", 64)
    many = ds.preprocessor(train).transform(ds.X, "float64", rows=train)
    np.testing.assert_allclose(many, one, rtol=1e-12, atol=1e-12)


def test_18_5_a_column_that_turns_to_text_keeps_its_earlier_cells_as_written(tmp_path, reader):
    """The standard library's reader keeps numbers packed until a column shows text; then it reads the earlier
    cells again, as written ("1.50", "007"), across blank lines and quoted line breaks; pyarrow reads the same."""
    path = tmp_path / "late.csv"
    path.write_text('code,note,y\n1.50,"two\nlines",0\n\n007,x,1\n' + "".join(f"{i},n{i},{i % 2}\n" for i in range(5))
                    + "A7,z,0\n")
    table = read_table(path)
    assert table.column("code").tolist() == ["1.50", "007", "0", "1", "2", "3", "4", "A7"]
    assert table.column("note")[0] == "two\nlines"
    assert table.column("y").tolist() == [0, 1, 0, 1, 0, 1, 0, 0]
    assert table.where(1) == f"{path}, row 2 (line 5)"


def test_18_5_old_mac_line_ends_and_long_rows_read_alike(tmp_path, monkeypatch):
    """pyarrow's column arrays are allocated for the file's line count: a file of CR line ends (no line feed to
    count) grows them; a row longer than a read block is read with larger blocks."""
    pytest.importorskip("pyarrow")
    rows = "".join(f"{i},{i * 0.5}\n" for i in range(3_000))
    lf, cr = tmp_path / "lf.csv", tmp_path / "cr.csv"
    lf.write_text("a,b\n" + rows)
    cr.write_bytes(("a,b\n" + rows).replace("\n", "\r").encode())
    a, b = read_table(lf), read_table(cr)
    for x, y in zip(a.columns, b.columns, strict=True):
        np.testing.assert_array_equal(x, y)
    monkeypatch.setattr(delimited, "_BLOCK", 16)  # the header alone is longer than a block
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column{j}" for j in range(40)) + "\n" + ",".join(["1.5"] * 40) + "\n")
    t = read_table(wide)
    assert t.n_rows == 1 and len(t.names) == 40 and t.columns[39][0] == 1.5


def test_18_5_a_line_of_spaces_before_a_column_turns_to_text(tmp_path, reader):
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
    assert table.column("c").tolist() == ["1", "2", "3", "red", "inf"]
    assert table.where(3) == f"{path}, row 4 (line 6)"  # the value 4 is on line 6
    one = tmp_path / "one.csv"
    one.write_text("a\n1\n   \n2\nx\n")  # of one column, a line of spaces is a gap
    assert read_table(one).column("a").tolist() == ["1", None, "2", "x"]


def test_18_5_messages_name_the_row_of_the_table_in_any_block(tmp_path, monkeypatch):
    monkeypatch.setattr(preprocessing, "_BLOCK_CELLS", 10)
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(60)))
    ds = tables.load_table(path)
    pre = ds.preprocessor()
    pre.columns[1].fill = None  # as a model saved without fill values
    X = ds.X.copy()
    X[47, 1] = np.nan
    with pytest.raises(DataError, match=r"column 'b', row 48: missing value"):
        pre.transform(X, "float32", "t.csv")
    # the rows of the file, when the matrix holds only some of them (rows with a target)
    X[47, 1], pre.columns[1].fill = 1.0, 1.0
    X[50, 0] = 1e30  # too large for float32 once standardised
    with pytest.raises(DataError, match=r"t.csv, row 51, column 'a'"):
        pre.transform(X, "float32", "t.csv")
    with pytest.raises(DataError, match=r"t.csv, row 54, column 'a'"):
        pre.transform(X, "float32", "t.csv", rows=np.arange(40, 60), row_numbers=np.arange(60) + 3)


def test_18_5_parquet_columns_are_read_by_name(tmp_path):
    """Read column by column: a column named "s.a" beside a struct column "s" is itself, not the struct."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "clash.parquet"
    pq.write_table(pa.table({"s": pa.array([{"a": 1}, {"a": 2}]), "s.a": [5.0, 6.0], "y": [0, 1]}), path)
    table = read_table(path)
    assert table.names == ["s", "s.a", "y"]
    assert table.column("s.a").tolist() == [5.0, 6.0]


def test_18_5_a_type_that_changes_after_the_first_block_is_read_again(tmp_path, monkeypatch):
    """pyarrow guesses a column's type from its first block; a later fraction or text re-reads that column as
    float64 or text (still one copy), and the table is the one the standard library's reader gives."""
    pytest.importorskip("pyarrow")
    monkeypatch.setattr(delimited, "_BLOCK", 1 << 10)
    path = tmp_path / "late.csv"
    path.write_text("a,b,c,d\n" + "".join(f"{i},{i},{i % 2},x{i}\n" for i in range(2_000)) + "1.5,abc,true,y\n")
    arrow = read_table(path)
    assert arrow.columns[0].dtype == np.float64 and arrow.columns[0][-1] == 1.5
    assert arrow.column("b").tolist()[-2:] == ["1999", "abc"]
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    stdlib = read_table(path)
    for x, y in zip(arrow.columns, stdlib.columns, strict=True):
        assert x.dtype == y.dtype and x.tolist() == y.tolist()
