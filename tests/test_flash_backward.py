"""flash_attention_backward: the blocked backward against the dense backward, torch, and exact references."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_flash import TOL, allowed_pairs, dense, float_mask, traced_peak

from attention import flash_attention, flash_attention_backward, gradcheck, sdpa_backward
from attention._internal import blocked_backward, bounds, threads, tiles

# --- The backward pass: flash_attention_backward ------------------------------------------------


def flash_grads(dO, q, k, v, mask=None, is_causal=False, scale=None, enable_gqa=False, block_size=None):
    """The forward with its lse, then the blocked backward."""
    out, lse = flash_attention(q, k, v, mask, is_causal, scale=scale, enable_gqa=enable_gqa, return_lse=True)
    return flash_attention_backward(dO, q, k, v, out, lse, mask, is_causal, scale=scale, block_size=block_size,
                                    enable_gqa=enable_gqa)


def assert_grads_close(got, want, tol):
    for name, g, w in zip(("dq", "dk", "dv"), got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (name, g.shape, w.shape, g.dtype, w.dtype)
        assert np.abs(g - w).max() <= tol * max(1.0, float(np.abs(w).max())), (name, np.abs(g - w).max())


@pytest.fixture(params=["from lse", "rows normalised here"])
def normalisation(request, monkeypatch):
    """Both ways the backward rebuilds the weights: from the forward's lse (everyday scores), and
    with each row's own maximum and sum recomputed from the tiles (large scores), forced here on
    everyday inputs, where both must give the dense backward's gradients."""
    if request.param == "rows normalised here":
        monkeypatch.setattr(blocked_backward, "MAX_EXPONENT_ERROR", -1.0)
    return request.param



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [1, 5, 64, None])
@pytest.mark.parametrize(("L", "S"), [(37, 37), (20, 45), (45, 20), (1, 9)])
def test_backward_matches_sdpa_backward_for_shapes_blocks_and_causal(dtype, block_size, L, S, normalisation):
    rng = np.random.default_rng(L * 7 + S)
    q = rng.standard_normal((2, L, 8)).astype(dtype) * 2
    k, v = rng.standard_normal((2, S, 8)).astype(dtype), rng.standard_normal((2, S, 5)).astype(dtype)
    dO = rng.standard_normal((2, L, 5)).astype(dtype)
    for causal in (False, True):
        got = flash_grads(dO, q, k, v, is_causal=causal, block_size=block_size)
        assert_grads_close(got, sdpa_backward(dO, q, k, v, is_causal=causal), 1e-12 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("kind", ["bool", "float", "row (L, 1)", "keys (S,)", "batched (B, 1, L, S)"])
def test_backward_masks_and_fully_masked_rows(kind, normalisation):
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 3, 12, 4)), rng.standard_normal((2, 3, 17, 4)), rng.standard_normal((2, 3, 17, 3))
    allowed = rng.random((12, 17)) < 0.5
    allowed[4] = False  # a fully masked row
    mask = {"bool": allowed, "float": np.where(allowed, rng.standard_normal(allowed.shape), -np.inf),
            "row (L, 1)": allowed[:, :1] | (np.arange(12) % 3 > 0)[:, None], "keys (S,)": allowed[0],
            "batched (B, 1, L, S)": rng.random((2, 1, 12, 17)) < 0.3}[kind]
    dO = rng.standard_normal((2, 3, 12, 3))
    got = flash_grads(dO, q, k, v, mask, block_size=4)
    assert_grads_close(got, sdpa_backward(dO, q, k, v, mask), 1e-12)
    if kind in ("bool", "float"):
        np.testing.assert_array_equal(got[0][..., 4, :], 0.0)  # the fully masked row passes nothing back


def test_backward_broadcast_batch_dims_are_summed_back(normalisation):
    rng = np.random.default_rng(4)
    q = rng.standard_normal((2, 1, 9, 6))  # (B, 1, L, E)
    k = rng.standard_normal((1, 3, 11, 6))  # (1, H, S, E)
    v = rng.standard_normal((11, 2))  # (S, Ev)
    dO = rng.standard_normal((2, 3, 9, 2))
    got = flash_grads(dO, q, k, v, scale=0.3, is_causal=True, block_size=3)
    assert [g.shape for g in got] == [q.shape, k.shape, v.shape]
    assert_grads_close(got, sdpa_backward(dO, q, k, v, is_causal=True, scale=0.3), 1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_backward_gqa_equals_repeated_heads_with_their_gradients_summed(causal, normalisation):
    rng = np.random.default_rng(5)
    q, k, v = rng.standard_normal((2, 6, 10, 4)), rng.standard_normal((2, 2, 13, 4)), rng.standard_normal((2, 2, 13, 3))
    dO = rng.standard_normal((2, 6, 10, 3))
    dq, dk, dv = flash_grads(dO, q, k, v, is_causal=causal, enable_gqa=True, block_size=4)
    # Query head h uses kv head h // 3: repeat the kv heads, take the dense gradients, sum each group.
    rq, rk, rv = sdpa_backward(dO, q, np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1), is_causal=causal)
    np.testing.assert_allclose(dq, rq, atol=1e-12)
    np.testing.assert_allclose(dk, rk.reshape(2, 2, 3, 13, 4).sum(axis=2), atol=1e-12)
    np.testing.assert_allclose(dv, rv.reshape(2, 2, 3, 13, 3).sum(axis=2), atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_backward_passes_gradcheck(causal):
    rng = np.random.default_rng(6)
    q, k, v = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 7, 3)), rng.standard_normal((2, 7, 2))
    mask = None if causal else rng.random((5, 7)) < 0.7
    W = rng.standard_normal((2, 5, 2))

    def f(q, k, v):
        out, lse = flash_attention(q, k, v, mask, causal, return_lse=True, block_size=2)
        return float((W * out).sum()), flash_attention_backward(W, q, k, v, out, lse, mask, causal, block_size=2)

    assert max(gradcheck(f, q, k, v)) < 1e-6


def test_lse_is_the_log_sum_exp_of_the_allowed_scores():
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((3, 20, 8)) * 20, rng.standard_normal((3, 30, 8)), rng.standard_normal((3, 30, 2))
    allowed = rng.random((20, 30)) < 0.5
    allowed[2] = False
    for mask, causal in ((None, False), (None, True), (allowed, False)):
        _, lse = flash_attention(q, k, v, mask, causal, return_lse=True, block_size=7)
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(8)  # (3, 20, 30)
        keep = np.tri(20, 30, dtype=bool) if causal else np.ones((20, 30), bool) if mask is None else mask
        want = np.logaddexp.reduce(np.where(keep, s, -np.inf), axis=-1)  # pairwise, from the formula
        assert lse.shape == (3, 20) and lse.dtype == np.float64
        np.testing.assert_allclose(lse, want, rtol=1e-13, atol=1e-12)
    assert np.all(lse[:, 2] == -np.inf)  # the fully masked row
    _, lse32 = flash_attention(*(x.astype(np.float16) for x in (q / 20, k, v)), return_lse=True)
    assert lse32.dtype == np.float32  # float16 inputs are computed, and their lse kept, in float32


def test_backward_nan_rule_marks_the_bad_rows_and_the_keys_they_see(normalisation):
    rng = np.random.default_rng(8)
    q, k, v = rng.standard_normal((6, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    k[3, 0] = np.nan  # rows 3, 4, 5 see key 3 (causal): NaN in the forward
    out, lse = flash_attention(q, k, v, is_causal=True, return_lse=True)
    dO = np.ones_like(out)
    dO[1, 0] = np.inf  # row 1's upstream gradient is not finite either
    dq, dk, dv = flash_attention_backward(dO, q, k, v, out, lse, is_causal=True)
    np.testing.assert_array_equal(np.isnan(dq).any(axis=1), [False, True, False, True, True, True])
    np.testing.assert_array_equal(np.isnan(dq).all(axis=1), [False, True, False, True, True, True])
    np.testing.assert_array_equal(np.isnan(dk).all(axis=1), [True, True, True, True, True])  # row 5 sees them all
    clean = flash_attention_backward(np.ones_like(out[:3]), q[:3], k, v, out[:3], lse[:3], is_causal=True)
    assert not any(np.isnan(g).any() for g in clean)  # rows 0-2 never see key 3
    allowed = np.zeros((6, 5), bool)
    allowed[:, :2] = True
    allowed[4, 4] = True  # only row 4 sees key 4
    q[4, 0] = np.nan
    out, lse = flash_attention(q, k * 0, v, allowed, return_lse=True)
    dq, dk, dv = flash_attention_backward(np.ones_like(out), q, k * 0, v, out, lse, allowed)
    np.testing.assert_array_equal(np.isnan(dk).any(axis=1), [True, True, False, False, True])
    assert np.isnan(dq[4]).all() and not np.isnan(np.delete(dq, 4, axis=0)).any()
    # Two rows that see different keys (a mask with as many rows as L = 2): only row 1's key turns NaN.
    q, k, v = np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 1))
    sees = np.eye(2, dtype=bool)
    out, lse = flash_attention(q, k, v, sees, return_lse=True)
    dq, dk, dv = flash_attention_backward(np.array([[1.0], [np.nan]]), q, k, v, out, lse, sees)
    np.testing.assert_array_equal(np.isnan(dk).all(axis=1), [False, True])
    np.testing.assert_array_equal(np.isnan(dq).all(axis=1), [False, True])


@pytest.mark.parametrize("kind", ["causal", "none", "bool (L, S)", "bool (1, S)", "float (L, S)", "bool (B, L, S)"])
@pytest.mark.parametrize("seed", [0, 1])
def test_backward_nan_rule_batched_row_by_row(kind, seed, normalisation):
    # Bad rows (a non-finite upstream gradient) give NaN in their dQ row and in the dK, dV rows of every key
    # they may attend to, batch element by batch element; everything else equals the dense backward with
    # those rows' gradients left out. Seed 0: batch (2,), bad rows in both elements; seed 1: batch (1, 2),
    # bad rows in the first element only.
    rng = np.random.default_rng(seed)
    batch, L, S = ((2,), (1, 2))[seed], 7, 6
    q, k, v = (rng.standard_normal((*batch, n, d)) for n, d in ((L, 4), (S, 4), (S, 3)))
    causal = kind == "causal"
    shape = {"bool (1, S)": (1, S), "bool (B, L, S)": (2, L, S)}.get(kind, (L, S))
    mask = None if kind in ("causal", "none") else rng.random(shape) < 0.5
    if kind.startswith("float"):
        mask = np.where(mask, rng.standard_normal(shape), -np.inf)
    allowed = np.broadcast_to(allowed_pairs(mask, causal, L, S), (*batch, L, S))
    bad = rng.random((*batch, L)) < 0.3  # (..., L)
    bad.reshape(2, L)[1] &= seed == 0
    out, lse = flash_attention(q, k, v, mask, causal, return_lse=True)
    dO = rng.standard_normal(out.shape)
    dO[bad] = np.nan
    first = (0,) * len(batch)
    lse[(*first, 3)], lse[(*first, 5)] = np.inf, np.nan  # a saved lse that is not finite makes its row bad too
    bad[(*first, 3)] = bad[(*first, 5)] = True
    dq, dk, dv = flash_attention_backward(dO, q, k, v, out, lse, mask, causal, block_size=2)
    seen = (allowed & bad[..., None]).any(axis=-2)  # (..., S)
    np.testing.assert_array_equal(np.isnan(dq).all(-1), bad & allowed.any(-1))
    np.testing.assert_array_equal(np.isnan(dk).all(-1), seen)
    np.testing.assert_array_equal(np.isnan(dv).all(-1), seen)
    clean = sdpa_backward(np.where(bad[..., None], 0, dO), q, k, v, mask, causal)
    for got, want, finite in zip((dq, dk, dv), clean, (~bad, ~seen, ~seen)):
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mask_rows", ["(L, S)", "(L, 1)"])
def test_backward_masks_across_several_query_blocks(mask_rows, normalisation):
    # 1100 queries: three blocks of 512 in the backward, each reading its own rows of the mask.
    rng = np.random.default_rng(50)
    q, k, v = rng.standard_normal((1100, 4)), rng.standard_normal((9, 4)), rng.standard_normal((9, 2))
    mask = rng.random((1100, 9 if mask_rows == "(L, S)" else 1)) < 0.5
    mask[:, 0] |= mask_rows == "(L, S)"
    out, lse = flash_attention(q, k, v, mask, return_lse=True)
    dO = rng.standard_normal(out.shape)
    for g, w in zip(flash_attention_backward(dO, q, k, v, out, lse, mask), sdpa_backward(dO, q, k, v, mask)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scratch_buffers_are_reused_up_to_a_size_and_fresh_above(dtype, monkeypatch):
    same = np.shares_memory  # scratch returns views of its kept buffer
    slot, other = object(), object()  # slots no earlier call used (any hashable names a slot); 8 MiB stay kept
    small = tiles.scratch(10, dtype, slot=slot)
    assert small.dtype == dtype and small.size == 10 and same(tiles.scratch(10, dtype, slot=slot), small)  # kept
    assert not same(tiles.scratch(10, dtype, slot=other), small)  # another slot, another buffer
    larger = tiles.scratch(1000, dtype, slot=slot)
    assert larger.dtype == dtype and larger.size == 1000 and same(tiles.scratch(1000, dtype, slot=slot), larger)
    keep = tiles.SCRATCH_KEEP // np.dtype(dtype).itemsize
    assert same(tiles.scratch(keep, dtype, slot=slot), tiles.scratch(keep, dtype, slot=slot))  # at the limit: kept
    big = tiles.scratch(keep + 1, dtype, slot=slot)
    assert big.size == keep + 1 and big.dtype == dtype and not same(tiles.scratch(keep + 1, dtype, slot=slot), big)
    # Every buffer of a call above the limit: the kernels still compute the same, forward and backward.
    monkeypatch.setattr(tiles, "SCRATCH_KEEP", 0)
    rng = np.random.default_rng(46)
    q, k, v = (rng.standard_normal((70, 8)).astype(dtype) for _ in range(3))
    out, lse = flash_attention(q, k, v, is_causal=True, block_size=16, return_lse=True)
    np.testing.assert_allclose(out, dense(q, k, v, is_causal=True), rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-6 if dtype == np.float32 else 0)
    dO = rng.standard_normal(out.shape).astype(dtype)
    grads = flash_attention_backward(dO, q, k, v, out, lse, is_causal=True, block_size=16)
    for g, w in zip(grads, sdpa_backward(dO, q, k, v, is_causal=True)):
        np.testing.assert_allclose(g, w, rtol=1e-3 if dtype == np.float32 else 1e-10, atol=1e-5)


def test_backward_dtypes_and_empty_sizes(normalisation):
    rng = np.random.default_rng(9)
    for dtype in (np.float16, np.float32, np.float64):
        q, k, v = (rng.standard_normal((5, 4)).astype(dtype) for _ in range(3))
        grads = flash_grads(np.ones((5, 4), dtype), q, k, v)
        assert [g.dtype for g in grads] == [np.dtype(dtype)] * 3
    for L, S in ((0, 5), (5, 0)):
        q, k, v = np.ones((2, L, 3)), np.ones((2, S, 3)), np.ones((2, S, 2))
        dq, dk, dv = flash_grads(np.ones((2, L, 2)), q, k, v)
        assert (dq.shape, dk.shape, dv.shape) == (q.shape, k.shape, v.shape)
        assert not dq.any() and not dk.any() and not dv.any()
    grads = flash_grads(np.ones((0, 4, 2)), np.ones((0, 4, 3)), np.ones((0, 5, 3)), np.ones((0, 5, 2)))
    assert [g.shape for g in grads] == [(0, 4, 3), (0, 5, 3), (0, 5, 2)]


@pytest.mark.parametrize(("name", "index", "shape", "message"), [
    ("grad_output", 0, (3, 2),
     r"grad_output must have shape \(\.\.\., L, Ev\) = \(4, 2\) for these inputs, got \(3, 2\)"),
    ("output", 4, (4, 3), r"output must have shape \(\.\.\., L, Ev\) = \(4, 2\) for these inputs, got \(4, 3\)"),
    ("lse", 5, (4, 1), r"lse must have shape \(\.\.\., L\) = \(4,\) for these inputs, got \(4, 1\)"),
])
def test_backward_rejects_mismatched_shapes(name, index, shape, message):
    q, k, v = np.ones((4, 3)), np.ones((6, 3)), np.ones((6, 2))
    out, lse = flash_attention(q, k, v, return_lse=True)
    args = [np.ones((4, 2)), q, k, v, out, lse]
    args[index] = np.ones(shape)
    with pytest.raises(ValueError, match=message):
        flash_attention_backward(*args)
    with pytest.raises(TypeError, match="^return_lse must be a bool"):
        flash_attention(q, k, v, return_lse="yes")
    args[index] = np.full(shape, "x")
    with pytest.raises(TypeError, match=f"^{name} must be a numeric array"):
        flash_attention_backward(*args)


def test_backward_causal_skips_future_tiles(monkeypatch):
    from attention._internal import blocked_backward

    exponentiated = []
    original = blocked_backward.Kernel.__init__

    def counting(self, *args, **kwargs):
        original(self, *args, **kwargs)
        exp = self.exp
        self.exp = lambda p, out: (exponentiated.append(p.size), exp(p, out=out))[1]

    monkeypatch.setattr(blocked_backward.Kernel, "__init__", counting)
    rng = np.random.default_rng(10)
    q, k, v = (rng.standard_normal((1024, 8)) for _ in range(3))
    dO = rng.standard_normal((1024, 8))
    flash_grads(dO, q, k, v, block_size=128)
    full, exponentiated[:] = sum(exponentiated), []
    flash_grads(dO, q, k, v, is_causal=True, block_size=128)
    assert full == 1024 * 1024
    # Key block j is visited by the queries from its first key on: 8 blocks of 128 keys see
    # 1024 + 896 + ... + 128 rows: 9/16 of the scores, with the diagonal tiles computed whole.
    assert sum(exponentiated) == 128 * 128 * (8 + 7 + 6 + 5 + 4 + 3 + 2 + 1)



@pytest.mark.skipif(not bounds.exp2_is_vectorised("float32"), reason="exp2 has no vectorised loop on this machine")
@pytest.mark.parametrize(("q_norm", "k_norm", "scale", "S", "taken"), [
    (0.5, None, 1.0, 1, True),    # |q| < 1: the bound uses max|q| itself, not 1
    (None, 0.5, 1.0, 1, True),    # |k| < 1: likewise; and with one key, log S = 0
    (None, 1.0, 2.0, 4, False),   # just above the floor once log S and the scale count
])
def test_backward_takes_exp2_exactly_while_every_weight_stays_in_its_fast_range(exp2_inputs, q_norm, k_norm, scale,
                                                                               S, taken):
    # The backward rebuilds P = e**(s - lse) with s - lse >= -2 |scale| max|q| max|k| - log S. exp2 is fast
    # while that stays above the floor F = 83.2 (float32): taken 0.3 below it, not taken 0.1 above it.
    F = bounds.exp2_floor(np.float32)
    reach = ((F - 0.3) if taken else (F + 0.1) - np.log(S)) / 2  # |scale| max|q| max|k|
    if q_norm is None:
        q_norm = reach / scale / k_norm
    else:
        k_norm = reach / scale / q_norm
    q = np.array([[q_norm, 0.0], [0.0, q_norm / 2]], np.float32)
    k = np.array([[-k_norm, 0.0], [0.0, k_norm], [0.3, 0.0], [0.0, -0.3]][:S], np.float32)
    v = np.arange(2.0 * S, dtype=np.float32).reshape(S, 2)
    out, lse = flash_attention(q, k, v, scale=scale, return_lse=True)
    dO = np.ones_like(out)
    exp2_inputs.clear()  # the forward's own exp2 calls do not count
    grads = flash_attention_backward(dO, q, k, v, out, lse, scale=scale)
    assert (len(exp2_inputs) > 0) == taken
    assert all(x >= np.finfo(np.float32).minexp for x in exp2_inputs)
    # Against float64: in float32, dS = P (dP - D) cancels where one weight is near 1, and the dense
    # float32 backward is the less exact of the two there.
    for g, w in zip(grads, sdpa_backward(*(x.astype(np.float64) for x in (dO, q, k, v)), scale=scale)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("case", ["no mask", "float mask"])
def test_backward_extra_memory_is_tiles_and_a_copy_of_q_not_scores(case, monkeypatch):
    from attention._internal import blocked_backward

    n, E = (4096, 64) if case == "no mask" else (2048, 64)
    rng = np.random.default_rng(11)
    q, k, v, dO = (rng.standard_normal((n, E)).astype(np.float32) for _ in range(4))
    mask = None
    if case == "float mask":
        mask = float_mask(rng, n)
    out, lse = flash_attention(q, k, v, mask, return_lse=True)
    monkeypatch.setattr(blocked_backward, "scratch", lambda size, dtype, slot=0: np.empty(size, dtype))  # count all
    flash_attention_backward(dO, q, k, v, out, lse, mask)  # one-off allocations (the thread pool)
    grads, peak = traced_peak(lambda: flash_attention_backward(dO, q, k, v, out, lse, mask))
    # The gradients, Q scaled (one copy), the row vectors (D, lse and lse log2(e): 3 x (L,)), one bool
    # per score while a float mask is checked, and per thread two score tiles, a block of dQ and one
    # (key block, E) product. No L x S weights, no copy of dQ per thread or of the mask, nothing in
    # float64: any of those adds at least 256 KiB, twice the 128 KiB allowed for bookkeeping.
    Lb, Bk = blocked_backward.BACKWARD_QUERY_BLOCK, tiles.KEY_BLOCK
    per_thread = 2 * Lb * Bk * 4 + Lb * E * 4 + Bk * E * 4
    checked = 0 if mask is None else mask.size  # bytes
    allowed = sum(g.nbytes for g in grads) + q.nbytes + 3 * n * 4 + checked + threads.cores() * per_thread + 2**17
    assert peak <= allowed, (peak / 2**20, allowed / 2**20)
    assert allowed < n * n * 4 / (8 if mask is None else 1.5)  # the weights alone take n * n * 4 bytes
    for g, w in zip(grads, sdpa_backward(dO, q, k, v, mask)):
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(L=st.integers(1, 24), S=st.integers(1, 24), block=st.integers(1, 9), seed=st.integers(0, 10_000),
       causal=st.booleans(), masked=st.booleans(), spread=st.sampled_from([1.0, 30.0]))
def test_property_backward_equals_sdpa_backward(L, S, block, seed, causal, masked, spread, normalisation):
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((L, 4)) * spread, rng.standard_normal((S, 4)), rng.standard_normal((S, 3))
    mask = rng.random((L, S)) < 0.6 if masked and not causal else None
    dO = rng.standard_normal((L, 3))
    assert_grads_close(flash_grads(dO, q, k, v, mask, causal, block_size=block),
                       sdpa_backward(dO, q, k, v, mask, causal), 1e-10)


@pytest.mark.parametrize("case", ["plain", "causal L>S", "causal L<S", "bool mask", "float mask", "gqa"])
def test_backward_matches_torch_autograd(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    L, S = {"causal L>S": (12, 7), "causal L<S": (7, 12)}.get(case, (9, 11))
    Hk = 2 if case == "gqa" else 4
    q, k, v = rng.standard_normal((2, 4, L, 8)), rng.standard_normal((2, Hk, S, 8)), rng.standard_normal((2, Hk, S, 5))
    allowed = rng.random((L, S)) < 0.6
    allowed[1] = False  # torch gives NaN for a fully masked row with a bool mask; compare the other rows
    mask = {"bool mask": allowed, "float mask": np.where(allowed, rng.standard_normal((L, S)), -np.inf)}.get(case)
    causal, gqa = case.startswith("causal"), case == "gqa"
    dO = rng.standard_normal((2, 4, L, 5))
    if mask is not None:
        dO[:, :, 1] = 0  # so the fully masked row's NaN in torch stays out of the other gradients
    t = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(
        *t, attn_mask=None if mask is None else torch.tensor(mask), is_causal=causal, enable_gqa=gqa)
    out.backward(torch.tensor(dO))
    want = [x.grad.numpy() for x in t]
    rows = np.arange(L) != 1 if mask is not None else slice(None)
    for got in (flash_grads(dO, q, k, v, mask, causal, enable_gqa=gqa, block_size=4),
                sdpa_backward(dO, q, k, v, mask, causal, enable_gqa=gqa)):
        np.testing.assert_allclose(got[0][..., rows, :], want[0][..., rows, :], atol=1e-12)
        np.testing.assert_allclose(got[1], want[1], atol=1e-12)
        np.testing.assert_allclose(got[2], want[2], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_at_scale_zero_with_huge_inputs_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(32)
    big = float(np.finfo(dtype).max) ** 0.5 * 4  # q.k overflows the dtype
    q, k = (rng.standard_normal((2, 5, 4)).astype(dtype) * dtype(big) for _ in range(2))
    v, dO = rng.standard_normal((2, 5, 3)).astype(dtype), rng.standard_normal((2, 5, 3)).astype(dtype)
    t = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    torch.nn.functional.scaled_dot_product_attention(*t, scale=0.0).backward(torch.tensor(dO))
    want = [x.grad.numpy() for x in t]
    for got in (flash_grads(dO, q, k, v, scale=0.0, block_size=2), sdpa_backward(dO, q, k, v, scale=0.0)):
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_scale_zero_with_huge_inputs_gives_uniform_weights_and_zero_input_gradients(dtype, masked):
    # With scale 0 every score is 0 (plus the mask): the weights are uniform over the allowed keys
    # however large Q and K are, and dQ = scale dS K, dK = scale dS^T Q are exactly 0 (torch too).
    rng = np.random.default_rng(31)
    big = float(np.finfo(dtype).max) ** 0.5 * 4  # products of two entries overflow the dtype
    q, k = (rng.standard_normal((2, 6, 4)).astype(dtype) * dtype(big) for _ in range(2))
    v, dO = rng.standard_normal((2, 6, 3)).astype(dtype), rng.standard_normal((2, 6, 3)).astype(dtype)
    mask = np.tril(np.ones((6, 6), dtype=bool)) if masked else None
    allowed = np.broadcast_to(np.ones((6, 6), bool) if mask is None else mask, (2, 6, 6))
    weights = allowed / allowed.sum(axis=-1, keepdims=True)  # (2, L, S)
    want_out, want_dv = weights @ v, np.swapaxes(weights, -1, -2) @ dO
    for name, grads in (("flash", flash_grads(dO, q, k, v, mask, scale=0.0, block_size=2)),
                        ("dense", sdpa_backward(dO, q, k, v, mask, scale=0.0))):
        dq, dk, dv = grads
        assert not dq.any() and not dk.any(), name
        np.testing.assert_allclose(dv, want_dv, rtol=TOL[dtype], atol=TOL[dtype], err_msg=name)
    for out in (flash_attention(q, k, v, mask, scale=0.0, block_size=2), dense(q, k, v, mask, scale=0.0)):
        np.testing.assert_allclose(out, want_out, rtol=TOL[dtype], atol=TOL[dtype])


# --- The backward at any magnitude: within a small multiple of the dense backward's error --------


def exact_score_backward(dO, q, k, v, mask=None, is_causal=False, scale=None):
    """Gradients from scores that are exact rationals (``fractions``), each row shifted by its
    maximum before rounding, then long double: the weights are right to long double's precision at
    any magnitude, where long double scores alone would lose every digit above about 1e19.
    Masks as True = may attend. Small sizes only."""
    from fractions import Fraction

    L, S, E = q.shape[0], k.shape[0], q.shape[1]
    scale = Fraction(float(1 / np.sqrt(E) if scale is None else scale))
    allowed = allowed_pairs(mask, is_causal, L, S)
    qf, kf = [[[Fraction(float(x)) for x in row] for row in a] for a in (q, k)]
    p = np.zeros((L, S), dtype=np.longdouble)
    for i in range(L):
        scores = {j: scale * sum(a * b for a, b in zip(qf[i], kf[j])) for j in range(S) if allowed[i, j]}
        if scores:
            top = max(scores.values())
            for j, s in scores.items():
                p[i, j] = np.exp(np.longdouble(float(s - top)))
            p[i] /= p[i].sum()
    q, k, v, dO = (np.asarray(a, dtype=np.longdouble) for a in (q, k, v, dO))
    dP = dO @ v.T  # (L, S)
    dS = p * (dP - (dP * p).sum(-1, keepdims=True))  # (L, S)
    f = np.longdouble(float(scale))
    return f * (dS @ k), f * (dS.T @ q), p.T @ dO, p, dP


@st.composite
def any_magnitude(draw):
    """Inputs whose scores reach from 1e-3 up to the dtype's overflow bound (where the forward
    keeps them finite), with masks and blocks of every size."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    L, S, E = draw(st.integers(1, 6)), draw(st.integers(1, 8)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = int(np.log10(np.finfo(dtype).max)) - 2  # scores up to about max / 100
    exponent = draw(st.integers(-3, top))
    q = rng.standard_normal((L, E)) * 10.0 ** (exponent // 2)
    k = rng.standard_normal((S, E)) * 10.0 ** (exponent - exponent // 2)
    v, dO = rng.standard_normal((S, 2)), rng.standard_normal((L, 2))
    kind = draw(st.sampled_from(["none", "bool", "causal"]))
    mask = rng.random((L, S)) < 0.7 if kind == "bool" else None
    return [a.astype(dtype) for a in (dO, q, k, v)], mask, kind == "causal", draw(st.integers(1, 8))


#: The multiple of the dense backward's error that the blocked backward stays within (its docstring).
BACKWARD_ERROR_MULTIPLE = 4


@settings(max_examples=int(__import__('os').environ.get('N_EX', 300)), deadline=None)
@given(any_magnitude())
def test_property_backward_error_within_a_small_multiple_of_the_dense_error(case):
    (dO, q, k, v), mask, causal, block = case
    dq, dk, dv, p, dP = exact_score_backward(dO, q, k, v, mask, causal)
    with np.errstate(all="ignore"):
        dense_grads = sdpa_backward(dO, q, k, v, mask, causal)
    if not all(np.isfinite(g).all() for g in dense_grads):
        return  # the rule covers inputs where the dense backward is finite
    flash = flash_grads(dO, q, k, v, mask, causal, block_size=block)
    eps = float(np.finfo(q.dtype).eps)
    # The size each gradient is rounded at: its terms in absolute value (long double).
    dP_size = np.abs(dO.astype(np.longdouble)) @ np.abs(v.astype(np.longdouble)).T  # (L, S)
    dS_size = p * (dP_size + (dP_size * p).sum(-1, keepdims=True))  # (L, S)
    f = 1 / np.sqrt(q.shape[1])
    sizes = (f * dS_size @ np.abs(k.astype(np.longdouble)), f * dS_size.T @ np.abs(q.astype(np.longdouble)),
             p.T @ np.abs(dO.astype(np.longdouble)))
    # Rebuilt weights e**(s - lse) carry the rounding of the scores, up to (E + 2) eps |s|, in their exponent.
    scores = f * np.abs(q.astype(np.float64) @ k.T.astype(np.float64))  # (L, S)
    top_score = float(np.where(allowed_pairs(mask, causal, *scores.shape), scores, 0).max(initial=0))
    for name, got, dense_g, ref, size in zip(("dq", "dk", "dv"), flash, dense_grads, (dq, dk, dv), sizes):
        assert np.isfinite(got).all(), name
        dense_error = float(np.abs(dense_g - ref).max(initial=0))
        floor = 16 * eps * (1 + (q.shape[1] + 2) * top_score) * float(size.max(initial=0))
        error = float(np.abs(got - ref).max(initial=0))
        assert error <= BACKWARD_ERROR_MULTIPLE * dense_error + floor, (name, error, dense_error, floor)


@pytest.mark.parametrize(("dtype", "query_size", "block_size", "L"), [
    (np.float32, 1e9, None, 1),  # the review's case: one query, 4 keys; dV was inf in 6 of 50 seeds
    (np.float64, 1e100, None, 1),
    (np.float64, 1e7, 1, 16),  # one key per block
])
def test_backward_at_large_scores_matches_the_dense_backward(dtype, query_size, block_size, L):
    for seed in range(20):
        rng = np.random.default_rng(seed)
        q = (rng.standard_normal((L, 8)) * query_size).astype(dtype)
        k, v = rng.standard_normal((4 * L, 8)).astype(dtype), rng.standard_normal((4 * L, 2)).astype(dtype)
        dO = np.ones((L, 2), dtype)
        got = flash_grads(dO, q, k, v, block_size=block_size)
        want = sdpa_backward(dO, q, k, v)
        for g, w in zip(got, want):
            assert np.isfinite(g).all()
            np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-3 * max(1.0, float(np.abs(w).max())))




def normalised_rows(monkeypatch) -> list[bool]:
    """Record, for each backward call, whether the rows were normalised from the tiles."""
    calls: list[bool] = []
    real_init, real_normalise = blocked_backward.Kernel.__init__, blocked_backward.Kernel.normalise_rows_itself

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        calls.append(False)

    def normalise(self):
        calls[-1] = True
        real_normalise(self)

    monkeypatch.setattr(blocked_backward.Kernel, "__init__", init)
    monkeypatch.setattr(blocked_backward.Kernel, "normalise_rows_itself", normalise)
    return calls


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("factor", [0.99, 1.01])
@pytest.mark.parametrize("batch", [(), (1,)])
def test_rows_are_normalised_from_the_tiles_exactly_where_the_documented_bound_says(dtype, factor, batch,
                                                                                    monkeypatch):
    # The rule (flash_attention_backward's docstring): when 2 (E + 2) eps max|S|, plus eps |lse| and
    # the float mask's entries, exceeds 1/16. A float mask of zeros keeps exp (not exp2) and adds nothing.
    # Here max|S| = |lse| = top to rounding, so the bound is factor x 1/16 x (2 (E + 2) + 1) / (2 (E + 2)).
    calls = normalised_rows(monkeypatch)
    E, eps = 64, float(np.finfo(dtype).eps)
    top = factor / (16 * eps * 2 * (E + 2))
    q, k = np.zeros((*batch, 3, E), dtype), np.zeros((*batch, 5, E), dtype)
    q[..., 0] = top * np.sqrt(E) * np.array([1.0, 0.5, -0.25])  # scale 1/sqrt(E): scores q.k / 8
    k[..., 0] = np.linspace(-1, 1, 5)
    v, dO = np.ones((*batch, 5, 2), dtype), np.ones((*batch, 3, 2), dtype)
    flash_grads(dO, q, k, v, np.zeros((3, 5), dtype))
    assert calls == [factor * (2 * (E + 2) + 1) / (2 * (E + 2)) > 1]


def test_everyday_inputs_rebuild_the_weights_from_lse_and_huge_ones_or_huge_masks_do_not(monkeypatch):
    calls = normalised_rows(monkeypatch)
    rng = np.random.default_rng(40)
    q, k, v = (rng.standard_normal((256, 64)).astype(np.float32) for _ in range(3))
    dO = rng.standard_normal((256, 64)).astype(np.float32)
    flash_grads(dO, q, k, v)  # unit-variance features: far below the bound (no second pass)
    flash_grads(dO, q * np.float32(1e9), k, v)  # the review's scale
    flash_grads(dO, q, k, v, (1e6 * rng.standard_normal((256, 256))).astype(np.float32))  # a float mask of 1e6
    assert calls == [False, True, True]


@pytest.mark.parametrize("normalised", [False, True])
def test_scale_zero_over_several_query_blocks(normalised, monkeypatch):
    # Every query block adds its weights to dV, also when dQ and dK (all 0) are skipped.
    if normalised:
        monkeypatch.setattr(blocked_backward, "MAX_EXPONENT_ERROR", -1.0)
    rng = np.random.default_rng(41)
    L = 2 * blocked_backward.BACKWARD_QUERY_BLOCK + 77
    q, k, v = rng.standard_normal((L, 4)), rng.standard_normal((9, 4)), rng.standard_normal((9, 3))
    dO = rng.standard_normal((L, 3))
    dq, dk, dv = flash_grads(dO, q, k, v, scale=0.0)
    assert not dq.any() and not dk.any()
    np.testing.assert_allclose(dv, np.broadcast_to(dO.sum(axis=0) / 9, (9, 3)), rtol=1e-12)


def test_a_blas_that_flags_invalid_on_finite_tiles_changes_nothing(monkeypatch):
    """OpenBLAS now and then raises the "invalid" flag in a product of finite numbers (junk in a kernel's
    unused lanes; seen in CI: float32 (1, 5) by (5, 1) in the backward, (10, 5) by (5, 1) in the forward),
    which numpy reports as a RuntimeWarning. The kernels' tile products are of finite inputs (non-finite
    rows are set aside first): such a flag is ignored there, and the gradients are the dense ones."""
    real = np.matmul

    def flagging_matmul(*args, **kwargs):
        result = real(*args, **kwargs)
        np.multiply(np.inf, 0.0)  # raises "invalid" under the caller's errstate, as the BLAS kernel did
        return result

    rng = np.random.default_rng(5)
    q, k = rng.standard_normal((2, 9, 8)).astype(np.float32), rng.standard_normal((2, 11, 8)).astype(np.float32)
    v, dO = rng.standard_normal((2, 11, 5)).astype(np.float32), rng.standard_normal((2, 9, 5)).astype(np.float32)
    monkeypatch.setattr(np, "matmul", flagging_matmul)
    got = flash_grads(dO, q, k, v, is_causal=True, block_size=1)
    monkeypatch.undo()
    assert_grads_close(got, sdpa_backward(dO, q, k, v, is_causal=True), 2e-5)
