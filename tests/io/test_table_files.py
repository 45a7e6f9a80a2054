"""Reading table files: bad bytes, bad numbers and a bad structure are refused naming the file, the row, the line and
the column; both CSV readers (pyarrow's and the standard library's) read a table alike; delimiters are sniffed."""

import sys

import numpy as np
import pytest

from mlp.core.errors import DataError
from mlp.io import tables as readers
from tests_helpers import raises

#: reading files, no arrays of a backend: MLP_BACKEND changes nothing here (tests/conftest.py)
pytestmark = pytest.mark.backend_independent

# -- bytes that are not UTF-8; numbers that are not numbers ----------------------------------------


def test_invalid_utf8_in_a_label_is_refused_naming_row_and_column(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,label\n1,0\n2,1\n3,\xff1\n4,0\n")
    with raises(DataError, f"{path}, row 3 (line 4), column 2", "is not valid UTF-8"):
        readers.read_table(path)


def test_invalid_utf8_in_a_csv_header_is_refused(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a\xff,label\n1,0\n2,1\n")
    with raises(DataError, f"{path}, line 1 (the header), column 1", "not valid UTF-8"):
        readers.read_table(path)


def test_a_number_with_an_underscore_is_not_a_number(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1_5,1\n2,2\n")
    table = readers.read_table(path)
    assert table.column("a").to_list() == ["1_5", "2"]  # text, never 15.0
    with raises(DataError, "row 1 (line 2), column 'a': '1_5' is not a number"):
        readers.numeric_column(table, "a")
    assert [readers.parse_number(t) for t in ("1_5", "0x10", "1e", "1 5")] == [None] * 4
    assert [readers.parse_number(t) for t in ("12", "-1.5", ".5", "1.", "+2E5")] == [12.0, -1.5, 0.5, 1.0, 2e5]


def test_npz_bytes_labels_are_text_not_reprs(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.eye(4)[:, :2], y=np.array([b"0", b"1", b"0", b"1"]))
    assert readers.read_table(path).column("y").to_list() == ["0", "1", "0", "1"]
    np.savez(path, X=np.eye(4)[:, :2], y=np.array([b"0", b"\xff", b"0", b"1"]))
    with raises(DataError, "row 2", "is not valid UTF-8"):
        readers.read_table(path)


def test_numbers_too_large_or_not_finite_are_refused_when_read(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_text("a,b,label\n1,1e300,0\n2,-1e300,1\n3,5e299,0\n4,2,inf\n")
    table = readers.read_table(path)
    with raises(DataError, f"{path}, row 1 (line 2), column 'b': 1e+300 is too large", "cannot be standardised"):
        readers.numeric_column(table, "b")
    with raises(DataError, f"{path}, row 4 (line 5), column 'label': inf is not a finite number, so not a class"):
        readers.read_target(table, ["label"], "classification")
    readers.numeric_column(table, "a")  # ordinary numbers pass
    # a 1e30 outlier among validation rows, standardised with the training rows' statistics
    X = np.array([[0.1, 2.0], [1e30, 0.0]])
    readers.check_cast(X, ["a", "b"], "float64", "val.csv")
    with raises(
        DataError, "val.csv, row 2, column 'a': feature value 1e+30 (after standardisation) is too large for float32"
    ):
        readers.check_cast(X, ["a", "b"], "float32", "val.csv")


# -- files that are truncated or lie about their size ----------------------------------------------


def test_npy_header_claiming_a_huge_shape_allocates_nothing(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((3, 4)))
    raw = path.read_bytes().replace(b"(3, 4)", b"(10000000000, 4)")
    path.write_bytes(raw)
    with raises(DataError, f"{path}: truncated: the header claims shape (10000000000, 4)"):
        readers.read_table(path)


def test_truncated_npy_and_npz_are_data_errors(tmp_path):
    npy, npz = tmp_path / "a.npy", tmp_path / "a.npz"
    np.save(npy, np.arange(40.0).reshape(10, 4))
    np.savez(npz, X=np.arange(40.0).reshape(10, 4))
    npy.write_bytes(npy.read_bytes()[:-17])
    npz.write_bytes(npz.read_bytes()[:-30])
    with raises(DataError, f"{npy}: truncated", "shape (10, 4)"):
        readers.read_table(npy)
    with raises(DataError, f"{npz}: not a valid .npz file (truncated or corrupt"):
        readers.read_table(npz)


# -- rows of the wrong width; line numbers ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, needle",
    [
        ("a,b,c\n1,2,3\n4,5,6,7\n", "row 2 (line 3): 4 values, but the header has 3 columns"),
        ("a,b,c\n1,2,3\n45,6\n", "row 2 (line 3): 2 values, but the header has 3 columns (a missing delimiter ','?)"),
        ('a,b,c\n1,2,3\n"4,5,6\n7,8,9\n', "row 2 (line 3): 1 value, but the header has 3 columns; a quoted cell spans"),
        ("a,b,c\n1,2,3\n\n\n4,5,6,7\n", "row 2 (line 5): 4 values"),
        ('a,b,c\n"1\n2",2,3\n4,5,6,7\n', "row 2 (line 4): 4 values"),
    ],
    ids=["extra-column", "removed-delimiter", "unbalanced-quote", "after-blank-lines", "after-a-quoted-line-break"],
)
def test_structural_csv_errors_name_row_and_line(tmp_path, reader, text, needle):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with raises(DataError, f"{path}, {needle}"):
        readers.read_table(path)


def test_line_numbers_count_blank_and_quoted_lines(tmp_path, reader):
    path = tmp_path / "data.csv"
    path.write_text('a,b\n1,x\n\n2,"two\nlines"\n3,\n')
    table = readers.read_table(path)
    assert [table.where(i) for i in range(3)] == [
        f"{path}, row 1 (line 2)",
        f"{path}, row 2 (line 4)",
        f"{path}, row 3 (line 6)",
    ]


# -- one CSV reading, whichever reader; delimiters -------------------------------------------------


def _read_both(path, monkeypatch, **kw):
    pytest.importorskip("pyarrow")
    with_arrow = readers.read_table(path, **kw)
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "pyarrow", None)
        without = readers.read_table(path, **kw)
    return with_arrow, without


def _same(t1, t2):
    assert t1.names == t2.names
    for a, b in zip(t1.columns, t2.columns, strict=True):
        assert type(a) is type(b) and [repr(v) for v in a.to_list()] == [repr(v) for v in b.to_list()], (a, b)
    assert [t1.where(i) for i in range(t1.n_rows)] == [t2.where(i) for i in range(t2.n_rows)]


def test_pandas_get_dummies_booleans_read_alike_by_both_readers(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    frame = pd.get_dummies(
        pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5], "city": ["a", "b", "a", "c"], "label": [0, 1, 0, 1]}), columns=["city"]
    )
    path = tmp_path / "dummies.csv"
    frame.to_csv(path, index=False)
    t1, t2 = _read_both(path, monkeypatch)
    _same(t1, t2)
    assert t1.column("city_a").to_list() == [True, False, True, False]


def test_quoted_cells_and_text_read_alike_by_both_readers(tmp_path, monkeypatch):
    path = tmp_path / "q.csv"
    path.write_text('a,b,c\n"1",  x ,"has, comma"\n2.5,y,"two\nlines"\n,NA,plain\n.5,z,1_5\n')
    t1, t2 = _read_both(path, monkeypatch)
    _same(t1, t2)
    assert t1.column("b").to_list() == ["x", "y", None, "z"]


@pytest.mark.parametrize(
    "name, text, sep",
    [
        ("semi.csv", "a;b;label\n1,5;2;x\n3,5;4;y\n", None),
        ("tabs.tsv", "a\tb\tlabel\n1\t2\tx\n3\t4\ty\n", None),
        ("pipes.csv", "a|b|label\n1|2|x\n3|4|y\n", None),
        ("given.csv", "a;b,label\n1;2,x\n3;4,y\n", ";"),
    ],
    ids=["semicolon-sniffed", "tsv", "pipe-sniffed", "sep-given"],
)
def test_delimiters_are_sniffed_or_given(tmp_path, monkeypatch, name, text, sep):
    path = tmp_path / name
    path.write_text(text)
    t1, t2 = _read_both(path, monkeypatch, sep=sep)
    _same(t1, t2)
    assert t1.names == (["a", "b,label"] if sep else ["a", "b", "label"])
