import numpy as np
import pytest

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


# --- Each block is its formula, built from its own parts; construction is seeded and checked -----


def manual_mha(mha, q, k, v, mask=None, causal=False):
    """Multi-head attention of (B, T, E) inputs from the module's own weights (batch first)."""
    from attention import scaled_dot_product_attention

    E, H, state = mha.embed_dim, mha.num_heads, mha.state_dict()
    W, b = state["in_proj_weight"], state["in_proj_bias"]  # (3E, E), (3E,)
    split = lambda x: x.reshape(*x.shape[:-1], H, E // H).swapaxes(1, 2)  # noqa: E731 - (B, H, T, E/H)
    qh, kh, vh = (split(x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E]) for i, x in enumerate((q, k, v)))
    allowed = None if mask is None else mask[:, None, None, :]  # key padding mask: True = real key (this package)
    o = scaled_dot_product_attention(qh, kh, vh, allowed, is_causal=causal)  # (B, H, T, E/H)
    return o.swapaxes(1, 2).reshape(q.shape) @ state["out_proj.weight"].T + state["out_proj.bias"]


def test_feed_forward_is_its_formula_with_biases_and_torch_bounds():
    from attention.layers import gelu

    ff = FeedForward(6, 10, rng=np.random.default_rng(3))
    ff.b1, ff.b2 = np.linspace(-1, 1, 10), np.linspace(1, 2, 6)
    x = np.random.default_rng(4).standard_normal((3, 6))
    np.testing.assert_allclose(ff(x), gelu(x @ ff.w1.T + ff.b1) @ ff.w2.T + ff.b2, rtol=1e-12)
    big = FeedForward(64, 256, rng=np.random.default_rng(5))
    for w, fan_in in ((big.w1, 64), (big.w2, 256)):  # uniform in +-1/sqrt(fan_in), as torch.nn.Linear
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and w.min() < -0.9 * bound and w.max() > 0.9 * bound
    assert big.w1.shape == (256, 64) and big.w2.shape == (64, 256)


def test_construction_is_seeded_and_sizes_are_named():
    import pytest

    x = np.random.default_rng(6).standard_normal((2, 4, 8))
    memory = np.random.default_rng(7).standard_normal((2, 5, 8))
    for make, args in ((lambda r: FeedForward(8, 16, rng=r), (x,)), (lambda r: EncoderBlock(8, 2, rng=r), (x,)),
                       (lambda r: DecoderBlock(8, 2, rng=r), (x, memory))):
        same = [make(np.random.default_rng(0))(*args) for _ in range(2)]
        np.testing.assert_array_equal(same[0], same[1])  # the given generator draws every weight
        assert not np.allclose(same[0], make(np.random.default_rng(1))(*args))
        assert make(None)(*args).shape == x.shape  # no generator: numpy's default one
    with pytest.raises(ValueError, match="^embed_dim must be a positive integer, got 0"):
        FeedForward(0, 4)
    with pytest.raises(ValueError, match="^hidden_dim must be a positive integer, got 0"):
        FeedForward(4, 0)
    FeedForward(1, 1, rng=np.random.default_rng(0))  # 1 is allowed for both
    with pytest.raises(TypeError, match="^x must be real"):
        layer_norm(np.ones(3, complex))
    with pytest.raises(ValueError, match="^x must have at least 1 dimensions"):
        layer_norm(np.float64(1.0))
    np.testing.assert_allclose(layer_norm(np.array([1.0, 3.0])), [-1, 1], atol=1e-5)  # 1-D is a vector


def test_encoder_block_is_pre_norm_attention_then_feed_forward_with_residuals():
    block = EncoderBlock(8, 2, rng=np.random.default_rng(8))
    assert block.feed_forward.w1.shape == (32, 8)  # hidden = 4 E by default
    x = np.random.default_rng(9).standard_normal((2, 4, 8))
    pad = np.array([[True, True, True, False], [True, True, True, True]])  # True = real key, False = padding
    h = layer_norm(x)
    x1 = x + manual_mha(block.attention, h, h, h, pad)
    np.testing.assert_allclose(block(x, key_padding_mask=pad), x1 + block.feed_forward(layer_norm(x1)), atol=1e-12)


def test_decoder_block_is_causal_self_attention_cross_attention_and_feed_forward():
    block = DecoderBlock(8, 2, rng=np.random.default_rng(10))
    assert block.feed_forward.w1.shape == (32, 8)
    x = np.random.default_rng(11).standard_normal((2, 4, 8))
    memory = np.random.default_rng(12).standard_normal((2, 5, 8))
    pad = np.array([[True] * 4 + [False], [True] * 5])  # the last memory position of sequence 0 is padding
    h = layer_norm(x)
    x1 = x + manual_mha(block.self_attention, h, h, h, causal=True)
    h1 = layer_norm(x1)
    x2 = x1 + manual_mha(block.cross_attention, h1, memory, memory, pad)
    np.testing.assert_allclose(block(x, memory, memory_padding_mask=pad), x2 + block.feed_forward(layer_norm(x2)),
                               atol=1e-12)


def test_blocks_without_an_rng_draw_fresh_weights():
    x = np.random.default_rng(0).standard_normal((1, 4, 8))
    for block in (EncoderBlock, DecoderBlock):
        a, b = block(8, 2), block(8, 2)
        args = (x,) if block is EncoderBlock else (x, x)
        out = a(*args)
        assert out.shape == (1, 4, 8) and not np.allclose(out, b(*args))


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"eps": -1e-5}, ValueError, r"^eps must be a positive finite number"),
    ({"weight": np.ones(3)}, ValueError, r"^weight must have shape \(4,\)"),
    ({"bias": np.ones((2, 4))}, ValueError, r"^bias must have shape \(4,\)"),
])
def test_layer_norm_rejects_bad_input_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        layer_norm(np.ones((2, 4)), **kwargs)
