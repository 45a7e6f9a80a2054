"""mlp.book: the book's network.py, network2.py and mnist_loader.py, name for name, on the matrix engine.

The sessions of chapters 1 and 3 are typed as the book prints them (only the import line
changed) and run on a small MNIST subset put behind ``mnist_loader.load_data``; the maths
is checked against a per-example implementation of the book's algorithm written here.
"""

import json
import random
import re
import textwrap

import numpy as np
import pytest
from conftest import backend_params

from mlp.book import _engine, mnist_loader, network, network2

# -- a per-example reference of the book's algorithm (float64), written for these tests ----------


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference_backprop(weights, biases, x, y, quadratic):
    """Gradients of one example's cost, layer by layer: (nabla_b, nabla_w)."""
    activations, zs = [x], []
    for w, b in zip(weights, biases, strict=True):
        zs.append(w @ activations[-1] + b)
        activations.append(_sig(zs[-1]))
    delta = activations[-1] - y
    if quadratic:
        delta = delta * _sig(zs[-1]) * (1 - _sig(zs[-1]))
    nabla_b, nabla_w = [None] * len(weights), [None] * len(weights)
    for layer in range(len(weights) - 1, -1, -1):
        nabla_b[layer], nabla_w[layer] = delta, delta @ activations[layer].T
        if layer:
            s = _sig(zs[layer - 1])
            delta = (weights[layer].T @ delta) * s * (1 - s)
    return nabla_b, nabla_w


def reference_update(weights, biases, batch, eta, quadratic, lmbda=0.0, n=1):
    sum_b = [np.zeros_like(b) for b in biases]
    sum_w = [np.zeros_like(w) for w in weights]
    for x, y in batch:
        nb, nw = reference_backprop(weights, biases, x, y, quadratic)
        sum_b = [s + d for s, d in zip(sum_b, nb, strict=True)]
        sum_w = [s + d for s, d in zip(sum_w, nw, strict=True)]
    m = len(batch)
    return (
        [(1 - eta * lmbda / n) * w - eta / m * g for w, g in zip(weights, sum_w, strict=True)],
        [b - eta / m * g for b, g in zip(biases, sum_b, strict=True)],
    )


def copies(net):
    return [np.array(w, dtype=np.float64) for w in net.weights], [np.array(b, dtype=np.float64) for b in net.biases]


def max_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x, dtype=np.float64) - y))) for x, y in zip(a, b, strict=True))


def toy_data(n=60, n_in=4, n_out=3, seed=0, labels=False):
    """Book-format pairs: columns (n_in, 1) and one-hot target columns (or integer labels)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    k = (np.argmax(X[:, :n_out], axis=1) + (X[:, -1] > 1)) % n_out  # learnable, not trivial
    if labels:
        return [(x.reshape(n_in, 1), int(t)) for x, t in zip(X, k, strict=True)]
    return [(x.reshape(n_in, 1), np.eye(n_out)[t].reshape(n_out, 1)) for x, t in zip(X, k, strict=True)]


# -- the book's sessions on a small MNIST subset -----------------------------------------------------


@pytest.fixture(scope="module")
def mnist_arrays():
    """MNIST from the shared data folder ($MLP_DATA_DIR, else ../shared/data), loaded once for this module."""
    from conftest import SHARED_DATA

    from mlp.io import datasets

    if not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"no MNIST files at {SHARED_DATA} (set MLP_DATA_DIR to a folder holding mnist/)")
    return datasets.load_mnist(data_dir=SHARED_DATA / "mnist", download=False, progress=False)


@pytest.fixture
def small_mnist(mnist_arrays, monkeypatch):
    """``mnist_loader.load_data`` gives 1,000 training, 200 validation and 500 test images (the sessions stay fast)."""
    (X, y), (Xt, yt) = mnist_arrays

    def load_data(data_dir=None, download=True):
        return (X[:1000], y[:1000]), (X[50_000:50_200], y[50_000:50_200]), (Xt[:500], yt[:500])

    monkeypatch.setattr(mnist_loader, "load_data", load_data)


def run_session(text, capsys):
    """Run a session as the book prints it (``>>>`` and ``...`` prompts); returns its names and printed lines."""
    lines = textwrap.dedent(text).strip().splitlines()
    source = "\n".join(line[4:] for line in lines if line.startswith((">>> ", "... ")))
    names = {}
    exec(compile(source, "<book session>", "exec"), names)
    return names, capsys.readouterr().out.splitlines()


CHAPTER_1 = r"""
    >>> from mlp.book import mnist_loader
    >>> training_data, validation_data, test_data = \
    ... mnist_loader.load_data_wrapper()
    >>> from mlp.book import network
    >>> net = network.Network([784, 30, 10])
    >>> net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
"""


def test_chapter1_session_prints_the_books_lines(small_mnist, capsys):
    np.random.seed(0)
    random.seed(0)
    names, out = run_session(CHAPTER_1, capsys)
    assert len(out) == 30
    counts = []
    for j, line in enumerate(out):
        m = re.fullmatch(r"Epoch (\d+): (\d+) / (\d+)", line)
        assert m and int(m[1]) == j and int(m[3]) == 500, line
        counts.append(int(m[2]))
    net, test_data = names["net"], names["test_data"]
    assert counts[-1] == net.evaluate(test_data)
    assert max(counts) > 0.5 * 500  # 30 epochs of 1,000 images: the book's network learns (chance: 10%)
    training = names["training_data"]
    assert training[0][0].shape == (784, 1) and training[0][1].shape == (10, 1)


def test_chapter1_tiny_eta_does_not_learn(small_mnist, capsys):
    """The book's point about eta = 0.001 with the quadratic cost and N(0, 1) weights: it barely moves."""
    np.random.seed(1)
    random.seed(1)
    training_data, _, test_data = mnist_loader.load_data_wrapper()
    net = network.Network([784, 30, 10])
    before = net.evaluate(test_data)
    net.SGD(training_data, 2, 10, 0.001, test_data=test_data)
    after = int(capsys.readouterr().out.splitlines()[-1].split(":")[1].split("/")[0])
    assert abs(after - before) < 0.05 * len(test_data)


CHAPTER_3 = r"""
    >>> from mlp.book import mnist_loader
    >>> training_data, validation_data, test_data = \
    ... mnist_loader.load_data_wrapper()
    >>> from mlp.book import network2
    >>> net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    >>> net.large_weight_initializer()
    >>> net.SGD(training_data, 30, 10, 0.5, evaluation_data=test_data,
    ... monitor_evaluation_accuracy=True)
"""

CHAPTER_3_REGULARISED = r"""
    >>> from mlp.book import mnist_loader
    >>> training_data, validation_data, test_data = \
    ... mnist_loader.load_data_wrapper()
    >>> from mlp.book import network2
    >>> net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    >>> net.large_weight_initializer()
    >>> result = net.SGD(training_data[:100], 40, 10, 0.5,
    ... evaluation_data=test_data, lmbda = 0.1,
    ... monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
    ... monitor_training_cost=True, monitor_training_accuracy=True)
"""


def test_chapter3_session_prints_the_books_lines(small_mnist, capsys):
    np.random.seed(2)
    random.seed(2)
    names, out = run_session(CHAPTER_3, capsys)
    assert len(out) == 3 * 30
    accuracies = []
    for j in range(30):
        done, accuracy, blank = out[3 * j : 3 * j + 3]
        assert done == f"Epoch {j} training complete" and blank == ""
        m = re.fullmatch(r"Accuracy on evaluation data: (\d+) / 500", accuracy)
        assert m, accuracy
        accuracies.append(int(m[1]))
    assert accuracies[-1] == names["net"].accuracy(names["test_data"])
    assert max(accuracies) > 0.8 * 500


def test_chapter3_monitoring_lines_match_the_returned_lists(small_mnist, capsys):
    """The overfitting session (on 100 images, 40 epochs): four monitor lines per epoch, in the book's order."""
    np.random.seed(3)
    random.seed(3)
    names, out = run_session(CHAPTER_3_REGULARISED, capsys)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = names["result"]
    assert [len(v) for v in names["result"]] == [40, 40, 40, 40]
    assert len(out) == 6 * 40
    for j in range(40):
        lines = out[6 * j : 6 * j + 6]
        assert lines[0] == f"Epoch {j} training complete" and lines[5] == ""
        assert lines[1] == f"Cost on training data: {training_cost[j]}"
        assert lines[2] == f"Accuracy on training data: {training_accuracy[j]} / 100"
        assert lines[3] == f"Cost on evaluation data: {evaluation_cost[j]}"
        assert lines[4] == f"Accuracy on evaluation data: {evaluation_accuracy[j]} / 500"
    assert float(out[1].split(": ")[1]) == training_cost[0]  # the printed number is the value itself
    # 40 epochs on 100 images: the training set is learnt (the book's overfitting); the cost, which here is
    # mostly the L2 term 0.5 * 0.1 / 100 * sum ||w||^2 of the N(0, 1) weights, falls as weight decay shrinks them
    assert training_accuracy[-1] >= 95 and training_cost[-1] < 0.8 * training_cost[0]
    assert all(isinstance(a, int) for a in evaluation_accuracy + training_accuracy)


def test_package_docstring_example_runs(small_mnist, capsys):
    import mlp.book

    code = re.search(r"::\n\n(.*?)\n\n[A-Z]", mlp.book.__doc__, re.S)[1]
    exec(compile(textwrap.dedent(code), "<mlp.book docstring>", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 30 and all(re.fullmatch(r"Epoch \d+: \d+ / 500", line) for line in out)


def test_mnist_loader_formats(mnist_arrays, monkeypatch):
    (X, y), (Xt, yt) = mnist_arrays
    monkeypatch.setattr(
        mnist_loader,
        "load_data",
        lambda data_dir=None, download=True: (
            (X[:50], y[:50]),
            (X[50_000:50_020], y[50_000:50_020]),
            (Xt[:30], yt[:30]),
        ),
    )
    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    assert (len(training_data), len(validation_data), len(test_data)) == (50, 20, 30)
    assert all(isinstance(d, list) for d in (training_data, validation_data, test_data))
    x, t = training_data[7]
    assert x.shape == (784, 1) and x.dtype == np.float32 and t.shape == (10, 1)
    assert np.argmax(t) == y[7] and t.sum() == 1.0
    np.testing.assert_array_equal(x[:, 0], X[7])
    x, label = validation_data[3]
    assert np.ndim(label) == 0 and label == y[50_003] and np.array_equal(x[:, 0], X[50_003])
    assert test_data[4][1] == yt[4]


def test_load_data_splits_mnist_as_the_book(shared_data):
    training, validation, test = mnist_loader.load_data(data_dir=shared_data / "mnist", download=False)
    assert [a.shape for a in training] == [(50_000, 784), (50_000,)]
    assert [a.shape for a in validation] == [(10_000, 784), (10_000,)]
    assert [a.shape for a in test] == [(10_000, 784), (10_000,)]
    assert training[0].dtype == np.float32 and 0.0 <= training[0].min() and training[0].max() <= 1.0
    assert training[1].dtype == np.int64 and set(np.unique(validation[1])) == set(range(10))


def test_vectorized_result():
    for module in (mnist_loader, network2):
        e = module.vectorized_result(3)
        assert e.shape == (10, 1) and e.dtype == np.float64 and e[3, 0] == 1.0 and e.sum() == 1.0
        with pytest.raises(ValueError, match="12"):
            module.vectorized_result(12)


# -- initialisation and seeds ----------------------------------------------------------------------


@pytest.mark.parametrize("module, scaled", [(network, False), (network2, True)])
def test_initial_weights_are_the_books_draws(module, scaled):
    """Biases then weights, from the global np.random: N(0, 1), or weights N(0, 1/n_in) in network2."""
    np.random.seed(11)
    net = module.Network([5, 4, 3], dtype="float64")
    np.random.seed(11)
    biases = [np.random.randn(4, 1), np.random.randn(3, 1)]
    weights = [
        np.random.randn(4, 5) / (np.sqrt(5) if scaled else 1),
        np.random.randn(3, 4) / (np.sqrt(4) if scaled else 1),
    ]
    assert max_difference(net.weights + net.biases, weights + biases) == 0.0
    np.random.seed(11)
    net32 = module.Network([5, 4, 3])
    assert net32.weights[0].dtype == np.float32
    np.testing.assert_array_equal(net32.weights[0], weights[0].astype(np.float32))


def test_large_weight_initializer_draws_n01():
    np.random.seed(5)
    net = network2.Network([6, 3], dtype="float64")
    np.random.seed(5)
    net.large_weight_initializer()
    np.random.seed(5)
    b, w = np.random.randn(3, 1), np.random.randn(3, 6)
    assert max_difference(net.biases + net.weights, [b, w]) == 0.0


def _seeded_run(np_seed, py_seed, data):
    np.random.seed(np_seed)
    random.seed(py_seed)
    net = network2.Network([4, 6, 3])
    net.SGD(data, 2, 7, 0.5)
    return copies(net)[0]


def test_seeds_repeat_a_run_and_other_seeds_differ(capsys):
    data = toy_data()
    first, again = _seeded_run(1, 2, list(data)), _seeded_run(1, 2, list(data))
    assert max_difference(first, again) == 0.0
    assert max_difference(first, _seeded_run(9, 2, list(data))) > 1e-3  # other initial weights
    assert max_difference(first, _seeded_run(1, 9, list(data))) > 1e-6  # other shuffles


def test_sgd_shuffles_the_callers_list_as_random_shuffle_does(capsys):
    data = toy_data(n=25)
    expected = list(data)
    random.seed(4)
    random.shuffle(expected)
    random.shuffle(expected)
    random.seed(4)
    net = network.Network([4, 5, 3])
    net.SGD(data, 2, 5, 1.0)
    assert all(a is b for a, b in zip(data, expected, strict=True))
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


# -- the maths against the per-example reference ------------------------------------------------------


@pytest.mark.parametrize("cost", [network2.QuadraticCost, network2.CrossEntropyCost])
def test_one_mini_batch_equals_the_per_example_reference(backend, cost):
    np.random.seed(21)
    net = network2.Network([4, 6, 5, 3], cost=cost, backend=backend, dtype="float64")
    weights, biases = copies(net)
    batch = toy_data(n=10, seed=3)
    net.update_mini_batch(batch, 0.7, 2.0, 40)
    want_w, want_b = reference_update(weights, biases, batch, 0.7, cost is network2.QuadraticCost, 2.0, 40)
    assert max_difference(net.weights + net.biases, want_w + want_b) < 1e-12


def test_network_update_mini_batch_is_the_quadratic_step():
    np.random.seed(22)
    net = network.Network([4, 6, 3], dtype="float64")
    weights, biases = copies(net)
    batch = toy_data(n=10, seed=4)
    net.update_mini_batch(batch, 3.0)
    want_w, want_b = reference_update(weights, biases, batch, 3.0, True)
    assert max_difference(net.weights + net.biases, want_w + want_b) < 1e-12


@pytest.mark.parametrize(
    "module, cost", [(network, None), (network2, network2.QuadraticCost), (network2, network2.CrossEntropyCost)]
)
def test_backprop_equals_the_per_example_maths_and_finite_differences(module, cost):
    np.random.seed(23)
    net = (
        module.Network([4, 5, 3], dtype="float64")
        if cost is None
        else module.Network([4, 5, 3], cost=cost, dtype="float64")
    )
    quadratic = cost is not network2.CrossEntropyCost
    x, y = toy_data(n=1, seed=5)[0]
    nabla_b, nabla_w = net.backprop(x, y)
    assert [g.shape for g in nabla_w] == [(5, 4), (3, 5)] and [g.shape for g in nabla_b] == [(5, 1), (3, 1)]
    weights, biases = copies(net)
    want_b, want_w = reference_backprop(weights, biases, x, y, quadratic)
    assert max_difference(nabla_w + nabla_b, want_w + want_b) < 1e-13

    fn = network2.QuadraticCost.fn if quadratic else network2.CrossEntropyCost.fn

    def cost_at(ws, bs):
        a = x
        for w, b in zip(ws, bs, strict=True):
            a = _sig(w @ a + b)
        return fn(a, y)

    h = 1e-6
    for layer, (i, j) in [(0, (2, 1)), (1, (0, 4)), (1, (2, 2))]:
        plus, minus = [w.copy() for w in weights], [w.copy() for w in weights]
        plus[layer][i, j] += h
        minus[layer][i, j] -= h
        numeric = (cost_at(plus, biases) - cost_at(minus, biases)) / (2 * h)
        assert nabla_w[layer][i, j] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    plus, minus = [b.copy() for b in biases], [b.copy() for b in biases]
    plus[1][1] += h
    minus[1][1] -= h
    assert nabla_b[1][1, 0] == pytest.approx((cost_at(weights, plus) - cost_at(weights, minus)) / (2 * h), rel=1e-6)


@pytest.mark.parametrize("lmbda", [0.0, 3.0])
def test_an_epoch_agrees_with_the_books_algorithm(lmbda, capsys):
    """Same weights, same seed for random.shuffle: the same batches, and the same weights after two epochs."""
    base = toy_data(n=30, seed=6)
    data = base + base[:23]  # pairs listed twice (as in data + data); 53: the last mini-batch of an epoch is short
    np.random.seed(24)
    net = network2.Network([4, 7, 3], dtype="float64")
    weights, biases = copies(net)
    ours = list(data)
    random.seed(8)
    net.SGD(ours, 2, 10, 0.9, lmbda=lmbda)
    book = list(data)
    random.seed(8)
    for _ in range(2):
        random.shuffle(book)
        for k in range(0, len(book), 10):
            weights, biases = reference_update(weights, biases, book[k : k + 10], 0.9, False, lmbda, len(book))
    assert all(a is b for a, b in zip(ours, book, strict=True))
    assert max_difference(net.weights + net.biases, weights + biases) < 1e-12


def book_epochs(weights, biases, book, epochs, eta, lmbda, m=10, quadratic=False):
    """The book's SGD on list ``book`` (shuffled in place with random.shuffle), per-example reference maths."""
    for _ in range(epochs):
        random.shuffle(book)
        for k in range(0, len(book), m):
            weights, biases = reference_update(weights, biases, book[k : k + m], eta, quadratic, lmbda, len(book))
    return weights, biases


@pytest.mark.parametrize("backend_name", backend_params(["numpy", "array_api_strict", "jax"]))
def test_sgd_on_each_backend_agrees_with_the_books_algorithm(backend_name, capsys):
    """The engine's step on every backend (step by step, or compiled on JAX): the book's epochs either way."""
    data = toy_data(n=37, seed=12)
    for cost in (network2.QuadraticCost, network2.CrossEntropyCost):
        np.random.seed(40)
        net = network2.Network([4, 6, 5, 3], cost=cost, backend=backend_name, dtype="float64")
        weights, biases = copies(net)
        ours, book = list(data), list(data)
        random.seed(41)
        net.SGD(ours, 3, 8, 0.6, lmbda=2.0)
        random.seed(41)
        weights, biases = book_epochs(weights, biases, book, 3, 0.6, 2.0, m=8, quadratic=cost is network2.QuadraticCost)
        assert all(a is b for a, b in zip(ours, book, strict=True))
        assert max_difference(net.weights + net.biases, weights + biases) < 1e-12


class CountingDataset(_engine.Dataset):
    made = 0

    def __init__(self, *args, **kwargs):
        type(self).made += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def conversions(monkeypatch):
    """Counts the lists converted to matrices (from an empty cache)."""
    _engine.clear_cache()
    CountingDataset.made = 0
    monkeypatch.setattr(_engine, "Dataset", CountingDataset)
    yield CountingDataset
    _engine.clear_cache()


def test_a_list_is_converted_once_and_followed_through_the_shuffles(conversions, capsys):
    """The same list again (SGD, a new network, evaluate): no new conversion, and still the book's epochs."""
    data = toy_data(n=41, seed=13)
    tests = toy_data(n=15, seed=14, labels=True)
    book = list(data)
    np.random.seed(42)
    net = network.Network([4, 5, 3], dtype="float64")
    weights, biases = copies(net)
    random.seed(43)
    net.SGD(data, 2, 10, 1.5, test_data=tests)
    net.SGD(data, 1, 10, 1.5, test_data=tests)
    assert net.evaluate(tests) == int(capsys.readouterr().out.splitlines()[-1].split(":")[1].split("/")[0])
    assert conversions.made == 2  # the training list and the test list, once each
    random.seed(43)
    weights, biases = book_epochs(weights, biases, book, 3, 1.5, 0.0, quadratic=True)
    assert all(a is b for a, b in zip(data, book, strict=True))  # the caller's list, shuffled as the book's code does
    assert max_difference(net.weights + net.biases, weights + biases) < 1e-12
    other = network2.Network([4, 5, 3], dtype="float64")
    other.SGD(data, 1, 10, 0.5, evaluation_data=tests, monitor_evaluation_accuracy=True, monitor_training_cost=True)
    other.accuracy(tests)
    assert conversions.made == 2
    network2.Network([4, 5, 3]).SGD(data, 1, 10, 0.5)
    assert conversions.made == 3  # another dtype: its own matrices
    mlp_book_clear_cache()
    net.SGD(data, 1, 10, 1.5)
    assert conversions.made == 4


def mlp_book_clear_cache():
    import mlp.book

    mlp.book.clear_cache()


def test_a_changed_list_is_converted_again(conversions, capsys):
    """An element replaced, an element added or removed, a list of mutable pairs: the new data is what trains."""
    base = toy_data(n=30, seed=15)
    fresh = toy_data(n=5, seed=16)
    data = list(base)
    np.random.seed(44)
    net = network2.Network([4, 6, 3], dtype="float64")
    random.seed(45)
    net.SGD(data, 1, 10, 0.5)
    made = conversions.made
    for change in ("replace", "append", "pop", "reorder"):
        if change == "replace":
            data[7] = fresh[0]
        elif change == "append":
            data.append(fresh[1])
        elif change == "pop":
            data.pop(3)
        else:
            data.reverse()
        weights, biases = copies(net)
        book = list(data)
        random.seed(46)
        net.SGD(data, 2, 10, 0.5, lmbda=1.0)
        random.seed(46)
        weights, biases = book_epochs(weights, biases, book, 2, 0.5, 1.0)
        assert conversions.made == made + 1, change
        made = conversions.made
        assert max_difference(net.weights + net.biases, weights + biases) < 1e-12, change
        assert all(a is b for a, b in zip(data, book, strict=True))
    # pairs as lists can change inside: such a list is converted on every call, never kept
    pairs = [[x, y] for x, y in base]
    net.SGD(pairs, 1, 10, 0.5)
    pairs[0][0] = fresh[2][0]
    weights, biases = copies(net)
    book = [tuple(p) for p in pairs]
    random.seed(47)
    net.SGD(pairs, 1, 10, 0.5)
    random.seed(47)
    weights, biases = book_epochs(weights, biases, book, 1, 0.5, 0.0)
    assert max_difference(net.weights + net.biases, weights + biases) < 1e-12
    assert conversions.made == made + 2


def test_the_kept_lists_are_few(conversions, capsys):
    lists = [toy_data(n=12, seed=50 + i) for i in range(_engine.CACHE_SIZE + 2)]
    net = network.Network([4, 5, 3])
    for data in lists:
        net.SGD(data, 1, 5, 1.0)
    assert conversions.made == len(lists) and len(_engine._CACHE) == _engine.CACHE_SIZE
    net.SGD(lists[-1], 1, 5, 1.0)  # the latest are kept
    net.SGD(lists[0], 1, 5, 1.0)  # the first was dropped
    assert conversions.made == len(lists) + 1
    net.update_mini_batch(toy_data(n=5, seed=60), 1.0)  # a mini-batch is never kept
    assert conversions.made == len(lists) + 2 and len(_engine._CACHE) == _engine.CACHE_SIZE


# -- weights and biases are the network --------------------------------------------------------------


def test_weights_and_biases_assigned_or_changed_in_place_take_effect(backend, capsys):
    np.random.seed(25)
    net = network2.Network([4, 5, 3], cost=network2.QuadraticCost, backend=backend, dtype="float64")
    x = toy_data(n=1)[0][0]
    net.weights[1][...] = 0.0  # in place: every output is then sigmoid(b)
    net.biases[1][:, 0] = [-1.0, 0.0, 2.0]
    np.testing.assert_allclose(net.feedforward(x)[:, 0], _sig(np.array([-1.0, 0.0, 2.0])), rtol=1e-14)
    net.biases = [np.zeros((5, 1)), np.full((3, 1), 3.0)]  # assigned anew
    np.testing.assert_allclose(net.feedforward(x)[:, 0], _sig(np.full(3, 3.0)), rtol=1e-14)
    net.weights[1] = np.ones((3, 5))  # an entry replaced
    hidden = _sig(net.weights[0] @ x)
    np.testing.assert_allclose(net.feedforward(x)[:, 0], _sig(np.full(3, hidden.sum() + 3.0)), rtol=1e-14)
    held = net.weights[0]
    before = held.copy()
    net.SGD(toy_data(n=20), 1, 5, 1.0)
    after = net.weights[0]
    assert after.shape == (5, 4) and max_difference([after], [before]) > 0
    np.testing.assert_array_equal(held, after)  # an array the caller holds shows the trained values too
    mine = [np.ones((5, 4)), np.ones((3, 5))]
    net.weights = mine  # copied: training never writes into the caller's arrays
    net.SGD(toy_data(n=20), 1, 5, 1.0)
    assert all(np.all(w == 1.0) for w in mine) and not np.all(net.weights[0] == 1.0)


def test_wrong_shapes_are_refused_with_the_layer_named():
    net = network.Network([4, 5, 3])
    with pytest.raises(ValueError, match=r"net.weights\[1\] has shape \(5, 3\).*\(3, 5\)"):
        net.weights = [np.zeros((5, 4)), np.zeros((5, 3))]
    with pytest.raises(ValueError, match="needs 2 arrays"):
        net.biases = [np.zeros((5, 1))]
    net.biases[0] = np.zeros(5)  # a bad entry put into the list is named when the network is next used
    with pytest.raises(ValueError, match=r"net.biases\[0\] has shape \(5,\)"):
        net.feedforward(np.zeros((4, 1)))


# -- costs ----------------------------------------------------------------------------------------------


def test_cost_functions_and_deltas():
    a, y, z = np.array([[0.2], [0.9]]), np.array([[0.0], [1.0]]), np.array([[-1.0], [2.0]])
    assert network2.QuadraticCost.fn(a, y) == pytest.approx(0.5 * (0.2**2 + 0.1**2))
    assert network2.CrossEntropyCost.fn(a, y) == pytest.approx(-np.log(0.8) - np.log(0.9))
    assert network2.CrossEntropyCost.fn(np.array([[1.0]]), np.array([[1.0]])) == 0.0  # 0 * log 0 counts as 0
    s = _sig(z)
    np.testing.assert_allclose(network2.QuadraticCost.delta(z, a, y), (a - y) * s * (1 - s))
    np.testing.assert_array_equal(network2.CrossEntropyCost().delta(z, a, y), a - y)  # instance calls work too
    np.testing.assert_allclose(network2.sigmoid(z), s, rtol=1e-15)
    np.testing.assert_allclose(network.sigmoid_prime(z), s * (1 - s), rtol=1e-15)
    assert network2.sigmoid(-800.0) == pytest.approx(np.exp(-800.0), rel=1e-12, abs=0)  # no overflow


def test_a_cost_instance_trains_and_feeds_forward_like_the_class(capsys):
    outs = []
    for cost in (network2.CrossEntropyCost, network2.CrossEntropyCost()):
        np.random.seed(26)
        random.seed(26)
        net = network2.Network([4, 5, 3], cost=cost)
        net.SGD(toy_data(), 1, 10, 0.5)
        outs.append(net.feedforward(toy_data(n=3, seed=9)[2][0]))
    assert np.all((outs[0] > 0) & (outs[0] < 1))  # activations, not raw outputs
    np.testing.assert_array_equal(outs[0], outs[1])
    with pytest.raises(TypeError, match="QuadraticCost or CrossEntropyCost"):
        network2.Network([4, 3], cost=object)


def test_total_cost_divides_the_l2_term_by_the_size_of_the_data_measured():
    np.random.seed(27)
    net = network2.Network([4, 5, 3], dtype="float64")
    data, labelled = toy_data(n=30), toy_data(n=12, labels=True)
    norms = sum(float(np.sum(w**2)) for w in net.weights)
    assert net.total_cost(data, 2.0) - net.total_cost(data, 0.0) == pytest.approx(0.5 * 2.0 / 30 * norms, rel=1e-12)
    assert net.total_cost(labelled, 2.0, convert=True) - net.total_cost(labelled, 0.0, convert=True) == pytest.approx(
        0.5 * 2.0 / 12 * norms, rel=1e-12
    )
    # the plain cost is the mean of the book's per-example cost
    want = np.mean([network2.CrossEntropyCost.fn(net.feedforward(x), y) for x, y in data])
    assert net.total_cost(data, 0.0) == pytest.approx(want, rel=1e-12)


def test_accuracy_and_evaluate_count_correct_examples():
    np.random.seed(28)
    net = network2.Network([4, 5, 3], dtype="float64")
    labelled, vectors = toy_data(n=40, labels=True), toy_data(n=40)
    want = sum(int(np.argmax(net.feedforward(x)) == t) for x, t in labelled)
    assert net.accuracy(labelled) == want == net.accuracy(vectors, convert=True)
    with pytest.raises(ValueError, match="convert=True"):
        net.accuracy(vectors)
    chapter1 = network.Network([4, 5, 3])
    assert chapter1.evaluate(labelled) == sum(int(np.argmax(chapter1.feedforward(x)) == t) for x, t in labelled)


def test_zip_inputs_and_monitor_flags_without_data(capsys):
    net = network2.Network([4, 5, 3])
    xs, ys = zip(*toy_data(n=20), strict=True)
    lists = net.SGD(
        zip(xs, ys, strict=True),
        2,
        5,
        0.5,
        evaluation_data=zip(*zip(*toy_data(n=10, labels=True), strict=True), strict=True),
        monitor_evaluation_accuracy=True,
    )
    assert [len(v) for v in lists] == [0, 2, 0, 0]
    with pytest.raises(ValueError, match="monitor_evaluation_cost=True needs evaluation_data"):
        net.SGD(toy_data(), 1, 10, 0.5, monitor_evaluation_cost=True)
    chapter1 = network.Network([4, 5, 3])
    # test data by position
    chapter1.SGD(zip(xs, ys, strict=True), 1, 5, 1.0, zip(*zip(*toy_data(n=10, labels=True), strict=True), strict=True))
    assert re.fullmatch(r"Epoch 0: \d+ / 10", capsys.readouterr().out.splitlines()[-1])


def test_early_stopping_stops_after_n_epochs_without_a_better_accuracy(capsys):
    np.random.seed(29)
    net = network2.Network([4, 5, 3])
    ev = toy_data(n=10, labels=True)
    lists = net.SGD(
        toy_data(), 50, 10, 1e-9, evaluation_data=ev, monitor_evaluation_accuracy=True, early_stopping_n=3
    )  # eta ~ 0: the accuracy never improves after the first epoch
    assert len(lists[1]) == 4


def test_overridden_methods_are_the_ones_called(capsys):
    calls = {"update": 0, "backprop": 0}

    class Counting(network.Network):
        def update_mini_batch(self, mini_batch, eta):
            calls["update"] += 1
            super().update_mini_batch(mini_batch, eta)

        def backprop(self, x, y):
            calls["backprop"] += 1
            return super().backprop(x, y)

    np.random.seed(30)
    net = Counting([4, 5, 3], dtype="float64")
    weights, biases = copies(net)
    batch = toy_data(n=10)
    net.SGD(list(batch), 1, 5, 2.0)
    assert calls == {"update": 2, "backprop": 10}
    calls.update(update=0, backprop=0)
    np.random.seed(30)
    plain = network.Network([4, 5, 3], dtype="float64")
    plain.update_mini_batch(batch, 2.0)
    net.weights, net.biases = weights, biases
    net.update_mini_batch(batch, 2.0)  # the per-example loop over the subclass's backprop: the same step
    assert max_difference(net.weights + net.biases, copies(plain)[0] + copies(plain)[1]) < 1e-13


# -- files ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_json_save_and_load_round_trip(tmp_path, dtype):
    np.random.seed(31)
    net = network2.Network([4, 5, 3], cost=network2.QuadraticCost, dtype=dtype)
    path = tmp_path / "net.json"
    net.save(path)
    data = json.loads(path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"} and data["cost"] == "QuadraticCost"
    assert np.array(data["weights"][1]).shape == (3, 5) and np.array(data["biases"][0]).shape == (5, 1)
    back = network2.load(path, dtype=dtype)
    assert back.sizes == [4, 5, 3] and back.cost is network2.QuadraticCost
    assert max_difference(back.weights + back.biases, copies(net)[0] + copies(net)[1]) == 0.0
    x = toy_data(n=1)[0][0]
    np.testing.assert_array_equal(back.feedforward(x), net.feedforward(x))


def test_load_reads_a_file_in_the_books_format(tmp_path):
    """A file as the book's save writes it: json.dump of sizes, nested weight/bias lists and the cost's name."""
    rng = np.random.default_rng(32)
    weights = [rng.standard_normal((5, 4)), rng.standard_normal((3, 5))]
    biases = [rng.standard_normal((5, 1)), rng.standard_normal((3, 1))]
    path = tmp_path / "book.json"
    with open(path, "w") as f:
        json.dump(
            {
                "sizes": [4, 5, 3],
                "weights": [w.tolist() for w in weights],
                "biases": [b.tolist() for b in biases],
                "cost": "CrossEntropyCost",
            },
            f,
        )
    net = network2.load(path, dtype="float64")
    assert net.cost is network2.CrossEntropyCost
    assert max_difference(net.weights + net.biases, weights + biases) == 0.0
    x = toy_data(n=1)[0][0]
    want = _sig(weights[1] @ _sig(weights[0] @ x + biases[0]) + biases[1])
    np.testing.assert_allclose(net.feedforward(x), want, rtol=1e-14)


def test_load_refuses_bad_files_naming_them(tmp_path):
    good = {"sizes": [2, 1], "weights": [[[0.5, 0.5]]], "biases": [[[0.0]]], "cost": "QuadraticCost"}
    cases = [
        ("not json", "not a network saved as JSON"),
        (json.dumps({**good, "cost": "os.system"}), "cost 'os.system' is not one of"),
        (json.dumps({k: v for k, v in good.items() if k != "biases"}), "no 'biases' entry"),
        (json.dumps({**good, "weights": [[[0.5, 0.5, 0.5]]]}), r"weights\[0\] has shape \(1, 3\)"),
    ]
    for i, (text, message) in enumerate(cases):
        path = tmp_path / f"bad{i}.json"
        path.write_text(text)
        with pytest.raises(ValueError, match=message) as e:
            network2.load(path)
        assert str(path) in str(e.value)


def test_mlp_checkpoint_round_trip(tmp_path):
    np.random.seed(33)
    net = network2.Network([4, 5, 3], dtype="float64")
    net.save_checkpoint(tmp_path / "net.safetensors")
    back = network2.load_checkpoint(tmp_path / "net.safetensors")
    assert back.cost is network2.CrossEntropyCost and back.dtype == "float64"
    assert max_difference(back.weights + back.biases, copies(net)[0] + copies(net)[1]) == 0.0
    chapter1 = network.Network([4, 5, 3])
    chapter1.save_checkpoint(tmp_path / "c1.safetensors")
    again = network.load_checkpoint(tmp_path / "c1.safetensors")
    np.testing.assert_array_equal(again.weights[1], chapter1.weights[1])
    with pytest.raises(ValueError, match="quadratic cost only"):
        network.load_checkpoint(tmp_path / "net.safetensors")


def test_every_public_name_of_the_books_modules_is_here():
    names = {
        network: {"Network", "sigmoid", "sigmoid_prime"},
        network2: {
            "QuadraticCost",
            "CrossEntropyCost",
            "Network",
            "load",
            "vectorized_result",
            "sigmoid",
            "sigmoid_prime",
        },
        mnist_loader: {"load_data", "load_data_wrapper", "vectorized_result"},
    }
    for module, wanted in names.items():
        assert wanted <= set(dir(module)), module.__name__
    methods = {
        network.Network: ["feedforward", "SGD", "update_mini_batch", "backprop", "evaluate", "cost_derivative"],
        network2.Network: [
            "default_weight_initializer",
            "large_weight_initializer",
            "feedforward",
            "SGD",
            "update_mini_batch",
            "backprop",
            "accuracy",
            "total_cost",
            "save",
        ],
    }
    for cls, wanted in methods.items():
        assert all(callable(getattr(cls, m)) for m in wanted)
    import inspect

    sgd = inspect.signature(network2.Network.SGD).parameters
    assert list(sgd)[:11] == [
        "self",
        "training_data",
        "epochs",
        "mini_batch_size",
        "eta",
        "lmbda",
        "evaluation_data",
        "monitor_evaluation_cost",
        "monitor_evaluation_accuracy",
        "monitor_training_cost",
        "monitor_training_accuracy",
    ]
    assert sgd["lmbda"].default == 0.0 and sgd["evaluation_data"].default is None
    assert list(inspect.signature(network.Network.SGD).parameters) == [
        "self",
        "training_data",
        "epochs",
        "mini_batch_size",
        "eta",
        "test_data",
    ]
    assert inspect.signature(network2.Network).parameters["cost"].default is network2.CrossEntropyCost
    np.random.seed(0)
    net = network.Network([3, 2])
    assert net.num_layers == 2 and net.sizes == [3, 2]
    np.testing.assert_array_equal(net.cost_derivative(np.ones((2, 1)), np.zeros((2, 1))), np.ones((2, 1)))
