"""Tables of your own: reading CSV/Parquet/NPY/NPZ, the checks on bad data, task inference, the split,
and the preprocessing that a checkpoint carries."""

import json
import sys

import numpy as np
import pytest

import mlp
from mlp.core.errors import CheckpointError, DataError
from mlp.core.tasks import regression_metrics
from mlp.core.tasks import task_of_target as infer_task
from mlp.io.tables import Preprocessor, load_for, load_table, read_table, split_indices


def labels(ds):
    """The target labels of a Dataset's rows (it holds class indices into ds.classes)."""
    return [ds.classes[k] for k in ds.y]


def numbers(ds, name):
    return ds.table.column(name).values


CSV = "a,b,label\n1.5,2,yes\n-3,4.25,no\n0,1e3,yes\n7,8,no\n"


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- reading ------------------------------------------------------------------------------------
def test_csv_features_target_and_names(tmp_path, reader):
    ds = load_table(write(tmp_path, CSV))
    assert ds.features == ["a", "b"] and ds.targets == ["label"]
    np.testing.assert_array_equal(
        np.stack([numbers(ds, "a"), numbers(ds, "b")], axis=1), [[1.5, 2], [-3, 4.25], [0, 1000], [7, 8]]
    )
    assert labels(ds) == ["yes", "no", "yes", "no"]
    assert ds.task == "classification" and "text" in ds.reason


def test_target_by_name_and_several_regression_targets(tmp_path, reader):
    path = write(tmp_path, "x,t1,t2,z\n1,0.5,2.5,3\n2,1.5,3.5,4\n3,2.5,4.5,5\n")
    ds = load_table(path, target="t1,t2")
    assert ds.features == ["x", "z"] and ds.task == "regression" and ds.y.shape == (3, 2)
    ds = load_table(path, target="x")
    assert ds.features == ["t1", "t2", "z"] and ds.task == "classification"  # three integer values


def test_parquet_reads_like_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pq.write_table(
        pa.table({"a": [1.5, -3.0, 0.0, 7.0], "b": [2, 4, 1000, 8], "label": ["yes", "no", "yes", "no"]}), path
    )
    ds = load_table(path)
    csv = load_table(write(tmp_path, CSV.replace("4.25", "4")))
    for name in ("a", "b"):
        np.testing.assert_array_equal(numbers(ds, name), numbers(csv, name))
    assert labels(ds) == ["yes", "no", "yes", "no"]


def test_npy_columns_are_numbered_and_the_last_is_the_target(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.array([[0.5, 1.0, 0], [1.5, 2.0, 1], [2.5, 3.0, 0]]))
    ds = load_table(path)
    assert ds.features == ["0", "1"] and ds.targets == ["2"] and ds.task == "classification"
    assert load_table(path, target="0").features == ["1", "2"]


def test_npz_with_X_y_and_feature_names(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.arange(8.0).reshape(4, 2), y=np.array(["a", "b", "a", "b"]), feature_names=np.array(["u", "v"]))
    ds = load_table(path)
    assert ds.features == ["u", "v"] and ds.targets == ["y"] and labels(ds) == ["a", "b", "a", "b"]


def test_npz_with_python_objects_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.array([[1, object()]], dtype=object))
    with pytest.raises(DataError, match="unpickling"):
        read_table(path)


# -- bad data: one clear message naming file, row and column --------------------------------------
@pytest.mark.parametrize(
    "text,needle",
    [
        # a gap in a feature is filled now (tests/io/test_columns.py); text in a mostly numeric column is still refused
        ("a,b,label\n1,2,x\n3,red,y\n", "row 2 (line 3), column 'b': 'red' is not a number"),
        # a row whose target is missing is left out: here that leaves one class
        ("a,b,label\n1,2,x\n3,4,\n", "column 'label': the target holds one class only ('x')"),
        ("a,b,label\n1,2,x\n3,4,x\n", "column 'label': the target holds one class only ('x')"),
        ("a,b,label\n1,2,\n3,4,\n", "column 'label': every target value is missing"),
        ("a,b,label\n1,2,x\n3,inf,y\n", "row 2 (line 3), column 'b': inf is not a finite number"),
        ("a,a,label\n1,2,x\n3,4,y\n", "column name 'a' appears twice"),
        ("a,b,label\n", "no data rows"),
    ],
)
def test_bad_csv_names_file_row_and_column(tmp_path, reader, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        load_table(path)
    message = str(info.value)
    assert str(path) in message and needle in message, message
    assert "\n" not in message


def test_missing_target_column_lists_the_columns(tmp_path, reader):
    path = write(tmp_path, CSV)
    with pytest.raises(DataError, match=r"no target column 'price'; the columns are 'a', 'b', 'label'"):
        load_table(path, target="price")


def test_text_in_a_regression_target(tmp_path, reader):
    path = write(tmp_path, "a,y\n1,2.5\n2,lots\n")
    with pytest.raises(DataError, match=r"row 2 \(line 3\), column 'y': 'lots' is not a number \(regression"):
        load_table(path, task="regression")


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("data.txt", "a,b\n1,2\n", "unknown table format '.txt'"),
        ("absent.csv", None, "no such file"),
        ("data.npy", "not numpy", "not a valid .npy file"),
    ],
)
def test_unreadable_files(tmp_path, name, content, needle):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=needle):
        read_table(path)


def test_npy_gap_is_filled_not_refused(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.array([[0.5, 1.0, 0], [1.5, np.nan, 1], [2.5, 3.0, 0]]))
    ds = load_table(path)
    assert np.isnan(numbers(ds, "1")[1]) and ds.kinds["1"].kind == "numeric"
    pre = ds.preprocessor(standardize=False)
    np.testing.assert_array_equal(ds.inputs(pre, "float64"), [[0.5, 1.0, 0.0], [1.5, 2.0, 1.0], [2.5, 3.0, 0.0]])
    np.testing.assert_array_equal(pre.transform(path, "float64"), ds.inputs(pre, "float64"))


def test_parquet_without_pyarrow_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(DataError, match=r"needs pyarrow: pip install \"mlp-arrayapi\[tables\]\""):
        read_table(path)


# -- task, split, metrics -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "values,task",
    [
        (np.array(["a", "b"], dtype=object), "classification"),
        (np.array([0.0, 1.0, 2.0, 1.0]), "classification"),
        (np.array([0.5, 1.0]), "regression"),
        (np.arange(25.0), "regression"),  # integers, but more distinct values than MAX_CLASSES
    ],
)
def test_infer_task(values, task):
    assert infer_task(values)[0] == task


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.array([0] * 80 + [1] * 20)
    train, val = split_indices(100, 0.25, seed=3, labels=labels)
    assert len(val) == 25 and np.bincount(labels[val]).tolist() == [20, 5]
    assert not set(train) & set(val) and len(train) + len(val) == 100
    again = split_indices(100, 0.25, seed=3, labels=labels)
    np.testing.assert_array_equal(again[1], val)
    assert not np.array_equal(split_indices(100, 0.25, seed=4, labels=labels)[1], val)


def test_split_that_leaves_no_validation_row_is_refused():
    with pytest.raises(ValueError, match="leaves no row"):
        split_indices(3, 0.1)


def test_regression_metrics_by_hand():
    m = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert m["mse"] == pytest.approx(4 / 3) and m["mae"] == pytest.approx(2 / 3)
    assert m["r2"] == pytest.approx(1 - 4 / 2)


# -- preprocessing -------------------------------------------------------------------------------
def test_statistics_come_from_the_training_rows_only():
    X = np.array([[0.0, 5.0], [2.0, 5.0], [100.0, 5.0]])
    y = np.array(["a", "b"], dtype=object)
    pre = Preprocessor.fit(X[:2], ["u", "v"], ["t"], "classification", y=y, scaling="standard")
    np.testing.assert_array_equal(pre.mean, [1.0, 5.0])
    np.testing.assert_array_equal(pre.scale, [1.0, 1.0])  # the constant column keeps scale 1
    np.testing.assert_allclose(pre.transform(X, "float64")[:, 0], [-1.0, 1.0, 99.0])
    assert pre.clip is None and pre.to_dict()["scaling"] == "standard"


def test_robust_scaling_is_median_and_iqr_then_a_smooth_clip():
    """The default: a far value reaches the network near +-3, not at 99; small values pass nearly unchanged."""
    X = np.array([[0.0, 5.0, 1.0], [2.0, 5.0, 1.0], [1.0, 5.0, 1.0], [1.0, 5.0, 3.0], [100.0, 5.0, 1.0]])
    y = np.array(["a", "b", "a", "b"], dtype=object)
    pre = Preprocessor.fit(X[:4], ["u", "v", "w"], ["t"], "classification", y=y)
    assert pre.scaling == "robust" and pre.clip == 3.0
    # u: median 1, quartiles 0.75 and 1.25; v constant: scale 1; w (1, 1, 1, 3): quartiles 1 and 1.5
    np.testing.assert_array_equal(pre.mean, [1.0, 5.0, 1.0])
    np.testing.assert_array_equal(pre.scale, [0.5, 1.0, 0.5])
    z = (X[:, 0] - 1.0) / 0.5
    out = pre.transform(X, "float64")
    np.testing.assert_allclose(out[:, 0], z / np.sqrt(1 + (z / 3) ** 2), rtol=1e-15)
    assert 2.99 < out[4, 0] < 3.0 and abs(out[2, 0]) == 0.0
    back = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(back.transform(X, "float64"), out)  # the clip is stored with the statistics
    from mlp.io.tables.preprocessing import robust_statistics

    assert robust_statistics([1, 1, 1, 1, 1, 9]) == (1.0, 4.0)  # the middle half one value: half the range
    assert robust_statistics([1, 9, 3], weights=[5, 1, 0]) == (1.0, 4.0)  # counted distinct values: the same
    assert robust_statistics([2.0, 4.0, 7.0], weights=[2, 1, 1]) == robust_statistics([2.0, 2.0, 4.0, 7.0])
    std = Preprocessor.fit(X[:4], ["u", "v", "w"], ["t"], "classification", y=y, scaling="standard")
    assert std.transform(X, "float64")[4, 0] > 100  # without it, the far value is 160 standard deviations out


def test_robust_scaling_leaves_codes_and_indicators_unclipped():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0], "c": ["a", "b", "a", "b", "a", "b"]})
    pre = Preprocessor.fit(frame, ["x", "c"], ["t"], "classification", y=np.array(list("ababab"), dtype=object))
    assert pre.input_names() == ["x", "x:missing", "c:code"]
    np.testing.assert_array_equal(pre.inverse_clip(), [1 / 3, 0.0, 0.0])
    out = pre.transform(frame, "float64")
    assert set(out[:, 1]) == {0.0, 1.0} and set(out[:, 2]) == {0.0, 1.0}
    # the median of the values present (1, 3, 4, 5, 6: 4), not of the filled ones
    assert pre.mean[0] == 4.0


def test_regression_predictions_stay_within_the_training_targets():
    X = np.arange(8.0).reshape(-1, 1)
    y = np.array([3.0, 5.0, 4.0, 9.0, 7.0, 6.0, 8.0, 10.0])
    pre = Preprocessor.fit(X, ["x"], ["t"], "regression", y=y)
    assert pre.target_low.tolist() == [3.0] and pre.target_high.tolist() == [10.0]
    np.testing.assert_array_equal(pre.values(pre.encode(np.array([-50.0, 3.5, 60.0]))).ravel(), [3.0, 3.5, 10.0])
    assert Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict()))).target_high.tolist() == [10.0]
    free = Preprocessor.fit(X, ["x"], ["t"], "regression", y=y, clamp=False)
    assert free.target_low is None and free.values(free.encode(np.array([60.0]))).item() == pytest.approx(60.0)


def test_labels_round_trip_through_json():
    y = np.array([True, False, True], dtype=object)
    pre = Preprocessor.fit(np.ones((3, 1)), ["x"], ["t"], "classification", y=y)
    back = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back.classes == [False, True] and back.decode(back.encode(y)) == [True, False, True]
    with pytest.raises(DataError, match="label 1 is not one of the model's classes"):
        back.encode(np.array([1]))  # 1 == True in Python, but it is not the label True


def test_regression_targets_are_standardised_and_mapped_back():
    y = np.array([10.0, 20.0, 30.0])
    pre = Preprocessor.fit(np.zeros((3, 1)), ["x"], ["t"], "regression", y=y)
    Y = pre.encode(y)
    assert Y.mean() == pytest.approx(0.0) and Y.std() == pytest.approx(1.0)
    np.testing.assert_allclose(pre.values(Y)[:, 0], y)


def test_a_table_for_a_model_matches_features_by_name_and_reads_the_target_when_there(tmp_path):
    pre = Preprocessor.fit(np.ones((2, 2)), ["b", "a"], ["t"], "regression", y=np.array([0.5, 1.5]), standardize=False)
    ds = load_for(pre, write(tmp_path, "a,t,b,extra\n1,2,3,4\n"), need_target=True)
    np.testing.assert_array_equal(ds.inputs(pre, "float64"), [[3.0, 1.0]])
    assert ds.has_target and ds.y.tolist() == [2.0] and "extra" not in ds.table.names  # never read
    assert not load_for(pre, write(tmp_path, "a,t,b,extra\n1,2,3,4\n")).has_target  # to predict: not read
    ds = load_for(pre, write(tmp_path, "a,b\n1,3\n", "new.csv"))
    assert not ds.has_target and len(ds) == 1
    with pytest.raises(DataError, match="no target column 't' to evaluate against"):
        load_for(pre, write(tmp_path, "a,b\n1,3\n", "new.csv"), need_target=True)
    with pytest.raises(DataError, match=r"trained with feature column 'b', missing here"):
        load_for(pre, write(tmp_path, "a,c\n1,3\n", "bad.csv"))


def test_checkpoint_carries_the_preprocessing(tmp_path):
    pre = Preprocessor.fit(
        np.array([[1.0, 2.0], [3.0, 6.0]]),
        ["u", "v"],
        ["label"],
        "classification",
        y=np.array(["x", "y"], dtype=object),
    )
    model = mlp.build_mlp([2, 4, 2], loss="cross_entropy")
    path = mlp.save(model, tmp_path / "m.safetensors", preprocessor=pre)
    back = mlp.load_checkpoint(path).preprocessor
    assert back.features == ["u", "v"] and back.classes == ["x", "y"] and back.task == "classification"
    np.testing.assert_array_equal(back.mean, pre.mean) and np.testing.assert_array_equal(back.scale, pre.scale)
    assert mlp.load_checkpoint(mlp.save(model, tmp_path / "plain.safetensors")).preprocessor is None


def test_save_refuses_preprocessing_that_does_not_fit_the_model(tmp_path):
    pre = Preprocessor.fit(np.ones((2, 3)), ["a", "b", "c"], ["t"], "regression", y=np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="3 features, but the model reads 2 inputs"):
        mlp.save(mlp.build_mlp([2, 1], loss="mse"), tmp_path / "m.safetensors", preprocessor=pre)


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda d: d.update(scale=[1.0, -1.0]), "scale must be a list of 2 finite positive numbers"),
        (lambda d: d.update(classes=["x"]), "at least two labels"),
        (
            lambda d: d.update(features=["u"], columns=d["columns"][:1], mean=[1.0], scale=[1.0]),
            "makes 1 inputs from 1 features, but the model reads 2 inputs",
        ),
        (lambda d: d.update(features=["v", "u"]), "columns do not name the features"),
        (lambda d: d.update(task="clustering"), "task must be one of"),
        (lambda d: d.update(classes=["x", "y", "z"]), "3 classes, but the model has 2 outputs"),
    ],
)
def test_tampered_preprocessing_is_refused_on_load(tmp_path, edit, needle):
    import safetensors.numpy

    pre = Preprocessor.fit(
        np.array([[1.0, 2.0], [3.0, 6.0]]),
        ["u", "v"],
        ["label"],
        "classification",
        y=np.array(["x", "y"], dtype=object),
    )
    path = mlp.save(mlp.build_mlp([2, 2], loss="cross_entropy"), tmp_path / "m.safetensors", preprocessor=pre)
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8 : 8 + header_len])["__metadata__"]["mlp"])
    edit(meta["extra"]["preprocessing"])
    tensors = safetensors.numpy.load(data)
    path.write_bytes(safetensors.numpy.save(tensors, metadata={"mlp": json.dumps(meta)}))
    with pytest.raises(CheckpointError) as info:
        mlp.load_checkpoint(path)
    assert str(path) in str(info.value) and needle in str(info.value)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_evaluate_block_by_block_gives_the_metrics_of_the_whole_table(tmp_path, capsys, monkeypatch, task):
    from mlp.io.tables import batches
    from tests_helpers import run_cli

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    target = np.where(X[:, 0] > 0, "up", "down") if task == "classification" else np.round(X @ [1.0, 2.0, -1.0], 3)
    rows = "".join(
        f"{a:.4f},{b:.4f},{'xyz'[i % 3]},{t}\n" for i, ((a, b, _), t) in enumerate(zip(X, target, strict=True))
    )
    data = write(tmp_path, "a,b,c,t\n" + rows)
    save = str(tmp_path / "m.safetensors")
    assert (
        run_cli(["train", "--data", str(data), "--target", "t", "--epochs", "2", "--quiet", "--save", save], capsys)[0]
        == 0
    )
    code, whole, err = run_cli(["evaluate", save, "--data", str(data)], capsys)
    assert code == 0, err
    from mlp.io.tables import sources

    monkeypatch.setattr(batches, "BLOCK_ROWS", 7)  # 43 blocks, the last of 6 rows
    monkeypatch.setattr(sources, "CSV_BLOCK", 2048)  # and a CSV read in groups of about 60 rows
    code, blocks, err = run_cli(["evaluate", save, "--data", str(data)], capsys)
    assert code == 0 and blocks == whole and "(300 samples)" in whole, (whole, blocks)


# a smoke test of the script: the commands it times are tested on the default backend by tests/cli
@pytest.mark.backend_independent
def test_the_table_benchmark_runs(tmp_path):
    """examples/bench_tables.py --quick: every command it measures runs, and its table has every row."""
    import subprocess
    from pathlib import Path

    pytest.importorskip("pyarrow")
    pytest.importorskip("onnxruntime")
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "bench.json"
    r = subprocess.run(
        [
            sys.executable,
            str(root / "examples" / "bench_tables.py"),
            "--quick",
            "--dir",
            str(tmp_path),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(row["what"].split(",")[0], row["rows"]) for row in rows] == [
        ("mlp train", 5000),
        ("mlp train", 5000),
        ("mlp predict", 5000),
        ("pyarrow + ONNX Runtime", 5000),
    ]
    assert all(row["peak_mib"] > 0 and row["seconds"] > 0 for row in rows)
    assert all(row["read"] >= 0 and row["preprocessing"] >= 0 for row in rows[:2])  # the phases mlp train says
