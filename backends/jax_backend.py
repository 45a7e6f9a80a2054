"""JAX (CPU, or GPU with a CUDA build of jaxlib), through its own array API namespace ``jax.numpy``.

``MLP_DEVICE`` (or ``device=``) is ``cpu``, ``gpu``/``cuda`` or ``gpu:N``/``cuda:N``; default: JAX's
default device.  JAX is an optional backend (the extra ``jax``: ``pip install ".[jax]"`` for the CPU build,
``pip install "jax[cuda12]"`` on an NVIDIA machine).

Two things only JAX does here:

* its arrays are immutable, so this backend proves that mlp/ never writes into an array;
* it compiles: :class:`JaxCompiler` turns mlp's pure training step into one ``jax.jit``-compiled
  ``lax.fori_loop`` per chunk of steps (what ``mlp.fit`` runs between two host reads), compiled
  once per data shape and batch size.

float64: selecting this backend turns on JAX's ``jax_enable_x64`` switch for the whole process
(JAX's only way to get float64 arrays).  What it changes for other JAX code in the process:
``jnp.array(1.0)``, ``jnp.arange(3)`` and other calls without an explicit dtype default to
float64/int64 instead of float32/int32.  mlp always passes its dtype explicitly, so its float32
models stay float32.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ._base import Backend, BackendUnavailableError

INSTALL = "pip install jax (CPU), or pip install 'jax[cuda12]' on an NVIDIA machine"


class JaxKernels:
    """Fast paths for immutable arrays: a snapshot needs no copy."""

    def keep(self, a):
        return a


class JaxCompiler:
    """Compiles mlp's pure step (a function of arrays) with ``jax.jit``."""

    def __init__(self, jax):
        self.jax = jax

    def jit(self, fn):
        """``fn`` compiled (one compilation per shape of its array arguments)."""
        return self.jax.jit(fn)

    def loop(self, step, max_steps: int):
        """A compiled loop of ``step`` over the full batches ``first..first+count-1`` of an epoch.

        ``step(carry, Xb, Tb, lr, t, epoch, s) -> (carry, loss)``.  The returned
        ``run(carry, Xe, Te, lr, t0, epoch, first, count, batch_size)`` gives ``(carry, losses)``
        with ``losses[:count]`` the steps' losses (``count <= max_steps``); ``t0`` is the step
        count before the first of them.  ``lr``, ``t0``, ``first``, ``count`` and ``epoch`` are traced
        (Python numbers become weakly typed scalars, which keep a float32 model in float32), so chunks
        of any length and a changing learning rate share one compilation.
        """
        jax = self.jax
        lax, jnp = jax.lax, jax.numpy

        def run(carry, Xe, Te, lr, t0, epoch, first, count, batch_size):
            def body(k, value):
                carry, losses = value
                s = first + k
                Xb = lax.dynamic_slice_in_dim(Xe, s * batch_size, batch_size, axis=0)
                Tb = lax.dynamic_slice_in_dim(Te, s * batch_size, batch_size, axis=0)
                # t in the data's dtype: a float64 step count would promote a float32 model's update
                carry, loss = step(carry, Xb, Tb, lr, t0 + jnp.astype(k + 1, Xe.dtype), epoch, s)
                return carry, losses.at[k].set(loss)

            return lax.fori_loop(0, count, body, (carry, jnp.zeros(max_steps, dtype=Xe.dtype)))

        return jax.jit(run, static_argnames=("batch_size",))


def _device(jax, device):
    if device is None:
        return jax.devices()[0]
    text = str(device).lower()
    kind, _, index = text.partition(":")
    kind = {"cuda": "gpu"}.get(kind, kind)
    if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
        raise ValueError(f"MLP_DEVICE={device!r} is not a jax device; use cpu, gpu, cuda, gpu:N or cuda:N")
    try:
        devices = jax.devices(kind)
    except RuntimeError as e:
        raise ValueError(
            f"MLP_DEVICE={device!r} does not exist for the jax backend: JAX sees no {kind} device "
            f"({' '.join(str(e).split())[:120]}); on an NVIDIA machine install pip install 'jax[cuda12]', "
            f"or use MLP_DEVICE=cpu"
        ) from None
    i = int(index or 0)
    if i >= len(devices):
        raise ValueError(
            f"MLP_DEVICE={device!r} does not exist for the jax backend: there are {len(devices)} {kind} devices"
        )
    return devices[i]


def create(device=None) -> Backend:
    try:
        import jax
    except ImportError as e:
        raise BackendUnavailableError(f"jax backend: JAX is not installed ({e}); install it with: {INSTALL}") from None
    jax.config.update("jax_enable_x64", True)  # float64 models; see the module docstring
    import jax.numpy as xp

    dev = _device(jax, device)
    return Backend(
        name="jax",
        xp=xp,
        device=dev,
        label="cpu" if dev.platform == "cpu" else f"{dev.platform}:{dev.id}",
        version=jax.__version__,
        kernels=JaxKernels,
        compiler=JaxCompiler(jax),
        _to_numpy=np.asarray,
        _quiet=contextlib.nullcontext,
        _wait=lambda *arrays: jax.block_until_ready(arrays),
    )


def device_of(x):
    """The device of a JAX array, else None (JAX is not imported to find out)."""
    module = type(x).__module__
    if (module.startswith("jax") or module.startswith("jaxlib")) and hasattr(x, "devices"):
        devices = x.devices()
        if len(devices) == 1:
            dev = next(iter(devices))
            return f"{'gpu' if dev.platform in ('gpu', 'cuda', 'rocm') else dev.platform}:{dev.id}"
    return None
