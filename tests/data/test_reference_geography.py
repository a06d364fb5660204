"""Reference geography: every LSOA, authority and force of England and Wales, 2011."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
from guardian.data import geography
from guardian.data import reference_build as rb
from guardian.errors import InputError

REF = REPO / "src" / "guardian" / "data" / "reference"

# 2011 Census usual residents per police force area: each figure is the sum over the force's
# local authorities of the LSOA figures in ONS's census_2011_population_hh.csv (KS101EW).
FORCE_POPULATION_2011 = {
    "Avon and Somerset": 1_599_555, "Bedfordshire": 615_061, "Cambridgeshire": 804_841,
    "Cheshire": 1_027_709, "City of London": 7_375, "Cleveland": 557_227, "Cumbria": 499_858,
    "Derbyshire": 1_018_438, "Devon and Cornwall": 1_668_218, "Dorset": 744_041,
    "Durham": 618_806, "Dyfed-Powys": 515_114, "Essex": 1_724_950, "Gloucestershire": 596_984,
    "Greater Manchester": 2_682_528, "Gwent": 576_754, "Hampshire": 1_897_991,
    "Hertfordshire": 1_116_062, "Humberside": 917_647, "Kent": 1_727_665,
    "Lancashire": 1_460_893, "Leicestershire": 1_017_697, "Lincolnshire": 713_653,
    "Merseyside": 1_381_189, "Metropolitan Police": 8_166_566, "Norfolk": 857_888,
    "North Wales": 687_937, "North Yorkshire": 796_427, "Northamptonshire": 691_952,
    "Northumbria": 1_420_853, "Nottinghamshire": 1_091_482, "South Wales": 1_283_651,
    "South Yorkshire": 1_343_601, "Staffordshire": 1_097_497, "Suffolk": 728_163,
    "Surrey": 1_132_390, "Sussex": 1_606_932, "Thames Valley": 2_269_772,
    "Warwickshire": 545_474, "West Mercia": 1_222_416, "West Midlands": 2_736_460,
    "West Yorkshire": 2_226_058, "Wiltshire": 680_137,
}
CENSUS_FILE = "uk_lsoa2011_lookup_population/census_2011_population_hh.csv.gz"


def _authorities() -> list[dict]:
    with open(REF / "lad2011_pfa.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _raw_census(path: Path) -> list[list[str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))[1:]


def _census_like(table: pd.DataFrame, path: Path) -> Path:
    """A file in the census layout (16 columns, thousands separators) made from ``table``."""
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Region code", "Region name", "Local authority code", "Local authority name",
                    "MSOA Code", "MSOA Name", "LSOA Code", "LSOA Name", "", "Persons", "Persons",
                    "Persons", "Hectares", "Persons per hectare", "Households",
                    "Persons per household"])
        for r in table.itertuples(index=False):
            w.writerow(["R", "REGION", r.lad_code, r.lad_name, "M", "MSOA", r.lsoa_code,
                        r.lsoa_name, "", f"{r.population:,}", f"{r.population:,}", "0", "1", "1",
                        f"{r.households:,}", "1"])
    return path


# ------------------------------------------------------------------------- the shipped tables


def test_shipped_table_is_all_of_england_and_wales():
    t = geography.lsoa_table()
    assert len(t) == 34_753 and t["lsoa_code"].is_unique
    assert t["force"].nunique() == 43 == len(geography.forces())
    assert int(t["population"].sum()) == 56_075_912
    assert t["force"].notna().all() and (t["population"] > 0).all()
    assert (t["lsoa_code"].str[0] == "W").sum() == 1_909  # Wales (2011)
    rb.check_england_and_wales(t)


def test_each_force_is_the_sum_of_its_authorities():
    t = geography.lsoa_table()
    per_lad = t.groupby("lad_code")["population"].sum()
    sums: dict[str, int] = {}
    for a in _authorities():
        sums[a["force"]] = sums.get(a["force"], 0) + int(per_lad[a["lad_code"]])
    assert sums == FORCE_POPULATION_2011
    for force, pop in FORCE_POPULATION_2011.items():
        assert geography.force_population(force) == pop


def test_authority_table_is_complete_and_each_authority_in_one_force():
    rows = _authorities()
    assert len(rows) == 348 and len({r["lad_code"] for r in rows}) == 348
    by_name = {r["lad_name"]: r["force"] for r in rows}
    # the authorities the crime-sim-toolkit lookup left blank
    assert by_name["Dartford"] == by_name["Gravesham"] == "Kent"
    assert by_name["Basingstoke and Deane"] == by_name["Hart"] == by_name["Rushmoor"] == "Hampshire"
    assert by_name["Harrogate"] == "North Yorkshire"
    assert by_name["Stratford-on-Avon"] == "Warwickshire"
    assert by_name["Cardiff"] == "South Wales" and by_name["Powys"] == "Dyfed-Powys"
    assert by_name["Newport"] == "Gwent" and by_name["Wrexham"] == "North Wales"
    assert set(geography.lsoa_table()["lad_code"]) == {r["lad_code"] for r in rows}


@pytest.mark.parametrize("typed,short", [
    ("Essex Police", "Essex"), ("essex", "Essex"), ("Kent Police", "Kent"),
    ("Hampshire Constabulary", "Hampshire"), ("Devon & Cornwall Police", "Devon and Cornwall"),
    ("devon-and-cornwall", "Devon and Cornwall"), ("Metropolitan Police Service",
                                                   "Metropolitan Police"),
    ("metropolitan", "Metropolitan Police"), ("City of London Police", "City of London"),
    ("dyfed-powys", "Dyfed-Powys"), ("Dyfed-Powys Police", "Dyfed-Powys"),
    ("North Wales Police", "North Wales"), ("south-wales", "South Wales"),
    ("Gwent Police", "Gwent"), ("Avon and Somerset Constabulary", "Avon and Somerset"),
])
def test_force_names_police_uk_spells(typed, short):
    assert geography.force_short_name(typed) == short


def test_shipped_table_rebuilds_from_the_census_file(shared_data):
    census = rb.read_census(shared_data / CENSUS_FILE)
    table = rb.build_lsoa_table(census, rb.read_authorities(REF / "lad2011_pfa.csv"))
    shipped = pd.read_csv(REF / "lsoa2011.csv.gz", dtype={"lsoa_code": str})
    pd.testing.assert_frame_equal(table, shipped, check_dtype=False)


def test_force_populations_recomputed_from_the_raw_census_file(shared_data):
    force_of = {a["lad_code"]: a["force"] for a in _authorities()}
    sums: dict[str, int] = {}
    rows = _raw_census(shared_data / CENSUS_FILE)
    for r in rows:
        sums[force_of[r[2]]] = sums.get(force_of[r[2]], 0) + int(r[9].replace(",", ""))
    assert len(rows) == 34_753 and sum(sums.values()) == 56_075_912
    assert sums == FORCE_POPULATION_2011


# ------------------------------------------------------------------------ the build refuses


@pytest.fixture(scope="module")
def census_copy(tmp_path_factory) -> Path:
    return _census_like(geography.lsoa_table(), tmp_path_factory.mktemp("c") / "census.csv.gz")


def _edited_authorities(tmp_path: Path, edit) -> Path:
    rows = [r for r in (edit(dict(r)) for r in _authorities()) if r is not None]
    out = tmp_path / "lad2011_pfa.csv"
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rb.LAD_COLUMNS))
        w.writeheader()
        w.writerows(rows)
    return out


def test_build_round_trips_the_census_layout(census_copy):
    table = rb.build_lsoa_table(rb.read_census(census_copy),
                                rb.read_authorities(REF / "lad2011_pfa.csv"))
    rb.check_england_and_wales(table)
    pd.testing.assert_frame_equal(table, geography.lsoa_table(), check_dtype=False)


def test_build_fails_on_a_blank_force(tmp_path, census_copy):
    path = _edited_authorities(
        tmp_path, lambda r: r | {"force": ""} if r["lad_name"] == "Dartford" else r)
    with pytest.raises(rb.ReferenceBuildError, match=r"E07000107\): blank force"):
        rb.read_authorities(path)


def test_build_fails_on_an_lsoa_without_a_force(tmp_path, census_copy):
    path = _edited_authorities(tmp_path, lambda r: None if r["lad_name"] == "Gravesham" else r)
    with pytest.raises(rb.ReferenceBuildError, match=r"64 LSOAs have no police force.*Gravesham"):
        rb.build_lsoa_table(rb.read_census(census_copy), rb.read_authorities(path))


def test_build_fails_on_a_force_without_population(tmp_path):
    t = geography.lsoa_table()
    t = t.assign(population=t["population"].where(t["lad_name"] != "Isles of Scilly UA", 0))
    census = rb.read_census(_census_like(t, tmp_path / "c.csv.gz"))
    path = _edited_authorities(
        tmp_path, lambda r: r | {"force": "Scilly", "force_name": "Scilly Police",
                                 "police_uk_id": "scilly"}
        if r["lad_name"] == "Isles of Scilly UA" else r)
    with pytest.raises(rb.ReferenceBuildError, match="forces without population: Scilly"):
        rb.build_lsoa_table(census, rb.read_authorities(path))


def test_build_fails_when_a_lookup_disagrees_or_totals_are_short(census_copy):
    lads = rb.read_authorities(REF / "lad2011_pfa.csv")
    cross = pd.DataFrame({"lad_code": ["E07000107", "E07000066"], "force": ["Essex", "Essex"]})
    with pytest.raises(rb.ReferenceBuildError, match="E07000107 Dartford: force 'Kent' here"):
        rb.build_lsoa_table(rb.read_census(census_copy), lads, cross_check=cross)
    short = geography.lsoa_table().iloc[:-1]
    with pytest.raises(rb.ReferenceBuildError, match="34,752 LSOAs"):
        rb.check_england_and_wales(short)


def test_census_reader_refuses_residents_that_do_not_add_up(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "Region code,Region name,Local authority code,Local authority name,MSOA Code,MSOA Name,"
        "LSOA Code,LSOA Name,,Persons,Persons,Persons,Hectares,Persons per hectare,Households,"
        'Persons per household\nR,N,E06000047,County Durham UA,M,N,E01020634,D 001A,,"1,563",'
        '"1,517",45,650,2.4,666,2.3\n')
    with pytest.raises(rb.ReferenceBuildError, match=r"1563 != 1517 in households \+ 45"):
        rb.read_census(path)


def test_build_script_refuses_and_says_why(tmp_path, repo_root):
    import subprocess
    import sys

    t = geography.lsoa_table()
    src = tmp_path / "src"
    src.mkdir()
    _census_like(t[t["lad_name"] != "Cardiff"].iloc[:0], src / "census_2011_population_hh.csv.gz")
    r = subprocess.run([sys.executable, "scripts/build_reference.py", str(src)], cwd=repo_root,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "refused" in r.stderr
    assert "authorities not in the census file" in r.stderr


# ------------------------------------------------------------------ policing districts


def _home_with(tmp_path: Path, text: str) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "forces.toml").write_text(text)
    return home


ESSEX_TEN = """
[districts."Essex Police"]
"South Essex" = ["Basildon", "Thurrock UA"]
"Castle Point and Rochford" = ["Castle Point", "Rochford"]
"Southend" = ["Southend-on-Sea UA"]
"Mid Essex" = ["Chelmsford", "Maldon", "Braintree"]
"Colchester" = ["Colchester"]
"Tendring" = ["Tendring"]
"West Essex" = ["Epping Forest", "Harlow"]
"Uttlesford" = ["Uttlesford"]
"Brentwood" = ["Brentwood"]
"""


def test_a_complete_grouping_is_used_and_counted(tmp_path):
    home = _home_with(tmp_path, ESSEX_TEN)
    g = geography.district_grouping("essex", home)
    assert len(g) == 14 and len(set(g.values())) == 9
    assert geography.check_district_config(home)["Essex"] == 9
    pop = geography.district_population("essex", home)
    assert int(pop["population"].sum()) == FORCE_POPULATION_2011["Essex"]


def test_a_grouping_must_put_every_authority_in_exactly_one_district(tmp_path):
    left_out = ESSEX_TEN.replace('"Brentwood" = ["Brentwood"]\n', "")
    with pytest.raises(InputError, match="leave out 'Brentwood'"):
        geography.district_grouping("Essex", _home_with(tmp_path, left_out))
    twice = ESSEX_TEN.replace('["Brentwood"]', '["Brentwood", "Harlow"]')
    with pytest.raises(InputError, match="'Harlow' is in two districts of Essex"):
        geography.district_grouping("Essex", _home_with(tmp_path, twice))
    other = ESSEX_TEN.replace('["Brentwood"]', '["Brentwood", "Dartford"]')
    with pytest.raises(InputError, match="'Dartford', which is not a local authority of Essex"):
        geography.district_grouping("Essex", _home_with(tmp_path, other))
    nowhere = '[districts.Atlantis]\n"A" = ["B"]\n'
    with pytest.raises(InputError, match=r"\[districts.Atlantis\] is not a force"):
        geography.check_district_config(_home_with(tmp_path, nowhere))
