"""The tabular recipe's engine pieces: AdamW, learning-rate schedules, clipping by global norm.

Each on every backend; AdamW and clipping against PyTorch's own (``torch.optim.AdamW``,
``torch.nn.utils.clip_grad_norm_``) fed the same gradients; schedules against their closed forms,
through the compiled loop (JAX) and across a resume.
"""

import math

import numpy as np
import pytest

import mlp
from tests_helpers import host


def net(backend, dtype="float64", seed=2):
    return mlp.build_mlp([4, 6, 3], "tanh", "cross_entropy", "xavier", backend, dtype, seed=seed)


def data(n=30, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def steps_against_torch(backend, ours, make_torch, steps=6, clip=None):
    """Run ``ours`` and a torch optimizer on the same gradients (ours, per step); return both parameter sets."""
    torch = pytest.importorskip("torch")
    model = net(backend)
    X, y = data()
    be = model.backend
    Xd, T = be.asarray(X, dtype="float64"), be.asarray(np.eye(3)[y], dtype="float64")
    loss = mlp.CrossEntropy().bind(model.K)
    tparams = [torch.tensor(host(p), dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    weights = [t for t, name in zip(tparams, model.param_names(), strict=True) if name.startswith("W")]
    biases = [t for t, name in zip(tparams, model.param_names(), strict=True) if not name.startswith("W")]
    topt = make_torch(torch, weights, biases)
    for _ in range(steps):
        loss.forward(model.forward(Xd), T)
        model.backward(loss.backward(), need_input_grad=False)
        # torch steps from torch's own parameters with our gradient of them at our parameters:
        # the parameters must agree before each step for the comparison to mean anything
        for t, p, g in zip(tparams, model.parameters(), model.gradients(), strict=True):
            np.testing.assert_allclose(t.detach().numpy(), host(p), rtol=1e-10, atol=1e-12)
            t.grad = torch.tensor(host(g), dtype=torch.float64)
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(tparams, clip)
        topt.step()
        ours.step(model)
    return [host(p) for p in model.parameters()], [t.detach().numpy() for t in tparams]


def test_adamw_is_torchs_adamw_with_decay_on_weights(backend):
    ours = mlp.AdamW(0.05, weight_decay=0.1)
    got, ref = steps_against_torch(
        backend,
        ours,
        lambda torch, w, b: torch.optim.AdamW(
            [{"params": w, "weight_decay": 0.1}, {"params": b, "weight_decay": 0.0}], lr=0.05
        ),
    )
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_adamw_differs_from_adam_with_l2():
    # the decoupled decay is a different update from Adam's L2, so the test above can tell them apart
    model_a, model_b = net("numpy"), net("numpy")
    X, y = data()
    kw = dict(loss="cross_entropy", epochs=2, batch_size=10, progress=False)
    mlp.fit(model_a, X, y, optimizer=mlp.AdamW(0.05, weight_decay=0.1), **kw)
    mlp.fit(model_b, X, y, optimizer=mlp.Adam(0.05, weight_decay=0.1), **kw)
    assert not np.allclose(host(model_a.parameters()[0]), host(model_b.parameters()[0]), rtol=1e-6)


def test_clipping_by_global_norm_is_torchs(backend):
    ours = mlp.SGD(0.1, momentum=0.9, clip_norm=0.05)
    got, ref = steps_against_torch(
        backend, ours, lambda torch, w, b: torch.optim.SGD(w + b, lr=0.1, momentum=0.9), clip=0.05
    )
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_large_clip_norm_changes_nothing():
    X, y = data()
    a, b = net("numpy"), net("numpy")
    kw = dict(loss="cross_entropy", epochs=2, batch_size=10, progress=False)
    mlp.fit(a, X, y, optimizer=mlp.SGD(0.1, clip_norm=1e6), **kw)
    mlp.fit(b, X, y, optimizer=mlp.SGD(0.1), **kw)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(host(p), host(q))


def test_cosine_with_warmup_closed_form():
    s = mlp.Cosine(total_steps=110, warmup_steps=10, final=0.1)
    assert s.factor(5) == pytest.approx(0.5)
    assert s.factor(10) == pytest.approx(1.0)
    assert s.factor(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s.factor(110) == pytest.approx(0.1)
    assert s.factor(500) == pytest.approx(0.1)
    xp = pytest.importorskip("array_api_strict")
    for t in (1, 5, 10, 37, 110, 200):
        assert float(s.factor(xp.asarray(float(t)), xp)) == pytest.approx(s.factor(t), rel=1e-12)
    assert mlp.InverseScaling(0.25).factor(16) == pytest.approx(0.5)
    assert mlp.Warmup(4).factor(2) == pytest.approx(0.5) and mlp.Warmup(4).factor(9) == 1.0


def test_a_schedule_sets_each_steps_rate(backend):
    """SGD without momentum: the parameters move by exactly ``lr * factor(t) * g`` at step t."""
    model = net(backend)
    X, y = data(n=10)
    schedule = mlp.Cosine(total_steps=4, warmup_steps=2)
    opt = mlp.SGD(0.2, schedule=schedule)
    be = model.backend
    Xd, T = be.asarray(X, dtype="float64"), be.asarray(np.eye(3)[y], dtype="float64")
    for t in range(1, 5):
        before = [host(p) for p in model.parameters()]
        mlp.train_step(model, "cross_entropy", opt, Xd, T)
        grads = [host(g) for g in model.gradients()]
        for b, a, g in zip(before, [host(p) for p in model.parameters()], grads, strict=True):
            np.testing.assert_allclose(b - a, 0.2 * schedule.factor(t) * g, rtol=1e-9, atol=1e-14)
    assert opt.current_lr() == pytest.approx(0.2 * schedule.factor(4))


def test_schedules_replay_exactly_compiled_and_resumed(backend, tmp_path):
    """A scheduled run: compiled (where the backend compiles) = step by step = stopped after an epoch and
    resumed from its checkpoint (the schedule travels in the optimizer's hyperparameters)."""
    X, y = data(n=47)
    kw = dict(loss="cross_entropy", batch_size=8, progress=False, seed=4)

    def opt():
        return mlp.AdamW(0.02, schedule=mlp.Cosine(total_steps=18, warmup_steps=3, final=0.05), clip_norm=1.0)

    runs = []
    for compiled in (None, False):
        m = net(backend)
        h = mlp.fit(m, X, y, optimizer=opt(), epochs=3, compiled=compiled, **kw)
        runs.append(([host(p) for p in m.parameters()], h.history["lr"]))
    m, o = net(backend), opt()
    mlp.fit(m, X, y, optimizer=o, epochs=1, **kw)
    path = mlp.save(m, tmp_path / "ck.safetensors", optimizer=o)
    ck = mlp.load_checkpoint(path, backend=backend)
    assert ck.optimizer.schedule == o.schedule and ck.optimizer.clip_norm == 1.0
    mlp.fit(ck.model, X, y, optimizer=ck.optimizer, epochs=3, initial_epoch=1, **kw)
    runs.append(([host(p) for p in ck.model.parameters()], None))
    for params, _ in runs[1:]:
        for p, q in zip(runs[0][0], params, strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    # the logged rate is the last step's: 6 steps an epoch
    assert runs[0][1] == pytest.approx([0.02 * opt().schedule.factor(6 * e) for e in (1, 2, 3)])


def test_bad_schedules_and_clips_are_named():
    with pytest.raises(ValueError, match=r"Cosine: warmup_steps \(10\) must be fewer than total_steps \(10\)"):
        mlp.Cosine(total_steps=10, warmup_steps=10)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        mlp.SGD(0.1, schedule="sometimes")
    with pytest.raises(ValueError, match="clip_norm"):
        mlp.Adam(0.1, clip_norm=0.0)
