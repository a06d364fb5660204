"""``compare-opencp`` beyond Chicago burglary: monthly windows, gaps in a bundle, other inputs.

Chicago aggravated assaults (``../shared/data``, skipped when absent) and the bundled Essex
police.uk months (issue 16, item 3).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from guardian.analysis.risk import NaiveRisk, ProspectiveRisk, rolling_origin_backtest
from guardian.analysis.risk.compare import OPENCP, opencp_comparison

REPO = Path(__file__).resolve().parents[2]
ESSEX = REPO / "data" / "police_uk_street_essex"
MAPPING = REPO / "mappings" / "chicago_aggravated_assaults.toml"


def _monthly_events(seed=0):
    """Month-precision events on a hot spot + background, with months 2019-03..2020-12 missing."""
    rng = np.random.default_rng(seed)
    months = list(pd.period_range("2018-10", "2019-02", freq="M")) + list(
        pd.period_range("2021-01", "2021-06", freq="M")
    )
    rows = []
    for m in months:
        n = 120
        hot = rng.random(n) < 0.5
        x = np.where(hot, 570000 + rng.normal(0, 80, n), 568000 + rng.uniform(0, 4000, n))
        y = np.where(hot, 210000 + rng.normal(0, 80, n), 208000 + rng.uniform(0, 4000, n))
        t = pd.Timestamp(m.start_time).tz_localize("Europe/London")
        rows.append(pd.DataFrame({"x": x, "y": y, "time": t}))
    ev = pd.concat(rows, ignore_index=True)
    return ev.assign(time_precision="month", crs="EPSG:27700")


def test_skip_empty_windows_drops_only_windows_without_events():
    ev = _monthly_events()
    methods = {"n": NaiveRisk(lookback_days=365)}
    kw = dict(methods=methods, start="2018-11-01", end="2021-07-01", window="month")
    full = rolling_origin_backtest(ev, **kw)
    short = rolling_origin_backtest(ev, skip_empty=True, **kw)
    full_cut = set(full.periods["cutoff"])
    short_cut = set(short.periods["cutoff"])
    assert short_cut < full_cut
    # what was skipped is exactly the windows with no event; the scores are unchanged
    empty = set(full.periods.loc[full.periods["n_events"] == 0, "cutoff"])
    assert short_cut == full_cut - empty
    pd.testing.assert_frame_equal(
        full.summary.reset_index(drop=True), short.summary.reset_index(drop=True)
    )


def test_monthly_comparison_selects_from_earlier_months_only():
    ev = _monthly_events(seed=1)
    cands = {"naive-365d": NaiveRisk(lookback_days=365), "p300": ProspectiveRisk(bandwidth_m=300)}
    res = opencp_comparison(
        ev,
        start="2021-03-01",
        n_weeks=3,
        validation_start="2018-11-01",
        window="month",
        area="footprint",
        candidates=cands,
    )
    p = res.params
    assert p["window"] == "month" and p["test_weeks"] == 3
    assert p["first_test_cutoff"].startswith("2021-03-01")
    assert p["last_test_cutoff"].startswith("2021-05-01")
    # the gap months are neither fitted nor scored
    cut = pd.to_datetime(res.periods["cutoff"].astype(str).str[:10])
    assert not ((cut > "2019-02-01") & (cut < "2021-01-01")).any()
    # 2018-11 .. 2019-02 and 2021-01, 2021-02 are validation months ending before the test
    assert p["validation_weeks_before_first_test"] == 6
    first = res.choices.iloc[0]
    assert first["validation_windows"] == 6
    assert set(res.choices["chosen"]) <= set(cands)
    assert {OPENCP, "selected", *cands} == set(res.summary["method"])


def _cli_app():
    from guardian.cli import risk

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    risk.register(app)
    return app


def test_cli_compare_opencp_on_bundled_essex_months(tmp_path):
    """The police.uk path: monthly windows by default, month precision, stated in the output."""
    folder = tmp_path / "essex"
    folder.mkdir()
    for m in ("2021-09", "2021-10", "2021-11", "2021-12"):
        shutil.copy(ESSEX / f"{m}-essex-street.csv.gz", folder)
    out = tmp_path / "essex.json"
    r = CliRunner().invoke(
        _cli_app(),
        [
            "risk",
            "compare-opencp",
            "--police-uk",
            str(folder),
            "--validation-start",
            "2021-10-01",
            "--start",
            "2021-12-01",
            "--weeks",
            "1",
            "--min-windows",
            "2",
            "--area",
            "footprint",
            "--json",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "1 monthly windows 2021-12-01 .. 2021-12-01" in text
    doc = json.loads(out.read_text())
    assert doc["params"]["window"] == "month"
    assert doc["params"]["time_precision"] == "month"
    assert doc["params"]["validation_weeks_before_first_test"] == 2
    at5 = {
        row["method"]: row
        for row in doc["summary"]
        if abs(row["coverage"] - 0.05) < 1e-9 and row["method"] in (OPENCP, "selected")
    }
    assert set(at5) == {OPENCP, "selected"}
    for row in at5.values():
        assert 0 < row["mean_hit_rate"] <= row["mean_oracle_hit_rate"] <= 1


def test_chicago_assaults_weekly_comparison(shared_data):
    """Weekly protocol on the minute-resolution assaults, loaded through their mapping."""
    from guardian.data.extract import read_extract

    src = shared_data / "chicago_aggravated_assaults" / "chicago_aggravated_assaults.csv.gz"
    if not src.is_file():
        pytest.skip(f"{src} is not present")
    ev = read_extract(src, MAPPING)
    ev = ev[ev["time"] >= pd.Timestamp("2018-01-01", tz="America/Chicago")]
    cands = {
        "naive-365d": NaiveRisk(lookback_days=365),
        "prospective-300m-8w": ProspectiveRisk(bandwidth_m=300),
    }
    res = opencp_comparison(
        ev,
        start="2019-03-05",
        n_weeks=4,
        validation_start="2019-01-01",
        area="footprint",
        candidates=cands,
    )
    p = res.params
    assert p["test_weeks"] == 4 and p["validation_weeks_before_first_test"] == 9
    assert p["time_precision"] == "minute"
    assert p["first_test_cutoff"].startswith("2019-03-05")
    s = res.summary[np.isclose(res.summary["coverage"], 0.05)].set_index("method")
    assert 0 < s.loc[OPENCP, "mean_hit_rate"] < s.loc[OPENCP, "mean_oracle_hit_rate"]
    # each choice uses only weeks that had ended, all 9+ of them
    assert (res.choices["validation_windows"] >= 9).all()
    v = res.versus
    assert v["windows"] == 4 and v["diff_ci"][0] <= v["diff"] <= v["diff_ci"][1]
