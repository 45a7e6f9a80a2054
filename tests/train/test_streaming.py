"""Tables streamed: two passes over the file, the model's inputs on disk, windows of chunks in a fixed order.

What is checked: the window order (every row once an epoch; the same global batches for 1, 2 and 4 processes);
the streamed preprocessing equals the table's in memory (same kinds, categories, fill values, statistics and
inputs, when every training row is in the keyed sample); CSV streams as Parquet does; a streamed fit stopped at
any step resumes exactly; memory stays under a cap smaller than the table (a subprocess under RLIMIT_AS).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import mlp
from mlp.core.errors import DataError
from mlp.io import tables
from mlp.train.windows import WindowPlan
from tests_helpers import interrupt_after

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ROOT = Path(__file__).resolve().parents[2]


def frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 5.0, 2.0]
    city = rng.choice(["oslo", "rome", "lima", "bern"], n)
    gappy = np.where(rng.random(n) < 0.15, np.nan, np.round(x[:, 1], 2))
    label = np.where(x[:, 0] + (city == "rome") > 0.3, "yes", "no")
    label = np.where(rng.random(n) < 0.02, None, label)  # rows without a target: left out
    return {"a": x[:, 0], "b": gappy, "c": x[:, 2], "city": city, "label": label}


def parquet(path, n=3000, seed=0, row_group_size=400):
    pq.write_table(pa.table(frame(n, seed)), path, row_group_size=row_group_size)
    return path


# -- the order -------------------------------------------------------------------------------------------------
def global_batches(plan, epoch, layout):
    """Each step's global rows ``(group, row in group)``, as the processes of ``plan`` see them."""
    out = []
    for window in plan.epoch(epoch):
        rows = [(g, a + i) for g, a, n in window.chunks for i in range(n)]
        for s in range(window.n_steps):
            mine = [rows[k] for k in window.order[window.bounds[s] : window.bounds[s + 1]]]
            out.append((window.first_step + s, mine, [int(p) for p in window.places[s]], int(window.sizes[s])))
    return out


@pytest.mark.backend_independent
@pytest.mark.parametrize("size", [2, 3, 4])
def test_every_row_once_an_epoch_and_the_same_batches_for_any_number_of_processes(size):
    layout = [517, 9, 1200, 0, 333, 70_000, 40, 3, 700]  # groups of every size, an empty one
    one = WindowPlan(layout, 64, seed=3, chunk_rows=256)
    for epoch in (0, 1):
        single = global_batches(one, epoch, layout)
        assert len(single) == one.n_steps(epoch)
        seen = [r for _, rows, _, _ in single for r in rows]
        assert len(seen) == sum(layout) == len(set(seen))  # every row exactly once
        parts = [
            global_batches(WindowPlan(layout, 64, seed=3, rank=r, size=size, chunk_rows=256), epoch, layout)
            for r in range(size)
        ]
        for step, (s, rows, places, total) in enumerate(single):
            union = {}
            for part in parts:
                s2, rows2, places2, total2 = part[step]
                assert (s2, total2) == (s, total) and len(rows2) == len(places2)
                union.update(zip(places2, rows2, strict=True))
            assert [union[k] for k in range(total)] == rows  # this step's global batch, row for row
    assert global_batches(one, 0, layout) != global_batches(one, 1, layout)  # another order each epoch


def test_a_table_of_one_group_is_still_mixed_across_it():
    """The chunks of one large row group go to every shard: a window mixes chunks from all over the table."""
    plan = WindowPlan([100_000], 50, seed=0, chunk_rows=1000)
    first = next(plan.epoch(0))
    starts = sorted(a for _, a, _ in first.chunks)
    assert len(starts) == 16 and starts[-1] - starts[0] > 50_000
    batch = first.order[first.bounds[0] : first.bounds[1]]  # positions in the window data of the first batch
    assert len({int(k) // 1000 for k in batch}) > 10  # its rows come from many chunks


def test_a_process_whose_rows_of_a_window_are_used_up_still_steps_on_one_row_weighted_zero():
    """The window's last batches may hold none of a process's rows: it steps on one of its rows with weight 0
    (never an empty batch, whose mean loss is NaN)."""
    from types import SimpleNamespace

    from mlp.train.streaming import WindowSlicer

    found = 0
    for rank in range(4):
        plan = WindowPlan([96] * 7, 8, seed=1, rank=rank, size=4, chunk_rows=16)
        for window in plan.epoch(0):
            hook = SimpleNamespace(weight=None)
            slicer = WindowSlicer(hook, 0, False)
            slicer.set_window(window)
            n = max(1, len(window.order))
            X, T = np.arange(n * 2.0).reshape(n, 2), np.zeros((n, 1))
            for k in range(window.n_steps):
                Xs, Ts, ctx = slicer(X, T, 0, window.first_step + k)
                taken = int(window.bounds[k + 1] - window.bounds[k])
                assert len(Xs) == max(taken, 1) and hook.weight == taken / window.sizes[k]
                found += taken == 0 and window.bounds[k] == len(window.order) > 0
    assert found  # the case arose: a step after this process's last row of its window


def test_a_later_window_starts_where_asked():
    plan = WindowPlan([5000] * 9, 100, seed=1, chunk_rows=1000)
    windows = list(plan.epoch(2))
    later = list(plan.epoch(2, first_step=windows[1].first_step + 3))
    assert [w.first_step for w in later] == [w.first_step for w in windows[1:]]


# -- the preprocessing --------------------------------------------------------------------------------------------
def test_streamed_preprocessing_equals_the_table_in_memory(tmp_path):
    path = parquet(tmp_path / "t.parquet")
    streamed = tables.stream_table(path, target="label", val_split=0)
    ds = tables.load_table(path, target="label")
    assert {n: k.kind for n, k in streamed.kinds.items()} == {n: k.kind for n, k in ds.kinds.items()}
    assert streamed.classes == ds.classes and streamed.left_out == len(ds.left_out)
    pre, ref = streamed.preprocessor(), ds.preprocessor()
    assert [c.to_dict() for c in pre.columns] == [c.to_dict() for c in ref.columns]  # every row in the sample
    np.testing.assert_allclose(pre.mean, ref.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pre.scale, ref.scale, rtol=1e-12)
    read = streamed.source.bytes_read
    streamed.encode(pre, "float64")
    assert streamed.source.bytes_read == read > 0  # the second pass encodes the first's copy: the file is read once
    X = np.concatenate([X for X, _ in streamed.rows().blocks()])
    np.testing.assert_allclose(X, ds.inputs(ref, "float64"), rtol=1e-12, atol=1e-12)
    streamed.close()


def test_without_room_for_the_first_pass_s_copy_the_second_reads_the_file_again(tmp_path, monkeypatch):
    import errno

    from mlp.io.tables import stream

    def full(self, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    path = parquet(tmp_path / "t.parquet")
    with tables.stream_table(path, target="label", val_split=0) as ref:
        ref.encode(ref.preprocessor(), "float64")
        expected = np.concatenate([X for X, _ in ref.rows().blocks()])
    monkeypatch.setattr(stream.Spill, "_write", full)
    with tables.stream_table(path, target="label", val_split=0) as streamed:
        read = streamed.source.bytes_read
        streamed.encode(streamed.preprocessor(), "float64")
        assert streamed.source.bytes_read == 2 * read
        np.testing.assert_array_equal(np.concatenate([X for X, _ in streamed.rows().blocks()]), expected)


def test_csv_streams_as_parquet_does(tmp_path):
    import pandas as pd

    path = parquet(tmp_path / "t.parquet")
    csv = tmp_path / "t.csv"
    pd.DataFrame(frame()).to_csv(csv, index=False)
    a = tables.stream_table(path, target="label", val_split=0.25, seed=5)
    b = tables.stream_table(csv, target="label", val_split=0.25, seed=5)
    assert a.kinds == b.kinds and a.classes == b.classes and (a.train_rows, a.val_rows) == (b.train_rows, b.val_rows)
    pa_, pb = a.preprocessor(), b.preprocessor()
    assert [c.to_dict() for c in pa_.columns] == [c.to_dict() for c in pb.columns]
    np.testing.assert_allclose(pa_.mean, pb.mean, rtol=1e-9)


def test_a_text_column_of_many_values_is_counted_up_to_the_cap(tmp_path, monkeypatch):
    from mlp.io.tables import summary

    monkeypatch.setattr(summary, "CAP", 50)
    n = 400
    pq.write_table(
        pa.table({"id": [f"u{i}" for i in range(n)], "x": np.arange(n) * 1.0, "y": ["a", "b"] * (n // 2)}),
        tmp_path / "ids.parquet",
        row_group_size=64,
    )
    streamed = tables.stream_table(tmp_path / "ids.parquet", target="y")
    assert streamed.kinds["id"].kind == "dropped" and streamed.kinds["id"].reason.startswith("identifier-like")


def test_past_the_cap_the_labels_kept_and_their_counts_do_not_depend_on_the_order_or_the_split(monkeypatch):
    from mlp.io.tables import summary
    from mlp.io.tables.typed import Coded

    monkeypatch.setattr(summary, "CAP", 50)
    rng = np.random.default_rng(0)
    labels = [f"v{k}" for k in range(400)]
    codes = rng.integers(0, 400, 5000).astype(np.int32)
    truth = np.bincount(codes, minlength=400)

    def summarised(order, parts):
        pieces = [summary.ColumnSummary() for _ in range(parts)]
        for k, block in enumerate(np.array_split(order, 20)):
            pieces[k % parts].add(Coded(codes[block], labels), int(block[0]))
        whole = pieces[0].finish()
        for p in pieces[1:]:
            whole.merge(p.finish())
        return {e[0]: e[1] for e in whole.levels.values()}, whole.capped

    one, capped = summarised(np.arange(5000), 1)
    assert capped and len(one) == 50
    assert all(count == truth[int(label[1:])] for label, count in one.items())  # exactly counted
    for parts in (2, 3):
        assert summarised(rng.permutation(5000), parts) == (one, True)


def test_text_numbers_and_dates_of_more_values_than_the_cap_are_fitted_row_by_row(tmp_path, monkeypatch):
    from mlp.io.tables import summary

    monkeypatch.setattr(summary, "CAP", 50)
    n, rng = 3000, np.random.default_rng(1)
    size = rng.normal(size=n) * 4 + 10
    start = np.datetime64("2020-01-01T00:00") + rng.integers(0, 10**6, n).astype("timedelta64[m]")
    data = {
        "size": [f"{v:.3f}" if rng.random() > 0.1 else None for v in size],  # numbers written as text, gaps
        "when": [str(t) for t in start],
        "label": np.where(size > 10, "big", "small"),
    }
    pq.write_table(pa.table(data), tmp_path / "t.parquet", row_group_size=300)
    streamed = tables.stream_table(tmp_path / "t.parquet", target="label", val_split=0)
    ds = tables.load_table(tmp_path / "t.parquet", target="label")
    assert streamed._fits["size"].capped and streamed.kinds["size"].kind == ds.kinds["size"].kind == "numeric"
    assert streamed.kinds["when"].kind == "datetime"
    pre, ref = streamed.preprocessor(), ds.preprocessor()
    assert [c.to_dict() for c in pre.columns] == [c.to_dict() for c in ref.columns]  # fills: medians, exact here
    np.testing.assert_allclose(pre.mean, ref.mean, rtol=1e-9)
    np.testing.assert_allclose(pre.scale, ref.scale, rtol=1e-9)


@pytest.mark.backend_independent
@pytest.mark.parametrize("scaling", ["robust", "standard"])
def test_streamed_robust_scaling_and_target_range_equal_the_table_in_memory(tmp_path, scaling):
    """Numbers written as text of few values (counted: the quantiles of the counts), numbers with gaps and a heavy
    tail (the keyed sample, which holds every row here), and a regression target's range."""
    n, rng = 2000, np.random.default_rng(4)
    rooms = [str(int(v)) if rng.random() > 0.05 else None for v in rng.integers(1, 9, n)]
    lot = rng.lognormal(8, 1.2, n)
    lot[rng.random(n) < 0.1] = np.nan
    price = rng.lognormal(12, 0.5, n)
    pq.write_table(pa.table({"rooms": rooms, "lot": lot, "price": price}), tmp_path / "t.parquet", row_group_size=250)
    streamed = tables.stream_table(
        tmp_path / "t.parquet", target="price", task="regression", val_split=0, numeric=["rooms"]
    )
    ds = tables.load_table(tmp_path / "t.parquet", target="price", task="regression", numeric=["rooms"])
    pre, ref = streamed.preprocessor(scaling=scaling), ds.preprocessor(scaling=scaling)
    assert pre.scaling == ref.scaling == scaling and pre.clip == ref.clip
    np.testing.assert_allclose(pre.mean, ref.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(pre.scale, ref.scale, rtol=1e-12)
    assert pre.target_low.tolist() == ref.target_low.tolist() == [price.min()]
    assert pre.target_high.tolist() == ref.target_high.tolist() == [price.max()]


def test_a_class_target_of_more_labels_than_the_cap_is_refused(tmp_path, monkeypatch):
    from mlp.io.tables import summary

    monkeypatch.setattr(summary, "CAP", 50)
    pq.write_table(
        pa.table({"x": np.arange(400.0), "y": [f"c{k % 200}" for k in range(400)]}),
        tmp_path / "t.parquet",
        row_group_size=64,
    )
    with pytest.raises(DataError, match="column 'y': more than 50 distinct labels, too many for the classes"):
        tables.stream_table(tmp_path / "t.parquet", target="y")


# -- training ---------------------------------------------------------------------------------------------------
def streamed_fit(path, epochs, **kw):
    streamed = tables.stream_table(path, target="label", seed=2)
    pre = streamed.preprocessor()
    streamed.encode(pre, "float64")
    model = mlp.build_mlp(
        [pre.n_inputs(), 8, 2],
        loss="cross_entropy",
        input_layers=pre.input_layers(),
        dtype="float64",
        seed=0,
        backend="numpy",
    )
    return streamed, model


def test_a_streamed_fit_stopped_at_any_step_resumes_exactly(tmp_path, monkeypatch):
    from mlp.train import windows

    monkeypatch.setattr(windows, "CHUNK_ROWS", 100)  # windows of 800 rows: steps are checked between windows
    path = parquet(tmp_path / "t.parquet")
    streamed, ref = streamed_fit(path, 2)
    kw = dict(
        loss="cross_entropy", epochs=2, batch_size=16, progress=False, seed=2, validation_data=streamed.rows("val")
    )
    h = mlp.fit(ref, streamed.rows(), None, optimizer=mlp.Adam(0.01), **kw)
    assert h.epoch == [0, 1] and h.history["val_accuracy"][-1] > 0.8
    model, opt = streamed_fit(path, 2)[1], mlp.Adam(0.01)
    interrupt_after(monkeypatch, 170)  # past the first epoch's 150 steps or so, inside the second
    with pytest.raises(mlp.TrainingInterrupted) as stop:
        mlp.fit(model, streamed.rows(), None, optimizer=opt, **kw)
    monkeypatch.undo()
    monkeypatch.setattr(windows, "CHUNK_ROWS", 100)
    assert stop.value.epoch == 1 and stop.value.step > 0
    mlp.fit(
        model,
        streamed.rows(),
        None,
        optimizer=opt,
        initial_epoch=stop.value.epoch,
        initial_step=stop.value.step,
        history=stop.value.history,
        **kw,
    )
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k], v, rtol=1e-12, atol=1e-14)
    streamed.close()


def test_a_full_disk_is_named_with_what_the_rows_need_and_leaves_no_cache(tmp_path, monkeypatch):
    import errno

    from mlp.io.tables import stream

    def full(self, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    table = tables.stream_table(parquet(tmp_path / "t.parquet"), target="label")
    monkeypatch.setattr(stream.Cache, "append", full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.raises(
        DataError,
        match=r"t.parquet: no space left on the disk of .* for the encoded rows \(about "
        r"0.0 GiB for this process\): set TMPDIR",
    ):
        table.encode(table.preprocessor())
    assert not list((tmp_path / "tmp").iterdir())


def test_the_cache_takes_no_room_after_its_process_and_spares_a_folder_it_was_given(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    table = tables.stream_table(parquet(tmp_path / "t.parquet"), target="label")
    table.encode(table.preprocessor())
    if os.name == "posix":  # the files are open and unlinked: nothing is left for a crash to leave behind
        assert not list((tmp_path / "tmp").iterdir())
    assert len(table.rows()) == table.train_rows and table.rows().read([(0, 0, 5)], np.arange(5))[0].shape[0] == 5
    table.close()
    assert not list((tmp_path / "tmp").iterdir())
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    table.encode(table.preprocessor(), folder=str(mine))
    table.close()
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]


def test_fit_takes_the_streamed_table_itself(tmp_path):
    path = parquet(tmp_path / "t.parquet")
    table = tables.stream_table(path, target="label", seed=2)
    model = mlp.build_mlp(
        [table.preprocessor().n_inputs(), 8, 2], loss="cross_entropy", dtype="float64", seed=0, backend="numpy"
    )
    kw = dict(loss="cross_entropy", epochs=1, batch_size=16, progress=False, seed=2)
    with pytest.raises(ValueError, match="encode"):
        mlp.fit(model, table, None, optimizer=mlp.Adam(0.01), **kw)  # not encoded yet: said so
    table, ref = streamed_fit(path, 1)
    twin = mlp.build_mlp(
        [table.preprocessor().n_inputs(), 8, 2],
        loss="cross_entropy",
        input_layers=table.preprocessor().input_layers(),
        dtype="float64",
        seed=0,
        backend="numpy",
    )
    with table:
        a = mlp.fit(ref, table, None, optimizer=mlp.Adam(0.01), validation_data=table, **kw)
        b = mlp.fit(twin, table.rows(), None, optimizer=mlp.Adam(0.01), validation_data=table.rows("val"), **kw)
    with pytest.raises(ValueError, match="encode"):
        table.rows()  # closed: the cache went with the block
    assert a.history["val_loss"] == b.history["val_loss"]
    for k, v in ref.state_dict().items():
        np.testing.assert_array_equal(twin.state_dict()[k], v)


def test_the_command_line_streams_trains_predicts_and_resumes(tmp_path, capsys):
    from tests_helpers import run_cli

    path = parquet(tmp_path / "t.parquet", n=2000)
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(
        ["train", "--data", str(path), "--target", "label", "--stream", "--epochs", "2", "--quiet", "--save", save],
        capsys,
    )
    assert code == 0, err
    assert "validation accuracy" in out
    code, out, err = run_cli(["predict", save, str(path), "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 0 and len((tmp_path / "p.csv").read_text().splitlines()) == 2001, err
    code, out, err = run_cli(["train", "--resume", save, "--epochs", "1", "--quiet"], capsys)
    assert code == 0 and "after 3 epochs" in out, (out, err)
    folder = tmp_path / "parts"
    folder.mkdir()
    labelled = 0
    for k in range(3):  # a folder of Parquet files is one table
        parquet(folder / f"part{k}.parquet", n=500, seed=k)
        labelled += sum(v is not None for v in frame(500, k)["label"])
    code, out, err = run_cli(
        [
            "train",
            "--data",
            str(folder),
            "--target",
            "label",
            "--epochs",
            "1",
            "--save",
            str(tmp_path / "f.safetensors"),
        ],
        capsys,
    )
    assert code == 0 and f"{folder}: {labelled} rows" in out and "in 6 groups" in out, (out, err)


def test_a_csv_whose_column_turns_from_integers_to_decimals_resumes_predicts_and_evaluates(
    tmp_path, capsys, monkeypatch
):
    """pyarrow guesses a column's type from a CSV's first block; the first run reads it again as it learns more,
    and a resumed run, ``mlp predict`` and ``mlp evaluate`` read each column as the model did from the first block."""
    from mlp.io.tables import sources
    from tests_helpers import run_cli

    monkeypatch.setattr(sources, "CSV_BLOCK", 4096)  # blocks of about a hundred rows
    n = 2000
    rng = np.random.default_rng(0)
    count = rng.integers(0, 9, n).astype(float)
    count[1500:] += 0.5  # integers for 1,500 rows, then decimals
    rows = ["count,x,id,label"] + [
        f"{c:g},{x:.4f},r{i},{k}"
        for i, (c, x, k) in enumerate(zip(count, rng.normal(size=n), rng.integers(0, 3, n), strict=True))
    ]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(rows) + "\n")
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(
        [
            "train",
            "--data",
            str(path),
            "--target",
            "label",
            "--stream",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            save,
            "--drop",
            "id",
        ],
        capsys,
    )
    assert code == 0, err
    assert mlp.load_checkpoint(save).preprocessor.classes == [0, 1, 2]  # numbers, as the file has them
    code, out, err = run_cli(["train", "--resume", save, "--epochs", "1", "--quiet"], capsys)
    assert code == 0 and "after 2 epochs" in out, (out, err)
    code, out, err = run_cli(["predict", save, str(path), "--keep", "id", "--out", str(tmp_path / "p.csv")], capsys)
    assert code == 0, err
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert len(lines) == n + 1 and lines[1].startswith("r0,") and lines[-1].startswith(f"r{n - 1},")
    code, out, err = run_cli(["evaluate", save, "--data", str(path)], capsys)
    assert code == 0 and "accuracy" in out, err


PEAK_CHILD = r"""
import json, sys
import mlp_entry
code = mlp_entry.main(sys.argv[1:])
peak = int([l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]) * 1024
print(json.dumps({"code": code, "peak": peak}))
"""


@pytest.mark.slow
def test_a_streamed_table_is_never_held_whole(tmp_path):
    """256 MB of numbers (about 640 MB to train on in memory): streamed, the process's resident peak stays under
    the numbers alone (a window and a row group at a time; docs/tables.md has the same under a ulimit -v cap)."""
    n, k = 800_000, 40
    rng = np.random.default_rng(0)
    path = tmp_path / "big.parquet"
    writer = None
    for a in range(0, n, 100_000):
        x = rng.normal(size=(100_000, k))
        t = pa.table({**{f"x{j}": x[:, j] for j in range(k)}, "label": (x[:, 0] > 0).astype(np.int64)})
        writer = writer or pq.ParquetWriter(path, t.schema)
        writer.write_table(t, row_group_size=50_000)
    writer.close()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            PEAK_CHILD,
            "train",
            "--data",
            str(path),
            "--epochs",
            "1",
            "--stream",
            "--backend",
            "numpy",
            "--save",
            str(tmp_path / "m.safetensors"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["code"] == 0 and "validation accuracy" in r.stdout, r.stdout[-3000:]
    assert result["peak"] < n * k * 8, result  # less than the table's numbers alone


def test_a_table_that_would_not_fit_is_streamed_by_itself_and_said(tmp_path, capsys, monkeypatch):
    from mlp.io.tables import sources
    from tests_helpers import run_cli

    path = parquet(tmp_path / "t.parquet", n=1000)
    monkeypatch.setattr(sources, "available_memory", lambda: 100_000)
    code, out, err = run_cli(
        ["train", "--data", str(path), "--target", "label", "--epochs", "1", "--save", str(tmp_path / "m.safetensors")],
        capsys,
    )
    assert code == 0, err
    assert f"streaming {path}: held whole it would take about" in out and "training and" in out


# -- several processes ----------------------------------------------------------------------------------------
def _mpi(n=2):
    from test_distributed import _mpi_missing, _mpiexec, job_timeout

    missing = _mpi_missing()
    if missing:
        pytest.skip(missing)
    return _mpiexec(), job_timeout(n)


def _job(cmd, cwd, timeout):
    from test_distributed import run_command

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.CompletedProcess(cmd, *run_command(cmd, timeout, env=env, cwd=cwd))


TRAIN = [
    "-m",
    "mlp",
    "train",
    "--data",
    "t.parquet",
    "--target",
    "label",
    "--epochs",
    "2",
    "--dtype",
    "float64",
    "--no-early-stopping",
    "--quiet",
    "--save",
    "m.safetensors",
]


# 3: not a divisor of the 16 shards, a share that is the same on every backend (2 trains on the default backend)
@pytest.mark.parametrize("n", [2, pytest.param(3, marks=pytest.mark.backend_independent)])
def test_n_processes_each_reading_their_share_train_the_model_of_one(tmp_path, n):
    mpiexec, timeout = _mpi(n)
    parquet(tmp_path / "t.parquet", n=3000, row_group_size=250)
    one = _job([sys.executable, *TRAIN, "--stream"], tmp_path, timeout)
    assert one.returncode == 0, one.stderr
    (tmp_path / "m.safetensors").rename(tmp_path / "one.safetensors")
    two = _job([mpiexec, "-n", str(n), sys.executable, *TRAIN, "--distributed"], tmp_path, timeout)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("checkpoint saved to") == 1 and two.stdout.split("after")[0] == one.stdout.split("after")[0]
    a, b = mlp.load(tmp_path / "one.safetensors"), mlp.load(tmp_path / "m.safetensors")
    for k, v in a.state_dict().items():
        np.testing.assert_allclose(b.state_dict()[k], v, rtol=1e-10, atol=1e-12, err_msg=k)


def _two_hosts(tmp_path, same=True):
    """Two working folders, as two hosts: the table in both (the same, or another under the same name)."""
    a, b = tmp_path / "host0", tmp_path / "host1"
    a.mkdir()
    b.mkdir()
    parquet(a / "t.parquet", n=1200, row_group_size=200)
    parquet(b / "t.parquet", n=1200, row_group_size=200, seed=0 if same else 1)
    return a, b


def _mpmd(mpiexec, a, b, args, b_too=()):
    return [
        mpiexec,
        "-n",
        "1",
        "-wdir",
        str(a),
        sys.executable,
        *args,
        ":",
        "-n",
        "1",
        "-wdir",
        str(b),
        sys.executable,
        *args,
        *b_too,
    ]


# what this adds to test_distributed.py::test_resume_from_a_named_pipe_reads_it_once_on_rank_0 (a distributed resume on
# the default backend) is the same on every backend: each host's own folder, and rank 0 alone writing
@pytest.mark.backend_independent
def test_two_hosts_resume_from_the_checkpoint_rank_0_holds(tmp_path):
    mpiexec, timeout = _mpi()
    a, b = _two_hosts(tmp_path)
    # a host may give its own threads and device (and paths): not a difference that is refused
    first = _job(
        _mpmd(mpiexec, a, b, [*TRAIN, "--distributed"], ["--threads", "1", "--device", "cpu"]), tmp_path, timeout
    )
    assert first.returncode == 0, first.stderr
    assert (a / "m.safetensors").exists() and not (b / "m.safetensors").exists()  # rank 0 alone writes
    resume = ["-m", "mlp", "train", "--distributed", "--resume", "m.safetensors", "--epochs", "1", "--quiet"]
    again = _job(_mpmd(mpiexec, a, b, resume), tmp_path, timeout)
    assert again.returncode == 0, again.stderr
    assert "after 3 epochs" in again.stdout
    assert mlp.load_checkpoint(a / "m.safetensors").metadata["extra"]["epoch"] == 3


def test_the_fingerprint_tells_tables_of_the_same_values_in_another_order_apart(tmp_path):
    from mlp.io.tables.sources import open_source

    table = pa.table(frame(1200, 0))
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=200)
    swapped = pa.concat_tables([table.slice(g * 200, 200).take(np.r_[100:200, 0:100]) for g in range(6)])
    pq.write_table(swapped, tmp_path / "b.parquet", row_group_size=200)  # each group: its rows in another order
    a, b = open_source(tmp_path / "a.parquet").fingerprint(), open_source(tmp_path / "b.parquet").fingerprint()
    assert a["columns"] == b["columns"] and a["layout"] == b["layout"]  # same schema, same sizes, same min/max
    assert a["content"] != b["content"]
    assert open_source(tmp_path / "a.parquet").fingerprint() == a


def test_processes_reading_different_tables_under_one_name_refuse_to_start(tmp_path):
    mpiexec, timeout = _mpi()
    a, b = _two_hosts(tmp_path, same=False)
    r = _job(_mpmd(mpiexec, a, b, [*TRAIN, "--distributed"]), tmp_path, timeout)
    assert r.returncode != 0
    assert "t.parquet: the processes read different tables: the contents differ between rank 0 and rank 1" in r.stderr
    assert not (a / "m.safetensors").exists()


def test_processes_given_different_options_refuse_before_reading_naming_them(tmp_path):
    mpiexec, timeout = _mpi()
    a, b = _two_hosts(tmp_path)
    cmd = [
        mpiexec,
        "-n",
        "1",
        "-wdir",
        str(a),
        sys.executable,
        *TRAIN,
        "--distributed",
        "--lr",
        "0.01",
        ":",
        "-n",
        "1",
        "-wdir",
        str(b),
        sys.executable,
        *TRAIN,
        "--distributed",
        "--lr",
        "0.1",
    ]
    r = _job(cmd, tmp_path, timeout)
    assert r.returncode != 0
    assert "the 2 processes were given different settings: lr (rank 0: 0.01 / rank 1: 0.1)" in r.stderr
