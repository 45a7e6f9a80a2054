"""The contenders: :class:`MLPFit` (``mlp.fit`` on a backend) and the reference loops beside it."""

from __future__ import annotations

from mlp.bench.configs import JAX_SCAN, PYTORCH, REFERENCE, SKLEARN, build_model, initial_weights
from mlp.bench.machine import cuda_available


class Contender:
    """Trains ``problem`` for (the first ``m`` samples of) an epoch and returns the synchronised seconds."""

    name = ""
    kind = ""
    backend = "numpy"
    device = "cpu"
    slow = False  # timed on part of an epoch, then extrapolated

    def epoch(self, epoch: int, m: int) -> float:
        raise NotImplementedError


class MLPFit(Contender):
    """:func:`mlp.fit` for one epoch; its ``seconds`` are the time of the training steps alone."""

    kind = "mlp"

    def __init__(self, problem, backend, fast=None, name=None):
        import mlp

        self.problem = problem
        self.model = build_model(problem, backend, fast=fast)
        be = self.model.backend
        self.backend, self.device = be.name, be.label
        self.name = name or f"mlp {be.name}" + ("" if self.device == "cpu" else f" ({self.device})")
        self.slow = be.slow
        self.loss = mlp.get_loss(problem.loss)
        self.optimizer = mlp.SGD(lr=problem.lr)
        # the data on the device once, rather than at every fit
        self.X = be.asarray(problem.X, dtype=problem.dtype)  # no copy where it is already there (NumPy)

    def epoch(self, epoch, m):
        import mlp

        X = self.X if m == self.problem.X.shape[0] else self.X[:m, ...]
        h = mlp.fit(
            self.model,
            X,
            self.problem.y[:m],
            loss=self.loss,
            optimizer=self.optimizer,
            epochs=epoch + 1,
            initial_epoch=epoch,
            batch_size=self.problem.batch,
            seed=self.problem.seed,
            progress=False,
            train_metrics=False,
        )
        return h.history["seconds"][-1]


def torch_eager(problem, weights, torch, device="cpu"):
    """The PyTorch eager contender (its code lives in ``mlp.bench.reference.torch_eager``)."""
    from mlp.bench.reference.torch_eager import EagerLoop

    return EagerLoop(problem, weights, torch, device, name=PYTORCH + ("" if str(device) == "cpu" else f" ({device})"))


def make_contenders(problem, backend_names, baselines, torch, notes):
    """The contenders for ``problem``: mlp on each usable backend, then the ``baselines``; skips go to ``notes``."""
    from mlp import backends
    from mlp.bench.reference import jax_scan, numpy_loops, sklearn_mlp

    weights = initial_weights(problem)
    out = []
    for name in backend_names:
        try:
            be = backends.get_backend(name)
        except backends.BackendUnavailableError as e:
            note = f"mlp {name} skipped: {' '.join(str(e).split())}"
            if note not in notes:
                notes.append(note)
            continue
        out.append(MLPFit(problem, be, fast=True))  # backends without fast paths get the reference
        if name == "numpy" and "reference" in baselines:
            out.append(MLPFit(problem, be, fast=False, name=REFERENCE))
        if name == "torch" and str(be.device) == "cpu" and cuda_available(torch):
            out.append(MLPFit(problem, backends.get_backend("torch", device="cuda")))
    if "handwritten" in baselines:
        out.append(numpy_loops.HandWritten(problem, weights))
    if "jax" in baselines:
        jax = jax_scan.load()
        if jax is not None:
            out.append(jax_scan.ScanLoop(problem, weights, jax, name=JAX_SCAN))
        elif "JAX jit skipped: jax is not installed (pip install jax)" not in notes:
            notes.append("JAX jit skipped: jax is not installed (pip install jax)")
    if "sklearn" in baselines:
        nn = sklearn_mlp.load()
        if nn is None:
            if "scikit-learn skipped: it is not installed (pip install scikit-learn)" not in notes:
                notes.append("scikit-learn skipped: it is not installed (pip install scikit-learn)")
        else:
            out.append(sklearn_mlp.PartialFitLoop(problem, weights, nn, name=SKLEARN))
            if problem.loss != "cross_entropy":
                note = (
                    f"{SKLEARN} on {problem.name}: scikit-learn trains a softmax with cross-entropy at the "
                    f"output, not the {problem.loss} cost: the same sizes, a slightly different network"
                )
                if note not in notes:
                    notes.append(note)
    if "pytorch" in baselines:
        if torch is not None:
            out.append(torch_eager(problem, weights, torch))
            if cuda_available(torch):
                out.append(torch_eager(problem, weights, torch, device="cuda"))
        elif "PyTorch eager skipped: torch is not installed (pip install torch)" not in notes:
            notes.append("PyTorch eager skipped: torch is not installed (pip install torch)")
    if "per-example" in baselines:
        out.append(numpy_loops.PerExample(problem, weights))
    return out
