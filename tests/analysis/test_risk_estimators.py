"""Risk estimators: hand-worked prospective weights, brute-force kernel surfaces, SEPP EM against
a dense implementation and a simulated process, and no event after the cut-off reaching fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from guardian.analysis.risk import (
    METHODS,
    Grid,
    KDERisk,
    NaiveRisk,
    ProspectiveRisk,
    SEPPRisk,
    make_estimator,
)
from guardian.analysis.risk.prospective import prospective_kernel
from guardian.analysis.risk.sepp import (
    background_matrix,
    background_pairs,
    em_step,
    trigger_pairs,
)
from guardian.errors import InputError

TZ = "America/Chicago"


def frame(x, y, days, *, start="2016-01-01", precision="day", crs="EPSG:26971"):
    t = pd.Timestamp(start, tz=TZ) + pd.to_timedelta(np.asarray(days, float), unit="D")
    return pd.DataFrame(
        {
            "x": np.asarray(x, float),
            "y": np.asarray(y, float),
            "time": t,
            "time_precision": precision,
            "crs": crs,
        }
    )


def random_events(n=400, seed=0, days=200, precision="day"):
    rng = np.random.default_rng(seed)
    x = 350000 + rng.normal(0, 800, n) + rng.choice([0, 2500], n)
    y = 570000 + rng.normal(0, 800, n)
    d = np.sort(rng.integers(0, days, n)).astype(float)
    if precision == "minute":
        d = d + rng.uniform(0, 1, n)
    return frame(x, y, d, precision=precision)


# --- grid ---------------------------------------------------------------------------------------


def test_grid_origin_snapped_and_counts():
    g = Grid.covering([149.0, 451.0], [301.0, 10.0], cell_m=150)
    assert (g.x0, g.y0) == (0.0, 0.0) and g.shape == (3, 4)
    c = g.counts([149.0, 451.0, 451.0], [301.0, 10.0, 10.0])
    assert c[2, 0] == 1 and c[0, 3] == 2 and c.sum() == 3
    g2 = Grid.covering([1000.0, 1200.0], [1000.0, 1100.0], cell_m=150)
    assert g2.x0 % 150 == 0 and g2.y0 % 150 == 0
    with pytest.raises(InputError, match="cell_m"):
        Grid.covering([0.0], [0.0], cell_m=0)
    with pytest.raises(InputError, match="no events"):
        Grid.covering([np.nan], [np.nan])


# --- naive --------------------------------------------------------------------------------------


def test_naive_counts_last_window_hand_case():
    g = Grid(0.0, 0.0, 100.0, 3, 3)
    ev = frame([50, 50, 150, 250, 250], [50, 50, 50, 250, 250], [10, 12, 13, 5, 14])
    # cut-off day 14 (2016-01-15): a 7-day window looks at days 7..13
    s = NaiveRisk(grid=g).fit(ev, "2016-01-15").predict("2016-01-15", "2016-01-22")
    expected = np.zeros((3, 3))
    expected[0, 0] = 2
    expected[0, 1] = 1
    np.testing.assert_array_equal(s.values, expected)  # day 5 too old, day 14 after cut-off
    # a 10-day window reaches back to day 4 and picks up the day-5 event
    s10 = NaiveRisk(grid=g).fit(ev, "2016-01-15").predict("2016-01-15", "2016-01-25")
    assert s10.values[2, 2] == 1


# --- prospective --------------------------------------------------------------------------------


def test_prospective_kernel_hand_values():
    k = prospective_kernel(1.5)
    assert k.shape == (3, 3)
    assert k[1, 1] == 1.0
    assert k[1, 2] == pytest.approx(0.5)
    assert k[0, 0] == pytest.approx(1 / (1 + np.sqrt(2)))
    k2 = prospective_kernel(2.0)
    assert k2.shape == (5, 5) and k2[2, 4] == pytest.approx(1 / 3) and k2[0, 0] == 0.0


def test_prospective_hand_worked_small_grid():
    # 100 m cells; bandwidth 150 m = 1.5 cells; 3 weeks
    g = Grid(0.0, 0.0, 100.0, 6, 5)
    # start = day 30. A: cell (row 2, col 2), 3 days old (t = 0 weeks)
    #                 B: cell (2, 3), 10 days old (t = 1)
    #                 C: cell (2, 2), 25 days old -> beyond 3 weeks, ignored
    ev = frame([250, 350, 250], [250, 250, 250], [27, 20, 5])
    est = ProspectiveRisk(grid=g, bandwidth_m=150, bandwidth_weeks=3)
    s = est.fit(ev, "2016-01-31").predict("2016-01-31", "2016-02-07").values
    assert s[2, 2] == pytest.approx(1.0 + 1 / (2 * 2))  # A d=0 t=0; B d=1 t=1
    assert s[3, 3] == pytest.approx(1 / (1 + np.sqrt(2)) + 1 / 4)  # A diagonal; B above it
    assert s[2, 4] == pytest.approx(1 / 4)  # A is 2 cells away: out
    assert s[2, 1] == pytest.approx(1 / 2)  # A d=1; B d=2: out
    assert s[0, 0] == 0.0
    # brute force over every cell
    brute = np.zeros(g.shape)
    for r in range(g.ny):
        for c in range(g.nx):
            for er, ec, age in ((2, 2, 3), (2, 3, 10), (2, 2, 25)):
                d = np.hypot(r - er, c - ec)
                t = age // 7
                if d <= 1.5 and age < 21:
                    brute[r, c] += 1 / ((1 + d) * (1 + t))
    np.testing.assert_allclose(s, brute)


# --- KDE ----------------------------------------------------------------------------------------


def test_kde_matches_cell_by_event_double_loop():
    ev = random_events(120, seed=1)
    g = Grid.covering(ev["x"], ev["y"], cell_m=300)
    est = KDERisk(grid=g, bandwidth_m=400, lookback_days=60)
    s = est.fit(ev, "2016-06-01").predict("2016-06-01", "2016-06-08").values
    t = (ev["time"] - pd.Timestamp("2016-06-01", tz=TZ)).dt.total_seconds() / 86400
    use = ev[(t >= -60) & (t < 0)]
    brute = np.zeros(g.shape)
    xe, ye = g.x_edges(), g.y_edges()
    for r in range(g.ny):
        for c in range(g.nx):
            for px, py in zip(use["x"], use["y"], strict=True):
                mx = norm.cdf((xe[c + 1] - px) / 400) - norm.cdf((xe[c] - px) / 400)
                my = norm.cdf((ye[r + 1] - py) / 400) - norm.cdf((ye[r] - py) / 400)
                brute[r, c] += mx * my
    np.testing.assert_allclose(s, brute * 7 / 60, rtol=1e-9, atol=1e-12)


# --- SEPP ---------------------------------------------------------------------------------------


def test_sepp_em_step_matches_dense_implementation():
    rng = np.random.default_rng(2)
    n = 90
    x, y = rng.uniform(0, 1500, n), rng.uniform(0, 1500, n)
    t = np.sort(rng.uniform(0, 100, n))
    R, D, h, span = 500.0, 30.0, 300.0, 100.0
    par, chi, dt, d2 = trigger_pairs(x, y, t, max_distance_m=R, max_days=D)
    a, b, k = background_pairs(x, y, bandwidth_m=h, reach=100.0)  # no truncation at all
    q0 = rng.uniform(0.3, 1, n)
    theta, omega, sigma = 0.3, 0.2, 120.0
    q, p, th, om, s2 = em_step(
        n=n,
        span_days=span,
        bg_a=a,
        bg_b=b,
        bg_k=k,
        bg_self=0.0,
        q=q0,
        par=par,
        chi=chi,
        dt=dt,
        d2=d2,
        theta=theta,
        omega=omega,
        sigma=sigma,
    )
    # the sparse-matrix form the estimator uses gives the same step
    qm, pm, thm, omm, s2m = em_step(
        n=n,
        span_days=span,
        bg_matrix=background_matrix(x, y, bandwidth_m=h, reach=100.0),
        q=q0,
        par=par,
        chi=chi,
        dt=dt,
        d2=d2,
        theta=theta,
        omega=omega,
        sigma=sigma,
    )
    np.testing.assert_allclose(qm, q, rtol=1e-12)
    assert (thm, omm, s2m) == pytest.approx((th, om, s2), rel=1e-12)
    # dense
    DX = x[None, :] - x[:, None]
    DY = y[None, :] - y[:, None]
    DD = DX**2 + DY**2  # [i, j]
    DT = t[None, :] - t[:, None]  # t_j - t_i
    K = np.exp(-DD / (2 * h * h)) / (2 * np.pi * h * h)
    np.fill_diagonal(K, 0.0)
    mu = (q0[:, None] * K).sum(axis=0) / span
    ok = (DT > 0) & (DT <= D) & (DD <= R * R)
    G = np.where(
        ok,
        theta
        * omega
        * np.exp(-omega * np.where(ok, DT, 0))
        * np.exp(-DD / (2 * sigma**2))
        / (2 * np.pi * sigma**2),
        0.0,
    )
    lam = mu + G.sum(axis=0)
    P = G / lam[None, :]
    np.testing.assert_allclose(q, mu / lam, rtol=1e-10)
    assert th == pytest.approx(P.sum() / n, rel=1e-10)
    assert om == pytest.approx(P.sum() / (P * DT).sum(), rel=1e-10)
    assert s2 == pytest.approx((P * DD).sum() / (2 * P.sum()), rel=1e-10)


def _simulate_hawkes(seed=0, T=400.0, mu_per_day=3.0, theta=0.4, omega=0.1, sigma=60.0, L=6000.0):
    rng = np.random.default_rng(seed)
    nb = rng.poisson(mu_per_day * T)
    xs, ys, ts = (
        list(rng.uniform(0, L, nb)),
        list(rng.uniform(0, L, nb)),
        list(rng.uniform(0, T, nb)),
    )
    queue = list(range(nb))
    while queue:
        i = queue.pop()
        for _ in range(rng.poisson(theta)):
            tc = ts[i] + rng.exponential(1 / omega)
            if tc >= T:
                continue
            xs.append(xs[i] + rng.normal(0, sigma))
            ys.append(ys[i] + rng.normal(0, sigma))
            ts.append(tc)
            queue.append(len(ts) - 1)
    return np.array(xs), np.array(ys), np.array(ts)


def test_sepp_recovers_simulated_parameters():
    x, y, t = _simulate_hawkes()
    ev = frame(x + 340000, y + 560000, t, precision="minute")
    m = SEPPRisk(background_bandwidth_m=500, lookback_days=400).fit(ev, "2017-02-04")
    assert m.n_events_ == len(ev)
    assert 0.3 < m.theta_ < 0.5
    assert 7 < 1 / m.omega_ < 14
    assert 45 < m.sigma_m_ < 80
    assert m.n_iter_ < 100


def test_sepp_predict_matches_brute_force():
    ev = random_events(100, seed=3, precision="minute")
    g = Grid.covering(ev["x"], ev["y"], cell_m=800)
    m = SEPPRisk(grid=g, min_sigma_m=80).fit(ev, "2016-07-01")
    start, end = 0.0, 7.0
    s = m.predict("2016-07-01", "2016-07-08").values
    c0 = pd.Timestamp("2016-07-01", tz=TZ).value / 86400e9
    xe, ye = g.x_edges(), g.y_edges()
    brute = np.zeros(g.shape)
    h, sg = m.background_bandwidth_m, m.sigma_m_
    for r in range(g.ny):
        for c in range(g.nx):
            for px, py, pt, pq in zip(m._x, m._y, m._t, m._q, strict=True):
                bx = norm.cdf((xe[c + 1] - px) / h) - norm.cdf((xe[c] - px) / h)
                by = norm.cdf((ye[r + 1] - py) / h) - norm.cdf((ye[r] - py) / h)
                brute[r, c] += pq * bx * by / m.span_days_ * (end - start)
                w = m.theta_ * (
                    np.exp(-m.omega_ * (c0 + start - pt)) - np.exp(-m.omega_ * (c0 + end - pt))
                )
                tx = norm.cdf((xe[c + 1] - px) / sg) - norm.cdf((xe[c] - px) / sg)
                ty = norm.cdf((ye[r + 1] - py) / sg) - norm.cdf((ye[r] - py) / sg)
                if w > 1e-12:
                    brute[r, c] += w * tx * ty
    np.testing.assert_allclose(s, brute, rtol=1e-8, atol=1e-12)


def test_sepp_refuses_month_precision_and_is_seeded():
    ev = random_events(200, seed=4)
    with pytest.raises(InputError, match="month"):
        SEPPRisk().fit(ev.assign(time_precision="month"), "2016-06-01")
    a = SEPPRisk(random_state=3).fit(ev, "2016-06-01")
    b = SEPPRisk(random_state=3).fit(ev, "2016-06-01")
    assert a.theta_ == b.theta_
    assert a.predict("2016-06-01", "2016-06-08").params["random_state"] == 3


# --- the cut-off: no future event ever reaches fit ----------------------------------------------


@pytest.mark.parametrize("name", sorted(METHODS))
def test_events_after_cutoff_never_change_the_surface(name):
    past = random_events(300, seed=5, days=150)
    cutoff = pd.Timestamp("2016-05-30", tz=TZ)  # day 150: every past event is before it
    assert (past["time"] < cutoff).all()
    rng = np.random.default_rng(9)
    # 200 future events piled onto one spot: would dominate any surface that saw them
    future = frame(
        np.full(200, 351000.0) + rng.normal(0, 30, 200),
        np.full(200, 571000.0) + rng.normal(0, 30, 200),
        150 + rng.uniform(0, 20, 200).round(),
    )
    future.loc[0, "time"] = cutoff  # exactly at the cut-off is "after" too
    both = pd.concat([past, future], ignore_index=True)
    g = Grid.covering(both["x"], both["y"], cell_m=150)
    clean = make_estimator(name, grid=g).fit(past, cutoff)
    dirty = make_estimator(name, grid=g).fit(both, cutoff)
    assert dirty.n_after_cutoff_ == 200 and clean.n_after_cutoff_ == 0
    a = clean.predict(cutoff, cutoff + pd.Timedelta(days=7)).values
    b = dirty.predict(cutoff, cutoff + pd.Timedelta(days=7)).values
    np.testing.assert_array_equal(a, b)
    # and the future events would have changed it
    leaky = make_estimator(name, grid=g).fit(both, cutoff + pd.Timedelta(days=30))
    c = leaky.predict(cutoff + pd.Timedelta(days=30), cutoff + pd.Timedelta(days=37)).values
    assert not np.allclose(a, c)


def test_predict_window_rules_and_validation():
    ev = random_events(100, seed=6)
    m = NaiveRisk().fit(ev, "2016-05-01")
    with pytest.raises(InputError, match="before the training cut-off"):
        m.predict("2016-04-20", "2016-05-10")
    with pytest.raises(InputError, match="after its start"):
        m.predict("2016-05-08", "2016-05-01")
    with pytest.raises(InputError, match="not fitted"):
        NaiveRisk().predict("2016-05-01", "2016-05-08")
    est = KDERisk(bandwidth_m=-5)  # stored as given ...
    assert est.bandwidth_m == -5
    with pytest.raises(InputError, match="bandwidth_m"):  # ... refused in fit
        est.fit(ev, "2016-05-01")
    with pytest.raises(InputError, match="bandwidth_weeks"):
        ProspectiveRisk(bandwidth_weeks=0).fit(ev, "2016-05-01")
    with pytest.raises(InputError, match="max_iter"):
        SEPPRisk(max_iter=0).fit(ev, "2016-05-01")
    with pytest.raises(InputError, match="geographic"):
        NaiveRisk().fit(ev.assign(crs="EPSG:4326"), "2016-05-01")
    with pytest.raises(InputError, match="but the grid is in"):
        NaiveRisk(grid=Grid(0.0, 0.0, 150.0, 3, 3, "EPSG:27700")).fit(ev, "2016-05-01")
    with pytest.raises(InputError, match="tz-aware"):
        NaiveRisk().fit(ev.assign(time=ev["time"].dt.tz_localize(None)), "2016-05-01")
    with pytest.raises(InputError, match="missing columns"):
        NaiveRisk().fit(ev.drop(columns="x"), "2016-05-01")
    with pytest.raises(InputError, match="cannot read"):
        NaiveRisk().fit(ev, "not a date")
    with pytest.raises(InputError, match="expected to be one of"):
        make_estimator("svm")


def test_get_params_and_clone():
    est = ProspectiveRisk(bandwidth_m=300, bandwidth_weeks=4)
    p = est.get_params()
    assert p["bandwidth_m"] == 300 and p["bandwidth_weeks"] == 4 and p["grid"] is None
    c = est.clone(bandwidth_m=500)
    assert c.bandwidth_m == 500 and c.bandwidth_weeks == 4 and not hasattr(c, "cutoff_")
    assert "ProspectiveRisk(" in repr(est)
