"""Harm spots: Gi* (against esda's worked example and an independent W), FDR, shares against a
brute-force recount, concentration, Mann-Kendall, labels, police-generated exclusion."""

from __future__ import annotations

from pathlib import Path

import libpysal
import numpy as np
import pandas as pd
import pymannkendall
import pytest
from esda import fdr
from esda.getisord import G_Local

from guardian.analysis.hotspots import (
    StudyArea,
    bh_qvalues,
    concentration,
    distance_band_graph,
    emerging_hotspots,
    emerging_labels,
    gi_star,
    gini,
    grid_gi_star,
    grid_graph,
    harm_spots,
    mann_kendall,
    month_periods,
    queen_adjacency,
    spot_overlap,
    top_share,
)
from guardian.errors import InputError

REPO = Path(__file__).resolve().parents[2]
ESSEX = REPO / "data" / "police_uk_street_essex"

# --- Gi* -----------------------------------------------------------------------------------------

DOC_POINTS = np.array([(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)], float)
DOC_Y = np.array([2, 3, 3.2, 5, 8, 7])
# esda/getisord.py, G_Local docstring: "Applying Getis and Ord local G* test using a binary
# weights object" (DistanceBand threshold=15, transform='B', star=True)
DOC_ZS_STAR = np.array([-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088, 2.02424331])


def test_gi_star_reproduces_esda_docstring_example():
    g = distance_band_graph(DOC_POINTS[:, 0], DOC_POINTS[:, 1], 15)
    res = gi_star(DOC_Y, g)
    np.testing.assert_allclose(res.z, DOC_ZS_STAR, atol=1e-8)
    # analytical two-sided p-values from the z-scores
    from scipy.stats import norm

    np.testing.assert_allclose(res.p, 2 * norm.sf(np.abs(DOC_ZS_STAR)), atol=1e-8)
    # and the same numbers as esda on libpysal's own DistanceBand weights
    w = libpysal.weights.DistanceBand(DOC_POINTS, threshold=15, silence_warnings=True)
    lg = G_Local(DOC_Y, w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(res.z, lg.Zs, atol=1e-10)


def test_gi_star_permutations_are_seeded():
    g = distance_band_graph(DOC_POINTS[:, 0], DOC_POINTS[:, 1], 15)
    a = gi_star(DOC_Y, g, permutations=199, random_state=7)
    b = gi_star(DOC_Y, g, permutations=199, random_state=7)
    np.testing.assert_array_equal(a.p, b.p)
    assert a.random_state == 7 and a.permutations == 199
    assert np.all((a.p > 0) & (a.p <= 0.5 + 1e-9))  # esda's folded pseudo p-values


def test_queen_adjacency_matches_libpysal_lat2w():
    ny, nx = 4, 5
    a = queen_adjacency(np.ones((ny, nx), bool)).toarray()
    w = libpysal.weights.lat2W(ny, nx, rook=False)
    ref = w.sparse.toarray()
    np.testing.assert_array_equal(a, ref)
    # with a mask: the sub-matrix of the full one
    mask = np.ones((ny, nx), bool)
    mask[1, 2] = mask[3, 0] = False
    sub = queen_adjacency(mask).toarray()
    keep = np.flatnonzero(mask.ravel())
    np.testing.assert_array_equal(sub, ref[np.ix_(keep, keep)])


def test_grid_gi_star_matches_classic_w_route():
    rng = np.random.default_rng(3)
    ny, nx = 6, 7
    values = rng.poisson(1.5, size=(ny, nx)).astype(float)
    mask = np.ones((ny, nx), bool)
    res = grid_gi_star(values, mask, grid_graph(mask))
    w = libpysal.weights.lat2W(ny, nx, rook=False)
    lg = G_Local(values.ravel(), w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(res.z.ravel(), lg.Zs, atol=1e-10)
    # distance band of 1.5 cells == queen
    res_d = grid_gi_star(values, mask, grid_graph(mask, neighbourhood=1.5 * 150, cell_m=150))
    np.testing.assert_allclose(res_d.z, res.z, atol=1e-10)


def test_grid_gi_star_mask_outside_is_blank():
    values = np.arange(12, dtype=float).reshape(3, 4)
    mask = np.ones((3, 4), bool)
    mask[0, 0] = False
    res = grid_gi_star(values, mask, grid_graph(mask))
    assert np.isnan(res.z[0, 0]) and res.q[0, 0] == 1.0 and not res.hot[0, 0]
    assert res.n == 11


def test_gi_star_validation():
    g = distance_band_graph(DOC_POINTS[:, 0], DOC_POINTS[:, 1], 15)
    with pytest.raises(InputError, match="entries"):
        gi_star(DOC_Y[:5], g)
    with pytest.raises(InputError, match="varying"):
        gi_star(np.ones(6), g)
    with pytest.raises(InputError, match="finite"):
        gi_star(np.r_[DOC_Y[:5], np.nan], g)
    with pytest.raises(InputError, match="alpha"):
        gi_star(DOC_Y, g, alpha=1.5)
    with pytest.raises(InputError, match="queen"):
        grid_graph(np.ones((2, 2), bool), neighbourhood="rook")
    with pytest.raises(InputError, match="distance band"):
        distance_band_graph([0, 1], [0, 1], -5)


def test_bh_qvalues_hand_case_and_esda_fdr():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 -> x 4/rank = 0.02, 0.02, 0.04, 0.04 (already monotone)
    np.testing.assert_allclose(bh_qvalues(p), [0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.002, 40), rng.uniform(0, 1, 400)])
    cut = fdr(p, 0.05)
    np.testing.assert_array_equal(bh_qvalues(p) <= 0.05, p <= cut)


# --- concentration ------------------------------------------------------------------------------


def test_top_share_and_gini_hand_cases():
    v = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4], float)
    assert top_share(v, 0.10) == pytest.approx(0.4)  # one cell: 4 / 10
    assert top_share(v, 0.05) == pytest.approx(0.2)  # half a cell: 0.5 * 4 / 10
    assert top_share(v, 0.25) == pytest.approx(0.8)  # 2.5 cells: (4 + 3 + 0.5 * 2) / 10
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    x = np.random.default_rng(1).gamma(0.5, size=57)
    brute = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    assert gini(x) == pytest.approx(brute)


def test_concentration_two_bases():
    v = np.array([0, 0, 0, 0, 0, 0, 1, 2, 3, 4], float)
    c = concentration(v, fractions=(0.1, 0.25))
    assert c.n_area_cells == 10 and c.n_occupied_cells == 4
    assert c.share_of_area == pytest.approx((0.4, 0.8))
    # occupied basis: 4 cells; 10% = 0.4 cell of 4 -> 1.6/10; 25% = 1 cell -> 0.4
    assert c.share_of_occupied == pytest.approx((0.16, 0.4))
    assert "basis" in c.sentence()


# --- Mann-Kendall and labels ---------------------------------------------------------------------


def test_mann_kendall_hand_case():
    mk = mann_kendall([1, 2, 3, 4, 5])
    assert mk.s[0] == 10
    assert mk.var_s[0] == pytest.approx(5 * 4 * 15 / 18)
    assert mk.z[0] == pytest.approx(9 / np.sqrt(5 * 4 * 15 / 18))
    assert mk.p[0] == pytest.approx(0.0275, abs=5e-4)
    assert mk.trend[0] == 1
    # with a tie: S = 5, Var = (4*3*13 - 2*1*9) / 18
    mk = mann_kendall([1, 2, 2, 3])
    assert mk.s[0] == 5
    assert mk.var_s[0] == pytest.approx((156 - 18) / 18)
    assert mk.z[0] == pytest.approx(4 / np.sqrt((156 - 18) / 18))


def test_mann_kendall_matches_pymannkendall():
    rng = np.random.default_rng(5)
    x = np.round(
        rng.normal(size=(25, 15)) + np.linspace(0, 1.5, 15) * rng.choice([-1, 0, 1], (25, 1)), 1
    )
    mk = mann_kendall(x)
    for i in range(x.shape[0]):
        ref = pymannkendall.original_test(x[i])
        assert mk.s[i] == ref.s
        assert mk.var_s[i] == pytest.approx(ref.var_s)
        assert mk.z[i] == pytest.approx(ref.z)
        assert mk.p[i] == pytest.approx(ref.p)


def test_emerging_labels_hand_cases():
    T = 8
    hot = np.zeros((6, T), bool)
    z = np.zeros((6, T))
    # row 0: new -- hot only in the final period
    hot[0, -1] = True
    z[0] = np.r_[np.zeros(T - 1), 3.0]
    # row 1: persistent -- always hot, flat z
    hot[1] = True
    z[1] = 3.0 + np.array([0.1, -0.1] * 4)
    # row 2: emerging -- hot lately, z rising
    hot[2, 3:] = True
    z[2] = np.linspace(0, 5, T)
    # row 3: diminishing -- hot throughout, z falling
    hot[3] = True
    z[3] = np.linspace(6, 2.5, T)
    # row 4: historical -- hot in every period but the last
    hot[4, :-1] = True
    z[4] = 3.0 + np.array([0.1, -0.1] * 4)
    z[4, -1] = 0.5
    # row 5: never hot
    labels, mk = emerging_labels(hot, z)
    assert list(labels) == ["new", "persistent", "emerging", "diminishing", "historical", ""]


def test_spot_overlap_hand_case():
    o = spot_overlap([(1, 1), (1, 2), (5, 5)], [(1, 2), (5, 5), (9, 9), (8, 8)])
    assert o["overlap"] == 2 and o["n_current"] == 4
    assert o["jaccard"] == pytest.approx(2 / 5)
    assert o["share_repeated"] == pytest.approx(0.5)


# --- harm spots ---------------------------------------------------------------------------------


def _synthetic_events(n=600, seed=0, precision="day"):
    rng = np.random.default_rng(seed)
    # a few tight clusters over a sparse background, 3 km square, BNG-like coordinates
    centres = np.array([[531000.0, 181000.0], [532200.0, 182100.0], [530400.0, 182500.0]])
    k = rng.integers(0, 4, n)
    x = np.where(
        k < 3, centres[np.minimum(k, 2), 0] + rng.normal(0, 60, n), 530000 + rng.uniform(0, 3000, n)
    )
    y = np.where(
        k < 3, centres[np.minimum(k, 2), 1] + rng.normal(0, 60, n), 180000 + rng.uniform(0, 3000, n)
    )
    cats = rng.choice(
        ["Violence and sexual offences", "Robbery", "Burglary", "Drugs", "Anti-social behaviour"], n
    )
    t = pd.Timestamp("2021-03-01", tz="Europe/London") + pd.to_timedelta(
        rng.integers(0, 90, n), "D"
    )
    return pd.DataFrame(
        {
            "x": x,
            "y": y,
            "time": t,
            "time_precision": precision,
            "category": cats,
            "crs": "EPSG:27700",
            "location": [f"On or near Street {i % 7}" for i in range(n)],
            "district": rng.choice(["Basildon", "Chelmsford"], n),
            "lsoa_name": "Basildon 001A",
        }
    )


WEIGHTS = {
    "Violence and sexual offences": 100.0,
    "Robbery": 365.0,
    "Burglary": 40.0,
    "Drugs": 1.0,
    "Anti-social behaviour": 0.0,
    "Possession of weapons": 5.0,
}


def test_harm_spot_shares_match_brute_force_recount():
    ev = _synthetic_events()
    area = StudyArea.from_events(ev, cell_m=150)
    res = harm_spots(
        ev,
        area=area,
        categories=["Violence and sexual offences", "Robbery", "Burglary"],
        weights=WEIGHTS,
        top_n=10,
    )
    g = area.grid
    cells: dict = {}
    tot_off = tot_harm = 0.0
    for row in ev.itertuples():
        if row.category not in ("Violence and sexual offences", "Robbery", "Burglary"):
            continue
        c = (int((row.x - g.x0) // g.cell_m), int((row.y - g.y0) // g.cell_m))
        off, hm, streets, dist = cells.get(c, (0, 0.0, [], []))
        cells[c] = (
            off + 1,
            hm + WEIGHTS[row.category],
            streets + [row.location],
            dist + [row.district],
        )
        tot_off += 1
        tot_harm += WEIGHTS[row.category]
    ranked = sorted(
        cells.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0][1] * g.nx + kv[0][0])
    )
    assert res.totals["offences"] == tot_off and res.totals["harm"] == pytest.approx(tot_harm)
    for spot, (cell, (off, hm, streets, dist)) in zip(
        res.spots.itertuples(), ranked[:10], strict=True
    ):
        assert spot.cells == [(cell[1], cell[0])]
        assert spot.offences == off
        assert spot.harm == pytest.approx(hm)
        assert spot.share_harm == pytest.approx(hm / tot_harm)
        assert spot.share_offences == pytest.approx(off / tot_off)
        assert spot.share_area == pytest.approx(1 / area.n_cells)
        assert spot.district == pd.Series(dist).value_counts().index[0]
        top_street = pd.Series(streets).value_counts().index[0].replace("On or near ", "")
        assert spot.streets.split("; ")[0] == top_street
        assert f"{off} offences" in spot.why and "Gi* z=" in spot.why and "FDR" in spot.why
    # harm per cell equals the brute-force dict everywhere
    brute = np.zeros(g.shape)
    for (cx, cy), (_, hm, _, _) in cells.items():
        brute[cy, cx] = hm
    np.testing.assert_allclose(res.harm, brute)


def test_harm_spots_grown_clusters_sum_their_cells():
    ev = _synthetic_events(seed=2)
    res = harm_spots(ev, top_n=12, grow=True)
    assert res.spots["n_cells"].sum() == 12
    assert (res.spots["n_cells"] > 1).any()
    for s in res.spots.itertuples():
        assert s.harm == pytest.approx(sum(res.harm[r, c] for r, c in s.cells))
    assert list(res.spots["harm"]) == sorted(res.spots["harm"], reverse=True)


def test_police_generated_excluded_by_default_and_said_so():
    ev = _synthetic_events()
    res = harm_spots(ev, top_n=5)
    assert "Drugs" not in res.categories and "Drugs" in res.excluded_categories
    assert "Anti-social behaviour" not in res.categories
    assert any("Drugs" in n and "excluded" in n for n in res.notes)
    n_expected = ev["category"].isin(["Violence and sexual offences", "Robbery", "Burglary"]).sum()
    assert res.totals["offences"] == n_expected
    with pytest.raises(InputError, match="include_police_generated"):
        harm_spots(ev, categories=["Drugs"])
    res2 = harm_spots(ev, categories=["Drugs"], include_police_generated=True, top_n=3)
    assert res2.totals["offences"] == (ev["category"] == "Drugs").sum()
    res3 = harm_spots(ev, include_police_generated=True, top_n=3)
    assert "Drugs" in res3.categories and res3.excluded_categories == ()


def test_precision_labels():
    assert harm_spots(_synthetic_events(precision="month"), top_n=3).precision == "approximate"
    res = harm_spots(_synthetic_events(precision="day"), top_n=3)
    assert res.precision == "exact"
    assert "approximate" not in res.spots["why"].iloc[0]
    assert (
        "approximate"
        in harm_spots(_synthetic_events(precision="month"), top_n=3).spots["why"].iloc[0]
    )


def test_period_filter_and_weights_array():
    ev = _synthetic_events()
    w = np.arange(len(ev), dtype=float)
    res = harm_spots(ev, start="2021-04-01", end="2021-05-01", weights=w, top_n=3)
    keep = (
        (ev["time"] >= pd.Timestamp("2021-04-01", tz="Europe/London"))
        & (ev["time"] < pd.Timestamp("2021-05-01", tz="Europe/London"))
        & ev["category"].isin(["Violence and sexual offences", "Robbery", "Burglary"])
    )
    assert res.totals["offences"] == keep.sum()
    assert res.totals["harm"] == pytest.approx(w[keep.to_numpy()].sum())
    assert "force harm" in res.spots["why"].iloc[0]


def test_harm_spot_validation():
    ev = _synthetic_events()
    with pytest.raises(InputError, match="no entry for categories"):
        harm_spots(ev, weights={"Robbery": 1.0})
    # a mapping only needs the selected categories (ASB and Drugs are in the data, not asked for)
    ok = harm_spots(ev, categories=["Robbery"], weights={"Robbery": 2.0}, top_n=2)
    assert ok.totals["harm"] == pytest.approx(2.0 * (ev["category"] == "Robbery").sum())
    with pytest.raises(InputError, match="weights has"):
        harm_spots(ev, weights=np.ones(3))
    with pytest.raises(InputError, match="non-negative"):
        harm_spots(ev, weights=-np.ones(len(ev)))
    with pytest.raises(InputError, match="unknown categories"):
        harm_spots(ev, categories=["Burglarly"])
    with pytest.raises(InputError, match="top_n"):
        harm_spots(ev, top_n=0)
    with pytest.raises(InputError, match="no events"):
        harm_spots(ev, start="2030-01-01", end="2030-02-01")
    with pytest.raises(InputError, match="rebuild the StudyArea"):
        harm_spots(ev.assign(crs="EPSG:3857"), area=StudyArea.from_events(ev))
    with pytest.raises(InputError, match="footprint"):
        StudyArea.from_events(ev, area="city")
    with pytest.raises(InputError, match="geographic"):
        StudyArea.from_events(ev.assign(crs="EPSG:4326"))
    with pytest.raises(InputError, match="mix"):
        StudyArea.from_events(
            ev.assign(crs=np.where(np.arange(len(ev)) % 2, "EPSG:27700", "EPSG:3857"))
        )


def test_bbox_area_covers_every_cell():
    ev = _synthetic_events()
    a = StudyArea.from_events(ev, area="bbox")
    assert a.n_cells == a.grid.n_cells
    b = StudyArea.from_events(ev, area="footprint", buffer_m=0)
    assert b.n_cells == (b.grid.counts(ev["x"], ev["y"]) > 0).sum()


def test_emerging_hotspots_synthetic_series():
    ev = _synthetic_events(n=1500, seed=4)
    periods = month_periods(["2021-03", "2021-04", "2021-05"])
    res = emerging_hotspots(ev, periods=periods, top_n=5)
    assert len(res.results) == 3 and len(res.overlap) == 2
    assert set(res.cells["label"]) <= {
        "new",
        "emerging",
        "diminishing",
        "persistent",
        "historical",
        "sporadic",
    }
    assert (res.cells["n_hot"] >= 1).all()
    with pytest.raises(InputError, match="at least 3"):
        emerging_hotspots(ev, periods=periods[:2])


@pytest.mark.skipif(not ESSEX.is_dir(), reason="bundled Essex data missing")
def test_essex_two_months_end_to_end():
    from guardian.data.policeuk import read_street

    ev = pd.concat(
        [read_street(ESSEX / f"2021-{m}-essex-street.csv.gz") for m in ("11", "12")],
        ignore_index=True,
    )
    area = StudyArea.from_events(ev)
    res = harm_spots(ev, area=area, start="2021-12-01", end="2022-01-01", top_n=20)
    assert res.precision == "approximate"
    assert len(res.spots) == 20 and res.spots["gi_hot"].all()
    assert (res.spots["district"] != "").all()
    assert res.spots["share_area"].sum() == pytest.approx(20 / area.n_cells)
    c = res.concentration
    assert c.share_of_area[0] < c.share_of_area[1] < c.share_of_area[2] <= 1
    prev = harm_spots(ev, area=area, start="2021-11-01", end="2021-12-01", top_n=20)
    o = spot_overlap(prev.spot_cells, res.spot_cells)
    assert 0 <= o["jaccard"] <= 1
    assert res.to_dict()["precision"] == "approximate"


@pytest.mark.skipif(not ESSEX.is_dir(), reason="bundled Essex data missing")
def test_cli_spots_on_two_essex_months(tmp_path):
    import json

    import typer
    from typer.testing import CliRunner

    from guardian.cli import risk

    folder = tmp_path / "essex"
    folder.mkdir()
    for m in ("2021-11", "2021-12"):
        (folder / f"{m}-essex-street.csv.gz").symlink_to(ESSEX / f"{m}-essex-street.csv.gz")
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """test root"""

    risk.register(app)
    out = tmp_path / "spots.json"
    r = CliRunner().invoke(
        app,
        [
            "risk",
            "spots",
            "--police-uk",
            str(folder),
            "--month",
            "2021-12",
            "--top",
            "5",
            "--category",
            "Violence and sexual offences",
            "--json",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "approximate" in r.output and "Gi* z=" in r.output
    d = json.loads(out.read_text())
    assert len(d["spots"]) == 5 and d["categories"] == ["Violence and sexual offences"]
    assert d["excluded_categories"] == ["Drugs", "Possession of weapons"]
