"""The table recipe of `mlp train`: early stopping on by default with the best weights kept, --class-weight,
--schedule, and categorical columns of many levels as codes for an Embedding layer."""

import csv
import re

import numpy as np
import pytest

import mlp
from mlp.io.checkpoint import load_checkpoint
from tests_helpers import run_cli


def write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def noisy_table(path, n=240, seed=0, minority=0.5):
    """Two overlapping classes on three numbers: a network overfits it long before 300 epochs."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < minority).astype(int)
    X = rng.standard_normal((n, 3)) + 0.6 * y[:, None]
    return write(
        path, ["a", "b", "c", "label"], [[*map(float, x), ["no", "yes"][k]] for x, k in zip(X, y, strict=True)]
    )


def last_line(out):
    return out.strip().splitlines()[-1]


def test_early_stopping_is_on_for_tables_and_the_checkpoint_holds_the_best_epoch(tmp_path, capsys):
    train, val = noisy_table(tmp_path / "train.csv"), noisy_table(tmp_path / "val.csv", n=120, seed=1)
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(
        [
            "train",
            "--data",
            train,
            "--val-data",
            val,
            "--epochs",
            "300",
            "--hidden",
            "64",
            "--lr",
            "0.01",
            "--save",
            save,
            "--backend",
            "numpy",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    history = load_checkpoint(save, backend="numpy").metadata["extra"]["history"]
    val_loss = history["val_loss"]
    best = int(np.argmin(val_loss))
    # it stopped: fewer epochs than the budget, exactly the patience after the best one
    assert len(val_loss) < 300 and len(val_loss) == best + 1 + 20
    assert f"stopped early; weights of epoch {best + 1} kept" in last_line(out)
    # the plan saved for --resume ends at the stop
    assert load_checkpoint(save, backend="numpy").metadata["extra"]["cli"]["epochs"] == len(val_loss)
    # the file holds the best epoch's weights, not the last epoch's
    code, out, err = run_cli(["evaluate", save, "--data", val, "--backend", "numpy"], capsys)
    assert code == 0, err
    assert float(out.splitlines()[0].split("loss")[-1]) == pytest.approx(val_loss[best], rel=1e-4)
    assert min(val_loss) < val_loss[-1]


def test_the_budget_ending_first_still_keeps_the_best_weights(tmp_path, capsys):
    train, val = noisy_table(tmp_path / "train.csv"), noisy_table(tmp_path / "val.csv", n=120, seed=1)
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(
        [
            "train",
            "--data",
            train,
            "--val-data",
            val,
            "--epochs",
            "40",
            "--hidden",
            "64",
            "--lr",
            "0.01",
            "--patience",
            "100",
            "--save",
            save,
            "--backend",
            "numpy",
        ],
        capsys,
    )
    assert code == 0, err
    assert "early stopping: on the validation loss, patience 100 epochs" in out
    val_loss = load_checkpoint(save, backend="numpy").metadata["extra"]["history"]["val_loss"]
    assert len(val_loss) == 40 and "stopped early" not in last_line(out)
    best = int(np.argmin(val_loss))
    code, out, err = run_cli(["evaluate", save, "--data", val, "--backend", "numpy"], capsys)
    assert float(out.splitlines()[0].split("loss")[-1]) == pytest.approx(val_loss[best], rel=1e-4)


def test_no_early_stopping_trains_every_epoch_and_says_so(tmp_path, capsys):
    train = noisy_table(tmp_path / "train.csv")
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(
        ["train", "--data", train, "--epochs", "30", "--no-early-stopping", "--save", save, "--backend", "numpy"],
        capsys,
    )
    assert code == 0, err
    assert "early stopping: off (--no-early-stopping)" in out
    assert len(load_checkpoint(save, backend="numpy").metadata["extra"]["history"]["val_loss"]) == 30
    code, out, err = run_cli(
        ["train", "--data", train, "--epochs", "5", "--val-split", "0", "--save", save, "--backend", "numpy"], capsys
    )
    assert code == 0, err
    assert "early stopping: off (no validation data" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--patience", "5", "--no-early-stopping"], "not both"),
        (["--patience", "0"], "--patience must be a positive integer"),
        (["--class-weight", "balanced", "--target", "a"], "--class-weight balanced weighs classes"),
    ],
)
def test_bad_recipe_options_are_one_line_errors(tmp_path, capsys, argv, needle):
    train = noisy_table(tmp_path / "train.csv")
    code, out, err = run_cli(
        ["train", "--data", train, "--epochs", "1", "--save", str(tmp_path / "m.safetensors"), *argv], capsys
    )
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err


def test_table_options_are_refused_for_builtin_data(capsys):
    code, out, err = run_cli(["train", "--data", "xor", "--no-early-stopping"], capsys)
    assert code == 2 and "--no-early-stopping applies to a table of your own, not to --data xor" in err, err


def test_balanced_class_weight_predicts_the_rare_class_more_often(tmp_path, capsys):
    train = noisy_table(tmp_path / "train.csv", n=400, minority=0.12)
    test = noisy_table(tmp_path / "test.csv", n=400, seed=2, minority=0.12)
    counts = {}
    for weights in ([], ["--class-weight", "balanced"]):
        save = str(tmp_path / f"m{len(weights)}.safetensors")
        out_csv = str(tmp_path / f"p{len(weights)}.csv")
        code, out, err = run_cli(
            ["train", "--data", train, "--save", save, "--backend", "numpy", "--quiet", *weights], capsys
        )
        assert code == 0, err
        assert load_checkpoint(save, backend="numpy").metadata["extra"]["cli"]["class_weight"] == (
            "balanced" if weights else None
        )
        code, out, err = run_cli(["predict", save, test, "--out", out_csv], capsys)
        assert code == 0, err
        with open(out_csv) as f:
            counts[bool(weights)] = sum(row["label"] == "yes" for row in csv.DictReader(f))
    assert counts[True] > 2 * max(counts[False], 1), counts


def test_cosine_schedule_is_saved_with_the_optimizer(tmp_path, capsys):
    train = noisy_table(tmp_path / "train.csv")
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(
        [
            "train",
            "--data",
            train,
            "--epochs",
            "3",
            "--schedule",
            "cosine",
            "--save",
            save,
            "--backend",
            "numpy",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    ckpt = load_checkpoint(save, backend="numpy")
    schedule = ckpt.optimizer.schedule
    assert isinstance(schedule, mlp.Cosine) and schedule.total_steps == 3 * 6  # 192 training rows, batch 32


def shop_table(path, n, seed, levels=80, unseen=0):
    """The class is set by a shop of many levels (and a little by a number): one-hot of 50 levels cannot hold it."""
    rng = np.random.default_rng(seed)
    effect = np.random.default_rng(99).standard_normal(levels)
    shop = rng.integers(0, levels, n)
    x = rng.standard_normal(n)
    y = np.where(effect[shop] + 0.3 * x > 0, "yes", "no")
    names = [f"shop-{k}" for k in shop]
    for i in range(unseen):  # levels no training row has, and gaps
        names[i] = f"new-{i}" if i % 2 else ""
    return write(path, ["x", "shop", "label"], [[float(a), s, c] for a, s, c in zip(x, names, y, strict=True)])


def test_many_levels_become_codes_for_an_embedding_and_predict_reads_unseen_levels(tmp_path, capsys):
    train = shop_table(tmp_path / "train.csv", 1200, 0)
    test = shop_table(tmp_path / "test.csv", 300, 1, unseen=20)
    save, out_csv = str(tmp_path / "m.safetensors"), str(tmp_path / "p.csv")
    code, out, err = run_cli(["train", "--data", train, "--save", save, "--backend", "numpy"], capsys)
    assert code == 0, err
    assert "more than 50 levels in shop: one code input each" in out
    ckpt = load_checkpoint(save, backend="numpy")
    periodic, first = ckpt.model.layers[:2]  # the number's periodic features (the default), then the codes' vectors
    assert isinstance(periodic, mlp.PeriodicEmbedding) and periodic.columns == [0]
    assert isinstance(first, mlp.Embedding) and first.columns == [1] and first.n_categories == [80 + 1]
    column = ckpt.preprocessor.columns[1]
    assert column.codes and len(column.categories) == 80 and ckpt.preprocessor.n_inputs() == 2
    assert ckpt.metadata["extra"]["preprocessing"]["columns"][1]["codes"] is True
    code, out, err = run_cli(["predict", save, test, "--out", out_csv], capsys)
    assert code == 0, err
    with open(out_csv) as f:
        predicted = [row["label"] for row in csv.DictReader(f)]
    with open(test) as f:
        truth = [row["label"] for row in csv.DictReader(f)]
    assert len(predicted) == 300 and set(predicted) <= {"yes", "no"}
    accuracy = np.mean([p == t for p, t in zip(predicted[20:], truth[20:], strict=True)])
    assert accuracy > 0.85, accuracy  # the shop carries the class: only learned vectors of 80 levels get it
    code, out, err = run_cli(["evaluate", save, "--data", test], capsys)
    assert code == 0, err


def test_a_model_whose_code_inputs_reach_no_embedding_or_one_hot_is_refused(tmp_path, capsys):
    """Preprocessing that says "codes" with a model that reads them as plain numbers: a corrupt pair, refused
    (the check that save and load share)."""
    train = shop_table(tmp_path / "train.csv", 400, 0)
    save = str(tmp_path / "m.safetensors")
    assert (
        run_cli(
            [
                "train",
                "--data",
                train,
                "--save",
                save,
                "--backend",
                "numpy",
                "--epochs",
                "2",
                "--numeric-embedding",
                "none",
            ],
            capsys,
        )[0]
        == 0
    )
    ckpt = load_checkpoint(save, backend="numpy")
    n_codes = ckpt.model.layers[0].n_categories
    plain = mlp.build_mlp(ckpt.model.sizes[:1] + ckpt.model.sizes[2:], "relu", "cross_entropy", "he", "numpy")
    message = (
        f"code inputs (Embedding of inputs [1] with {n_codes} codes), but the model's first layers (Linear) "
        "read no codes"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        mlp.save(plain, tmp_path / "bad.safetensors", preprocessor=ckpt.preprocessor)
    # a numeric embedding first keeps the inputs in place: the codes must still reach their Embedding
    periodic = mlp.PeriodicEmbedding(2, [0])
    before = mlp.Sequential([periodic, mlp.Linear(periodic.n_out, 2)], backend="numpy")
    message = "the model's first layers (PeriodicEmbedding, Linear) read no codes"
    with pytest.raises(ValueError, match=re.escape(message)):
        mlp.save(before, tmp_path / "bad.safetensors", preprocessor=ckpt.preprocessor)
    # a column of few levels: its code reaches a OneHot, or the pair is refused
    few = tmp_path / "few.csv"
    few.write_text("x,colour,label\n" + "".join(f"{i % 5},{'rgb'[i % 3]},{'ab'[i % 2]}\n" for i in range(60)))
    assert (
        run_cli(
            [
                "train",
                "--data",
                str(few),
                "--save",
                save,
                "--backend",
                "numpy",
                "--epochs",
                "1",
                "--numeric-embedding",
                "none",
            ],
            capsys,
        )[0]
        == 0
    )
    ckpt = load_checkpoint(save, backend="numpy")
    assert isinstance(ckpt.model.layers[0], mlp.OneHot) and ckpt.model.layers[0].columns == [1]
    plain = mlp.build_mlp([2, *ckpt.model.sizes[2:]], "relu", "cross_entropy", "he", "numpy")
    with pytest.raises(ValueError, match=re.escape("code inputs (OneHot of inputs [1] with [4] codes)")):
        mlp.save(plain, tmp_path / "bad.safetensors", preprocessor=ckpt.preprocessor)


def test_running_out_of_memory_on_a_table_names_the_file_and_a_remedy(tmp_path, capsys, monkeypatch):
    """Not "MemoryError: MemoryError": the file, its size, what takes memory and what to do, on one line."""
    import mlp.io.tables

    data = shop_table(tmp_path / "train.csv", 50, 0)

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(mlp.io.tables, "load_table", out_of_memory)
    code, out, err = run_cli(["train", "--data", data, "--quiet"], capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{data}: out of memory while reading and encoding the table" in err and "--drop" in err


def test_the_numeric_embedding_is_periodic_up_to_a_size_and_said(tmp_path, capsys, monkeypatch):
    from mlp.train import recipe

    assert recipe.numeric_embedding("auto", recipe.PERIODIC_MOST_ROWS) == "periodic"
    assert recipe.numeric_embedding("auto", recipe.PERIODIC_MOST_ROWS + 1) is None
    assert recipe.numeric_embedding("none", 10) is None and recipe.numeric_embedding("periodic", 10**9) == "periodic"
    with pytest.raises(ValueError, match="numeric embedding must be one of auto, periodic, none"):
        recipe.numeric_embedding("fourier", 10)
    assert recipe.numeric_embedding("auto", 10, scaled=False) is None  # numbers as they are: no periodic features
    with pytest.raises(ValueError, match="the periodic numeric embedding reads scaled numbers"):
        recipe.numeric_embedding("periodic", 10, scaled=False)
    train = shop_table(tmp_path / "train.csv", 400, 0)
    save = str(tmp_path / "m.safetensors")
    code, out, err = run_cli(["train", "--data", train, "--save", save, "--epochs", "1"], capsys)
    assert code == 0, err
    assert "numbers: 1 inputs embedded with learned periodic features" in out
    assert isinstance(load_checkpoint(save).model.layers[0], mlp.PeriodicEmbedding)
    monkeypatch.setattr(recipe, "PERIODIC_MOST_ROWS", 100)  # 320 training rows: above it
    other = str(tmp_path / "m2.safetensors")
    code, out, err = run_cli(["train", "--data", train, "--save", other, "--epochs", "1"], capsys)
    assert code == 0, err
    assert "numbers: no periodic features above 100 training rows" in out
    assert not isinstance(load_checkpoint(other).model.layers[0], mlp.PeriodicEmbedding)


def test_the_clamp_keeps_predictions_in_range_but_never_the_truths_it_is_scored_against(tmp_path, capsys):
    """Rows far outside the training targets: the predictions are held at the largest training target, and the
    errors are measured against the true targets as they are (not clamped too, which would score 0 error)."""
    rng = np.random.default_rng(0)
    x = rng.random(300)
    train = write(tmp_path / "train.csv", ["x", "y"], [[a, 2 * a] for a in x])
    far = write(tmp_path / "far.csv", ["x", "y"], [[10 + a, 20 + 2 * a] for a in x[:50]])
    save = str(tmp_path / "m.safetensors")
    assert run_cli(["train", "--data", train, "--save", save, "--epochs", "5"], capsys)[0] == 0
    pre = load_checkpoint(save).preprocessor
    assert pre.target_high[0] == pytest.approx(2 * x.max())
    truths = np.array([[20.0], [21.5]])
    np.testing.assert_allclose(pre.values(pre.encode(truths), clamp=False), truths, rtol=1e-14)
    code, out, err = run_cli(["evaluate", save, "--data", far], capsys)
    assert code == 0, err
    r2 = float(re.search(r"r2 (-?[0-9.]+)", out).group(1))
    mae = float(re.search(r"mae ([0-9.]+)", out).group(1))
    assert r2 < 0 and mae > 17, out  # predictions near 2, truths 20 to 22
