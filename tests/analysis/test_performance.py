"""Performance picture: every figure kind against hand-computed values, plus real-data checks
(Essex counts against an independent csv+gzip count; the Kent 2018-11/12 supply gap)."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pandas as pd
import pytest

from conftest import ESSEX
from guardian.analysis import performance as perf
from guardian.data.geography import comparison_groups_config
from guardian.data.schema import ASB
from guardian.errors import InputError

# ---------------------------------------------------------------------------------- helpers


def _events(rows: list[tuple[str, str, str]], district: str = "A") -> pd.DataFrame:
    """Minimal event frame: (dataset, month, category) per row."""
    return pd.DataFrame(
        {
            "dataset": [r[0] for r in rows],
            "month": [r[1] for r in rows],
            "category": [r[2] for r in rows],
            "district": district,
        }
    )


def _series(d: dict[str, float]) -> pd.Series:
    return pd.Series(d, dtype=float)


# ---------------------------------------------------------------------------------- months


def test_month_arithmetic():
    assert perf.add_months("2021-01", -1) == "2020-12"
    assert perf.add_months("2021-12", 1) == "2022-01"
    assert perf.add_months("2021-12", -12) == "2020-12"
    assert perf.month_range("2020-11", "2021-02") == ["2020-11", "2020-12", "2021-01", "2021-02"]
    assert perf.month_range("2021-02", "2021-01") == []
    assert [perf.days_in_month(m) for m in ("2020-02", "2021-02", "2021-04", "2021-12")] == [
        29,
        28,
        30,
        31,
    ]


@pytest.mark.parametrize("bad", ["2021-13", "2021-1", "21-01", "2021/01", "december"])
def test_bad_month_is_refused(bad):
    with pytest.raises(InputError, match="YYYY-MM"):
        perf.add_months(bad, 1)


# ---------------------------------------------------------------------------------- counts


def test_monthly_counts_and_series_gaps_are_nan_and_loaded_zero_is_zero():
    ev = _events(
        [("F", "2021-01", "Burglary")] * 3
        + [("F", "2021-01", ASB)] * 2
        + [("F", "2021-03", "Robbery")]
        + [("G", "2021-01", "Burglary")]
    )
    c = perf.monthly_counts(ev)
    assert c.set_index(["dataset", "month", "category"])["count"].to_dict() == {
        ("F", "2021-01", ASB): 2,
        ("F", "2021-01", "Burglary"): 3,
        ("F", "2021-03", "Robbery"): 1,
        ("G", "2021-01", "Burglary"): 1,
    }
    # 2021-02 missing; 2021-04 loaded but empty -> 0, not NaN
    s = perf.crime_asb_series(c, ["2021-01", "2021-03", "2021-04"], dataset="F")
    assert list(s.index) == ["2021-01", "2021-02", "2021-03", "2021-04"]
    assert s.loc["2021-01", "crime"] == 3 and s.loc["2021-01", "asb"] == 2
    assert np.isnan(s.loc["2021-02", "crime"]) and np.isnan(s.loc["2021-02", "asb"])
    assert s.loc["2021-04", "crime"] == 0 and s.loc["2021-04", "asb"] == 0
    assert s.loc["2021-03", "all"] == 1
    assert list(s["loaded"]) == [True, False, True, True]


def test_monthly_counts_validation():
    with pytest.raises(InputError, match="district"):
        perf.monthly_counts(_events([]).drop(columns="district"), by=("district",))
    with pytest.raises(InputError, match="no loaded months"):
        perf.crime_asb_series(perf.monthly_counts(_events([("F", "2021-01", ASB)])), [])


# ---------------------------------------------------------------------------------- months vs months


def test_compare_month_hand_values():
    s = _series({"2021-11": 300, "2021-12": 341})
    c = perf.compare_month(s, ["2021-11", "2021-12"], "2021-12", "2021-11", label="previous month")
    assert c.available and c.count == 341 and c.reference_count == 300 and c.change == 41
    assert c.pct_change == pytest.approx(41 / 300 * 100)
    assert c.daily_average == pytest.approx(11.0)  # 341 / 31
    assert c.reference_daily_average == pytest.approx(10.0)  # 300 / 30
    assert c.daily_change == pytest.approx(1.0)
    assert c.daily_pct_change == pytest.approx(10.0)


def test_compare_month_zero_reference_has_no_percentage():
    s = _series({"2021-11": 0, "2021-12": 5})
    c = perf.compare_month(s, ["2021-11", "2021-12"], "2021-12", "2021-11", label="x")
    assert c.available and c.change == 5 and c.pct_change is None


def test_month_comparisons_unavailable_reasons():
    loaded = ["2019-12", "2021-11", "2021-12"]
    s = _series({"2019-12": 400, "2021-11": 300, "2021-12": 310})
    out = perf.month_comparisons(s, loaded, "2021-12", baseline_year=2019)
    assert out["previous_month"].available
    ly = out["same_month_last_year"]
    assert (
        not ly.available and ly.reason == "2020-12 not loaded" and ly.reference_month == "2020-12"
    )
    bl = out["baseline"]
    assert bl.available and bl.reference_month == "2019-12"
    assert bl.pct_change == pytest.approx((310 - 400) / 400 * 100)
    # an anomalous reference month is not compared
    out = perf.month_comparisons(s, loaded, "2021-12", anomalies=["2021-11"])
    assert not out["previous_month"].available and "anomaly" in out["previous_month"].reason
    # baseline not before the month
    out = perf.month_comparisons(s, loaded, "2019-12", baseline_year=2019)
    assert not out["baseline"].available and "not before" in out["baseline"].reason


def test_focal_month_not_loaded_is_unavailable():
    c = perf.compare_month(_series({}), ["2021-11"], "2021-12", "2021-11", label="x")
    assert not c.available and c.reason == "2021-12 not loaded"


# ---------------------------------------------------------------------------------- rolling windows


def _full(start: str, end: str, value) -> dict[str, float]:
    return {m: (value(m) if callable(value) else value) for m in perf.month_range(start, end)}


def test_window_incomplete_is_not_summed():
    loaded = perf.month_range("2021-03", "2021-12")
    s = _series(_full("2021-03", "2021-12", 10))
    w = perf.window(s, loaded, "2021-12")
    assert not w.complete and w.total is None and w.sum_present == 100
    assert w.months_present == 10 and w.coverage == "10 of 12 months"
    assert w.missing == ("2021-01", "2021-02") and w.start == "2021-01"


def test_compare_windows_hand_values_and_incomplete_not_compared():
    loaded = perf.month_range("2019-01", "2021-12")
    s = _series(_full("2019-01", "2021-12", lambda m: 10 if m < "2021-01" else 12))
    out = perf.rolling_comparisons(s, loaded, "2021-12", baseline_year=2019)
    prev = out["previous_12_months"]
    assert prev.available and prev.current.total == 144 and prev.reference.total == 120
    assert prev.pct_change == pytest.approx(20.0) and prev.change == 24
    assert prev.reference.start == "2020-01" and prev.reference.end == "2020-12"
    base = out["baseline"]
    assert base.available and base.reference.end == "2019-12" and base.reference.total == 120
    # drop two months: 10 of 12, never compared
    loaded2 = [m for m in loaded if m not in ("2021-01", "2021-02")]
    out2 = perf.rolling_comparisons(s, loaded2, "2021-12")
    assert not out2["previous_12_months"].available
    assert out2["previous_12_months"].pct_change is None
    assert "10 of 12 months" in out2["previous_12_months"].reason
    assert "2021-01..2021-02" in out2["previous_12_months"].reason
    # an anomalous month also makes the window incomplete
    out3 = perf.rolling_comparisons(s, loaded, "2021-12", anomalies=["2020-06"])
    assert not out3["previous_12_months"].available
    assert "anomal" in out3["previous_12_months"].reason
    assert out3["previous_12_months"].reference.coverage == "11 of 12 months"


def test_window_length_validation():
    with pytest.raises(InputError):
        perf.window(_series({}), [], "2021-12", months=0)


# ---------------------------------------------------------------------------------- rates


def test_rates_per_1000():
    assert perf.rate_per_1000(50, 20_000) == pytest.approx(2.5)
    assert perf.rate_per_1000(5, 0) is None
    assert perf.rate_per_1000(5, None) is None
    assert perf.rate_per_1000(None, 100) is None


def test_district_rates_hand_values_and_unallocated_rows():
    counts = pd.Series({"A": 10, "B": 30, "": 4, "Outside force area": 2})
    pop = pd.DataFrame({"district": ["A", "B", "C"], "population": [1000, 20000, 500]})
    t = perf.district_rates(counts, pop)
    assert list(t["district"]) == ["A", "B", "C", "(no location)", "Outside force area"]
    assert list(t["count"]) == [10, 30, 0, 4, 2]
    assert t["rate_per_1000"].iloc[:3].tolist() == pytest.approx([10.0, 1.5, 0.0])
    assert t["rate_per_1000"].iloc[3:].isna().all()
    with pytest.raises(InputError):
        perf.district_rates(counts, pop.rename(columns={"population": "people"}))


# ---------------------------------------------------------------------------------- comparison group


def test_shipped_comparison_group_for_essex_is_dated_and_sourced():
    g = perf.comparison_group("essex", comparison_groups_config())
    assert g.force == "Essex"
    assert g.members[:5] == ("Kent", "Hampshire", "Sussex", "Thames Valley", "Avon and Somerset")
    assert g.as_of and "HMICFRS" in g.source


def test_comparison_group_config_and_unknown_force():
    cfg = {
        "groups": {
            "Kent": {
                "members": ["Essex", "Kent", "Sussex"],
                "as_of": "2020-01-01",
                "source": "test",
            }
        }
    }
    g = perf.comparison_group("Kent", cfg)
    assert g.members == ("Essex", "Sussex")  # the force itself is never its own peer
    with pytest.raises(InputError, match="no comparison group"):
        perf.comparison_group("Gwent", cfg)
    with pytest.raises(InputError, match="no members"):
        perf.comparison_group("Kent", {"groups": {"Kent": {"members": ["Kent"]}}})


def test_comparison_groups_file_of_a_force_and_bad_files(tmp_path):
    own = tmp_path / "groups.toml"
    own.write_text('[groups.Kent]\nmembers = ["Essex", "Sussex"]\nas_of = "2024-01-01"\nsource = "ours"\n')
    g = perf.comparison_group("kent", comparison_groups_config(own))
    assert g.members == ("Essex", "Sussex") and g.source == "ours"
    with pytest.raises(InputError, match="does not exist"):
        comparison_groups_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("groups = [\n")
    with pytest.raises(InputError, match="not a TOML file"):
        comparison_groups_config(tmp_path / "bad.toml")


def test_rank_in_group_hand_values():
    r = perf.rank_in_group(
        {"Essex": 7.0, "Kent": 9.0, "Sussex": 5.0, "Hampshire": None},
        "Essex",
        measure="crime_per_1000",
    )
    assert r.available and r.rank == 2 and r.of == 3
    assert r.group_average == pytest.approx(7.0)
    assert list(r.to_frame()["force"]) == ["Kent", "Essex", "Sussex"]
    tie = perf.rank_in_group({"A": 3.0, "B": 3.0, "C": 1.0}, "B", measure="m")
    assert tie.rank == 1
    alone = perf.rank_in_group({"Essex": 7.0, "Kent": None}, "Essex", measure="m")
    assert not alone.available and "no other member" in alone.reason
    with pytest.raises(InputError):
        perf.rank_in_group({"Kent": 1.0}, "Essex", measure="m")


# ---------------------------------------------------------------------------------- anomalies


def test_detect_anomalies_hand_case():
    months = perf.month_range("2021-01", "2021-12")
    # 10 crimes a day every month, except 2021-06 which has 5 a day
    s = _series({m: 10 * perf.days_in_month(m) for m in months})
    s["2021-06"] = 5 * 30
    res = perf.detect_anomalies(s, months)
    assert res.months == ("2021-06",)
    a = res.anomalies[0]
    assert a.count == 150 and a.daily_rate == pytest.approx(5.0)
    assert a.expected_daily_rate == pytest.approx(10.0)
    assert a.relative_departure == pytest.approx(-0.5)
    # the MAD is 0 here, so the floor (2.5 % of 10 = 0.25) is the scale: z = -5 / 0.25
    assert a.robust_z == pytest.approx(-20.0)
    assert res.params["window_months"] == 12


def test_detect_anomalies_ignores_small_wobbles_and_gaps_between_runs():
    months = perf.month_range("2018-10", "2019-02") + perf.month_range("2021-03", "2021-12")
    rng = np.random.default_rng(3)
    # +-10 % month-to-month noise around 10,000 a month, and a 28-month gap between two runs
    s = _series({m: float(rng.integers(9000, 11000)) for m in months})
    assert perf.detect_anomalies(s, months).months == ()
    # a 15 % dip is a real change, not a supply gap: below the 20 % floor, never flagged
    s["2019-01"] = 0.85 * float(np.median(s))
    assert perf.detect_anomalies(s, months).months == ()
    # nor with a lower floor: within this noise a 15 % dip is under 3 robust SDs
    assert perf.detect_anomalies(s, months, min_relative=0.1).months == ()
    # a 40 % collapse amid the same noise is flagged, and only that month
    s["2019-01"] = 0.6 * float(np.median(s))
    assert perf.detect_anomalies(s, months).months == ("2019-01",)


def test_detect_anomalies_two_bad_months_in_a_row_are_both_found():
    months = perf.month_range("2018-10", "2019-02")
    s = _series(
        {"2018-10": 17347, "2018-11": 11690, "2018-12": 6132, "2019-01": 15659, "2019-02": 14125}
    )  # Kent crime rows
    res = perf.detect_anomalies(s, months)
    assert res.months == ("2018-11", "2018-12")


def test_detect_anomalies_too_few_neighbours_not_assessed():
    s = _series({"2021-01": 10, "2021-02": 1})
    res = perf.detect_anomalies(s, ["2021-01", "2021-02"])
    assert res.months == () and res.not_assessed == ("2021-01", "2021-02")


def test_detect_anomalies_validation():
    with pytest.raises(InputError):
        perf.detect_anomalies(_series({}), [], z_threshold=0)


def test_relative_to_neighbours():
    s = _series({"2021-01": 310, "2021-02": 280, "2021-03": 155})
    loaded = ["2021-01", "2021-02", "2021-03"]
    assert perf.relative_to_neighbours(s, loaded, "2021-03") == pytest.approx(-0.5)
    assert perf.relative_to_neighbours(s, loaded, "2021-04") is None
    assert perf.relative_to_neighbours(s, ["2021-03"], "2021-03") is None


def _raw_counts(path) -> tuple[int, int]:
    """Independent count of crime and ASB rows of a police.uk street file (csv + gzip only)."""
    crime = asb = 0
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["Crime type"] == "Anti-social behaviour":
                asb += 1
            else:
                crime += 1
    return crime, asb


def _street_series(files) -> tuple[pd.DataFrame, list[str]]:
    from guardian.data.policeuk import read_street

    ev = pd.concat([read_street(f) for f in files], ignore_index=True)
    months = sorted(ev["month"].unique())
    return perf.crime_asb_series(perf.monthly_counts(ev), months), months


def test_real_essex_month_counts_match_an_independent_count():
    files = [ESSEX / "2021-11-essex-street.csv.gz", ESSEX / "2021-12-essex-street.csv.gz"]
    s, months = _street_series(files)
    for f, m in zip(files, months, strict=True):
        crime, asb = _raw_counts(f)
        assert (s.loc[m, "crime"], s.loc[m, "asb"]) == (crime, asb)
    c = perf.compare_month(s["crime"], months, "2021-12", "2021-11", label="previous month")
    nov, dec = _raw_counts(files[0])[0], _raw_counts(files[1])[0]
    assert c.daily_average == pytest.approx(dec / 31)
    assert c.reference_daily_average == pytest.approx(nov / 30)
    assert c.daily_pct_change == pytest.approx((dec / 31 - nov / 30) / (nov / 30) * 100)


@pytest.mark.shared
def test_real_kent_supply_gap_is_flagged_and_other_forces_are_not(shared_data):
    folder = shared_data / "police_uk_street_msg_forces"
    for force, expected in (("kent", ("2018-11", "2018-12")), ("hampshire", ()), ("sussex", ())):
        files = sorted(folder.glob(f"*-{force}-street.csv.gz"))
        months, crime, asb = [], {}, {}
        for f in files:
            c, a = _raw_counts(f)
            m = f.name[:7]
            months.append(m)
            crime[m], asb[m] = c, a
        res = perf.detect_anomalies(_series(crime), months)
        assert res.months == expected, force
        if force == "kent":
            # crime collapsed while ASB held steady: a supply gap, not a crime drop
            for a in res.anomalies:
                assert a.relative_departure < -0.2
                assert (
                    abs(
                        perf.relative_to_neighbours(
                            _series(asb), months, a.month, exclude=res.months
                        )
                    )
                    < 0.1
                )


def test_real_essex_has_no_anomaly():
    files = sorted(ESSEX.glob("*-essex-street.csv.gz"))
    crime = {f.name[:7]: _raw_counts(f)[0] for f in files}
    res = perf.detect_anomalies(_series(crime), list(crime))
    assert res.months == ()
