"""What :mod:`mlp.book.network` and :mod:`mlp.book.network2` share: the book's network on the matrix engine.

The book keeps a network as two lists of NumPy arrays, ``weights`` ``(n_out, n_in)`` and
``biases`` ``(n_out, 1)``, and loops over the examples of a mini-batch.  Here those two
lists are the network as the reader sees it, and an :class:`mlp.Sequential` (batch first:
``W`` is ``(n_in, n_out)``, so a book weight matrix is its transpose) does the work: every
mini-batch is one matrix through it, on whichever backend ``MLP_BACKEND`` names.

Keeping the two in step without costing speed:

* on the NumPy backend the lists hold *views* of the engine's own parameter buffers
  (``W.T`` and ``b`` as a column), so reading or changing them in place is reading or
  changing the engine, at no cost;
* elsewhere (PyTorch, CuPy, JAX, array-api-strict) they are host copies: every public
  method copies them to the device before it runs and back after it changes them;
* a list or an entry assigned anew (``net.weights = [...]``, ``net.weights[0] = w``) is
  seen the next time the engine is used (the views are then no longer the engine's); an
  assigned list is copied, so training never writes into the caller's own arrays.

Inside ``SGD`` the lists are read once at the start and refreshed after every epoch, as
the book's own code would show them between epochs.

``SGD`` itself (:meth:`EngineNetwork._epochs`): the training list is converted once into one
matrix of rows ``[x, 1, target]`` (kept across calls, see :func:`converted`); each epoch shuffles
the positions with ``random.shuffle``, as the book shuffles the list, reorders the caller's list
by them and gathers each mini-batch's rows from the matrix.  The step is the engine's own, the one
:func:`mlp.fit` runs (:meth:`EngineNetwork._engine_epoch`), compiled in loops where the backend compiles.
"""

from __future__ import annotations

import operator
import random

import numpy as np

import mlp
from mlp.core.validate import non_negative, positive, positive_int

QUADRATIC, CROSS_ENTROPY = "quadratic", "cross_entropy"


def sigmoid(z):
    """The logistic function ``1 / (1 + exp(-z))``, elementwise.

    Written as ``exp(-log(1 + exp(-z)))`` (``logaddexp``) so that no ``exp`` overflows for
    very negative ``z`` (the book's form warns there) while tiny values keep their digits.
    """
    z = np.asarray(z)
    real = z.dtype if z.dtype.kind == "f" else np.float64
    return np.exp(-np.logaddexp(np.zeros((), real), -z.astype(real, copy=False)))


def sigmoid_prime(z):
    """Derivative of :func:`sigmoid`: ``sigmoid(z) * (1 - sigmoid(z))``."""
    s = sigmoid(z)
    return s * (1 - s)


def one_hot_column(j, n_out):
    """A ``(n_out, 1)`` float64 column with 1.0 at index ``j`` (a class label)."""
    if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)) or not 0 <= j < n_out:
        raise ValueError(f"label {j!r} is not a class index in 0..{n_out - 1}")
    e = np.zeros((n_out, 1))
    e[int(j)] = 1.0
    return e


class Dataset:
    """A list of book pairs ``(x, y)`` as matrices: ``X`` ``(n, n_in)`` and targets or labels.

    ``labels`` says whether the ``y`` were class labels (validation and test data) rather
    than target columns (training data); ``Y`` is then ``(n,)`` int64, else ``(n, n_out)`` float64.
    For target columns ``X`` is a view of :meth:`packed`, the matrix training gathers its
    mini-batches from.
    """

    def __init__(self, data, n_in, n_out, dtype, what="data"):
        if not isinstance(data, (list, tuple)):
            data = list(data)
        if not data:
            raise ValueError(f"{what} is empty: there is nothing to train on or measure")
        self.n, self.n_in, self.n_out, self.dtype = len(data), n_in, n_out, np.dtype(dtype)
        self._packed = None
        try:
            xs, ys = zip(*data, strict=True)
        except (TypeError, ValueError):
            xs = ys = None
        if xs is None:
            self._explain(data, n_in, what)
        first = np.asarray(ys[0])
        self.labels = first.ndim == 0
        if self.labels:
            self._labels(ys, n_out, what)
            self.X = self._matrix(data, xs, n_in, None, what)
        else:
            self._targets(ys, n_out, what)
            packed = self._packed = np.empty((self.n, n_in + 1 + n_out), dtype=self.dtype)
            self.X = self._matrix(data, xs, n_in, packed[:, :n_in], what)
            packed[:, n_in] = 1
            packed[:, n_in + 1 :] = self.Y

    def _matrix(self, data, xs, n_in, out, what):
        """The x as ``(n, n_in)`` rows in the dtype, written into ``out`` when given."""
        if out is None:
            out = np.empty((self.n, n_in), dtype=self.dtype)
        try:  # the common case, (n_in, 1) columns of real numbers: one pass, straight into place
            return np.concatenate(xs, axis=1, out=out.T, casting="same_kind").T
        except (TypeError, ValueError, IndexError):
            pass  # other shapes or kinds: checked and explained below
        try:
            X = np.asarray(xs)  # (n, n_in, 1) or (n, n_in)
        except (TypeError, ValueError):
            X = None
        if X is None or X.dtype.kind not in "biuf" or X.shape[1:] not in ((n_in, 1), (n_in,)):
            self._explain(data, n_in, what)
        out[...] = X.reshape(self.n, n_in)
        return out

    def _labels(self, ys, n_out, what):
        try:
            self.Y = np.asarray(ys)
        except (TypeError, ValueError):
            self.Y = None
        if self.Y is None or self.Y.ndim != 1 or self.Y.dtype.kind not in "iu":
            raise ValueError(f"{what}: y of {what}[0] is a class label, so every y must be an integer label")
        self.Y = self.Y.astype(np.int64, copy=False)
        bad = np.flatnonzero((self.Y < 0) | (self.Y >= n_out))
        if bad.size:
            raise ValueError(f"{what}[{bad[0]}]: label {self.Y[bad[0]]} is not a class index in 0..{n_out - 1}")

    def _targets(self, ys, n_out, what):
        try:
            Y = np.asarray(ys, dtype=np.float64)
        except (TypeError, ValueError):
            Y = None
        if Y is None or Y.shape[1:] not in ((n_out, 1), (n_out,)):
            i = next((i for i, y in enumerate(ys) if np.shape(y) not in ((n_out, 1), (n_out,))), 0)
            raise ValueError(
                f"{what}[{i}]: y has shape {np.shape(ys[i])}, the network outputs ({n_out}, 1) "
                f"(training data: target columns; validation and test data: integer labels)"
            )
        self.Y = Y.reshape(self.n, n_out)

    @staticmethod
    def _explain(data, n_in, what):
        """Raise the error that names the first pair that is not ``(x, y)`` with ``x`` a ``(n_in, 1)`` column."""
        for i, pair in enumerate(data):
            try:
                x, _ = pair
            except (TypeError, ValueError):
                raise ValueError(f"{what}[{i}] is {type(pair).__name__}, not an (x, y) pair") from None
            x = np.asarray(x)
            if x.dtype.kind not in "biuf" or x.shape not in ((n_in, 1), (n_in,)):
                raise ValueError(
                    f"{what}[{i}]: x has shape {x.shape} and dtype {x.dtype}, "
                    f"the network takes columns ({n_in}, 1) of numbers"
                )
        raise ValueError(f"{what}: the x do not form one ({len(data)}, {n_in}) matrix")

    def packed(self):
        """``(n, n_in + 1 + n_out)`` rows ``[x, 1, target]`` in the dtype: one gather per mini-batch.

        The column of ones carries the biases through the same matrix product as the weights.
        """
        if self._packed is None:  # labels (training pairs may carry them): made on first use
            packed = np.empty((self.n, self.n_in + 1 + self.n_out), dtype=self.dtype)
            packed[:, : self.n_in] = self.X
            packed[:, self.n_in] = 1
            packed[:, self.n_in + 1 :] = self.targets(self.n_out)
            self._packed = packed
        return self._packed

    def targets(self, n_out):
        """``(n, n_out)`` float64 target rows (one-hot rows for labels)."""
        return np.eye(n_out)[self.Y] if self.labels else self.Y

    def classes(self):
        """``(n,)`` int64 class labels (the argmax of target rows)."""
        return self.Y if self.labels else np.argmax(self.Y, axis=1)


# -- the lists already converted -------------------------------------------------------------------
#
# Converting 50,000 pairs into a matrix costs more than an epoch's steps, and the book passes the same
# list again and again: every epoch, to every network of a session.  So the last few lists converted
# are kept, each with a copy of its list (the same pair objects, in the order the caller's list has
# them) and ``rows``, the matrix row of each position.  A list is the one kept when it holds the same
# pair objects in the same order (identity, one C pass over the list); SGD's shuffles keep the copy in
# step.  Pairs are tuples, so the same pair is the same x and y; a list holding anything else is never
# kept.  Changing an x in place (``x[...] = ...``) after the list was converted is not seen.

#: how many converted lists are kept (training, validation, test and one more)
CACHE_SIZE = 4
_CACHE: list = []


class Converted:
    """A list converted: ``pairs`` (its elements, in the caller's current order), ``dataset``, ``rows``."""

    __slots__ = ("pairs", "dataset", "rows", "key")

    def __init__(self, pairs, dataset, key):
        self.pairs, self.dataset, self.key = pairs, dataset, key
        self.rows = None  # None: row i for position i

    def order(self):
        """The matrix row of each position of the list (int64)."""
        if self.rows is None:
            self.rows = np.arange(len(self.pairs), dtype=np.int64)
        return self.rows


def clear_cache():
    """Forget the lists converted so far (and the memory their matrices hold)."""
    _CACHE.clear()


def converted(data, n_in, n_out, dtype, what, keep=True):
    """The :class:`Converted` of list ``data``: the one kept if ``data`` holds its pairs, else a new one.

    ``keep``: store a new one (if every pair is a tuple), dropping the least recently used.
    """
    key = (n_in, n_out, np.dtype(dtype))
    n = len(data)
    for i, c in enumerate(_CACHE):
        if c.key == key and len(c.pairs) == n and all(map(operator.is_, data, c.pairs)):
            if i != len(_CACHE) - 1:
                _CACHE.append(_CACHE.pop(i))
            return c
    c = Converted(list(data), Dataset(data, n_in, n_out, dtype, what), key)
    if keep and all(type(p) is tuple for p in c.pairs):
        _CACHE.append(c)
        del _CACHE[:-CACHE_SIZE]
    return c


class EngineNetwork:
    """The book's ``Network`` state and maths, served by :class:`mlp.Sequential`.

    Subclasses say which cost the engine minimises (:meth:`_cost_kind`) and provide the
    book's public methods; everything here is shared plumbing.
    """

    def _setup(self, sizes, backend, dtype):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output layer, got {sizes!r}")
        for i, s in enumerate(sizes):
            positive_int(f"sizes[{i}]", s, "Network")
        self.num_layers = len(sizes)
        self.sizes = sizes
        self._dtype = mlp.core.model.check_dtype(dtype)
        self._backend = backend
        self._engine = None  # (cost kind, Sequential, loss), built on first use
        self._alias = None  # NumPy: (engine arrays, weight views, bias views) while the lists are those views
        self._optimizers = {}
        self._weights, self._biases = [], []

    # -- the two lists ------------------------------------------------------------------------
    @property
    def dtype(self):
        """``"float32"`` (the default) or ``"float64"`` (the book's precision)."""
        return self._dtype

    @property
    def weights(self):
        """The book's weights: one ``(n_out, n_in)`` array per layer, in the network's dtype."""
        return self._weights

    @weights.setter
    def weights(self, value):
        self._weights = self._checked_list(
            value, "weights", [(b, a) for a, b in zip(self.sizes, self.sizes[1:], strict=False)]
        )

    @property
    def biases(self):
        """The book's biases: one ``(n_out, 1)`` column per layer, in the network's dtype."""
        return self._biases

    @biases.setter
    def biases(self, value):
        self._biases = self._checked_list(value, "biases", [(b, 1) for b in self.sizes[1:]])

    def _checked_list(self, value, name, shapes, copy=True):
        """``value`` as a list of arrays of ``shapes`` in the network's dtype, or a ValueError naming the entry.

        Assigned lists are copied (``copy``): training then never writes into the caller's arrays.
        """
        value = [np.asarray(v) for v in value]
        if len(value) != len(shapes):
            raise ValueError(f"net.{name} needs {len(shapes)} arrays for sizes {self.sizes}, got {len(value)}")
        for i, (v, shape) in enumerate(zip(value, shapes, strict=True)):
            if v.shape != shape:
                raise ValueError(f"net.{name}[{i}] has shape {v.shape}, sizes {self.sizes} need {shape}")
            if v.dtype.kind not in "iuf":
                raise ValueError(f"net.{name}[{i}] has dtype {v.dtype}, not real numbers")
        return [np.array(v, dtype=self._dtype, copy=True if copy else None) for v in value]

    def _draw(self, scale_by_fan_in):
        """Biases then weights from the global ``np.random``, in the book's order of draws."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:], strict=False))
        biases = [np.random.randn(n_out, 1) for _, n_out in pairs]
        weights = [np.random.randn(n_out, n_in) / (np.sqrt(n_in) if scale_by_fan_in else 1) for n_in, n_out in pairs]
        self.biases, self.weights = biases, weights

    # -- the engine ------------------------------------------------------------------------------
    def _cost_kind(self):
        raise NotImplementedError

    def _layers(self, kind):
        layers = []
        for k, (n_in, n_out) in enumerate(zip(self.sizes, self.sizes[1:], strict=False)):
            layers.append(mlp.Linear(n_in, n_out))
            if k < self.num_layers - 2 or kind == QUADRATIC:
                layers.append(mlp.Sigmoid())
        # with cross-entropy the output sigmoid is fused into the loss (its delta is a - y, exactly)
        return layers

    def _state(self):
        state = {}
        weights = self._checked_list(
            self._weights, "weights", [(b, a) for a, b in zip(self.sizes, self.sizes[1:], strict=False)], copy=False
        )
        biases = self._checked_list(self._biases, "biases", [(b, 1) for b in self.sizes[1:]], copy=False)
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            state[f"W{i}"], state[f"b{i}"] = w.T, b.reshape(-1)
        return state

    def _model(self):
        """The engine with the current lists loaded: built on first use, rebuilt if the cost changed."""
        kind = self._cost_kind()
        if self._engine is None or self._engine[0] != kind:
            model = mlp.Sequential(self._layers(kind), backend=self._backend, dtype=self._dtype)
            loss = (mlp.Quadratic() if kind == QUADRATIC else mlp.BinaryCrossEntropy()).bind(model.K)
            self._engine, self._alias = (kind, model, loss), None
        model = self._engine[1]
        if not self._aliased(model):
            model.load_state_dict(self._state())
            if isinstance(model.parameters()[0], np.ndarray):
                self._pull(model)  # the lists become views of the new buffers
        return model

    def _loss(self):
        return self._engine[2]

    def _aliased(self, model):
        alias = self._alias
        if alias is None:
            return False
        params, wv, bv = alias
        return (
            all(a is b for a, b in zip(model.parameters(), params, strict=True))
            and len(self._weights) == len(wv)
            and all(a is b for a, b in zip(self._weights, wv, strict=True))
            and len(self._biases) == len(bv)
            and all(a is b for a, b in zip(self._biases, bv, strict=True))
        )

    def _pull(self, model):
        """Make the lists show the engine's parameters (views on NumPy, copies elsewhere)."""
        params = model.parameters()
        if all(isinstance(p, np.ndarray) for p in params):
            if self._aliased(model):
                return
            self._weights = [W.T for W in params[0::2]]
            self._biases = [b.reshape(-1, 1) for b in params[1::2]]
            self._alias = (tuple(params), tuple(self._weights), tuple(self._biases))
            return
        to_numpy = model.backend.to_numpy
        # in place when possible, so that arrays the caller holds show the new values too
        for lst, new in (
            (self._weights, [np.asarray(to_numpy(W)).T for W in params[0::2]]),
            (self._biases, [np.asarray(to_numpy(b)).reshape(-1, 1) for b in params[1::2]]),
        ):
            for i, a in enumerate(new):
                if lst[i].shape == a.shape and lst[i].dtype == a.dtype and lst[i].flags.writeable:
                    lst[i][...] = a
                else:
                    lst[i] = np.array(a)

    def _device(self, model, a):
        return model.backend.asarray(np.ascontiguousarray(a), dtype=model.dtype)

    def _outputs(self, X):
        """The output layer for host rows ``X`` ``(n, n_in)``: activations (quadratic) or logits (cross-entropy)."""
        model = self._model()
        if not isinstance(model.parameters()[0], np.ndarray):  # NumPy takes the rows of a packed matrix as they are
            X = np.ascontiguousarray(X)
        return model.predict_values(model.backend.asarray(X, dtype=model.dtype))

    def _activations(self, outputs):
        return outputs if self._engine[0] == QUADRATIC else sigmoid(outputs)

    def _dataset(self, data, what, keep=True):
        """``data`` as a :class:`Dataset`: converted, or the one kept for this list (``keep``: keep a new one)."""
        if isinstance(data, Dataset):
            return data
        if not isinstance(data, (list, tuple)):
            data = list(data)
        if not data:
            raise ValueError(f"{what} is empty: there is nothing to train on or measure")
        return converted(data, self.sizes[0], self.sizes[-1], self._dtype, what, keep).dataset

    def _correct(self, data):
        """How many examples of a :class:`Dataset` the network classifies correctly (argmax of the output)."""
        return int(np.count_nonzero(np.argmax(self._outputs(data.X), axis=1) == data.classes()))

    def _mean_cost(self, data):
        """The cost summed over outputs, averaged over ``data``; float64 on the host from the engine's outputs."""
        out = np.asarray(self._outputs(data.X), dtype=np.float64)
        T = data.targets(self.sizes[-1])
        if self._engine[0] == QUADRATIC:
            per = 0.5 * np.sum((out - T) ** 2, axis=1)
        else:  # -t log a - (1 - t) log(1 - a) with a = sigmoid(z), as softplus(z) - t z: finite for any z
            per = np.sum(np.maximum(out, 0) - out * T + np.log1p(np.exp(-np.abs(out))), axis=1)
        return float(np.mean(per))

    def _l2(self):
        return float(sum(np.sum(np.asarray(w, dtype=np.float64) ** 2) for w in self._weights))

    # -- the book's per-example views, from the engine ---------------------------------------------
    def _feedforward(self, a):
        a = np.asarray(a)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] != self.sizes[0]:
            raise ValueError(f"feedforward: a has shape {a.shape}, the network takes columns ({self.sizes[0]}, 1)")
        return self._activations(np.asarray(self._outputs(a.T))).T

    def _backprop(self, x, y):
        model = self._model()
        x = np.asarray(x)
        if x.size != self.sizes[0]:
            raise ValueError(f"backprop: x has shape {x.shape}, the network takes columns ({self.sizes[0]}, 1)")
        n_out = self.sizes[-1]
        t = one_hot_column(y, n_out) if np.ndim(y) == 0 else np.asarray(y, dtype=np.float64)
        if t.size != n_out:
            raise ValueError(f"backprop: y has shape {np.shape(y)}, the network outputs ({n_out}, 1)")
        loss = self._loss()
        Y = model.forward(self._device(model, x.reshape(1, -1)))
        loss.forward(Y, self._device(model, t.reshape(1, -1)))
        model.backward(loss.backward(), need_input_grad=False)
        grads = [np.array(model.backend.to_numpy(g)) for g in model.gradients()]
        return [g.reshape(-1, 1) for g in grads[1::2]], [g.T.copy() for g in grads[0::2]]

    # -- training --------------------------------------------------------------------------------
    def _optimizer(self, eta, weight_decay):
        positive("eta", eta, "SGD")
        key = (float(eta), float(weight_decay))
        opt = self._optimizers.get(key)
        if opt is None:
            if len(self._optimizers) > 8:
                self._optimizers.clear()
            opt = self._optimizers[key] = mlp.SGD(eta, weight_decay=weight_decay)
        return opt

    def _update(self, mini_batch, eta, weight_decay, own_backprop):
        """One gradient-descent step on ``mini_batch`` (a list of pairs): one matrix through the engine.

        A subclass that overrides ``backprop`` gets the book's loop over examples instead, so
        that its own backprop is the one used.
        """
        non_negative("weight decay", weight_decay, "update_mini_batch")
        if not own_backprop:
            return self._update_by_examples(mini_batch, eta, weight_decay)
        model = self._model()
        data = self._dataset(mini_batch, "mini_batch", keep=False)
        mlp.train_step(
            model,
            self._loss(),
            self._optimizer(eta, weight_decay),
            self._device(model, data.X),
            self._device(model, data.targets(self.sizes[-1])),
        )
        self._pull(model)

    def _update_by_examples(self, mini_batch, eta, weight_decay):
        mini_batch = list(mini_batch)
        nabla_b = [np.zeros(b.shape) for b in self._biases]
        nabla_w = [np.zeros(w.shape) for w in self._weights]
        for x, y in mini_batch:
            db, dw = self.backprop(x, y)
            nabla_b = [s + d for s, d in zip(nabla_b, db, strict=True)]
            nabla_w = [s + d for s, d in zip(nabla_w, dw, strict=True)]
        step = eta / len(mini_batch)
        self.weights = [(1 - eta * weight_decay) * w - step * g for w, g in zip(self._weights, nabla_w, strict=True)]
        self.biases = [b - step * g for b, g in zip(self._biases, nabla_b, strict=True)]

    def _epochs(self, training_data, epochs, mini_batch_size, eta, weight_decay, after_epoch, update=None):
        """The book's loop: per epoch, ``random.shuffle`` the list, then one step per mini-batch.

        ``training_data`` is shuffled in place exactly as the book's code shuffles it (a list;
        anything else is copied into one first): ``random.shuffle`` of the positions makes the
        same swaps from the same state of ``random`` as shuffling the pairs, and the list is
        reordered by them.  The converted matrix never moves: each mini-batch gathers its rows.
        ``after_epoch(j)`` returns True to stop.
        ``update(mini_batch)``: a subclass's own ``update_mini_batch``, called per list slice instead.
        """
        epochs = int(epochs) if isinstance(epochs, (int, np.integer)) and epochs >= 0 else None
        if epochs is None:
            raise ValueError("SGD: epochs must be a non-negative integer")
        m = positive_int("mini_batch_size", mini_batch_size, "SGD")
        data = training_data if isinstance(training_data, list) else list(training_data)
        n = len(data)
        if update is not None:
            for j in range(epochs):
                random.shuffle(data)
                for k in range(0, n, m):
                    update(data[k : k + m])
                if after_epoch(j):
                    break
            return
        entry = converted(data, self.sizes[0], self.sizes[-1], self._dtype, "training_data")
        model = self._model()
        opt = self._optimizer(eta, weight_decay)
        run = self._engine_epoch(model, opt, entry.dataset.packed(), m, eta, weight_decay)
        for j in range(epochs):
            order = list(range(n))
            random.shuffle(order)  # the book's random.shuffle(training_data), swap for swap
            pairs = list(map(entry.pairs.__getitem__, order))
            rows = entry.order()[np.array(order, dtype=np.int64)]
            entry.pairs = ()  # matches no list until all three are in step (an interrupt between them is safe)
            data[:] = pairs
            entry.rows, entry.pairs = rows, pairs
            try:
                run(rows, j)
            finally:
                opt.t += -(-n // m)
                self._pull(model)
            if after_epoch(j):
                break

    def _engine_epoch(self, model, opt, packed, m, eta, weight_decay):
        """``run(rows, epoch)``: one epoch of the engine's own step (:class:`mlp.train.runner.StepRunner`, the
        step :func:`mlp.fit` runs), over the converted matrix in the order ``rows``.

        Step by step (NumPy, PyTorch, CuPy): each mini-batch's rows are gathered when its step comes, so the
        matrix is never copied for an epoch.  A compiling backend (JAX) gets the epoch's rows gathered once on the
        device, so that it runs the epoch as a few compiled loops of steps, as ``mlp.fit`` does.
        """
        from mlp.core.layers import StepContext
        from mlp.core.step import TrainState
        from mlp.train.runner import StepRunner

        xp, n_in, be = model.xp, self.sizes[0], model.backend
        P = self._device(model, packed)
        n = packed.shape[0]
        steps = -(-n // m)
        loss = self._loss()
        if be.compiler is None:
            current = {}

            def slicer(Xe, Te, epoch, s):
                B = xp.take(P, current["rows"][s * m : min((s + 1) * m, n)], axis=0)  # this mini-batch's rows
                return B[:, :n_in], B[:, n_in + 1 :], StepContext(True, 0, epoch, s)

            runner = StepRunner(model, loss, opt, m, n, 0, slicer=slicer)
        else:
            runner = StepRunner(model, loss, opt, m, n, 0)

        def run(rows, epoch):
            if be.compiler is None:
                current["rows"] = be.asarray(rows)
                runner.set_epoch(epoch, None, None)
            else:
                E = xp.take(P, be.asarray(rows), axis=0)
                runner.set_epoch(epoch, E[:, :n_in], E[:, n_in + 1 :])
            state, _ = runner.run(TrainState.of(model, opt), 0, steps)
            model.set_param_groups(state.groups)
            opt.set_state_groups(model, state.opt_state)

        return run

    # -- mlp's own checkpoint format -------------------------------------------------------------
    def save_checkpoint(self, filename):
        """Save as an mlp safetensors checkpoint (exact, any dtype; see :func:`mlp.save`).

        The book's JSON format is ``network2``'s ``save``; this is mlp's own, which
        ``mlp evaluate`` and :func:`mlp.load` read too.  Returns the path.
        """
        return mlp.save(
            self._model(),
            filename,
            book_module=type(self).__module__.rsplit(".", 1)[-1],
            book_cost=self._cost_name(),
            book_sizes=self.sizes,
        )

    def _cost_name(self):
        return "QuadraticCost" if self._cost_kind() == QUADRATIC else "CrossEntropyCost"


def from_checkpoint(cls, filename, backend, make):
    """A ``cls`` network from an mlp checkpoint written by ``save_checkpoint``.

    ``make(sizes, cost_name, dtype)`` builds the network (each module knows its costs).
    """
    ckpt = mlp.load_checkpoint(filename, backend=backend)
    extra = ckpt.extra
    if "book_sizes" not in extra:
        raise mlp.CheckpointError(f"{filename}: not saved by mlp.book's save_checkpoint (no book_sizes in it)")
    model = ckpt.model
    net = make(list(extra["book_sizes"]), extra.get("book_cost", "QuadraticCost"), model.dtype)
    state = model.state_dict()
    n = len(net.sizes) - 1
    net.weights = [state[f"W{i}"].T for i in range(n)]
    net.biases = [state[f"b{i}"].reshape(-1, 1) for i in range(n)]
    return net
