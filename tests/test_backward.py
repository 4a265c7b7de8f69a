import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from attention import gradcheck, scaled_dot_product_attention, sdpa_backward, softmax, softmax_backward


def check_sdpa(q, k, v, mask=None, is_causal=False, scale=None, seed=0):
    """gradcheck of sdpa_backward for the loss <W, SDPA(q, k, v)> with a fixed random W."""
    out_shape = scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, scale=scale).shape
    W = np.random.default_rng(seed).standard_normal(out_shape)

    def f(q, k, v):
        loss = float((W * scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, scale=scale)).sum())
        return loss, sdpa_backward(W, q, k, v, mask, is_causal, scale=scale)

    return gradcheck(f, q, k, v, rtol=1e-6)


def test_plain_2d():
    rng = np.random.default_rng(0)
    check_sdpa(rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2)))


def test_custom_scale_and_causal_with_l_ne_s():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    check_sdpa(q, k, v, scale=0.7)
    check_sdpa(q, k, v, is_causal=True)


def test_float_mask_and_bool_mask_with_fully_masked_row():
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    mask = rng.random((3, 5)) < 0.6
    mask[0] = False  # a fully masked row
    mask[1:, 0] = True
    check_sdpa(q, k, v, mask)
    check_sdpa(q, k, v, rng.standard_normal((3, 5)))
    W = np.ones((3, 3))
    dq, dk, dv = sdpa_backward(W, q, k, v, mask)
    np.testing.assert_array_equal(dq[0], 0.0)  # the fully masked row passes nothing back
    # keys masked out for every query get no gradient
    unused = ~mask.any(axis=0)
    np.testing.assert_array_equal(dk[unused], 0.0)
    np.testing.assert_array_equal(dv[unused], 0.0)


def test_broadcast_batch_dims_are_summed_back():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, 4, 5))  # (B, H, L, E)
    k = rng.standard_normal((1, 3, 6, 5))  # (1, H, S, E): shared over the batch
    v = rng.standard_normal((6, 2))  # (S, Ev): shared over batch and heads
    check_sdpa(q, k, v, is_causal=True)
    dq, dk, dv = sdpa_backward(np.ones((2, 3, 4, 2)), q, k, v)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape


def test_matches_explicit_batch_loop():
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 5, 2))
    dO = rng.standard_normal((3, 2, 2))
    dq, dk, dv = sdpa_backward(dO, q, k, v)
    for b in range(3):
        for got, want in zip((dq[b], dk[b], dv[b]), sdpa_backward(dO[b], q[b], k[b], v[b])):
            np.testing.assert_allclose(got, want, rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 10_000),
       st.booleans())
@example(L=2, S=3, E=2, Ev=2, seed=585, masked=True)  # dK ~ 2e-6: at the edge of what differences resolve
def test_property_random_shapes_and_masks(L, S, E, Ev, seed, masked):
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((L, E)), rng.standard_normal((S, E)), rng.standard_normal((S, Ev))
    mask = rng.random((L, S)) < 0.7 if masked else None
    check_sdpa(q, k, v, mask, seed=seed)


def test_softmax_backward_matches_jacobian():
    rng = np.random.default_rng(5)
    s = rng.standard_normal(6)
    p = softmax(s)
    g = rng.standard_normal(6)
    jacobian = np.diag(p) - np.outer(p, p)
    np.testing.assert_allclose(softmax_backward(p, g), jacobian.T @ g, rtol=1e-12)
    with pytest.raises(ValueError, match=r"weights \(6,\) vs grad_weights \(5,\)"):
        softmax_backward(p, g[:5])


def test_bad_grad_output_shape():
    q = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"grad_output must have the output's shape .* \(2, 3\), got \(3, 2\)"):
        sdpa_backward(np.ones((3, 2)), q, q, q)


@pytest.mark.parametrize(("position", "name"), [(0, "weights"), (1, "grad_weights")])
def test_softmax_backward_errors_name_the_argument(position, name):
    args = [np.full(3, 1 / 3), np.ones(3)]
    args[position] = np.ones(3, complex)
    with pytest.raises(TypeError, match=rf"^{name} must be real"):
        softmax_backward(*args)
    args = [np.full(3, 1 / 3), np.ones(3)]
    args[position] = np.float64(1.0)  # 0-d: nothing to normalise over
    with pytest.raises(ValueError, match=rf"^{name} must have at least 1 dimensions"):
        softmax_backward(*args)
    with pytest.raises(ValueError, match=r"^axis 2 is out of range for weights with shape \(2, 3\)"):
        softmax_backward(np.full((2, 3), 1 / 3), np.ones((2, 3)), axis=2)


def test_sdpa_backward_grad_output_errors_and_gradient_dtypes():
    q = np.ones((2, 3))
    with pytest.raises(TypeError, match=r"^grad_output must be real"):
        sdpa_backward(np.ones((2, 3), complex), q, q, q)
    for dtype in (np.float16, np.float32, np.float64):
        grads = sdpa_backward(np.ones((2, 3), dtype), *(np.ones((2, 3), dtype) for _ in range(3)))
        assert [g.dtype for g in grads] == [np.dtype(dtype)] * 3  # the inputs' dtype, not float64


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_backward_gqa_equals_repeated_heads_with_their_gradients_summed(causal):
    # Query head h uses key/value head h // 3 (PyTorch's enable_gqa): repeat the key/value heads,
    # take the ordinary gradients, and sum them over each group of three query heads.
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 6, 10, 4)), rng.standard_normal((2, 2, 13, 4)), rng.standard_normal((2, 2, 13, 3))
    dO = rng.standard_normal((2, 6, 10, 3))
    dq, dk, dv = sdpa_backward(dO, q, k, v, is_causal=causal, enable_gqa=True)
    rq, rk, rv = sdpa_backward(dO, q, np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1), is_causal=causal)
    np.testing.assert_allclose(dq, rq, atol=1e-12)
    np.testing.assert_allclose(dk, rk.reshape(2, 2, 3, 13, 4).sum(axis=2), atol=1e-12)
    np.testing.assert_allclose(dv, rv.reshape(2, 2, 3, 13, 3).sum(axis=2), atol=1e-12)


def test_sdpa_backward_gqa_broadcast_batch_and_bad_heads():
    rng = np.random.default_rng(6)
    q, k, v = rng.standard_normal((3, 4, 5, 2)), rng.standard_normal((2, 6, 2)), rng.standard_normal((2, 6, 3))
    dq, dk, dv = sdpa_backward(np.ones((3, 4, 5, 3)), q, k, v, enable_gqa=True)
    assert (dq.shape, dk.shape, dv.shape) == (q.shape, k.shape, v.shape)
    _, rk, rv = sdpa_backward(np.ones((3, 4, 5, 3)), q, np.repeat(k, 2, axis=0), np.repeat(v, 2, axis=0))
    np.testing.assert_allclose(dk, rk.reshape(2, 2, 6, 2).sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(dv, rv.reshape(2, 2, 6, 3).sum(axis=1), atol=1e-12)
    with pytest.raises(ValueError, match="enable_gqa"):
        sdpa_backward(np.ones((3, 4, 5, 3)), q, k[:1].repeat(3, axis=0), v[:1].repeat(3, axis=0), enable_gqa=True)


def test_sdpa_backward_gqa_with_two_batch_dims():
    # (B, T, H, L, E): the group axis is found from the end, whatever the batch dims
    rng = np.random.default_rng(7)
    q = rng.standard_normal((2, 3, 4, 5, 2))
    k, v = rng.standard_normal((2, 3, 2, 6, 2)), rng.standard_normal((2, 3, 2, 6, 3))
    dO = rng.standard_normal((2, 3, 4, 5, 3))
    _, dk, dv = sdpa_backward(dO, q, k, v, enable_gqa=True)
    _, rk, rv = sdpa_backward(dO, q, np.repeat(k, 2, axis=2), np.repeat(v, 2, axis=2))
    np.testing.assert_allclose(dk, rk.reshape(2, 3, 2, 2, 6, 2).sum(axis=3), atol=1e-12)
    np.testing.assert_allclose(dv, rv.reshape(2, 3, 2, 2, 6, 3).sum(axis=3), atol=1e-12)
