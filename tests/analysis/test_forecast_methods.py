"""Forecast methods: hand-computed seasonal naive, the fast ETS and SARIMA recursions against
statsmodels, and interval coverage on series simulated from a known model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

from guardian.analysis.forecast import methods as M
from guardian.analysis.forecast import rolling_origin_backtest
from guardian.errors import InputError


def _staircase(years=3):
    # month j of year k is 10 k + j: every year-on-year change is exactly 10
    return np.array([10 * k + j for k in range(years) for j in range(12)], float)[:, None]


def test_seasonal_naive_hand_computed():
    Y = _staircase()
    p = M.seasonal_naive(Y, [36], 24)
    # the last year (20..31) repeats, for both years ahead
    assert p.mean[0, 0].tolist() == list(range(20, 32)) * 2
    # residuals y_t - y_{t-12} are all 10, so sigma = 10 and sd_h = 10 sqrt(k + 1)
    z95 = 1.959963984540054
    assert p.upper[0.95][0, 0, 0] == pytest.approx(20 + 10 * z95)
    assert p.upper[0.95][0, 0, 12] == pytest.approx(20 + 10 * np.sqrt(2) * z95)
    assert p.lower[0.8][0, 0, 5] == pytest.approx(25 - 10 * 1.2815515655446004)
    # origin 30: trained on months 0..29, forecasts month 30 and month 42 from month 18 (= 16)
    q = M.seasonal_naive(Y, [30], 13)
    assert q.mean[0, 0, 0] == 16 and q.mean[0, 0, 12] == 16


def test_seasonal_naive_skips_excluded_months():
    Y = _staircase(4)
    Y[36:39] = np.nan  # months 36..38 excluded: 48..50 come from 24..26 (values 20..22)
    p = M.seasonal_naive(Y, [48], 4)
    assert p.mean[0, 0].tolist() == [20.0, 21.0, 22.0, 33.0]


def _sim_ets(rng, n, S, a=0.3, b=0.03, g=0.1, phi=0.9, sigma=5.0):
    e = rng.normal(0, sigma, (n, S))
    level = np.full(S, 200.0)
    trend = np.full(S, 0.5)
    seas = np.tile((20 * np.sin(2 * np.pi * np.arange(12) / 12))[:, None], (1, S))
    y = np.empty((n, S))
    for t in range(n):
        f = level + phi * trend + seas[t % 12]
        y[t] = f + e[t]
        level = level + phi * trend + a * e[t]
        trend = phi * trend + b * e[t]
        seas[t % 12] = seas[t % 12] + g * e[t]
    return y


def test_ets_filter_matches_statsmodels_exactly():
    rng = np.random.default_rng(1)
    y = _sim_ets(rng, 60, 1)
    l0, b0, s0 = M.ets_initial_states(y)
    prm = (0.3, 0.05, 0.1, 0.9)
    mine = M.ets_filter(y, *(np.r_[v] for v in prm), l0, b0, s0)[:, 0]
    mod = ETSModel(
        pd.Series(y[:, 0]), error="add", trend="add", damped_trend=True, seasonal="add",
        seasonal_periods=12, initialization_method="known", initial_level=l0[0],
        initial_trend=b0[0], initial_seasonal=s0[:, 0],
    )
    res = mod.smooth(list(prm))
    np.testing.assert_allclose(mine, res.fittedvalues.to_numpy(), atol=1e-9)
    # analytic forecast variance factors against statsmodels' prediction variance
    pred = res.get_prediction(start=60, end=83)
    factor = M._ets_variance_factors(np.array(prm), 24)
    np.testing.assert_allclose(factor * res.mse, pred.var_pred_mean, rtol=1e-6)


def test_ets_forecast_close_to_statsmodels_mle():
    rng = np.random.default_rng(2)
    y = _sim_ets(rng, 96, 3)
    mine = M.ets(y, [96], 12).mean[0]
    ref = M.ets_statsmodels(y, [96], 12).mean[0]
    # different estimators (grid least squares vs MLE with fitted starting states): within 5%
    np.testing.assert_allclose(mine, ref, rtol=0.05)


def test_airline_matches_statsmodels_sarimax():
    rng = np.random.default_rng(3)
    theta, stheta, n = -0.4, -0.6, 144
    # simulate the airline model: w = (1 + theta B)(1 + Theta B^12) e, y = integrated twice
    e = rng.normal(0, 4, n + 13)
    w = e[13:] + theta * e[12:-1] + stheta * e[1:-12] + theta * stheta * e[:-13]
    y = np.zeros(n)
    y[:13] = 300 + 30 * np.sin(2 * np.pi * np.arange(13) / 12)
    for t in range(13, n):
        y[t] = y[t - 1] + y[t - 12] - y[t - 13] + w[t]
    p = M.sarima(y[:, None], [n], 12)
    res = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).smooth(
        [p.params[0, 0, 0], p.params[0, 0, 1], 16.0]
    )
    fc = res.get_forecast(12)
    # conditional (CSS) and exact (Kalman) predictions agree once the start has washed out
    np.testing.assert_allclose(p.mean[0, 0], fc.predicted_mean, rtol=0.01)
    psi = M.airline_psi(np.r_[theta], np.r_[stheta], 12)[0]
    res2 = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).smooth([theta, stheta, 16.0])
    np.testing.assert_allclose(16.0 * np.cumsum(psi**2), res2.get_forecast(12).var_pred_mean,
                               rtol=0.02)
    # the grid estimate lands near the true parameters
    assert abs(p.params[0, 0, 0] - theta) <= 0.2 and abs(p.params[0, 0, 1] - stheta) <= 0.25


def test_psi_weights_by_hand():
    # psi_j = Theta_j + psi_{j-1} + psi_{j-12} - psi_{j-13}: psi_0 = 1, psi_1..11 = 1 + theta,
    # psi_12 = Theta + psi_11 + psi_0 = 1.2, psi_13 = theta Theta + psi_12 + psi_1 - psi_0 = 0.85
    psi = M.airline_psi(np.r_[-0.5], np.r_[-0.3], 14)[0]
    assert psi[0] == 1 and psi[1] == pytest.approx(0.5) and psi[11] == pytest.approx(0.5)
    assert psi[12] == pytest.approx(-0.3 + 0.5 + 1)
    assert psi[13] == pytest.approx(0.15 + 1.2 + 0.5 - 1)


@pytest.mark.parametrize("model", ["ets", "srw"])
def test_interval_coverage_near_nominal_on_known_model(model):
    rng = np.random.default_rng(7)
    if model == "ets":
        Y, method = _sim_ets(rng, 84, 200), "ets"
    else:
        # seasonal random walk: seasonal naive is the true model
        Y = 500 + np.cumsum(rng.normal(0, 6, (84, 200)).reshape(7, 12, 200), axis=0).reshape(
            84, 200
        )
        method = "snaive"
    bt = rolling_origin_backtest(Y, methods=[method], horizon=6, min_train=60, step=3)
    r = bt.row(method)
    assert 0.74 <= r["coverage_80"] <= 0.86
    assert 0.91 <= r["coverage_95"] <= 0.98


def test_ensemble_is_mean_of_members():
    Y = _sim_ets(np.random.default_rng(4), 48, 2)
    p = M.predict(["snaive", "ets", "sarima", "ensemble"], Y, [48], 6)
    np.testing.assert_allclose(
        p["ensemble"].mean, (p["snaive"].mean + p["ets"].mean + p["sarima"].mean) / 3
    )
    np.testing.assert_allclose(
        p["ensemble"].upper[0.95],
        (p["snaive"].upper[0.95] + p["ets"].upper[0.95] + p["sarima"].upper[0.95]) / 3,
    )


def test_method_input_errors():
    Y = _staircase()
    with pytest.raises(InputError, match="unknown forecast method"):
        M.predict(["prophet"], Y, [36], 3)
    with pytest.raises(InputError, match="at least 25 months of training"):
        M.seasonal_naive(Y, [20], 3)
    with pytest.raises(InputError, match="beyond the 36 months"):
        M.ets(Y, [40], 3)
    with pytest.raises(InputError, match="horizon must be at least 1"):
        M.sarima(Y, [36], 0)
    bad = Y.copy()
    bad[3] = np.nan
    with pytest.raises(InputError, match="first 24 months must be observed"):
        M.ets(bad, [36], 3)
    with pytest.raises(InputError, match="2-D"):
        M.ets(Y[:, 0], [36], 3)
    with pytest.raises(InputError, match="break"):
        M.ets_statsmodels(np.where(np.arange(36)[:, None] == 30, np.nan, Y), [36], 3)
