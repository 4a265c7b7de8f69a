import math

import numpy as np
import pytest

from attention.__main__ import main
from attention.timeseries import attention_forecast, evaluate, make_series, mse_table, nadaraya_watson


def test_nadaraya_watson_equals_the_kernel_formula():
    rng = np.random.default_rng(0)
    x, y, xq = rng.uniform(0, 5, 20), rng.standard_normal(20), rng.uniform(0, 5, 7)
    pred, w = nadaraya_watson(xq, x, y, bandwidth=0.4)
    for i, q in enumerate(xq):
        k = [math.exp(-((q - xi) ** 2) / (2 * 0.4**2)) for xi in x]
        assert pred[i] == pytest.approx(sum(ki * yi for ki, yi in zip(k, y)) / sum(k), rel=1e-10)
    np.testing.assert_allclose(w.sum(1), 1.0)


def test_attention_beats_both_baselines_after_the_changepoint():
    r = evaluate()
    for column in ("mse", "mse_first_period", "mse_later"):
        mse = r[column]
        assert mse["attention"] < mse["moving average"] and mse["attention"] < mse["last period"], column


def test_attention_weights_pick_out_the_period():
    assert evaluate()["attention_on_whole_periods"] > 0.8


def test_forecast_uses_only_the_past():
    s = make_series()
    t = 200
    future_changed = s.values.copy()
    future_changed[t:] = 100.0
    assert attention_forecast(s.values, t)[0] == attention_forecast(future_changed, t)[0]


def test_bad_inputs():
    with pytest.raises(ValueError, match="bandwidth must be positive"):
        nadaraya_watson([0.0], [0.0], [1.0], bandwidth=0)
    with pytest.raises(ValueError, match=r"same shape: \(2,\) vs \(3,\)"):
        nadaraya_watson([0.0], [0.0, 1.0], [1.0, 2.0, 3.0], bandwidth=1)
    with pytest.raises(ValueError, match="need window <= t - window"):
        attention_forecast(np.ones(30), 15)


def test_table_and_cli(capsys, tmp_path):
    assert mse_table(lang="zh").count("\n") == mse_table(lang="en").count("\n") == 4
    path = tmp_path / "ts.svg"
    assert main(["timeseries", "--plot", str(path)]) == 0
    assert "attention on whole-period lags" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8").startswith("<svg")
