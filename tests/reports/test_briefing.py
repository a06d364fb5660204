"""The monthly coordination briefing: figures against independent counts, honest gaps, rendering,
the store path and the CLI."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import guardian
from conftest import ESSEX
from guardian.analysis.performance import ComparisonGroup
from guardian.data import harm_table
from guardian.data.schema import ASB, CRIME_CATEGORIES, EVENT_COLUMNS
from guardian.errors import NotFound
from guardian.reports.briefing import SECTIONS, build_briefing
from guardian.reports.context import Params, context_from_frames, sources_from_files
from guardian.reports.render import briefing_json, render_html, write_briefing

FILES = sorted(ESSEX.glob("*-essex-street.csv.gz"))


def raw_counts(path) -> dict[str, int]:
    """Independent per-category count of one police.uk street file (csv + gzip only)."""
    out: dict[str, int] = {}
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["Crime type"]] = out.get(row["Crime type"], 0) + 1
    return out


def crime_asb(path) -> tuple[int, int]:
    c = raw_counts(path)
    return sum(v for k, v in c.items() if k != ASB), c.get(ASB, 0)


@pytest.fixture(scope="module")
def essex_ctx():
    from guardian.data.policeuk import read_street

    ev = pd.concat([read_street(f) for f in FILES], ignore_index=True)
    return context_from_frames(
        ev, force="Essex Police", month="2021-12", sources=sources_from_files(FILES)
    )


@pytest.fixture(scope="module")
def essex(essex_ctx) -> dict:
    return build_briefing(essex_ctx)


# ------------------------------------------------------------------------ Essex 2021-12, real data


def test_month_counts_and_daily_averages_match_an_independent_count(essex):
    h = essex["sections"]["headline"]
    dec_crime, dec_asb = crime_asb(ESSEX / "2021-12-essex-street.csv.gz")
    nov_crime, nov_asb = crime_asb(ESSEX / "2021-11-essex-street.csv.gz")
    assert h["crime"]["count"] == dec_crime and h["asb"]["count"] == dec_asb
    pm = h["crime"]["comparisons"]["previous_month"]
    assert pm["available"] and pm["reference_count"] == nov_crime
    assert pm["daily_average"] == pytest.approx(dec_crime / 31)
    assert pm["reference_daily_average"] == pytest.approx(nov_crime / 30)
    assert pm["daily_pct_change"] == pytest.approx((dec_crime / 31 / (nov_crime / 30) - 1) * 100)
    assert pm["pct_change"] == pytest.approx((dec_crime / nov_crime - 1) * 100)
    pa = h["asb"]["comparisons"]["previous_month"]
    assert pa["daily_average"] == pytest.approx(dec_asb / 31)
    assert pa["reference_daily_average"] == pytest.approx(nov_asb / 30)
    assert f"{dec_crime:,} crimes in December 2021" in h["sentences"][0]


def test_missing_reference_months_are_reported_unavailable(essex):
    comps = essex["sections"]["headline"]["crime"]["comparisons"]
    ly = comps["same_month_last_year"]
    assert ly == {
        **ly,
        "available": False,
        "reason": "2020-12 not loaded",
        "pct_change": None,
        "reference_month": "2020-12",
    }
    assert comps["baseline"]["available"] is False
    assert comps["baseline"]["reason"] == "2019-12 not loaded"


def test_twelve_month_windows_are_incomplete_and_not_compared(essex):
    for measure in ("crime", "asb"):
        r = essex["sections"]["headline"][measure]["rolling_12_months"]
        prev = r["previous_12_months"]
        assert prev["available"] is False and prev["pct_change"] is None
        assert prev["current"]["coverage"] == "10 of 12 months"
        assert prev["current"]["missing"] == ["2021-01", "2021-02"]
        assert prev["current"]["total"] is None
        assert "10 of 12 months" in prev["reason"]
        assert r["baseline"]["reference"]["coverage"] == "2 of 12 months"


def test_trend_draws_gaps_not_zeros(essex):
    t = essex["sections"]["trend"]
    rows = {r["month"]: r for r in t["months"]}
    assert rows["2020-06"]["loaded"] is False and rows["2020-06"]["crime"] is None
    assert rows["2021-12"]["crime"] == crime_asb(ESSEX / "2021-12-essex-street.csv.gz")[0]
    assert t["not_loaded_text"] == "2019-03..2021-02"
    assert t["anomalies"] == []


def test_categories_add_up_and_match_the_raw_file(essex):
    c = essex["sections"]["categories"]
    raw = raw_counts(ESSEX / "2021-12-essex-street.csv.gz")
    assert {r["category"]: r["count"] for r in c["rows"]} == {
        cat: raw.get(cat, 0) for cat in list(CRIME_CATEGORIES) + [ASB]
    }
    assert c["rows"][-1]["category"] == ASB and c["rows"][-1]["is_crime"] is False
    assert c["crime_total"] == sum(r["count"] for r in c["rows"] if r["is_crime"])
    assert c["references"]["same_month_last_year"]["available"] is False


def test_districts_rates_and_totals(essex):
    d = essex["sections"]["districts"]
    dec_crime, dec_asb = crime_asb(ESSEX / "2021-12-essex-street.csv.gz")
    assert len(d["rows"]) == 14  # 12 county districts + Southend + Thurrock
    assert (
        sum(r["crime"] for r in d["rows"]) + sum(r["crime"] for r in d["unallocated"]) == dec_crime
    )
    assert sum(r["asb"] for r in d["rows"]) + sum(r["asb"] for r in d["unallocated"]) == dec_asb
    for r in d["rows"]:
        assert r["crime_per_1000"] == pytest.approx(r["crime"] * 1000 / r["population"])
    assert "2011 Census" in d["population_vintage"]


def test_harm_total_and_concentration_brute_force(essex):
    h = essex["sections"]["harm"]
    raw = raw_counts(ESSEX / "2021-12-essex-street.csv.gz")
    w = harm_table.load_harm_weights().weights
    total = sum(raw.get(c, 0) * w[c] for c in CRIME_CATEGORIES)
    assert h["total"] == pytest.approx(total)
    pop = h["population"]
    assert h["per_1000"] == pytest.approx(total * 1000 / pop)
    conc = h["concentration"]
    assert conc["available"]
    top = conc["table"][: conc["k"]]
    crime = sum(raw.get(c, 0) for c in CRIME_CATEGORIES)
    assert conc["offence_share"] == pytest.approx(sum(r["offences"] for r in top) / crime)
    assert conc["harm_share"] >= 0.75
    assert h["index"]["version"] == "harm_index_v1" and "offence mix" in h["index"]["caveat"]


def test_comparison_group_unavailable_when_no_peer_is_loaded(essex):
    c = essex["sections"]["comparison"]
    assert c["not_loaded"][:3] == ["Kent", "Hampshire", "Sussex"]
    rank = c["ranks"]["crime_per_1000"]
    assert rank["available"] is False and "no other member" in rank["reason"]


def test_data_quality_and_footer_sources(essex):
    q = essex["sections"]["data_quality"]["datasets"][0]
    assert q["dataset"] == "Essex Police" and q["months_loaded"] == 15
    assert q["gaps"] == [["2019-03", "2021-02"]]
    srcs = essex["meta"]["sources"]
    assert len(srcs) == 15
    dec = next(s for s in srcs if s["month"] == "2021-12")
    assert (
        dec["sha256"]
        == hashlib.sha256(
            gzip.decompress((ESSEX / "2021-12-essex-street.csv.gz").read_bytes())
        ).hexdigest()
    )
    hashes = sorted(hashlib.sha256(gzip.decompress(f.read_bytes())).hexdigest() for f in FILES)
    (fp,) = essex["meta"]["source_sets"]
    assert fp == {
        "dataset": "Essex Police",
        "files": 15,
        "first_month": "2018-10",
        "last_month": "2021-12",
        "sha256": hashlib.sha256("\n".join(hashes).encode()).hexdigest(),
    }


def test_json_is_strict_and_documented(essex, repo_root):
    text = briefing_json(essex)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert "data:image" not in text  # charts stay in the HTML
    doc = (repo_root / "docs" / "briefing.md").read_text()
    for key in essex["sections"]:
        assert f"`{key}`" in doc, f"section {key} not documented in docs/briefing.md"


def test_html_is_self_contained_and_says_what_is_missing(essex):
    html = render_html(essex)
    assert "<style>" in html and "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "2020-12 not loaded" in html and "10 of 12 months" in html
    for s in essex["meta"]["sources"]:
        assert s["sha256"] in html
    for s in SECTIONS:
        assert f'id="{s.key}"' in html


def test_write_briefing_writes_all_three_files(essex_ctx, tmp_path):
    paths = write_briefing(essex_ctx, tmp_path / "out")
    assert paths["pdf"].read_bytes()[:5] == b"%PDF-"
    assert paths["pdf"].stat().st_size > 20_000
    assert json.loads(paths["json"].read_text())["meta"]["month"] == "2021-12"
    assert paths["html"].read_text().startswith("<!DOCTYPE html>")


def test_every_pdf_page_carries_the_footer(essex):
    """Lay the PDF out with WeasyPrint and read the text of each page, margins included."""
    from weasyprint import HTML

    (fp,) = essex["meta"]["source_sets"]
    doc = HTML(string=render_html(essex)).render()
    assert len(doc.pages) >= 4
    for i, page in enumerate(doc.pages, 1):
        text = " ".join(
            b.text
            for b in page._page_box.descendants()
            if isinstance(getattr(b, "text", None), str)
        )
        assert f"Guardian {guardian.__version__}" in text and "baseline_year=2019" in text, (
            f"page {i}"
        )
        assert "Essex Police: 15 police.uk files 2018-10..2021-12" in text, f"page {i}"
        assert fp["sha256"][:40] in text.replace(" ", ""), f"page {i}"


def test_month_not_loaded_is_refused(essex_ctx):
    with pytest.raises(NotFound, match="2020-12 is not loaded"):
        context_from_frames(essex_ctx.events, force="Essex Police", month="2020-12")


# ------------------------------------------------------------------------ small hand-made frames


def synthetic(
    dataset: str, plan: dict[str, dict[str, int]], district: str = "North"
) -> pd.DataFrame:
    """Event frame with ``plan[month][category]`` events in one district."""
    rows = []
    for month, cats in plan.items():
        for cat, n in cats.items():
            rows += [(month, cat)] * n
    n = len(rows)
    df = pd.DataFrame(
        {
            "event_id": [f"{dataset}-{i}" for i in range(n)],
            "dataset": dataset,
            "month": [r[0] for r in rows],
            "time": pd.to_datetime([r[0] + "-01" for r in rows]).tz_localize("UTC"),
            "time_precision": "month",
            "category": [r[1] for r in rows],
            "dwelling": pd.NA,
            "x": 1.0,
            "y": 1.0,
            "crs": "EPSG:27700",
            "lon": 0.0,
            "lat": 51.0,
            "location": "",
            "lsoa_code": "",
            "lsoa_name": "",
            "district": district,
            "outcome": "",
        }
    )
    return df.astype({c: t for c, t in EVENT_COLUMNS.items() if c != "time"})


def _months(start_year: int, end_year: int) -> list[str]:
    return [f"{y}-{m:02d}" for y in range(start_year, end_year + 1) for m in range(1, 13)]


def test_hand_made_context_every_figure(tmp_path):
    # Force F: 2019-01..2021-12 complete; 10 burglaries + 5 ASB each month, except 11 burglaries in
    # 2021-12 (+10%: not an anomaly); its peer G: 4 robberies each month.
    months = _months(2019, 2021)
    f_plan = {m: {"Burglary": 11 if m == "2021-12" else 10, ASB: 5} for m in months}
    g_plan = {m: {"Robbery": 4} for m in months}
    ev = pd.concat([synthetic("Essex Police", f_plan), synthetic("Kent Police", g_plan)])
    group = ComparisonGroup(
        force="Essex", members=("Kent", "Sussex"), as_of="2020-01-01", source="t"
    )
    ctx = context_from_frames(
        ev,
        force="Essex Police",
        month="2021-12",
        group=group,
        populations={"Essex Police": 2000, "Kent Police": 1000},
        district_population=pd.DataFrame(
            {"district": ["North", "South"], "population": [1500, 500]}
        ),
    )
    b = build_briefing(ctx)
    h = b["sections"]["headline"]
    assert h["crime"]["count"] == 11 and h["asb"]["count"] == 5
    ly = h["crime"]["comparisons"]["same_month_last_year"]
    assert (
        ly["available"] and ly["reference_count"] == 10 and ly["pct_change"] == pytest.approx(10.0)
    )
    bl = h["crime"]["comparisons"]["baseline"]
    assert bl["available"] and bl["reference_month"] == "2019-12"
    prev12 = h["crime"]["rolling_12_months"]["previous_12_months"]
    assert (
        prev12["available"]
        and prev12["current"]["total"] == 121
        and prev12["reference"]["total"] == 120
    )
    assert prev12["pct_change"] == pytest.approx(121 / 120 * 100 - 100)
    assert h["asb"]["rolling_12_months"]["baseline"]["pct_change"] == pytest.approx(0.0)
    # harm: 11 burglaries x weight; per 1,000 of 2,000 residents
    w = ctx.harm_weights.weights
    assert h["harm"]["total"] == pytest.approx(11 * w["Burglary"])
    assert h["harm"]["per_1000"] == pytest.approx(11 * w["Burglary"] / 2)
    # comparison: Essex 11 crimes / 2,000 = 5.5 per 1,000; Kent 4 / 1,000 = 4 per 1,000
    c = b["sections"]["comparison"]
    rk = c["ranks"]["crime_per_1000"]
    assert rk["available"] and rk["rank"] == 1 and rk["of"] == 2
    assert rk["group_average"] == pytest.approx(4.75)
    hr = c["ranks"]["harm_per_1000"]
    exp_e, exp_k = 11 * w["Burglary"] / 2, 4 * w["Robbery"]
    assert hr["value"] == pytest.approx(exp_e) and hr["rank"] == (1 if exp_e > exp_k else 2)
    assert c["not_loaded"] == ["Sussex"]
    assert any("ranks 1st of 2" in s for s in h["sentences"])
    # districts: all in North (1,500 residents); South has zero
    d = {r["district"]: r for r in b["sections"]["districts"]["rows"]}
    assert d["North"]["crime"] == 11 and d["North"]["crime_per_1000"] == pytest.approx(11 / 1.5)
    assert d["South"]["crime"] == 0 and d["South"]["crime_per_1000"] == 0
    assert b["sections"]["trend"]["anomalies"] == []
    assert (
        b["sections"]["harm"]["concentration"]["sentence"]
        == "1 category is 100% of offences but 100% of harm"
    )


def test_anomalous_month_is_kept_out_of_comparisons():
    months = _months(2020, 2021)
    plan = {m: {"Burglary": 300 if m != "2021-11" else 100, ASB: 50} for m in months}
    ev = synthetic("Essex Police", plan)
    ctx = context_from_frames(
        ev,
        force="Essex Police",
        month="2021-12",
        group=None,
        populations={"Essex Police": 1000},
        district_population=pd.DataFrame({"district": ["North"], "population": [1000]}),
    )
    b = build_briefing(ctx)
    h = b["sections"]["headline"]
    assert b["sections"]["trend"]["anomalies"] == ["2021-11"]
    pm = h["crime"]["comparisons"]["previous_month"]
    assert pm["available"] is False and "2021-11 flagged as a data anomaly" in pm["reason"]
    assert h["crime"]["rolling_12_months"]["previous_12_months"]["available"] is False
    # ASB is judged on its own: its previous-month comparison stands
    assert h["asb"]["comparisons"]["previous_month"]["available"] is True
    q = b["sections"]["data_quality"]["datasets"][0]
    assert [a["month"] for a in q["anomalies"]] == ["2021-11"]
    assert q["anomalies"][0]["asb_relative_departure"] == pytest.approx(0.0, abs=0.05)
    assert b["sections"]["comparison"]["available"] is False
    html = render_html(b)
    assert "supply gap" in html
    assert "Not available: no comparison group configured for Essex" in html


def test_params_change_the_baseline():
    months = _months(2018, 2021)
    plan = {m: {"Burglary": 10 if m < "2019-01" else 12} for m in months}
    ctx = context_from_frames(
        synthetic("Essex Police", plan),
        force="Essex Police",
        month="2021-12",
        params=Params(baseline_year=2018),
        group=None,
        populations={"Essex Police": 1000},
        district_population=pd.DataFrame({"district": ["North"], "population": [1000]}),
    )
    b = build_briefing(ctx)
    bl = b["sections"]["headline"]["crime"]["comparisons"]["baseline"]
    assert bl["reference_month"] == "2018-12" and bl["pct_change"] == pytest.approx(20.0)
    assert b["meta"]["parameters"]["baseline_year"] == 2018


def test_params_validation_and_partial_anomaly_settings():
    from guardian.errors import InputError

    p = Params(anomaly={"z_threshold": 4.0})
    assert p.anomaly["z_threshold"] == 4.0 and p.anomaly["window_months"] == 12
    with pytest.raises(InputError, match="unknown anomaly parameters"):
        Params(anomaly={"zscore": 4.0})
    with pytest.raises(InputError, match="baseline_year"):
        Params(baseline_year=19)
    with pytest.raises(InputError, match="harm_target"):
        Params(harm_target=0)
    with pytest.raises(InputError, match="trend_months"):
        Params(trend_months=1)


# ------------------------------------------------------------------------ store and CLI


def test_gather_context_from_the_store(sqlite_engine):
    from guardian.reports.context import gather_context
    from guardian.store.ingest import ingest

    nov, dec = ESSEX / "2021-11-essex-street.csv.gz", ESSEX / "2021-12-essex-street.csv.gz"
    ingest(sqlite_engine, [nov, dec], workers=1)
    ctx = gather_context(sqlite_engine, "essex", "2021-12")
    assert ctx.force == "Essex Police" and ctx.loaded_months["Essex Police"] == [
        "2021-11",
        "2021-12",
    ]
    b = build_briefing(ctx)
    h = b["sections"]["headline"]
    assert (h["crime"]["count"], h["asb"]["count"]) == crime_asb(dec)
    assert h["crime"]["comparisons"]["previous_month"]["reference_count"] == crime_asb(nov)[0]
    assert b["sections"]["data_quality"]["datasets"][0]["quarantined"] == 0
    assert {s["sha256"] for s in b["meta"]["sources"]} == {
        hashlib.sha256(gzip.decompress(p.read_bytes())).hexdigest() for p in (nov, dec)
    }
    # the counts the database gives match a count of the events it returns
    from guardian.analysis.performance import monthly_counts

    assert "events" not in ctx.__dict__  # the figures never needed the event frame
    own = monthly_counts(ctx.events).sort_values(["month", "category"]).reset_index(drop=True)
    db = ctx.counts.sort_values(["month", "category"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        own[["dataset", "month", "category", "count"]].astype(str),
        db[["dataset", "month", "category", "count"]].astype(str),
    )
    keys = ["month", "district", "category"]
    ev_d = monthly_counts(ctx.events[ctx.events["month"] == "2021-12"], by=keys)
    pd.testing.assert_frame_equal(
        ev_d.sort_values(keys).reset_index(drop=True).astype(str),
        ctx.district_counts.sort_values(keys).reset_index(drop=True)[keys + ["count"]].astype(str),
    )
    with pytest.raises(NotFound):
        gather_context(sqlite_engine, "essex", "2021-10")
    with pytest.raises(NotFound):
        gather_context(sqlite_engine, "kent", "2021-12")


@pytest.mark.shared
def test_store_with_a_peer_force_ranks_and_flags(sqlite_engine, shared_data):
    """Essex and Kent loaded: Essex is ranked against Kent; Kent's 2018-12 supply gap is flagged
    and keeps Kent out of the 2018-12 ranking."""
    from guardian.reports.context import gather_context
    from guardian.store.ingest import ingest

    msg = shared_data / "police_uk_street_msg_forces"
    kent = [
        msg / f"{m}-kent-street.csv.gz"
        for m in ("2018-10", "2018-11", "2018-12", "2019-01", "2019-02")
    ]
    essex = [ESSEX / f"{m}-essex-street.csv.gz" for m in ("2018-12",)]
    reports = ingest(sqlite_engine, kent + essex)
    b = build_briefing(gather_context(sqlite_engine, "essex", "2018-12"))
    c = b["sections"]["comparison"]
    kent_row = next(r for r in c["members"] if r["force"] == "Kent")
    assert kent_row["month_is_anomaly"] and kent_row["crime_per_1000"] is None
    assert c["ranks"]["crime_per_1000"]["available"] is False  # only Essex left
    q = {d["dataset"]: d for d in b["sections"]["data_quality"]["datasets"]}
    assert [a["month"] for a in q["Kent Police"]["anomalies"]] == ["2018-11", "2018-12"]
    rep = next(r for r in reports if r.name.endswith("2018-12-kent-street.csv.gz"))
    assert sum(crime_asb(kent[2])) == rep.rows_read == rep.loaded + rep.quarantined + rep.duplicates
    assert q["Kent Police"]["month_rows"] == rep.loaded
    # briefing Kent itself for 2018-12: every comparison involving the month is withheld
    k = build_briefing(gather_context(sqlite_engine, "kent", "2018-12"))
    pm = k["sections"]["headline"]["crime"]["comparisons"]["previous_month"]
    assert pm["available"] is False and "flagged as a data anomaly" in pm["reason"]
    r = k["sections"]["comparison"]["ranks"]["crime_per_1000"]
    assert r["available"] is False and "Kent has no value" in r["reason"]
    # Essex 2018-12 against Kent in a normal month is ranked
    b2 = build_briefing(gather_context(sqlite_engine, "kent", "2019-01"))
    assert (
        b2["sections"]["comparison"]["ranks"]["crime_per_1000"]["available"] is False
    )  # Essex 2019-01 not loaded


def _cli() -> typer.Typer:
    from guardian.cli import brief

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    brief.register(app)
    return app


def test_cli_brief_from_files(tmp_path):
    out = tmp_path / "b"
    res = CliRunner().invoke(
        _cli(),
        [
            "brief",
            "--force",
            "essex",
            "--out",
            str(out),
            "--no-pdf",
            "--files",
            str(ESSEX / "2021-11-essex-street.csv.gz"),
            "--files",
            str(ESSEX / "2021-12-essex-street.csv.gz"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "briefing.json").read_text())
    assert data["meta"]["month"] == "2021-12"  # latest month by default
    assert (
        data["sections"]["headline"]["crime"]["count"]
        == crime_asb(ESSEX / "2021-12-essex-street.csv.gz")[0]
    )
    assert (out / "briefing.html").exists() and not (out / "briefing.pdf").exists()


def test_cli_brief_from_the_store(tmp_path):
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    ingest(
        get_engine(), [ESSEX / "2021-12-essex-street.csv.gz"], workers=1
    )  # GUARDIAN_HOME is per test
    out = tmp_path / "b"
    res = CliRunner().invoke(
        _cli(), ["brief", "--force", "essex", "--month", "latest", "--out", str(out), "--no-pdf"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "briefing.json").read_text())
    assert data["meta"]["month"] == "2021-12"
    pm = data["sections"]["headline"]["crime"]["comparisons"]["previous_month"]
    assert pm == {**pm, "available": False, "reason": "2021-11 not loaded"}
