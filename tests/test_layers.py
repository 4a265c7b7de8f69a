import numpy as np

from attention.layers import DecoderBlock, EncoderBlock, FeedForward, layer_norm


def test_layer_norm_matches_definition_and_affine():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 6)) * 5 + 2
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    mu = x.mean(-1, keepdims=True)
    sd = np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(layer_norm(x, w, b), (x - mu) / sd * w + b, rtol=1e-12)


def test_feed_forward_is_position_wise():
    ff = FeedForward(6, 12, rng=np.random.default_rng(1))
    x = np.random.default_rng(2).standard_normal((2, 5, 6))
    out = ff(x)
    np.testing.assert_allclose(out[:, 3], ff(x[:, 3]), rtol=1e-12)


def test_encoder_is_permutation_equivariant_without_positions():
    block = EncoderBlock(8, 2, rng=np.random.default_rng(3))
    x = np.random.default_rng(4).standard_normal((1, 6, 8))
    perm = np.random.default_rng(5).permutation(6)
    np.testing.assert_allclose(block(x[:, perm]), block(x)[:, perm], rtol=1e-10)


def test_decoder_position_i_ignores_later_tokens_but_sees_all_memory():
    block = DecoderBlock(8, 2, rng=np.random.default_rng(6))
    rng = np.random.default_rng(7)
    x, memory = rng.standard_normal((1, 6, 8)), rng.standard_normal((1, 4, 8))
    later = x.copy()
    later[:, 3:] += 5
    np.testing.assert_allclose(block(later, memory)[:, :3], block(x, memory)[:, :3], rtol=1e-10)
    other_memory = memory.copy()
    other_memory[:, -1] += 5
    assert not np.allclose(block(x, other_memory)[:, 0], block(x, memory)[:, 0])
