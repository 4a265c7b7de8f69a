import numpy as np
import pytest

from attention import scaled_dot_product_attention
from attention.multihead import MultiHeadAttention


def make(E=8, H=2, kv=None, seed=0, bias=True):
    mha = MultiHeadAttention(E, H, num_kv_heads=kv, bias=bias, rng=np.random.default_rng(seed))
    state = mha.state_dict()
    for name in state:  # non-zero biases, so that they are exercised
        if "bias" in name:
            state[name] = np.random.default_rng(seed + 1).standard_normal(state[name].shape)
    mha.load_state_dict(state)
    return mha


def per_head_loop(mha, x_q, x_k, x_v, mask=None):
    """Independent reference: one head at a time, with explicit weight slices."""
    p = mha.state_dict()
    E, H, D = mha.embed_dim, mha.num_heads, mha.head_dim
    W, b = p["in_proj_weight"], p["in_proj_bias"]
    heads = []
    for h in range(H):
        rows = slice(h * D, (h + 1) * D)
        q = x_q @ W[:E][rows].T + b[:E][rows]
        k = x_k @ W[E : 2 * E][rows].T + b[E : 2 * E][rows]
        v = x_v @ W[2 * E :][rows].T + b[2 * E :][rows]
        heads.append(scaled_dot_product_attention(q, k, v, mask))
    return np.concatenate(heads, axis=-1) @ p["out_proj.weight"].T + p["out_proj.bias"]


def test_equals_explicit_per_head_loop():
    mha = make(E=12, H=3)
    rng = np.random.default_rng(2)
    xq, xk = rng.standard_normal((2, 4, 12)), rng.standard_normal((2, 6, 12))
    mask = rng.random((4, 6)) < 0.7
    mask[:, 0] = True
    out, _ = mha.forward(xq, xk, xk, attn_mask=mask)
    for b in range(2):
        np.testing.assert_allclose(out[b], per_head_loop(mha, xq[b], xk[b], xk[b], mask), rtol=1e-12, atol=1e-12)


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
        "in_proj_bias": np.concatenate([bq, np.repeat(bk.reshape(2, D), 2, axis=0).ravel(), np.repeat(bv.reshape(2, D), 2, axis=0).ravel()]),
        "out_proj.weight": p["out_proj.weight"],
        "out_proj.bias": p["out_proj.bias"],
    })
    x = np.random.default_rng(3).standard_normal((2, 5, 8))
    a, wa = gqa.forward(x, x, x, need_weights=True, average_attn_weights=False)
    b, wb = mha.forward(x, x, x, need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(wa, wb, rtol=1e-12)


def test_permutation_equivariance_without_positions():
    mha = make()
    x = np.random.default_rng(4).standard_normal((1, 6, 8))
    perm = np.random.default_rng(5).permutation(6)
    out, _ = mha.forward(x, x, x)
    out_perm, _ = mha.forward(x[:, perm], x[:, perm], x[:, perm])
    np.testing.assert_allclose(out_perm, out[:, perm], rtol=1e-12)


def test_causal_output_ignores_later_tokens():
    mha = make()
    x = np.random.default_rng(6).standard_normal((1, 6, 8))
    y = x.copy()
    y[:, 4:] += 10
    a, _ = mha.forward(x, x, x, is_causal=True)
    b, _ = mha.forward(y, y, y, is_causal=True)
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-12)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_key_padding_mask_true_means_real_key():
    mha = make()
    x = np.random.default_rng(7).standard_normal((2, 5, 8))
    real = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], dtype=bool)
    out, w = mha.forward(x, x, x, key_padding_mask=real)
    np.testing.assert_array_equal(w[1, :, 2:], 0.0)
    short, _ = mha.forward(x[1:, :, :], x[1:, :2], x[1:, :2])
    np.testing.assert_allclose(out[1], short[0], rtol=1e-12)


def test_unbatched_weights_options_and_state_dict_round_trip():
    mha = make()
    x = np.random.default_rng(8).standard_normal((5, 8))
    out, w = mha.forward(x, x, x, average_attn_weights=False)
    assert out.shape == (5, 8) and w.shape == (2, 5, 5)
    assert mha.forward(x, x, x, need_weights=False)[1] is None
    copy = MultiHeadAttention(8, 2, rng=np.random.default_rng(99))
    copy.load_state_dict(mha.state_dict())
    np.testing.assert_array_equal(copy.forward(x, x, x)[0], out)


def test_bad_configuration_and_inputs():
    with pytest.raises(ValueError, match="embed_dim 10 must be divisible by num_heads 3"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="num_kv_heads must be a positive divisor of num_heads 4"):
        MultiHeadAttention(8, 4, num_kv_heads=3)
    mha = make()
    with pytest.raises(ValueError, match=r"query must have shape \(B, L, E=8\) or \(L, E\), got \(2, 5, 6\)"):
        mha.forward(np.ones((2, 5, 6)), np.ones((2, 5, 8)), np.ones((2, 5, 8)))
    with pytest.raises(KeyError, match="missing"):
        mha.load_state_dict({})
    bad = mha.state_dict()
    bad["out_proj.bias"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"out_proj.bias must have shape \(8,\), got \(3,\)"):
        mha.load_state_dict(bad)


def test_matches_torch_multihead_attention_when_available():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    with torch.no_grad():
        ref.in_proj_bias.normal_()
        ref.out_proj.bias.normal_()
    mha = MultiHeadAttention(8, 2)
    mha.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(9)
    q, kv = rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 6, 8))
    real = np.array([[True] * 6, [True] * 4 + [False] * 2])
    expected, expected_w = ref(torch.from_numpy(q), torch.from_numpy(kv), torch.from_numpy(kv),
                               key_padding_mask=torch.from_numpy(~real))  # PyTorch: True = ignore
    out, w = mha.forward(q, kv, kv, key_padding_mask=real)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w, expected_w.detach().numpy(), rtol=1e-10, atol=1e-12)
