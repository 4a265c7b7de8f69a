import numpy as np
import pytest

from attention import gradcheck, numerical_gradient


def test_numerical_gradient_of_a_known_function():
    x = np.array([0.5, -1.0, 2.0])
    grad = numerical_gradient(lambda a: float(np.sin(a).sum()), [x], 0)
    np.testing.assert_allclose(grad, np.cos(x), rtol=1e-8)
    np.testing.assert_array_equal(x, [0.5, -1.0, 2.0])  # the input is not modified


def test_numerical_gradient_picks_the_argument():
    a, b = np.array([1.0, 2.0]), np.array([3.0])
    loss = lambda a, b: float((a * b).sum())  # noqa: E731
    np.testing.assert_allclose(numerical_gradient(loss, [a, b], 0), [3.0, 3.0])
    np.testing.assert_allclose(numerical_gradient(loss, [a, b], 1), [3.0])


def test_gradcheck_returns_small_errors_for_right_gradients():
    f = lambda x, y: (float((x**2).sum() + (x[:2] * y).sum()), [2 * x + np.r_[y, 0.0], x[:2]])  # noqa: E731
    errors = gradcheck(f, np.array([1.0, -2.0, 0.5]), np.array([3.0, 4.0]))
    assert len(errors) == 2 and max(errors) < 1e-8


def test_gradcheck_rejects_gradients_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"gradient 0 has shape \(3,\), but argument 0 has shape \(2,\)"):
        gradcheck(lambda x: (0.0, [np.zeros(3)]), np.ones(2))


def test_gradcheck_detects_a_wrong_gradient():
    wrong = lambda x: (float((x**3).sum()), [2 * x])  # noqa: E731 - d/dx x^3 is 3x^2
    with pytest.raises(AssertionError, match="gradient of argument 0"):
        gradcheck(wrong, np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="returned 2 gradients for 1 arrays"):
        gradcheck(lambda x: (0.0, [x, x]), np.ones(2))


def test_gradcheck_judges_tiny_gradients_against_round_off():
    # loss = 1 + 1e-9 * sum(x): the central differences of a loss near 1 carry round-off of
    # about 1e-16 / 1e-6 = 1e-10, so a gradient of 1e-9 has a relative error of ~10%. That is
    # the limit of finite differences, not a wrong gradient; a gradient off by 1e-6 still fails.
    tiny = lambda x: (1.0 + 1e-9 * float(x.sum()), [np.full_like(x, 1e-9)])  # noqa: E731
    x = np.random.default_rng(6).standard_normal(5)
    gradcheck(tiny, x)
    off = lambda x: (1.0 + 1e-9 * float(x.sum()), [np.full_like(x, 1e-6)])  # noqa: E731
    with pytest.raises(AssertionError, match="gradient of argument 0"):
        gradcheck(off, x)
