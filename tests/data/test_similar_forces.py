"""Derived comparison groups: hand-computed toy cases, the rules, and the shipped groups."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from guardian.analysis import performance as perf
from guardian.data import geography
from guardian.data import similar_forces as sf
from guardian.errors import InputError

TOML = REPO / "src" / "guardian" / "data" / "reference" / "comparison_groups.toml"


def _toy(extra: list[dict] | None = None) -> pd.DataFrame:
    """Four forces that differ only in sparse and dense share (every other feature constant, so
    its z-score is 0): sparse 0.1, 0.1, 0.3, 0.3 -> z -1, -1, 1, 1 (mean 0.2, sd 0.1); dense 0.2,
    0.4, 0.2, 0.4 -> z -1, 1, -1, 1 (mean 0.3, sd 0.1)."""
    base = {"population": 500_000, "persons_per_hectare": 3.0, "persons_per_household": 2.3,
            "communal_share": 0.02}
    rows = [{"force": "A", "sparse_share": 0.1, "dense_share": 0.2},
            {"force": "B", "sparse_share": 0.1, "dense_share": 0.4},
            {"force": "C", "sparse_share": 0.3, "dense_share": 0.2},
            {"force": "D", "sparse_share": 0.3, "dense_share": 0.4}, *(extra or [])]
    return pd.DataFrame([base | r for r in rows])


def test_toy_distances_by_hand_and_ties_broken_by_name():
    z = sf.standardised(_toy())
    assert z["sparse_share"].tolist() == pytest.approx([-1, -1, 1, 1])
    assert z["dense_share"].tolist() == pytest.approx([-1, 1, -1, 1])
    assert (z[["log_persons_per_hectare", "log_population", "communal_share"]] == 0).all().all()
    g = sf.derive_groups(_toy(), k=2)
    # A=(-1,-1) B=(-1,1) C=(1,-1) D=(1,1): AB = AC = 2, AD = sqrt(8); the tie goes by name
    assert g["A"].members == ("B", "C") and g["A"].distances == pytest.approx((2, 2))
    assert g["D"].members == ("B", "C")
    assert g["B"].members == ("A", "D") and g["C"].members == ("A", "D")
    g3 = sf.derive_groups(_toy(), k=3)
    assert g3["A"].members == ("B", "C", "D")
    assert g3["A"].distances == pytest.approx((2, 2, math.sqrt(8)))


def test_toy_weights_change_the_nearest():
    # dense weight 1/4: AB = sqrt(0.25 * 2^2) = 1, AC = sqrt(2^2) = 2, AD = sqrt(4 + 1)
    g = sf.derive_groups(_toy(), k=3, weights={"dense_share": 0.25})
    assert g["A"].members == ("B", "C", "D")
    assert g["A"].distances == pytest.approx((1, 2, math.sqrt(5)))
    assert g["C"].members == ("D", "A", "B")
    # "why": the constant features (|dz| 0) come first, by name; sparse and dense (mean |dz|
    # 4/3 each) are not among the three
    assert g["A"].closest_on == ("communal_share", "log_persons_per_hectare", "log_population")
    assert g["A"].why.startswith("closest on communal-establishment share 2.0% (group 2.0%")
    assert "share in sparse LSOAs" not in g["A"].why.split("Profile")[0]


def test_a_force_too_small_to_compare_gets_its_nearest_but_joins_no_group():
    # E (5,000 residents) sits at z (0, 0) on the scale of A-D: sqrt(2) from each, nearer than
    # any of A-D to each other, yet it is in no other force's group
    e = {"force": "E", "population": 5_000, "sparse_share": 0.2, "dense_share": 0.3}
    prof = _toy([e])
    z = sf.standardised(prof)
    assert z.loc["E", ["sparse_share", "dense_share"]].tolist() == pytest.approx([0, 0])
    g = sf.derive_groups(prof, k=2)
    assert not g["E"].comparable and g["E"].members == ("A", "B")
    assert g["E"].distances == pytest.approx((math.sqrt(2), math.sqrt(2)))
    assert all("E" not in g[f].members for f in "ABCD")
    assert g["A"].members == ("B", "C")


def test_derivation_is_deterministic_and_order_free():
    prof = sf.force_profile()
    a = sf.derive_groups(prof)
    b = sf.derive_groups(prof.sample(frac=1, random_state=3).reset_index(drop=True))
    assert {f: g.members for f, g in a.items()} == {f: g.members for f, g in b.items()}
    assert a == sf.derive_groups(prof.copy())


def test_derivation_refuses_bad_input():
    with pytest.raises(InputError, match="lacks columns"):
        sf.derive_groups(_toy().drop(columns="dense_share"))
    with pytest.raises(InputError, match="k = 4"):
        sf.derive_groups(_toy(), k=4)
    with pytest.raises(InputError, match="unknown feature"):
        sf.derive_groups(_toy(), weights={"crime": 1.0})
    with pytest.raises(InputError, match=">= 0"):
        sf.derive_groups(_toy(), weights={"dense_share": -1.0})
    bad = _toy()
    bad.loc[0, "persons_per_hectare"] = 0
    with pytest.raises(InputError, match="must be > 0"):
        sf.derive_groups(bad)
    with pytest.raises(InputError, match="repeats"):
        sf.derive_groups(pd.concat([_toy(), _toy().iloc[:1]]))


def test_shipped_groups_match_a_brute_force_computation():
    prof = sf.force_profile()
    x = np.column_stack([np.log(prof["persons_per_hectare"]), prof["sparse_share"],
                         prof["dense_share"], prof["persons_per_household"],
                         prof["communal_share"], np.log(prof["population"])])
    ok = (prof["population"] >= 100_000).to_numpy()
    z = (x - x[ok].mean(axis=0)) / x[ok].std(axis=0)
    names = prof["force"].tolist()
    got = sf.derive_groups(prof)
    for i, f in enumerate(names):
        d = {names[j]: float(np.linalg.norm(z[i] - z[j])) for j in range(len(names))
             if j != i and ok[j]}
        want = sorted(d, key=lambda n: (d[n], n))[:7]
        assert got[f].members == tuple(want), f
        assert got[f].distances == pytest.approx([d[n] for n in want])


# --------------------------------------------------------------------- the shipped config


def test_every_force_has_a_group_of_seven_distinct_others():
    groups = geography.comparison_groups_config()["groups"]
    assert sorted(groups) == list(geography.forces())
    for force, g in groups.items():
        members = g["members"]
        assert force not in members and len(set(members)) == len(members), force
        assert set(members) <= set(geography.forces()), force
        if g.get("derived"):
            assert len(members) == 7 and g["as_of"] == "2011 Census"
            assert len(g["distances"]) == 7 and g["distances"] == sorted(g["distances"])
    assert sum(1 for g in groups.values() if g.get("derived")) == 39


def test_toml_groups_take_precedence():
    with open(TOML, "rb") as fh:
        toml = tomllib.load(fh)["groups"]
    groups = geography.comparison_groups_config()["groups"]
    for force in ("Essex", "Kent", "Hampshire", "Sussex"):
        assert groups[force] == toml[force] and "derived" not in groups[force]
    # the derivation would have given Essex another group: the TOML one is what is used
    assert sf.shipped_groups()["Essex"].members != tuple(toml["Essex"]["members"])


def test_a_force_file_is_used_as_written(tmp_path):
    own = tmp_path / "groups.toml"
    own.write_text('[groups.Kent]\nmembers = ["Essex", "Sussex"]\nas_of = "2024-01-01"\n'
                   'source = "ours"\n')
    assert list(geography.comparison_groups_config(own)["groups"]) == ["Kent"]
    with pytest.raises(InputError, match="no comparison group"):
        perf.comparison_group("Merseyside", geography.comparison_groups_config(own))


def test_merseyside_now_has_a_derived_group():
    g = perf.comparison_group("Merseyside", geography.comparison_groups_config())
    assert g.as_of == "2011 Census" and len(g.members) == 7
    assert g.source.startswith("derived by Guardian from 2011 Census")
    assert "not an official HMICFRS most similar group" in g.source and "Why: closest on" in g.source
    assert g.members[0] == "Greater Manchester"


def test_real_groups_make_sense():
    groups = sf.shipped_groups()
    prof = sf.force_profile().set_index("force")
    # the two densest forces after London are its nearest
    assert groups["Metropolitan Police"].members[:2] == ("West Midlands", "Greater Manchester")
    # Dyfed-Powys, the sparsest force, sits among the other sparse rural forces
    dp = groups["Dyfed-Powys"]
    assert {"Lincolnshire", "North Wales", "Cumbria", "North Yorkshire", "Norfolk"} <= set(
        dp.members)
    assert (prof.loc[list(dp.members), "sparse_share"] > 0.3).all()
    # the metropolitan forces group together
    assert {"West Yorkshire", "Merseyside", "West Midlands"} <= set(
        groups["Greater Manchester"].members)


def test_city_of_london_is_grouped_but_flagged_and_in_no_other_group():
    cfg = geography.comparison_groups_config()["groups"]
    city = cfg["City of London"]
    assert city["derived"] and len(city["members"]) == 7
    assert "City of London is not comparable" in city["source"]
    assert all("City of London" not in g["members"] for f, g in cfg.items()
               if f != "City of London")
    assert all("not comparable" not in g["source"] for f, g in cfg.items()
               if f != "City of London")
