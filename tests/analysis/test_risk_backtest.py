"""Rolling-origin back-tests, the risk map renderer and the ``guardian risk`` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from guardian.analysis.risk import (
    NaiveRisk,
    ProspectiveRisk,
    evaluate_surface,
    rolling_origin_backtest,
    rolling_windows,
)
from guardian.errors import InputError
from guardian.reports.maps import backtest_caption, render_risk_map

REPO = Path(__file__).resolve().parents[2]
CHICAGO_BE = REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv"
TZ = "America/Chicago"


def _events(n=800, seed=0, days=120):
    rng = np.random.default_rng(seed)
    hot = rng.random(n) < 0.5
    x = np.where(hot, 351000 + rng.normal(0, 100, n), 350000 + rng.uniform(0, 3000, n))
    y = np.where(hot, 571000 + rng.normal(0, 100, n), 570000 + rng.uniform(0, 3000, n))
    d = np.sort(rng.integers(0, days, n))
    t = pd.Timestamp("2016-01-01", tz=TZ) + pd.to_timedelta(d, unit="D")
    return pd.DataFrame({"x": x, "y": y, "time": t, "time_precision": "day", "crs": "EPSG:26971"})


def test_rolling_windows_weekly_and_monthly():
    w = rolling_windows("2016-03-01", "2016-03-29", 7, TZ)
    assert len(w) == 4 and w[0][0] == pd.Timestamp("2016-03-01", tz=TZ)
    assert w[-1][1] == pd.Timestamp("2016-03-29", tz=TZ)
    assert len(rolling_windows("2016-03-01", "2016-03-30", 7, TZ)) == 4  # no partial window
    m = rolling_windows("2021-05-01", "2022-01-01", "month", "Europe/London")
    assert len(m) == 8 and m[1] == (
        pd.Timestamp("2021-06-01", tz="Europe/London"),
        pd.Timestamp("2021-07-01", tz="Europe/London"),
    )
    with pytest.raises(InputError, match="after its start"):
        rolling_windows("2016-03-01", "2016-02-01", 7, TZ)
    with pytest.raises(InputError, match="no whole"):
        rolling_windows("2016-03-01", "2016-03-03", 7, TZ)
    with pytest.raises(InputError, match="window"):
        rolling_windows("2016-03-01", "2016-04-03", "fortnight", TZ)


class _Spy(NaiveRisk):
    """Records the latest event time it is given to fit on (class-level log)."""

    log: list = []

    def _fit(self, x, y, t, cutoff_d):
        _Spy.log.append((float(t.max()) if t.size else -np.inf, cutoff_d))
        super()._fit(x, y, t, cutoff_d)


def test_backtest_never_fits_on_future_events():
    ev = _events()
    _Spy.log = []
    rolling_origin_backtest(
        ev, methods={"spy": _Spy()}, start="2016-02-01", end="2016-04-25", window=7
    )
    assert len(_Spy.log) == 12
    assert all(tmax < cut for tmax, cut in _Spy.log)


def test_backtest_rows_equal_direct_evaluation():
    ev = _events(seed=1)
    res = rolling_origin_backtest(
        ev,
        methods={"naive": NaiveRisk(), "pro": ProspectiveRisk()},
        start="2016-02-01",
        end="2016-03-07",
        window=7,
    )
    assert set(res.summary["method"]) == {"naive", "pro"}
    assert len(res.periods) == 2 * 5 * 4
    # re-score one window by hand
    c, e = pd.Timestamp("2016-02-15", tz=TZ), pd.Timestamp("2016-02-22", tz=TZ)
    s = NaiveRisk(grid=res.grid).fit(ev, c).predict(c, e)
    sel = (ev["time"] >= c) & (ev["time"] < e)
    counts = res.grid.counts(ev.loc[sel, "x"], ev.loc[sel, "y"])
    acc = evaluate_surface(s.values, counts, mask=res.domain)
    rows = res.periods[(res.periods["method"] == "naive") & (res.periods["cutoff"] == c)]
    np.testing.assert_allclose(rows["hit_rate"], acc.hit_rate)
    np.testing.assert_allclose(rows["oracle_pai"], acc.oracle_pai)
    # summary = mean over windows; oracle bounds every method
    sub = res.periods[(res.periods["method"] == "pro") & np.isclose(res.periods["coverage"], 0.05)]
    row = res.summary[(res.summary["method"] == "pro") & np.isclose(res.summary["coverage"], 0.05)]
    assert row["mean_pai"].iloc[0] == pytest.approx(sub["pai"].mean())
    assert (res.periods["hit_rate"] <= res.periods["oracle_hit_rate"] + 1e-12).all()
    assert res.best_method(0.05) in {"naive", "pro"}
    d = res.to_dict()
    json.dumps(d, default=str)
    assert d["params"]["tie_rule"].startswith("fractional")


def test_backtest_default_methods_skip_sepp_for_month_data():
    ev = _events(seed=2).assign(time_precision="month")
    res = rolling_origin_backtest(ev, start="2016-02-01", end="2016-04-01", window="month")
    assert "sepp" not in set(res.summary["method"])
    assert len(res.periods["cutoff"].unique()) == 2


def test_render_risk_map_prints_backtest_figures(tmp_path):
    ev = _events(seed=3)
    res = rolling_origin_backtest(
        ev,
        methods={"prospective": ProspectiveRisk()},
        start="2016-02-01",
        end="2016-03-07",
        window=7,
    )
    surf = ProspectiveRisk(grid=res.grid).fit(ev, "2016-03-07").predict("2016-03-07", "2016-03-14")
    summ = res.summary_for("prospective")
    fig = render_risk_map(surf, summ, tmp_path / "map.png", mask=res.domain)
    assert (tmp_path / "map.png").stat().st_size > 10_000
    text = " ".join(t.get_text() for t in fig.texts)
    pai5 = summ["mean_pai"][summ["coverage"].index(0.05)]
    assert f"PAI {pai5:.2f}" in text and "hit rate" in text
    assert "5 7-day back-test windows" in backtest_caption(summ)
    with pytest.raises(InputError, match="never shown without"):
        render_risk_map(surf, None)
    with pytest.raises(InputError, match="same method"):
        render_risk_map(surf, {**summ, "method": "kde"})
    with pytest.raises(InputError, match="summary_for"):
        render_risk_map(surf, {"method": "prospective"})
    with pytest.raises(InputError, match="mask shape"):  # a study area of another grid
        render_risk_map(surf, summ, mask=res.domain[:-1])


@pytest.mark.skipif(not CHICAGO_BE.is_file(), reason="bundled Chicago data missing")
def test_chicago_burglary_four_weeks():
    df = pd.read_csv(CHICAGO_BE).dropna()
    ev = pd.DataFrame(
        {
            "x": df["X"],
            "y": df["Y"],
            "time": pd.to_datetime(df["date"]).dt.tz_localize(TZ),
            "time_precision": "day",
            "crs": "EPSG:26971",
        }
    )
    res = rolling_origin_backtest(
        ev,
        methods={"naive": NaiveRisk(), "prospective": ProspectiveRisk()},
        start="2016-06-01",
        end="2016-06-29",
        window=7,
    )
    s = res.summary.set_index(["method", "coverage"])
    assert s.loc[("prospective", 0.05), "mean_pai"] > 1.5
    assert s.loc[("prospective", 0.05), "windows"] == 4
    assert res.grid.cell_m == 150 and res.grid.x0 % 150 == 0


# --- CLI ------------------------------------------------------------------------------------------


def _cli_app():
    from guardian.cli import risk

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    risk.register(app)
    return app


def test_cli_backtest_columns(tmp_path):
    ev = _events(seed=4)
    csv = tmp_path / "ev.csv"
    pd.DataFrame({"X": ev["x"], "Y": ev["y"], "date": ev["time"].dt.strftime("%Y-%m-%d")}).to_csv(
        csv, index=False
    )
    out = tmp_path / "bt.json"
    png = tmp_path / "map.png"
    r = CliRunner().invoke(
        _cli_app(),
        [
            "risk",
            "backtest",
            "--method",
            "naive,prospective",
            "--data",
            str(csv),
            "--x",
            "X",
            "--y",
            "Y",
            "--date",
            "date",
            "--crs",
            "EPSG:26971",
            "--tz",
            TZ,
            "--cell",
            "150",
            "--window",
            "7",
            "--start",
            "2016-02-01",
            "--end",
            "2016-03-07",
            "--json",
            str(out),
            "--map",
            str(png),
            "--naive-lookback",
            "28",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "PAI 5%" in r.output and "oracle" in r.output
    d = json.loads(out.read_text())
    assert {row["method"] for row in d["summary"]} == {"naive", "prospective", "naive-28d"}
    assert d["best_method_5pct"] in {"naive", "prospective", "naive-28d"}
    assert png.is_file()


def test_cli_rejects_bad_input(tmp_path):
    app = _cli_app()
    r = CliRunner().invoke(
        app, ["risk", "backtest", "--start", "2016-01-01", "--end", "2016-02-01"]
    )
    assert isinstance(r.exception, InputError) and "exactly one" in str(r.exception)
    csv = tmp_path / "ev.csv"
    pd.DataFrame({"X": [1.0], "Y": [2.0], "date": ["yesterday"]}).to_csv(csv, index=False)
    r = CliRunner().invoke(
        app,
        [
            "risk",
            "backtest",
            "--data",
            str(csv),
            "--x",
            "X",
            "--y",
            "Y",
            "--date",
            "date",
            "--start",
            "2016-01-01",
            "--end",
            "2016-02-01",
        ],
    )
    assert isinstance(r.exception, InputError) and "not dates" in str(r.exception)
    # Readable dates this time, so the refusal is about the method itself.
    good = tmp_path / "ev2.csv"
    pd.DataFrame({"X": [1.0], "Y": [2.0], "date": ["2016"]}).to_csv(good, index=False)
    r = CliRunner().invoke(
        app,
        [
            "risk",
            "backtest",
            "--method",
            "magic",
            "--data",
            str(good),
            "--x",
            "X",
            "--y",
            "Y",
            "--date",
            "date",
            "--date-format",
            "%Y",
            "--start",
            "2016-01-01",
            "--end",
            "2016-02-01",
        ],
    )
    assert isinstance(r.exception, InputError)
    assert "['magic'] unknown" in str(r.exception) and "'sepp'" in str(r.exception)
