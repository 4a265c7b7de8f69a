import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import padding_mask, scaled_dot_product_attention
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
    # A float mask of no entries (no queries, or no keys) checks as finite: nothing to attend to, no error.
    for L, S in ((0, 5), (3, 0)):
        out, w = sdpa(randn(rng, L, 4), randn(rng, S, 4), randn(rng, S, 3), np.zeros((L, S)), return_weights=True)
        assert out.shape == (L, 3) and w.shape == (L, S) and not out.any()


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
        (dict(dropout_p=0.1), ValueError,
         r"^dropout_p > 0 needs rng=np.random.default_rng\(seed\), so that dropout is reproducible$"),
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


# --- One rule for NaN, inf and fully masked rows, on every path and size ---------------------------


def paths(q, k, v, mask=None, is_causal=False):
    """The result of every path: dense (weights asked for), the size-based default, flash with
    several block sizes, and the blocked path with small query and key blocks."""
    from attention import flash_attention
    from attention._internal.blocked import blocked_attention
    from attention._internal.problem import prepare

    return {
        "dense": scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, return_weights=True)[0],
        "default": scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal),
        "flash": flash_attention(q, k, v, mask, is_causal=is_causal),
        "flash, block 16": flash_attention(q, k, v, mask, is_causal=is_causal, block_size=16),
        "blocked 7 x 5": blocked_attention(prepare(q, k, v, mask, is_causal), key_block=5, query_block=7),
    }


def test_nan_in_the_last_key_under_causal_reaches_only_the_last_row():
    rng = np.random.default_rng(30)
    q, k, v = (rng.standard_normal((512, 8)) for _ in range(3))
    k[-1, 3] = np.nan
    for name, out in paths(q, k, v, is_causal=True).items():
        assert np.isnan(out).any(axis=-1).nonzero()[0].tolist() == [511], name


def test_fully_masked_row_is_zero_whatever_its_inputs():
    rng = np.random.default_rng(31)
    q, k, v = (rng.standard_normal((40, 6)) for _ in range(3))
    mask = rng.random((40, 40)) < 0.5
    mask[7] = False  # row 7 attends to nothing
    v[3] = np.inf  # a value row 7 could not see anyway
    q[7] = np.nan  # and its own query is NaN
    for name, out in paths(q, k, v, mask).items():
        np.testing.assert_array_equal(out[7], 0.0, err_msg=name)
        assert not np.isnan(out[~mask[:, 3] & mask.any(-1)]).any(), name  # rows that cannot see value 3


def test_masked_out_keys_and_values_do_not_affect_a_row():
    rng = np.random.default_rng(32)
    q, k, v = (rng.standard_normal((30, 4)) for _ in range(3))
    mask = np.ones((30, 30), bool)
    mask[:10, 25] = False  # the first 10 rows may not see key 25
    clean = scaled_dot_product_attention(q, k, v, mask)
    k[25], v[25] = np.nan, np.inf
    for name, out in paths(q, k, v, mask).items():
        np.testing.assert_allclose(out[:10], clean[:10], rtol=1e-10, err_msg=name)
        assert np.isnan(out[10:]).all(), name  # rows that attend to key 25 are NaN
    float_mask = np.where(mask, 0.0, -np.inf)
    for name, out in paths(q, k, v, float_mask).items():
        np.testing.assert_allclose(out[:10], clean[:10], rtol=1e-10, err_msg=name)


def test_weights_follow_the_same_rule():
    q, k, v = np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 2))
    q[0, 0] = np.inf
    mask = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0]], bool)
    out, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert np.isnan(w[0]).all() and np.isnan(out[0]).all()
    np.testing.assert_allclose(w[1], 0.25)
    np.testing.assert_array_equal(w[2], 0.0)


@st.composite
def poisoned(draw):
    """Finite inputs with NaN or inf sprinkled over queries, keys, values and float-mask entries."""
    L, S, E = draw(st.integers(1, 20)), draw(st.integers(1, 20)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q, k, v = rng.standard_normal((L, E)), rng.standard_normal((S, E)), rng.standard_normal((S, 2))
    for x in (q, k, v):
        x[rng.random(x.shape) < 0.05] = rng.choice([np.nan, np.inf, -np.inf])
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask = None
    if kind == "bool":
        mask = rng.random((L, S)) < 0.6
    elif kind == "float":
        mask = np.where(rng.random((L, S)) < 0.6, rng.standard_normal((L, S)), -np.inf)
        mask[rng.random((L, S)) < 0.05] = np.nan
    return q, k, v, mask, kind == "causal"


@settings(max_examples=300, deadline=None)
@given(poisoned())
def test_property_one_nan_rule_on_every_path(case):
    q, k, v, mask, causal = case
    L, S = q.shape[0], k.shape[0]
    allowed = np.ones((L, S), bool)
    if causal:
        allowed &= np.tri(L, S, dtype=bool)
    if mask is not None:
        allowed &= mask if mask.dtype == bool else mask != -np.inf
    bad_key = ~(np.isfinite(k).all(-1) & np.isfinite(v).all(-1))  # (S,)
    bad_mask = np.zeros((L, S), bool) if mask is None or mask.dtype == bool else np.isnan(mask)
    attends = allowed.any(-1)
    nan_rows = attends & (~np.isfinite(q).all(-1) | (allowed & bad_key).any(-1) | (allowed & bad_mask).any(-1))
    # The finite rows equal attention on the inputs with every non-finite entry made harmless.
    zeroed = lambda x: np.where(np.isfinite(x), x, 0.0)
    clean_mask = None if mask is None else allowed if mask.dtype == bool else np.where(allowed, zeroed(mask), -np.inf)
    expected = scaled_dot_product_attention(zeroed(q), zeroed(k), zeroed(v), clean_mask, is_causal=causal)
    for name, out in paths(q, k, v, mask, causal).items():
        np.testing.assert_array_equal(np.isnan(out).any(-1), nan_rows, err_msg=name)
        np.testing.assert_array_equal(out[~attends], 0.0, err_msg=name)
        ok = ~nan_rows
        assert not np.isnan(out[ok]).any(), name
        np.testing.assert_allclose(out[ok], expected[ok], rtol=1e-9, atol=1e-12, err_msg=name)


def test_scores_beyond_float32_are_computed_in_float64():
    q = np.array([[1e20, 0.0]], np.float32)  # q.k = 1e40 overflows float32 (max 3.4e38)
    k = np.array([[1e20, 0.0], [0.0, 1.0]], np.float32)
    v = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    for name, out in paths(q, k, v).items():
        assert out.dtype == np.float32, name
        np.testing.assert_array_equal(out, [[1.0, 0.0]], err_msg=name)


def test_rows_whose_scores_overflow_float64_are_nan():
    q = np.array([[1e200, 0.0], [1.0, 0.0]])
    k = np.array([[1e200, 0.0], [0.0, 1.0]])
    v = np.eye(2)
    for name, out in paths(q, k, v).items():
        assert np.isnan(out[0]).all() and np.isfinite(out[1]).all(), name


# --- Strict types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(is_causal="False"), TypeError, "is_causal must be a bool, got str 'False'"),
        (dict(is_causal=np.array([True])), TypeError, "is_causal must be a bool, got ndarray"),
        (dict(is_causal=1), TypeError, "is_causal must be a bool, got int"),
        (dict(return_weights="yes"), TypeError, "return_weights must be a bool"),
        (dict(enable_gqa=None), TypeError, "enable_gqa must be a bool"),
        (dict(query=[[1.0, 2.0, 3.0], [1.0]]), ValueError, "query must be a rectangular array, got a ragged"),
        (dict(key=np.ma.masked_array(np.ones((4, 3)), mask=np.eye(4, 3))), TypeError, "key is a numpy masked array"),
        (dict(attn_mask=[[True, False], [True]]), ValueError, "attn_mask must be a rectangular array"),
        (dict(scale=float("nan")), ValueError, "scale must be a finite number, got nan"),
        (dict(scale=True), TypeError, "scale must be a real number or None, got bool"),
    ],
)
def test_strict_types(kwargs, error, message):
    args = dict(query=np.ones((2, 3)), key=np.ones((4, 3)), value=np.ones((4, 2))) | kwargs
    with pytest.raises(error, match=message):
        scaled_dot_product_attention(**args)


def test_numpy_bools_are_bools():
    q = np.ones((3, 2))
    out = scaled_dot_product_attention(q, q, q, is_causal=np.bool_(True), return_weights=np.True_)
    np.testing.assert_array_equal(out[1], np.tri(3) / np.arange(1, 4)[:, None])


# --- enable_gqa, as PyTorch's ----------------------------------------------------------------------


def test_enable_gqa_equals_repeated_key_value_heads():
    rng = np.random.default_rng(33)
    q = rng.standard_normal((2, 6, 5, 4))  # (B, Hq = 6, L, E)
    k, v = rng.standard_normal((2, 2, 7, 4)), rng.standard_normal((2, 2, 7, 3))  # (B, Hkv = 2, S, ·)
    mask = rng.random((6, 5, 7)) < 0.7
    out, w = scaled_dot_product_attention(q, k, v, mask, enable_gqa=True, return_weights=True)
    k_rep, v_rep = np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1)  # torch's repeat_interleave on dim -3
    ref, ref_w = scaled_dot_product_attention(q, k_rep, v_rep, mask, return_weights=True)
    assert out.shape == (2, 6, 5, 3) and w.shape == (2, 6, 5, 7)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12)
    from attention import flash_attention

    np.testing.assert_allclose(flash_attention(q, k, v, mask, enable_gqa=True, block_size=3), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="key and value heads that divide the query heads: query heads 6, key heads 4"):
        scaled_dot_product_attention(q, np.ones((2, 4, 7, 4)), np.ones((2, 4, 7, 3)), enable_gqa=True)
    with pytest.raises(ValueError, match=r"batch dims .* do not broadcast"):
        scaled_dot_product_attention(q, k, v)  # without enable_gqa, 6 and 2 heads do not broadcast


def test_enable_gqa_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(34)
    q, k, v = rng.standard_normal((2, 8, 5, 4)), rng.standard_normal((2, 2, 6, 4)), rng.standard_normal((2, 2, 6, 3))
    for causal in (False, True):
        expected = torch.nn.functional.scaled_dot_product_attention(
            *(torch.from_numpy(a) for a in (q, k, v)), is_causal=causal, enable_gqa=True).numpy()
        out = scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_nan_propagation_against_torch():
    # PyTorch's math path propagates every NaN, even from keys a row may not attend to; its fused
    # kernel differs from it (here it returns a number for the NaN query row). Without a mask, our
    # rule and the math path agree; with the causal mask, ours keeps the rows that cannot see the NaN key.
    torch = pytest.importorskip("torch")
    from torch.nn.attention import SDPBackend, sdpa_kernel

    rng = np.random.default_rng(35)
    q, k, v = (rng.standard_normal((1, 1, 6, 4)) for _ in range(3))
    q[..., 2, 0], k[..., 4, 1] = np.nan, np.nan  # query 2; key 4, which rows 0..3 cannot see under causal
    with sdpa_kernel(SDPBackend.MATH):
        math_path = torch.nn.functional.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v))).numpy()
    ours = scaled_dot_product_attention(q, k, v)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(math_path))
    causal = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert np.isnan(causal).any(-1)[0, 0].tolist() == [False, False, True, False, True, True]
    clean = scaled_dot_product_attention(q[..., :2, :], k[..., :2, :], v[..., :2, :], is_causal=True)
    np.testing.assert_allclose(causal[..., :2, :], clean, rtol=1e-12)  # rows 0, 1 as if key 4 were not there


def test_empty_batch_dims_on_every_path():
    q, k, v = np.zeros((0, 4, 8)), np.zeros((0, 5, 8)), np.zeros((0, 5, 3))
    for name, out in paths(q, k, v).items():
        assert out.shape == (0, 4, 3), name
    out, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert w.shape == (0, 4, 5)
    from attention import sdpa_backward

    assert [g.shape for g in sdpa_backward(np.zeros((0, 4, 3)), q, k, v)] == [(0, 4, 8), (0, 5, 8), (0, 5, 3)]


@pytest.mark.parametrize("with_mask", [False, True])
def test_batch_dims_of_value_alone_shape_the_weights(with_mask):
    # Only V has a batch dim: the scores are computed once, then every batch element gets them.
    rng = np.random.default_rng(36)
    q, k, v = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((2, 5, 6))
    mask = (rng.random((3, 5)) < 0.7) | (np.arange(5) == 0) if with_mask else None
    out, w = sdpa(q, k, v, mask, return_weights=True)
    assert out.shape == (2, 3, 6) and w.shape == (2, 3, 5)
    for b in range(2):
        out_b, w_b = sdpa(q, k, v[b], mask, return_weights=True)
        np.testing.assert_allclose(out[b], out_b, rtol=1e-12)
        np.testing.assert_allclose(w[b], w_b, rtol=1e-12)


@pytest.mark.parametrize(("L", "S", "kwargs", "blocked"), [
    (512, 512, {}, True),  # L * S = BLOCKED_MIN_SCORES exactly
    (1024, 256, {}, True),  # the same number of scores, in another shape
    (511, 513, {}, False),  # one score fewer
    (512, 512, {"return_weights": True}, False),  # the weights are the L x S matrix
    (512, 512, {"dropout_p": 0.1, "rng": np.random.default_rng(0)}, False),  # dropout needs the weights
])
def test_large_problems_never_store_the_scores(L, S, kwargs, blocked, monkeypatch):
    import attention.scaled_dot_product as module

    assert module.BLOCKED_MIN_SCORES == 512 * 512
    calls = []
    monkeypatch.setattr(module, "blocked_attention", lambda prob: calls.append(prob) or np.zeros(1))
    rng = np.random.default_rng(37)
    q, k, v = rng.standard_normal((L, 2)), rng.standard_normal((S, 2)), rng.standard_normal((S, 1))
    sdpa(q, k, v, **kwargs)
    assert len(calls) == blocked


@pytest.mark.parametrize("mask_shape", [(2, 6, 5, 7), (2, 1, 5, 7), (6, 5, 7), (1, 5, 7), (5, 7), (2, 6, 1, 7)])
def test_enable_gqa_with_masks_of_every_head_and_batch_shape(mask_shape):
    rng = np.random.default_rng(38)
    q = rng.standard_normal((2, 6, 5, 4))  # (B, Hq = 6, L, E)
    k, v = rng.standard_normal((2, 2, 7, 4)), rng.standard_normal((2, 2, 7, 3))  # (B, Hkv = 2, S, ·)
    mask = rng.random(mask_shape) < 0.6
    mask[..., 0] = True
    out, w = sdpa(q, k, v, mask, enable_gqa=True, return_weights=True)
    ref, ref_w = sdpa(q, np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1), mask, return_weights=True)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12)


def test_enable_gqa_with_a_float_mask_and_one_query_head_per_group():
    rng = np.random.default_rng(39)
    q, k, v = rng.standard_normal((3, 5, 4)), rng.standard_normal((3, 6, 4)), rng.standard_normal((3, 6, 2))
    bias = rng.standard_normal((3, 5, 6))
    np.testing.assert_allclose(sdpa(q, k, v, bias, enable_gqa=True), sdpa(q, k, v, bias), rtol=1e-12)  # groups = 1


@pytest.mark.parametrize(("shapes", "message"), [
    (((6, 5, 4), (2, 7, 4), (7, 3)), r"enable_gqa needs a heads dim \(\.\.\., H, L, E\): query \(6, 5, 4\), "
                                     r"key \(2, 7, 4\), value \(7, 3\)"),
    (((6, 5, 4), (7, 4), (2, 7, 3)), "enable_gqa needs a heads dim"),
    (((5, 4), (2, 7, 4), (2, 7, 3)), "enable_gqa needs a heads dim"),
    (((6, 5, 4), (2, 7, 4), (3, 7, 3)), "query heads 6, key heads 2, value heads 3"),
    (((6, 5, 4), (0, 7, 4), (0, 7, 3)), "query heads 6, key heads 0, value heads 0"),
    (((6, 5, 4), (4, 7, 4), (4, 7, 3)), "query heads 6, key heads 4, value heads 4"),
])
def test_enable_gqa_names_the_heads_it_cannot_group(shapes, message):
    with pytest.raises(ValueError, match=message):
        sdpa(*(np.ones(s) for s in shapes), enable_gqa=True)


def test_enable_gqa_one_key_head_for_every_query_head():
    rng = np.random.default_rng(40)
    q, k, v = rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((2, 1, 5, 4)), rng.standard_normal((2, 1, 5, 2))
    np.testing.assert_allclose(sdpa(q, k, v, enable_gqa=True), sdpa(q, k, v), rtol=1e-12)  # MQA = broadcasting


@pytest.mark.parametrize(("dtypes", "expected"), [
    ((np.float32, np.float32, np.float64), np.float64),
    ((np.float32, np.float64, np.float32), np.float64),
    ((np.float64, np.float32, np.float32), np.float64),
    ((np.float16, np.float16, np.float32), np.float32),
    ((np.float16, np.float16, np.float16), np.float16),
])
def test_mixed_dtypes_promote_as_numpy(dtypes, expected):
    rng = np.random.default_rng(41)
    arrays = [rng.standard_normal(s) for s in ((3, 4), (5, 4), (5, 2))]
    out, w = sdpa(*(a.astype(d) for a, d in zip(arrays, dtypes)), return_weights=True)
    assert out.dtype == expected and w.dtype == expected
    tolerance = {np.float16: 5e-3, np.float32: 1e-6, np.float64: 1e-6}[expected]  # float64 from float32 inputs
    np.testing.assert_allclose(out, sdpa(*(a.astype(d).astype(np.float64) for a, d in zip(arrays, dtypes))),
                               rtol=0, atol=tolerance)


def test_float16_is_computed_in_float32():
    # exp(11) = 59874 is within float16 (max 65504), but the row sum 1 + e**11 + e**11 is not: computed in
    # float16 the weights would be 0 / inf; computed in float32 and rounded they are [0, 0.5, 0.5].
    q = np.array([[1.0]], np.float16)
    k = np.array([[0.0], [11.0], [11.0]], np.float16)
    out, w = sdpa(q, k, np.eye(3, dtype=np.float16), scale=1.0, return_weights=True)
    assert w.dtype == np.float16
    np.testing.assert_allclose(w.astype(np.float64), [[0.0, 0.5, 0.5]], atol=1e-4)


def test_value_must_have_a_length_axis():
    with pytest.raises(ValueError, match=r"^value must have at least 2 dimensions"):
        sdpa(np.ones((2, 3)), np.ones((4, 3)), np.ones(4))


def test_mask_and_is_causal_together_are_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"^pass either attn_mask or is_causal=True, not both$"):
        sdpa(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 2), bool), is_causal=True)


def test_float32_scores_beyond_float32_with_few_queries_and_many_features():
    # q.k = E * 1e19 * 1e19 * scale = 16 * 1e38 / 4 = 4e38 > float32's 3.4e38; L = 1 < E = 16, so a bound
    # that counted L instead of E (or that ignored the scale or one of q, k) would miss it.
    q = np.full((1, 16), 1e19, np.float32)
    k = np.stack([np.full(16, 1e19), np.zeros(16)]).astype(np.float32)
    for scale in (None, 0.25):
        out, w = sdpa(q, k, np.eye(2, dtype=np.float32), scale=scale, return_weights=True)
        np.testing.assert_array_equal(w, [[1.0, 0.0]])
    # A float mask counts too: score 16 * 1e19 * 2.5e18 / 4 = 1e38, plus 3e38 from the mask, is 4e38.
    k = np.stack([np.full(16, 2.5e18), np.zeros(16)]).astype(np.float32)
    mask = np.array([[3e38, 0.0]], np.float32)
    _, w = sdpa(q, k, np.eye(2, dtype=np.float32), mask, scale=0.25, return_weights=True)
    np.testing.assert_array_equal(w, [[1.0, 0.0]])
    # So does a large negative one, by its size: scores -5e37 and -4e37 fit float32, and with -3.3e38 from the
    # mask both sums (-3.8e38, -3.7e38) overflow to -inf there, which would mask the whole row; in float64 the
    # second key wins.
    k = np.stack([np.full(16, -1.25e18), np.full(16, -1e18)]).astype(np.float32)
    mask = np.full((1, 2), -3.3e38, np.float32)
    out, w = sdpa(q, k, np.eye(2, dtype=np.float32), mask, scale=0.25, return_weights=True)
    np.testing.assert_array_equal(w, [[0.0, 1.0]])
    assert out.dtype == np.float32


@st.composite
def poisoned_batches(draw):
    """Batched inputs whose batch dims broadcast, with NaN and +-inf sprinkled over every input,
    and a mask of a shape that broadcasts too."""
    L, S, E = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q_batch, k_batch, v_batch = draw(st.sampled_from([((2, 3), (2, 1), (1, 3)), ((3,), (2, 1), (1,)),
                                                      ((1, 2), (2, 2), (2, 1))]))
    q, k, v = rng.standard_normal((*q_batch, L, E)), rng.standard_normal((*k_batch, S, E)), \
        rng.standard_normal((*v_batch, S, 2))
    for x in (q, k, v):
        x[rng.random(x.shape) < 0.05] = rng.choice([np.nan, np.inf, -np.inf])
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_shape = draw(st.sampled_from([(L, S), (L, 1), (1, S), (2, 1, L, S)]))
    mask = None
    if kind == "bool":
        mask = rng.random(mask_shape) < 0.6
    elif kind == "float":
        mask = np.where(rng.random(mask_shape) < 0.6, rng.standard_normal(mask_shape), -np.inf)
        mask[rng.random(mask_shape) < 0.05] = rng.choice([np.nan, np.inf])
    return q, k, v, mask, kind == "causal"


@settings(max_examples=150, deadline=None)
@given(poisoned_batches())
def test_property_batched_nan_rule_equals_the_rule_slice_by_slice(case):
    q, k, v, mask, causal = case
    L, S = q.shape[-2], k.shape[-2]
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2],
                                () if mask is None else mask.shape[:-2])
    slice_of = lambda x, b: np.broadcast_to(x, (*batch, *x.shape[-2:]))[b]  # noqa: E731
    expected_out = np.empty((*batch, L, 2))
    expected_w = np.empty((*batch, L, S))
    for b in np.ndindex(batch):
        m = None if mask is None else slice_of(mask, b)
        expected_out[b], expected_w[b] = sdpa(slice_of(q, b), slice_of(k, b), slice_of(v, b), m, is_causal=causal,
                                              return_weights=True)
    _, w = sdpa(q, k, v, mask, is_causal=causal, return_weights=True)
    np.testing.assert_allclose(w, expected_w, rtol=1e-9, atol=1e-12)  # NaN where expected_w is NaN
    for name, out in paths(q, k, v, mask, causal).items():
        np.testing.assert_allclose(out, expected_out, rtol=1e-9, atol=1e-12, err_msg=name)


def test_the_float64_overflow_rule_row_by_row():
    # Rows whose |q| max|k| |scale| exceeds float64's max / 8 count as non-finite (NaN), the others are exact
    # (E = 2, scale 1 / sqrt 2): row 0: 1e154 * 1e154 * 0.71 = 7e307, over; row 1: 2.1e307, under (between
    # max / 9 and max / 8); row 2: small; row 3: as row 0 but fully masked, so 0; row 4: NaN in its query, so
    # NaN; row 5: |q| = 4.2e153 from two entries, 3e307, over (its score 2.1e307 would fit: the rule is on norms).
    k = np.array([[1e154, 0.0], [0.0, 1.0]])  # (S, E)
    q = np.array([[-1e154, 0.0], [2.1e153, 2.1e153], [1.0, 2.0], [1e154, 0.0], [np.nan, 1.0],
                  [3e153, -3e153]])  # (L, E)
    assert np.finfo(np.float64).max / 9 < 2.1e307 < np.finfo(np.float64).max / 8 < 3e307
    v = np.array([[1.0, 0.0], [0.0, 1.0]])
    mask = np.array([[True, True]] * 3 + [[False, False]] + [[True, True]] * 2)
    expected = np.array([[np.nan, np.nan], [1.0, 0.0], sdpa(q[2:3], k, v)[0], [0.0, 0.0], [np.nan, np.nan],
                         [np.nan, np.nan]])
    batched = lambda x: np.stack([x, x[::-1]])  # noqa: E731 - a batch of two, rows reversed in the second
    for name, out in paths(batched(q), k, v, batched(mask)).items():
        np.testing.assert_allclose(out, batched(expected), rtol=1e-12, err_msg=name)
    # A small scale brings row 0 back: 1e308 * 1e-3 = 1e305; so do keys shorter than 1 against a long
    # query orthogonal to them (|q| |k| = 1e308 * 0.1 = 1e307, but the bound E max|q| max|k| is over max / 4).
    np.testing.assert_allclose(sdpa(q[:1], k, v, scale=1e-3), [[0.0, 1.0]])  # -1e305 vs 0: key 1
    q_long, k_short = np.zeros((1, 16)), np.zeros((2, 16))
    q_long[0, 0], k_short[:, 1] = 1e308, 0.1
    np.testing.assert_allclose(sdpa(q_long, k_short, v, scale=1.0), [[0.5, 0.5]])
    # The rows are checked only once the bound E max|q| max|k| |scale| passes max / 4: below, every score
    # fits, and a row at 3.9e307 (above max / 8) is exact. Just above max / 4, the same row is NaN.
    one_key = np.array([[1.0], [0.0]])  # (S = 2, E = 1)
    np.testing.assert_allclose(sdpa(np.array([[3.9e307]]), one_key, v, scale=1.0), [[1.0, 0.0]])
    assert np.isnan(sdpa(np.array([[4.6e307]]), one_key, v, scale=1.0)).all()
    # Norms below 1 count as they are: |q| |k| = 1e308 * 0.3 = 3e307 is over, and an all-zero key does not
    # hide it; the most negative entry counts as much as the largest.
    k_small = np.array([[0.3, 0.0], [0.0, 0.0]])
    assert np.isnan(sdpa(np.array([[1e308, 0.0]]), k_small, v, scale=1.0)).all()
    assert np.isnan(sdpa(np.array([[-1e200, 0.0], [0.0, 1.0]]), np.array([[1e200, 0.0], [0.0, 1.0]]), v)[0]).all()
    # Each batch element's own keys: a long key in element 0 does not make element 1's rows NaN.
    k_batched = np.stack([k, np.array([[1.0, 0.0], [0.0, 1.0]])])  # (2, S, E)
    out = sdpa(np.stack([q[:1], q[:1]]), k_batched, v)  # row 0 of q in both
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_float32_promotion_counts_the_scale_and_both_extents():
    # Score 16 * 3e18 * 3e18 * 4 = 5.8e38 overflows float32; a bound dividing by the scale (4e37) would not see it.
    q, k = np.full((2, 1, 16), 3e18, np.float32), np.full((2, 1, 16), 3e18, np.float32)  # batched: E is dim -1
    k = np.concatenate([k, np.zeros((2, 1, 16), np.float32)], axis=1)  # (2, 2, 16)
    w = sdpa(q, k, np.ones((2, 2, 1), np.float32), scale=4.0, return_weights=True)[1]
    np.testing.assert_array_equal(w, [[[1.0, 0.0]]] * 2)
    # |q| and |k| differ: 16 * 1e20 * 1e18 / 4 = 4e38; a bound using one extent twice gives 4e36 or 4e40
    q, k = np.full((1, 16), 1e20, np.float32), np.stack([np.full(16, 1e18), np.zeros(16)]).astype(np.float32)
    w = sdpa(q, k, np.ones((2, 1), np.float32), scale=0.25, return_weights=True)[1]
    np.testing.assert_array_equal(w, [[1.0, 0.0]])
    # A float mask adds to the bound, whether small (1 on top of scores of 4e38) or large (3e38 on top of
    # scores of 5e37, which alone fit); a bool mask stays a bool mask in float64.
    small_mask = np.ones((1, 2), np.float32)
    w = sdpa(q, k, np.ones((2, 1), np.float32), small_mask, scale=0.25, return_weights=True)[1]
    np.testing.assert_array_equal(w, [[1.0, 0.0]])
    k_half = np.stack([np.full(16, 1.25e17), np.zeros(16)]).astype(np.float32)  # 16 * 1e20 * 1.25e17 / 4 = 5e37
    w = sdpa(q, k_half, np.ones((2, 1), np.float32), np.array([[3e38, 0.0]], np.float32), scale=0.25,
             return_weights=True)[1]
    np.testing.assert_array_equal(w, [[1.0, 0.0]])
    w = sdpa(q, k, np.ones((2, 1), np.float32), np.array([[False, True]]), scale=0.25, return_weights=True)[1]
    np.testing.assert_array_equal(w, [[0.0, 1.0]])  # the key of score 4e38 is masked out


def test_no_keys_with_a_nan_query_gives_zeros():
    q = np.array([[np.nan, 1.0], [1.0, 2.0], [3.0, np.inf]])  # (L = 3, E)
    for name, out in paths(q, np.zeros((0, 2)), np.zeros((0, 4))).items():
        np.testing.assert_array_equal(out, np.zeros((3, 4)), err_msg=name)  # nothing to attend to: 0, not NaN


@pytest.mark.parametrize(("q_shape", "kv_heads", "mask_shape"), [
    ((2, 2, 3, 4), 1, (2, 2, 3, 5)),  # two query heads per key head, a mask per head
    ((4, 3, 4), 2, (4, 3, 5)),  # no batch dim: (H, L, E)
    ((2, 4, 3, 4), 2, None),
])
def test_enable_gqa_groups_of_two_and_unbatched_heads(q_shape, kv_heads, mask_shape):
    rng = np.random.default_rng(47)
    q = rng.standard_normal(q_shape)
    k, v = rng.standard_normal((*q_shape[:-3], kv_heads, 5, 4)), rng.standard_normal((*q_shape[:-3], kv_heads, 5, 2))
    mask = None if mask_shape is None else (rng.random(mask_shape) < 0.6) | (np.arange(5) == 0)
    groups = q_shape[-3] // kv_heads
    ref = sdpa(q, np.repeat(k, groups, axis=-3), np.repeat(v, groups, axis=-3), mask)
    np.testing.assert_allclose(sdpa(q, k, v, mask, enable_gqa=True), ref, rtol=1e-12)


def test_enable_gqa_with_more_batch_dims_on_keys_than_on_queries():
    rng = np.random.default_rng(48)
    q = rng.standard_normal((4, 3, 4))  # (Hq, L, E)
    k, v = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 2, 5, 3))  # (A, Hkv, S, ·)
    out = sdpa(q, k, v, enable_gqa=True)
    assert out.shape == (2, 4, 3, 3)
    np.testing.assert_allclose(out, sdpa(q, np.repeat(k, 2, axis=-3), np.repeat(v, 2, axis=-3)), rtol=1e-12)


def test_float_masks_with_nan_or_inf_but_no_minus_inf():
    # The rule does not depend on whether the mask also holds -inf: rows with a NaN or +inf mask entry are NaN.
    rng = np.random.default_rng(49)
    q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    mask = rng.standard_normal((4, 6))
    mask[1, 2], mask[3, 0] = np.nan, np.inf
    expected = sdpa(q, k, v, np.where(np.isfinite(mask), mask, 0))
    for name, out in paths(q, k, v, mask).items():
        assert np.isnan(out[[1, 3]]).all(), name
        np.testing.assert_allclose(out[[0, 2]], expected[[0, 2]], rtol=1e-10, err_msg=name)
    mask[1, 2] = 0.5  # +inf alone
    for name, out in paths(q, k, v, mask).items():
        assert np.isnan(out[3]).all() and not np.isnan(out[[0, 1, 2]]).any(), name
