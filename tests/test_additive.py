"""Additive attention against its formula written as loops, its backward against central
differences, its bound, masks and errors."""

import numpy as np
import pytest

from attention import AdditiveAttention, Attention, additive_attention, additive_attention_backward, gradcheck


def args(rng, L=3, S=4, Eq=5, Ek=2, Ev=3, H=6, batch=()):
    return [rng.standard_normal(s) for s in [(*batch, L, Eq), (*batch, S, Ek), (*batch, S, Ev), (H, Eq), (H, Ek), (H,)]]


def test_matches_the_formula_pair_by_pair():
    q, k, v, Wq, Wk, w = args(np.random.default_rng(0))
    scores = np.array([[w @ np.tanh(Wq @ qi + Wk @ kj) for kj in k] for qi in q])  # (L, S) by loops
    p = np.exp(scores - scores.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out, weights = additive_attention(q, k, v, Wq, Wk, w, return_weights=True)
    np.testing.assert_allclose(weights, p, rtol=1e-12)
    np.testing.assert_allclose(out, p @ v, rtol=1e-12)


@pytest.mark.parametrize("masked", [False, True])
def test_backward_passes_gradcheck_with_batch_dims_and_masks(masked):
    rng = np.random.default_rng(1)
    a = args(rng, batch=(2,))
    mask = rng.random((3, 4)) < 0.7 if masked else None
    if masked:
        mask[1] = False  # a fully masked row contributes nothing
    R = rng.standard_normal((2, 3, 3))

    def f(*x):
        return float((R * additive_attention(*x, attn_mask=mask)).sum()), additive_attention_backward(R, *x, mask)

    assert max(gradcheck(f, *a)) < 1e-6
    grads = additive_attention_backward(R, *a, mask)
    assert [g.shape for g in grads] == [x.shape for x in a]
    if masked:
        np.testing.assert_array_equal(additive_attention(*a, attn_mask=mask)[:, 1], 0.0)
        np.testing.assert_array_equal(grads[0][:, 1], 0.0)


def test_scores_are_bounded_by_the_l1_norm_of_w_however_large_the_inputs():
    q, k, v, Wq, Wk, w = args(np.random.default_rng(2))
    for factor in (1, 1e3, 1e12):
        weights = additive_attention(factor * q, factor * k, v, Wq, Wk, w, return_weights=True)[1]
        scores = np.log(weights)  # up to a per-row constant: their spread is at most 2 |w|_1
        assert (scores.max(1) - scores.min(1) <= 2 * np.abs(w).sum() + 1e-9).all()


def test_errors_name_the_argument():
    q, k, v, Wq, Wk, w = args(np.random.default_rng(3))
    with pytest.raises(ValueError, match=r"w_query must be \(H, Eq\).*w_query \(6, 4\)"):
        additive_attention(q, k, v, Wq[:, :4], Wk, w)
    with pytest.raises(ValueError, match="key and value must have the same length S"):
        additive_attention(q, k, v[:3], Wq, Wk, w)
    with pytest.raises(TypeError, match="attn_mask must be boolean"):
        additive_attention(q, k, v, Wq, Wk, w, attn_mask=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape \(3, 3\)"):
        additive_attention_backward(np.ones((3, 2)), q, k, v, Wq, Wk, w)


def test_every_argument_is_named_in_its_errors():
    from argcheck import assert_arguments_named

    a = args(np.random.default_rng(4))
    names = ["query", "key", "value", "w_query", "w_key", "w_score"]
    assert_arguments_named(additive_attention, a, names, min_ndims=[2, 2, 2, 2, 2, 1])
    R = np.ones((3, 3))
    assert_arguments_named(additive_attention_backward, [R, *a], ["grad_output"])
    with pytest.raises(TypeError, match="^attn_mask must be bool"):
        additive_attention(*a, attn_mask=np.array(["yes"]))


def test_the_trainable_layer_passes_gradcheck_and_starts_where_attention_starts():
    layer = AdditiveAttention(4, hidden=3, rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, memory, R = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 3, 4))
    params = layer.parameters()  # the layer's own arrays
    names = list(params)

    def f(*arrays):
        for name, array in zip(names, arrays):
            params[name][...] = array
        layer.zero_grad()
        y = layer.forward(x, memory)
        layer.backward(R)
        return float((R * y).sum()), [layer.gradients()[n].copy() for n in names]

    assert max(gradcheck(f, *[params[n].copy() for n in names])) < 1e-6
    # the input gradients too: at x, and at memory (through the scores and the values)
    def g(x_, m_):
        layer.zero_grad()
        y = layer.forward(x_, m_)
        return float((R * y).sum()), [layer.backward(R), layer.memory_grad]

    assert max(gradcheck(g, x, memory)) < 1e-6
    same = AdditiveAttention(4, rng=np.random.default_rng(3)).parameters()
    dot = Attention(4, 1, causal=False, rng=np.random.default_rng(3)).parameters()
    pairs = (("w_query", "q.weight"), ("w_key", "k.weight"), ("v.weight", "v.weight"), ("out.weight", "out.weight"))
    for a, b in pairs:
        assert np.array_equal(same[a], dot[b]), a
    with pytest.raises(ValueError, match="memory"):
        layer.forward(x, np.ones((2, 5, 3)))
