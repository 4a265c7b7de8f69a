import math

import numpy as np
import pytest

from attention import attention_forecast, nadaraya_watson


def test_nadaraya_watson_equals_the_kernel_formula():
    rng = np.random.default_rng(0)
    x, y, xq = rng.uniform(0, 5, 20), rng.standard_normal(20), rng.uniform(0, 5, 7)
    pred, w = nadaraya_watson(xq, x, y, bandwidth=0.4)
    for i, q in enumerate(xq):
        k = [math.exp(-((q - xi) ** 2) / (2 * 0.4**2)) for xi in x]
        assert pred[i] == pytest.approx(sum(ki * yi for ki, yi in zip(k, y)) / sum(k), rel=1e-10)
    np.testing.assert_allclose(w.sum(1), 1.0)


def test_bandwidth_goes_from_nearest_neighbour_to_the_mean():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 10.0, 50.0])
    narrow, _ = nadaraya_watson([0.2, 1.9], x, y, bandwidth=0.05)
    wide, _ = nadaraya_watson([0.2, 1.9], x, y, bandwidth=1e3)
    np.testing.assert_allclose(narrow, [0.0, 50.0], atol=1e-9)
    np.testing.assert_allclose(wide, [y.mean(), y.mean()], rtol=1e-5)


def test_forecast_uses_only_the_past():
    values = np.sin(np.arange(100) * 2 * np.pi / 12)
    t = 60
    future_changed = values.copy()
    future_changed[t:] = 100.0
    assert attention_forecast(values, t)[0] == attention_forecast(future_changed, t)[0]


def test_forecast_of_a_periodic_series_repeats_the_period():
    values = np.tile([0.0, 1.0, 3.0, 1.0, 0.0, -2.0], 10)  # period 6
    for t in (30, 41, 57):
        forecast, weights = attention_forecast(values, t, window=6, bandwidth=0.05)
        assert forecast == pytest.approx(values[t], abs=1e-9)
        lags = np.arange(len(weights), 0, -1)
        assert weights[lags % 6 == 0].sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: nadaraya_watson([0.0], [0.0], [1.0], bandwidth=0), ValueError, "bandwidth must be a positive"),
        (lambda: nadaraya_watson([0.0], [0.0, 1.0], [1.0, 2.0, 3.0], bandwidth=1), ValueError,
         r"same shape: \(2,\) vs \(3,\)"),
        (lambda: attention_forecast(np.ones(30), 15), ValueError, "need 2 \\* window <= t <= len"),
        (lambda: attention_forecast(np.ones(30), 31, window=2), ValueError, "t=31"),
        (lambda: attention_forecast(np.ones(30), 20.0), TypeError, "t must be an integer"),
    ],
)
def test_bad_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_forecast_is_its_formula_at_the_boundaries_and_with_its_defaults():
    from attention import softmax

    rng = np.random.default_rng(8)
    x = rng.standard_normal(40) + 5.0  # a level far from 0: the level terms matter
    for t, window, bandwidth in ((24, 12, 0.1), (40, 12, 0.7), (10, 5, 2.0)):  # t = 2 window and t = N allowed
        keys = np.array([x[j:j + window] for j in range(t - window)])  # (M, W)
        query = x[t - window:t]
        d = (((keys - keys.mean(1, keepdims=True)) - (query - query.mean())) ** 2).mean(1)
        w = softmax(-d / (2 * bandwidth**2))
        forecast, weights = attention_forecast(x, t, window=window, bandwidth=bandwidth)
        np.testing.assert_allclose(weights, w, rtol=1e-12)
        assert forecast == pytest.approx(query.mean() + w @ (x[window:t] - keys.mean(1)), rel=1e-12)
    default, explicit = attention_forecast(x, 30), attention_forecast(x, 30, window=12, bandwidth=0.1)
    assert default[0] == explicit[0] and np.array_equal(default[1], explicit[1])
    with pytest.raises(ValueError, match=r"need 2 \* window <= t <= len\(values\): t=23, window=12"):
        attention_forecast(x, 23)
    with pytest.raises(ValueError, match=r"t=41"):
        attention_forecast(x, 41)
    with pytest.raises(ValueError, match="^window must be a positive integer, got 0"):
        attention_forecast(x, 30, window=0)
    attention_forecast(x, 30, window=1)
    with pytest.raises(ValueError, match="^bandwidth must be a positive finite number"):
        attention_forecast(x, 30, bandwidth=0.0)


def test_arguments_are_named_in_errors():
    from argcheck import assert_arguments_named

    x = np.linspace(0, 1, 30)
    assert_arguments_named(lambda v: attention_forecast(v, 24), [x], ["values"], min_ndims=[1])
    assert_arguments_named(nadaraya_watson, [x[:3], x, x], ["x_query", "x_train", "y_train"], min_ndims=[1, 1, 1],
                           bandwidth=0.5)
