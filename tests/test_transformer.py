"""attention.transformer's layers against central differences (gradcheck), the whole model end
to end, and the key/value cache against recomputation."""

import numpy as np
import pytest

from attention import gradcheck
from attention.trainable import cross_entropy
from attention.transformer import SelfAttention, TransformerBlock, TransformerLM


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
    layer = SelfAttention(8, heads, kv_heads=kv_heads, rope=rope, rng=rng())
    check(layer, layer.forward, layer.backward, rng().standard_normal((2, 5, 8)))


def test_block_with_its_residuals():
    block = TransformerBlock(8, 2, hidden=12, rng=rng())
    check(block, block.forward, block.backward, rng().standard_normal((2, 4, 8)))


@pytest.mark.parametrize(("positions", "tied", "kv_heads"), [("learned", True, 2), ("sinusoidal", False, 1),
                                                            ("rope", True, None)])
def test_whole_two_layer_model_end_to_end(positions, tied, kv_heads):
    model = TransformerLM(vocab=7, dim=8, layers=2, heads=2, kv_heads=kv_heads, max_len=8, positions=positions,
                          tied=tied, hidden=12, rng=rng())
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
        SelfAttention(8, 3, rng=rng())
    model = TransformerLM(vocab=5, dim=8, layers=1, heads=2, max_len=6, rng=rng())
    with pytest.raises(ValueError, match="max_len=6"):
        model.generate(np.zeros((1, 4), int), 3)
    with pytest.raises(TypeError, match="vocab"):
        TransformerLM(vocab=5.0, dim=8, layers=1, heads=2)
