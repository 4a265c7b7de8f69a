import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attention import flash_attention, flash_attention_backward, scaled_dot_product, sdpa_backward
from attention import scaled_dot_product_attention as sdpa
from attention._internal import blocked, bounds, threads, tiles
from attention._internal.problem import prepare
from attention.scaled_dot_product import BLOCKED_MIN_SCORES

_real_blocked = blocked.blocked_attention


def dense(q, k, v, mask=None, is_causal=False, scale=None):
    """The dense path: asking for the weights forces it."""
    return sdpa(q, k, v, mask, is_causal=is_causal, scale=scale, return_weights=True)[0]


TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [1, 3, 16, 64])
@pytest.mark.parametrize(("L", "S"), [(37, 37), (20, 45), (45, 20), (1, 9)])
def test_matches_dense_for_shapes_blocks_and_causal(dtype, block_size, L, S):
    rng = np.random.default_rng(L * 100 + S)
    q = rng.standard_normal((2, L, 8)).astype(dtype) * 3  # wide scores exercise the rescaling
    k = rng.standard_normal((2, S, 8)).astype(dtype)
    v = rng.standard_normal((2, S, 5)).astype(dtype)
    for causal in (False, True):
        out = flash_attention(q, k, v, is_causal=causal, block_size=block_size)
        assert out.dtype == dtype and out.shape == (2, L, 5)
        assert np.abs(out - dense(q, k, v, is_causal=causal)).max() <= TOL[dtype]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bool_float_masks_and_fully_masked_rows(dtype):
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in [(3, 40, 8), (3, 50, 8), (3, 50, 4)])
    mask = rng.random((3, 1, 40, 50)).squeeze(1) < 0.3
    mask[:, 5] = False  # fully masked rows
    mask[1, :, 10:40] = False
    for m in (mask, np.where(mask, 0.0, -np.inf).astype(dtype), rng.standard_normal((40, 50)).astype(dtype)):
        out = flash_attention(q, k, v, m, block_size=7)
        assert np.abs(out - dense(q, k, v, m)).max() <= TOL[dtype]
    np.testing.assert_array_equal(flash_attention(q, k, v, mask, block_size=7)[:, 5], 0.0)


def test_broadcast_batch_dims_and_custom_scale():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, 1, 30, 8))  # (B, 1, L, E)
    k = rng.standard_normal((1, 3, 25, 8))  # (1, H, S, E)
    v = rng.standard_normal((25, 6))  # (S, Ev)
    out = flash_attention(q, k, v, scale=0.4, block_size=8)
    assert out.shape == (2, 3, 30, 6)
    assert np.abs(out - dense(q, k, v, scale=0.4)).max() <= 1e-12


def test_huge_scores_stay_exact():
    q = np.array([[1e3, 0.0], [0.0, 1e3]])
    k = np.array([[1e3, 0.0], [0.0, 1e3], [0.0, 0.0]])
    v = np.eye(3)[:, :2]
    np.testing.assert_array_equal(flash_attention(q, k, v, block_size=1), [[1.0, 0.0], [0.0, 1.0]])


def test_float16_and_int_inputs():
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal(s).astype(np.float16) for s in [(10, 4), (12, 4), (12, 3)])
    out = flash_attention(q, k, v, block_size=5)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out.astype(float), dense(q, k, v).astype(float), atol=2e-3)
    assert flash_attention([[1, 0]], [[1, 0], [0, 1]], [[1, 2], [3, 4]]).dtype == np.float64


def test_causal_skips_future_blocks():
    # NaN keys/values in blocks entirely after the first query block: if those blocks were
    # computed (even with weight 0), NaN would reach the first queries' output.
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((8, 4)), rng.standard_normal((8, 4)), rng.standard_normal((8, 3))
    k[2:], v[2:] = np.nan, np.nan
    out = flash_attention(q, k, v, is_causal=True, block_size=2)
    np.testing.assert_allclose(out[:2], sdpa(q[:2], k[:2], v[:2], is_causal=True), rtol=1e-12)



@settings(max_examples=200, deadline=None)
@given(Lb=st.integers(1, 40), i0=st.integers(0, 60), S=st.integers(1, 80), key_block=st.integers(1, 20),
       causal=st.booleans())
def test_tiles_cover_each_allowed_pair_once_and_mask_only_rows_that_see_part_of_a_block(Lb, i0, S, key_block,
                                                                                       causal):
    # Query rows i0 .. i0 + Lb against S keys in blocks of key_block. Every pair a row may see is computed
    # exactly once; a tile is masked only for rows that see some but not all of its keys (the diagonal),
    # and no tile holds a row that sees none of its keys (a future block) or no rows at all.
    i = i0 + np.arange(Lb)[:, None]  # (Lb, 1) absolute query positions
    allowed = np.arange(S) <= i if causal else np.ones((Lb, S), bool)  # (Lb, S)
    computed = np.zeros((Lb, S), int)
    for r0, r1, j0, j1, causal_offset in tiles.tiles(Lb, i0, S, key_block, causal):
        assert 0 <= r0 < r1 <= Lb and 0 <= j0 < j1 <= S and j0 % key_block == 0 and j1 - j0 <= key_block
        seen = allowed[r0:r1, j0:j1]  # (n, w)
        assert seen.any(axis=1).all()  # every row of the tile sees at least one of its keys
        if causal_offset is None:
            assert seen.all()
            kept = seen
        else:
            assert not seen.all(axis=1).any()  # masked rows are exactly the ones that miss some keys
            c, r = np.arange(j1 - j0), np.arange(r1 - r0)[:, None]
            kept = c + causal_offset <= r  # (n, w), visit's masking rule
            np.testing.assert_array_equal(kept, seen)
        computed[r0:r1, j0:j1] += kept
    np.testing.assert_array_equal(computed, allowed)  # each allowed pair once, no other pair


def test_empty_lengths():
    assert flash_attention(np.ones((0, 4)), np.ones((3, 4)), np.ones((3, 2))).shape == (0, 2)
    np.testing.assert_array_equal(flash_attention(np.ones((2, 4)), np.ones((0, 4)), np.ones((0, 2))), 0.0)


@pytest.mark.parametrize(("bad", "error", "message"), [(0, ValueError, "block_size must be a positive integer, got 0"),
                                                       (-1, ValueError, "block_size must be a positive integer"),
                                                       (2.5, TypeError, "block_size must be an integer, got float 2.5"),
                                                       (True, TypeError, "block_size must be an integer, got bool")])
def test_bad_block_size(bad, error, message):
    with pytest.raises(error, match=message):
        flash_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), block_size=bad)


def test_validation_is_shared_with_sdpa():
    with pytest.raises(ValueError, match=r"same length S: key \(4, 3\) vs value \(3, 2\)"):
        flash_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((3, 2)))


def test_sdpa_dispatches_large_inputs_to_the_blocked_path_with_the_same_result(monkeypatch):
    calls = []
    spy = lambda prob, **kw: calls.append(prob.q.shape) or _real_blocked(prob, **kw)
    monkeypatch.setattr(scaled_dot_product, "blocked_attention", spy)
    rng = np.random.default_rng(5)
    n = int(np.sqrt(BLOCKED_MIN_SCORES))  # L * S reaches the threshold
    q, k, v = (rng.standard_normal((n, 16)).astype(np.float32) for _ in range(3))
    for causal in (False, True):
        fast = sdpa(q, k, v, is_causal=causal)
        assert np.abs(fast - dense(q, k, v, is_causal=causal)).max() <= 1e-5
    assert calls == [(n, 16), (n, 16)]
    sdpa(q[:-1], k, v)  # one score short of the threshold: dense
    sdpa(q, k, v, dropout_p=0.1, rng=rng)  # dropout needs the weights: dense
    assert len(calls) == 2


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(1, 9), st.integers(0, 2**16), st.booleans(), st.booleans())
def test_property_equals_dense(L, S, block, seed, causal, masked):
    rng = np.random.default_rng(seed)
    q, k, v = rng.standard_normal((L, 3)) * 4, rng.standard_normal((S, 3)), rng.standard_normal((S, 2))
    mask = rng.random((L, S)) < 0.5 if masked and not causal else None
    out = flash_attention(q, k, v, mask, is_causal=causal, block_size=block)
    assert np.abs(out - dense(q, k, v, mask, is_causal=causal)).max() <= 1e-12


# --- The fast paths: every shortcut must give the dense result -----------------------------------

masks = st.sampled_from(["none", "bool", "float", "causal"])


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 12), st.integers(1, 12), masks,
       st.sampled_from([0.1, 1.0, 30.0]), st.integers(0, 2**16))
def test_property_any_query_and_key_blocks_equal_dense(L, S, query_block, key_block, kind, spread, seed):
    """Query and key blocks of different sizes (so causal blocks straddle the diagonal anywhere),
    every kind of mask, and scores from flat to very peaked (spread 30 puts scores hundreds apart,
    which forces the reference to move and the exp path instead of exp2)."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((2, L, 4)) * spread
    k, v = rng.standard_normal((2, S, 4)), rng.standard_normal((2, S, 3))
    mask = {"none": None, "causal": None, "bool": rng.random((L, S)) < 0.6,
            "float": np.where(rng.random((2, 1, S)) < 0.3, -np.inf, rng.standard_normal((2, 1, S)))}[kind]
    prob = prepare(q, k, v, mask, is_causal=kind == "causal")
    out = blocked.blocked_attention(prob, key_block=key_block, query_block=query_block)
    expected = dense(q, k, v, mask, is_causal=kind == "causal")
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_float32_default_blocks_match_dense(causal):
    rng = np.random.default_rng(6)
    q, k, v = (rng.standard_normal((1100, 64)).astype(np.float32) for _ in range(3))
    out = flash_attention(q, k, v, is_causal=causal)
    assert out.dtype == np.float32
    assert np.abs(out - dense(q, k, v, is_causal=causal)).max() <= 1e-5


def test_huge_values_are_divided_by_a_power_of_two_that_brings_them_below_2():
    limit = bounds.value_limit(4096, np.float32, bounds.headroom(4096, np.float32))
    assert bounds.value_scale(np.nextafter(limit, 0), limit) == 1.0  # below the limit: V as it is
    for vmax in (limit, 3 * limit, 1e300, np.finfo(np.float64).max):
        scale = bounds.value_scale(vmax, limit)
        assert scale == 2.0 ** round(np.log2(scale)) and 1 <= vmax / scale < 2, vmax  # exact, and below 2


def test_the_headroom_lies_inside_exp2s_fast_range():
    # The fixed path takes e**s for |s| <= the headroom with exp2: that must stay above the smallest normal.
    for dtype in (np.float32, np.float64):
        assert bounds.MAX_HEADROOM * bounds.LOG2E < -np.finfo(dtype).minexp - 6
        assert bounds.headroom(1, dtype) == bounds.MAX_HEADROOM  # the cap, not the budget, binds
        if bounds.exp2_is_vectorised(np.dtype(dtype).name):
            assert bounds.MAX_HEADROOM < bounds.exp2_floor(dtype)


@pytest.mark.skipif(not bounds.exp2_is_vectorised("float32"), reason="exp2 has no vectorised loop on this machine")
def test_typical_inputs_take_exp2_on_every_tile(exp2_inputs):
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal((600, 64)).astype(np.float32) for _ in range(3))
    flash_attention(q, k, v, block_size=128)
    assert len(exp2_inputs) == 5 * 5  # every (query block, key block) tile: no max pass, no exp fallback


@pytest.mark.skipif(not bounds.exp2_is_vectorised("float32"), reason="exp2 has no vectorised loop on this machine")
@pytest.mark.parametrize(("reach", "fast"), [(0.995, True), (1.01, False)])
def test_exp2_is_taken_while_every_exponent_stays_six_binades_above_the_smallest_normal(exp2_inputs, reach, fast):
    # One tile whose exponents s - r may fall to -(|q| max|k| + r) = -reach * floor, with
    # floor = (126 - 6) ln 2 = 83.2: e**(s - r) >= 2**-120, six binades above float32's smallest normal.
    floor = (-np.finfo(np.float32).minexp - 6) * np.log(2)
    r = 24.0  # the row's first reference, q . k_0
    q = np.array([[1.0, 0.0]], np.float32)
    k = np.array([[r, 0.0], [-(reach * floor - r), 0.0]], np.float32)  # |q| max|k| = reach * floor - r
    v = np.array([[1.0], [2.0]], np.float32)
    out = flash_attention(q, k, v, scale=1.0, block_size=2)
    assert (len(exp2_inputs) > 0) == fast
    assert all(x >= np.finfo(np.float32).minexp for x in exp2_inputs)
    np.testing.assert_allclose(out, dense(q, k, v, scale=1.0), rtol=1e-6)


@pytest.mark.parametrize("scale", [1.0, 10.0, 100.0])
def test_exp2_never_sees_its_slow_range(exp2_inputs, scale):
    """numpy's exp2 is up to 100x slower on results below the smallest normal number and on -inf;
    the bound must send every such tile to exp instead."""
    rng = np.random.default_rng(8)
    q = rng.standard_normal((300, 16)).astype(np.float32) * scale
    k, v = (rng.standard_normal((300, 16)).astype(np.float32) for _ in range(2))
    for causal in (False, True):
        out = flash_attention(q, k, v, is_causal=causal, block_size=64)
        np.testing.assert_allclose(out, dense(q, k, v, is_causal=causal), rtol=1e-4, atol=1e-5)
    assert all(x >= np.finfo(np.float32).minexp for x in exp2_inputs)



@pytest.mark.skipif(not bounds.exp2_is_vectorised("float32"), reason="exp2 has no vectorised loop on this machine")
@pytest.mark.parametrize("case", ["row by row", "after the reference moved"])
def test_exp2_is_decided_row_by_row_and_after_the_reference_moves(exp2_inputs, case):
    # float32, scale 1: headroom T = 40, exp2's floor F = 83.2; |q| max|k| > T, so the general path.
    # A tile's terms e**(s - r) lie in [e**-(|q| max|k| + r), e**T]: exp2 is safe when that low end stays
    # above e**-F for every row. Bounds over the whole block (max |q| + max r) may fail where each row's holds.
    F = bounds.exp2_floor(np.float32)
    if case == "row by row":
        # Row A: |q| = 42.5, r = q . k_0 = 30; row B: |q| = r = 41.5; row C: |q| = r = 1. Block-wide bounds:
        # 42.5 - 1 > T (the reference might move) and 42.5 + 41.5 > F; row by row: at most 12.5 <= T, and 83 < F.
        q = np.array([[30.0, np.sqrt(42.5**2 - 30**2)], [41.5, 0.0], [1.0, 0.0]], np.float32)
        k = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8]], np.float32)  # every |k| = 1
        assert 42.5 + 41.5 > F > 41.5 + 41.5 and 42.5 - 1 > bounds.MAX_HEADROOM
        exp2_tiles = 1
    else:
        # One row, two tiles: k_0 = -k_1, so the first tile moves the reference from -41 to 41 (exp, not
        # exp2: its scores exceed the reference by 82 > T); the second tile then lies in [e**-82, 1] and takes exp2.
        q = np.array([[41.0, 0.0]], np.float32)
        k = np.array([[-1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
        assert 41 + 41 < F
        exp2_tiles = 1
    v = np.arange(2.0 * len(k), dtype=np.float32).reshape(-1, 2)
    out = flash_attention(q, k, v, scale=1.0, block_size=2 if case != "row by row" else 4)
    assert len(exp2_inputs) == exp2_tiles
    assert all(x >= np.finfo(np.float32).minexp for x in exp2_inputs)
    np.testing.assert_allclose(out, dense(q, k, v, scale=1.0), rtol=1e-5)


def test_reference_moves_when_later_keys_score_far_higher():
    # Key norms grow block by block, so each block's scores exceed the previous reference by far
    # more than the headroom: the rescaling must run, and the result stays exact.
    q = np.ones((3, 2))
    k = np.outer(np.arange(1, 41), [1.0, 1.0]) * 25.0  # scores 50, 100, ..., 2000 (scale 1)
    v = np.random.default_rng(9).standard_normal((40, 2))
    out = flash_attention(q, k, v, scale=1.0, block_size=4)
    np.testing.assert_allclose(out, dense(q, k, v, scale=1.0), rtol=1e-12)
    np.testing.assert_allclose(out, np.broadcast_to(v[-1], (3, 2)), rtol=1e-12)  # e**-50 is below rounding


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_values_near_the_largest_float_do_not_overflow_the_sums(dtype):
    # The unnormalised sum of 60 values near the largest float would overflow (the textbook online softmax
    # does); V is divided by a power of two first, and the weights still sum to one.
    big = np.finfo(dtype).max * 0.9
    rng = np.random.default_rng(10)
    q, k = rng.standard_normal((50, 8)).astype(dtype) * 5, rng.standard_normal((60, 8)).astype(dtype)
    v = big * rng.uniform(-1, 1, (60, 2)).astype(dtype)
    out = flash_attention(q, k, v, block_size=16)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out / big, dense(q, k, v / big), rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("path", ["fixed", "general"])
def test_values_just_below_the_limit_with_every_score_at_the_headroom_stay_finite(path, monkeypatch):
    # The worst case the limit allows: key 0 scores 0 (the general path's first reference), all
    # other keys score exactly T above it, and V sits just below the limit, so V is not scaled.
    S, dtype = 64, np.float32
    T = bounds.headroom(S, dtype)
    limit = bounds.value_limit(S, dtype, T)
    if path == "general":
        monkeypatch.setattr(blocked, "fixed_limit", lambda *args: -1.0)
    q = np.array([[T, 0.0]], dtype=dtype)
    k = np.vstack([[0.0, 1.0], np.tile([1.0, 0.0], (S - 1, 1))]).astype(dtype)  # scores 0, T, T, ...
    v = np.tile(np.array([0.99, -0.99]) * limit, (S, 1)).astype(dtype)
    assert bounds.value_scale(float(np.abs(v).max()), limit) == 1  # used as it is: the sums really reach S e**T |v|
    out = flash_attention(q, k, v, scale=1.0)
    np.testing.assert_allclose(out, v[:1], rtol=1e-6)


def test_nan_propagates_as_in_the_dense_form():
    rng = np.random.default_rng(11)
    q, k, v = rng.standard_normal((20, 4)), rng.standard_normal((30, 4)), rng.standard_normal((30, 2))
    q[3, 1] = np.nan  # one query row
    out = flash_attention(q, k, v, block_size=8)
    with np.errstate(invalid="ignore"):
        expected = dense(q, k, v)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    assert np.isnan(out[3]).all() and not np.isnan(np.delete(out, 3, axis=0)).any()
    np.testing.assert_allclose(np.delete(out, 3, axis=0), np.delete(expected, 3, axis=0), rtol=1e-12)
    k[7, 0] = np.nan  # one key: every query sees it
    assert np.isnan(flash_attention(q, k, v, block_size=8)).all()


def test_threads_do_not_change_the_result(monkeypatch):
    rng = np.random.default_rng(12)
    q, k, v = (rng.standard_normal((3, 200, 16)).astype(np.float32) for _ in range(3))
    threaded = flash_attention(q, k, v, is_causal=True, block_size=32)
    monkeypatch.setattr(threads, "cores", lambda: 1)
    np.testing.assert_array_equal(flash_attention(q, k, v, is_causal=True, block_size=32), threaded)


def test_default_query_blocks_are_even(monkeypatch):
    rng = np.random.default_rng(14)
    q, k, v = rng.standard_normal((1500, 8)), rng.standard_normal((10, 8)), rng.standard_normal((10, 2))
    sizes = []
    real = blocked.tiles
    monkeypatch.setattr(blocked, "tiles", lambda Lb, *args: sizes.append(Lb) or real(Lb, *args))
    flash_attention(q, k, v)
    assert sorted(sizes) == [750, 750]



@pytest.mark.parametrize(("cores", "causal", "blocks", "blocks_of_two"), [(2, False, 2, 1), (2, True, 4, 2),
                                                                        (4, False, 4, 2), (4, True, 6, 4)])
def test_query_blocks_give_every_core_work_and_causal_problems_two_per_core(cores, causal, blocks, blocks_of_two):
    # 1500 queries: a block per core (two batch elements: half as many each), at least 256 rows per block
    # (MIN_QUERY_BLOCK, hence 6 and not 8); causal blocks differ in work (later queries see more keys), so
    # they are split twice as finely, for the threads to finish together. Blocks are even.
    for n_batch, count in ((1, blocks), (2, blocks_of_two)):
        Lb = tiles.even_query_block(1500, n_batch, causal, threads=cores)
        assert [min(Lb, 1500 - i0) for i0 in range(0, 1500, Lb)] == [1500 // count] * count


# --- The fixed-reference path: blocks whose scores are bounded skip the reference altogether ---------


@pytest.fixture
def paths(monkeypatch):
    """Count the query blocks that take the fixed-reference path and the general one."""
    taken = {"fixed": 0, "general": 0}
    real_fixed, real_general = blocked.fixed_reference, blocked.OnlineSoftmax.__init__

    def fixed(*args):
        taken["fixed"] += 1
        return real_fixed(*args)

    def general(self, *args):
        taken["general"] += 1
        real_general(self, *args)

    monkeypatch.setattr(blocked, "fixed_reference", fixed)
    monkeypatch.setattr(blocked.OnlineSoftmax, "__init__", general)
    return taken


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_typical_inputs_take_the_fixed_path_and_wide_scores_do_not(paths, dtype):
    rng = np.random.default_rng(15)
    q, k, v = (rng.standard_normal((300, 16)).astype(dtype) for _ in range(3))
    flash_attention(q, k, v, block_size=64)  # |scores| <= |q||k|/4, about 5: far inside the limit
    assert paths == {"fixed": 5, "general": 0}
    q[130] *= 100  # one row of the third block can now score up to ~500: that block alone goes general
    out = flash_attention(q, k, v, block_size=64)
    assert paths == {"fixed": 9, "general": 1}
    np.testing.assert_allclose(out, dense(q, k, v), rtol=TOL[dtype], atol=TOL[dtype])


def test_the_limit_is_the_bound_not_the_scores(paths):
    # Scores here are 0 (orthogonal), but |q||k| = 50 exceeds the headroom of 40: the bound, not the
    # actual scores, decides, so that the decision needs no pass over the scores.
    q, k = np.array([[50.0, 0.0]]), np.array([[0.0, 1.0], [0.0, -1.0]])
    out = flash_attention(q, k, np.array([[1.0], [3.0]]), scale=1.0)
    assert paths == {"fixed": 0, "general": 1}
    np.testing.assert_allclose(out, [[2.0]])


def test_fixed_path_masks_and_causal_equal_the_general_path(paths, monkeypatch):
    rng = np.random.default_rng(16)
    q, k, v = rng.standard_normal((2, 90, 8)), rng.standard_normal((2, 70, 8)), rng.standard_normal((2, 70, 3))
    mask = rng.random((90, 70)) < 0.5
    mask[5] = False  # a fully masked row gives 0 on both paths
    cases = [dict(attn_mask=mask), dict(is_causal=True), dict(attn_mask=mask[:, :1]), dict(attn_mask=mask[:1])]
    blocks = lambda kw: blocked.blocked_attention(prepare(q, k, v, kw.get("attn_mask"), kw.get("is_causal", False)),  # noqa: E731
                                                key_block=16, query_block=16)
    fixed = [blocks(kw) for kw in cases]
    assert paths["general"] == 0
    monkeypatch.setattr(blocked, "fixed_limit", lambda *args: -1.0)  # no block qualifies any more
    general = [blocks(kw) for kw in cases]
    assert paths["fixed"] == len(fixed) * 2 * 6 and paths["general"] == len(fixed) * 2 * 6
    for a, b, kw in zip(fixed, general, cases):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a, dense(q, k, v, kw.get("attn_mask"), is_causal=kw.get("is_causal", False)),
                                   rtol=1e-12, atol=1e-15)
    assert not fixed[0][:, 5].any()


def test_float_masks_take_the_general_path(paths):
    rng = np.random.default_rng(17)
    q, k, v = rng.standard_normal((40, 4)), rng.standard_normal((50, 4)), rng.standard_normal((50, 2))
    bias = -rng.random((40, 50))  # even a mask <= 0 could push scores below exp2's fast range
    blocked.blocked_attention(prepare(q, k, v, bias), key_block=20, query_block=20)
    assert paths == {"fixed": 0, "general": 2}


@pytest.mark.skipif(not bounds.exp2_is_vectorised("float32"), reason="exp2 has no vectorised loop on this machine")
def test_fixed_path_keeps_exp2_in_its_fast_range_at_the_limit(exp2_inputs, paths):
    # Scale Q so that the largest |q||k| sits just under the limit: the most negative score possible
    # is -limit, and exp2 must still receive nothing below float32's minimum exponent.
    rng = np.random.default_rng(18)
    q, k, v = (rng.standard_normal((256, 16)).astype(np.float32) for _ in range(3))
    k_max = np.linalg.norm(k, axis=1).max()
    limit = bounds.fixed_limit(bounds.headroom(256, np.float32), None)
    q = -k[np.argmax(np.linalg.norm(k, axis=1))] / k_max * (limit * 0.999 / k_max) * np.ones((256, 1), np.float32)
    out = flash_attention(q, k, v, scale=1.0, block_size=64)
    assert paths == {"fixed": 4, "general": 0}
    assert min(exp2_inputs) < -0.99 * limit * bounds.LOG2E  # the bound is reached, not just respected
    assert all(x >= np.finfo(np.float32).minexp for x in exp2_inputs)
    np.testing.assert_allclose(out, dense(q, k, v, scale=1.0), rtol=1e-4, atol=1e-6)


def traced_peak(call):
    """``call()`` under tracemalloc (which counts numpy's buffers): its result and the peak bytes meanwhile."""
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def float_mask(rng, n: int) -> np.ndarray:
    """An (n, n) float32 mask: N(0, 1) added to the scores, and about a tenth of the pairs -inf."""
    return np.where(rng.random((n, n)) < 0.1, -np.inf, rng.standard_normal((n, n))).astype(np.float32)


def test_extra_memory_is_tiles_and_block_sums_not_scores_or_copies(monkeypatch):
    # Peak memory: the output, and per thread one score tile plus its query block's working arrays
    # (Q log2(e), a and the part added to it: 3 x (Lb, E)). No L x S scores, and no copy of Q, K
    # or V: each would add 2 MiB, far more than the 256 KiB allowed for norms and bookkeeping.
    monkeypatch.setattr(tiles, "scratch", lambda size, dtype: np.empty(size, dtype))  # count every tile
    n, E = 8192, 64
    rng = np.random.default_rng(19)
    q, k, v = (rng.standard_normal((n, E)).astype(np.float32) for _ in range(3))
    flash_attention(q, k, v)  # one-off allocations (imports, the thread pool) are not the kernel's
    Lb, cores = tiles.even_query_block(n, 1, False), threads.cores()
    tile, block = Lb * tiles.KEY_BLOCK * 4, 3 * Lb * E * 4
    out, peak = traced_peak(lambda: flash_attention(q, k, v))
    allowed = out.nbytes + min(cores, n // Lb) * (tile + block) + 2**18
    assert peak <= allowed, (peak / 2**20, allowed / 2**20)
    assert allowed < n * n * 4 / 16  # the scores alone would take 256 MiB


@pytest.mark.parametrize("case", ["wide scores", "float mask"])
def test_general_path_extra_memory_is_tiles_block_state_and_one_key_copy(case, monkeypatch):
    # Blocks whose scores may exceed the headroom (here |q| ~ 80, |k| ~ 8) or that carry a float mask take
    # the general path: per thread one score tile, [Q scale, -r] in base e and base 2, the sums a and
    # their tile part (4 x (Lb, E)) and a few row vectors (norms, r, l: 16 x (Lb,) allowed); shared,
    # [K, 1] built once, and while a float mask is checked one bool per score. No L x S float scores,
    # no copy of the mask, nothing in float64: any of those adds megabytes.
    monkeypatch.setattr(tiles, "scratch", lambda size, dtype: np.empty(size, dtype))  # count every tile
    n, E = (8192, 64) if case == "wide scores" else (2048, 64)
    rng = np.random.default_rng(20)
    q, k, v = (rng.standard_normal((n, E)).astype(np.float32) for _ in range(3))
    mask = None
    if case == "wide scores":
        q *= 10
    else:
        mask = float_mask(rng, n)
    flash_attention(q, k, v, mask)  # one-off allocations (imports, the thread pool) are not the kernel's
    Lb, cores = tiles.even_query_block(n, 1, False), threads.cores()
    per_thread = Lb * tiles.KEY_BLOCK * 4 + 2 * Lb * (E + 1) * 4 + 2 * Lb * E * 4 + 16 * Lb * 4
    out, peak = traced_peak(lambda: flash_attention(q, k, v, mask))
    checked = 0 if mask is None else mask.size  # bytes
    allowed = out.nbytes + n * (E + 1) * 4 + min(cores, n // Lb) * per_thread + checked + 2**17
    assert peak <= allowed, (peak / 2**20, allowed / 2**20)
    np.testing.assert_allclose(out, dense(q, k, v, mask), rtol=1e-4, atol=1e-5)


# --- Exact on adversarial inputs: far-below-max keys, huge norms, mixed signs ---------------------


def allowed_pairs(mask, causal: bool, L: int, S: int) -> np.ndarray:
    """Which keys each query may attend to, broadcastable to (..., L, S): a bool mask (True = may attend)
    or a float one (-inf = may not), and the causal mask."""
    allowed = np.ones((L, S), bool) if mask is None else mask if mask.dtype == bool else mask != -np.inf
    return allowed & np.tri(L, S, dtype=bool) if causal else allowed


def longdouble_reference(q, k, v, mask=None, is_causal=False, scale=None):
    """Attention in extended precision (np.longdouble), from the formula; masks as True = may attend."""
    q, k, v = (np.asarray(a, dtype=np.longdouble) for a in (q, k, v))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = scale * (q @ np.swapaxes(k, -1, -2))  # (..., L, S)
    s = np.where(allowed_pairs(mask, is_causal, *s.shape[-2:]), s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True, initial=-np.inf)
    p = np.exp(s - np.where(np.isfinite(m), m, 0))
    total = p.sum(-1, keepdims=True)
    return (p / np.where(total > 0, total, 1)) @ v


@pytest.mark.parametrize("position", [0, 100, 511])
def test_far_below_max_key_in_float32_is_exact(position):
    # The case: 512 queries all -100, keys ~0.01 with one key at 5000 (scale 1). The key at
    # position 0 was the first reference, 4e6 below the row's maximum: q.k - r lost its digits there.
    rng = np.random.default_rng(position)
    q = np.full((512, 8), -100, np.float32)
    k = (0.01 * rng.standard_normal((512, 8))).astype(np.float32)
    k[position] = 5000
    v = rng.standard_normal((512, 4)).astype(np.float32)
    ref = longdouble_reference(q, k, v, scale=1.0)
    dense_error = np.abs(dense(q, k, v, scale=1.0) - ref).max()
    for out in (flash_attention(q, k, v, scale=1.0), sdpa(q, k, v, scale=1.0), flash_attention(q, k, v, scale=1.0,
                                                                                               block_size=16)):
        assert np.abs(out - ref).max() <= 4 * dense_error + 1e-6


@pytest.mark.parametrize("huge", ["query", "key"])
def test_norms_that_overflow_on_the_way_raise_no_warning(huge):
    # |q| = 1e160 * 2 squares to 4e320, beyond float64: its norm is inf while every score (1e160 * 1e-150)
    # is small. The bounds then say nothing, the result is still exact, and no RuntimeWarning is raised.
    big, small = np.full((3, 2), 1e160), np.full((3, 2), 1e-150)
    q, k = (big, small) if huge == "query" else (small, big)
    q[1] = 0  # 0 * an infinite norm is NaN on the way, and must not warn either
    v = np.arange(6.0).reshape(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, lse = flash_attention(q, k, v, block_size=2, return_lse=True)
        grads = flash_attention_backward(np.ones_like(out), q, k, v, out, lse, block_size=2)
    np.testing.assert_allclose(out, dense(q, k, v), rtol=1e-12)
    # The backward rebuilds the weights as e**(s - lse) from scores of 1e10, so to eps |s| ~ 3e-6 (not
    # 1e-12: see flash_attention_backward). All keys are equal, so dS sums to 0 in each row and dQ = dS K = 0.
    dq, dk, dv = grads
    _, want_dk, want_dv = sdpa_backward(np.ones_like(out), q, k, v)
    np.testing.assert_allclose(dk, want_dk, rtol=1e-5)
    np.testing.assert_allclose(dv, want_dv, rtol=1e-5)
    assert np.abs(dq).max() <= 1e-12 * np.abs(k).max()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_whose_every_score_is_far_below_zero(dtype):
    # Scores near -1800: each row's reference must be one of its own scores (0 would make every e**(s - r)
    # underflow to 0, a row of zeros).
    rng = np.random.default_rng(44)
    q = (-30 + rng.standard_normal((40, 4))).astype(dtype)
    k = (30 + rng.standard_normal((50, 4))).astype(dtype)
    v = rng.standard_normal((50, 3)).astype(dtype)
    for block_size in (4, None):
        np.testing.assert_allclose(flash_attention(q, k, v, block_size=block_size), dense(q, k, v),
                                   rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_positive_float_masks_in_later_blocks(dtype):
    # A float mask may raise a score by any amount: +100 on key 37 (block 9 of 4 keys) would overflow
    # e**(s - r) in float32 (e**88 is its largest) if the reference did not move to it.
    rng = np.random.default_rng(45)
    q, k, v = (rng.standard_normal((20, 4)).astype(dtype) for _ in range(3))
    k, v = np.concatenate([k, k]), np.concatenate([v, v])  # S = 40
    bias = np.zeros((20, 40), dtype)
    bias[:, 37] = 100.0
    bias[::3, 5] = 95.0
    expected = dense(q, k, v, bias)
    np.testing.assert_allclose(expected[1], v[37], rtol=1e-5)
    for block_size in (4, 16, None):
        np.testing.assert_allclose(flash_attention(q, k, v, bias, block_size=block_size), expected,
                                   rtol=1e-5 if dtype == np.float32 else 1e-10, atol=1e-6)


def test_a_float_mask_keeps_the_exact_path_even_where_every_row_bound_holds():
    # After the first key block, rows A (|q| = 10) and B (|q| = 1) have references 100 and 10. On the second
    # block each row's own bound (|q| max|k| - r = 0) would allow the shifted product, the scalar bound
    # (10 * 10 - 10 = 90) does not, and a float mask always asks for the exact path: its +120 on key 3 raises
    # row B's exponent to 100, beyond float32's e**88. Only the exact path, which moves B's reference, is right.
    q = np.array([[10.0], [1.0]], np.float32)  # (L = 2, E = 1)
    k = np.array([[10.0], [0.0], [10.0], [-10.0]], np.float32)  # (S = 4, E)
    v = np.eye(4, dtype=np.float32)
    mask = np.zeros((2, 4), np.float32)
    mask[1, 3] = 120.0
    out = flash_attention(q, k, v, mask, scale=1.0, block_size=2)
    np.testing.assert_allclose(out, dense(q, k, v, mask, scale=1.0), rtol=1e-6, atol=1e-30)
    assert out[1, 3] == pytest.approx(1.0)


def test_a_first_key_scoring_1e9_in_float32_is_not_lost():
    # Found by a random search (mutation testing's hypothesis run): query 4's scores are
    # [1.16e9, 1.4e5, 1.8e5, 1.6, -235]. Its first reference was q.k_0 from a matrix-vector product;
    # the tile's matrix product rounds the same score differently, by about 100 (float32's eps
    # times 1e9), so every e**(s - r) of the row underflowed and it came out 0 instead of v_0.
    q = np.array([[92.32505, 135.5647], [48.018074, 15.086502], [-99.256195, 99.235985],
                  [-10.065917, -51.34895], [-121.97881, 142.10143]], np.float32)  # (L, E)
    k = np.array([[1.5671478e06, 9.48696e06], [-2.092165e03, -8.4094519e02], [4.1748547e02, 1.599587e03],
                  [-4.0595061e-03, 8.0603594e-03], [5.4120088e-01, -1.1872038e00]], np.float32)  # (S, E)
    v = np.random.default_rng(43).standard_normal((5, 3)).astype(np.float32)
    expected = sdpa(q, k, v, scale=1.0)
    np.testing.assert_allclose(expected[4], v[0], rtol=1e-6)
    for block_size in (1, 2, 5, None):
        np.testing.assert_allclose(flash_attention(q, k, v, scale=1.0, block_size=block_size), expected,
                                   rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(flash_attention(q, k, v, is_causal=True, scale=1.0)[4], v[0], rtol=1e-6)


def test_huge_first_score_gap_in_float64_is_exact():
    # The case: scores -5e14, -1.23, 0 and 0.537; computing them as q.k - r against the first
    # reference -5e14 rounds them to multiples of 1/16 (2.4828 instead of 2.4724).
    q, k = np.array([[-1e5]]), np.array([[5e9], [1.23e-5], [0.0], [-5.37e-6]])
    v = np.array([[0.0], [1.0], [2.0], [3.0]])
    expected = float(longdouble_reference(q, k, v, scale=1.0)[0, 0])
    for block_size in (None, 1, 2):
        assert flash_attention(q, k, v, scale=1.0, block_size=block_size)[0, 0] == pytest.approx(expected, rel=1e-14)


@st.composite
def adversarial(draw):
    """Scores spread over many orders of magnitude: per-key norms from 1e-3 to 1e4, mixed signs,
    queries of any size, and a few keys far above or far below the rest."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    L, S, E = draw(st.integers(1, 24)), draw(st.integers(1, 40)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q = rng.standard_normal((L, E)) * 10.0 ** draw(st.integers(-3, 3))
    k = rng.standard_normal((S, E)) * 10.0 ** rng.integers(-3, 5, (S, 1))  # (S, E), norms 1e-3 .. 1e4
    extreme = rng.random(S) < 0.1
    k[extreme] *= draw(st.sampled_from([-1e3, 1e3]))  # far above or far below the rest
    v = rng.standard_normal((S, 3))
    kind = draw(st.sampled_from(["none", "bool", "causal"]))
    mask = rng.random((L, S)) < 0.7 if kind == "bool" else None
    scale = draw(st.sampled_from([1.0, 0.1, None]))
    blocks = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    return [a.astype(dtype) for a in (q, k, v)], mask, kind == "causal", scale, blocks


@settings(max_examples=500, deadline=None)
@given(adversarial())
def test_property_blocked_error_within_a_small_multiple_of_the_dense_error(case):
    (q, k, v), mask, causal, scale, (query_block, key_block) = case
    ref = longdouble_reference(q, k, v, mask, causal, scale)
    dense_error = np.abs(dense(q, k, v, mask, is_causal=causal, scale=scale) - ref).max()
    # Row by row, the blocked path may add one rounding the dense form does not have: it computes
    # q.k - r in one product, off by up to (E + 2) eps |r| on top of q.k's own rounding, and its
    # reference r is a score the row has, so |r| <= m, the row's largest allowed |score|.
    eps, E = np.finfo(q.dtype).eps, q.shape[-1]
    m = np.abs(np.where(allowed_pairs(mask, causal, *q.shape[:1], *k.shape[:1]),
                        (1 / np.sqrt(E) if scale is None else scale) * (q.astype(np.float64) @ k.T.astype(np.float64)),
                        0)).max(axis=-1)  # (L,)
    floor = 8 * eps * max(1.0, float(np.abs(v).max())) * (1 + (E + 2) * m)  # (L,)
    prob = prepare(q, k, v, mask, causal, scale)
    for out in (blocked.blocked_attention(prob, key_block=key_block, query_block=query_block),
                flash_attention(q, k, v, mask, is_causal=causal, scale=scale)):
        assert (np.abs(out - ref).max(axis=-1) <= 4 * dense_error + floor).all()


# --- Sizes --------------------------------------------------------------------------------------------


def test_empty_batch_dims():
    out = flash_attention(np.zeros((0, 4, 8)), np.zeros((0, 5, 8)), np.zeros((0, 5, 3)))
    assert out.shape == (0, 4, 3)
    assert flash_attention(np.zeros((2, 0, 4, 8)), np.zeros((1, 5, 8)), np.zeros((1, 5, 3))).shape == (2, 0, 4, 3)


def test_block_size_is_capped_at_the_sizes(monkeypatch):
    visited = []
    real = blocked.tiles
    monkeypatch.setattr(blocked, "tiles", lambda Lb, i0, S, kb, c: visited.append((Lb, kb)) or real(Lb, i0, S, kb, c))
    rng = np.random.default_rng(20)
    q, k, v = rng.standard_normal((30, 4)), rng.standard_normal((50, 4)), rng.standard_normal((50, 2))
    out = flash_attention(q, k, v, block_size=10**12)  # no allocation of 10**12 anything
    np.testing.assert_allclose(out, dense(q, k, v), rtol=1e-12)
    assert visited == [(30, 50)]
    visited.clear()
    flash_attention(q[:1], k[:1], v[:1], block_size=8)  # one query, one key: blocks of 1 x 1
    assert visited == [(1, 1)]


def test_tiny_blocks_keep_a_minimum_of_scores_per_tile(monkeypatch):
    visits = []
    real = blocked.tiles

    def spy(Lb, i0, S, kb, causal):
        for tile in real(Lb, i0, S, kb, causal):
            visits.append(tile)
            yield tile

    monkeypatch.setattr(blocked, "tiles", spy)
    rng = np.random.default_rng(21)
    q, k, v = (rng.standard_normal((1000, 4)) for _ in range(3))
    out = flash_attention(q, k, v, block_size=1)
    np.testing.assert_allclose(out, dense(q, k, v), rtol=1e-10)
    # keys one at a time, but all 1000 queries together (MIN_TILE = 4096 scores): 1000 tiles, not 10**6
    assert len(visits) == 1000 and tiles.MIN_TILE == 4096


@pytest.mark.parametrize("function", [flash_attention, sdpa])
def test_a_broadcast_batch_too_large_for_memory_fails_at_the_allocation_not_after_a_scan(function, monkeypatch):
    # A view broadcast to a batch of 10**12 has 32 distinct entries: the input checks scan those,
    # not 3.2e13 repeats (28-43 s before the MemoryError, in the review), and the output's allocation fails.
    from attention._internal import problem

    scanned = []
    real = problem.distinct

    def spy(x):
        kept = real(x)
        scanned.append(kept.size)
        assert kept.size <= 40, f"a scan of {kept.size} entries"  # fail now, not after hours of scanning
        return kept

    monkeypatch.setattr(problem, "distinct", spy)
    rng = np.random.default_rng(30)
    q = np.broadcast_to(rng.standard_normal((1, 4, 8)), (10**12, 4, 8))  # its output: 96 TB, on any machine too much
    k, v = rng.standard_normal((5, 8)), rng.standard_normal((5, 3))
    with pytest.raises(MemoryError):
        function(q, k, v)
    assert scanned and max(scanned) <= 40
