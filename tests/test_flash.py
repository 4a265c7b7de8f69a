import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import flash_attention, scaled_dot_product_attention as sdpa
from attention.scaled_dot_product import BLOCKED_MIN_SCORES


def dense(q, k, v, mask=None, is_causal=False, scale=None):
    """The dense path: asking for the weights forces it."""
    return sdpa(q, k, v, mask, is_causal=is_causal, scale=scale, return_weights=True)[0]


TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [1, 3, 16, 64])
@pytest.mark.parametrize(("L", "S"), [(37, 37), (20, 45), (45, 20), (1, 9)])
def test_matches_dense_for_shapes_blocks_and_causal(dtype, block_size, L, S):
    rng = np.random.default_rng(L * 100 + S)
    q = rng.standard_normal((2, L, 8)).astype(dtype) * 3  # wide scores exercise the rescaling
    k = rng.standard_normal((2, S, 8)).astype(dtype)
    v = rng.standard_normal((2, S, 5)).astype(dtype)
    for causal in (False, True):
        out = flash_attention(q, k, v, is_causal=causal, block_size=block_size)
        assert out.dtype == dtype and out.shape == (2, L, 5)
        assert np.abs(out - dense(q, k, v, is_causal=causal)).max() <= TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bool_float_masks_and_fully_masked_rows(dtype):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in [(3, 40, 8), (3, 50, 8), (3, 50, 4)])
    mask = rng.random((3, 1, 40, 50)).squeeze(1) < 0.3
    mask[:, 5] = False  # fully masked rows
    mask[1, :, 10:40] = False
    for m in (mask, np.where(mask, 0.0, -np.inf).astype(dtype), rng.standard_normal((40, 50)).astype(dtype)):
        out = flash_attention(q, k, v, m, block_size=7)
        assert np.abs(out - dense(q, k, v, m)).max() <= TOL[dtype]
    np.testing.assert_array_equal(flash_attention(q, k, v, mask, block_size=7)[:, 5], 0.0)


def test_broadcast_batch_dims_and_custom_scale():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, 1, 30, 8))  # (B, 1, L, E)
    k = rng.standard_normal((1, 3, 25, 8))  # (1, H, S, E)
    v = rng.standard_normal((25, 6))  # (S, Ev)
    out = flash_attention(q, k, v, scale=0.4, block_size=8)
    assert out.shape == (2, 3, 30, 6)
    assert np.abs(out - dense(q, k, v, scale=0.4)).max() <= 1e-12


def test_huge_scores_stay_exact():
    q = np.array([[1e3, 0.0], [0.0, 1e3]])
    k = np.array([[1e3, 0.0], [0.0, 1e3], [0.0, 0.0]])
    v = np.eye(3)[:, :2]
    np.testing.assert_array_equal(flash_attention(q, k, v, block_size=1), [[1.0, 0.0], [0.0, 1.0]])


def test_float16_and_int_inputs():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s).astype(np.float16) for s in [(10, 4), (12, 4), (12, 3)])
    out = flash_attention(q, k, v, block_size=5)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(float), dense(q, k, v).astype(float), atol=2e-3)
    assert flash_attention([[1, 0]], [[1, 0], [0, 1]], [[1, 2], [3, 4]]).dtype == np.float64


def test_causal_skips_future_blocks():
    # NaN keys/values in blocks entirely after the first query block: if those blocks were
    # computed (even with weight 0), NaN would reach the first queries' output.
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    k[2:], v[2:] = np.nan, np.nan
    out = flash_attention(q, k, v, is_causal=True, block_size=2)
    np.testing.assert_allclose(out[:2], sdpa(q[:2], k[:2], v[:2], is_causal=True), rtol=1e-12)


def test_empty_lengths():
    assert flash_attention(np.ones((0, 4)), np.ones((3, 4)), np.ones((3, 2))).shape == (0, 2)
    np.testing.assert_array_equal(flash_attention(np.ones((2, 4)), np.ones((0, 4)), np.ones((0, 2))), 0.0)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_block_size(bad):
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        flash_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), block_size=bad)


def test_validation_is_shared_with_sdpa():
    with pytest.raises(ValueError, match=r"same length S: key \(4, 3\) vs value \(3, 2\)"):
        flash_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((3, 2)))


def test_sdpa_dispatches_large_inputs_to_the_blocked_path_with_the_same_result():
    rng = np.random.default_rng(5)
    n = int(np.sqrt(BLOCKED_MIN_SCORES))  # L * S reaches the threshold
    q, k, v = (rng.standard_normal((n, 16)).astype(np.float32) for _ in range(3))
    for causal in (False, True):
        fast = sdpa(q, k, v, is_causal=causal)
        assert np.abs(fast - dense(q, k, v, is_causal=causal)).max() <= 1e-5


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 9), st.integers(0, 2**16), st.booleans(), st.booleans())
def test_property_equals_dense(L, S, block, seed, causal, masked):
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((L, 3)) * 4, rng.standard_normal((S, 3)), rng.standard_normal((S, 2))
    mask = rng.random((L, S)) < 0.5 if masked and not causal else None
    out = flash_attention(q, k, v, mask, is_causal=causal, block_size=block)
    assert np.abs(out - dense(q, k, v, mask, is_causal=causal)).max() <= 1e-12
