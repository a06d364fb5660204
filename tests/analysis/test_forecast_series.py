"""Checking a series before forecasting: gaps, length, structural breaks; the forecast with its
accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from guardian.analysis.forecast import (
    BreakWindow,
    detect_breaks,
    forecast_with_accuracy,
    prepare_series,
)
from guardian.data.months import add_months, month_range
from guardian.errors import InputError


def _series(start, n, seed=0):
    rng = np.random.default_rng(seed)
    months = [add_months(start, i) for i in range(n)]
    t = np.arange(n)
    v = 400 + 60 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 10, n)
    return pd.Series(np.round(v), index=months)


def test_essex_like_gap_is_refused_naming_the_missing_months():
    months = month_range("2018-10", "2019-02") + month_range("2021-03", "2021-12")
    s = pd.Series(100.0, index=months)
    with pytest.raises(InputError) as e:
        prepare_series(s, min_months=48, label="Essex Police, all crime")
    msg = str(e.value)
    assert "Essex Police, all crime" in msg
    assert "2019-03..2021-02 (24 months) not loaded" in msg
    assert "needs 48 continuous months" in msg
    assert "longest continuous run is 10 months (2021-03..2021-12)" in msg


def test_too_short_says_how_many_more():
    s = _series("2021-03", 10)
    with pytest.raises(InputError, match=r"has 10 months; a forecast needs at least 36 .*26 more"):
        prepare_series(s)


def test_months_loaded_without_events_count_zero_and_extra_months_refused():
    s = _series("2015-01", 40).drop("2016-05")
    out = prepare_series(s, loaded_months=month_range("2015-01", add_months("2015-01", 39)))
    assert out.counts[16] == 0.0 and out.n == 40
    with pytest.raises(InputError, match="not loaded: 2018-05"):
        prepare_series(_series("2015-01", 41), loaded_months=month_range("2015-01", "2018-04"))
    with pytest.raises(InputError, match="no months loaded"):
        prepare_series(pd.Series([], dtype=float))
    with pytest.raises(InputError, match="negative counts in 2015-02"):
        prepare_series(_series("2015-01", 40).where(lambda x: x.index != "2015-02", -1))


def test_break_policies():
    s = _series("2016-01", 72)  # 2016-01..2021-12 crosses the 2020-21 lockdown window
    ex = prepare_series(s)
    assert ex.excluded == month_range("2020-03", "2021-03")
    assert np.isnan(ex.values[50]) and not np.isnan(ex.counts[50])
    assert np.isfinite(ex.values).sum() == 72 - 13
    with pytest.raises(InputError, match="touches the break window 2020-03..2021-03; refused"):
        prepare_series(s, break_policy="refuse")
    ign = prepare_series(s, break_policy="ignore")
    assert ign.excluded == [] and np.isfinite(ign.values).all()
    assert prepare_series(s, breaks=[]).excluded == []
    with pytest.raises(InputError, match="not one of"):
        prepare_series(s, break_policy="drop")
    # a break inside the first two years cannot be excluded: they start the seasonal pattern
    with pytest.raises(InputError, match="first 24 months"):
        prepare_series(s, breaks=[BreakWindow("2016-06", "2016-08")])
    with pytest.raises(InputError, match="observed outside the break window"):
        prepare_series(s, breaks=[BreakWindow("2018-01", "2021-12")])


def test_detect_breaks_flags_a_planted_collapse():
    s = _series("2014-01", 72, seed=3)
    s.iloc[60:63] *= 0.4
    out = detect_breaks(prepare_series(s, breaks=[]))
    assert out[:3] == [s.index[60], s.index[61], s.index[62]]


def test_forecast_with_accuracy_end_to_end():
    s = _series("2012-01", 96, seed=5)
    r = forecast_with_accuracy(s, horizon=18, label="test series")
    assert set(r.forecasts) == {"snaive", "ets", "sarima", "ensemble"}
    f = r.forecasts[r.method]
    assert f["month"].tolist()[0] == "2020-01" and len(f) == 18
    assert (f["lower_95"] <= f["lower_80"]).all() and (f["lower_80"] <= f["mean"]).all()
    assert (f["mean"] <= f["upper_80"]).all() and (f["upper_80"] <= f["upper_95"]).all()
    assert r.backtest.horizon == 18 and len(r.backtest.origins) == 24
    d = r.to_dict()
    assert d["method"] == r.method and "Back-test over 24 rolling windows" in d["sentence"]
    assert "seasonal naive MASE" in d["sentence"]
    # the chosen method has the lowest back-test MASE
    assert r.backtest.row(r.method)["mase"] == min(x["mase"] for x in d["backtest"]["summary"])
    # 40 months: fit and back-test up to 4 months ahead only
    short = forecast_with_accuracy(_series("2012-01", 40), horizon=4)
    assert short.backtest.horizon == 4
    with pytest.raises(InputError, match="needs at least 48 continuous months"):
        forecast_with_accuracy(_series("2012-01", 40), horizon=12)
    with pytest.raises(InputError, match="horizon must be 1..24"):
        forecast_with_accuracy(s, horizon=30)


def test_a_series_that_repeats_exactly_cannot_be_scored_and_is_refused():
    # every year identical: seasonal naive's in-sample error is 0, so MASE is undefined
    months = [add_months("2012-01", i) for i in range(60)]
    s = pd.Series([100.0 + (i % 12) for i in range(60)], index=months)
    with pytest.raises(InputError, match="no forecast is shown without a measured accuracy"):
        forecast_with_accuracy(s, horizon=12)
