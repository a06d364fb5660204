"""The briefing's forecast section: shown only with its back-test, and a plain "not available"
for the bundled Essex months (16 months with the gap 2019-03..2021-02)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import ESSEX
from guardian.analysis.forecast import forecast_with_accuracy
from guardian.data.months import month_range
from guardian.data.policeuk import read_street
from guardian.data.schema import ASB, CRIME_CATEGORIES
from guardian.reports.briefing import SECTIONS, build_briefing
from guardian.reports.briefing import forecast as fsec
from guardian.reports.context import context_from_frames
from guardian.reports.render import briefing_json, render_html

BUNDLED = month_range("2018-10", "2019-02") + month_range("2021-03", "2021-12")


@pytest.fixture(scope="module")
def december():
    return read_street(ESSEX / "2021-12-essex-street.csv.gz")


def _ctx(events, loaded, counts=None):
    return context_from_frames(
        events, force="Essex Police", month="2021-12", group=None,
        loaded_months={"Essex Police": loaded}, counts=counts,
    )


def _synthetic_counts(months, seed=11):
    """dataset, month, category, count with a seasonal cycle, two categories and ASB."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, m in enumerate(months):
        season = 1 + 0.2 * np.cos(2 * np.pi * (int(m[5:]) - 7) / 12)
        for cat, mu in (("Burglary", 300), ("Violence and sexual offences", 1200), (ASB, 900)):
            rows.append(("Essex Police", m, cat, int(rng.poisson(mu * season * (1 + i / 400)))))
    return pd.DataFrame(rows, columns=["dataset", "month", "category", "count"])


def test_bundled_essex_months_say_plainly_why_there_is_no_forecast(december):
    ctx = _ctx(december, BUNDLED)
    d = build_briefing(ctx, sections=[fsec.SECTION])["sections"]["forecast"]
    assert d["available"] is False
    r = " ".join(d["reason"].split())
    assert r.startswith("no forecast is shown without its back-test")
    assert "2019-03..2021-02 (24 months) not loaded" in r
    assert "needs 48 continuous months" in r and "10 months (2021-03..2021-12)" in r
    html = render_html(build_briefing(ctx, sections=[fsec.SECTION]), sections=[fsec.SECTION])
    assert "Not available: no forecast is shown without its back-test" in html


def test_forecast_section_prints_its_backtest(december):
    months = month_range("2016-01", "2021-12")
    counts = _synthetic_counts(months)
    ctx = _ctx(december, months, counts)
    b = build_briefing(ctx, sections=[fsec.SECTION])
    d = b["sections"]["forecast"]
    assert d["available"] is True
    assert d["first_month"] == "2022-01" and d["last_month"] == "2023-12"
    assert len(d["forecast"]) == 24
    # the lockdown window is declared and excluded, not silently fitted
    assert d["breaks"]["excluded_months"] == month_range("2020-03", "2021-03")
    # independent recount of the series: crime = every category except ASB
    crime = counts[counts["category"].isin(CRIME_CATEGORIES)].groupby("month")["count"].sum()
    ref = forecast_with_accuracy(crime.astype(float), horizon=24)
    assert d["method"] == ref.method
    np.testing.assert_allclose([r["mean"] for r in d["forecast"]],
                               ref.forecasts[ref.method]["mean"])
    got = {r["method"]: r for r in d["backtest"]["methods"]}
    for m in ("snaive", "ets", "sarima", "ensemble"):
        assert got[m]["mase"] == pytest.approx(ref.backtest.row(m)["mase"])
        assert got[m]["coverage_95"] == pytest.approx(ref.backtest.row(m)["coverage_95"])
    assert got["snaive"]["relative_mase"] == pytest.approx(1.0)
    # 72 months, 36 to train, 24 ahead: origins 36..48 -> 13 windows
    assert d["backtest"]["windows"] == 13 and d["backtest"]["horizon"] == 24
    html = render_html(b, sections=[fsec.SECTION])
    assert "Measured accuracy (13 rolling windows, 1–24 months ahead" in html
    assert d["sentence"] in html.replace("&#39;", "'")
    assert "declared break window" in html
    data = json.loads(briefing_json(b))
    assert "chart" not in data["sections"]["forecast"]


def test_section_is_registered_in_the_performance_picture():
    keys = [s.key for s in SECTIONS]
    assert keys.index("forecast") == keys.index("comparison") + 1


def test_district_counts_agree_with_the_store_per_month(sqlite_engine):
    from guardian.store.events import monthly_counts_by_district
    from guardian.store.ingest import ingest

    ingest(sqlite_engine, [ESSEX / "2021-11-essex-street.csv.gz",
                           ESSEX / "2021-12-essex-street.csv.gz"], workers=1)
    both = fsec._district_counts(sqlite_engine, "Essex Police", ["2021-11", "2021-12"])
    for m in ("2021-11", "2021-12"):
        one = monthly_counts_by_district(sqlite_engine, "Essex Police", m)
        mine = both[both["month"] == m].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, one)
