"""fit / evaluate / callbacks: real MNIST subsets, resume equivalence, interruption and divergence."""

import math
import signal

import numpy as np
import pytest

import mlp
from mlp.io import datasets
from tests_helpers import host, interrupt_after, quick_fit, tiny_data, tiny_net


@pytest.fixture(scope="module")
def mnist_small():
    """10,000 MNIST training images and 2,000 test images (from the files beside the repo)."""
    from conftest import SHARED_DATA

    if not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"no MNIST files at {SHARED_DATA}")
    (X, y), (Xt, yt) = datasets.load_mnist(data_dir=SHARED_DATA / "mnist", download=False, progress=False)
    return (X[:10_000], y[:10_000]), (Xt[:2_000], yt[:2_000])


def relu_net(backend=None, sizes=(784, 64, 10), seed=0, dtype="float32"):
    layers = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [mlp.Linear(a, b, init="he"), mlp.ReLU()]
    return mlp.Sequential(layers[:-1], backend=backend, seed=seed, dtype=dtype)


@pytest.mark.slow
def test_mnist_subset_reaches_stated_accuracy(backend, mnist_small):
    """784-64-10 ReLU, 3 epochs on 10k images: at least 93% on 2k test images, on every backend."""
    (X, y), (Xt, yt) = mnist_small
    model = relu_net(backend)
    h = mlp.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=mlp.SGD(0.05, momentum=0.9),
        epochs=3,
        batch_size=32,
        validation_data=(Xt, yt),
        progress=False,
    )
    assert h.history["val_accuracy"][-1] >= 0.93
    assert h.history["loss"][0] > h.history["loss"][-1]
    assert mlp.evaluate(model, Xt, yt)["accuracy"] == pytest.approx(h.history["val_accuracy"][-1])


def test_history_and_evaluate_keys():
    X, y = datasets.spirals(n_samples=300, seed=2)
    model = relu_net(sizes=(2, 16, 2))
    h = mlp.fit(model, X, y, loss="cross_entropy", optimizer=mlp.SGD(0.1), epochs=2, batch_size=16, progress=False)
    assert set(h.history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert all(len(v) == 2 for v in h.history.values())
    assert all(math.isnan(v) for v in h.history["val_accuracy"])
    assert all(s > 0 for s in h.history["seconds"])
    r = mlp.evaluate(model, X, y, loss="cross_entropy")
    assert r["accuracy"] == pytest.approx(h.history["accuracy"][-1]) and r["loss"] == pytest.approx(
        h.history["loss"][-1], rel=1e-5
    )


def test_resume_equals_training_in_one_go(backend):
    """2 epochs, then 2 more from where they stopped == 4 epochs in one go (same seed)."""
    X, y = datasets.spirals(n_samples=256, seed=3)
    one = relu_net(backend, sizes=(2, 16, 2), dtype="float64")
    opt1 = mlp.SGD(0.05, momentum=0.9)
    mlp.fit(one, X, y, loss="cross_entropy", optimizer=opt1, epochs=4, batch_size=20, progress=False)

    two = relu_net(backend, sizes=(2, 16, 2), dtype="float64")
    opt2 = mlp.SGD(0.05, momentum=0.9)
    h = mlp.fit(two, X, y, loss="cross_entropy", optimizer=opt2, epochs=2, batch_size=20, progress=False)
    # round trip through host state, as a checkpoint would
    three = relu_net(backend, sizes=(2, 16, 2), dtype="float64", seed=123)
    three.load_state_dict(two.state_dict())
    opt3 = mlp.SGD(0.05, momentum=0.9).load_state_dict(opt2.state_dict(), three)
    mlp.fit(
        three,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt3,
        epochs=4,
        batch_size=20,
        progress=False,
        initial_epoch=2,
        history=h,
    )
    assert h.epoch == [0, 1, 2, 3]
    for k, v in one.state_dict().items():
        np.testing.assert_allclose(three.state_dict()[k], v, rtol=1e-12, atol=1e-14)


def test_ctrl_c_stops_between_steps_and_resumes_exactly(monkeypatch):
    X, y = datasets.spirals(n_samples=400, seed=4)
    ref = relu_net(sizes=(2, 16, 2), dtype="float64")
    mlp.fit(
        ref, X, y, loss="cross_entropy", optimizer=mlp.SGD(0.05, momentum=0.9), epochs=3, batch_size=8, progress=False
    )

    model, opt = relu_net(sizes=(2, 16, 2), dtype="float64"), mlp.SGD(0.05, momentum=0.9)
    interrupt_after(monkeypatch, 69)
    with pytest.raises(mlp.TrainingInterrupted) as stop:
        mlp.fit(model, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=8, progress=False)
    monkeypatch.undo()
    # the kill came after the 69th step: step 19 of epoch 1 (epoch 0 made 50 steps);
    # the loop notices it at its next check, between two steps
    assert stop.value.epoch * 50 + stop.value.step >= 50 + 19
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    mlp.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=opt,
        epochs=3,
        batch_size=8,
        progress=False,
        initial_epoch=stop.value.epoch,
        initial_step=stop.value.step,
        history=stop.value.history,
    )
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k], v, rtol=1e-12, atol=1e-14)


def test_divergence_stops_with_epoch_step_and_keeps_finite_weights():
    X, y = datasets.spirals(n_samples=400, seed=5)
    X = X * 1e3  # with lr 1e3 this explodes within a few steps
    model = relu_net(sizes=(2, 16, 2), dtype="float32")
    with pytest.raises(mlp.DivergenceError, match=r"epoch 1, step \d+ of 50.*smaller learning rate") as e:
        mlp.fit(
            model,
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(1e3, momentum=0.9),
            epochs=2,
            batch_size=8,
            progress=False,
        )
    step = int(str(e.value).split("step ")[1].split()[0])
    assert all(np.all(np.isfinite(v)) for v in model.state_dict().values())
    # the weights kept are those right before the bad step: their loss on that step's batch is finite,
    # and one more update from them is what breaks
    perm = np.random.default_rng((0, 0)).permutation(len(X))
    Xb = model.backend.asarray(X[perm][(step - 1) * 8 : step * 8], dtype="float32")
    Tb = model.backend.asarray(np.eye(2)[y[perm][(step - 1) * 8 : step * 8]], dtype="float32")
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(float(host(mlp.CrossEntropy().forward(model.forward(Xb), Tb))))


def test_early_stopping_restores_best():
    class Fake:
        def __init__(self):
            self.loaded = None

        def state_dict(self):
            return {"epoch": len(seen)}

        def load_state_dict(self, s):
            self.loaded = s

    seen = []
    model = Fake()
    state = mlp.FitState(model, None, None, mlp.History(), 10, 0)
    cb = mlp.EarlyStopping(monitor="val_accuracy", patience=2)
    for epoch, acc in enumerate([0.5, 0.7, 0.6, 0.65]):
        seen.append(acc)
        cb.on_epoch_end(epoch, {"val_accuracy": acc}, state)
        if state.stop_training:
            break
    assert epoch == 3 and state.stop_training and model.loaded == {"epoch": 2}


def test_book_schedule_halves_and_stops_at_eta_over_128():
    opt = mlp.SGD(1.0)
    state = mlp.FitState(None, opt, None, mlp.History(), 1000, 0)
    cb = mlp.HalveOnPlateau(patience=2)
    cb.on_train_begin(state)
    epochs = 0
    while not state.stop_training:
        cb.on_epoch_end(epochs, {"val_accuracy": 0.5}, state)  # never improves after the first
        epochs += 1
    assert opt.lr == pytest.approx(1 / 128)
    assert epochs == 1 + 2 * 7  # first epoch sets the best, then 7 halvings, 2 epochs each


def test_l2_weight_decay_is_lambda_over_n():
    assert mlp.l2_weight_decay(5.0, 50_000) == pytest.approx(1e-4)
    with pytest.raises(ValueError):
        mlp.l2_weight_decay(-1, 10)


def test_data_goes_to_the_device_once_and_batches_are_slices(monkeypatch):
    """Host-to-device copies per fit do not grow with the number of steps (one per epoch for shuffling)."""
    X, y = datasets.spirals(n_samples=400, seed=6)
    model = relu_net(sizes=(2, 16, 2))
    calls = []
    original = type(model.backend).asarray
    monkeypatch.setattr(
        type(model.backend), "asarray", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    mlp.fit(
        model,
        X,
        y,
        loss="cross_entropy",
        optimizer=mlp.SGD(0.1),
        epochs=3,
        batch_size=4,
        progress=False,
        train_metrics=False,
    )
    assert len(calls) == 2 + 3  # X and targets once; one permutation per epoch (300 steps in all)


def test_one_output_models_classify_by_threshold():
    """A single output is a logit (threshold 0) unless the model ends in Sigmoid (threshold 0.5)."""
    X, y = datasets.spirals(n_samples=400, seed=7)
    logits = mlp.build_mlp([2, 32, 32, 1], "relu", "binary_cross_entropy", seed=1)
    mlp.fit(
        logits,
        X,
        y,
        loss="binary_cross_entropy",
        optimizer=mlp.SGD(0.1, momentum=0.9),
        epochs=30,
        batch_size=16,
        progress=False,
    )
    Y = host(logits.forward(logits.backend.asarray(X, dtype="float32")))[:, 0]
    assert np.array_equal(logits.predict(X), (Y > 0).astype(np.int64))
    with_loss = mlp.evaluate(logits, X, y, loss="binary_cross_entropy")["accuracy"]
    assert mlp.evaluate(logits, X, y)["accuracy"] == with_loss == np.mean((Y > 0) == y) > 0.8
    probs = mlp.build_mlp([2, 8, 1], "relu", "quadratic", seed=1)
    P = host(probs.forward(probs.backend.asarray(X, dtype="float32")))[:, 0]
    assert np.array_equal(probs.predict(X), (P > 0.5).astype(np.int64))


def test_early_stopping_refuses_a_metric_that_is_not_logged():
    X, y = datasets.spirals(n_samples=100, seed=8)
    with pytest.raises(ValueError, match=r"EarlyStopping monitors 'val_accuracy'.*validation_data"):
        mlp.fit(
            relu_net(sizes=(2, 8, 2)),
            X,
            y,
            loss="cross_entropy",
            optimizer=mlp.SGD(0.1),
            epochs=3,
            batch_size=10,
            progress=False,
            callbacks=[mlp.EarlyStopping()],
        )


def test_divergence_on_the_first_step_restores_optimizer_state_too():
    X, y = datasets.spirals(n_samples=64, seed=9)
    model = relu_net(sizes=(2, 8, 2), dtype="float64")
    before = model.state_dict()
    opt = mlp.SGD(0.1, momentum=0.9)
    with pytest.raises(mlp.DivergenceError, match="step 1 of"):
        # step by step: the NaN comes from Python code that a compiled loop would run only once, at tracing
        mlp.fit(model, X, y, loss=_NanAt(1), optimizer=opt, epochs=1, batch_size=8, progress=False, compiled=False)
    assert opt.t == 0
    assert all(np.all(v == 0) for v in opt.state_dict()["arrays"].values())
    for k, v in before.items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


class _NanAt(mlp.CrossEntropy):
    """Cross-entropy whose n-th value is NaN (the gradients stay finite, so the step still moves weights)."""

    def __init__(self, n):
        super().__init__()
        self.n, self.calls = n, 0

    def apply(self, K, Y, T):
        self.calls += 1
        value, cache = super().apply(K, Y, T)
        return (value * float("nan") if self.calls == self.n else value), cache


def test_losses_use_the_models_kernels():
    fast = relu_net(sizes=(2, 4, 2))
    reference = mlp.Sequential([mlp.Linear(2, 4), mlp.ReLU(), mlp.Linear(4, 2)], fast=False)
    X, y = datasets.spirals(n_samples=40, seed=10)
    for model in (fast, reference):
        loss = mlp.CrossEntropy()
        mlp.fit(model, X, y, loss=loss, optimizer=mlp.SGD(0.1), epochs=1, batch_size=8, progress=False)
        assert loss.K is model.K


# -- saves every epoch; Ctrl-C mid-epoch, saved and resumed through the file -----------------------


class _ReadBack(mlp.Callback):
    """After each epoch (and after ModelCheckpoint), read the file back."""

    def __init__(self, path):
        self.path, self.epochs = path, []

    def on_epoch_end(self, epoch, logs, state):
        ckpt = mlp.load_checkpoint(self.path)
        self.epochs.append(ckpt.extra["epoch"])
        for k, v in state.model.state_dict().items():
            np.testing.assert_array_equal(ckpt.model.state_dict()[k], v)


def test_model_checkpoint_saves_every_epoch(tmp_path):
    path = tmp_path / "run.safetensors"
    spy = _ReadBack(path)
    quick_fit(tiny_net(), *tiny_data(n=10), epochs=3, callbacks=[mlp.ModelCheckpoint(path), spy])
    assert spy.epochs == [1, 2, 3]


def test_interrupt_mid_epoch_checkpoint_and_resume_equal_an_uninterrupted_run(tmp_path, monkeypatch):
    """Ctrl-C in the middle of epoch 2: TrainingInterrupted says where, the checkpoint written from it
    resumes through the file to exactly the weights of a run that was never stopped."""
    import mlp.train.runner as training

    monkeypatch.setattr(training, "CHECK_EVERY", 1)  # notice Ctrl-C after the very step it came in
    X, y = datasets.spirals(n_samples=160, seed=7)
    kw = dict(epochs=3, batch_size=16, seed=5)  # 10 steps per epoch
    ref, ref_opt = tiny_net(dtype="float64", sizes=(2, 8, 2)), mlp.Adam(0.01)
    quick_fit(ref, X, y, optimizer=ref_opt, **kw)

    model, opt = tiny_net(dtype="float64", sizes=(2, 8, 2)), mlp.Adam(0.01)
    interrupt_after(monkeypatch, 10 + 4)  # epoch 1: 10 steps; then the 4th step of epoch 2
    with pytest.raises(mlp.TrainingInterrupted) as stop:
        quick_fit(model, X, y, optimizer=opt, **kw)
    assert (stop.value.epoch, stop.value.step) == (1, 4)
    assert "epoch 2, after step 4" in str(stop.value)
    assert opt.t == 14 and signal.getsignal(signal.SIGINT) is signal.default_int_handler

    path = tmp_path / "stopped.safetensors"
    mlp.save(model, path, opt, epoch=stop.value.epoch, step=stop.value.step, history=stop.value.history.to_dict())
    ckpt = mlp.load_checkpoint(path)
    extra = ckpt.extra
    quick_fit(
        ckpt.model,
        X,
        y,
        optimizer=ckpt.optimizer,
        initial_epoch=extra["epoch"],
        initial_step=extra["step"],
        history=mlp.History.from_dict(extra["history"]),
        **kw,
    )
    assert ckpt.optimizer.t == ref_opt.t == 30
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(ckpt.model.state_dict()[k], v, rtol=1e-12, atol=1e-14, err_msg=k)
