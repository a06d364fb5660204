"""`guardian evaluate ...` and `guardian survey ...`: numbers, CSV and store inputs, --json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import guardian.cli as cli
from guardian.analysis.evaluation import did_counts, etest, exact_conditional, wdd
from guardian.errors import InputError

REPO = Path(__file__).resolve().parents[2]
ESSEX = REPO / "data" / "police_uk_street_essex"


@pytest.fixture(scope="module")
def app():
    cli._register()
    return cli.app


def _run(app, args):
    res = CliRunner().invoke(app, args)
    return res


def _json(app, args):
    res = _run(app, args + ["--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.output)


def test_wdd_numbers_json_equals_the_function(app):
    doc = _json(app, ["evaluate", "wdd", "--treated-before", "60", "--treated-after", "40",
                      "--control-before", "55", "--control-after", "50", "--buffer-before",
                      "30", "--buffer-after", "35"])
    ref = wdd(60, 40, 55, 50, 30, 35).to_dict()
    assert doc["wdd"]["estimate"] == ref["estimate"] == -10
    assert doc["wdd"]["p_value"] == pytest.approx(ref["p_value"])
    assert doc["wdd"]["smms_level"] == 3 and doc["wdd"]["assumptions"]


def _counts_csv(tmp_path, rng):
    cats = ["Burglary", "Robbery"]
    rows = []
    for a in ["T", "C", "B", "D1", "D2", "D3", "D4", "D5"]:
        for p in range(1, 13):
            for c in cats:
                mu = (30 if c == "Burglary" else 6) * (0.7 if a == "T" and p > 6 else 1)
                rows.append((a, f"2024-{p:02d}", c, rng.poisson(mu)))
    df = pd.DataFrame(rows, columns=["area", "period", "category", "count"])
    f = tmp_path / "counts.csv"
    df.to_csv(f, index=False)
    return f, df


def test_wdd_harm_weighted_and_wdq_from_csv(app, tmp_path):
    f, df = _counts_csv(tmp_path, np.random.default_rng(0))
    base = ["--csv", str(f), "--treated", "T", "--control", "C", "--buffer", "B",
            "--before", "2024-01:2024-06", "--after", "2024-07:2024-12"]
    doc = _json(app, ["evaluate", "wdd", *base])

    def tot(a, lo, hi):
        s = df[(df.area == a) & (df.period >= lo) & (df.period <= hi)]
        return int(s["count"].sum())

    b, a = ("2024-01", "2024-06"), ("2024-07", "2024-12")
    est = (tot("T", *a) - tot("T", *b)) - (tot("C", *a) - tot("C", *b)) + (
        tot("B", *a) - tot("B", *b))
    assert doc["wdd"]["estimate"] == est
    assert doc["inputs"]["periods_each"] == 6
    h = _json(app, ["evaluate", "wdd", *base, "--harm"])
    assert h["wdd"]["method"] == "wdd-weighted" and h["inputs"]["harm_table"]
    from guardian.data.harm_table import load_harm_weights

    w = load_harm_weights().weights
    hest = sum(w[c] * ((df[(df.area == "T") & (df.category == c) & (df.period > "2024-06")]
                        ["count"].sum() - df[(df.area == "T") & (df.category == c) &
                                             (df.period <= "2024-06")]["count"].sum())
                       - (df[(df.area == "C") & (df.category == c) & (df.period > "2024-06")]
                          ["count"].sum() - df[(df.area == "C") & (df.category == c) &
                                               (df.period <= "2024-06")]["count"].sum())
                       + (df[(df.area == "B") & (df.category == c) & (df.period > "2024-06")]
                          ["count"].sum() - df[(df.area == "B") & (df.category == c) &
                                               (df.period <= "2024-06")]["count"].sum()))
               for c in ("Burglary", "Robbery"))
    assert h["wdd"]["estimate"] == pytest.approx(hest)
    q = _json(app, ["evaluate", "wdq", *base])
    assert q["wdq"]["details"]["total_net_effect"] == pytest.approx(
        (tot("T", *b) * tot("C", *a) / tot("C", *b) - tot("T", *a))
        + (tot("B", *b) * tot("C", *a) / tot("C", *b) - tot("B", *a)))
    bad = _run(app, ["evaluate", "wdd", *base[:-1], "2024-07:2024-11"])
    assert isinstance(bad.exception, InputError) and "same length" in str(bad.exception)


def test_etest_did_and_synthetic_from_csv(app, tmp_path):
    f, df = _counts_csv(tmp_path, np.random.default_rng(1))
    e = _json(app, ["evaluate", "etest", "--k1", "40", "--n1", "10", "--k2", "22", "--n2",
                    "10"])
    assert e["etest"]["p_value"] == pytest.approx(etest(40, 10, 22, 10).p_value)
    assert e["exact_conditional"]["p_value"] == pytest.approx(
        exact_conditional(40, 10, 22, 10).p_value)
    d = _json(app, ["evaluate", "did", "--csv", str(f), "--category", "Burglary", "--treated",
                    "T", "--post-from", "2024-07", "--synthetic"])
    sub = df[df.category == "Burglary"][["area", "period", "count"]]
    ref = did_counts(sub, treated_areas=["T"],
                     post_periods=[f"2024-{p:02d}" for p in range(7, 13)])
    assert d["did"]["estimate"] == pytest.approx(ref.estimate, rel=1e-6)
    assert d["did"]["ci_low"] < 0.7 < d["did"]["ci_high"]
    assert d["synthetic"]["method"] == "synthetic" and d["synthetic"]["details"]["weights"]
    bad = _run(app, ["evaluate", "did", "--csv", str(tmp_path / "nope.csv"), "--treated", "T",
                     "--post-from", "2024-07"])
    assert isinstance(bad.exception, InputError)


def test_trial_and_power(app, tmp_path):
    rng = np.random.default_rng(3)
    rows = []
    for s in range(12):
        patrol = rng.permutation(14) < 7
        for d in range(14):
            c = rng.poisson(1.5 * (0.6 if patrol[d] else 1))
            rows.append((f"S{s}", d, "patrol" if patrol[d] else "control", c, 10.0 * c))
    f = tmp_path / "days.csv"
    pd.DataFrame(rows, columns=["spot", "day", "arm", "crimes", "harm"]).to_csv(f, index=False)
    t = _json(app, ["evaluate", "trial", "--csv", str(f), "--permutations", "300"])
    assert t["crime"]["smms_level"] == 5 and t["harm"]["estimate"] < 0
    assert t["summary"]["patrol_spot_days"] == 84
    p = _json(app, ["evaluate", "power", "--rate", "0.5", "--cells", "20", "--drop", "0.2",
                    "--simulations", "500"])
    assert p["weeks"] == 36 and p["weeks_solved"] and p["power_formula"] >= 0.8
    assert 0.15 < p["minimum_detectable_drop"] < 0.21
    out = _run(app, ["evaluate", "power", "--rate", "0.5", "--cells", "20", "--simulations",
                     "200"])
    assert out.exit_code == 0 and "weeks needed: 36" in out.output


def test_survey_check_and_estimate(app, tmp_path):
    import sys

    sys.path.insert(0, str(REPO / "tests" / "analysis"))
    from test_surveys import _survey_files

    f, m, mg = _survey_files(tmp_path, np.random.default_rng(2), n=400)
    q = tmp_path / "quarantine.csv"
    c = _json(app, ["survey", "check", "--file", str(f), "--mapping", str(m), "--quarantine",
                    str(q)])
    assert c["accepted"] == 800 and c["quarantined"] == 6
    assert len(pd.read_csv(q)) == 6
    e = _json(app, ["survey", "estimate", "--file", str(f), "--mapping", str(m), "--margins",
                    str(mg), "--wave", "2026", "--previous-wave", "2025", "--compare",
                    "good_job=0.75", "--compare-label", "the national figure of"])
    (r,) = e["results"]
    assert r["change"]["significant"] and "significantly higher" in r["statement"]
    assert e["margins_quarantined"] == 2
    txt = _run(app, ["survey", "estimate", "--file", str(f), "--mapping", str(m), "--margins",
                     str(mg), "--wave", "2026", "--previous-wave", "2025"])
    assert txt.exit_code == 0 and "think the police do a good job" in txt.output
    bad = _run(app, ["survey", "estimate", "--file", str(f), "--mapping", str(m), "--wave",
                     "2026"])
    assert isinstance(bad.exception, InputError) and "--margins" in str(bad.exception)


def test_counts_from_the_store_match_the_district_query(app):
    from guardian.store.db import get_engine
    from guardian.store.events import monthly_counts_by_district
    from guardian.store.ingest import ingest

    months = ("2018-12", "2019-01")
    engine = get_engine()
    ingest(engine, [ESSEX / f"{m}-essex-street.csv.gz" for m in months])
    ref = pd.concat([monthly_counts_by_district(engine, "Essex Police", m) for m in months])
    engine.dispose()
    ref = ref[ref.category == "Burglary"]

    def k(district, months):
        return int(ref[(ref.district == district) & ref.month.isin(months)]["count"].sum())

    e = _json(app, ["evaluate", "etest", "--force", "essex", "--category", "burglary",
                    "--area", "Colchester", "--before", "2018-12", "--after", "2019-01"])
    assert e["inputs"]["k1"] == k("Colchester", ["2018-12"]) > 0
    assert e["inputs"]["k2"] == k("Colchester", ["2019-01"])
    assert e["inputs"]["n1"] == e["inputs"]["n2"] == 1
    d = _json(app, ["evaluate", "did", "--force", "essex", "--category", "burglary",
                    "--treated", "Colchester", "--post-from", "2019-01", "--family", "poisson"])
    assert d["inputs"]["areas"] == 14  # Essex's 14 districts; no pseudo-area
    assert d["did"]["smms_level"] == 3 and math.isfinite(d["did"]["estimate"])


def test_trial_from_stored_patrol_plans_counts_crimes_per_spot_day(app, tmp_path):
    from guardian.data.extract import ExtractMapping
    from guardian.operations.patrols import service as S
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    full = pd.read_csv(REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv")
    src = tmp_path / "chicago_be_mar_jun.csv"  # the plans' 3 look-back months and 2 weeks
    full[(full["date"] >= "2016-03-01") & (full["date"] <= "2016-06-30")].to_csv(src,
                                                                               index=False)
    engine = get_engine()
    ingest(engine, [src], mapping=ExtractMapping.from_toml(REPO / "mappings" / "chicago_be.toml"))
    plans = [S.create_plan(engine, dataset="chicago_be", district=None, week=w, spots=20,
                           lookback_months=3, random_days=3, random_state=5,
                           categories=["Burglary"]) for w in ("2016-06-06", "2016-06-13")]
    engine.dispose()
    doc = _json(app, ["evaluate", "trial", "--plan", str(plans[0]["id"]), "--plan",
                      str(plans[1]["id"]), "--permutations", "200"])
    assert doc["summary"]["patrol_spot_days"] + doc["summary"]["control_spot_days"] == 280 - \
        7 * doc["summary"]["spots_dropped_without_both_arms"]
    # brute force from the raw file: burglaries in each spot's 150 m cell on its days
    raw = pd.read_csv(src)
    raw["gx"], raw["gy"] = (raw["X"] // 150).astype(int), (raw["Y"] // 150).astype(int)
    total = 0
    for p in plans:
        for s in p["spots"]:
            days = set(s["patrol_days"]) | set(s["control_days"])
            total += int(((raw.gx == s["gx"]) & (raw.gy == s["gy"]) &
                          raw["date"].isin(days)).sum())
    crime = doc["crime"]["details"]
    assert crime["crimes_patrol"] + crime["crimes_control"] == total > 0
    assert doc["inputs"]["plans"] == [p["ref"] for p in plans]


def test_cocoon_effect_from_the_store(app, tmp_path):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from guardian.data.extract import ExtractMapping
    from guardian.operations.cocoons import service as C
    from guardian.operations.cocoons.models import CocoonMember, CocoonVisit
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    full = pd.read_csv(REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv")
    src = tmp_path / "chicago_be_mar_apr.csv"
    full[(full["date"] >= "2016-03-01") & (full["date"] <= "2016-04-30")].to_csv(src,
                                                                               index=False)
    engine = get_engine()
    ingest(engine, [src], mapping=ExtractMapping.from_toml(REPO / "mappings" / "chicago_be.toml"))
    C.open_cocoons(engine, dataset="chicago_be", as_of=datetime(2016, 3, 20, tzinfo=UTC))
    with engine.connect() as conn:
        visits = conn.execute(select(CocoonVisit.id, CocoonVisit.member_id, CocoonVisit.due_at)
                              .where(CocoonVisit.is_victim)).all()
    done = set()
    for i, (vid, mid, due) in enumerate(visits):
        if i % 2 == 0:
            C.record_visit(engine, ref=f"V-{vid}", outcome="spoke",
                           at=(due - timedelta(hours=1)).replace(tzinfo=UTC))
            done.add(mid)
    with engine.connect() as conn:
        keys = set(conn.execute(select(CocoonMember.event_key).where(CocoonMember.id.in_(done)))
                   .scalars())
    engine.dispose()
    doc = _json(app, ["evaluate", "cocoon", "--force", "chicago_be", "--distance", "400",
                      "--days", "14", "--stratum", "none"])
    assert doc["inputs"]["cocooned"] == len(keys) > 0
    r = doc["cocoon"]
    assert r["smms_level"] == 2 and r["method"] == "cocoon"
    assert r["ci_low"] < r["estimate"] < r["ci_high"]
    assert r["details"]["cocooned_indices"] <= len(keys)
