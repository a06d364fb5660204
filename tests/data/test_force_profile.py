"""The shipped 2011 Census force profile: reproducible from the census file, consistent with the
LSOA table."""

from __future__ import annotations

import csv
import gzip
import math

import pandas as pd
import pytest

from conftest import REPO
from guardian.data import geography
from guardian.data import reference_build as rb
from guardian.data import similar_forces as sf

REF = REPO / "src" / "guardian" / "data" / "reference"
CENSUS_FILE = "uk_lsoa2011_lookup_population/census_2011_population_hh.csv.gz"


def test_shipped_profile_is_what_the_build_produces(shared_data, tmp_path):
    census = rb.read_census(shared_data / CENSUS_FILE)
    built = rb.build_force_profile(census, geography.lsoa_table())
    shipped = pd.read_csv(REF / "force_profile_2011.csv")
    pd.testing.assert_frame_equal(built, shipped, check_dtype=False, atol=0, rtol=1e-12)
    # the writer is byte-stable: the shipped file is exactly what a rebuild writes
    rb.write_force_profile(built, tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_bytes() == (REF / "force_profile_2011.csv").read_bytes()


def test_profile_recomputed_from_the_raw_census_rows(shared_data):
    """Independent of read_census and pandas: sum the raw CSV cells per force."""
    force_of = dict(geography.lsoa_table()[["lsoa_code", "force"]].itertuples(index=False))
    acc: dict[str, list[float]] = {}
    with gzip.open(shared_data / CENSUS_FILE, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    for r in rows:
        persons, in_hh, communal, ha, hh = (int(r[i].replace(",", "")) for i in (9, 10, 11, 12, 14))
        pph = float(r[13])
        a = acc.setdefault(force_of[r[6]], [0] * 7)
        for i, v in enumerate((persons, in_hh, communal, ha, hh,
                               persons if pph < 5 else 0, persons if pph > 50 else 0)):
            a[i] += v
    prof = sf.force_profile().set_index("force")
    assert sorted(acc) == sorted(prof.index)
    for force, (persons, in_hh, communal, ha, hh, sparse, dense) in acc.items():
        p = prof.loc[force]
        assert (p["population"], p["households"], p["hectares"]) == (persons, hh, ha)
        assert p["persons_per_hectare"] == pytest.approx(persons / ha, abs=1e-6)
        assert p["persons_per_household"] == pytest.approx(in_hh / hh, abs=1e-6)
        assert p["communal_share"] == pytest.approx(communal / persons, abs=1e-6)
        assert p["sparse_share"] == pytest.approx(sparse / persons, abs=1e-6)
        assert p["dense_share"] == pytest.approx(dense / persons, abs=1e-6)


def test_shipped_profile_is_consistent_with_the_lsoa_table():
    prof = pd.read_csv(REF / "force_profile_2011.csv")
    assert list(prof.columns) == list(rb.PROFILE_COLUMNS)
    assert len(prof) == 43 and list(prof["force"]) == list(geography.forces())
    assert int(prof["population"].sum()) == 56_075_912
    per = geography.lsoa_table().groupby("force").agg(
        lsoas=("lsoa_code", "size"), population=("population", "sum"),
        households=("households", "sum"))
    got = prof.set_index("force")[["lsoas", "population", "households"]]
    pd.testing.assert_frame_equal(got, per.loc[got.index], check_dtype=False)
    assert (prof["hectares"] > 0).all()
    for col in ("communal_share", "sparse_share", "dense_share"):
        assert prof[col].between(0, 1).all()
    assert (prof["sparse_share"] + prof["dense_share"] <= 1).all()
    # force-wide density is residents over area, as stated
    ratio = prof["population"] / prof["hectares"]
    assert (prof["persons_per_hectare"] - ratio).abs().max() < 1e-6
    city = prof.set_index("force").loc["City of London"]
    assert city["population"] == 7_375 and city["lsoas"] == 6


def _census(rows: list[tuple]) -> pd.DataFrame:
    cols = ["lsoa_code", "population", "in_households", "communal", "households", "hectares",
            "persons_per_hectare"]
    return pd.DataFrame(rows, columns=cols)


def test_build_hand_case_and_thresholds():
    # three LSOAs of force A (densities 2, 5, 60 /ha) and one of force B
    census = _census([("L1", 100, 90, 10, 40, 50, 2.0), ("L2", 200, 200, 0, 80, 40, 5.0),
                      ("L3", 600, 580, 20, 250, 10, 60.0), ("L4", 50, 50, 0, 25, 1, 50.0)])
    lsoas = pd.DataFrame({"lsoa_code": ["L1", "L2", "L3", "L4"], "force": ["A", "A", "A", "B"],
                          "population": [100, 200, 600, 50], "households": [40, 80, 250, 25]})
    p = rb.build_force_profile(census, lsoas).set_index("force")
    a = p.loc["A"]
    assert (a["lsoas"], a["population"], a["households"], a["hectares"]) == (3, 900, 370, 100)
    assert a["persons_per_hectare"] == pytest.approx(9.0)
    assert a["persons_per_household"] == pytest.approx(round(870 / 370, 6))
    assert a["communal_share"] == pytest.approx(round(30 / 900, 6))
    # 5.0 is not below 5: only L1 is sparse; 60 > 50: L3 is dense
    assert a["sparse_share"] == pytest.approx(round(100 / 900, 6))
    assert a["dense_share"] == pytest.approx(round(600 / 900, 6))
    # exactly 50 is not dense
    assert p.loc["B", "dense_share"] == 0 and p.loc["B", "sparse_share"] == 0
    assert math.isclose(p.loc["B", "persons_per_hectare"], 50.0)


def test_build_refuses_tables_that_disagree():
    census = _census([("L1", 100, 90, 10, 40, 50, 2.0), ("L2", 200, 200, 0, 80, 40, 5.0)])
    lsoas = pd.DataFrame({"lsoa_code": ["L1", "L3"], "force": ["A", "A"],
                          "population": [100, 5], "households": [40, 2]})
    with pytest.raises(rb.ReferenceBuildError, match="1 LSOAs in the LSOA table only.*L3"):
        rb.build_force_profile(census, lsoas)
    lsoas = pd.DataFrame({"lsoa_code": ["L1", "L2"], "force": ["A", "A"],
                          "population": [101, 200], "households": [40, 80]})
    with pytest.raises(rb.ReferenceBuildError, match="different population.*L1"):
        rb.build_force_profile(census, lsoas)
    with pytest.raises(rb.ReferenceBuildError, match="thresholds"):
        rb.build_force_profile(census, lsoas, sparse_below=60, dense_above=50)


def test_read_census_keeps_its_columns_and_adds_area(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,"
        "LSOA Code,LSOA Name,,Persons,Persons,Persons,Hectares,Persons per hectare,Households,"
        'Persons per household\nR,N,E06000047,County Durham UA,M,N,E01020634,D 001A,,"1,563",'
        '"1,517",46,"1,650",2.4,666,2.3\n')
    c = rb.read_census(path)
    assert list(c.columns) == ["lsoa_code", "lsoa_name", "lad_code", "lad_name", "population",
                               "in_households", "communal", "households", "hectares",
                               "persons_per_hectare"]
    assert c.iloc[0].tolist() == ["E01020634", "D 001A", "E06000047", "County Durham UA", 1563,
                                  1517, 46, 666, 1650, 2.4]
