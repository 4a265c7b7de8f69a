import math

import numpy as np
import pytest

from attention import MultiHeadAttention, rotary_embedding, sinusoidal_encoding


def test_sinusoidal_matches_the_formula():
    pe = sinusoidal_encoding(7, 6)
    for p in range(7):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert pe[p, 2 * i] == pytest.approx(math.sin(angle))
            assert pe[p, 2 * i + 1] == pytest.approx(math.cos(angle))


def test_rope_preserves_norms_and_depends_on_relative_position():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((6, 8)), rng.standard_normal((6, 8))
    rq, rk = rotary_embedding(q), rotary_embedding(k)
    np.testing.assert_allclose(np.linalg.norm(rq, axis=-1), np.linalg.norm(q, axis=-1))
    shifted_q = rotary_embedding(q, np.arange(6) + 7)
    shifted_k = rotary_embedding(k, np.arange(6) + 7)
    np.testing.assert_allclose(rq @ rk.T, shifted_q @ shifted_k.T, atol=1e-12)


def test_positions_break_permutation_equivariance():
    mha = MultiHeadAttention(8, 2, batch_first=True, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((1, 6, 8))
    perm = np.array([1, 0, 2, 3, 4, 5])
    xp = x + sinusoidal_encoding(6, 8)
    xpp = x[:, perm] + sinusoidal_encoding(6, 8)
    out, _ = mha(xp, xp, xp)
    out_perm, _ = mha(xpp, xpp, xpp)
    assert not np.allclose(out_perm, out[:, perm])


@pytest.mark.parametrize(("args", "message"), [((3, 5), "E must be a positive even integer"), ((-1, 4), "L must be")])
def test_sinusoidal_bad_sizes(args, message):
    with pytest.raises(ValueError, match=message):
        sinusoidal_encoding(*args)


def test_rope_bad_inputs():
    with pytest.raises(ValueError, match=r"even feature size D, got shape \(2, 3\)"):
        rotary_embedding(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"positions must have shape \(L,\) = \(2,\)"):
        rotary_embedding(np.ones((2, 4)), [0, 1, 2])


def test_rope_also_breaks_permutation_equivariance():
    from attention import scaled_dot_product_attention

    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((3, 6, 8))
    perm = np.array([2, 0, 1, 3, 4, 5])
    plain = scaled_dot_product_attention(q, k, v)
    assert np.allclose(scaled_dot_product_attention(q[perm], k[perm], v[perm]), plain[perm])
    rope = scaled_dot_product_attention(rotary_embedding(q), rotary_embedding(k), v)
    rope_perm = scaled_dot_product_attention(rotary_embedding(q[perm]), rotary_embedding(k[perm]), v[perm])
    assert not np.allclose(rope_perm, rope[perm])


@pytest.mark.parametrize("base", [0, -10.0, float("inf"), float("nan")])
def test_bad_base(base):
    with pytest.raises(ValueError, match="base must be a positive finite number"):
        sinusoidal_encoding(4, 6, base=base)
    with pytest.raises(ValueError, match="base must be a positive finite number"):
        rotary_embedding(np.ones((2, 4)), base=base)


def test_bad_types():
    with pytest.raises(TypeError, match="L must be an integer, got float"):
        sinusoidal_encoding(4.0, 6)
    with pytest.raises(TypeError, match="positions must be integers, got dtype float64"):
        rotary_embedding(np.ones((2, 4)), [0.5, 1.5])
    with pytest.raises(TypeError, match="base must be a real number"):
        rotary_embedding(np.ones((2, 4)), base="1e4")


def test_empty_sizes():
    assert sinusoidal_encoding(0, 4).shape == (0, 4)
    assert rotary_embedding(np.zeros((0, 3, 4))).shape == (0, 3, 4)
    assert rotary_embedding(np.zeros((2, 0, 4))).shape == (2, 0, 4)


def test_every_column_is_written_and_sizes_are_named():
    junk = np.full((11, 10), np.nan)  # freed memory the next array of this size may reuse
    del junk
    pe = sinusoidal_encoding(11, 10)
    assert np.isfinite(pe).all() and pe[3, 0] == pytest.approx(math.sin(3)) and pe[3, 1] == pytest.approx(math.cos(3))
    with pytest.raises(ValueError, match=r"^E must be a positive even integer, got 1$"):
        sinusoidal_encoding(4, 1)
    with pytest.raises(ValueError, match=r"^E must be a positive integer, got 0$"):
        sinusoidal_encoding(4, 0)
    with pytest.raises(TypeError, match="^E must be an integer"):
        sinusoidal_encoding(4, 2.0)


def test_rope_rotates_pair_i_by_position_times_base_to_the_minus_2i_over_D():
    x = np.zeros((3, 6))
    x[:, 0::2] = 1.0  # every pair starts as (1, 0): after the rotation it is (cos a, sin a)
    positions = np.array([0, 2, 5])
    out = rotary_embedding(x, positions)
    for row, p in enumerate(positions):
        for i in range(3):
            angle = p * 10000.0 ** (-2 * i / 6)  # the default base
            np.testing.assert_allclose(out[row, 2 * i:2 * i + 2], [math.cos(angle), math.sin(angle)], atol=1e-12)
    custom = rotary_embedding(x, positions, base=100.0)
    np.testing.assert_allclose(custom[1, 2:4], [math.cos(2 / 100 ** (2 / 6)), math.sin(2 / 100 ** (2 / 6))])
    with pytest.raises(TypeError, match="^x must be real"):
        rotary_embedding(np.ones((2, 4), complex))
    with pytest.raises(ValueError, match="^x must have at least 2 dimensions"):
        rotary_embedding(np.ones(4))
