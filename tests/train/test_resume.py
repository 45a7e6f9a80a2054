"""``mlp.fit(resume=mlp.Resume(...))``: one value for where a run goes on from, the same as the keywords it replaces."""

import numpy as np
import pytest

import mlp


def _problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _model():
    return mlp.build_mlp([4, 8, 2], "relu", "cross_entropy", backend="numpy", dtype="float64", seed=3)


def _run(**kwargs):
    X, y = _problem()
    model = _model()
    opt = mlp.SGD(lr=0.1)
    history = mlp.fit(
        model, X, y, loss="cross_entropy", optimizer=opt, epochs=3, batch_size=16, progress=False, **kwargs
    )
    return model.state_dict(), history


def test_resume_value_equals_the_keywords_it_replaces():
    first = _run(resume=mlp.Resume(epoch=1, step=2))
    second = _run(initial_epoch=1, initial_step=2)
    for name in first[0]:
        np.testing.assert_array_equal(first[0][name], second[0][name])
    assert first[1].history["loss"] == second[1].history["loss"]
    assert len(first[1].history["loss"]) == 2  # epochs 2 and 3: the first is done
    # and it is not a new run: from epoch 0 the weights differ
    fresh = _run()
    assert not all(np.array_equal(fresh[0][n], first[0][n]) for n in fresh[0])


def test_resume_continues_the_history_it_is_given():
    _, history = _run(resume=mlp.Resume(epoch=2))
    _, again = _run(resume=mlp.Resume(epoch=2, history=history))
    assert again is history and len(history.history["loss"]) == 2


def test_both_ways_at_once_or_an_unknown_keyword_is_refused():
    with pytest.raises(TypeError):
        _run(resume=mlp.Resume(epoch=1), initial_epoch=1)
    with pytest.raises(TypeError):
        _run(initial_epochs=1)
    with pytest.raises(ValueError):
        mlp.Resume(epoch=-1)
