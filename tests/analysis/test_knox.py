"""Knox test: brute-force oracles on real data, a hand-worked p-value, band edges, invariances,
the published NearRepeat / Near Repeat Calculator tables, validation, cocoon parameters, figure.
"""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from guardian.analysis.nearrepeat import (
    KnoxResult,
    band_labels,
    derive_cocoon_parameters,
    knox_test,
)
from guardian.analysis.nearrepeat import knox as knox_mod
from guardian.errors import InputError
from guardian.reports.knox_heatmap import knox_heatmap

REPO = Path(__file__).resolve().parents[2]
CHICAGO_BE = REPO / "data" / "chicago_residential_burglary_2016" / "chicago_be.csv"
MONTH1 = REPO / "tests" / "fixtures" / "knox_chicago_be_month1.csv"


# ---------------------------------------------------------------------------------------------
# data and the brute-force oracle
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chicago() -> pd.DataFrame:
    if not CHICAGO_BE.is_file():
        pytest.skip(f"{CHICAGO_BE} is not present")
    d = pd.read_csv(CHICAGO_BE).dropna().reset_index(drop=True)
    d["t"] = (pd.to_datetime(d["date"]) - pd.Timestamp("2015-12-31")).dt.days.astype(float)
    return d


@pytest.fixture(scope="module")
def month1() -> pd.DataFrame:
    d = pd.read_csv(MONTH1, header=None, names=["X", "Y", "date"])
    d["t"] = (pd.to_datetime(d["date"]) - pd.to_datetime(d["date"]).min()).dt.days.astype(float)
    return d


def subsets(chicago: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Two real subsets: the first 1,500 events in time, and 1,500 events in a dense 6 km box."""
    first = chicago.iloc[:1500]
    box = chicago[(chicago.X.between(350_000, 356_000)) & (chicago.Y.between(576_000, 582_000))]
    return {"first1500": first, "box": box.iloc[:1500]}


def brute_table(x, y, t, space, time, closed, same, metric, perm=None) -> np.ndarray:
    """All n(n-1)/2 pairs from full n x n matrices; bands written out as plain inequalities."""
    n = len(x)
    iu = np.triu_indices(n, 1)
    dx = x[:, None] - x[None, :]
    dy = y[:, None] - y[None, :]
    full = np.hypot(dx, dy) if metric == "euclidean" else np.abs(dx) + np.abs(dy)
    d = full[iu]
    tt = t if perm is None else t[perm]
    dt = np.abs(tt[:, None] - tt[None, :])[iu]

    def band(v, b):
        out = np.full(v.shape, -1)  # -1: below the first break, in no band
        for k in range(len(b) - 1):
            if closed == "left":
                inside = (v >= b[k]) & (v < b[k + 1])
            else:
                inside = ((v > b[k]) | ((k == 0) & (v == b[0]))) & (v <= b[k + 1])
            out[inside] = k
        out[(v >= b[-1]) if closed == "left" else (v > b[-1])] = len(b) - 1
        return out

    sr = band(d, space)
    if same:
        sr = np.where(d == 0, -2, sr)
    tc = band(dt, time)
    rows = ([-2] if same else []) + list(range(len(space)))
    return np.array([[np.sum((sr == r) & (tc == c)) for c in range(len(time))] for r in rows])


def brute_permutations(x, y, t, space, time, closed, same, metric, seed, permutations):
    """Permutation i = i-th ``default_rng(seed).permutation(n)``; event e gets t[perm[e]]."""
    rng = np.random.default_rng(seed)
    return np.array(
        [
            brute_table(x, y, t, space, time, closed, same, metric, rng.permutation(len(x)))
            for _ in range(permutations)
        ]
    )


SPACE = [0, 50, 100, 200, 400]
TIME = [0, 1, 3, 7, 14, 28]


# ---------------------------------------------------------------------------------------------
# observed and expected against brute force
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("closed", ["left", "right"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("same", [False, True])
def test_observed_equals_brute_force_on_real_subsets(chicago, closed, metric, same):
    for name, d in subsets(chicago).items():
        x, y, t = d.X.to_numpy(), d.Y.to_numpy(), d.t.to_numpy()
        r = knox_test(
            x,
            y,
            t,
            space_bands=SPACE,
            time_bands=TIME,
            closed=closed,
            same_location=same,
            metric=metric,
            permutations=1,
            random_state=0,
        )
        expected = brute_table(x, y, t, SPACE, TIME, closed, same, metric)
        np.testing.assert_array_equal(r.observed, expected, err_msg=name)
        assert r.observed.sum() == len(x) * (len(x) - 1) // 2
        assert r.observed.shape == (len(SPACE) + same, len(TIME))
    # the real data do exercise the edges: same-place pairs and whole-day differences on breaks
    assert expected[0].sum() > 0


@pytest.mark.parametrize(
    ("closed", "metric", "same"),
    [("left", "euclidean", False), ("right", "manhattan", True), ("left", "manhattan", True)],
)
def test_expected_equals_brute_force_permutations_same_seed(chicago, closed, metric, same):
    d = subsets(chicago)["box"].iloc[:700]
    x, y, t = d.X.to_numpy(), d.Y.to_numpy(), d.t.to_numpy()
    P, seed = 19, 20261124
    r = knox_test(
        x,
        y,
        t,
        space_bands=SPACE,
        time_bands=TIME,
        closed=closed,
        same_location=same,
        metric=metric,
        permutations=P,
        random_state=seed,
    )
    sims = brute_permutations(x, y, t, SPACE, TIME, closed, same, metric, seed, P)
    obs = brute_table(x, y, t, SPACE, TIME, closed, same, metric)
    np.testing.assert_array_equal(r.observed, obs)
    np.testing.assert_allclose(r.expected_mean, sims.mean(axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.expected_median, np.median(sims, axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(r.expected_sd, sims.std(axis=0, ddof=1), rtol=1e-12, atol=1e-9)
    k = (sims >= obs[None]).sum(axis=0)
    np.testing.assert_allclose(r.p_value, (k + 1) / (P + 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(r.knox_ratio, obs / sims.mean(axis=0), equal_nan=True)
        sd = sims.std(axis=0, ddof=1)
        z = np.where(sd > 0, (obs - sims.mean(axis=0)) / sd, np.nan)
    np.testing.assert_allclose(r.z_score, z, equal_nan=True)
    assert r.seed == seed


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("minutes_over_a_year", "lut"),
        ("arbitrary_float_days", "search"),
        ("first_break_above_zero", "hist"),
    ],
)
def test_permutation_kernels_match_brute_force(chicago, kind, mode, monkeypatch):
    """The histogram, lookup-table and searchsorted kernels (chosen by the time resolution)."""
    chosen = []
    select = knox_mod._select_mode
    monkeypatch.setattr(
        knox_mod, "_select_mode", lambda *a: chosen.append(select(*a)) or chosen[-1]
    )
    d = subsets(chicago)["box"].iloc[:400]
    x, y = d.X.to_numpy(), d.Y.to_numpy()
    rng = np.random.default_rng(3)
    space, time = SPACE, TIME
    if kind == "minutes_over_a_year":
        t = d.t.to_numpy() + rng.integers(0, 1440, len(d)) / 1440.0
    elif kind == "arbitrary_float_days":
        t = rng.uniform(0, 365, len(d))
    else:
        t = d.t.to_numpy()
        space, time = [20, 100, 300], [2, 7, 21]
    r = knox_test(
        x, y, t, space_bands=space, time_bands=time, closed="right", permutations=9, random_state=11
    )
    sims = brute_permutations(x, y, t, space, time, "right", False, "euclidean", 11, 9)
    np.testing.assert_array_equal(
        r.observed, brute_table(x, y, t, space, time, "right", False, "euclidean")
    )
    np.testing.assert_allclose(r.expected_mean, sims.mean(axis=0), atol=1e-9)
    assert chosen == [mode]
    if kind == "first_break_above_zero":
        assert any("closer than the first space break" in w for w in r.warnings)
        assert any("closer in time than the first time break" in w for w in r.warnings)


@pytest.mark.parametrize("closed", ["left", "right"])
def test_first_breaks_above_zero_with_same_location_match_brute_force(chicago, closed):
    """Pairs below the first break are in no band; distance 0 still goes to 'same location'."""
    d = subsets(chicago)["box"].iloc[:1000]
    x, y, t = d.X.to_numpy(), d.Y.to_numpy(), d.t.to_numpy()
    space, time = [25, 100, 250], [1, 7, 30]
    r = knox_test(
        x,
        y,
        t,
        space_bands=space,
        time_bands=time,
        closed=closed,
        same_location=True,
        permutations=1,
        random_state=0,
    )
    np.testing.assert_array_equal(
        r.observed, brute_table(x, y, t, space, time, closed, True, "euclidean")
    )
    assert r.observed.sum() < len(x) * (len(x) - 1) // 2  # some pairs are below the breaks


def test_thread_count_does_not_change_results(month1):
    a = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 100, 200],
        time_bands=[0, 7, 14],
        permutations=49,
        random_state=5,
        n_jobs=1,
    )
    b = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 100, 200],
        time_bands=[0, 7, 14],
        permutations=49,
        random_state=5,
        n_jobs=2,
    )
    np.testing.assert_array_equal(a.expected_mean, b.expected_mean)
    np.testing.assert_array_equal(a.p_value, b.p_value)


# ---------------------------------------------------------------------------------------------
# hand-worked cases
# ---------------------------------------------------------------------------------------------


def test_p_value_hand_case():
    """A and B share a place and a day; C is far away 30 days later.

    Only the pair (A, B) is within 100 m. It is within 7 days exactly when both A and B get a
    time of 0, i.e. when C keeps its own time (perm[2] == 2). So with k such permutations out
    of P: expected = k / P, ratio = P / k, p = (k + 1) / (P + 1) (every permutation with
    count 1 ties the observed 1).
    """
    x = np.array([1000.0, 1000.0, 5000.0])
    y = np.array([1000.0, 1000.0, 5000.0])
    t = np.array([0.0, 0.0, 30.0])
    P, seed = 60, 42
    r = knox_test(
        x, y, t, space_bands=[0, 100], time_bands=[0, 7], permutations=P, random_state=seed
    )
    rng = np.random.default_rng(seed)
    k = sum(int(rng.permutation(3)[2] == 2) for _ in range(P))
    assert 0 < k < P
    np.testing.assert_array_equal(r.observed, [[1, 0], [0, 2]])
    assert r.p_value[0, 0] == pytest.approx((k + 1) / (P + 1))
    assert r.expected_mean[0, 0] == pytest.approx(k / P)
    assert r.knox_ratio[0, 0] == pytest.approx(P / k)
    # count 0 in (0-100 m, >= 7 days) is matched or beaten by every permutation: p = 1
    assert r.p_value[0, 1] == 1.0
    # the open-open cell: 2 pairs far apart; ties in every permutation with C at t=30
    assert r.observed[1].sum() == 2


def test_band_edges_exact_and_closure_rule():
    # P0-P1: exactly 100 m and 7 days; P0-P2: 3-4-5 triangle, 500 m, 14 days.
    x = np.array([1000.0, 1100.0, 1300.0])
    y = np.array([1000.0, 1000.0, 1400.0])
    t = np.array([0.0, 7.0, 14.0])
    left = knox_test(x, y, t, space_bands=[0, 100, 500], time_bands=[0, 7, 14], permutations=1)
    right = knox_test(
        x, y, t, space_bands=[0, 100, 500], time_bands=[0, 7, 14], closed="right", permutations=1
    )
    # P1-P2: hypot(200, 400) = 447.2 m, 7 days
    assert left.observed[1, 1] == 2  # [100, 500) x [7, 14): P0-P1 and P1-P2
    assert left.observed[2, 2] == 1  # [500, inf) x [14, inf): P0-P2
    assert right.observed[0, 0] == 1  # [0, 100] x [0, 7]: P0-P1
    assert right.observed[1, 0] == 1  # (100, 500] x [0, 7]: P1-P2
    assert right.observed[1, 1] == 1  # (100, 500] x (7, 14]: P0-P2
    assert left.space_labels == ("[0, 100)", "[100, 500)", "[500, inf)")
    assert right.time_labels == ("[0, 7]", "(7, 14]", "(14, inf)")


def test_float_noise_does_not_move_pairs_across_a_break():
    # 1100.1 - 1000.1 is 99.99999999999989 in floating point: still "on the break" here.
    x = np.array([1000.1, 1100.1])
    y = np.array([2000.0, 2000.0])
    assert (x[1] - x[0]) < 100  # the floating-point noise this test is about
    # a 7-day difference computed from fractional days that is not exactly 7.0 in floats
    t0 = next(v for v in np.arange(0.01, 5, 0.01) if (v + 7.0) - v != 7.0)
    t = np.array([t0, t0 + 7.0])
    r = knox_test(x, y, t, space_bands=[0, 100, 200], time_bands=[0, 7, 14], permutations=1)
    assert r.observed[1, 1] == 1  # [100, 200) x [7, 14)
    r = knox_test(
        x, y, t, space_bands=[0, 100, 200], time_bands=[0, 7, 14], closed="right", permutations=1
    )
    assert r.observed[0, 0] == 1  # [0, 100] x [0, 7]


def test_same_location_band_takes_distance_zero_only():
    x = np.array([1000.0, 1000.0, 1000.5, 1300.0])
    y = np.array([1000.0, 1000.0, 1000.0, 1000.0])
    t = np.array([0.0, 1.0, 2.0, 3.0])
    r = knox_test(
        x, y, t, space_bands=[0, 100, 400], time_bands=[0, 7], same_location=True, permutations=1
    )
    assert r.space_labels[:2] == ("0 (same location)", "(0, 100)")
    np.testing.assert_array_equal(r.observed[:, 0], [1, 2, 3, 0])


# ---------------------------------------------------------------------------------------------
# invariances and seeds
# ---------------------------------------------------------------------------------------------


def test_invariances_shift_times_translate_points_same_seed(month1):
    kw = dict(space_bands=[0, 100, 200, 400], time_bands=[0, 7, 14, 28], permutations=99)
    x, y, t = month1.X.to_numpy(), month1.Y.to_numpy(), month1.t.to_numpy()
    base = knox_test(x, y, t, random_state=7, **kw)
    shifted = knox_test(x + 12_345.0, y - 6_789.0, t + 1000.25, random_state=7, **kw)
    np.testing.assert_array_equal(base.observed, shifted.observed)
    np.testing.assert_array_equal(base.expected_mean, shifted.expected_mean)
    again = knox_test(x, y, t, random_state=7, **kw)
    np.testing.assert_array_equal(base.expected_mean, again.expected_mean)
    np.testing.assert_array_equal(base.p_value, again.p_value)
    other = knox_test(x, y, t, random_state=8, **kw)
    np.testing.assert_array_equal(base.observed, other.observed)
    assert not np.array_equal(base.expected_mean, other.expected_mean)


def test_seed_from_generator_and_none_is_recorded_and_reproduces(month1):
    kw = dict(space_bands=[0, 200], time_bands=[0, 14], permutations=19)
    x, y, t = month1.X, month1.Y, month1.t
    r = knox_test(x, y, t, random_state=np.random.default_rng(123), **kw)
    again = knox_test(x, y, t, random_state=r.seed, **kw)
    np.testing.assert_array_equal(r.expected_mean, again.expected_mean)
    r2 = knox_test(x, y, t, random_state=None, **kw)
    assert isinstance(r2.seed, int)
    np.testing.assert_array_equal(
        r2.expected_mean, knox_test(x, y, t, random_state=r2.seed, **kw).expected_mean
    )


# ---------------------------------------------------------------------------------------------
# published tables: Near Repeat Calculator and the NearRepeat R package vignette
# ---------------------------------------------------------------------------------------------


def test_reproduces_near_repeat_calculator_observed_table(month1):
    """NRC 1.3 on chicago_be_month1.csv, 100 m x 3 bands, 7 days x 3 bands, Manhattan.

    The NRC labels its rows "Same location, 1 to 100, 101 to 200, 201 to 300, More than 300"
    and columns "0 to 7, 8 to 14, 15 to 21, More than 21", but the counts are those of the
    intervals [0, 1), [1, 100), [100, 200), [200, 300), [300, inf) x [0, 7), [7, 14), [14, 21),
    [21, inf) (NearRepeat vignette "NRC"). Table from
    inst/extdata/chicago_be_month1_NRverbose_2019-09-23_143005.csv.
    """
    nrc = np.array(
        [
            [28, 5, 5, 2],
            [44, 13, 8, 4],
            [97, 56, 19, 16],
            [77, 67, 45, 20],
            [182194, 146149, 95237, 45879],
        ]
    )
    r = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 1, 100, 200, 300],
        time_bands=[0, 7, 14, 21],
        metric="manhattan",
        permutations=99,
        random_state=1,
    )
    np.testing.assert_array_equal(r.observed, nrc)
    # the same table with Guardian's "same location" band (no pairs lie in (0, 1) m here)
    r2 = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 100, 200, 300],
        time_bands=[0, 7, 14, 21],
        same_location=True,
        metric="manhattan",
        permutations=1,
        random_state=1,
    )
    np.testing.assert_array_equal(r2.observed, nrc)
    # NRC's "Observed over mean expected" flags the three short-range 0-7 day cells
    # (significant at its best possible p of 0.05 with 19 iterations); so does Guardian
    assert r.p_value[0:3, 0].max() <= 0.05 and (r.knox_ratio[0:3, 0] > 1.2).all()


def test_reproduces_nearrepeat_vignette_tables(month1):
    """doc/NearRepeat.html: sds c(0, 0.1, 200, 400, 600), tds c(0, 7, 14, 21), manhattan,
    999 simulations, set.seed(9489). R drops pairs beyond the last breaks; Guardian adds the
    open-ended bands, so the finite cells are compared."""
    obs_r = np.array([[28, 5, 5], [141, 69, 27], [186, 140, 100], [237, 192, 128]])
    ratio_r = np.array(
        [
            [1.8027842, 0.4043552, 0.6128082],
            [1.4121203, 0.8621871, 0.5170609],
            [1.0144070, 0.9499294, 1.0511474],
            [0.9754211, 0.9806536, 1.0071754],
        ]
    )
    p_r = np.array(
        [[0.001, 1.000, 0.943], [0.001, 0.929, 1.000], [0.435, 0.785, 0.312], [0.696, 0.635, 0.479]]
    )
    r = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 0.1, 200, 400, 600],
        time_bands=[0, 7, 14, 21],
        metric="manhattan",
        permutations=999,
        random_state=9489,
    )
    np.testing.assert_array_equal(r.observed[:4, :3], obs_r)
    # different RNG, so Monte Carlo noise: ratios within 0.12, p-values within 0.12
    np.testing.assert_allclose(r.knox_ratio[:4, :3], ratio_r, atol=0.12)
    np.testing.assert_allclose(r.p_value[:4, :3], p_r, atol=0.12)
    assert r.p_value[0, 0] <= 0.002 and r.p_value[1, 0] <= 0.002
    # significant cells are exactly R's highlighted ones: repeat and 0.1-200 m within 7 days
    assert [(c["space_index"], c["time_index"]) for c in r.significant] == [(0, 0), (1, 0)]


# ---------------------------------------------------------------------------------------------
# result objects
# ---------------------------------------------------------------------------------------------


def test_to_dict_is_json_with_the_documented_keys_and_to_frame_is_long(month1):
    r = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 100, 200],
        time_bands=[0, 7, 14],
        same_location=True,
        permutations=19,
        random_state=3,
    )
    d = r.to_dict()
    for key in [
        "n_events",
        "permutations",
        "seed",
        "space_bands",
        "time_bands",
        "closed",
        "metric",
        "observed",
        "expected_mean",
        "expected_median",
        "knox_ratio",
        "knox_ratio_median",
        "p_value",
        "z_score",
        "significant",
        "space_labels",
        "time_labels",
    ]:
        assert key in d
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["seed"] == 3
    assert np.array(d["observed"]).shape == (4, 3)
    f = r.to_frame()
    assert len(f) == 12
    assert f.loc[0, "space_band"] == "0 (same location)" and f.loc[0, "time_band"] == "[0, 7)"
    assert f["observed"].sum() == 970 * 969 // 2
    assert f["significant"].sum() == len(r.significant)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.seed = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        r.observed[0, 0] = 1


def test_band_labels():
    assert band_labels([0, 100, 200]) == ["[0, 100)", "[100, 200)", "[200, inf)"]
    assert band_labels([0, 7, 14], closed="right") == ["[0, 7]", "(7, 14]", "(14, inf)"]
    assert band_labels([0, 0.5, 1], same_location=True)[:2] == ["0 (same location)", "(0, 0.5)"]


# ---------------------------------------------------------------------------------------------
# cocoon parameters
# ---------------------------------------------------------------------------------------------


def _with_hot(r: KnoxResult, hot: list[tuple[int, int]]) -> KnoxResult:
    p = np.ones(r.shape)
    ratio = np.ones(r.shape)
    for i, j in hot:
        p[i, j] = 0.001
        ratio[i, j] = 1.5
    return dataclasses.replace(r, p_value=p, knox_ratio=ratio)


def test_derive_cocoon_parameters_walks_outward_from_the_origin():
    x = np.array([1000.0, 1050.0, 1500.0])
    y = np.array([1000.0, 1000.0, 1000.0])
    t = np.array([0.0, 3.0, 10.0])
    base = knox_test(
        x, y, t, space_bands=[0, 100, 200, 300], time_bands=[0, 7, 14, 21], permutations=1
    )
    # docstring example: (0,0), (1,0), (0,1) hot; (2,2) hot but not connected
    assert derive_cocoon_parameters(_with_hot(base, [(0, 0), (1, 0), (0, 1), (2, 2)])) == (
        200.0,
        14.0,
    )
    # a staircase: (0,0) -> (0,1) -> (1,1) -> (2,1)
    assert derive_cocoon_parameters(_with_hot(base, [(0, 0), (0, 1), (1, 1), (2, 1)])) == (
        300.0,
        14.0,
    )
    # origin not hot: no near-repeat pattern to act on
    assert derive_cocoon_parameters(_with_hot(base, [(1, 0), (0, 1)])) is None
    # the open-ended bands never count
    assert derive_cocoon_parameters(_with_hot(base, [(0, 0), (3, 0), (0, 3)])) == (100.0, 7.0)
    # thresholds are parameters
    hot = _with_hot(base, [(0, 0), (1, 0)])
    assert derive_cocoon_parameters(hot, min_ratio=2.0) is None
    assert derive_cocoon_parameters(hot, alpha=0.0001) is None


def test_derive_cocoon_parameters_ignores_the_same_location_row(month1):
    r = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 100, 200, 300],
        time_bands=[0, 7, 14, 21],
        same_location=True,
        permutations=1,
    )
    only_repeats = _with_hot(r, [(0, 0)])  # same location only
    assert derive_cocoon_parameters(only_repeats) is None
    assert derive_cocoon_parameters(_with_hot(r, [(0, 0), (1, 0), (2, 0)])) == (200.0, 7.0)


def test_derive_cocoon_parameters_on_real_burglary(chicago):
    """Chicago 2016 burglary, 999 permutations: a near-repeat zone exists at short range."""
    r = knox_test(
        chicago.X,
        chicago.Y,
        chicago.t,
        space_bands=[0, 100, 200, 300, 400, 500],
        time_bands=[0, 7, 14, 21, 28, 35, 42, 49, 56],
        permutations=199,
        random_state=1,
    )
    params = derive_cocoon_parameters(r)
    assert params is not None
    radius, window = params
    assert 100 <= radius <= 500 and 7 <= window <= 56


# ---------------------------------------------------------------------------------------------
# figure
# ---------------------------------------------------------------------------------------------


def test_knox_heatmap_writes_png_and_draws_on_axes(month1, tmp_path):
    r = knox_test(
        month1.X,
        month1.Y,
        month1.t,
        space_bands=[0, 100, 200],
        time_bands=[0, 7, 14],
        permutations=19,
        random_state=2,
    )
    out = tmp_path / "knox.png"
    knox_heatmap(r, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    assert knox_heatmap(r, ax) is ax
    assert [tk.get_text() for tk in ax.get_yticklabels()] == list(r.space_labels)
    with pytest.raises(InputError, match="file path or a matplotlib Axes"):
        knox_heatmap(r, 42)
    with pytest.raises(InputError, match="does not exist"):
        knox_heatmap(r, tmp_path / "missing" / "k.png")


# ---------------------------------------------------------------------------------------------
# memory: proportional to close pairs, never n^2
# ---------------------------------------------------------------------------------------------


def test_memory_is_not_quadratic(chicago):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(chicago), 40_000)
    x = chicago.X.to_numpy()[idx] + rng.uniform(-50, 50, idx.size)
    y = chicago.Y.to_numpy()[idx] + rng.uniform(-50, 50, idx.size)
    t = rng.integers(0, 3100, idx.size).astype(float)
    tracemalloc.start()
    r = knox_test(
        x, y, t, space_bands=[0, 100, 200], time_bands=[0, 7, 14], permutations=3, random_state=0
    )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # n^2 float64 would be 12.8 GB; n(n-1)/2 pairs 6.4 GB. Close pairs here are ~10^6.
    assert peak < 300e6, f"peak {peak / 1e6:.0f} MB"
    assert r.observed.sum() == 40_000 * 39_999 // 2


# ---------------------------------------------------------------------------------------------
# validation: every branch
# ---------------------------------------------------------------------------------------------

X3 = [1000.0, 1100.0, 1200.0]
Y3 = [2000.0, 2000.0, 2100.0]
T3 = [0.0, 1.0, 2.0]
OK = dict(space_bands=[0, 100], time_bands=[0, 7], permutations=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(x=X3[:2]), "same length"),
        (dict(x=X3[:1], y=Y3[:1], t=T3[:1]), "at least 2 events"),
        (dict(x=[1000.0, np.nan, 1200.0]), "non-finite value"),
        (dict(t=[0.0, np.inf, 1.0]), "non-finite value"),
        (dict(x=["a", "b", "c"]), "must be numeric"),
        (dict(x=[[1000.0, 1100.0, 1200.0]]), "one-dimensional"),
        (dict(x=[-0.1, 0.2, 0.3], y=[51.5, 51.6, 51.7]), "degrees"),
        (dict(t=[0.0, 1e9, 1.0]), "must be in days"),
        (dict(space_bands=[100]), "at least two break points"),
        (dict(space_bands=[0, 200, 100]), "strictly increasing"),
        (dict(time_bands=[-7, 0, 7]), "non-negative"),
        (dict(time_bands="0,7,14"), "sequence of break points"),
        (dict(space_bands=None), "sequence of break points"),
        (dict(closed="both"), "`closed` was 'both'"),
        (dict(metric="chebyshev"), "`metric` was 'chebyshev'"),
        (dict(permutations=0), "permutations"),
        (dict(permutations=9.5), "permutations"),
        (dict(permutations=True), "permutations"),
        (dict(alpha=0.0), "alpha"),
        (dict(alpha=1.5), "alpha"),
        (dict(random_state=-1), "non-negative int"),
        (dict(random_state="seed"), "random_state"),
        (dict(random_state=True), "random_state"),
        (dict(n_jobs=0), "n_jobs"),
    ],
)
def test_validation_errors_name_the_value_and_fix(kwargs, match):
    args = dict(x=X3, y=Y3, t=T3, **OK)
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        knox_test(args.pop("x"), args.pop("y"), args.pop("t"), **args)


def test_integer_edges_helper_matches_the_closure_rule():
    e = knox_mod._integer_edges(np.array([0, 10, 20]), "right")
    assert list(knox_mod._classify(np.array([0, 10, 11, 20, 21]), e)) == [0, 0, 1, 1, 2]
    e = knox_mod._integer_edges(np.array([5, 10, 20]), "left")
    assert list(knox_mod._classify(np.array([4, 5, 10, 19, 20]), e)) == [-1, 0, 1, 1, 2]
