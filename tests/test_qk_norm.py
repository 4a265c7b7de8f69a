import math

import numpy as np
import pytest

from attention import l2_normalize, qk_norm_attention, scaled_dot_product_attention


def test_scores_are_bounded_by_the_temperature():
    rng = np.random.default_rng(0)
    q, k, v = 1000 * rng.standard_normal((3, 8, 32))
    g, S = 3.0, 8
    _, w = qk_norm_attention(q, k, v, temperature=g, return_weights=True)
    bound = math.exp(g) / (math.exp(g) + (S - 1) * math.exp(-g))  # best case: one key at +g, the rest at -g
    assert w.max() <= bound + 1e-12


def test_equals_attention_on_cosine_similarities():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    cos = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (k / np.linalg.norm(k, axis=1, keepdims=True)).T  # (5, 6)
    weights = np.exp(2.5 * cos) / np.exp(2.5 * cos).sum(axis=1, keepdims=True)
    out, w = qk_norm_attention(q, k, v, temperature=2.5, return_weights=True)
    np.testing.assert_allclose(w, weights, rtol=1e-12)
    np.testing.assert_allclose(out, weights @ v, rtol=1e-12)


def test_masks_and_causal_pass_through():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((3, 5, 4))
    out = qk_norm_attention(q, k, v, is_causal=True, temperature=3.0)
    expected = scaled_dot_product_attention(l2_normalize(q), l2_normalize(k), v, is_causal=True, scale=3.0)
    np.testing.assert_allclose(out, expected)
    mask = np.array([True, False, True, True, False])
    np.testing.assert_allclose(qk_norm_attention(q, k, v, mask, temperature=3.0),
                               scaled_dot_product_attention(l2_normalize(q), l2_normalize(k), v, mask, scale=3.0))


def test_l2_normalize():
    x = np.random.default_rng(1).standard_normal((4, 5))
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(x), axis=-1), 1.0)
    np.testing.assert_array_equal(l2_normalize(np.zeros((1, 3))), 0.0)
    np.testing.assert_allclose(l2_normalize([[1e-9, 0.0]], eps=1e-6), [[1e-3, 0.0]])  # shorter than eps


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: qk_norm_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), temperature=0), ValueError,
         "temperature must be a positive finite number, got 0.0"),
        (lambda: qk_norm_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), temperature="4"), TypeError,
         "temperature must be a real number"),
        (lambda: qk_norm_attention(np.ones(2), np.ones((2, 2)), np.ones((2, 2)), temperature=1), ValueError,
         r"query must have at least 2 dimensions"),
        (lambda: qk_norm_attention(1.0, np.ones((2, 2)), np.ones((2, 2)), temperature=1), ValueError,
         r"query must have at least 2 dimensions"),  # named query, not l2_normalize's x
        (lambda: qk_norm_attention(np.ones((2, 2)), 1.0, np.ones((2, 2)), temperature=1), ValueError,
         r"key must have at least 2 dimensions"),
        (lambda: l2_normalize(np.ones(3), eps=0), ValueError, "eps must be a positive"),
        (lambda: l2_normalize(np.float64(1.0)), ValueError, "x must have at least 1 dimensions"),
    ],
)
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_l2_normalize_works_on_the_last_axis_of_any_rank_and_arguments_are_named():
    from argcheck import assert_arguments_named

    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(x), axis=-1), 1.0, rtol=1e-12)
    q = np.random.default_rng(4).standard_normal((3, 4))
    assert_arguments_named(qk_norm_attention, [q, q, q], ["query", "key", "value"], min_ndims=[2, 2, 2],
                           temperature=2.0)
