"""GPS-tag proximity: the kernel against a brute-force join, the trail import, the Dask join,
retention, and the review queue (role isolation, audit of every view and decision)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from guardian.analysis.tagmatch import DEFAULT_WINDOWS, HIT_COLUMNS, MatchWindow, match_tags
from guardian.data.policeuk import read_street
from guardian.errors import Conflict, Forbidden, InputError, NotFound
from guardian.operations.accounts.service import Account
from guardian.operations.audit.models import AuditEntry
from guardian.operations.national.engine import dask_client
from guardian.operations.tagmatch import service, trails
from guardian.operations.tagmatch.config import TagmatchConfig, load_config
from guardian.operations.tagmatch.models import TagmatchHit, TagmatchImport, TagmatchQuarantine

DAY0 = int(pd.Timestamp("2021-06-01", tz="UTC").timestamp())


@pytest.fixture(scope="module")
def real_crimes(repo_root):
    """200 real Essex burglary and robbery points, given exact times on one day (police.uk
    has months only; a force extract would have times)."""
    ev = read_street(repo_root / "data/police_uk_street_essex/2021-06-essex-street.csv.gz")
    ev = ev[ev["category"].isin(["Burglary", "Robbery"]) & ev["x"].notna()].head(200)
    rng = np.random.default_rng(7)
    t = DAY0 + rng.integers(0, 86400, len(ev))
    span = np.where(ev["category"].to_numpy() == "Burglary", rng.integers(0, 4 * 3600, len(ev)), 0)
    return pd.DataFrame({"crime_id": ev["event_id"].astype(str).to_numpy(object),
                         "category": ev["category"].astype(str).to_numpy(object),
                         "t_start": t, "t_end": t + span,
                         "x": ev["x"].to_numpy(float), "y": ev["y"].to_numpy(float)})


def _trails(crimes: pd.DataFrame, n_subjects=12, step_s=120, seed=3) -> pd.DataFrame:
    """Random walks (about 25 m a step) starting at crime points, one fix every ``step_s``."""
    rng = np.random.default_rng(seed)
    n = 86400 // step_s
    out = []
    for k in range(n_subjects):
        c = crimes.iloc[rng.integers(len(crimes))]
        steps = rng.normal(0, 25, (n, 2)).cumsum(axis=0)
        keep = rng.random(n) > 0.1  # gaps in the trail
        out.append(pd.DataFrame({
            "subject": f"subj-{k:03d}", "t": DAY0 + np.arange(n) * step_s,
            "x": c.x + steps[:, 0], "y": c.y + steps[:, 1],
            "accuracy_m": rng.choice([5.0, 10.0, 30.0, 80.0], n)})[keep])
    return pd.concat(out, ignore_index=True)


def brute_force(points, crimes, windows=DEFAULT_WINDOWS, default=MatchWindow(100, 3600, 3600),
                max_acc=50.0) -> pd.DataFrame:
    """Every point against every crime, then per (crime, subject) by plain pandas."""
    pts = points[points["accuracy_m"] <= max_acc]
    pairs = crimes.merge(pts, how="cross", suffixes=("_c", ""))
    w = [windows.get(c, default) for c in pairs["category"]]
    pairs["dist"] = np.sqrt((pairs["x"] - pairs["x_c"]) ** 2 + (pairs["y"] - pairs["y_c"]) ** 2)
    pairs["reach"] = [x.distance_m for x in w] + pairs["accuracy_m"]
    pairs["lo"] = pairs["t_start"] - [x.before_s for x in w]
    pairs["hi"] = pairs["t_end"] + [x.after_s for x in w]
    hit = pairs[(pairs["dist"] <= pairs["reach"]) & (pairs["t"] >= pairs["lo"])
                & (pairs["t"] <= pairs["hi"])]
    rows = []
    for (cid, subj), g in hit.groupby(["crime_id", "subject"]):
        g = g.sort_values(["dist", "t"])
        best = g.iloc[0]
        dt = 0 if best.t_start <= best.t <= best.t_end else (
            best.t - best.t_start if best.t < best.t_start else best.t - best.t_end)
        trail = pts[pts["subject"] == subj].sort_values("t")
        before = trail[trail["t"] < g["t"].min()].tail(1)
        after = trail[trail["t"] > g["t"].max()].head(1)
        d_of = lambda p, b=best: float(np.hypot(p.x - b.x_c, p.y - b.y_c))  # noqa: E731
        rows.append({"crime_id": cid, "subject": subj, "distance_m": best.dist,
                     "time_diff_s": dt, "dwell_s": g["t"].max() - g["t"].min(),
                     "n_points": len(g), "closest_t": best.t,
                     "prev_distance_m": d_of(before.iloc[0]) if len(before) else np.nan,
                     "prev_gap_s": float(g["t"].min() - before.iloc[0].t) if len(before) else np.nan,
                     "next_distance_m": d_of(after.iloc[0]) if len(after) else np.nan,
                     "next_gap_s": float(after.iloc[0].t - g["t"].max()) if len(after) else np.nan})
    return pd.DataFrame(rows)


def _same(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert len(fast) == len(slow) > 0
    f = fast.sort_values(["crime_id", "subject"]).reset_index(drop=True)
    s = slow.sort_values(["crime_id", "subject"]).reset_index(drop=True)
    for c in s.columns:
        if f[c].dtype.kind in "fi":
            np.testing.assert_allclose(f[c].to_numpy(float), s[c].to_numpy(float), rtol=0,
                                       atol=1e-9, err_msg=c)
        else:
            assert list(f[c]) == list(s[c]), c


def test_kernel_equals_brute_force_on_real_points(real_crimes):
    pts = _trails(real_crimes)
    fast = match_tags(pts, real_crimes)
    assert list(fast.columns) == list(HIT_COLUMNS)
    _same(fast, brute_force(pts, real_crimes))
    # per-category tolerances are applied: robbery hits never beyond 50 m + accuracy
    rob = fast[fast["category"] == "Robbery"]
    assert (rob["distance_m"] <= 50 + rob["closest_accuracy_m"] + 1e-9).all()


def test_kernel_other_windows_and_shifts(real_crimes):
    pts = _trails(real_crimes, n_subjects=6, seed=11)
    wins = {"Burglary": MatchWindow(200.0, 600, 10800)}
    default = MatchWindow(30.0, 0, 0)
    fast = match_tags(pts, real_crimes, windows=wins, default=default, max_accuracy_m=80)
    _same(fast, brute_force(pts, real_crimes, wins, default, 80.0))
    # shifting every point and crime in space and time changes nothing but the times
    moved = match_tags(pts.assign(x=pts.x + 1e5, y=pts.y - 5e4, t=pts.t + 86400 * 400),
                       real_crimes.assign(x=real_crimes.x + 1e5, y=real_crimes.y - 5e4,
                                          t_start=real_crimes.t_start + 86400 * 400,
                                          t_end=real_crimes.t_end + 86400 * 400),
                       windows=wins, default=default, max_accuracy_m=80)
    np.testing.assert_allclose(moved["distance_m"], fast["distance_m"], atol=1e-6)
    assert (moved["first_t"] - fast["first_t"] == 86400 * 400).all()


def test_kernel_hand_case():
    # one crime at (0, 0) at t=1000; a subject passing 30 m, 60 m, 200 m away
    crimes = pd.DataFrame({"crime_id": ["c1"], "category": ["Robbery"], "t_start": [1000],
                           "t_end": [1000], "x": [0.0], "y": [0.0]})
    pts = pd.DataFrame({"subject": ["s"] * 4, "t": [100, 900, 1200, 1500],
                        "x": [200.0, 30.0, 0.0, 60.0], "y": [0.0, 0.0, 40.0, 0.0],
                        "accuracy_m": [5.0, 5.0, 5.0, 5.0]})
    h = match_tags(pts, crimes)  # robbery: 50 m, 30 min either side
    assert len(h) == 1
    r = h.iloc[0]
    assert r.distance_m == 30.0 and r.time_diff_s == -100 and r.n_points == 2
    assert r.dwell_s == 300 and r.prev_distance_m == 200.0 and r.prev_gap_s == 800
    assert r.next_distance_m == 60.0 and r.next_gap_s == 300
    with pytest.raises(InputError, match="missing columns"):
        match_tags(pts.drop(columns="accuracy_m"), crimes)
    with pytest.raises(InputError, match="positive number of metres"):
        MatchWindow(0.0, 1, 1)
    with pytest.raises(InputError, match=">= 0 seconds"):
        MatchWindow(10.0, -1, 1)
    assert match_tags(pts.assign(accuracy_m=500.0), crimes).empty


def _write_trail_csv(path, pts: pd.DataFrame, bad: bool = True) -> None:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(
        pts["x"].to_numpy(), pts["y"].to_numpy())
    t = pd.to_datetime(pts["t"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    body = pd.DataFrame({"subject": pts["subject"], "time": t, "lon": np.round(lon, 7),
                         "lat": np.round(lat, 7), "accuracy_m": pts["accuracy_m"]})
    text = body.to_csv(index=False)
    if bad:
        text += ("John Smith,2021-06-01T10:00:00Z,0.5,51.7,5\n"
                 "subj-900,2021-06-01 10:00:00,0.5,51.7,5\n"
                 "subj-901,2021-06-01T10:00:00Z,12.5,51.7,5\n"
                 "subj-902,2021-06-01T10:00:00Z,0.5,51.7,-3\n"
                 "subj-903,yesterday,0.5,51.7,5\n")
    path.write_text(text)


def test_import_validates_quarantines_and_is_idempotent(sqlite_engine, tmp_path, real_crimes):
    root = tmp_path / "trails"
    pts = _trails(real_crimes, n_subjects=4)
    f = tmp_path / "trail.csv"
    _write_trail_csv(f, pts)
    rep = trails.import_trail(sqlite_engine, root, f)
    assert rep["status"] == "imported" and rep["rows_read"] == len(pts) + 5
    assert rep["loaded"] == len(pts) and rep["quarantined"] == 5
    with sqlite_engine.connect() as c:
        reasons = [r for (r,) in c.execute(select(TagmatchQuarantine.reason).order_by(
            TagmatchQuarantine.line))]
    assert any("not a pseudonym" in r for r in reasons)
    assert any("no UTC offset" in r for r in reasons)
    assert any("outside Great Britain" in r for r in reasons)
    assert any("accuracy_m" in r for r in reasons)
    assert any("not an ISO 8601" in r for r in reasons)
    again = trails.import_trail(sqlite_engine, root, f)
    assert again["status"] == "unchanged"
    with sqlite_engine.connect() as c:
        assert c.execute(select(func.count()).select_from(TagmatchImport)).scalar() == 1
    back = trails.read_points([p for ps in trails.bucket_paths(root).values() for p in ps])
    assert len(back) == len(pts)
    # projection round trip to the millimetre scale of 7 decimal degrees
    merged = back.merge(pts, on=["subject", "t"], suffixes=("", "_o"))
    assert np.abs(merged["x"] - merged["x_o"]).max() < 0.05
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when\nx,y\n")
    with pytest.raises(InputError, match="missing columns"):
        trails.import_trail(sqlite_engine, root, bad)


def test_partitioned_join_on_dask_equals_single_pass(sqlite_engine, tmp_path, real_crimes):
    root = tmp_path / "trails"
    pts = _trails(real_crimes, n_subjects=10, seed=5)
    f = tmp_path / "trail.csv"
    _write_trail_csv(f, pts, bad=False)
    trails.import_trail(sqlite_engine, root, f)
    assert len(trails.bucket_paths(root)) > 1
    stored = trails.read_points([p for ps in trails.bucket_paths(root).values() for p in ps])
    cfg = TagmatchConfig()
    single = match_tags(stored, real_crimes)
    with dask_client(workers=1, processes=False) as client:
        hits = service.match_partitioned(client, root, real_crimes, cfg)
    pd.testing.assert_frame_equal(hits, single)
    _same(hits, brute_force(stored, real_crimes))
    assert service.match_partitioned(None, root, real_crimes, cfg).equals(hits)


def _acct(role: str, name: str | None = None) -> Account:
    return Account(id=1, username=name or role, display_name=role, role=role, team=None,
                   active=True)


@pytest.fixture
def queued(engine, tmp_path, real_crimes):
    pts = _trails(real_crimes, n_subjects=10, seed=5)
    hits = match_tags(pts, real_crimes).head(5)
    assert len(hits) == 5
    out = service.store_hits(engine, "Essex Police", real_crimes, hits, TagmatchConfig())
    assert out == {"new": len(hits), "kept": 0}
    assert service.store_hits(engine, "Essex Police", real_crimes, hits, TagmatchConfig()) == \
        {"new": 0, "kept": len(hits)}
    return engine


def _audits(engine) -> list:
    with engine.connect() as c:
        return c.execute(select(AuditEntry.username, AuditEntry.operation, AuditEntry.record)
                         .order_by(AuditEntry.id)).all()


def test_review_queue_roles_audit_and_outcomes(queued):
    engine = queued
    rev = _acct("reviewer", "rev1")
    for role in ("officer", "volunteer", "analyst", "supervisor"):
        with pytest.raises(Forbidden):
            service.queue(engine, _acct(role))
        with pytest.raises(Forbidden):
            service.decide(engine, _acct(role), 1, outcome="passed", reason="looks right")
    assert _audits(engine) == []  # refused callers see nothing, so nothing is logged
    q = service.queue(engine, rev)
    assert len(q) == 5 and all(h["status"] == "pending" for h in q)
    h = service.get_hit(engine, rev, q[0]["id"])
    assert h["context"]["window"]["distance_m"] > 0
    with pytest.raises(InputError, match="outcome"):
        service.decide(engine, rev, h["id"], outcome="guilty", reason="no")
    with pytest.raises(InputError, match="reason"):
        service.decide(engine, rev, h["id"], outcome="passed", reason="")
    d = service.decide(engine, rev, h["id"], outcome="discounted",
                       reason="subject lives on this street")
    assert d["status"] == "discounted" and d["decided_by"] == "rev1"
    with pytest.raises(Conflict):
        service.decide(engine, rev, h["id"], outcome="passed", reason="second thoughts")
    with pytest.raises(NotFound):
        service.get_hit(engine, rev, 99999)
    service.decide(engine, rev, q[1]["id"], outcome="passed", reason="no reason to be there")
    assert service.counts(engine) == {"pending": 3, "discounted": 1, "passed": 1}
    log = _audits(engine)
    assert [op for _, op, _ in log] == ["consult", "consult", "alter", "alter"]
    assert all(u == "rev1" for u, _, _ in log)
    assert f"tagmatch hit {h['id']}" in log[1][2]


def test_purge_respects_retention(sqlite_engine, tmp_path, real_crimes):
    root = tmp_path / "trails"
    pts = _trails(real_crimes, n_subjects=2)
    f = tmp_path / "trail.csv"
    _write_trail_csv(f, pts, bad=False)
    trails.import_trail(sqlite_engine, root, f)
    hits = match_tags(pts, real_crimes)
    service.store_hits(sqlite_engine, "Essex Police", real_crimes, hits, TagmatchConfig())
    now = datetime(2021, 6, 20, tzinfo=UTC)
    kept = service.purge(sqlite_engine, root, retention_days=90, now=now)
    assert kept == {"days_deleted": [], "pending_hits_deleted": 0}
    assert trails.bucket_paths(root)
    gone = service.purge(sqlite_engine, root, retention_days=10, now=now)
    assert gone["days_deleted"] == ["2021-06-01", "2021-06-02"][:len(gone["days_deleted"])]
    assert gone["pending_hits_deleted"] == len(hits) > 0
    assert not trails.bucket_paths(root)
    with sqlite_engine.connect() as c:
        assert c.execute(select(func.count()).select_from(TagmatchHit)).scalar() == 0
    with pytest.raises(InputError):
        service.purge(sqlite_engine, root, retention_days=0)


def test_config_file(tmp_path):
    assert load_config(tmp_path).windows["Robbery"].distance_m == 50.0
    (tmp_path / "tagmatch.toml").write_text(
        "retention_days = 30\n[default]\ndistance_m = 80\n"
        "[categories.burglary]\ndistance_m = 150\nbefore_minutes = 180\n")
    cfg = load_config(tmp_path)
    assert cfg.retention_days == 30 and cfg.default.distance_m == 80.0
    assert cfg.windows["Burglary"] == MatchWindow(150.0, 10800, 7200)
    (tmp_path / "tagmatch.toml").write_text("[categories.teleport]\ndistance_m = 1\n")
    with pytest.raises(InputError, match="unknown category"):
        load_config(tmp_path)
    (tmp_path / "tagmatch.toml").write_text("[default]\nradius = 1\n")
    with pytest.raises(InputError, match="unknown keys"):
        load_config(tmp_path)
