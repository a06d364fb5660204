"""Board report parts that need no bundled data: the analyst's texts on both stores, the
feedback-loop statistic against a hand computation, the providers' "not available yet", the
audit summary, quarters and traces."""

from __future__ import annotations

import re
import sys
import types
from datetime import UTC, datetime

import numpy as np
import pytest

from guardian.errors import InputError
from guardian.operations.board import service as texts
from guardian.reports.board import providers as pv
from guardian.reports.board.build import quarter_months
from guardian.reports.board.governance import feedback_loop_check
from guardian.reports.board.trace import Tracer, untraced_numbers


def test_texts_are_versioned_with_author_and_time(engine):
    t0 = datetime(2022, 1, 10, 9, 0, tzinfo=UTC)
    a = texts.set_text(engine, force="Essex Police", quarter="2021q4", section="performance",
                       body="First.\r\n\r\nSecond paragraph.", author="ana", at=t0)
    assert a["version"] == 1 and a["quarter"] == "2021Q4" and a["at"] == "2022-01-10T09:00:00Z"
    b = texts.set_text(engine, force="Essex Police", quarter="2021Q4", section="performance",
                       body="Revised.", author="ben")
    texts.set_text(engine, force="Essex Police", quarter="2021Q4", section="theme:hate_crime",
                   body="Hate.", author="ana")
    texts.set_text(engine, force="Kent Police", quarter="2021Q4", section="performance",
                   body="Other force.", author="kim")
    cur = texts.current_texts(engine, force="Essex Police", quarter="2021Q4")
    assert set(cur) == {"performance", "theme:hate_crime"}
    assert cur["performance"]["body"] == "Revised." and cur["performance"]["version"] == 2
    assert cur["performance"]["at"] == b["at"]
    hist = texts.history(engine, force="Essex Police", quarter="2021Q4", section="performance")
    assert [(h["version"], h["author"], h["body"]) for h in hist] == [
        (1, "ana", "First.\n\nSecond paragraph."), (2, "ben", "Revised.")]
    # withdrawing adds a version with an empty body; the history keeps everything
    texts.set_text(engine, force="Essex Police", quarter="2021Q4", section="performance",
                   body="", author="ben")
    assert "performance" not in texts.current_texts(engine, force="Essex Police",
                                                     quarter="2021Q4")
    assert len(texts.history(engine, force="Essex Police", quarter="2021Q4")) == 4


@pytest.mark.parametrize(("kw", "message"), [
    ({"quarter": "2021-Q4"}, "not of the form YYYYQn"),
    ({"quarter": "2021Q5"}, "not of the form YYYYQn"),
    ({"section": "Performance!"}, "is not a section key"),
    ({"author": " "}, "an author (1-60 characters) is required"),
    ({"body": "x" * (texts.MAX_BODY + 1)}, "the limit is"),
])
def test_text_input_errors(sqlite_engine, kw, message):
    args = {"force": "Essex Police", "quarter": "2021Q4", "section": "performance",
            "body": "ok", "author": "ana", **kw}
    with pytest.raises(InputError, match=re.escape(message)):
        texts.set_text(sqlite_engine, **args)


def _spearman(x, y) -> float:
    """Brute force: Pearson correlation of average ranks."""
    def ranks(v):
        v = np.asarray(v, float)
        out = np.empty(len(v))
        for i, a in enumerate(v):
            out[i] = (v < a).sum() + ((v == a).sum() + 1) / 2
        return out

    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def test_feedback_loop_check_by_hand_and_against_brute_force():
    # hand case: dosage 10, 20, 30, 40 minutes; change +0, +1, +2, +3: perfectly monotone
    r = feedback_loop_check([10, 20, 30, 40], [5, 5, 5, 5], [5, 6, 7, 8])
    assert r["n"] == 4 and r["change_total"] == 6.0
    assert r["spearman_rho"] == pytest.approx(1.0)
    # more patrol, less crime: not the loop
    r = feedback_loop_check([10, 20, 30, 40, 50, 60], [9] * 6, [9, 8, 7, 6, 5, 4])
    assert r["spearman_rho"] == pytest.approx(-1.0) and r["flag"] is False
    rng = np.random.default_rng(7)
    m = rng.integers(0, 120, 40)
    before, after = rng.poisson(3, 40), rng.poisson(3, 40)
    r = feedback_loop_check(m, before, after)
    assert r["spearman_rho"] == pytest.approx(_spearman(m, after - before))
    strong = feedback_loop_check(np.arange(40), np.zeros(40), np.arange(40) // 4)
    assert strong["flag"] is True and strong["p_value"] < 0.05
    flat = feedback_loop_check([15, 15, 15], [1, 2, 3], [2, 2, 2])
    assert flat["spearman_rho"] is None and flat["flag"] is False
    with pytest.raises(ValueError, match="one value per cell"):
        feedback_loop_check([1, 2], [1], [1])


class _B:
    """The few attributes of a BoardContext a provider reads."""

    engine = object()
    force = "Essex Police"
    quarter = "2021Q4"
    months = ["2021-10", "2021-11", "2021-12"]


def test_provider_of_a_missing_room_says_not_available_yet(monkeypatch):
    p = pv.Provider("x", "guardian.no_such_room_here", "board_results")
    got = p.provide(_B())
    assert got == {"available": False, "status": "not available yet",
                   "reason": "guardian.no_such_room_here is not part of this build "
                   "(ModuleNotFoundError)"}
    room = types.ModuleType("guardian_fake_room")
    monkeypatch.setitem(sys.modules, "guardian_fake_room", room)
    assert "exposes no board_results()" in pv.Provider(
        "x", "guardian_fake_room", "board_results").provide(_B())["reason"]

    def failing(engine, **kw):
        raise RuntimeError("table missing")

    room.board_results = failing
    got = pv.Provider("x", "guardian_fake_room", "board_results").provide(_B())
    assert got["status"] == "not available yet" and "RuntimeError: table missing" in got["reason"]
    # a room that answers, with an adapter: its rows come through as they are
    room.board_results = lambda engine, **kw: {"n": 3, "months": kw["months"]}
    got = pv.Provider("x", "guardian_fake_room", "board_results",
                      adapt=lambda a, b: {"available": True, "n": a["n"], "m": a["months"]}
                      ).provide(_B())
    assert got == {"available": True, "n": 3, "m": _B.months}


def test_quarters_and_trace_ids_are_stable():
    assert quarter_months("2021Q4") == ["2021-10", "2021-11", "2021-12"]
    assert quarter_months("2022q1") == ["2022-01", "2022-02", "2022-03"]
    with pytest.raises(InputError, match="YYYYQn"):
        quarter_months("2021-12")
    src = [{"dataset": "D", "name": "a/2021-10-x.csv", "sha256": "h1", "month": "2021-10"},
           {"dataset": "D", "name": "a/2021-11-x.csv", "sha256": "h2", "month": "2021-11"}]
    t1, t2 = Tracer(src), Tracer(src)
    a = t1.counts(dataset="D", months=["2021-10"], categories=["Burglary"], what="w")
    assert a == t2.counts(dataset="D", months=["2021-10"], categories=["Burglary"], what="w")
    assert t1.traces[a]["sources"] == [{"name": "2021-10-x.csv", "sha256": "h1"}]
    fig = t1.fig(np.int64(5), unit="offences", trace=a)
    assert fig == {"value": 5, "unit": "offences", "trace": a} and t1.fig(np.nan, unit="x",
                                                                          trace=a) is None
    rep = {"sections": {"s": {"f": fig, "bad": {"value": 1, "trace": "tnope"}, "ok": True}},
           "provenance": {"traces": t1.traces}}
    assert untraced_numbers(rep) == ["$.sections.s.bad.value"]


def test_forecast_provider_adapts_a_real_forecast_into_traced_figures():
    """The forecast room's result (on a synthetic seasonal series: the bundled Essex months have
    a gap, and the room refuses them) comes through figure for figure, each traced."""
    import pandas as pd

    from guardian.analysis.forecast import forecast_with_accuracy

    months = [f"{y}-{m:02d}" for y in range(2014, 2019) for m in range(1, 13)]
    t = np.arange(len(months))
    s = pd.Series(1000 + 100 * np.sin(2 * np.pi * t / 12) + 2 * t, index=months)
    res = forecast_with_accuracy(s, horizon=3, loaded_months=months, methods=("snaive",),
                                 breaks=[], label="synthetic")

    class B:
        force = "Synthetic"
        tracer = Tracer([{"dataset": "Synthetic", "name": f"{m}.csv", "sha256": "h",
                          "month": m} for m in months])

    got = pv.adapt_forecast(res, B())
    fc = res.forecasts[res.method]
    assert [r["label"] for r in got["rows"]] == list(fc["month"])
    assert [r["figures"]["mean"]["value"] for r in got["rows"]] == pytest.approx(
        list(fc["mean"]))
    assert got["sentence"] == res.sentence()
    trace = B.tracer.traces[got["trace"]]
    assert len(trace["sources"]) == len(months)
    rep = {"sections": {"f": got}, "provenance": {"traces": B.tracer.traces}}
    assert untraced_numbers(rep) == []


def test_report_on_a_store_without_the_force_says_which_month_it_needs(sqlite_engine):
    from guardian.errors import NotFound
    from guardian.reports.board import board_report

    with pytest.raises(NotFound, match="the report for 2021Q4 needs its last month 2021-12"):
        board_report(sqlite_engine, force="essex", quarter="2021q4")
    with pytest.raises(InputError, match="does not exist; pass an existing file"):
        board_report(sqlite_engine, force="essex", quarter="2021Q4", themes="/no/such.toml")
