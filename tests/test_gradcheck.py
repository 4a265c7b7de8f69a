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


# --- What the checker's arithmetic promises (each pins one part of the documented rule) ------------


def test_integer_points_are_perturbed_as_floats():
    x = np.array([1, 2])  # ints: a perturbation of 1e-6 must not be truncated away
    np.testing.assert_allclose(numerical_gradient(lambda a: float((a**2).sum()), [x], 0), [2.0, 4.0], rtol=1e-8)
    assert gradcheck(lambda a: (float((a**2).sum()), [2 * a]), x)[0] < 1e-8


def test_default_step_is_small_and_a_given_step_is_used():
    x = np.array([1.0, -2.0])
    cubic = lambda a: (float((a**3).sum()), [3 * a**2])  # noqa: E731 - central differences err by eps**2
    assert gradcheck(cubic, x)[0] < 1e-9
    assert gradcheck(cubic, x, eps=1e-2, rtol=1.0)[0] > 1e-6  # the step really is 1e-2 then


def test_relative_error_is_the_norm_ratio_even_for_small_gradients():
    x = np.array([1.0, 2.0, 3.0])
    wrong = lambda a: (1e-3 * float((a**2).sum()), [1.5 * 2e-3 * a])  # noqa: E731 - analytic = 1.5 x the truth
    err = gradcheck(wrong, x, rtol=10.0)[0]
    assert err == pytest.approx(0.5 / 2.5, rel=1e-6)  # |0.5 t| / (|t| + |1.5 t|), norms far below 1


def test_round_off_threshold_is_8_eps_max_loss_1_over_step_times_sqrt_size():
    eps64 = np.finfo(np.float64).eps
    bound = lambda loss, size: 8 * eps64 * max(abs(loss), 1.0) / 1e-6 * np.sqrt(size)  # noqa: E731

    def constant(loss, g):  # the numerical gradient of a constant is exactly 0; g is all error
        return lambda a: (loss, [g])

    x1, x4 = np.zeros(1), np.zeros(4)
    gradcheck(constant(0.0, np.array([bound(0.0, 1)])), x1)  # exactly at the bound: passes (>, not >=)
    with pytest.raises(AssertionError):
        gradcheck(constant(0.0, np.full(4, 1.07 * bound(0.0, 4) / 2)), x4)  # 7% above it (norm over 4 entries)
    gradcheck(constant(0.0, np.full(4, 0.95 * bound(0.0, 4) / 2)), x4)  # 5% below it
    gradcheck(constant(4.0, np.full(4, 0.95 * bound(4.0, 4) / 2)), x4)  # |loss| = 4 raises the bound 4 times
    with pytest.raises(AssertionError):
        gradcheck(constant(0.5, np.full(4, 1.07 * bound(0.5, 4) / 2)), x4)  # |loss| < 1 counts as 1
    gradcheck(lambda a: (0.0, [np.full(2, 5.0)]), np.zeros(2), rtol=1.0)  # error exactly rtol (1.0): passes


def test_failure_message_lists_every_bad_argument():
    f = lambda a, b: (float(a.sum() + b.sum()), [2 * np.ones_like(a), 3 * np.ones_like(b)])  # noqa: E731
    with pytest.raises(AssertionError, match=r"^gradient of argument 0: relative error 0\.333 > rtol 1e-06; "
                                             r"gradient of argument 1: relative error 0\.5 > rtol 1e-06$"):
        gradcheck(f, np.ones(2), np.ones(3))


def test_f_always_sees_float64_arrays():
    seen = []

    def square(x):
        seen.append(x.dtype)
        return float((x**2).sum()), [2 * x]

    gradcheck(square, np.array([1, -2, 3], dtype=np.int32))  # converted to float64, as documented
    gradcheck(square, np.array([0.5, 1.5], dtype=np.float32))
    assert seen and set(seen) == {np.dtype(np.float64)}
