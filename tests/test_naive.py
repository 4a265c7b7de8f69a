import numpy as np

from attention import naive_attention, scaled_dot_product_attention


def test_agrees_with_stable_version_on_moderate_scores():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 8)), rng.standard_normal((6, 8)), rng.standard_normal((6, 3))
    np.testing.assert_allclose(naive_attention(q, k, v), scaled_dot_product_attention(q, k, v), rtol=1e-12)


def test_overflows_where_stable_version_does_not():
    q = np.array([[30.0, 0.0, 30.0]])  # scores q.k / sqrt(3) ~ 1039 > log(max float64) ~ 709.8
    k = np.array([[30.0, 0.0, 30.0], [0.0, 30.0, 0.0]])
    v = np.array([[0.5, 0.5], [0.1, 0.9]])
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(naive_attention(q, k, v)).all()
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v), [[0.5, 0.5]])


def test_inputs_are_computed_in_float64_and_a_single_query_may_be_1d():
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal((2, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
    out = naive_attention(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32))
    assert out.dtype == np.float64  # the source note's code works in float64
    exact = naive_attention(*(a.astype(np.float32).astype(np.float64) for a in (q, k, v)))
    np.testing.assert_allclose(out, exact, rtol=1e-13)  # every product in float64, none in float32
    np.testing.assert_allclose(naive_attention(q[0], k, v), naive_attention(q, k, v)[0], rtol=1e-12)
