"""attention.transformer's layers against central differences (gradcheck), the whole model end
to end, and the key/value cache against recomputation."""

import numpy as np
import pytest

from attention import gradcheck
from attention.trainable import cross_entropy
from attention.transformer import Attention, TransformerBlock, TransformerLM

pytestmark = pytest.mark.usefixtures("one_blas_thread")  # training and gradient checks: many small matrix products


def check(module, forward, backward, x=None):
    """gradcheck of ``module``'s parameters (and of the input ``x``, if given) for the loss
    <R, forward(x)> with a fixed random R; ``backward(R)`` returns the input's gradient."""
    params = module.parameters()
    names = list(params)
    R = np.random.default_rng(99).standard_normal(forward(x).shape)

    def f(*arrays):
        inputs = arrays[0] if x is not None else None
        for name, value in zip(names, arrays[x is not None:]):
            params[name][...] = value
        module.zero_grad()
        loss = float((R * forward(inputs)).sum())
        dx = backward(R)
        grads = module.gradients()
        return loss, ([dx] if x is not None else []) + [grads[n].copy() for n in names]

    arrays = ([x] if x is not None else []) + [params[n].copy() for n in names]
    errors = gradcheck(f, *arrays, rtol=1e-6)
    assert len(errors) == len(arrays)


def rng():
    return np.random.default_rng(0)


@pytest.mark.parametrize(("heads", "kv_heads", "rope"), [(2, 2, False), (4, 2, True), (4, 1, False)])
def test_self_attention_with_gqa_and_rope(heads, kv_heads, rope):
    layer = Attention(8, heads, kv_heads=kv_heads, rope=rope, rng=rng())
    check(layer, layer.forward, layer.backward, rng().standard_normal((2, 5, 8)))


def test_block_with_its_residuals():
    block = TransformerBlock(8, 2, hidden=12, rng=rng())
    check(block, block.forward, block.backward, rng().standard_normal((2, 4, 8)))


def test_encoder_block_with_padding():
    from attention import EncoderBlock

    block = EncoderBlock(4, 2, kv_heads=1, hidden=6, rng=rng())
    pad = np.array([[True, True, True, False], [True, True, True, True]])
    check(block, lambda x: block.forward(x, key_padding_mask=pad), block.backward, rng().standard_normal((2, 4, 4)))


def test_decoder_block_and_the_gradient_at_its_memory():
    from attention import DecoderBlock

    block = DecoderBlock(4, 2, hidden=6, rng=rng())  # small: a central difference per parameter, two passes each
    params = block.parameters()
    names = list(params)
    x, memory = rng().standard_normal((2, 4, 4)), np.random.default_rng(1).standard_normal((2, 5, 4))
    pad = np.array([[True] * 4 + [False], [True] * 5])
    R = np.random.default_rng(99).standard_normal(x.shape)

    def f(x, memory, *arrays):
        for name, value in zip(names, arrays):
            params[name][...] = value
        block.zero_grad()
        loss = float((R * block.forward(x, memory, memory_padding_mask=pad)).sum())
        dx = block.backward(R)
        grads = block.gradients()
        return loss, [dx, block.memory_grad] + [grads[n].copy() for n in names]

    assert len(gradcheck(f, x, memory, *[params[n].copy() for n in names], rtol=1e-6)) == 2 + len(names)


@pytest.mark.slow  # trains the whole model: make test, not make quick
@pytest.mark.parametrize(("positions", "tied", "kv_heads"), [("learned", True, 2), ("sinusoidal", False, 1),
                                                            ("rope", True, None)])
def test_whole_two_layer_model_end_to_end(positions, tied, kv_heads):
    # Width 4 (two heads of 2: RoPE's smallest): every path of the model, with a quarter of the central
    # differences of width 8 (each parameter is perturbed twice and the model run again).
    model = TransformerLM(vocab=7, dim=4, layers=2, heads=2, kv_heads=kv_heads, max_len=8, positions=positions,
                          tied=tied, hidden=6, rng=rng())
    ids = np.array([[1, 2, 3, 4, 5], [6, 5, 4, 3, 0]])
    targets = np.array([[2, 3, 4, 5, -1], [5, 4, 3, -1, -1]])  # -1: padding, ignored
    params = model.parameters()
    names = list(params)

    def f(*arrays):
        for name, value in zip(names, arrays):
            params[name][...] = value
        model.zero_grad()
        loss, dlogits = cross_entropy(model.forward(ids), targets, ignore_index=-1, label_smoothing=0.1)
        model.backward(dlogits)
        grads = model.gradients()
        return loss, [grads[n].copy() for n in names]

    gradcheck(f, *[params[n].copy() for n in names], rtol=1e-6)
    assert ("head.weight" in names) != tied and ("position.weight" in names) == (positions == "learned")


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rope"])
def test_cached_and_uncached_decoding_give_identical_tokens(positions):
    model = TransformerLM(vocab=13, dim=16, layers=2, heads=4, kv_heads=2, max_len=40, positions=positions,
                          rng=rng())
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    greedy = model.generate(prompt, 20)
    assert greedy.shape == (2, 23) and (greedy == model.generate(prompt, 20, use_cache=False)).all()
    sampled = model.generate(prompt, 20, temperature=1.0, rng=np.random.default_rng(5))
    again = model.generate(prompt, 20, temperature=1.0, rng=np.random.default_rng(5), use_cache=False)
    assert (sampled == again).all()
    assert not (sampled == greedy).all()  # sampling really samples
    # The cache gives the same logits as the full recomputation, position by position.
    caches = [{} for _ in model.blocks]
    steps = [model.forward(greedy[:, :3], caches)[:, -1]] + [model.forward(greedy[:, t:t + 1], caches)[:, -1]
                                                             for t in range(3, 10)]
    full = model.forward(greedy[:, :10])
    np.testing.assert_allclose(np.stack(steps, 1), full[:, 2:10], atol=1e-12)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="positions must be"):
        TransformerLM(vocab=5, dim=8, layers=1, heads=2, positions="absolute")
    with pytest.raises(ValueError, match="divisible"):
        Attention(8, 3, rng=rng())
    model = TransformerLM(vocab=5, dim=8, layers=1, heads=2, max_len=6, rng=rng())
    with pytest.raises(ValueError, match="max_len=6"):
        model.generate(np.zeros((1, 4), int), 3)
    with pytest.raises(TypeError, match="vocab"):
        TransformerLM(vocab=5.0, dim=8, layers=1, heads=2)


def small_model(**kw):
    return TransformerLM(**(dict(vocab=11, dim=8, layers=1, heads=2, max_len=12, rng=rng()) | kw))


@pytest.mark.parametrize("layers", [1, 2])
def test_greedy_decoding_is_the_argmax_of_the_full_forward_at_every_step(layers):
    model = small_model(layers=layers)
    ids = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    out = model.generate(ids, 5)
    expected = ids
    for _ in range(5):  # the definition: append the argmax of the last position's logits
        expected = np.concatenate([expected, model.forward(expected)[:, -1].argmax(-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, expected)


def test_sampling_follows_the_temperature():
    model = small_model()
    ids = np.array([[1, 2, 3]] * 4)
    greedy = model.generate(ids, 8)
    cold = model.generate(ids, 8, temperature=1e-4, rng=np.random.default_rng(1))  # softmax(logits / 1e-4): argmax
    np.testing.assert_array_equal(cold, greedy)
    hot = model.generate(np.array([[1, 2, 3]] * 200), 1, temperature=1e4, rng=np.random.default_rng(2))[:, -1]
    assert len(np.unique(hot)) == 11  # softmax(logits / 1e4) is almost uniform: 200 draws hit all 11 tokens
    assert model.generate(ids, 2, temperature=1.0).shape == (4, 5)  # no rng given: a fresh one


def test_generate_uses_the_cache_by_default_one_position_per_step():
    model = small_model(layers=2)
    lengths = []
    forward = model.forward
    model.forward = lambda ids, caches=None: lengths.append(np.shape(ids)[1]) or forward(ids, caches)
    model.generate(np.array([[1, 2, 3]]), 4)
    assert lengths == [3, 1, 1, 1]  # the prompt once, then one new position per step; none after the last
    lengths.clear()
    model.generate(np.array([[1, 2, 3]]), 4, use_cache=False)
    assert lengths == [3, 4, 5, 6]


def test_max_len_is_the_longest_sequence():
    model = small_model(max_len=6)
    assert model.generate(np.zeros((1, 4), int), 2).shape == (1, 6)  # exactly max_len positions
    assert model.forward(np.zeros((1, 6), int)).shape == (1, 6, 11)
    with pytest.raises(ValueError, match=r"^sequence of 7 positions is longer than max_len=6$"):
        model.forward(np.zeros((1, 7), int))
    caches = [{}]
    model.forward(np.zeros((1, 5), int), caches)
    with pytest.raises(ValueError, match=r"^sequence of 7 positions is longer than max_len=6$"):
        model.forward(np.zeros((1, 2), int), caches)  # 5 cached + 2 new
    with pytest.raises(ValueError, match=r"T0 \+ steps <= max_len=6, got \(1, 4\) and steps=3"):
        model.generate(np.zeros((1, 4), int), 3)
    with pytest.raises(ValueError, match=r"^ids must be \(B, T\)"):
        model.generate(np.zeros(4, int), 1)


def test_defaults_and_sizes_are_checked_by_name():
    model = TransformerLM(vocab=5, dim=8, layers=1, heads=2, rng=rng())
    assert model.max_len == 512 and model.head is None  # tied output by default
    assert not any(name.startswith("head") for name in model.parameters())
    for name in ("vocab", "dim", "layers", "heads"):
        sizes = dict(vocab=5, dim=8, layers=1, heads=2) | {name: 0}
        with pytest.raises(ValueError, match=f"^{name} must be a positive integer, got 0"):
            TransformerLM(**sizes)
    with pytest.raises(TypeError, match="^steps must be an integer"):
        model.generate(np.zeros((1, 2), int), 2.0)


def test_sinusoidal_positions_are_added_to_the_token_embeddings():
    model = small_model(positions="sinusoidal", tied=False)
    # The same model with a table of zeros, whose embedding of token 3 is moved by hand by table row 0
    # (sin 0 = 0, cos 0 = 1: not zero): for one token at position 0 the two must agree.
    plain = small_model(positions="sinusoidal", tied=False)
    plain.table = np.zeros_like(model.table)
    plain.tokens.params["weight"][3] += model.table[0]
    ids = np.array([[3]])
    assert model.table[0].any()
    np.testing.assert_allclose(model.forward(ids), plain.forward(ids), rtol=1e-12)


def test_block_passes_kv_heads_and_rope_to_its_attention():
    x = np.random.default_rng(3).standard_normal((1, 5, 8))
    gqa = TransformerBlock(8, 4, kv_heads=2, rng=rng())
    assert gqa.parameters()["attention.k.weight"].shape == (4, 8)  # 2 key heads of 2 dims
    default, plain, rope = (TransformerBlock(8, 4, rng=rng(), **kw) for kw in ({}, {"rope": False}, {"rope": True}))
    np.testing.assert_array_equal(default.forward(x), plain.forward(x))  # no RoPE unless asked
    assert not np.allclose(rope.forward(x), plain.forward(x))


@pytest.mark.parametrize(("heads", "kv_heads", "rope"), [(4, 2, False), (4, 4, True), (2, 1, True)])
def test_self_attention_is_causal_attention_over_its_projections(heads, kv_heads, rope):
    from attention import rotary_embedding, scaled_dot_product_attention

    layer = Attention(8, heads, kv_heads=kv_heads, rope=rope, rng=rng())
    p = layer.parameters()
    x = np.random.default_rng(4).standard_normal((2, 5, 8))  # (B, T, D)
    D = 8 // heads
    split = lambda y, h: y.reshape(2, 5, h, D).transpose(0, 2, 1, 3)  # noqa: E731 - (B, T, h*D) -> (B, h, T, D)
    q, k, v = (split(x @ p[f"{n}.weight"].T + p[f"{n}.bias"], h) for n, h in (("q", heads), ("k", kv_heads),
                                                                                ("v", kv_heads)))
    if rope:
        q, k = rotary_embedding(q, np.arange(5)), rotary_embedding(k, np.arange(5))
    o = scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)  # (B, H, T, D)
    expected = o.transpose(0, 2, 1, 3).reshape(2, 5, 8) @ p["out.weight"].T + p["out.bias"]
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.weights is None  # not kept unless asked
    layer.keep_weights = True
    layer.forward(x)
    _, w = scaled_dot_product_attention(q, np.repeat(k, heads // kv_heads, 1), v.repeat(heads // kv_heads, 1),
                                        is_causal=True, return_weights=True)
    np.testing.assert_allclose(layer.weights, w, rtol=1e-12)


def test_self_attention_has_no_rope_by_default():
    x = np.random.default_rng(5).standard_normal((1, 4, 8))
    default, plain = Attention(8, 2, rng=rng()), Attention(8, 2, rope=False, rng=rng())
    np.testing.assert_array_equal(default.forward(x), plain.forward(x))


def test_model_options_reach_its_parts():
    model = TransformerLM(vocab=5, dim=8, layers=2, heads=2, kv_heads=1, hidden=12, tied=False, rng=rng())
    shapes = {name: p.shape for name, p in model.parameters().items()}
    assert shapes["head.weight"] == (5, 8) and "head.bias" not in shapes  # the untied output has no bias
    for i in range(2):
        assert shapes[f"blocks.{i}.attention.k.weight"] == (4, 8)  # one key head of 4 dims
        ff = f"blocks.{i}.feed_forward"
        assert shapes[f"{ff}.up.weight"] == (12, 8) and shapes[f"{ff}.down.weight"] == (8, 12)
    for positions in ("learned", "sinusoidal", "rope"):
        model = TransformerLM(vocab=5, dim=8, layers=2, heads=2, positions=positions, rng=rng())
        assert [b.attention.rope for b in model.blocks] == [positions == "rope"] * 2
        assert ("position.weight" in model.parameters()) == (positions == "learned")


def test_initial_embeddings_have_rows_of_length_about_one():
    # Token rows: std dim**-0.5, so |row| is about 1 and tied logits start about unit size; learned
    # positions: std 0.5 per entry.
    model = TransformerLM(vocab=2000, dim=64, layers=1, heads=2, max_len=2000, rng=rng())
    p = model.parameters()
    assert abs(np.linalg.norm(p["tokens.weight"], axis=1).mean() - 1.0) < 0.02
    assert abs(p["position.weight"].std() - 0.5) < 0.01
    fresh = TransformerLM(vocab=5, dim=8, layers=1, heads=2, max_len=1)  # no rng: a fresh generator; 1 position
    assert fresh.forward(np.array([[1]])).shape == (1, 1, 5)
    with pytest.raises(ValueError, match="^max_len must be a positive integer, got 0"):
        TransformerLM(vocab=5, dim=8, layers=1, heads=2, max_len=0)


@pytest.mark.parametrize(("ids", "error", "message"), [
    (np.array([[0, -1]]), ValueError, r"^ids must be token ids in \[0, 11\)"),  # not token 10
    (np.array([[0, 11]]), ValueError, r"^ids must be token ids in \[0, 11\)"),
    (np.array([[0.0, 1.0]]), TypeError, r"^ids must be integer token ids"),
    (np.array([0, 1]), ValueError, r"^ids must be \(B, T\)"),
])
def test_transformer_lm_rejects_bad_ids_naming_the_argument(ids, error, message):
    model = TransformerLM(11, 8, 1, 2, max_len=8, rng=rng())
    with pytest.raises(error, match=message):
        model.forward(ids)
    with pytest.raises(error, match=message):
        model.generate(ids, 1)


def test_generate_rejects_a_negative_temperature():
    model = TransformerLM(11, 8, 1, 2, max_len=8, rng=rng())
    with pytest.raises(ValueError, match=r"^temperature must be >= 0"):
        model.generate(np.array([[1, 2]]), 1, temperature=-1.0)
