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
