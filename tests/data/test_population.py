"""Population vintage as data: a supplied table validated, quarantined, kept and stated."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from guardian.data import geography
from guardian.data import population as popm
from guardian.errors import InputError

ESSEX_LADS = geography.authority_table().query("force == 'Essex'")


def _essex_file(tmp_path, extra: str = "", scale: float = 1.1):
    """A per-authority table for Essex: census figures times ``scale`` (hand-checkable)."""
    census = geography.lsoa_table().groupby("lad_code")["population"].sum()
    lines = ["note: made for a test", "", "Code,Name,All ages"]
    for r in ESSEX_LADS.itertuples():
        lines.append(f'{r.lad_code},{r.lad_name},"{round(census[r.lad_code] * scale):,}"')
    path = tmp_path / "mye.csv"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


MAPPING = popm.PopulationMapping.build(code_column="Code", population_column="All ages",
                                       vintage="Test mid-2020", skip_rows=2)


def test_census_is_the_default_and_says_so(tmp_path):
    t = popm.active_population(tmp_path)
    assert t.vintage == popm.CENSUS_2011 and not t.user_supplied
    assert t.force_population("Kent") == 1_727_665


def test_supplied_table_covers_its_force_and_sums_by_hand(tmp_path):
    table, bad = popm.read_population(_essex_file(tmp_path), MAPPING)
    assert bad == [] and table.level == "lad" and len(table.figures) == 14
    census = geography.lsoa_table().groupby("lad_code")["population"].sum()
    want = sum(round(census[c] * 1.1) for c in ESSEX_LADS["lad_code"])
    assert table.force_population("Essex") == want
    assert table.covers("Essex") and not table.covers("Kent")
    assert table.force_population("Kent") is None
    fp = popm.force_populations(["Essex Police", "Kent Police"], table)
    assert fp.populations == {"Essex Police": want, "Kent Police": 1_727_665}
    assert fp.vintages["Essex Police"].startswith("Test mid-2020 (supplied: mye.csv, sha256 ")
    assert "does not cover it" in fp.vintages["Kent Police"]
    assert "mixed vintages" in fp.describe()


def test_bad_rows_are_quarantined_with_a_reason(tmp_path):
    extra = ("E07000066,Basildon again,5\nE99999999,Nowhere,5\n,blank,5\nE01000001,lsoa,5\n"
             "E07000107,Dartford,-3\nE07000109,Gravesham,lots\n")
    table, bad = popm.read_population(_essex_file(tmp_path, extra), MAPPING)
    reasons = [q.reason for q in bad]
    assert len(table.figures) == 14 and len(bad) == 6
    assert "E07000066 repeated" in reasons[0]
    assert "'E99999999' is not a 2011 LSOA or local authority code" in reasons[1]
    assert reasons[2] == "blank area code"
    assert "'E01000001' is a lsoa code in a lad table" in reasons[3]
    assert "'-3' is not a whole number" in reasons[4] and "'lots'" in reasons[5]
    assert [q.line for q in bad] == [18, 19, 20, 21, 22, 23]


def test_unusable_input_is_refused_with_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"no column 'Code'; the header \(line 1\) has \['note"):
        popm.read_population(_essex_file(tmp_path), popm.PopulationMapping.build(
            code_column="Code", population_column="All ages", vintage="x"))
    with pytest.raises(InputError, match="vintage required"):
        popm.PopulationMapping.build(code_column="a", population_column="b", vintage=" ")
    empty = tmp_path / "e.csv"
    empty.write_text("Code,All ages\nX,1\n")
    with pytest.raises(InputError, match="no usable rows"):
        popm.read_population(empty, popm.PopulationMapping.build(
            code_column="Code", population_column="All ages", vintage="x"))
    bad_gz = tmp_path / "t.csv.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00trunc")
    with pytest.raises(InputError, match="not a readable gzip"):
        popm.read_population(bad_gz, MAPPING)


def test_lsoa_level_table_sums_to_districts(tmp_path):
    ref = geography.lsoa_table().query("force == 'Essex'")
    path = tmp_path / "lsoa.csv"
    pd.DataFrame({"LSOA11CD": ref["lsoa_code"], "pop": ref["population"] + 1}).to_csv(
        path, index=False)
    m = popm.PopulationMapping.build(code_column="LSOA11CD", population_column="pop",
                                     vintage="plus one")
    table, bad = popm.read_population(path, m)
    assert table.level == "lsoa" and not bad
    d = table.district_population("Essex")
    basildon = ref[ref["lad_name"] == "Basildon"]
    assert int(d.set_index("district").at["Basildon", "population"]) == int(
        basildon["population"].sum()) + len(basildon)
    assert table.force_population("Essex") == 1_724_950 + 1_077


def test_save_is_idempotent_atomic_and_clearable(tmp_path, monkeypatch):
    home = tmp_path / "home"
    table, bad = popm.read_population(_essex_file(tmp_path), MAPPING)
    out = popm.save_population(home, table, bad)
    first = out.read_bytes()
    popm.save_population(home, *popm.read_population(_essex_file(tmp_path), MAPPING))
    assert out.read_bytes() == first
    assert popm.active_population(home) == table

    other, _ = popm.read_population(_essex_file(tmp_path, scale=2.0), MAPPING)
    real_replace = os.replace

    def crash(src, dst):
        if str(dst).endswith("active.json"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(popm.os, "replace", crash)
    with pytest.raises(OSError):
        popm.save_population(home, other, [])
    monkeypatch.setattr(popm.os, "replace", real_replace)
    assert out.read_bytes() == first  # the previous table is still in force

    assert popm.clear_population(home) and not popm.clear_population(home)
    assert not popm.active_population(home).user_supplied
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"vintage": "x"}))
    with pytest.raises(InputError, match="population table is unreadable"):
        popm.active_population(home)


def test_mapping_from_toml(tmp_path):
    p = tmp_path / "m.toml"
    p.write_text('[population]\ncode_column = "Code"\npopulation_column = "All ages"\n'
                 'vintage = "ONS mid-2020"\nskip_rows = 2\n')
    m = popm.PopulationMapping.from_toml(p, vintage=None)
    assert m.skip_rows == 2 and m.vintage == "ONS mid-2020"
    assert popm.PopulationMapping.from_toml(p, vintage="other").vintage == "other"
    p.write_text('[population]\ncode = "Code"\n')
    with pytest.raises(InputError, match="unknown keys"):
        popm.PopulationMapping.from_toml(p)
