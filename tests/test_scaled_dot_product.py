import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import padding_mask
from attention import scaled_dot_product_attention as sdpa


def reference(q, k, v, mask=None, scale=None):
    """Independent float64 formula for 2-D inputs: explicit loops over queries, math.exp."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    L, E = q.shape
    S = k.shape[0]
    scale = 1 / math.sqrt(E) if scale is None else scale
    out = np.zeros((L, v.shape[1]))
    weights = np.zeros((L, S))
    for i in range(L):
        allowed = [j for j in range(S) if mask is None or mask[i, j]]
        if not allowed:
            continue
        scores = {j: scale * sum(q[i, e] * k[j, e] for e in range(E)) for j in allowed}
        top = max(scores.values())
        z = sum(math.exp(s - top) for s in scores.values())
        for j in allowed:
            weights[i, j] = math.exp(scores[j] - top) / z
        out[i] = weights[i] @ v
    return out, weights


def randn(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# --- semantics -------------------------------------------------------------------------


def test_source_note_example_matches_hand_formula():
    Q = np.array([[1, 0, 1]])
    K = np.array([[1, 0, 1], [0, 1, 0]])
    V = np.array([[0.5, 0.5], [0.1, 0.9]])
    out, w = sdpa(Q, K, V, return_weights=True)
    # scores are [2/sqrt(3), 0]; the weight of key 0 is the logistic function of 2/sqrt(3)
    w0 = 1 / (1 + math.exp(-2 / math.sqrt(3)))
    np.testing.assert_allclose(w, [[w0, 1 - w0]], rtol=1e-14)
    np.testing.assert_allclose(out, [[0.5 * w0 + 0.1 * (1 - w0), 0.5 * w0 + 0.9 * (1 - w0)]], rtol=1e-14)
    assert out.dtype == np.float64


def test_output_shapes_broadcast_and_ev_differs():
    rng = np.random.default_rng(0)
    q, k, v = randn(rng, 2, 1, 5, 8), randn(rng, 1, 3, 7, 8), randn(rng, 7, 4)
    out, w = sdpa(q, k, v, return_weights=True)
    assert out.shape == (2, 3, 5, 4)
    assert w.shape == (2, 3, 5, 7)


def test_default_scale_and_custom_scale():
    rng = np.random.default_rng(2)
    q, k, v = randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5, 2)
    np.testing.assert_allclose(sdpa(q, k, v), reference(q, k, v)[0], rtol=1e-12)
    np.testing.assert_allclose(sdpa(q, k, v, scale=0.3), reference(q, k, v, scale=0.3)[0], rtol=1e-12)


def test_scale_is_keyword_only():
    q = np.ones((2, 2))
    with pytest.raises(TypeError):
        sdpa(q, q, q, None, 0.0, False, 0.5)


def test_bool_mask_float_mask_and_causal_agree():
    rng = np.random.default_rng(3)
    q, k, v = randn(rng, 4, 6), randn(rng, 5, 6), randn(rng, 5, 3)
    mask = rng.random((4, 5)) < 0.6
    mask[:, 0] = True
    ref_out, ref_w = reference(q, k, v, mask)
    out_b, w_b = sdpa(q, k, v, mask, return_weights=True)
    out_f, w_f = sdpa(q, k, v, np.where(mask, 0.0, -np.inf), return_weights=True)
    for out, w in [(out_b, w_b), (out_f, w_f)]:
        np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(w, ref_w, rtol=1e-12, atol=1e-14)


def test_float_mask_is_added_to_scores():
    rng = np.random.default_rng(4)
    q, k, v = randn(rng, 3, 4), randn(rng, 6, 4), randn(rng, 6, 2)
    bias = rng.standard_normal((3, 6))
    scores = q @ k.T / 2.0 + bias
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(sdpa(q, k, v, bias), weights @ v, rtol=1e-12)


@pytest.mark.parametrize(("L", "S"), [(4, 4), (3, 6), (6, 3)])
def test_is_causal_equals_explicit_top_left_tril(L, S):
    rng = np.random.default_rng(5)
    q, k, v = randn(rng, 2, L, 4), randn(rng, 2, S, 4), randn(rng, 2, S, 3)
    tril = np.tril(np.ones((L, S), dtype=bool))
    np.testing.assert_array_equal(sdpa(q, k, v, is_causal=True), sdpa(q, k, v, tril))


def test_fully_masked_row_gives_zero_output_and_weights():
    rng = np.random.default_rng(6)
    q, k, v = randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5, 2)
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, w = sdpa(q, k, v, mask, return_weights=True)
        out_inf, w_inf = sdpa(q, k, v, np.where(mask, 0.0, -np.inf), return_weights=True)
    for o, ww in [(out, w), (out_inf, w_inf)]:
        np.testing.assert_array_equal(o[1], 0.0)
        np.testing.assert_array_equal(ww[1], 0.0)
        np.testing.assert_allclose(ww[[0, 2]].sum(-1), 1.0)


def test_huge_scores_no_warning_and_exact():
    q = np.array([[1e3, 0.0]])
    k = np.array([[1e3, 0.0], [0.0, 1e3]])
    v = np.array([[1.0, 0.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = sdpa(q, k, v)
    np.testing.assert_array_equal(out, [[1.0, 0.0]])


def test_padding_mask_with_batched_inputs():
    rng = np.random.default_rng(7)
    q, k, v = randn(rng, 2, 3, 4), randn(rng, 2, 5, 4), randn(rng, 2, 5, 2)
    mask = padding_mask([5, 2], 5)  # (B, 1, S)
    out = sdpa(q, k, v, mask)
    np.testing.assert_allclose(out[1], sdpa(q[1], k[1, :2], v[1, :2]), rtol=1e-12)
    np.testing.assert_allclose(out[0], sdpa(q[0], k[0], v[0]), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_dtype_preserved(dtype):
    rng = np.random.default_rng(8)
    q, k, v = randn(rng, 3, 4, dtype=dtype), randn(rng, 5, 4, dtype=dtype), randn(rng, 5, 2, dtype=dtype)
    out, w = sdpa(q, k, v, return_weights=True)
    assert out.dtype == dtype and w.dtype == dtype
    tol = {np.float16: 2e-3, np.float32: 1e-6, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(out.astype(np.float64), reference(q, k, v)[0], rtol=tol, atol=tol)


def test_int_and_bool_inputs_promoted_to_float64():
    out = sdpa(np.array([[1, 0]]), np.array([[1, 0], [0, 1]]), np.array([[True, False], [False, True]]))
    assert out.dtype == np.float64


def test_empty_lengths():
    rng = np.random.default_rng(9)
    out = sdpa(randn(rng, 2, 0, 4), randn(rng, 2, 5, 4), randn(rng, 2, 5, 3))
    assert out.shape == (2, 0, 3)
    out, w = sdpa(randn(rng, 2, 3, 4), randn(rng, 2, 0, 4), randn(rng, 2, 0, 3), return_weights=True)
    assert out.shape == (2, 3, 3) and w.shape == (2, 3, 0)
    np.testing.assert_array_equal(out, 0.0)


# --- dropout -----------------------------------------------------------------------------


def test_dropout_is_reproducible_and_scaled():
    rng = np.random.default_rng(10)
    q, k, v = randn(rng, 64, 8), randn(rng, 64, 8), randn(rng, 64, 4)
    _, w_plain = sdpa(q, k, v, return_weights=True)
    _, w1 = sdpa(q, k, v, dropout_p=0.25, rng=np.random.default_rng(123), return_weights=True)
    _, w2 = sdpa(q, k, v, dropout_p=0.25, rng=np.random.default_rng(123), return_weights=True)
    np.testing.assert_array_equal(w1, w2)
    kept = w1 != 0
    np.testing.assert_allclose(w1[kept], w_plain[kept] / 0.75, rtol=1e-12)
    # 4096 Bernoulli(0.25) draws: the dropped fraction has std ~0.007
    assert abs(1 - kept.mean() - 0.25) < 0.03
    # and the expected row sum stays 1
    assert abs(w1.sum(-1).mean() - 1.0) < 0.05


def test_dropout_output_uses_dropped_weights():
    rng = np.random.default_rng(11)
    q, k, v = randn(rng, 4, 3), randn(rng, 6, 3), randn(rng, 6, 2)
    out, w = sdpa(q, k, v, dropout_p=0.5, rng=np.random.default_rng(0), return_weights=True)
    np.testing.assert_allclose(out, w @ v, rtol=1e-12)


# --- bad input ---------------------------------------------------------------------------

Q2, K2, V2 = np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(key=np.ones((4, 5))), ValueError, r"same feature size E: query \(2, 3\) vs key \(4, 5\)"),
        (dict(value=np.ones((3, 2))), ValueError, r"same length S: key \(4, 3\) vs value \(3, 2\)"),
        (dict(query=np.ones(3)), ValueError, r"query must have at least 2 dimensions .* got shape \(3,\)"),
        (dict(key=np.float64(1.0)), ValueError, r"key must have at least 2 dimensions .* got shape \(\)"),
        (dict(value=np.ones((4, 2), dtype=complex)), TypeError, "value must be real, got complex"),
        (dict(query=np.array([["a"]])), TypeError, "query must be a numeric array"),
        (dict(attn_mask=np.ones((3, 4), bool)), ValueError,
         r"attn_mask with shape \(3, 4\) does not broadcast .* \(2, 4\)"),
        (dict(attn_mask=np.ones((2, 2, 4), bool)), ValueError, r"attn_mask with shape \(2, 2, 4\) does not broadcast"),
        (dict(attn_mask=np.ones((2, 4), np.int64)), TypeError, "attn_mask must be bool .* got dtype int64"),
        (dict(attn_mask=np.ones((2, 4), bool), is_causal=True), ValueError, "either attn_mask or is_causal"),
        (dict(dropout_p=-0.1), ValueError, r"dropout_p must be in \[0, 1\), got -0.1"),
        (dict(dropout_p=1.0), ValueError, r"dropout_p must be in \[0, 1\), got 1.0"),
        (dict(dropout_p="0.1"), TypeError, "dropout_p must be a real number"),
        (dict(dropout_p=0.1), ValueError, "dropout_p > 0 needs rng"),
        (dict(dropout_p=0.1, rng=np.random.RandomState(0)), TypeError,
         r"rng must be a numpy.random.Generator .*got RandomState"),
        (dict(scale="big"), TypeError, "scale must be a real number or None"),
        (dict(query=np.ones((2, 0)), key=np.ones((4, 0))), ValueError, r"E >= 1"),
        (dict(query=np.ones((2, 2, 3)), key=np.ones((3, 4, 3)), value=np.ones((3, 4, 2))), ValueError,
         "batch dims .* do not broadcast"),
    ],
)
def test_bad_input_raises_clear_error(kwargs, error, message):
    args = dict(query=Q2, key=K2, value=V2) | kwargs
    with pytest.raises(error, match=message):
        sdpa(**args)


# --- properties --------------------------------------------------------------------------

dims = st.integers(1, 5)


@st.composite
def problems(draw, masked=True):
    L, S, E, Ev = draw(dims), draw(dims), draw(dims), draw(dims)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.floats(0.1, 10.0))
    q, k, v = rng.standard_normal((L, E)) * scale, rng.standard_normal((S, E)), rng.standard_normal((S, Ev))
    mask = (rng.random((L, S)) < draw(st.floats(0.0, 1.0))) if masked and draw(st.booleans()) else None
    return q, k, v, mask, rng


@settings(max_examples=200, deadline=None)
@given(problems())
def test_property_weights_rows_sum_to_one_or_zero(problem):
    q, k, v, mask, _ = problem
    _, w = sdpa(q, k, v, mask, return_weights=True)
    expected = np.ones(q.shape[0]) if mask is None else mask.any(-1).astype(float)
    np.testing.assert_allclose(w.sum(-1), expected, atol=1e-12)
    assert (w >= 0).all()


@settings(max_examples=200, deadline=None)
@given(problems())
def test_property_agrees_with_direct_float64_formula(problem):
    q, k, v, mask, _ = problem
    ref_out, ref_w = reference(q, k, v, mask)
    out, w = sdpa(q, k, v, mask, return_weights=True)
    np.testing.assert_allclose(w, ref_w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, rtol=1e-9, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_property_permutation_equivariance_over_keys(problem):
    q, k, v, mask, rng = problem
    perm = rng.permutation(k.shape[0])
    permuted_mask = None if mask is None else mask[:, perm]
    np.testing.assert_allclose(sdpa(q, k[perm], v[perm], permuted_mask), sdpa(q, k, v, mask), rtol=1e-10, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(problems(masked=False), st.data())
def test_property_causal_position_ignores_the_future(problem, data):
    q, k, v, _, rng = problem
    i = data.draw(st.integers(0, q.shape[0] - 1))
    out = sdpa(q, k, v, is_causal=True)
    k2, v2 = k.copy(), v.copy()
    k2[i + 1 :] = rng.standard_normal(k2[i + 1 :].shape) * 100
    v2[i + 1 :] = rng.standard_normal(v2[i + 1 :].shape) * 100
    out2 = sdpa(q, k2, v2, is_causal=True)
    np.testing.assert_array_equal(out2[: i + 1], out[: i + 1])
    # (Later positions usually change too, but not always: a saturated row may ignore the
    # changed keys. test_is_causal_equals_explicit_top_left_tril checks the mask exactly.)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_property_broadcasting_equals_loop(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    B, H, L, S, E, Ev = (data.draw(st.integers(1, 3)) for _ in range(6))
    q_shape = data.draw(st.sampled_from([(B, H), (B, 1), (1, H), (H,), ()]))
    k_shape = data.draw(st.sampled_from([(B, H), (B, 1), (1, H), (H,), ()]))
    q = rng.standard_normal((*q_shape, L, E))
    k = rng.standard_normal((*k_shape, S, E))
    v = rng.standard_normal((*k_shape, S, Ev))
    mask = rng.random((L, S)) < 0.7 if data.draw(st.booleans()) else None
    out = sdpa(q, k, v, mask)
    batch = np.broadcast_shapes(q_shape, k_shape)
    assert out.shape == (*batch, L, Ev)
    qb = np.broadcast_to(q, (*batch, L, E))
    kb = np.broadcast_to(k, (*batch, S, E))
    vb = np.broadcast_to(v, (*batch, S, Ev))
    for idx in itertools.product(*map(range, batch)):
        np.testing.assert_allclose(out[idx], sdpa(qb[idx], kb[idx], vb[idx], mask), rtol=1e-12, atol=1e-14)


def test_torch_agreement_when_available():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    q, k, v = randn(rng, 2, 3, 5, 8), randn(rng, 2, 3, 7, 8), randn(rng, 2, 3, 7, 4)
    mask = rng.random((5, 7)) < 0.7
    mask[:, 0] = True
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    for kwargs_np, kwargs_t in [
        (dict(), dict()),
        (dict(attn_mask=mask), dict(attn_mask=t(mask))),
        (dict(is_causal=True), dict(is_causal=True)),
        (dict(scale=0.2), dict(scale=0.2)),
    ]:
        expected = torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v), **kwargs_t).numpy()
        np.testing.assert_allclose(sdpa(q, k, v, **kwargs_np), expected, rtol=1e-10, atol=1e-12)
