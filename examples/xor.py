"""The classic XOR problem: a 2-3-1 ReLU network with the quadratic loss, trained to 100% accuracy.

Run on any backend: ``MLP_BACKEND=torch python examples/xor.py``.
"""

import numpy as np

import mlp


def train(backend=None, epochs=500, seed=0, verbose=True):
    """Train XOR; return (final loss, predictions 0/1 as a host array).

    With only three ReLU units some seeds leave units dead and stall at 75% (seeds 1, 3-7 do);
    seed 0 is one that converges, the same way on every backend.
    """
    X_host = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    T_host = np.array([[0], [1], [1], [0]], dtype=np.float32)
    model = mlp.Sequential(
        [mlp.Linear(2, 3, init="he"), mlp.ReLU(), mlp.Linear(3, 1, init="he")], backend=backend, seed=seed
    )
    be = model.backend
    X, T = be.asarray(X_host), be.asarray(T_host)
    loss, optimizer = mlp.Quadratic(), mlp.SGD(lr=0.1, momentum=0.9)
    for epoch in range(epochs):
        value = loss.forward(model.forward(X), T)
        model.backward(loss.backward(), need_input_grad=False)
        optimizer.step(model)
        if verbose and (epoch % 100 == 0 or epoch == epochs - 1):
            print(f"epoch {epoch:4d}  loss {float(be.to_numpy(value)):.6f}")
    outputs = be.to_numpy(model.forward(X)).ravel()
    predictions = (outputs > 0.5).astype(int)
    if verbose:
        print(
            f"backend {be.name}: outputs {np.round(outputs, 3)} -> predictions {predictions}, "
            f"targets {T_host.ravel().astype(int)}"
        )
        print(f"accuracy {np.mean(predictions == T_host.ravel()):.0%}")
    return float(be.to_numpy(value)), predictions


if __name__ == "__main__":
    train()
