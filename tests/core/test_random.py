"""The counter-based generator (mlp/random.py): published answers, and the same bits everywhere."""

import math

import numpy as np
import pytest

from mlp import backends
from mlp.core import random as R

# Threefry-2x32, 20 rounds: the three published known-answer vectors of Random123,
# DEShawResearch/random123, file tests/kat_vectors (commit 9545ff6413f258be2f04c1d319d99aaef7521150),
# lines "threefry2x32 20 CTR0 CTR1 KEY0 KEY1 EXPECTED0 EXPECTED1".
KAT = [
    # (counter, key, expected)
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
]

KEY = dict(seed=20260101, epoch=3, step=17, layer=2)


def words(backend, x):
    """Host uint64 copy of an array of 32-bit values (uint32 or int64 carrier)."""
    return backend.to_numpy(x).astype(np.uint64)


@pytest.fixture(scope="module")
def reference():
    """The NumPy backend: what every other backend must reproduce bit for bit."""
    return backends.get_backend("numpy")


@pytest.mark.parametrize("counter, key, expected", KAT, ids=["zeros", "ones", "pi"])
def test_threefry_known_answers(backend, counter, key, expected):
    x0, x1 = R.threefry2x32(backend.xp, key, counter, device=backend.device)
    assert (int(backend.to_numpy(x0)), int(backend.to_numpy(x1))) == expected


def test_threefry_known_answers_as_arrays(backend):
    # all three vectors at once: key and counter words as arrays on the device
    col = lambda group, i: backend.asarray([v[group][i] for v in KAT], dtype="int64")  # noqa: E731
    x0, x1 = R.threefry2x32(backend.xp, (col(1, 0), col(1, 1)), (col(0, 0), col(0, 1)), device=backend.device)
    assert words(backend, x0).tolist() == [v[2][0] for v in KAT]
    assert words(backend, x1).tolist() == [v[2][1] for v in KAT]


def test_bits_identical_to_numpy(backend, reference):
    shape = (7, 33)  # odd count: the last block is used by half
    bits = R.random_bits(backend.xp, shape, **KEY, device=backend.device)
    assert tuple(bits.shape) == shape and backend.owns(bits)
    expected = R.random_bits(reference.xp, shape, **KEY)
    np.testing.assert_array_equal(words(backend, bits), words(reference, expected))


def test_bits_are_spread_over_32_bits(reference):
    bits = words(reference, R.random_bits(reference.xp, 4096, **KEY))
    assert bits.max() < 2**32
    # each of the 32 bit positions is set in about half the words (5 sigma of a binomial)
    ones = np.array([int(((bits >> np.uint64(k)) & np.uint64(1)).sum()) for k in range(32)])
    assert np.all(np.abs(ones - 2048) < 5 * math.sqrt(4096 / 4)), ones


def test_a_draw_is_a_prefix_of_a_longer_draw(reference):
    short = words(reference, R.random_bits(reference.xp, 5, **KEY))
    long = words(reference, R.random_bits(reference.xp, (3, 4), **KEY)).reshape(-1)
    np.testing.assert_array_equal(short, long[:5])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_identical_to_numpy(backend, reference, dtype):
    u = R.uniform(backend.xp, (50, 40), getattr(backend.xp, dtype), **KEY, device=backend.device)
    assert u.dtype == getattr(backend.xp, dtype) and backend.owns(u)
    expected = reference.to_numpy(R.uniform(reference.xp, (50, 40), getattr(reference.xp, dtype), **KEY))
    got = backend.to_numpy(u)
    np.testing.assert_array_equal(got, expected)  # exact, not approximately
    assert got.min() >= 0.0 and got.max() < 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_mean_and_resolution(reference, dtype):
    n = 100_000
    u = reference.to_numpy(R.uniform(reference.xp, n, getattr(reference.xp, dtype), **KEY)).astype(np.float64)
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    # float64 uses 53 bits: some values are not multiples of 2**-24 (float32's grid)
    off_grid = np.any(u * 2**24 != np.floor(u * 2**24))
    assert off_grid == (dtype == "float64")


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_keep_mask_rate_and_values(reference, p):
    n = 200_000
    xp = reference.xp
    mask = reference.to_numpy(R.keep_mask(xp, (400, 500), p, xp.float64, **KEY))
    values = np.unique(mask)
    np.testing.assert_array_equal(values, [0.0, 1.0 / (1.0 - p)])
    kept = np.count_nonzero(mask)
    sigma = math.sqrt(n * p * (1 - p))
    assert abs(kept - n * (1 - p)) < 5 * sigma, (kept, n * (1 - p), sigma)


def test_keep_mask_identical_to_numpy(backend, reference, dtype):
    xp = backend.xp
    mask = R.keep_mask(xp, (64, 48), 0.3, getattr(xp, dtype), **KEY, device=backend.device)
    assert mask.dtype == getattr(xp, dtype) and backend.owns(mask)
    expected = R.keep_mask(reference.xp, (64, 48), 0.3, getattr(reference.xp, dtype), **KEY)
    np.testing.assert_array_equal(backend.to_numpy(mask), reference.to_numpy(expected))


def test_keep_mask_drops_the_same_units_in_both_dtypes(reference):
    xp = reference.xp
    m32, m64 = (reference.to_numpy(R.keep_mask(xp, (30, 20), 0.4, d, **KEY)) for d in (xp.float32, xp.float64))
    np.testing.assert_array_equal(m32 == 0, m64 == 0)


def test_keep_mask_with_p_zero_keeps_everything(reference):
    mask = reference.to_numpy(R.keep_mask(reference.xp, (8, 8), 0.0, reference.xp.float32, **KEY))
    np.testing.assert_array_equal(mask, np.ones((8, 8), np.float32))


@pytest.mark.parametrize("change", ["seed", "epoch", "step", "layer"])
def test_each_key_word_changes_the_stream(reference, change):
    other = dict(KEY, **{change: KEY[change] + 1})
    a = words(reference, R.random_bits(reference.xp, 64, **KEY))
    b = words(reference, R.random_bits(reference.xp, 64, **other))
    # two independent streams agree on a 32-bit word with probability 2**-32
    assert np.count_nonzero(a == b) == 0


def test_epoch_and_step_are_not_interchangeable(reference):
    # (epoch, step) = (1, 2) and (2, 1) are distinct counters of the step key: distinct keys
    a = words(reference, R.random_bits(reference.xp, 16, seed=5, epoch=1, step=2, layer=0))
    b = words(reference, R.random_bits(reference.xp, 16, seed=5, epoch=2, step=1, layer=0))
    assert np.count_nonzero(a == b) == 0


def test_high_seed_bits_matter(reference):
    a = words(reference, R.random_bits(reference.xp, 16, 1, 0, 0, 0))
    b = words(reference, R.random_bits(reference.xp, 16, 1 + 2**32, 0, 0, 0))
    assert np.count_nonzero(a == b) == 0


def test_array_key_words_equal_python_ints(backend):
    xp = backend.xp
    as_array = {k: backend.asarray(v, dtype="int32") for k, v in KEY.items() if k != "seed"}
    a = R.random_bits(xp, 20, KEY["seed"], device=backend.device, **as_array)
    b = R.random_bits(xp, 20, **KEY, device=backend.device)
    np.testing.assert_array_equal(words(backend, a), words(backend, b))


@pytest.mark.backend_independent  # names JAX itself
def test_traced_step_under_jax_jit_equals_eager():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    jnp = jax.numpy
    eager = [np.asarray(R.random_bits(jnp, (4, 6), 11, 2, s, 1)) for s in range(3)]
    jitted = jax.jit(lambda epoch, step: R.random_bits(jnp, (4, 6), 11, epoch, step, 1))
    for s in range(3):
        np.testing.assert_array_equal(np.asarray(jitted(jnp.asarray(2), jnp.asarray(s))), eager[s])

    # inside a compiled loop the step is the loop's traced counter
    def body(s, acc):
        return acc.at[s].set(R.keep_mask(jnp, (4, 6), 0.5, jnp.float32, 11, 2, s, 1))

    masks = jax.jit(lambda: jax.lax.fori_loop(0, 3, body, jnp.zeros((3, 4, 6), jnp.float32)))()
    for s in range(3):
        expected = np.asarray(R.keep_mask(jnp, (4, 6), 0.5, jnp.float32, 11, 2, s, 1))
        np.testing.assert_array_equal(np.asarray(masks[s]), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(seed=-1), "seed must be an integer in \\[0, 2\\*\\*64\\)"),
        (dict(seed=2**64), "seed must be an integer in \\[0, 2\\*\\*64\\)"),
        (dict(epoch=-1), "epoch must be in \\[0, 2\\*\\*32\\)"),
        (dict(step=2**32), "step must be in \\[0, 2\\*\\*32\\)"),
        (dict(layer=np.zeros(3, dtype=np.int64)), "layer must be an int or a 0-d integer array, got shape \\(3,\\)"),
    ],
)
def test_bad_key_words_are_refused(reference, kwargs, message):
    with pytest.raises(ValueError, match=message):
        R.random_bits(reference.xp, 4, **dict(KEY, **kwargs))


def test_float_step_is_refused(reference):
    with pytest.raises(TypeError, match="step must be an integer"):
        R.random_bits(reference.xp, 4, **dict(KEY, step=np.asarray(1.5)))


@pytest.mark.parametrize("p", [-0.1, 1.0, float("nan")])
def test_bad_drop_probability_is_refused(reference, p):
    with pytest.raises(ValueError, match="p_drop must be in \\[0, 1\\)"):
        R.keep_mask(reference.xp, 4, p, reference.xp.float32, **KEY)
