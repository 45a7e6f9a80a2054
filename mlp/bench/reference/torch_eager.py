"""PyTorch as a reference for ``mlp bench``: the eager training loop a PyTorch user writes.

Importing this module does not import torch: :func:`load` does.
"""

from __future__ import annotations

import time

import numpy as np


def load():
    """The torch module, or None where PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def cuda_available(torch) -> bool:
    return bool(torch.cuda.is_available())


def describe(torch) -> dict:
    """Version, CPU threads and CUDA device of this PyTorch, for the benchmark's header."""
    return {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


class EagerLoop:
    """The training loop a PyTorch user writes, from the same initial weights, with plain SGD.

    A contender of ``mlp bench``: ``epoch(epoch, m)`` trains on the first ``m`` samples of
    ``problem`` (its batches in the order :func:`mlp.fit` uses) and returns the synchronised seconds.
    """

    kind = "pytorch"
    backend = "torch"
    slow = False

    def __init__(self, problem, weights, torch, device="cpu", name="PyTorch eager"):
        self.torch, self.problem, self.device, self.name = torch, problem, str(device), name
        nn = torch.nn
        dtype = getattr(torch, problem.dtype)
        act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}[problem.activation]
        layers = []
        for k, (W, b) in enumerate(weights):
            lin = nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
            with torch.no_grad():  # nn.Linear keeps W as (n_out, n_in)
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
                lin.bias.copy_(torch.from_numpy(b))
            layers.append(lin)
            if k < len(weights) - 1:
                layers.append(act())
        if problem.loss == "quadratic":
            layers.append(nn.Sigmoid())
            # the book's cost, 1/(2n) sum ||y - t||^2
            self.loss_fn = lambda out, t: nn.functional.mse_loss(out, t, reduction="sum") / (2 * out.shape[0])
            targets = torch.from_numpy(problem.T)
        else:
            self.loss_fn = nn.CrossEntropyLoss()
            targets = torch.from_numpy(problem.y)
        self.net = nn.Sequential(*layers).to(self.device)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=problem.lr)
        self.X = torch.from_numpy(problem.X).to(self.device)
        self.targets = targets.to(self.device)

    def _sync(self):
        if self.device != "cpu":
            self.torch.cuda.synchronize(self.device)

    def epoch(self, epoch, m):
        bs = self.problem.batch
        idx = self.torch.from_numpy(self.problem.perm(epoch, m)).to(self.device)
        X, T = self.X[idx], self.targets[idx]
        net, loss_fn, optimizer = self.net, self.loss_fn, self.optimizer
        self._sync()
        t0 = time.perf_counter()
        for i in range(0, m, bs):
            out = net(X[i : i + bs])
            loss = loss_fn(out, T[i : i + bs])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        self._sync()
        return time.perf_counter() - t0
