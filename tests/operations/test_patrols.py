"""Hot-spot patrols: plan spots against a brute-force recount of real Essex data, the random day
design, hour profiles, dosage on a hand-made log, validation, the briefing section and the CLI.

Store tests run on SQLite and PostgreSQL (``engine`` fixture)."""

from __future__ import annotations

import gzip
import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.patrols import service as S
from guardian.operations.patrols.planning import (
    DEFAULT_PATROL_CATEGORIES,
    NO_TIME_OF_DAY,
    dosage,
    hour_profile,
    in_koper_band,
    random_day_design,
)
from guardian.store.ingest import ingest

REPO = Path(__file__).resolve().parents[2]
ESSEX = REPO / "data" / "police_uk_street_essex"
HARM_CSV = REPO / "src" / "guardian" / "data" / "reference" / "harm_index_v1.csv"
LSOA_CSV = REPO / "src" / "guardian" / "data" / "reference" / "lsoa2011.csv.gz"
SOUTHEND = "Southend-on-Sea UA"
Q4 = ["2021-10", "2021-11", "2021-12"]


def _files(months):
    return [ESSEX / f"{m}-essex-street.csv.gz" for m in months]


# --------------------------------------------------------------------------------------------
# Pure: random day design
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n,k", [(20, 3), (7, 1), (13, 4), (5, 6), (1, 2), (30, 5)])
def test_random_design_balanced_within_spot_and_day(n, k):
    d = random_day_design(n, patrol_days=k, random_state=123)
    assert d.shape == (n, 7) and d.dtype == bool
    assert (d.sum(axis=1) == k).all()  # every spot: k patrol days, 7 - k control days
    per_day = d.sum(axis=0)
    assert per_day.sum() == n * k
    assert per_day.min() >= math.floor(n * k / 7) and per_day.max() <= math.ceil(n * k / 7)


def test_random_design_reproducible_with_seed_and_varies_without():
    a = random_day_design(20, patrol_days=3, random_state=2024)
    b = random_day_design(20, patrol_days=3, random_state=2024)
    c = random_day_design(20, patrol_days=3, random_state=2025)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_design_each_spot_day_equally_likely():
    # Over many seeds, every (spot, day) is a patrol day with probability k/7.
    k, n, reps = 3, 5, 2000
    freq = np.mean([random_day_design(n, patrol_days=k, random_state=s) for s in range(reps)],
                   axis=0)
    se = math.sqrt((k / 7) * (1 - k / 7) / reps)
    assert np.abs(freq - k / 7).max() < 5 * se


@pytest.mark.parametrize("kwargs,match", [
    ({"patrol_days": 0, "random_state": 1}, "patrol_days must be between 1 and 6"),
    ({"patrol_days": 7, "random_state": 1}, "at least one control day"),
    ({"patrol_days": 3, "random_state": None}, "random_state is required"),
    ({"patrol_days": 3, "random_state": -4}, "random_state must be between"),
    ({"patrol_days": 2.5, "random_state": 1}, "whole number"),
])
def test_random_design_rejects_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        random_day_design(10, **kwargs)


# --------------------------------------------------------------------------------------------
# Pure: hour profile and dosage
# --------------------------------------------------------------------------------------------


def test_hour_profile_hand_computed_peak_wraps_midnight():
    hours = [22, 23, 23, 0, 1, 1, 1, 12, 12, 15]  # 22-02 holds 7 of 10
    t = pd.Series(pd.to_datetime([f"2021-06-0{1 + i % 5} {h:02d}:30" for i, h in enumerate(hours)]))
    prof = hour_profile(t, pd.Series(["minute"] * len(t)), window_h=4)
    assert prof.known
    assert prof.counts[22] == 1 and prof.counts[23] == 2 and prof.counts[0] == 1
    assert prof.counts[1] == 3 and prof.counts[12] == 2 and sum(prof.counts) == 10
    assert (prof.peak_start, prof.peak_end) == (22, 2)
    assert prof.peak_share == pytest.approx(0.7)


def test_hour_profile_without_times_says_unknown():
    t = pd.Series(pd.to_datetime(["2021-06-01", "2021-07-01"]))
    prof = hour_profile(t, pd.Series(["minute", "month"]))
    assert not prof.known and prof.note == NO_TIME_OF_DAY == "no time-of-day data; peak hours unknown"
    assert prof.counts == () and prof.peak_start is None


def test_koper_band_inclusive():
    assert list(in_koper_band([9.99, 10, 15, 20, 20.01])) == [False, True, True, True, False]


def _hand_plan() -> pd.DataFrame:
    d1, d2, d3 = date(2022, 1, 3), date(2022, 1, 4), date(2022, 1, 5)
    rows = [(1, d1, "patrol"), (1, d2, "control"), (1, d3, "patrol"),
            (2, d1, "control"), (2, d2, "patrol"), (2, d3, "control")]
    return pd.DataFrame([(s, d, a, 2 if a == "patrol" else 0, 30.0 if a == "patrol" else 0.0)
                         for s, d, a in rows],
                        columns=["spot", "day", "arm", "visits_planned", "minutes_planned"])


def test_dosage_hand_computed():
    d1, d2 = date(2022, 1, 3), date(2022, 1, 4)
    visits = pd.DataFrame({
        "spot": [1, 1, 1, 1, 2], "day": [d1, d1, d1, d2, d2],
        "minutes": [12.0, 25.0, 15.0, 9.0, 20.0], "engagements": [1, 0, 2, 0, 4],
    })
    r = dosage(_hand_plan(), visits)
    t = r.totals
    # planned: 3 patrol spot-days x 2 visits x 15 minutes
    assert t["visits_planned"] == 6 and t["minutes_planned"] == 90.0
    assert t["visits_delivered"] == 4  # spot 1 day 1 (3) + spot 2 day 2 (1)
    assert t["visits_credited"] == 3  # min(3, 2) + min(1, 2): extra visits do not count twice
    assert t["completion"] == pytest.approx(3 / 6)
    assert t["minutes_delivered"] == pytest.approx(12 + 25 + 15 + 20)
    assert t["visits_logged"] == 5
    assert t["koper_visits"] == 3 and t["koper_share"] == pytest.approx(3 / 5)  # 12, 15, 20
    assert t["contamination_visits"] == 1 and t["contamination_minutes"] == 9.0
    assert t["contaminated_spot_days"] == 1
    assert t["interactions"]["engagements"] == 7 and t["interactions"]["arrests"] == 0
    row = r.days.set_index(["spot", "day"]).loc[(1, d1)]
    assert row["minutes"] == 52.0 and row["visits"] == 3 and row["visits_credited"] == 2
    sp = r.spots.set_index("spot")
    assert sp.loc[1, "completion"] == pytest.approx(2 / 4)
    assert sp.loc[2, "completion"] == pytest.approx(1 / 2)
    assert sp.loc[1, "contamination"] == 1 and sp.loc[2, "contamination"] == 0
    # a week in progress: only day 1 is over (spot 1 patrol, 2 planned, 2 credited)
    mid = dosage(_hand_plan(), visits, days_before=d2).totals
    assert mid["visits_planned_to_date"] == 2 and mid["visits_credited_to_date"] == 2
    assert mid["completion_to_date"] == 1.0 and mid["visits_planned"] == 6


def test_dosage_with_no_visits():
    r = dosage(_hand_plan(), pd.DataFrame({"spot": [], "day": [], "minutes": []}))
    assert r.totals["visits_logged"] == 0 and r.totals["koper_share"] is None
    assert r.totals["completion"] == 0.0


# --------------------------------------------------------------------------------------------
# Brute-force oracle on the raw police.uk files
# --------------------------------------------------------------------------------------------


def _brute_force_cells(months, district, *, weighted: bool, cell_m: float = 150.0):
    """Recount harm per cell straight from the CSV files (no Guardian code)."""
    raw = pd.concat([pd.read_csv(gzip.open(f)) for f in _files(months)], ignore_index=True)
    lsoa = pd.read_csv(LSOA_CSV, dtype=str)
    codes = set(lsoa.loc[(lsoa["force"] == "Essex") & (lsoa["lad_name"] == district),
                         "lsoa_code"])
    assert len(codes) > 50
    raw = raw[raw["LSOA code"].isin(codes) & raw["Crime type"].isin(DEFAULT_PATROL_CATEGORIES)]
    raw = raw[raw["Longitude"].notna() & raw["Latitude"].notna()]
    raw = raw.drop_duplicates("Crime ID")
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(
        raw["Longitude"].to_numpy(), raw["Latitude"].to_numpy())
    w = pd.read_csv(HARM_CSV).set_index("category")["weight"]
    df = pd.DataFrame({"gx": np.floor(x / cell_m).astype(int), "gy": np.floor(y / cell_m).astype(int),
                       "harm": raw["Crime type"].map(w).to_numpy() if weighted else 1.0})
    cells = df.groupby(["gx", "gy"]).agg(harm=("harm", "sum"), offences=("harm", "size"))
    return cells.reset_index(), float(df["harm"].sum()), len(df)


def _assert_top_cells(plan, cells, total_harm, total_n, n):
    got = pd.DataFrame(plan["spots"])
    assert len(got) == n
    # harm of the k-th spot equals the k-th largest cell harm (ties allowed in any order)
    ranked = cells.sort_values(["harm", "offences"], ascending=False).reset_index(drop=True)
    np.testing.assert_allclose(got["harm"].to_numpy(), ranked["harm"].to_numpy()[:n], rtol=1e-9)
    cut = ranked["harm"].iloc[n - 1]
    must = {(int(a), int(b)) for a, b in ranked.loc[ranked["harm"] > cut + 1e-6, ["gx", "gy"]]
            .itertuples(index=False)}
    may = {(int(a), int(b)) for a, b in ranked.loc[ranked["harm"] >= cut - 1e-6, ["gx", "gy"]]
           .itertuples(index=False)}
    chosen = set(zip(got["gx"], got["gy"], strict=True))
    assert must <= chosen <= may
    # each spot's offences, harm and share agree with the recount of its own cell
    by_cell = cells.set_index(["gx", "gy"])
    for s in plan["spots"]:
        c = by_cell.loc[(s["gx"], s["gy"])]
        assert s["offences"] == c["offences"]
        assert s["harm"] == pytest.approx(c["harm"], rel=1e-9)
        assert s["share_harm"] == pytest.approx(c["harm"] / total_harm, rel=1e-9)
        assert s["share_offences"] == pytest.approx(c["offences"] / total_n, rel=1e-9)
        assert s["x"] == pytest.approx((s["gx"] + 0.5) * 150.0)
    assert plan["targeting"]["district_offences"] == total_n
    assert plan["targeting"]["share_harm"] == pytest.approx(got["harm"].sum() / total_harm)


def test_plan_spots_equal_brute_force_recount_of_essex(engine):
    ingest(engine, _files(Q4), workers=1)
    plan = S.create_plan(engine, dataset="Essex Police", district="southend", week="2022-01-03",
                         spots=20, lookback_months=3)
    assert plan["district"] == SOUTHEND
    assert plan["targeting"]["months_used"] == Q4 and plan["targeting"]["months_missing"] == []
    cells, total_h, total_n = _brute_force_cells(Q4, SOUTHEND, weighted=True)
    _assert_top_cells(plan, cells, total_h, total_n, 20)
    # says what it did: harm table, police-generated exclusion, approximate locations, no hours
    tg = plan["targeting"]
    assert tg["harm_table"] == "harm_index_v1" and "harm_index_v1" in tg["harm_basis"]
    assert plan["parameters"]["excluded_categories"] == ["Drugs", "Possession of weapons"]
    assert "excluded from targeting by default" in tg["excluded_note"]
    assert tg["location_note"] == "approximate (snapped map points)"
    assert plan["peak_hours"] == "no time-of-day data; peak hours unknown"
    assert plan["hours"]["counts"] == []
    assert all("approximate" in s["why"] for s in plan["spots"])
    # every spot patrolled every day without a random design: 3 visits x 15 minutes
    assert plan["parameters"]["design"] == "every-day" and plan["parameters"]["seed"] is None
    assert all(len(s["patrol_days"]) == 7 for s in plan["spots"])
    d = S.plan_dosage(engine, plan_id=plan["id"])
    assert d["totals"]["visits_planned"] == 20 * 7 * 3
    assert d["totals"]["minutes_planned"] == 20 * 7 * 3 * 15.0

    # counts instead of harm: the top cells by offences
    plan_c = S.create_plan(engine, dataset="Essex Police", district=SOUTHEND, week="2022-01-10",
                           spots=15, lookback_months=3, harm_table=None)
    cells_c, total_c, n_c = _brute_force_cells(Q4, SOUTHEND, weighted=False)
    _assert_top_cells(plan_c, cells_c, total_c, n_c, 15)
    assert plan_c["targeting"]["harm_table"] is None
    assert plan_c["targeting"]["harm_basis"].startswith("counts")


# --------------------------------------------------------------------------------------------
# Store: design stored with its seed, dosage on a hand-made log
# --------------------------------------------------------------------------------------------


@pytest.fixture
def dec_store(engine):
    ingest(engine, _files(["2021-12"]), workers=1)
    return engine


def _grid(plan) -> np.ndarray:
    return np.array([[d in s["patrol_days"] for d in plan["days"]] for s in plan["spots"]])


def test_random_day_plan_is_reproducible_and_balanced(dec_store):
    plan = S.create_plan(dec_store, dataset="Essex Police", district=SOUTHEND, week="2022-01-03",
                         spots=10, lookback_months=1, random_days=3, random_state=99)
    p = plan["parameters"]
    assert p["design"] == "random" and p["seed"] == 99 and p["random_days"] == 3
    g = _grid(plan)
    assert np.array_equal(g, random_day_design(10, patrol_days=3, random_state=99))
    assert (g.sum(axis=1) == 3).all() and set(g.sum(axis=0)) <= {4, 5}
    assert all(len(s["control_days"]) == 4 for s in plan["spots"])
    # the same seed gives the same design for another district; stored plans read back the same
    other = S.create_plan(dec_store, dataset="Essex Police", district="Basildon",
                          week="2022-01-03", spots=10, lookback_months=1, random_days=3,
                          random_state=99)
    assert np.array_equal(_grid(other), g)
    assert S.get_plan(dec_store, plan_id=f"P-{plan['id']}") == plan
    # no seed given: one is drawn and stored, so the design can still be reproduced
    drawn = S.create_plan(dec_store, dataset="Essex Police", district="Colchester",
                          week="2022-01-03", spots=6, lookback_months=1, random_days=2)
    seed = drawn["parameters"]["seed"]
    assert isinstance(seed, int)
    assert np.array_equal(_grid(drawn), random_day_design(6, patrol_days=2, random_state=seed))


def test_dosage_on_hand_made_log(dec_store):
    plan = S.create_plan(dec_store, dataset="Essex Police", district=SOUTHEND, week="2022-01-03",
                         spots=3, lookback_months=1, visits_per_day=2, minutes=15,
                         random_days=3, random_state=5)
    s1, s2 = plan["spots"][0], plan["spots"][1]
    a, c = s1["patrol_days"][0], s1["control_days"][0]
    b = s2["patrol_days"][0]
    log = [  # spot, day, start, end (local, GMT in January), minutes
        (1, a, "14:00", "14:12"), (1, a, "16:00", "16:25"), (1, a, "18:00", "18:15"),
        (1, c, "10:00", "10:09"), (2, b, "09:00", "09:20"),
    ]
    for i, (spot, day, st, en) in enumerate(log):
        v = S.log_visit(dec_store, plan_id=plan["id"], spot=spot, start=f"{day}T{st}",
                        end=f"{day}T{en}", officer="PC 4321" if i % 2 else "Team Alpha",
                        engagements=i, business_checks=1)
        assert v["contamination"] == (day == c and spot == 1)
    # an aware time is converted; this one is 23:50 local on the plan's last day
    last = plan["days"][-1]
    v = S.log_visit(dec_store, plan_id=plan["id"], spot=3, officer="PC 9",
                    start=datetime.fromisoformat(f"{last}T23:50+00:00"),
                    end=datetime.fromisoformat(f"{last}T23:59+00:00") + timedelta(minutes=6))
    assert v["day"] == last and v["minutes"] == 15.0
    s3_arm = "patrol" if last in plan["spots"][2]["patrol_days"] else "control"
    assert v["arm"] == s3_arm

    d = S.plan_dosage(dec_store, plan_id=plan["id"])
    t = d["totals"]
    extra_patrol = 1 if s3_arm == "patrol" else 0
    assert t["visits_planned"] == 3 * 3 * 2 and t["minutes_planned"] == 3 * 3 * 2 * 15.0
    assert t["visits_logged"] == 6
    assert t["visits_delivered"] == 4 + extra_patrol
    assert t["visits_credited"] == 2 + 1 + extra_patrol
    assert t["completion"] == pytest.approx((3 + extra_patrol) / 18)
    assert t["minutes_delivered"] == pytest.approx(12 + 25 + 15 + 20 + 15 * extra_patrol)
    assert t["koper_visits"] == 4 and t["koper_share"] == pytest.approx(4 / 6)  # 12, 15, 20, 15
    assert t["contamination_visits"] == 1 + (1 - extra_patrol)
    assert t["interactions"]["business_checks"] == 5 and t["interactions"]["engagements"] == 10
    day1 = next(r for r in d["days"] if r["rank"] == 1 and r["day"] == a)
    assert day1["minutes"] == 52.0 and day1["visits"] == 3 and day1["visits_credited"] == 2
    ctl = next(r for r in d["days"] if r["rank"] == 1 and r["day"] == c)
    assert ctl["contamination"] == 1 and ctl["minutes"] == 9.0
    assert any("control days (contamination)" in w for w in d["warnings"])
    flagged = [v for v in d["visits"] if v["contamination"]]
    assert {(v["spot"], v["day"]) for v in flagged} >= {(1, c)}
    # as_of before the first visit: nothing delivered yet, and the plan is "in progress"
    first = datetime.fromisoformat(f"{plan['week_start']}T00:00+00:00")
    early = S.plan_dosage(dec_store, plan_id=plan["id"], as_of=first)
    assert early["status"] == "in progress (day 1 of 7)"
    assert early["totals"]["visits_logged"] == 0
    assert early["totals"]["visits_planned_to_date"] == 0
    assert early["totals"]["completion_to_date"] is None
    later = S.plan_dosage(dec_store, plan_id=plan["id"],
                          as_of=datetime.fromisoformat(f"{plan['days'][3]}T12:00+00:00"))
    planned_3 = sum(2 for s in plan["spots"] for d in s["patrol_days"] if d < plan["days"][3])
    assert later["totals"]["visits_planned_to_date"] == planned_3


def test_briefing_section(dec_store):
    plan = S.create_plan(dec_store, dataset="Essex Police", district=SOUTHEND, week="2022-01-03",
                         spots=4, lookback_months=1, random_days=3, random_state=1)
    day = plan["spots"][0]["patrol_days"][0]
    S.log_visit(dec_store, plan_id=plan["id"], spot=1, start=f"{day}T20:00", end=f"{day}T20:14",
                officer="PC 1")
    as_of = datetime(2022, 1, 20, tzinfo=UTC)
    sec = S.patrol_section_data(dec_store, dataset="Essex Police", as_of=as_of)
    assert [p["ref"] for p in sec["plans"]] == [plan["ref"]]
    p = sec["plans"][0]
    assert p["status"] == "ended" and p["seed"] == 1 and p["spots"] == 4
    assert p["totals"]["visits_logged"] == 1 and p["totals"]["koper_visits"] == 1
    assert sec["totals"]["visits_planned"] == 4 * 3 * 3
    assert sec["totals"]["completion"] == pytest.approx(1 / 36)
    assert sec["totals"]["visits_planned_to_date"] == 36
    assert sec["totals"]["completion_to_date"] == pytest.approx(1 / 36)
    assert "no time-of-day data; peak hours unknown" in sec["caveats"]
    assert any("approximate (snapped map points)" in c for c in sec["caveats"])
    # a visit after "as of" is not counted; a plan far from the period is not listed
    before = S.patrol_section_data(dec_store, dataset="Essex Police",
                                   as_of=datetime(2022, 1, 3, tzinfo=UTC))
    assert before["plans"][0]["totals"]["visits_logged"] == 0
    later = S.patrol_section_data(dec_store, dataset="Essex Police",
                                  as_of=datetime(2022, 6, 1, tzinfo=UTC))
    assert later["plans"] == []


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_validation_errors_are_clear(dec_store):
    e = dec_store
    plan = S.create_plan(e, dataset="Essex Police", district=SOUTHEND, week="2022-01-03",
                         spots=5, lookback_months=1, random_days=3, random_state=3)
    pid, day = plan["id"], plan["spots"][0]["patrol_days"][0]
    ok = {"plan_id": pid, "spot": 1, "start": f"{day}T14:00", "end": f"{day}T14:15",
          "officer": "PC 1"}
    with pytest.raises(InputError, match=r"end .*T13:50.* is not after start .*T14:00"):
        S.log_visit(e, **{**ok, "end": f"{day}T13:50"})
    with pytest.raises(InputError, match="is not after start"):
        S.log_visit(e, **{**ok, "end": ok["start"]})
    with pytest.raises(NotFound, match=f"plan P-{pid} has spots 1-5; there is no spot 9"):
        S.log_visit(e, **{**ok, "spot": 9})
    with pytest.raises(NotFound, match=r"no patrol plan P-999; latest plans: P-"):
        S.log_visit(e, **{**ok, "plan_id": 999})
    with pytest.raises(NotFound, match="no patrol plan P-999"):
        S.plan_dosage(e, plan_id="P-999")
    with pytest.raises(InputError, match="is not a plan id"):
        S.plan_dosage(e, plan_id="plan twelve")
    with pytest.raises(InputError, match=r"outside plan P-\d+'s week 2022-01-03..2022-01-09"):
        S.log_visit(e, **{**ok, "start": "2022-01-10T09:00", "end": "2022-01-10T09:15"})
    with pytest.raises(InputError, match="lasts 24.0 hours"):
        S.log_visit(e, **{**ok, "end": (date.fromisoformat(day) + timedelta(days=1)).isoformat()
                          + "T14:00"})
    with pytest.raises(InputError, match="never the name of a member of the public"):
        S.log_visit(e, **{**ok, "officer": "  "})
    with pytest.raises(InputError, match="arrests must be between 0"):
        S.log_visit(e, **{**ok, "arrests": -1})
    with pytest.raises(InputError, match="start 'yesterday' is not a date-time"):
        S.log_visit(e, **{**ok, "start": "yesterday"})
    with pytest.raises(InputError, match="does not exist or is ambiguous in Europe/London"):
        S.log_visit(e, **{**ok, "start": "2022-03-27T01:30", "end": "2022-03-27T02:45"})
    S.log_visit(e, **ok)
    with pytest.raises(Conflict, match="overlapping this one"):
        S.log_visit(e, **ok)
    # planning
    base = {"dataset": "Essex Police", "district": SOUTHEND, "week": "2022-02-07",
            "lookback_months": 1}
    with pytest.raises(Conflict, match=f"plan P-{pid} already exists for {SOUTHEND}"):
        S.create_plan(e, **{**base, "week": "2022-01-03"})
    with pytest.raises(NotFound, match="no district 'Atlantis'"):
        S.create_plan(e, **{**base, "district": "Atlantis"})
    with pytest.raises(InputError, match="matches several districts"):
        S.create_plan(e, **{**base, "district": "B"})
    with pytest.raises(NotFound, match="no dataset 'Kent Police'"):
        S.create_plan(e, **{**base, "dataset": "Kent Police"})
    with pytest.raises(InputError, match="seed was given without random days"):
        S.create_plan(e, **base, random_state=4)
    with pytest.raises(InputError, match="random_days must be between 1 and 6"):
        S.create_plan(e, **base, random_days=7)
    with pytest.raises(InputError, match="week '2022-13-01' is not a real date"):
        S.create_plan(e, **{**base, "week": "2022-13-01"})
    with pytest.raises(InputError, match="week 'next monday' is not a date"):
        S.create_plan(e, **{**base, "week": "next monday"})
    with pytest.raises(InputError, match="no events of Essex Police before the plan week"):
        S.create_plan(e, **{**base, "week": "2021-12-06"})
    with pytest.raises(InputError, match="mostly found by police activity"):
        S.create_plan(e, **base, categories=["Possession of weapons"])
    with pytest.raises(InputError, match="spots must be between 1 and 500"):
        S.create_plan(e, **base, spots=0)
    with pytest.raises(InputError, match="cell_m must be between"):
        S.create_plan(e, **base, cell_m=-150)
    with pytest.raises(InputError, match="visits_per_day must be between 1 and 48"):
        S.create_plan(e, **base, visits_per_day=0)
    with pytest.raises(InputError, match="minutes must be a number of minutes"):
        S.create_plan(e, **base, minutes="quarter hour")
    with pytest.raises(InputError, match="harm table 'css_v9' not found"):
        S.create_plan(e, **base, harm_table="css_v9")
    # asked for, police-generated categories are allowed and the plan says so
    pg = S.create_plan(e, **base, categories=["Possession of weapons", "Robbery"],
                       include_police_generated=True, spots=3)
    assert pg["parameters"]["excluded_categories"] == ["Drugs"]
    # stale data and missing months are said
    stale = S.create_plan(e, **{**base, "week": "2022-09-05"}, spots=3)
    assert any("9 months before the plan week" in n for n in stale["notes"])


# --------------------------------------------------------------------------------------------
# Exact times: peak hours from a force extract (shared data)
# --------------------------------------------------------------------------------------------


def test_peak_hours_from_exact_times(sqlite_engine, shared_data, tmp_path):
    from guardian.data.extract import ExtractMapping

    src = shared_data / "chicago_aggravated_assaults" / "chicago_aggravated_assaults.csv.gz"
    if not src.exists():
        pytest.skip("chicago_aggravated_assaults not in ../shared/data")
    raw = pd.read_csv(src)
    raw = raw[raw["date"].str.startswith("2019-1")]  # Oct-Dec 2019
    path = tmp_path / "assaults.csv"
    raw.to_csv(path, index=False)
    mapping = ExtractMapping.from_toml(REPO / "mappings" / "chicago_aggravated_assaults.toml")
    ingest(sqlite_engine, [path], mapping=mapping, workers=1)
    plan = S.create_plan(sqlite_engine, dataset="chicago_aggravated_assaults", district="all",
                         week="2020-01-06", spots=25, lookback_months=3)
    assert plan["targeting"]["precision"] == "exact"
    h = plan["hours"]
    assert h["known"] and len(h["counts"]) == 24
    # brute force: hours of the events inside the chosen cells, from the raw file
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:26971", always_xy=True).transform(
        raw["longitude"].to_numpy(), raw["latitude"].to_numpy())
    gx, gy = np.floor(x / 150.0).astype(int), np.floor(y / 150.0).astype(int)
    keys = {(s["gx"], s["gy"]) for s in plan["spots"]}
    inside = np.array([(a, b) in keys for a, b in zip(gx, gy, strict=True)])
    hours = pd.to_datetime(raw["date"]).dt.hour.to_numpy()[inside]
    counts = np.bincount(hours, minlength=24)
    assert h["counts"] == counts.tolist()
    win = [sum(counts[(s + k) % 24] for k in range(4)) for s in range(24)]
    assert h["peak_start"] == int(np.argmax(win))
    assert plan["peak_hours"] == (f"{h['peak_start']:02d}:00-{(h['peak_start'] + 4) % 24:02d}:00"
                                  " local")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


@pytest.fixture
def cli_app():
    import guardian.cli as cli

    cli._register()
    return cli.app


def test_cli_plan_log_dosage(cli_app, tmp_path):
    from guardian.store.db import get_engine

    ingest(get_engine(), _files(["2021-12"]), workers=1)
    runner = CliRunner()
    out = tmp_path / "plan.json"
    res = runner.invoke(cli_app, [
        "patrols", "plan", "--force", "essex", "--district", "Southend", "--week", "2022-01-03",
        "--spots", "5", "--random-days", "3", "--seed", "11", "--lookback-months", "1",
        "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "no time-of-day data; peak hours unknown" in res.output
    assert "seed 11" in res.output and "Southend-on-Sea UA" in res.output
    plan = json.loads(out.read_text())
    assert plan["parameters"]["seed"] == 11 and len(plan["spots"]) == 5
    day = plan["spots"][0]["patrol_days"][0]
    ctl = plan["spots"][0]["control_days"][0]
    res = runner.invoke(cli_app, [
        "patrols", "log", str(plan["id"]), "--spot", "1", "--start", f"{day}T14:00",
        "--end", f"{day}T14:15", "--officer", "PC 1234", "--engagements", "2",
        "--business-checks", "1"])
    assert res.exit_code == 0, res.output
    assert "15 minutes (within the 10-20 minute Koper band)" in res.output
    res = runner.invoke(cli_app, [
        "patrols", "log", plan["ref"], "--spot", "1", "--start", f"{ctl}T09:00",
        "--end", f"{ctl}T09:30", "--officer", "Team B"])
    assert res.exit_code == 0 and "contamination" in res.output
    res = runner.invoke(cli_app, ["patrols", "dosage", str(plan["id"]), "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["totals"]["visits_logged"] == 2 and d["totals"]["koper_visits"] == 1
    assert d["totals"]["contamination_visits"] == 1
    assert d["totals"]["interactions"]["engagements"] == 2
    res = runner.invoke(cli_app, ["patrols", "dosage", str(plan["id"])])
    assert res.exit_code == 0 and "visits on control days (contamination)" in res.output
    res = runner.invoke(cli_app, ["patrols", "show", plan["ref"], "--json"])
    assert res.exit_code == 0 and json.loads(res.output) == plan
    res = runner.invoke(cli_app, ["patrols", "show", plan["ref"]])
    assert res.exit_code == 0 and "why each spot" in res.output
    res = runner.invoke(cli_app, ["patrols", "list"])
    assert res.exit_code == 0 and plan["ref"] in res.output and "random 3/7" in res.output
    # domain errors reach the caller as GuardianError (guardian.cli.main prints them, exit 2)
    res = runner.invoke(cli_app, [
        "patrols", "log", str(plan["id"]), "--spot", "1", "--start", f"{day}T15:00",
        "--end", f"{day}T14:00", "--officer", "PC 1234"])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    res = runner.invoke(cli_app, ["patrols", "dosage", "77"])
    assert isinstance(res.exception, NotFound)
