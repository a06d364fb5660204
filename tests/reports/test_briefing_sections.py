"""The targeting and action sections of the briefing (harm spots, risk map, cocoons, patrols)
on a real store: six bundled Essex months (2021-07..2021-12) and, for the unavailable paths, a
store with two months and a context built from files.

Shares and concentration are checked against a brute-force recount from the store's events
(plain pandas/numpy: floor(x / 150 m) cells, the harm table's weights)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from conftest import ESSEX
from guardian.data import harm_table
from guardian.data.schema import ASB, POLICE_GENERATED
from guardian.reports.briefing import SECTIONS, build_briefing
from guardian.reports.briefing import cocoons as cocoon_section
from guardian.reports.briefing import patrols as patrol_section
from guardian.reports.briefing import risk as risk_section
from guardian.reports.briefing import spots as spot_section
from guardian.reports.context import context_from_frames, gather_context
from guardian.reports.render import briefing_json, render_html, write_briefing

MONTHS6 = ["2021-07", "2021-08", "2021-09", "2021-10", "2021-11", "2021-12"]


def _files(months):
    return [ESSEX / f"{m}-essex-street.csv.gz" for m in months]


def _store(path, months):
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    eng = get_engine(f"sqlite:///{path}")
    ingest(eng, _files(months), workers=1)
    return eng


@pytest.fixture(scope="module")
def store6(tmp_path_factory):
    """Six Essex months, cocoons opened for December with Knox-style parameters, one patrol
    plan in December with one logged visit (SQLite)."""
    from guardian.operations.cocoons import service as coc
    from guardian.operations.patrols import service as pat

    eng = _store(tmp_path_factory.mktemp("s6") / "store.db", MONTHS6)
    params = coc.CocoonParameters(
        radius_m=300, window_days=35, source="knox: Essex Police 2021-07..2021-12, seed 7"
    )
    coc.open_cocoons(
        eng,
        dataset="Essex Police",
        as_of=datetime(2022, 1, 1, tzinfo=UTC),
        parameters=params,
        start_month="2021-12",
        end_month="2021-12",
        max_visits=3,
    )
    plan = pat.create_plan(
        eng,
        dataset="Essex Police",
        district="Southend-on-Sea UA",
        week="2021-12-13",
        spots=10,
        random_days=3,
        random_state=7,
    )
    pat.log_visit(
        eng,
        plan_id=plan["id"],
        spot=1,
        start="2021-12-13T21:40",
        end="2021-12-13T21:55",
        officer="PC 4471",
        engagements=3,
    )
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def ctx6(store6):
    return gather_context(store6, "essex", "2021-12")


@pytest.fixture(scope="module")
def briefing6(ctx6):
    return build_briefing(ctx6)


def _recount_month(engine, month):
    """Brute force: the month's victim/public-reported crime per floor(x/150), floor(y/150)."""
    from guardian.store.events import events_frame

    ev = events_frame(engine, dataset="Essex Police", start_month=month, end_month=month)
    ev = ev[~ev["category"].isin(list(POLICE_GENERATED) + [ASB]) & ev["x"].notna()]
    w = harm_table.load_harm_weights("harm_index_v1").weights
    ev = ev.assign(
        gx=np.floor(ev["x"] / 150.0).astype(int),
        gy=np.floor(ev["y"] / 150.0).astype(int),
        w=ev["category"].map(w).astype(float),
    )
    cells = ev.groupby(["gx", "gy"]).agg(harm=("w", "sum"), n=("w", "size"))
    return ev, cells


# ---------------------------------------------------------------------------------------------
# harm spots
# ---------------------------------------------------------------------------------------------


def test_harm_spots_keys(briefing6):
    d = briefing6["sections"]["harm_spots"]
    assert d["available"] is True
    for k in (
        "month",
        "period",
        "period_rule",
        "cell_m",
        "top_n",
        "precision",
        "categories",
        "excluded_categories",
        "notes",
        "totals",
        "top_share_harm",
        "top_share_area",
        "spots",
        "concentration",
        "stability",
        "emerging",
        "chart",
        "map_layer",
    ):
        assert k in d, k
    assert d["precision"] == "approximate (police.uk snapped map points)"
    assert set(d["excluded_categories"]) == set(POLICE_GENERATED)
    assert len(d["spots"]) == 20
    s = d["spots"][0]
    for k in (
        "rank",
        "district",
        "streets",
        "offences",
        "harm",
        "share_harm",
        "share_offences",
        "share_area",
        "gi_z",
        "gi_q",
        "label",
        "why",
        "lon",
        "lat",
        "bounds",
        "cell_keys",
    ):
        assert k in s, k
    assert "approximate" in s["why"]
    assert 51.4 < s["lat"] < 52.1 and -0.1 < s["lon"] < 1.4  # Essex
    assert d["chart"].startswith("data:image/png;base64,")
    # six loaded months: labels and stability are there
    assert d["emerging"]["available"] is True and d["emerging"]["months"] == MONTHS6
    assert sum(d["emerging"]["top_spot_labels"].values()) == 20
    assert d["stability"]["available"] is True and d["stability"]["previous_month"] == "2021-11"


def test_harm_spot_shares_equal_a_brute_force_recount(store6, briefing6):
    d = briefing6["sections"]["harm_spots"]
    ev, cells = _recount_month(store6, "2021-12")
    total_h, total_n = float(ev["w"].sum()), len(ev)
    assert d["totals"]["offences"] == total_n
    assert math.isclose(d["totals"]["harm"], total_h, rel_tol=1e-9)
    for s in d["spots"]:
        ((gx, gy),) = s["cell_keys"]
        h, n = cells.loc[(gx, gy), ["harm", "n"]]
        assert s["offences"] == n
        assert math.isclose(s["share_harm"], h / total_h, rel_tol=1e-9)
        assert math.isclose(s["share_offences"], n / total_n, rel_tol=1e-9)
        assert math.isclose(s["share_area"], 1 / d["concentration"]["n_area_cells"], rel_tol=1e-12)
    # the listed cells are the 20 with the most harm
    ranked = cells.sort_values(["harm", "n"], ascending=False)
    listed = {tuple(s["cell_keys"][0]) for s in d["spots"]}
    top = set(ranked.index[:20])
    assert listed == top or ranked["harm"].iloc[19] == ranked["harm"].iloc[20]
    assert math.isclose(d["top_share_harm"], ranked["harm"].iloc[:20].sum() / total_h, rel_tol=1e-9)


def test_harm_concentration_equals_a_brute_force_recount(store6, briefing6):
    c = briefing6["sections"]["harm_spots"]["concentration"]
    _, cells = _recount_month(store6, "2021-12")
    n = c["n_area_cells"]
    v = np.zeros(n)
    v[: len(cells)] = np.sort(cells["harm"].to_numpy())[::-1]
    total = v.sum()
    for f, got in zip(c["fractions"], c["share_of_area"], strict=True):
        k = f * n
        whole = int(k)
        want = (v[:whole].sum() + (k - whole) * v[whole]) / total
        assert math.isclose(got, want, rel_tol=1e-9), f
    # Gini from the Lorenz curve (a different formula from the implementation's)
    asc = np.sort(v)
    lorenz = np.cumsum(asc) / total
    gini = 1 - (2 * lorenz.sum() - 1) / n
    assert math.isclose(c["gini_area"], gini, rel_tol=1e-6)
    assert c["n_occupied_cells"] == len(cells)


def test_harm_spot_stability_matches_the_previous_months_recount(store6, briefing6):
    d = briefing6["sections"]["harm_spots"]
    _, prev = _recount_month(store6, "2021-11")
    prev_top = set(prev.sort_values(["harm", "n"], ascending=False).index[:20])
    cur = {tuple(s["cell_keys"][0]) for s in d["spots"]}
    st = d["stability"]
    assert st["overlap"] == len(cur & prev_top)
    assert math.isclose(st["jaccard"], len(cur & prev_top) / len(cur | prev_top))


# ---------------------------------------------------------------------------------------------
# risk
# ---------------------------------------------------------------------------------------------


def test_risk_section_is_never_shown_without_its_backtest(briefing6):
    d = briefing6["sections"]["risk"]
    assert d["available"] is True
    assert d["month"] == "2022-01"
    bt = d["backtest"]
    # the map is there only with its measured accuracy, for the same method
    assert d["chart"].startswith("data:image/png;base64,")
    assert bt["windows"] >= risk_section.MIN_WINDOWS
    assert bt["test_months"] == MONTHS6
    assert bt["best"]["method"] == d["method"]
    assert bt["baseline"]["method"] == "naive"
    assert bt["coverages"] == [0.01, 0.02, 0.05, 0.1]
    for s in (bt["best"], bt["baseline"]):
        assert len(s["mean_hit_rate"]) == len(s["mean_pai"]) == 4
        assert all(0 <= h <= 1 for h in s["mean_hit_rate"])
    # the best method really is the best at 5% and beats (or equals) the naive baseline there
    pai5 = {m["method"]: m["pai"][2] for m in bt["methods"]}
    assert pai5[d["method"]] == max(pai5.values()) >= pai5["naive"]
    assert math.isclose(bt["pai_ratio_vs_baseline"][2], pai5[d["method"]] / pai5["naive"])
    assert f"over {bt['windows']} monthly back-test windows" in d["caption"]
    assert f"PAI {bt['best']['mean_pai'][2]:.2f}" in d["caption"]
    assert {m["method"] for m in bt["methods"]} == {"naive", "naive-365d", "prospective"}
    html = render_html(build_briefing_subset(d), [risk_section.SECTION])
    assert "Measured accuracy" in html and "PAI ratio vs naive" in html


def build_briefing_subset(risk_data):
    return {
        "meta": {
            "force": "Essex Police",
            "month": "2021-12",
            "guardian_version": "x",
            "generated_at": "",
            "parameters": {},
            "harm_index": "",
            "population_vintage": "",
            "source_sets": [],
            "sources": [],
        },
        "sections": {"risk": risk_data},
    }


def test_risk_map_refused_without_backtest_figures():
    from guardian.errors import InputError
    from guardian.reports.maps import render_risk_map

    with pytest.raises(InputError, match="never shown without its back-test"):
        render_risk_map(object(), None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# cocoons and patrols
# ---------------------------------------------------------------------------------------------


def test_cocoon_section_shows_parameters_delivery_and_timing(briefing6):
    d = briefing6["sections"]["cocoons"]
    assert d["available"] is True
    assert d["as_of"].startswith("2022-01-01T00:00:00")  # end of December (GMT)
    assert d["parameters_source"] == "derived from Knox"
    (p,) = d["parameters"]
    assert p["radius_m"] == 300 and p["window_days"] == 35
    assert "derived from the force's Knox test" in p["text"]
    assert d["live_count"] == len(d["cocoons"]) > 0
    assert d["timing"] == "approximate (month-resolution data)"
    assert d["delivery"]["burglaries"] > 0 and d["delivery"]["visits_planned"] > 0
    assert d["overdue_count"] >= len(d["overdue"])
    assert any("month" in c for c in d["caveats"])
    c0 = d["cocoons"][0]
    for k in ("ref", "status", "members", "visits_overdue", "why", "centre"):
        assert k in c0
    assert len(d["map_layer"]["cocoons"]) == d["live_count"]


def test_patrol_section_shows_plan_and_delivered_dosage(briefing6):
    d = briefing6["sections"]["patrols"]
    assert d["available"] is True
    (p,) = d["plans"]
    assert p["district"] == "Southend-on-Sea UA" and p["week_start"] == "2021-12-13"
    assert p["status"] == "ended" and p["seed"] == 7
    assert d["totals"]["visits_logged"] == 1
    assert d["totals"]["visits_planned"] == p["totals"]["visits_planned"] > 0
    assert d["totals"]["minutes_delivered"] in (0.0, 15.0)


def test_whole_briefing_json_and_html(ctx6, tmp_path):
    paths = write_briefing(ctx6, tmp_path / "out", pdf=False)
    doc = json.loads(paths["json"].read_text())
    order = doc["order"]
    assert order.index("harm_spots") > order.index("comparison")
    for k in ("harm_spots", "risk", "cocoons", "patrols"):
        assert doc["sections"][k]["available"] is True
        assert "chart" not in doc["sections"][k] and "map_layer" not in doc["sections"][k]
    assert doc["map_file"] == "briefing_map.html"
    html = paths["html"].read_text()
    assert 'href="briefing_map.html"' in html
    for title in ("Harm spots", "Active cocoons and delivery", "plan and delivered dosage"):
        assert title in html
    assert paths["map"].is_file()


# ---------------------------------------------------------------------------------------------
# unavailable paths
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store2(tmp_path_factory):
    eng = _store(tmp_path_factory.mktemp("s2") / "store.db", ["2021-11", "2021-12"])
    yield eng
    eng.dispose()


def test_unavailable_paths_on_a_two_month_store(store2, tmp_path):
    ctx = gather_context(store2, "essex", "2021-12")
    b = build_briefing(ctx)
    s = b["sections"]
    # spots work on one month; labels need six, the risk map three back-test windows
    assert s["harm_spots"]["available"] is True
    assert s["harm_spots"]["stability"]["available"] is True
    em = s["harm_spots"]["emerging"]
    assert em["available"] is False and "2021-07, 2021-08, 2021-09, 2021-10" in em["reason"]
    assert (
        s["risk"]
        == {
            "available": False,
            "reason": s["risk"]["reason"],
        }
        and "at least 3 loaded months" in s["risk"]["reason"]
    )
    assert s["cocoons"]["available"] is False
    assert "guardian cocoons open --force essex" in s["cocoons"]["reason"]
    assert s["patrols"]["available"] is False
    assert "no patrol plan" in s["patrols"]["reason"]
    html = render_html(b)
    assert "Not available: a risk map is shown only with its back-test" in html
    assert "Emerging / persistent labels not available" in html
    assert "<code>guardian cocoons open --force essex --to 2021-12</code>" in html
    json.loads(briefing_json(b))


def test_unavailable_paths_from_files(tmp_path):
    from guardian.data.policeuk import read_street

    ev = read_street(ESSEX / "2021-12-essex-street.csv.gz")
    ctx = context_from_frames(ev, force="Essex Police", month="2021-12")
    assert ctx.engine is None
    b = build_briefing(ctx)
    s = b["sections"]
    assert s["cocoons"]["available"] is False and "built from files" in s["cocoons"]["reason"]
    assert s["patrols"]["available"] is False and "built from files" in s["patrols"]["reason"]
    assert s["harm_spots"]["available"] is True  # from the frame
    assert s["harm_spots"]["stability"]["available"] is False
    assert "2021-11 is not loaded" in s["harm_spots"]["stability"]["reason"]
    assert s["risk"]["available"] is False
    paths = write_briefing(ctx, tmp_path / "out", pdf=False)
    assert "Not available: cocoons live in the store" in paths["html"].read_text()


def test_operations_failure_becomes_a_reason_not_a_crash(ctx6, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import guardian.operations.cocoons.service as coc
    import guardian.operations.patrols.service as pat
    from guardian.errors import NotFound

    def no_table(*a, **k):
        raise OperationalError("SELECT ...", {}, Exception("no such table: cocoons"))

    def no_dataset(*a, **k):
        raise NotFound("no dataset 'Essex Police' in the store")

    monkeypatch.setattr(coc, "cocoon_section_data", no_table)
    monkeypatch.setattr(pat, "patrol_section_data", no_dataset)
    d = cocoon_section.build(ctx6)
    assert d["available"] is False and "no such table: cocoons" in d["reason"]
    assert d["reason"].startswith("cocoons could not be read: OperationalError")
    d = patrol_section.build(ctx6)
    assert d["available"] is False
    assert d["reason"] == "patrol plans could not be read: no dataset 'Essex Police' in the store"


def test_sections_registered_after_the_performance_picture():
    keys = [s.key for s in SECTIONS]
    assert keys.index("harm_spots") > keys.index("comparison")
    assert keys[-5:] == ["harm_spots", "risk", "cocoons", "patrols", "data_quality"]
    assert spot_section.SECTION.template == "section_harm_spots.html.j2"


def test_targeting_events_are_local_time(ctx6):
    ev = ctx6.targeting_events
    assert str(ev["time"].dt.tz) == "Europe/London"
    # police.uk months start at local midnight: a summer month is 23:00 UTC the day before
    july = ev[ev["month"] == "2021-07"]["time"].iloc[0]
    assert (july.year, july.month, july.day, july.hour) == (2021, 7, 1, 0)
    assert not ev["category"].isin(list(POLICE_GENERATED) + [ASB]).any()
    assert set(ev["month"].astype(str)) == set(MONTHS6)
