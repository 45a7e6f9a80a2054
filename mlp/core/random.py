"""A counter-based random generator written once in array API integer operations.

Why it exists
-------------
Dropout needs fresh random numbers at every training step.  The array API standard has
no random numbers; drawing them on the host would cost a host-to-device copy per step,
and each library's own generator (``numpy.random``, ``torch.Generator``, ``cupy.random``,
``jax.random``) gives different numbers, so a network with dropout would train
differently on every backend.  This module computes the numbers from a key with
nothing but 32-bit additions, rotations and xors, which every array library does
exactly alike: the same key gives **bit-identical** words on NumPy, PyTorch, CuPy,
JAX and array-api-strict, on whatever device the arrays live on, with no state.

The algorithm
-------------
Threefry-2x32 with 20 rounds (Salmon, Moraes, Dror and Shaw, "Parallel random
numbers: as easy as 1, 2, 3", SC'11; the generator of Random123 and of
``jax.random``).  It maps a 64-bit key and a 64-bit counter to 64 random bits and,
for a fixed key, is a bijection of the counter: distinct counters never give the
same output block.

How a key is derived from (seed, epoch, step, layer)
----------------------------------------------------
1. The step key is one Threefry block: ``step_key = threefry2x32((seed_lo, seed_hi),
   (epoch, step))``, where ``seed_lo``/``seed_hi`` are the low and high 32 bits of the
   seed (``0 <= seed < 2**64``).  For a fixed seed, distinct ``(epoch, step)`` pairs give
   distinct step keys (the bijection above).
2. Layer ``layer`` draws block ``j`` (``j = 0, 1, 2, ...``) as
   ``threefry2x32(step_key, (j, layer))``.  Block ``j`` holds the 32-bit words ``2j``
   and ``2j + 1`` of the layer's stream (:func:`random_bits`), or, for float64, the two
   halves of element ``j`` (:func:`uniform`).

Nothing is stored between calls: resuming a run, or replaying a step after a
roll-back, gives the same numbers.  ``epoch``, ``step`` and ``layer`` may be Python
ints or 0-d integer arrays (traced values inside ``jax.jit`` or a compiled loop
included); arrays are never converted to Python ints.  Their values must lie in
``[0, 2**32)``.

Carrying the words
------------------
Where the namespace's ``uint32`` supports addition, shifts and xor, the words are
``uint32`` and wrap around by themselves.  PyTorch's ``uint32`` lacks addition and
shifts, so there the words travel in ``int64`` and are masked to 32 bits after every
addition and left shift.  Either way the values are the same 32-bit numbers.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["threefry2x32", "random_bits", "uniform", "keep_mask"]

_MASK32 = 0xFFFFFFFF
#: Threefish's key-schedule parity constant for 32-bit words (Random123's SKEIN_KS_PARITY32)
_PARITY32 = 0x1BD11BDA
#: Threefry-2x32 rotation distances, rounds 0..7 (repeated)
_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)
_ROUNDS = 20

# namespace name -> (word dtype name, whether results need masking to 32 bits)
_WORDS: dict = {}


def _word_type(xp, device):
    """The integer dtype that carries 32-bit words on ``xp``, and whether it needs masking.

    Probed once per namespace: ``uint32`` if it adds, shifts and xors, else ``int64``.
    """
    name = getattr(xp, "__name__", repr(xp))
    if name not in _WORDS:
        try:
            a = xp.asarray([0xF0000001], dtype=xp.uint32, device=device)
            b = ((a + a) << 3) ^ (a >> 5) | a
            ok = int(b[0]) == ((((0xF0000001 * 2) & _MASK32) << 3) & _MASK32) ^ (0xF0000001 >> 5) | 0xF0000001
        except (TypeError, RuntimeError, NotImplementedError, AttributeError):
            ok = False
        _WORDS[name] = ("uint32", False) if ok else ("int64", True)
    dtype_name, masked = _WORDS[name]
    return getattr(xp, dtype_name), masked


class _Words:
    """32-bit word arithmetic on ``xp`` in the carrier dtype (see the module docstring)."""

    def __init__(self, xp, device):
        self.xp, self.device = xp, device
        self.dtype, self.masked = _word_type(xp, device)

    def const(self, value: int):
        return self.xp.asarray(value & _MASK32, dtype=self.dtype, device=self.device)

    def word(self, value, what: str):
        """A Python int in [0, 2**32) or an integer array, as words of the carrier dtype."""
        if isinstance(value, numbers.Integral):
            value = int(value)
            if not 0 <= value <= _MASK32:
                raise ValueError(f"random: {what} must be in [0, 2**32), got {value}")
            return self.const(value)
        xp = self.xp
        arr = xp.asarray(value, device=self.device)
        if not xp.isdtype(arr.dtype, "integral"):
            raise TypeError(f"random: {what} must be an integer or an integer array, got dtype {arr.dtype}")
        arr = xp.astype(arr, self.dtype)
        return arr & _MASK32 if self.masked else arr

    def add(self, a, b):
        s = a + b
        return s & _MASK32 if self.masked else s

    def rotl(self, x, r: int):
        left = x << r
        if self.masked:
            left = left & _MASK32
        return left | (x >> (32 - r))


def _threefry(w: _Words, k0, k1, x0, x1):
    """Threefry-2x32-20 on word arrays (broadcasting key against counter)."""
    k2 = k0 ^ k1 ^ w.const(_PARITY32)
    ks = (k0, k1, k2)
    x0, x1 = w.add(x0, k0), w.add(x1, k1)
    for r in range(_ROUNDS):
        x0 = w.add(x0, x1)
        x1 = w.rotl(x1, _ROTATIONS[r % 8]) ^ x0
        if r % 4 == 3:  # key injection after every fourth round
            s = r // 4 + 1
            x0 = w.add(x0, ks[s % 3])
            x1 = w.add(w.add(x1, ks[(s + 1) % 3]), w.const(s))
    return x0, x1


def threefry2x32(xp, key, counter, device=None):
    """Threefry-2x32 with 20 rounds: 64 random bits for each 64-bit counter.

    Parameters
    ----------
    xp : module
        An array API namespace (NumPy, PyTorch and CuPy through array-api-compat, JAX,
        array-api-strict).
    key : pair of int or integer array
        The two 32-bit key words ``(k0, k1)``: Python ints in ``[0, 2**32)`` or integer
        arrays (0-d or broadcastable against the counter).
    counter : pair of int or integer array
        The two 32-bit counter words ``(c0, c1)``, of the same (or broadcastable) shape.
    device : object, optional
        Where Python-int words are created; ``None``: the namespace's default device.

    Returns
    -------
    (x0, x1) : pair of arrays
        The two output words, with values in ``[0, 2**32)``: ``uint32`` where the
        namespace supports it, else ``int64`` (PyTorch).
    """
    w = _Words(xp, device)
    k0, k1 = (w.word(k, f"key[{i}]") for i, k in enumerate(key))
    c0, c1 = (w.word(c, f"counter[{i}]") for i, c in enumerate(counter))
    # worked on 1-d arrays: NumPy warns about wrap-around in 0-d (scalar) arithmetic, not in arrays
    k0, k1, c0, c1 = xp.broadcast_arrays(k0, k1, c0, c1)
    shape = c0.shape
    x0, x1 = _threefry(w, *(xp.reshape(a, (-1,)) for a in (k0, k1, c0, c1)))
    return xp.reshape(x0, shape), xp.reshape(x1, shape)


def _seed_words(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) < 2**64:
        raise ValueError(f"random: seed must be an integer in [0, 2**64), got {seed!r}")
    seed = int(seed)
    return seed & _MASK32, seed >> 32


def _blocks(xp, n_blocks, seed, epoch, step, layer, device):
    """Blocks ``0 .. n_blocks-1`` of the stream of (seed, epoch, step, layer): two word arrays."""
    if n_blocks > 2**32:
        raise ValueError(f"random: at most 2**32 blocks per draw, asked for {n_blocks}")
    w = _Words(xp, device)
    lo, hi = _seed_words(seed)
    for v, what in ((epoch, "epoch"), (step, "step"), (layer, "layer")):
        if getattr(v, "shape", ()) not in ((), (1,)):
            raise ValueError(f"random: {what} must be an int or a 0-d integer array, got shape {tuple(v.shape)}")
    # shape (1,), not 0-d: NumPy warns about wrap-around in scalar arithmetic, not in arrays
    words = [xp.reshape(w.word(v, what), (1,)) for v, what in ((epoch, "epoch"), (step, "step"), (layer, "layer"))]
    k0, k1 = _threefry(w, xp.reshape(w.const(lo), (1,)), xp.reshape(w.const(hi), (1,)), words[0], words[1])
    j = xp.arange(n_blocks, dtype=w.dtype, device=device)
    return w, _threefry(w, k0, k1, j, words[2])


def _size(shape) -> tuple:
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if any(not isinstance(s, numbers.Integral) or s < 0 for s in shape):
        raise ValueError(f"random: shape must be non-negative integers, got {shape}")
    return tuple(int(s) for s in shape), math.prod(shape)


def random_bits(xp, shape, seed, epoch, step, layer, device=None):
    """Random 32-bit words of the stream keyed by ``(seed, epoch, step, layer)``.

    Parameters
    ----------
    xp : module
        An array API namespace.
    shape : int or tuple of int
        Shape of the result.  Words are taken in row-major order from the start of the
        stream, so a draw of ``n`` elements is the first ``n`` words of any larger draw.
    seed : int
        In ``[0, 2**64)`` (a Python int).
    epoch, step, layer : int or 0-d integer array
        In ``[0, 2**32)``; arrays may be traced values inside ``jax.jit``.
    device : object, optional
        Device of the result; ``None``: the namespace's default device.

    Returns
    -------
    array of shape ``shape``
        Values in ``[0, 2**32)``; dtype ``uint32``, or ``int64`` where the namespace's
        ``uint32`` lacks arithmetic (PyTorch).  The same values on every backend.
    """
    shape, n = _size(shape)
    w, (x0, x1) = _blocks(xp, (n + 1) // 2, seed, epoch, step, layer, device)
    words = xp.reshape(xp.stack([x0, x1], axis=1), (-1,))
    return xp.reshape(words[:n], shape)


def uniform(xp, shape, dtype, seed, epoch, step, layer, device=None):
    """Uniform random numbers in ``[0, 1)``, identical on every backend.

    float32 uses the top 24 bits of one word (``(w >> 8) * 2**-24``); float64 the top 27
    and 26 bits of the two words of one block (``((a >> 5) * 2**26 + (b >> 6)) * 2**-53``).
    Every value is a multiple of ``2**-24`` (``2**-53``), computed exactly, so no rounding
    can differ between libraries.

    Parameters
    ----------
    xp : module
        An array API namespace.
    shape : int or tuple of int
        Shape of the result.
    dtype : dtype
        ``xp.float32`` or ``xp.float64``.
    seed, epoch, step, layer, device
        As in :func:`random_bits`.

    Returns
    -------
    array of shape ``shape`` and dtype ``dtype``
    """
    shape, n = _size(shape)
    if dtype == xp.float32:
        bits = random_bits(xp, (n,), seed, epoch, step, layer, device)
        u = xp.astype(bits >> 8, xp.float32) * (2.0**-24)
    elif dtype == xp.float64:
        w, (x0, x1) = _blocks(xp, n, seed, epoch, step, layer, device)
        hi, lo = xp.astype(x0 >> 5, xp.float64), xp.astype(x1 >> 6, xp.float64)
        u = (hi * 67108864.0 + lo) * (2.0**-53)
    else:
        raise ValueError(f"random.uniform: dtype must be float32 or float64, got {dtype}")
    return xp.reshape(u, shape)


def keep_mask(xp, shape, p_drop, dtype, seed, epoch, step, layer, device=None):
    """The inverted-dropout multiplier: ``1 / (1 - p_drop)`` where a unit is kept, else 0.

    A unit is kept when its 32-bit word (:func:`random_bits`) is at least
    ``round(p_drop * 2**32)``, so each unit is kept with probability ``1 - p_drop`` (to
    within ``2**-33``), and the same units are dropped whatever the dtype.

    Parameters
    ----------
    xp : module
        An array API namespace.
    shape : int or tuple of int
        Shape of the mask, e.g. ``(n_samples, n_units)``.
    p_drop : float
        Probability of dropping a unit, in ``[0, 1)``.
    dtype : dtype
        Floating dtype of the mask.
    seed, epoch, step, layer, device
        As in :func:`random_bits`.

    Returns
    -------
    array of shape ``shape`` and dtype ``dtype``
        Multiplying activations by it (and their gradients, in backward) is inverted
        dropout: expected activations are unchanged, so evaluation needs no rescaling.
    """
    p_drop = float(p_drop)
    if not 0.0 <= p_drop < 1.0:
        raise ValueError(f"random.keep_mask: p_drop must be in [0, 1), got {p_drop}")
    shape, n = _size(shape)
    threshold = min(round(p_drop * 2.0**32), _MASK32)
    bits = random_bits(xp, shape, seed, epoch, step, layer, device)
    keep = bits >= xp.asarray(threshold, dtype=bits.dtype, device=device)
    # 1/(1-p) rounded once to dtype (IEEE: the same on every library)
    return xp.astype(keep, dtype) * xp.asarray(1.0 / (1.0 - p_drop), dtype=dtype, device=device)
