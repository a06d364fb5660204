"""The comparison section's rates and ranks use complete force populations, with their vintage."""

from __future__ import annotations

import csv
import gzip

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import ESSEX, REPO
from guardian.data import geography
from guardian.data import population as popm
from guardian.data.schema import ASB
from guardian.reports.briefing import build_briefing
from guardian.reports.context import context_from_frames, gather_context

MONTH = "2021-06"
PEERS = {"Kent": "kent", "Hampshire": "hampshire", "Sussex": "sussex"}


def _independent_populations(shared_data) -> dict[str, int]:
    """Persons per force from the raw census file and the shipped authority table (csv only)."""
    with open(REPO / "src/guardian/data/reference/lad2011_pfa.csv", newline="") as fh:
        force_of = {r["lad_code"]: r["force"] for r in csv.DictReader(fh)}
    path = shared_data / "uk_lsoa2011_lookup_population" / "census_2011_population_hh.csv.gz"
    out: dict[str, int] = {}
    with gzip.open(path, "rt", newline="") as fh:
        for row in list(csv.reader(fh))[1:]:
            f = force_of[row[2]]
            out[f] = out.get(f, 0) + int(row[9].replace(",", ""))
    return out


def _crimes(path) -> int:
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return sum(1 for r in csv.DictReader(fh) if r["Crime type"] != ASB)


def test_kent_hampshire_sussex_rates_recomputed_independently(shared_data, sqlite_engine):
    from guardian.store.ingest import ingest

    files = {"Essex": ESSEX / f"{MONTH}-essex-street.csv.gz"} | {
        f: shared_data / "police_uk_street_msg_forces" / f"{MONTH}-{s}-street.csv.gz"
        for f, s in PEERS.items()
    }
    reports = {r.dataset: r for r in ingest(sqlite_engine, list(files.values()))}
    pops = _independent_populations(shared_data)
    b = build_briefing(gather_context(sqlite_engine, "essex", MONTH))
    comp = b["sections"]["comparison"]
    rows = {r["force"]: r for r in comp["members"]}
    assert set(PEERS) | {"Essex"} <= set(rows)
    for force in ["Essex", *PEERS]:
        row = rows[force]
        rep = reports[row["dataset"]]
        assert row["population"] == pops[force]
        if rep.quarantined == 0 and rep.duplicates == 0:
            assert row["crime"] == _crimes(files[force])
        assert row["crime_per_1000"] == pytest.approx(row["crime"] * 1000 / pops[force], rel=1e-12)
    # before the fix Kent was 1.53 million and Hampshire 1.55 million
    assert pops["Kent"] == 1_727_665 and pops["Hampshire"] == 1_897_991
    loaded = {f: rows[f]["crime_per_1000"] for f in rows if rows[f]["crime_per_1000"] is not None}
    order = sorted(loaded, key=lambda f: -loaded[f])
    assert comp["ranks"]["crime_per_1000"]["rank"] == order.index("Essex") + 1
    assert "2011 Census" in comp["population_vintage"]


@pytest.fixture(scope="module")
def essex_events():
    from guardian.data.policeuk import read_street

    return read_street(ESSEX / "2021-12-essex-street.csv.gz")


def test_a_supplied_population_is_used_and_stated(tmp_path, essex_events):
    census = geography.lsoa_table().groupby("lad_code")["population"].sum()
    lads = geography.authority_table().query("force == 'Essex'")
    path = tmp_path / "mye2020.csv"
    pd.DataFrame({"code": lads["lad_code"],
                  "persons": [round(census[c] * 1.1) for c in lads["lad_code"]]}).to_csv(
        path, index=False)
    table, _ = popm.read_population(path, popm.PopulationMapping.build(
        code_column="code", population_column="persons", vintage="ONS mid-2020 estimates"))
    ctx = context_from_frames(essex_events, force="Essex Police", month="2021-12",
                              population_table=table)
    want = sum(round(census[c] * 1.1) for c in lads["lad_code"])
    assert ctx.populations["Essex Police"] == want
    b = build_briefing(ctx)
    assert b["meta"]["population_vintage"].startswith(
        "ONS mid-2020 estimates (supplied: mye2020.csv")
    d = b["sections"]["districts"]
    assert d["population_vintage"] == b["meta"]["population_vintage"]
    basildon = next(r for r in d["rows"] if r["district"] == "Basildon")
    assert basildon["population"] == round(census["E07000066"] * 1.1)


def test_reference_command_prints_forces_and_the_vintage_in_force(tmp_path, monkeypatch):
    import json

    from guardian.cli import _register, app

    _register()
    runner = CliRunner()
    r = runner.invoke(app, ["reference", "--json"])
    assert r.exit_code == 0, r.output
    rows = {x["force"]: x for x in json.loads(r.output)}
    assert len(rows) == 43 and rows["Kent"]["population"] == 1_727_665
    assert rows["South Wales"]["lsoas"] == 810 and rows["Essex"]["districts"] == 14
    src = tmp_path / "p.csv"
    src.write_text("code,persons\nE09000001,9000\nE99000001,1\n")
    r = runner.invoke(app, ["reference", "population", "import", str(src), "--code-column",
                            "code", "--population-column", "persons", "--vintage", "ONS 2020"])
    assert r.exit_code == 0, r.output
    assert "1 quarantined" in r.output and "covers 1 of 43 forces: City of London" in r.output
    r = runner.invoke(app, ["reference", "--json"])
    rows = {x["force"]: x for x in json.loads(r.output)}
    assert rows["City of London"]["population"] == 9000
    assert rows["City of London"]["vintage"].startswith("ONS 2020 (supplied: p.csv")
    assert rows["Kent"]["vintage"].endswith("(the supplied table does not cover it)")
    r = runner.invoke(app, ["reference", "--force", "essex"])
    assert r.exit_code == 0 and "14 districts, 1,077 LSOAs, 1,724,950" in r.output
    r = runner.invoke(app, ["reference", "population", "clear"])
    assert "supplied table removed" in r.output
