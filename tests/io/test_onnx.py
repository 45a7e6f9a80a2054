"""ONNX export: ONNX Runtime's outputs against `mlp predict`'s, on checkpoints trained on every backend.

The graphs are checked with ``onnx.checker.check_model(full_check=True)``; the preprocessing step
builders (imputer, one-hot, label encoder, embeddings, missing indicators) run on hand-built graphs
against NumPy; mlp.sklearn pipelines convert with skl2onnx.
"""

import argparse
import csv
import subprocess
import sys
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (the onnx extra)")
ort = pytest.importorskip("onnxruntime", reason="checking an export needs onnxruntime (the onnx extra)")

import mlp  # noqa: E402
import mlp.cli  # noqa: E402
from mlp.io import onnx as export  # noqa: E402
from mlp.io import onnx_graph  # noqa: E402
from mlp.io.tables import Preprocessor, Table, column_of  # noqa: E402
from mlp.io.tables.encoders import Column  # noqa: E402
from tests_helpers import ROOT  # noqa: E402

#: float32 probabilities near 0 carry one ulp of 1 of absolute error: mlp computes a logistic as
#: 0.5 tanh(y/2) + 0.5, ONNX Runtime as Sigmoid (see mlp.io.onnx.classifier_head)
ULP1 = 2.0**-23
RTOL = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: more BLAS threads only add contention on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it the tests run as they are
        yield
        return
    with threadpool_limits(1):
        yield


def session(path_or_model):
    data = path_or_model.SerializeToString() if hasattr(path_or_model, "SerializeToString") else str(path_or_model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def export_cli(*argv) -> int:
    """``mlp export ...`` through the command's own ``add_parser`` and ``run`` (what ``mlp.cli.main`` calls), so that
    errors arrive as exceptions to match; :func:`test_mlp_export_is_a_command` runs it through ``main``."""
    from mlp.cli import export as command

    parser = argparse.ArgumentParser(prog="mlp")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--backend")
    common.add_argument("--device")
    command.add_parser(parser.add_subparsers(dest="command"), common)
    return command.run(parser.parse_args(["export", *map(str, argv)]))


def predict_cli(ckpt, data, out, backend, proba=True):
    """`mlp predict`'s CSV: ``(header, rows of text)``."""
    args = ["predict", str(ckpt), str(data), "--out", str(out), "--backend", backend] + (["--proba"] if proba else [])
    assert mlp.cli.main(args) == 0
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def label_text(v):
    """An ONNX label as `mlp predict` writes it in its CSV."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v.item() if isinstance(v, np.generic) else v)


def write_csv(path, names, columns):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        for row in zip(*columns, strict=True):
            w.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])


def column_feeds(path, names, dtype=np.float64):
    """The raw columns of a CSV as ONNX inputs: one (N, 1) array of numbers per feature column."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    return {n: np.array([[float(r[header.index(n)])] for r in rows[1:]], dtype=dtype) for n in names}


def feeds_for(sess, path):
    """The raw columns of a CSV as the session's inputs: text as it is ("" for a gap), numbers (NaN for a gap)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    feeds = {}
    for i in sess.get_inputs():
        cells = [r[header.index(i.name)] for r in body]
        if i.type == "tensor(string)":  # text as mlp's readers give it: trimmed
            feeds[i.name] = np.array([c.strip() for c in cells], dtype=object).reshape(-1, 1)
        else:
            dtype = np.float32 if i.type == "tensor(float)" else np.float64
            feeds[i.name] = np.array([float(c) if c else np.nan for c in cells], dtype=dtype).reshape(-1, 1)
    return feeds


def assert_same_as_predict(sess, feeds, header, rows, dtype="float32"):
    """ONNX Runtime's label and probabilities equal `mlp predict --proba`'s."""
    label, P = sess.run(["label", "probabilities"], feeds)
    assert [label_text(v) for v in label] == [r[0] for r in rows]
    expected = np.array([[float(v) for v in r[1:]] for r in rows])
    assert P.shape == expected.shape and P.dtype == np.dtype(dtype)
    np.testing.assert_allclose(P, expected, rtol=RTOL[dtype], atol=ULP1 if dtype == "float32" else 0)
    return label, P


# -- tables and MNIST, trained on every backend ---------------------------------------------------
def classification_table(path, n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 1000.0] + [0.0, 5.0, 2000.0]
    y = np.where(X[:, 0] + X[:, 1] / 10 > 0.5, "yes", np.where(X[:, 2] > 2000, "no", "maybe"))
    write_csv(path, ["a", "b c", "d", "kind"], [*X.T, y])
    return ["a", "b c", "d"]


def regression_table(path, n=200, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)) * [1.0, 3.0, 0.1, 50.0]
    price = 1000 + 40 * X[:, 0] - 7 * X[:, 1] ** 2 + 300 * X[:, 2] + X[:, 3] + rng.normal(size=n)
    rooms = 3 + X[:, 0] - 0.01 * X[:, 3]
    write_csv(path, ["x0", "x1", "x2", "x3", "price", "rooms"], [*X.T, price, rooms])
    return ["x0", "x1", "x2", "x3"]


def train_cli(data, save, backend, *extra):
    args = [
        "train",
        "--data",
        str(data),
        "--hidden",
        "8",
        "--epochs",
        "2",
        "--quiet",
        "--backend",
        backend,
        "--save",
        str(save),
        *extra,
    ]
    assert mlp.cli.main(args) == 0


def test_table_classifier_from_every_backend_matches_predict(backend, tmp_path):
    data = tmp_path / "kinds.csv"
    features = classification_table(data)
    ckpt, out = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    train_cli(data, ckpt, backend.name)
    assert export_cli(ckpt, out) == 0
    m = onnx.load(str(out))
    onnx.checker.check_model(m, full_check=True)
    assert [i.name for i in m.graph.input] == features
    assert {o.domain: o.version for o in m.opset_import} == {"": export.OPSET, "ai.onnx.ml": export.ML_OPSET}
    assert m.ir_version == export.IR_VERSION
    header, rows = predict_cli(ckpt, data, tmp_path / "p.csv", backend.name)
    assert header == ["kind", "proba_maybe", "proba_no", "proba_yes"]
    sess = session(out)
    label, _ = assert_same_as_predict(sess, column_feeds(data, features), header, rows)
    assert label.dtype == object and set(label) <= {"maybe", "no", "yes"}
    # one row at a time gives the same as the batch
    one = {k: v[5:6] for k, v in column_feeds(data, features).items()}
    assert sess.run(["label"], one)[0][0] == rows[5][0]


def test_regression_table_from_every_backend_matches_predict(backend, tmp_path):
    data = tmp_path / "houses.csv"
    features = regression_table(data)
    ckpt, out = tmp_path / "r.safetensors", tmp_path / "r.onnx"
    train_cli(data, ckpt, backend.name, "--target", "price,rooms")
    assert export_cli(ckpt, out) == 0
    header, rows = predict_cli(ckpt, data, tmp_path / "p.csv", backend.name, proba=False)
    assert header == ["price", "rooms"]
    (values,) = session(out).run(["values"], column_feeds(data, features))
    assert values.dtype == np.float64 and values.shape == (len(rows), 2)
    expected = np.array(rows, dtype=np.float64)
    assert np.abs(expected[:, 0]).mean() > 100  # in the target's units, not standardised
    np.testing.assert_allclose(values, expected, rtol=1e-5)


def categorical_table(path, rows, seed=2, unseen=False):
    """Numbers with gaps, text categories with gaps, booleans, a numeric category column, a category column of many
    levels (codes for an Embedding); ``unseen``: new values."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, rows)
    age[rng.random(rows) < 0.15] = np.nan
    city = rng.choice(["rome", "oslo", "lima", "Paris"], rows).astype(object)
    city[rng.random(rows) < 0.1] = ""
    member = rng.choice(["true", "false"], rows)
    zone = rng.choice([1, 2, 5], rows)
    income = rng.normal(3000, 800, rows)
    shop = np.array([f"shop{k}" for k in rng.integers(0, 70, rows)], dtype=object)
    y = np.where((np.nan_to_num(age, nan=40) > 40) ^ (city == "rome"), "high", "low")
    if unseen:  # categories never seen in training, other cases, gaps where training had none
        city[:10] = ["berlin", "ROME", "Oslo", "", "paris", " Lima ", "lima", "NA", "x", "PARIS"]
        member[:4] = ["", "TRUE", "False", "maybe"]
        zone[:3] = [7, 1, 2]
        income[:2] = np.nan
        shop[:3] = ["shop999", "", "SHOP3"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["age", "city", "member", "zone", "income", "shop", "y"])
        for i in range(rows):
            w.writerow(
                [
                    "" if np.isnan(age[i]) else repr(float(age[i])),
                    city[i],
                    member[i],
                    zone[i],
                    "" if np.isnan(income[i]) else repr(float(income[i])),
                    shop[i],
                    y[i],
                ]
            )


def test_table_with_categories_gaps_and_unseen_categories_from_every_backend(backend, tmp_path):
    train, new = tmp_path / "people.csv", tmp_path / "new.csv"
    categorical_table(train, 240)
    categorical_table(new, 80, seed=3, unseen=True)
    ckpt, out = tmp_path / "c.safetensors", tmp_path / "c.onnx"
    train_cli(train, ckpt, backend.name, "--categorical", "zone")
    ck = mlp.load_checkpoint(ckpt, backend="numpy")
    kinds = {c.name: (c.kind, c.indicator or c.missing, c.layer) for c in ck.preprocessor.columns}
    assert kinds == {
        "age": ("numeric", True, None),
        "city": ("categorical", True, "OneHot"),
        "member": ("categorical", False, "OneHot"),
        "zone": ("categorical", False, "OneHot"),
        "income": ("numeric", False, None),
        "shop": ("categorical", False, "Embedding"),
    }
    # the numbers' periodic features (the default), the codes' one-hot slots, then the shop codes' learned vectors
    assert [type(layer).__name__ for layer in ck.model.layers[:3]] == ["PeriodicEmbedding", "OneHot", "Embedding"]
    names = ck.preprocessor.input_names()
    assert [names[j] for j in ck.model.layers[0].columns] == ["age", "income"]
    assert export_cli(ckpt, out) == 0
    sess = session(out)
    assert {i.name: i.type for i in sess.get_inputs()} == {
        "age": "tensor(double)",
        "city": "tensor(string)",
        "member": "tensor(string)",
        "zone": "tensor(double)",
        "income": "tensor(double)",
        "shop": "tensor(string)",
    }
    header, rows = predict_cli(ckpt, new, tmp_path / "p.csv", backend.name)
    assert_same_as_predict(sess, feeds_for(sess, new), header, rows)


def test_a_date_column_is_refused_by_name(tmp_path):
    data = tmp_path / "days.csv"
    rng = np.random.default_rng(0)
    days = [f"2024-{m:02d}-{d:02d}" for m, d in zip(rng.integers(1, 13, 60), rng.integers(1, 29, 60), strict=True)]
    write_csv(data, ["x", "day", "y"], [rng.normal(size=60), days, rng.choice(["a", "b"], 60)])
    ckpt = tmp_path / "d.safetensors"
    train_cli(data, ckpt, "numpy")
    with pytest.raises(export.ExportError, match="column 'day' is a date/time column"):
        export_cli(ckpt, tmp_path / "d.onnx")


_MNIST = {}


def mnist(shared_data):
    if "data" not in _MNIST:  # read once for the backends
        from mlp.io.datasets import load_mnist

        _MNIST["data"] = load_mnist(data_dir=shared_data / "mnist", download=False, progress=False)
    return _MNIST["data"]


@pytest.mark.slow
def test_mnist_network_from_every_backend_matches_predict(backend, shared_data, tmp_path):
    (X, y), (X_test, _) = mnist(shared_data)
    model = mlp.build_mlp([784, 32, 10], "relu", "cross_entropy", backend=backend, seed=3)
    mlp.fit(
        model,
        X[:2000],
        y[:2000],
        loss="cross_entropy",
        optimizer=mlp.SGD(0.1, momentum=0.9),
        epochs=1,
        batch_size=50,
        progress=False,
    )
    ckpt, out, rows_file = tmp_path / "mnist.safetensors", tmp_path / "mnist.onnx", tmp_path / "rows.npy"
    mlp.save(model, ckpt, loss="cross_entropy")
    np.save(rows_file, X_test[:300])
    assert export_cli(ckpt, out) == 0
    header, rows = predict_cli(ckpt, rows_file, tmp_path / "p.csv", backend.name)
    assert header == ["prediction"] + [f"proba_{k}" for k in range(10)]
    sess = session(out)
    assert [(i.name, i.shape) for i in sess.get_inputs()] == [("input", ["N", 784])]
    label, _ = assert_same_as_predict(sess, {"input": X_test[:300]}, header, rows)
    assert label.dtype == np.int64


# -- every layer, every output rule, every kind of label ------------------------------------------
HEADS = {
    # name: (layers after the first Linear, n_out, loss, classes)
    "softmax-strings": ([mlp.Tanh(), mlp.Dropout(0.3), mlp.Linear(6, 3)], 3, "cross_entropy", ["a", "b", "c"]),
    "logit-ints": ([mlp.LeakyReLU(0.2), mlp.Linear(6, 1)], 1, "binary_cross_entropy", [3, 7]),
    "sigmoid-bools": ([mlp.ReLU(), mlp.Linear(6, 1), mlp.Sigmoid()], 1, "quadratic", [False, True]),
    "sigmoid-floats": ([mlp.Sigmoid(), mlp.Linear(6, 3), mlp.Sigmoid()], 3, "quadratic", [0.5, 1.5, 2.25]),
    "raw-mixed": ([mlp.Identity(), mlp.Linear(6, 2)], 2, None, [1, "b"]),
    "sigmoid-logits-3": ([mlp.LeakyReLU(-0.5), mlp.Linear(6, 3)], 3, "binary_cross_entropy", ["x", "y", "z"]),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_layer_and_output_rule_matches_predict(head, dtype, tmp_path):
    rest, n_out, loss, classes = HEADS[head]
    # on NumPy: the backends are covered above; here the layers and heads are
    model = mlp.Sequential([mlp.Linear(2, 6, init="normal"), *rest], backend="numpy", dtype=dtype, seed=11)
    rng = np.random.default_rng(5)
    # wide features: logits of several units, so probabilities come near 0 and 1
    X = rng.normal(size=(64, 2)) * [3.0, 0.01] + [1.0, 100.0]
    pre = Preprocessor(
        ["p", "q"], ["t"], "classification", classes, mean=np.array([1.0, 100.0]), scale=np.array([1.5, 0.005])
    )
    # centre the last Linear's outputs on these rows, so that every class comes up
    last = max(i for i, layer in enumerate(model.layers) if isinstance(layer, mlp.Linear))
    Z = model.backend.to_numpy(model.layer_outputs(model.backend.asarray(pre.transform(X, dtype)))[last])
    state = model.state_dict()
    k = len(model.linears) - 1
    model.load_state_dict({**state, f"b{k}": state[f"b{k}"] - np.median(Z, axis=0)})
    ckpt, data = tmp_path / "m.safetensors", tmp_path / "rows.csv"
    mlp.save(model, ckpt, preprocessor=pre, **({"loss": loss} if loss else {}))
    write_csv(data, ["p", "q"], X.T)
    header, rows = predict_cli(ckpt, data, tmp_path / "p.csv", "numpy")
    m = export.to_onnx(mlp.load_checkpoint(ckpt, backend="numpy"))
    label, P = assert_same_as_predict(session(m), column_feeds(data, ["p", "q"]), header, rows, dtype)
    assert P.shape == (64, len(classes))
    assert len({label_text(v) for v in label}) > 1, "a test that sees one class tests little"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_layer_matches_the_model(dtype):
    model = mlp.Sequential(
        [mlp.Embedding(4, [1, 3], [5, 3], 2), mlp.Linear(6, 5, init="normal"), mlp.ReLU(), mlp.Linear(5, 3)],
        backend="numpy",
        dtype=dtype,
        seed=8,
    )
    rng = np.random.default_rng(1)
    X = np.stack(
        [rng.normal(size=40), rng.integers(-2, 8, 40), rng.normal(size=40), rng.integers(0, 4, 40)], axis=1
    ).astype(dtype)  # codes out of range too: the layer clips them
    label, P = session(export.to_onnx(model, loss="cross_entropy")).run(None, {"input": X})
    np.testing.assert_allclose(
        P, model.predict_proba(X, loss=mlp.CrossEntropy()), rtol=RTOL[dtype], atol=ULP1 if dtype == "float32" else 0
    )
    assert (label == model.predict(X, loss=mlp.CrossEntropy())).all()
    assert len(set(label.tolist())) > 1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_periodic_embedding_matches_the_model(dtype):
    """The numeric embedding before a table's OneHot and Embedding, as Preprocessor.input_layers puts them."""
    periodic = mlp.PeriodicEmbedding(4, [0, 2], n_frequencies=6, dim=3, sigma=0.7)
    model = mlp.Sequential(
        [
            periodic,
            mlp.Embedding(10, [1, 3], [5, 3], 2),
            mlp.Linear(12, 5, init="normal"),
            mlp.ReLU(),
            mlp.Linear(5, 3),
        ],
        backend="numpy",
        dtype=dtype,
        seed=8,
    )
    rng = np.random.default_rng(2)
    X = np.stack(
        [rng.normal(size=40) * 3, rng.integers(0, 5, 40), rng.normal(size=40), rng.integers(0, 3, 40)], axis=1
    ).astype(dtype)
    label, P = session(export.to_onnx(model, loss="cross_entropy")).run(None, {"input": X})
    np.testing.assert_allclose(
        P,
        model.predict_proba(X, loss=mlp.CrossEntropy()),
        rtol=RTOL[dtype] * 10,
        atol=ULP1 if dtype == "float32" else 1e-15,
    )
    assert (label == model.predict(X, loss=mlp.CrossEntropy())).all()
    assert len(set(label.tolist())) > 1


def test_float32_inputs_round_then_match(tmp_path):
    data = tmp_path / "kinds.csv"
    features = classification_table(data)
    ckpt = tmp_path / "m.safetensors"
    train_cli(data, ckpt, "numpy")
    m = export.to_onnx(mlp.load_checkpoint(ckpt), input_dtype="float32")
    assert {i.type.tensor_type.elem_type for i in m.graph.input} == {onnx.TensorProto.FLOAT}
    header, rows = predict_cli(ckpt, data, tmp_path / "p.csv", "numpy")
    assert_same_as_predict(session(m), column_feeds(data, features, np.float32), header, rows)


def test_sequential_without_preprocessing_exports_its_task(tmp_path):
    model = mlp.build_mlp([3, 5, 2], "tanh", "mse", output="identity", backend="numpy", dtype="float64", seed=2)
    X = np.random.default_rng(0).normal(size=(10, 3))
    path = mlp.io.onnx.export_onnx(model, tmp_path / "deep" / "r.onnx", task="regression")
    (values,) = session(path).run(None, {"input": X})
    np.testing.assert_allclose(values, model.predict_values(X), rtol=1e-12)
    # without a task (or preprocessing) the outputs are class probabilities, as `mlp predict` reads them
    label, P = session(export.to_onnx(model, loss="cross_entropy")).run(None, {"input": X})
    np.testing.assert_allclose(P, model.predict_proba(X, loss=mlp.CrossEntropy()), rtol=1e-12)
    assert (label == model.predict(X, loss=mlp.CrossEntropy())).all()


# -- refusals and errors ----------------------------------------------------------------------------
class Swish(mlp.ReLU):
    """A layer of the user's own: a subclass computes something else, so it must not pass for a ReLU."""


def test_a_layer_without_onnx_form_is_refused_with_its_name(tmp_path):
    model = mlp.Sequential([mlp.Linear(2, 3), Swish(), mlp.Linear(3, 2)])
    with pytest.raises(export.ExportError, match=r"layer 1 \(Swish\) cannot be exported to ONNX.*Linear"):
        export.export_onnx(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_every_registered_layer_exports_or_is_refused_by_name():
    from mlp.core.registry import LAYERS

    exportable = set(export.exportable_layers())
    assert exportable <= set(LAYERS.names())
    for name in LAYERS.names():
        if name in exportable:
            continue
        try:
            layer = LAYERS.get(name)()
        except TypeError:
            continue  # needs arguments: covered by its own export test when it gains one
        with pytest.raises(export.ExportError, match=rf"\({name}\)"):
            onnx_graph.check_layers([layer])


def test_a_feature_named_like_an_output_is_refused():
    model = mlp.build_mlp([2, 2], seed=0)
    pre = Preprocessor(["label", "x"], ["t"], "classification", ["a", "b"])
    with pytest.raises(export.ExportError, match="'label' has the name of an output"):
        export.to_onnx(model, pre)


def test_a_preprocessor_that_does_not_fit_the_model_is_refused():
    model = mlp.build_mlp([3, 2], seed=0)
    with pytest.raises(ValueError, match="3 inputs"):
        export.to_onnx(model, Preprocessor(["x", "y"], ["t"], "classification", ["a", "b"]))


def test_cli_errors_name_the_file(tmp_path):
    with pytest.raises(mlp.CheckpointNotFoundError, match="missing.safetensors"):
        export_cli(tmp_path / "missing.safetensors", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"\*\.onnx"):
        export_cli(tmp_path / "m.safetensors", tmp_path / "m.safetensors")


def test_mlp_export_is_a_command(tmp_path, capsys):
    if "export" not in getattr(mlp.cli, "COMMANDS", ()):
        pytest.skip("`mlp export` is not wired into mlp.cli.main yet (mlp/cli/__init__.py COMMANDS)")
    ckpt = tmp_path / "m.safetensors"
    mlp.save(mlp.build_mlp([2, 3, 2], backend="numpy"), ckpt, loss="cross_entropy")
    assert mlp.cli.main(["export", str(ckpt), str(tmp_path / "m.onnx")]) == 0
    assert "outputs label, probabilities" in capsys.readouterr().out
    assert mlp.cli.main(["export", str(tmp_path / "none.safetensors"), str(tmp_path / "n.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlp: error:") and "none.safetensors" in err and len(err.strip().splitlines()) == 1


def test_without_onnx_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "mlp-arrayapi\[onnx\]"'):
        export.export_onnx(mlp.build_mlp([2, 2]), tmp_path / "m.onnx")
    from importlib import metadata

    def version(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", version)
    assert export.info_line().startswith("onnx export: unavailable") and "mlp-arrayapi[onnx]" in export.info_line()


def test_info_line_names_the_versions():
    line = export.info_line()
    assert line.startswith("onnx export: available") and f"onnx {onnx.__version__}" in line
    assert f"onnxruntime {ort.__version__}" in line and f"opset {export.OPSET}" in line


def test_import_mlp_never_imports_onnx():
    code = (
        "import sys, mlp, mlp.io.onnx, mlp.cli.export, mlp.sklearn_onnx; "
        "getattr(mlp, 'export_onnx', None); "
        "bad = [m for m in ('onnx', 'onnxruntime', 'skl2onnx') if m in sys.modules]; "
        "assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr


# -- the step builders, on hand-built graphs against NumPy ---------------------------------------
def run_graph(build, inputs):
    """Build a graph from ``inputs`` ({name: array}) with ``build(g, *names) -> output name``; run it."""
    g = export.Graph(taken=list(inputs))
    names = []
    for name, a in inputs.items():
        elem = onnx.TensorProto.STRING if a.dtype == object else export.elem_type(a.dtype)
        names.append(g.input(name, elem, ["N", *a.shape[1:]]))
    out = build(g, *names)
    m = g.model("test", {})
    # the output's type as ONNX's own shape inference finds it, which full checking then holds to
    typed = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
    if out not in typed:  # ai.onnx.ml's Imputer has no type inference: its output is its input's type and shape
        typed[out] = onnx.helper.make_tensor_value_info(
            out, m.graph.input[0].type.tensor_type.elem_type, ["N", *next(iter(inputs.values())).shape[1:]]
        )
    m.graph.output.append(typed[out])
    onnx.checker.check_model(m, full_check=True)
    return session(m).run(None, inputs)[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_impute_fills_each_column_and_the_indicator_marks_gaps(dtype):
    X = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, -1.0], [4.0, 5.0, np.nan]], dtype=dtype)
    fill = [0.25, -7.5, 1e-3]
    out = run_graph(lambda g, x: export.impute(g, x, fill, dtype), {"x": X})
    expected = np.where(np.isnan(X), np.asarray(fill, dtype=dtype), X)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, expected)
    flags = run_graph(lambda g, x: export.missing_indicator(g, x, dtype), {"x": X})
    np.testing.assert_array_equal(flags, np.isnan(X).astype(dtype))


def test_missing_indicator_of_text_marks_empty_strings():
    X = np.array([["red"], [""], ["blue"]], dtype=object)
    flags = run_graph(lambda g, x: export.missing_indicator(g, x, "float32", text=True), {"x": X})
    np.testing.assert_array_equal(flags, [[0.0], [1.0], [0.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_standardize_is_numpys_to_the_last_bit(dtype):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(50, 3)) * [1, 100, 1e4]).astype(dtype)
    mean, scale = np.array([0.1, -3.3, 2e3]), np.array([0.7, 99.0, 1.1e4])
    out = run_graph(lambda g, x: export.standardize(g, x, mean, scale, dtype), {"x": X})
    np.testing.assert_array_equal(out, (X - mean.astype(dtype)) / scale.astype(dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_smooth_clip_is_numpys_to_the_last_bit(dtype):
    """The robust scaling's clip, huge values included (held within BOUND first: 1e30 arrives at 3, not 0)."""
    from mlp.io.tables.batches import BOUND, smooth_clip

    rng = np.random.default_rng(1)
    X = (rng.standard_cauchy(size=(60, 3)) * [1, 10, 1]).astype(dtype)
    X[:3, 0] = [1e30, -1e30, 0.0]
    inverse = np.array([1 / 3, 1 / 3, 0.0])
    out = run_graph(lambda g, x: export.smooth_clip(g, x, inverse, dtype, BOUND), {"x": X})
    want = smooth_clip(X.T.copy(), inverse.astype(dtype)[:, None]).T
    np.testing.assert_array_equal(out, want)
    assert want[0, 0] == pytest.approx(3.0) and want[1, 0] == pytest.approx(-3.0)
    np.testing.assert_array_equal(out[:, 2], X[:, 2])  # inverse 0: a column left as it is
    assert np.abs(out[:, :2]).max() <= 3.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clamp_is_numpys(dtype):
    Y = np.array([[-5.0, 2.0], [0.5, 30.0], [9.0, -1.0]], dtype=dtype)
    out = run_graph(lambda g, y: export.clamp(g, y, [0.0, -1.0], [1.0, 3.0], dtype), {"y": Y})
    np.testing.assert_array_equal(out, [[0.0, 2.0], [0.5, 3.0], [1.0, -1.0]])


def test_heavy_tails_and_far_inputs_match_predict(tmp_path):
    """Robust scaling, the smooth clip and the regression clamp, in the graph as in ``mlp predict``: inputs
    far outside the training rows (a thousand times the largest) give predictions within the training targets."""
    data, far = tmp_path / "tails.csv", tmp_path / "far.csv"
    rng = np.random.default_rng(3)
    n = 300
    lot = rng.lognormal(9, 1, n)  # heavy-tailed, as lot sizes are
    rooms = rng.integers(1, 8, n).astype(float)
    price = 50 * np.sqrt(lot) + 9000 * rooms + rng.normal(0, 500, n)
    write_csv(data, ["lot", "rooms", "price"], [lot, rooms, price])
    write_csv(far, ["lot", "rooms", "price"], [lot[:20] * np.geomspace(1, 1000, 20), rooms[:20] * 50, price[:20]])
    ckpt, out = tmp_path / "t.safetensors", tmp_path / "t.onnx"
    assert (
        mlp.cli.main(["train", "--data", str(data), "--hidden", "16", "--epochs", "20", "--quiet", "--save", str(ckpt)])
        == 0
    )
    pre = mlp.load_checkpoint(ckpt).preprocessor
    assert pre.scaling == "robust" and pre.clip == 3.0 and pre.target_high[0] == price.max()
    assert export_cli(ckpt, out) == 0
    header, rows = predict_cli(ckpt, far, tmp_path / "p.csv", "numpy", proba=False)
    expected = np.array(rows, dtype=np.float64)
    (values,) = session(out).run(["values"], column_feeds(far, ["lot", "rooms"]))
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    assert expected.max() == price.max()  # the farthest rows are held at the largest training price
    assert expected.min() >= price.min()


def test_one_hot_of_strings_gives_zeros_for_unseen_and_missing():
    cats = ["blue", "green", "red"]
    X = np.array([["red"], ["blue"], ["purple"], [""], ["green"]], dtype=object)
    out = run_graph(lambda g, x: export.one_hot(g, x, cats, "float64"), {"x": X})
    expected = np.array([[float(v == c) for c in cats] for v in X[:, 0]])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)
    assert out[2].sum() == 0 and out[3].sum() == 0


def test_one_hot_of_integers():
    X = np.array([[3], [10], [4], [3]], dtype=np.int64)
    out = run_graph(lambda g, x: export.one_hot(g, x, [3, 10], "float32"), {"x": X})
    np.testing.assert_array_equal(out, [[1, 0], [0, 1], [0, 0], [1, 0]])


COLUMNS = {
    "text with gaps": (
        Column("city", "categorical", categories=["Paris", "lima", "oslo", "rome"], missing=True),
        ["rome", "ROME", "paris", "Paris", "", "berlin", "Lima", "oslo", "lima "],
    ),
    "text, case twins": (Column("c", "categorical", categories=["A", "a", "b"]), ["A", "a", "B", "b", "", "c"]),
    "booleans": (Column("m", "categorical", categories=[False, True]), ["True", "false", "TRUE", "", "yes"]),
    "mixed": (Column("k", "categorical", categories=[1, 2.5, "x"], missing=True), ["1", "2.5", "X", "", "3"]),
    "numbers": (Column("z", "categorical", categories=[1, 2, 5.5], missing=True), [1.0, 5.5, 3.0, np.nan, 2.0]),
    "numbers, no gap slot": (Column("z", "categorical", categories=[1, 2]), [2.0, np.nan, 7.0]),
    "no category": (Column("e", "categorical", categories=[]), ["a", ""]),
    "codes": (Column("s", "categorical", categories=["a", "b", "c"], missing=True, codes=True), ["c", "", "B", "q"]),
    "codes of numbers": (Column("s", "categorical", categories=[3, 4], codes=True), [4.0, np.nan, 3.0, 9.0]),
    "no category, text": (Column("e", "categorical", categories=[], missing=True), ["a", ""]),
}


@pytest.mark.parametrize("case", sorted(COLUMNS))
def test_category_slots_are_the_columns_own_encoding(case):
    from mlp.io.onnx import _reads_text

    column, values = COLUMNS[case]
    text = _reads_text(column)
    x = np.array(values, dtype=object if text else np.float64).reshape(-1, 1)
    out = run_graph(
        lambda g, v: export.category_slots(
            g, v, column.categories, column.missing, text, "float64", codes=column.codes
        ),
        {"x": x},
    )
    raw = [None if (v == "" if text else np.isnan(v)) else v for v in values]
    table = Table("x", [column.name], [column_of(raw)])
    np.testing.assert_array_equal(out, column.encode(column.parse(table), slice(None)))
    assert out.shape == (len(values), column.width)


def test_label_encode_then_embedding_lookup_with_a_row_for_unseen():
    cats = ["paris", "rome", "oslo"]
    table = np.arange(12, dtype=np.float32).reshape(4, 3) / 7  # row 3: unseen categories
    X = np.array([["rome"], ["oslo"], ["lima"], ["paris"]], dtype=object)

    def build(g, x):
        return export.embedding_lookup(g, export.label_encode(g, x, cats, [0, 1, 2], 3), table, "float32")

    out = run_graph(build, {"x": X})
    index = [cats.index(v) if v in cats else 3 for v in X[:, 0]]
    np.testing.assert_array_equal(out, table[index])


def test_label_encode_maps_between_strings_integers_and_floats():
    ints = np.array([[7], [9], [8]], dtype=np.int64)
    out = run_graph(lambda g, x: export.label_encode(g, x, [7, 8], ["seven", "eight"], "?"), {"x": ints})
    assert out.ravel().tolist() == ["seven", "?", "eight"]
    out = run_graph(
        lambda g, x: export.label_encode(g, x, ["a", "b"], [0.5, 2.0], -1.0),
        {"x": np.array([["b"], ["z"]], dtype=object)},
    )
    np.testing.assert_array_equal(out.ravel(), np.array([2.0, -1.0], dtype=np.float32))
    with pytest.raises(export.ExportError, match="all strings or all integers"):
        run_graph(lambda g, x: export.label_encode(g, x, [1.5, 2.5], [0, 1], -1), {"x": ints})


@pytest.mark.parametrize("classes", [["n", "y"], [4, -2, 2**40], [False, True], [0.1, 2.0, 1e300], [1, 2.5, "x"]])
def test_decode_labels_gives_the_original_labels(classes):
    index = np.array([1, 0, len(classes) - 1, 1], dtype=np.int64)
    out = run_graph(lambda g, i: export.decode_labels(g, i, classes)[0], {"i": index})
    want = [classes[k] for k in index]
    if any(isinstance(c, str) for c in classes):
        want = [repr(c) if isinstance(c, float) else str(c) for c in want]
    assert out.tolist() == want and [type(v) for v in out.tolist()] == [type(v) for v in want]


def test_a_categorical_table_graph_end_to_end():
    """How the categorical and missing-value steps compose: hand-wired, against the same sums in NumPy."""
    age = np.array([[31.0], [np.nan], [58.0], [40.0]])
    city = np.array([["rome"], ["oslo"], ["lima"], [""]], dtype=object)
    cats, median, mean, scale = ["oslo", "rome"], 40.0, 42.0, 12.0
    model = mlp.Sequential([mlp.Linear(4, 3, init="normal"), mlp.Tanh(), mlp.Linear(3, 2)], backend="numpy", seed=4)

    def build(g, a, c):
        flag = export.missing_indicator(g, a, "float64")
        filled = export.standardize(g, export.impute(g, a, [median], "float64"), [mean], [scale], "float64")
        x = g.node("Concat", [filled, flag, export.one_hot(g, c, cats, "float64")], axis=1)
        x = g.node("Cast", [x], to=onnx.TensorProto.FLOAT)
        y = export.network(g, x, model.layers, onnx_graph.layer_params(model), np.float32)
        return export.classifier_head(g, y, 2, False, "logits", False, np.float32)[0]

    P = run_graph(build, {"a": age, "c": city})
    X = np.concatenate(
        [
            (np.where(np.isnan(age), median, age) - mean) / scale,
            np.isnan(age),
            [[float(v == k) for k in cats] for v in city[:, 0]],
        ],
        axis=1,
    ).astype(np.float32)
    np.testing.assert_allclose(P, model.predict_proba(X, loss=mlp.CrossEntropy()), rtol=1e-5, atol=ULP1)


# -- scikit-learn pipelines through skl2onnx --------------------------------------------------------
@pytest.fixture(scope="module")
def skl2onnx():
    pytest.importorskip("sklearn", minversion="1.6")
    skl2onnx = pytest.importorskip("skl2onnx", reason="converting mlp.sklearn pipelines needs skl2onnx")
    import mlp.sklearn_onnx
    from mlp.sklearn import MLPClassifier, MLPRegressor

    mlp.sklearn_onnx.register(MLPClassifier, MLPRegressor)
    return skl2onnx


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


@pytest.mark.parametrize("labels", ["ints", "strings", "binary", "multilabel"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sklearn_pipeline_converts_as_scikit_learns_own(skl2onnx, labels, dtype):
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier as SklearnMLP
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlp.sklearn import MLPClassifier

    X, y = load_iris(return_X_y=True)
    X = X.astype(dtype)
    y = {
        "ints": y,
        "strings": np.array(["setosa", "versicolor", "virginica"])[y],
        "binary": y == 2,
        "multilabel": np.stack([y == 0, y == 2, X[:, 0] > 5.8], axis=1).astype(int),
    }[labels]
    # backend numpy: what converts is the fitted weights, the same from every backend
    est = MLPClassifier((8,), max_iter=30, random_state=0, backend="numpy")
    ours = fit_quietly(make_pipeline(StandardScaler(), est), X, y)
    theirs = fit_quietly(make_pipeline(StandardScaler(), SklearnMLP((8,), max_iter=30, random_state=0)), X, y)
    # ZipMap (the default) takes float32 one-label outputs only, as for scikit-learn's MLPClassifier
    zipmap = dtype is np.float32 and labels != "multilabel"
    models = {}
    for name, pipe in (("ours", ours), ("theirs", theirs)):
        cls = type(pipe[-1])
        models[name] = skl2onnx.to_onnx(pipe, X[:1], options=None if zipmap else {cls: {"zipmap": False}})
    m = models["ours"]
    onnx.checker.check_model(m, full_check=True)
    assert [o.name for o in m.graph.output] == [o.name for o in models["theirs"].graph.output]
    assert [o.type.WhichOneof("value") for o in m.graph.output] == [
        o.type.WhichOneof("value") for o in models["theirs"].graph.output
    ]
    sess = session(m)
    label, P = sess.run(None, {sess.get_inputs()[0].name: X})
    if zipmap:
        P = np.array([[d[c] for c in ours.classes_] for d in P])
    want = ours.predict(X)
    assert label.shape == want.shape and (label == want.astype(label.dtype)).all()
    np.testing.assert_allclose(P, ours.predict_proba(X), rtol=RTOL[np.dtype(dtype).name], atol=ULP1)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_sklearn_regressor_pipeline_converts(skl2onnx, loss):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlp.sklearn import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3)).astype(np.float32)
    Y = np.stack([np.exp(X @ [0.5, -0.2, 0.1]), 1 + X[:, 0] ** 2], axis=1).astype(np.float32)
    est = MLPRegressor(loss=loss, hidden_layer_sizes=(10,), max_iter=20, random_state=0, backend="numpy")
    pipe = fit_quietly(make_pipeline(StandardScaler(), est), X, Y)
    sess = session(skl2onnx.to_onnx(pipe, X[:1]))
    (values,) = sess.run(None, {sess.get_inputs()[0].name: X})
    np.testing.assert_allclose(values, pipe.predict(X), rtol=1e-5, atol=1e-6)


def test_registration_waits_for_skl2onnx_to_be_imported():
    code = """
import sys, warnings
import numpy as np
import mlp.sklearn_onnx
from mlp.sklearn import MLPClassifier
mlp.sklearn_onnx.register_when_imported(MLPClassifier)
assert "skl2onnx" not in sys.modules
X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    est = MLPClassifier((4,), max_iter=5, random_state=0, backend="numpy").fit(X, X[:, 0] > 0)
import skl2onnx
print(skl2onnx.to_onnx(est, X[:1]).graph.output[0].name)
"""
    pytest.importorskip("sklearn", minversion="1.6")
    pytest.importorskip("skl2onnx", reason="converting mlp.sklearn pipelines needs skl2onnx")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "output_label"
