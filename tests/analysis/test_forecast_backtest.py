"""Rolling-origin back-tests: windows, MASE and sMAPE checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.analysis.forecast import backtest as B
from guardian.analysis.forecast.methods import LEVELS, Predictions
from guardian.errors import InputError


def test_windows_by_hand():
    # 40 months, 3 ahead, 36 to train: windows trained on 36 and 37 months (scored 36..38, 37..39)
    assert B.backtest_origins(40, horizon=3).tolist() == [36, 37]
    assert B.backtest_origins(40, horizon=3, step=2).tolist() == [36]
    assert B.backtest_origins(60, horizon=1, max_windows=3).tolist() == [57, 58, 59]
    assert B.backtest_origins(48, horizon=12, min_train=25, step=5).tolist() == [25, 30, 35]
    with pytest.raises(InputError, match="needs at least 39 continuous months .* has 38"):
        B.backtest_origins(38, horizon=3)
    with pytest.raises(InputError, match="min_train must be at least 25"):
        B.backtest_origins(60, horizon=3, min_train=12)
    with pytest.raises(InputError, match="at least 1"):
        B.backtest_origins(60, horizon=0)


def test_actuals_are_the_months_after_each_origin():
    Y = np.arange(40, dtype=float)[:, None]
    A = B.actuals(Y, np.array([36, 37]), 3)
    assert A[:, 0].tolist() == [[36, 37, 38], [37, 38, 39]]


def test_smape_by_hand():
    v = B.smape(np.array([100.0, 0.0, 50.0, 10.0]), np.array([110.0, 0.0, 0.0, 30.0]))
    np.testing.assert_allclose(v, [200 * 10 / 210, 0.0, 200.0, 200 * 20 / 40])


def test_mase_scale_by_hand():
    y = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 4, 2, 9], float)[:, None]
    # origin 14: pairs (12, 0) and (13, 1): |4 - 1| and |2 - 2| -> mean 1.5
    assert B.mase_scale(y, np.array([14]))[0, 0] == pytest.approx(1.5)
    # origin 15 adds |9 - 3| = 6 -> (3 + 0 + 6) / 3
    assert B.mase_scale(y, np.array([15]))[0, 0] == pytest.approx(3.0)
    y[13] = np.nan  # a missing month drops its pair
    assert B.mase_scale(y, np.array([15]))[0, 0] == pytest.approx(4.5)


def test_score_by_hand():
    # 27 months: seasonal-naive in-sample errors are all 2 (y_t - y_{t-12} = 2), so the scale is 2
    Y = np.array([j + 2 * (t // 12) for t, j in enumerate(list(range(12)) * 3)][:27], float)
    Y = Y[:, None]
    origins = np.array([25])
    A = B.actuals(Y, origins, 2)  # months 25, 26: values 5 and 6
    assert A[0, 0].tolist() == [5.0, 6.0]
    f = np.array([[[4.0, 9.0]]])
    lo = {lv: f - 1.5 for lv in LEVELS}
    hi = {lv: f + (0.5 if lv == 0.8 else 3.5) for lv in LEVELS}
    p = Predictions("x", f, lo, hi)
    by_h, summ = B.score({"x": p}, Y, origins)
    r = summ.iloc[0]
    assert r["mae"] == pytest.approx(2.0)  # |5-4|, |6-9|
    assert r["mase"] == pytest.approx(1.0)  # (1/2 + 3/2) / 2
    assert r["smape"] == pytest.approx((200 / 9 + 200 * 3 / 15) / 2)
    # 80%: 5 outside [2.5, 4.5]; 6 outside [7.5, 9.5] -> 0; 95%: 5 in [2.5, 7.5], 6 in [7.5..] no
    assert r["coverage_80"] == 0.0 and r["coverage_95"] == 0.5
    assert by_h["mase"].tolist() == pytest.approx([0.5, 1.5])


def test_backtest_relative_mase_and_result_shape():
    rng = np.random.default_rng(0)
    t = np.arange(72)
    Y = (300 + 40 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 8, 72))[:, None]
    bt = B.rolling_origin_backtest(Y, methods=["ets"], horizon=6, months=[f"m{i}" for i in t])
    assert bt.origins[0] == "m36" and bt.origins[-1] == "m66" and len(bt.origins) == 31
    assert bt.row("snaive")["relative_mase"] == pytest.approx(1.0)
    d = bt.to_dict()
    assert d["windows"] == 31 and {r["method"] for r in d["summary"]} == {"snaive", "ets"}
    assert len(d["by_horizon"]) == 12
    # a stationary seasonal pattern with noise: ETS beats re-using last year's noisy month
    assert bt.row("ets")["relative_mase"] < 0.9
    with pytest.raises(InputError, match="not in this back-test"):
        bt.row("sarima")
    with pytest.raises(InputError, match="horizon must be 1..24"):
        B.rolling_origin_backtest(Y, horizon=25)
