import math

import numpy as np
import pytest

from attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention


def make(E=8, H=2, kv=None, seed=0, bias=True, **kw):
    mha = MultiHeadAttention(E, H, bias=bias, batch_first=True, num_kv_heads=kv, rng=np.random.default_rng(seed), **kw)
    state = mha.state_dict()
    for name in state:  # non-zero biases, so that they are exercised
        if "bias" in name:
            state[name] = np.random.default_rng(seed + 1).standard_normal(state[name].shape)
    mha.load_state_dict(state)
    return mha


def per_head_loop(mha, x_q, x_k, x_v, mask=None):
    """Independent reference: one head at a time, with explicit weight slices (packed layout)."""
    p = mha.state_dict()
    E, H, D = mha.embed_dim, mha.num_heads, mha.head_dim
    W = p["in_proj_weight"]
    b = p.get("in_proj_bias", np.zeros(3 * E))
    heads = []
    for h in range(H):
        rows = slice(h * D, (h + 1) * D)
        q = x_q @ W[:E][rows].T + b[:E][rows]
        k = x_k @ W[E : 2 * E][rows].T + b[E : 2 * E][rows]
        v = x_v @ W[2 * E :][rows].T + b[2 * E :][rows]
        heads.append(scaled_dot_product_attention(q, k, v, mask))
    return np.concatenate(heads, axis=-1) @ p["out_proj.weight"].T + p.get("out_proj.bias", 0.0)


@pytest.mark.parametrize("bias", [True, False])
def test_equals_explicit_per_head_loop(bias):
    mha = make(E=12, H=3, bias=bias)
    assert ("in_proj_bias" in mha.state_dict()) == bias and ("out_proj.bias" in mha.state_dict()) == bias
    rng = np.random.default_rng(2)
    xq, xk = rng.standard_normal((2, 4, 12)), rng.standard_normal((2, 6, 12))
    mask = rng.random((4, 6)) < 0.7
    mask[:, 0] = True
    out, _ = mha(xq, xk, xk, attn_mask=mask)
    for b in range(2):
        np.testing.assert_allclose(out[b], per_head_loop(mha, xq[b], xk[b], xk[b], mask), rtol=1e-12, atol=1e-12)


def test_default_layout_is_sequence_first_like_pytorch():
    seq_first = MultiHeadAttention(8, 2, rng=np.random.default_rng(0))
    batch_first = MultiHeadAttention(8, 2, batch_first=True, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((5, 3, 8))  # (L, B, E)
    out, w = seq_first(x, x, x)
    out_bf, w_bf = batch_first(x.transpose(1, 0, 2), x.transpose(1, 0, 2), x.transpose(1, 0, 2))
    assert out.shape == (5, 3, 8) and w.shape == (3, 5, 5)  # weights are (B, L, S) in both layouts, as in torch
    np.testing.assert_allclose(out, out_bf.transpose(1, 0, 2), rtol=1e-12)
    np.testing.assert_allclose(w, w_bf, rtol=1e-12)
    with pytest.raises(ValueError, match=r"disagree on B or S"):
        seq_first(x, x[:, :2], x[:, :2])  # B = 3 queries vs B = 2 keys, in the (L, B, E) layout


def test_gqa_equals_mha_with_repeated_kv_heads():
    gqa = make(E=8, H=4, kv=2)
    p = gqa.state_dict()
    D = 2
    # Standard MHA whose K/V heads are the GQA heads, each repeated for its group of 2 query heads.
    k_rep = np.repeat(p["k_proj_weight"].reshape(2, D, 8), 2, axis=0).reshape(8, 8)
    v_rep = np.repeat(p["v_proj_weight"].reshape(2, D, 8), 2, axis=0).reshape(8, 8)
    bq, bk, bv = np.split(p["in_proj_bias"], [8, 12])
    mha = make(E=8, H=4)
    mha.load_state_dict({
        "in_proj_weight": np.concatenate([p["q_proj_weight"], k_rep, v_rep]),
        "in_proj_bias": np.concatenate([bq, np.repeat(bk.reshape(2, D), 2, axis=0).ravel(),
                                        np.repeat(bv.reshape(2, D), 2, axis=0).ravel()]),
        "out_proj.weight": p["out_proj.weight"],
        "out_proj.bias": p["out_proj.bias"],
    })
    x = np.random.default_rng(3).standard_normal((2, 5, 8))
    a, wa = gqa(x, x, x, need_weights=True, average_attn_weights=False)
    b, wb = mha(x, x, x, need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(wa, wb, rtol=1e-12)
    assert make(E=8, H=4, kv=1).state_dict()["k_proj_weight"].shape == (2, 8)  # one shared key head: MQA


def test_kdim_and_vdim_use_separate_projections():
    mha = make(E=8, H=2, kdim=5, vdim=3)
    p = mha.state_dict()
    assert [p[f"{x}_proj_weight"].shape for x in "qkv"] == [(8, 8), (8, 5), (8, 3)]
    rng = np.random.default_rng(4)
    q, k, v = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 6, 5)), rng.standard_normal((2, 6, 3))
    out, w = mha(q, k, v, average_attn_weights=False)
    bq, bk, bv = np.split(p["in_proj_bias"], [8, 16])
    heads = lambda y: y.reshape(2, -1, 2, 4).transpose(0, 2, 1, 3)  # noqa: E731 - (B, n, E) -> (B, H, n, D)
    qh, kh, vh = (heads(x @ p[f"{n}_proj_weight"].T + b) for x, n, b in ((q, "q", bq), (k, "k", bk), (v, "v", bv)))
    ref, ref_w = scaled_dot_product_attention(qh, kh, vh, return_weights=True)
    ref = ref.transpose(0, 2, 1, 3).reshape(2, 4, 8) @ p["out_proj.weight"].T + p["out_proj.bias"]
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    np.testing.assert_allclose(w, ref_w, rtol=1e-12)
    with pytest.raises(ValueError, match=r"key must have shape \(B, S, kdim=5\), got \(2, 4, 8\)"):
        mha(q, q, v)


def test_permutation_equivariance_without_positions():
    mha = make()
    x = np.random.default_rng(4).standard_normal((1, 6, 8))
    perm = np.random.default_rng(5).permutation(6)
    out, _ = mha(x, x, x)
    out_perm, _ = mha(x[:, perm], x[:, perm], x[:, perm])
    np.testing.assert_allclose(out_perm, out[:, perm], rtol=1e-12)


def test_causal_output_ignores_later_tokens():
    mha = make()
    x = np.random.default_rng(6).standard_normal((1, 6, 8))
    y = x.copy()
    y[:, 4:] += 10
    a, _ = mha(x, x, x, is_causal=True)
    b, _ = mha(y, y, y, is_causal=True)
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-12)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_is_causal_with_a_mask_is_a_hint_as_in_pytorch():
    mha = make()
    x = np.random.default_rng(7).standard_normal((2, 5, 8))
    alone, _ = mha(x, x, x, is_causal=True)
    np.testing.assert_allclose(mha(x, x, x, attn_mask=causal_mask(5), is_causal=True)[0], alone, rtol=1e-12)
    float_causal = np.where(causal_mask(5), 0.0, -np.inf)
    np.testing.assert_allclose(mha(x, x, x, attn_mask=float_causal, is_causal=True)[0], alone, rtol=1e-12)
    with pytest.raises(ValueError, match="^is_causal=True is a hint that attn_mask is the causal mask, but attn_mask "
                                         "is not causal: pass is_causal=False to use attn_mask as it is$"):
        mha(x, x, x, attn_mask=np.ones((5, 5), bool), is_causal=True)  # not causal: no silent merge


def test_key_padding_mask_true_means_real_key_and_combines_with_attn_mask():
    mha = make()
    x = np.random.default_rng(7).standard_normal((2, 5, 8))
    real = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
    out, w = mha(x, x, x, key_padding_mask=real)
    np.testing.assert_array_equal(w[1, :, 2:], 0.0)
    short, _ = mha(x[1:, :, :], x[1:, :2], x[1:, :2])
    np.testing.assert_allclose(out[1], short[0], rtol=1e-12)
    # With attn_mask too, a pair is allowed only if both allow it (AND, not OR).
    allow = np.ones((5, 5), bool)
    allow[:, 0] = False
    _, w = mha(x, x, x, key_padding_mask=real, attn_mask=allow)
    np.testing.assert_array_equal(w[1, :, [0, 2, 3, 4]], 0.0)
    np.testing.assert_allclose(w[1, :, 1], 1.0)
    # with the causal mask too: row 0 of batch 1 may see key 0 (attn_mask forbids it) only: fully masked, 0
    out, w = mha(x, x, x, key_padding_mask=real, attn_mask=allow & causal_mask(5))
    np.testing.assert_array_equal(w[1, 0], 0.0)
    assert w[1, 1, 1] == pytest.approx(1.0)


def test_unbatched_input_with_key_padding_mask():
    mha = make()
    x = np.random.default_rng(8).standard_normal((5, 8))
    real = np.array([True, True, True, False, False])
    out, w = mha(x, x, x, key_padding_mask=real)
    assert out.shape == (5, 8) and w.shape == (5, 5)
    np.testing.assert_array_equal(w[:, 3:], 0.0)
    np.testing.assert_allclose(out, mha(x, x[:3], x[:3])[0], rtol=1e-12)


def test_pytorch_3d_attn_mask_is_per_batch_and_head():
    mha = make(E=8, H=2)
    x = np.random.default_rng(9).standard_normal((3, 4, 8))
    masks = np.random.default_rng(10).random((3 * 2, 4, 4)) < 0.6
    masks[..., 0] = True
    _, w = mha(x, x, x, attn_mask=masks, average_attn_weights=False)
    np.testing.assert_array_equal(w == 0, ~masks.reshape(3, 2, 4, 4))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(4, 4\) or "
                                         r"\(B\*H, L, S\) = \(6, 4, 4\), got"):
        mha(x, x, x, attn_mask=np.ones((3, 4, 4), bool))


def test_float_masks_are_added():
    mha = make()
    x = np.random.default_rng(11).standard_normal((2, 3, 8))
    bias = np.random.default_rng(12).standard_normal((3, 3))
    _, w = mha(x, x, x, attn_mask=bias, average_attn_weights=False)
    _, w0 = mha(x, x, x, average_attn_weights=False)
    logits = np.log(w0) + bias
    np.testing.assert_allclose(w, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True), rtol=1e-10)


def test_weights_options_and_callable():
    mha = make()
    x = np.random.default_rng(8).standard_normal((5, 8))
    out, w = mha.forward(x, x, x, average_attn_weights=False)
    assert out.shape == (5, 8) and w.shape == (2, 5, 5)
    assert mha(x, x, x, need_weights=False)[1] is None
    np.testing.assert_array_equal(mha(x, x, x)[0], out)
    np.testing.assert_allclose(mha(x, x, x)[1], w.mean(axis=0))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    mha = make()
    x = np.random.default_rng(13).standard_normal((2, 5, 8)).astype(dtype)
    out, _ = mha(x, x, x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, mha(x.astype(np.float64), x.astype(np.float64), x.astype(np.float64))[0],
                               rtol=0, atol={np.float16: 2e-2, np.float32: 1e-5, np.float64: 1e-12}[dtype])


def test_dropout_only_in_training_mode():
    mha = make(dropout=0.5)
    x = np.random.default_rng(14).standard_normal((2, 6, 8))
    assert mha.training
    _, dropped = mha(x, x, x, average_attn_weights=False)
    assert mha.eval() is mha and not mha.training
    _, w = mha(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    kept = dropped != 0
    assert 0.3 < kept.mean() < 0.7  # about half of the weights are dropped
    np.testing.assert_allclose(dropped[kept], 2 * w[kept], rtol=1e-12)  # the kept ones are scaled by 1 / (1 - p)
    assert mha.train().training


def test_state_dict_round_trip_and_atomic_load():
    mha = make()
    x = np.random.default_rng(8).standard_normal((5, 8))
    copy = MultiHeadAttention(8, 2, rng=np.random.default_rng(99))
    copy.load_state_dict(mha.state_dict())
    np.testing.assert_array_equal(copy(x, x, x)[0], mha(x, x, x)[0])
    before = copy.state_dict()
    bad = mha.state_dict()
    bad["in_proj_weight"] = bad["in_proj_weight"] * 2  # a good entry first ...
    bad["out_proj.bias"] = np.zeros(3)  # ... and a bad last entry
    with pytest.raises(ValueError, match=r"out_proj.bias must have shape \(8,\), got \(3,\)"):
        copy.load_state_dict(bad)
    for name, value in copy.state_dict().items():  # nothing was changed
        np.testing.assert_array_equal(value, before[name])
    bad["out_proj.bias"] = np.full(8, np.nan)
    with pytest.raises(ValueError, match="out_proj.bias holds non-finite entries"):
        copy.load_state_dict(bad)
    with pytest.raises(KeyError, match="missing"):
        copy.load_state_dict({})


def test_initialisation_matches_pytorchs_distribution():
    # torch: xavier_uniform_ on the packed (3E, E) in_proj_weight, bound sqrt(6 / (E + 3E)); nn.Linear's
    # kaiming_uniform_(a=sqrt(5)) on out_proj.weight, bound 1/sqrt(E); biases 0.
    E = 64
    p = MultiHeadAttention(E, 4, rng=np.random.default_rng(0)).state_dict()
    for name, bound in (("in_proj_weight", math.sqrt(6 / (4 * E))), ("out_proj.weight", 1 / math.sqrt(E))):
        w = p[name]
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
        assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # the std of U(-b, b) is b / sqrt(3)
    assert not p["in_proj_bias"].any() and not p["out_proj.bias"].any()
    sep = MultiHeadAttention(E, 4, kdim=16, rng=np.random.default_rng(0)).state_dict()
    for name, fan_in in (("q_proj_weight", E), ("k_proj_weight", 16), ("v_proj_weight", E)):
        bound = math.sqrt(6 / (E + fan_in))  # each matrix Xavier-uniform over its own shape
        assert bound * 0.98 < np.abs(sep[name]).max() <= bound


def test_rng_makes_initialisation_reproducible():
    a = MultiHeadAttention(8, 2, rng=np.random.default_rng(5)).state_dict()
    b = MultiHeadAttention(8, 2, rng=np.random.default_rng(5)).state_dict()
    c = MultiHeadAttention(8, 2, rng=np.random.default_rng(6)).state_dict()
    np.testing.assert_array_equal(a["in_proj_weight"], b["in_proj_weight"])
    assert not np.array_equal(a["in_proj_weight"], c["in_proj_weight"])


def test_numpy_integer_sizes_are_accepted():
    mha = MultiHeadAttention(np.int64(8), np.int32(2), num_kv_heads=np.int64(1), kdim=np.int64(8))
    assert (mha.embed_dim, mha.num_heads, mha.num_kv_heads) == (8, 2, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(embed_dim=10, num_heads=3), ValueError, "embed_dim 10 must be divisible by num_heads 3"),
        (dict(embed_dim=0, num_heads=1), ValueError, "embed_dim must be a positive integer, got 0"),
        (dict(embed_dim=8, num_heads=-2), ValueError, "num_heads must be a positive integer, got -2"),
        (dict(embed_dim=8.0, num_heads=2), TypeError, "embed_dim must be an integer, got float 8.0"),
        (dict(embed_dim=8, num_heads=4, num_kv_heads=3), ValueError, "num_kv_heads must be a positive divisor of"),
        (dict(embed_dim=8, num_heads=4, num_kv_heads=0), ValueError, "num_kv_heads must be a positive integer"),
        (dict(embed_dim=8, num_heads=2, rng=42), TypeError, "rng must be a numpy.random.Generator"),
        (dict(embed_dim=8, num_heads=2, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
        (dict(embed_dim=8, num_heads=2, batch_first="yes"), TypeError, "batch_first must be a bool"),
        (dict(embed_dim=8, num_heads=2, bias=1), TypeError, "bias must be a bool"),
        (dict(embed_dim=8, num_heads=2, kdim=0), ValueError, "kdim must be a positive integer"),
    ],
)
def test_bad_configuration(kwargs, error, message):
    with pytest.raises(error, match=message):
        MultiHeadAttention(**kwargs)


def test_bad_inputs():
    mha = make()
    x = np.ones((2, 5, 8))
    with pytest.raises(ValueError, match=r"query must have shape \(B, L, E=8\), got \(2, 5, 6\)"):
        mha(np.ones((2, 5, 6)), x, x)
    with pytest.raises(ValueError, match=r"key must have shape"):
        mha(x, np.ones((5, 8)), x)  # batched query, unbatched key
    with pytest.raises(ValueError, match=r"disagree on B or S"):
        mha(x, x, np.ones((2, 4, 8)))
    with pytest.raises(TypeError, match="need_weights must be a bool"):
        mha(x, x, x, need_weights="False")
    with pytest.raises(TypeError, match="is_causal must be a bool"):
        mha(x, x, x, is_causal=np.array([True]))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(2, 5\), got \(5,\)"):
        mha(x, x, x, key_padding_mask=np.ones(5, bool))
    with pytest.raises(TypeError, match="key_padding_mask must be bool .* got dtype int64"):
        mha(x, x, x, key_padding_mask=np.ones((2, 5), np.int64))


# --- Differential tests against PyTorch (skipped without torch; `make parity` installs it) ---------


def torch_pair(torch, E=8, H=2, **kw):
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(E, H, **kw).double()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if "bias" in name:
                p.normal_()
    ours = MultiHeadAttention(E, H, **{k: v for k, v in kw.items() if k != "dropout"})
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ref.eval(), ours


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kv", [None, (5, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_for_every_option(batch_first, kv, bias):
    torch = pytest.importorskip("torch")
    kdim, vdim = kv or (None, None)
    ref, ours = torch_pair(torch, kdim=kdim, vdim=vdim, batch_first=batch_first, bias=bias)
    rng = np.random.default_rng(9)
    B, L, S = 2, 4, 6
    shape = lambda n, d: (B, n, d) if batch_first else (n, B, d)  # noqa: E731
    q = rng.standard_normal(shape(L, 8))
    k, v = rng.standard_normal(shape(S, kdim or 8)), rng.standard_normal(shape(S, vdim or 8))
    real = np.array([[True] * 6, [True] * 4 + [False] * 2])
    allow = rng.random((L, S)) < 0.8
    allow[:, 0] = True
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    for kwargs, torch_kwargs in [
        ({}, {}),
        (dict(key_padding_mask=real), dict(key_padding_mask=t(~real))),  # PyTorch: True = ignore
        (dict(attn_mask=allow), dict(attn_mask=t(~allow))),
        (dict(attn_mask=np.where(allow, 0.5, -np.inf)), dict(attn_mask=t(np.where(allow, 0.5, -np.inf)))),
        (dict(attn_mask=causal_mask(L, S), is_causal=True), dict(attn_mask=t(~causal_mask(L, S)), is_causal=True)),
        (dict(average_attn_weights=False), dict(average_attn_weights=False)),
    ]:
        expected, expected_w = ref(t(q), t(k), t(v), **torch_kwargs)
        out, w = ours(q, k, v, **kwargs)
        np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(w, expected_w.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_matches_torch_unbatched_and_float32():
    torch = pytest.importorskip("torch")
    ref, ours = torch_pair(torch)
    x = np.random.default_rng(10).standard_normal((5, 8))
    expected, _ = ref(*(torch.from_numpy(x),) * 3)
    np.testing.assert_allclose(ours(x, x, x)[0], expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    ref32 = ref.float()
    x32 = x.astype(np.float32)
    out = ours(x32, x32, x32)[0]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref32(*(torch.from_numpy(x32),) * 3)[0].detach().numpy(), rtol=1e-4, atol=1e-5)


def test_initialisation_bound_equals_torchs():
    torch = pytest.importorskip("torch")
    E = 64
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(E, 4)
    ours = MultiHeadAttention(E, 4, rng=np.random.default_rng(0)).state_dict()
    for name in ("in_proj_weight", "out_proj.weight"):
        theirs = ref.state_dict()[name].numpy()
        assert abs(np.abs(ours[name]).max() - np.abs(theirs).max()) < 0.02 * np.abs(theirs).max()
        assert abs(ours[name].std() - theirs.std()) < 0.05 * theirs.std()


@pytest.mark.parametrize(("layout", "args", "message"), [
    ("seq", (np.ones((5, 2, 8)), np.ones((6, 2, 8)), np.ones((6, 2, 4))), r"value must have shape \(S, B, vdim=8\)"),
    ("batch", (np.ones((2, 5, 8)), np.ones((2, 6, 3)), np.ones((2, 6, 8))), r"key must have shape \(B, S, kdim=8\)"),
    ("batch", (np.ones((1, 2, 5, 8)),) * 3, r"query must have shape \(B, L, E=8\), got \(1, 2, 5, 8\)"),
    ("seq", (np.ones((5, 8)), np.ones((6, 3)), np.ones((6, 8))), r"key must have shape \(S, kdim=8\), got \(6, 3\)"),
    ("seq", (np.ones(8), np.ones((6, 8)), np.ones((6, 8))), "query must have at least 2 dimensions"),
    ("seq", (np.ones((5, 8)), np.ones(8), np.ones((6, 8))), "key must have at least 2 dimensions"),
    ("seq", (np.ones((5, 8)), np.ones((6, 8)), np.ones(8)), "value must have at least 2 dimensions"),
])
def test_bad_input_shapes_are_named_in_the_layout_in_use(layout, args, message):
    mha = MultiHeadAttention(8, 2, batch_first=layout == "batch")
    with pytest.raises(ValueError, match=message):
        mha(*args)


@pytest.mark.parametrize("name", ["query", "key", "value"])
def test_non_numeric_inputs_are_named(name):
    args = {n: np.ones((5, 8)) for n in ("query", "key", "value")}
    args[name] = np.full((5, 8), "a")
    with pytest.raises(TypeError, match=f"^{name} must be a numeric array"):
        make()(**args)


def test_vdim_is_checked_and_one_feature_is_enough():
    with pytest.raises(ValueError, match="vdim must be a positive integer, got 0"):
        MultiHeadAttention(8, 2, vdim=0)
    with pytest.raises(TypeError, match="vdim must be an integer"):
        MultiHeadAttention(8, 2, vdim=2.0)
    mha = make(E=8, H=2, kdim=1, vdim=1)
    out, _ = mha(np.ones((2, 3, 8)), np.ones((2, 4, 1)), np.ones((2, 4, 1)))
    assert out.shape == (2, 3, 8)


@pytest.mark.parametrize(("dtypes", "out_dtype", "weights_dtype"), [
    ((np.float32,) * 3, np.float32, np.float32),
    ((np.float16,) * 3, np.float16, np.float32),  # computed in float32, the weights stay there
    ((np.float64, np.float32, np.float32), np.float64, np.float64),
    ((np.float32, np.float64, np.float32), np.float64, np.float64),
    ((np.float32, np.float32, np.float64), np.float64, np.float64),
])
def test_mixed_dtypes_promote(dtypes, out_dtype, weights_dtype):
    mha = make()
    x = np.random.default_rng(15).standard_normal((2, 4, 8))
    out, w = mha(*(x.astype(d) for d in dtypes))
    assert (out.dtype, w.dtype) == (out_dtype, weights_dtype)
    exact = mha(*(x.astype(d).astype(np.float64) for d in dtypes))[0]  # the same values, all in float64
    tolerance = {np.float16: 2e-2, np.float32: 1e-5, np.float64: 1e-12}[out_dtype]  # float64: nothing rounded
    np.testing.assert_allclose(out, exact, rtol=0, atol=tolerance)


def test_key_bias_cancels_in_the_softmax():
    # q . (k + b_k) = q . k + q . b_k: the same shift for every key of a query, which softmax removes.
    # So the key bias has no effect on output or weights (PyTorch keeps it only for its layout).
    mha = make()
    x = np.random.default_rng(16).standard_normal((2, 5, 8))
    state = mha.state_dict()
    state["in_proj_bias"][8:16] = 0.0  # the key part of (q, k, v)
    without = make()
    without.load_state_dict(state)
    for a, b in zip(mha(x, x, x), without(x, x, x)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    state["in_proj_bias"][16:] = 0.0  # the value bias does matter
    without.load_state_dict(state)
    assert not np.allclose(mha(x, x, x)[0], without(x, x, x)[0])


def test_loaded_parameters_are_float64_and_checked_by_name():
    mha = make()
    state = {name: value.astype(np.float32) for name, value in mha.state_dict().items()}  # as torch's .numpy()
    mha.load_state_dict(state)
    assert {value.dtype for value in mha.state_dict().values()} == {np.dtype(np.float64)}
    state["out_proj.weight"] = np.full((8, 8), "w")
    with pytest.raises(TypeError, match="^out_proj.weight must be a numeric array"):
        mha.load_state_dict(state)


def test_flags_are_named_when_not_bools():
    mha = make()
    x = np.ones((2, 3, 8))
    with pytest.raises(TypeError, match="^average_attn_weights must be a bool"):
        mha(x, x, x, average_attn_weights=1)
    with pytest.raises(TypeError, match="^mode must be a bool"):
        mha.train(1)
    with pytest.raises(TypeError, match="^attn_mask must be bool"):
        mha(x, x, x, attn_mask=np.ones((3, 3), np.int64))


def test_is_causal_with_fewer_queries_than_keys_is_top_left_causal():
    mha = make()
    rng = np.random.default_rng(17)
    q, kv = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 5, 8))
    out, w = mha(q, kv, kv, is_causal=True)
    expected, expected_w = mha(q, kv, kv, attn_mask=causal_mask(3, 5))
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(w, expected_w)
    np.testing.assert_array_equal(w[:, 0, 1:], 0.0)  # query 0 sees key 0 only


def test_empty_batch():
    mha = make()
    out, w = mha(np.zeros((0, 5, 8)), np.zeros((0, 6, 8)), np.zeros((0, 6, 8)))
    assert out.shape == (0, 5, 8) and w.shape == (0, 5, 6)
