import numpy as np
import pytest

from attention import DecoderBlock, EncoderBlock, FeedForward, gelu, layer_norm


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


# --- Each block is its formula, built from the pieces of attention.transformer; construction is seeded ---


def manual_attention(layer, q, kv, mask=None, causal=False):
    """Multi-head attention of (B, T, D) queries over (B, S, D) keys/values from the layer's own weights."""
    from attention import scaled_dot_product_attention

    p, H = layer.parameters(), layer.heads
    split = lambda x: x.reshape(*x.shape[:-1], H, -1).swapaxes(1, 2)  # noqa: E731 - (B, H, T, D/H)
    qh, kh, vh = (split(x @ p[f"{n}.weight"].T + p[f"{n}.bias"]) for n, x in (("q", q), ("k", kv), ("v", kv)))
    allowed = None if mask is None else mask[:, None, None, :]  # key padding mask: True = real key
    o = scaled_dot_product_attention(qh, kh, vh, allowed, is_causal=causal)  # (B, H, T, D/H)
    return o.swapaxes(1, 2).reshape(q.shape) @ p["out.weight"].T + p["out.bias"]


def test_feed_forward_is_its_formula_with_biases_and_torch_bounds():
    ff = FeedForward(6, 10, rng=np.random.default_rng(3))
    p = ff.parameters()
    p["up.bias"][...], p["down.bias"][...] = np.linspace(-1, 1, 10), np.linspace(1, 2, 6)
    x = np.random.default_rng(4).standard_normal((3, 6))
    expected = gelu(x @ p["up.weight"].T + p["up.bias"]) @ p["down.weight"].T + p["down.bias"]
    np.testing.assert_allclose(ff(x), expected, rtol=1e-12)
    big = FeedForward(64, 256, rng=np.random.default_rng(5)).parameters()
    for w, fan_in in ((big["up.weight"], 64), (big["down.weight"], 256)):  # uniform in +-1/sqrt(fan_in), as torch
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and w.min() < -0.9 * bound and w.max() > 0.9 * bound
    assert big["up.weight"].shape == (256, 64) and big["down.weight"].shape == (64, 256)


def test_construction_is_seeded_and_sizes_are_named():
    x = np.random.default_rng(6).standard_normal((2, 4, 8))
    memory = np.random.default_rng(7).standard_normal((2, 5, 8))
    for make, args in ((lambda r: FeedForward(8, 16, rng=r), (x,)), (lambda r: EncoderBlock(8, 2, rng=r), (x,)),
                       (lambda r: DecoderBlock(8, 2, rng=r), (x, memory))):
        same = [make(np.random.default_rng(0))(*args) for _ in range(2)]
        np.testing.assert_array_equal(same[0], same[1])  # the given generator draws every weight
        assert not np.allclose(same[0], make(np.random.default_rng(1))(*args))
        assert make(None)(*args).shape == x.shape  # no generator: numpy's default one
    with pytest.raises(ValueError, match="^dim must be a positive integer, got 0"):
        FeedForward(0, 4)
    with pytest.raises(ValueError, match="^hidden must be a positive integer, got 0"):
        FeedForward(4, 0)
    FeedForward(1, 1, rng=np.random.default_rng(0))  # 1 is allowed for both
    with pytest.raises(TypeError, match="^x must be real"):
        layer_norm(np.ones(3, complex))
    with pytest.raises(ValueError, match="^x must have at least 1 dimensions"):
        layer_norm(np.float64(1.0))
    np.testing.assert_allclose(layer_norm(np.array([1.0, 3.0])), [-1, 1], atol=1e-5)  # 1-D is a vector


def test_encoder_block_is_pre_norm_attention_then_feed_forward_with_residuals():
    block = EncoderBlock(8, 2, rng=np.random.default_rng(8))
    assert block.parameters()["feed_forward.up.weight"].shape == (32, 8)  # hidden = 4 D by default
    x = np.random.default_rng(9).standard_normal((2, 4, 8))
    pad = np.array([[True, True, True, False], [True, True, True, True]])  # True = real key, False = padding
    h = layer_norm(x)
    x1 = x + manual_attention(block.attention, h, h, pad)
    np.testing.assert_allclose(block(x, key_padding_mask=pad), x1 + block.feed_forward(layer_norm(x1)), atol=1e-12)


def test_decoder_block_is_causal_self_attention_cross_attention_and_feed_forward():
    block = DecoderBlock(8, 2, rng=np.random.default_rng(10))
    assert block.parameters()["feed_forward.up.weight"].shape == (32, 8)
    x = np.random.default_rng(11).standard_normal((2, 4, 8))
    memory = np.random.default_rng(12).standard_normal((2, 5, 8))
    pad = np.array([[True] * 4 + [False], [True] * 5])  # the last memory position of sequence 0 is padding
    h = layer_norm(x)
    x1 = x + manual_attention(block.attention, h, h, causal=True)
    h1 = layer_norm(x1)
    x2 = x1 + manual_attention(block.cross_attention, h1, memory, pad)
    np.testing.assert_allclose(block(x, memory, memory_padding_mask=pad), x2 + block.feed_forward(layer_norm(x2)),
                               atol=1e-12)


def test_the_encoder_the_decoder_and_the_language_model_share_one_block():
    from attention import TransformerBlock, TransformerLM

    model = TransformerLM(vocab=5, dim=8, layers=1, heads=2, rng=np.random.default_rng(0))
    assert type(model.blocks[0]) is TransformerBlock and model.blocks[0].attention.causal
    assert issubclass(EncoderBlock, TransformerBlock) and issubclass(DecoderBlock, TransformerBlock)
    assert not EncoderBlock(8, 2).attention.causal and DecoderBlock(8, 2).attention.causal
    assert not hasattr(EncoderBlock(8, 2), "cross_attention")


def test_a_fully_padded_sequence_follows_the_package_rule():
    """Every key of a sequence padded: its attention rows are 0 (the package's rule), forward and backward."""
    block = EncoderBlock(8, 2, rng=np.random.default_rng(13))
    x = np.random.default_rng(14).standard_normal((2, 3, 8))
    pad = np.array([[False] * 3, [True] * 3])
    y = block(x, key_padding_mask=pad)
    dx = block.backward(np.ones_like(y))
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    x1 = x[0] + block.attention.parameters()["out.bias"]  # attention output 0, then the output projection's bias
    np.testing.assert_allclose(y[0], x1 + block.feed_forward(layer_norm(x1)), atol=1e-12)


@pytest.mark.parametrize(("make", "call", "message"), [
    (lambda: EncoderBlock(8, 2), lambda b: b(np.ones((1, 3, 8)), np.ones((1, 3, 8))), "^memory is only for"),
    (lambda: DecoderBlock(8, 2), lambda b: b(np.ones((1, 3, 8))), "^memory is required"),
    (lambda: EncoderBlock(8, 2), lambda b: b(np.ones((1, 3, 6))), r"^x must have shape \(B, length, 8\)"),
    (lambda: DecoderBlock(8, 2), lambda b: b(np.ones((1, 3, 8)), np.ones((2, 3, 8))),
     r"^memory must have shape \(1, length, 8\)"),
    (lambda: EncoderBlock(8, 2), lambda b: b(np.ones((1, 3, 8)), key_padding_mask=np.ones((1, 3))),
     "^key_padding_mask must be a bool array of shape"),
    (lambda: EncoderBlock(8, 2), lambda b: b.attention(np.ones((1, 3, 8)), cache={}), "^a cache continues"),
    (lambda: DecoderBlock(8, 2), lambda b: b.attention(np.ones((1, 3, 8)), np.ones((1, 3, 8))),
     "^memory is for cross-attention"),
])
def test_blocks_reject_bad_input_naming_the_argument(make, call, message):
    with pytest.raises(ValueError, match=message):
        call(make())


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
