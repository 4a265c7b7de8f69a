import math

import numpy as np
import pytest

from attention.__main__ import main
from attention.qknorm import D_KS, l2_normalize, markdown_table, qk_norm_attention, run


def by(method, sigma):
    return {d: (entropy, grad) for d, entropy, _, grad in run()[(method, sigma)]}


def test_qk_norm_is_invariant_to_the_init_scale():
    for method in ("QK-norm, g = sqrt(d_k)", "QK-norm, g = 4"):
        a, b = by(method, 1.0), by(method, 4.0)
        for d in D_KS:
            assert a[d] == pytest.approx(b[d], rel=1e-9)


def test_without_qk_norm_a_larger_init_scale_saturates_despite_sqrt_scaling():
    assert all(0.85 < e < 0.92 for e, _ in by("1/sqrt(d_k)", 1.0).values())
    assert all(e < 0.1 for e, _ in by("1/sqrt(d_k)", 4.0).values())


def test_the_temperature_takes_over_the_role_of_sqrt_dk():
    constant = [e for e, _ in by("QK-norm, g = sqrt(d_k)", 1.0).values()]
    assert max(constant) - min(constant) < 0.02  # a band, whatever d_k
    fixed = [e for e, _ in by("QK-norm, g = 4", 1.0).values()]
    assert all(a < b for a, b in zip(fixed, fixed[1:])) and fixed[-1] > 0.99  # drifts to uniform


def test_scores_are_bounded_by_the_temperature():
    rng = np.random.default_rng(0)
    q, k, v = 1000 * rng.standard_normal((3, 8, 32))
    g, S = 3.0, 8
    _, w = qk_norm_attention(q, k, v, temperature=g, return_weights=True)
    bound = math.exp(g) / (math.exp(g) + (S - 1) * math.exp(-g))  # best case: one key at +g, the rest at -g
    assert w.max() <= bound + 1e-12


def test_l2_normalize_and_errors():
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(np.random.default_rng(1).standard_normal((4, 5))), axis=-1), 1.0)
    np.testing.assert_array_equal(l2_normalize(np.zeros((1, 3))), 0.0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        qk_norm_attention(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), temperature=0)


def test_table_and_cli(capsys):
    assert "QK-norm" in markdown_table(lang="zh")
    assert main(["qk-norm"]) == 0
    assert "| QK-norm, g = 4 | 4 | 1024 |" in capsys.readouterr().out
