"""`guardian export-parquet` and `guardian national picture` end to end on the bundled months."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import guardian.cli as cli
from guardian.data.geography import force_population
from guardian.data.policeuk import read_street

REPO = Path(__file__).resolve().parents[2]
ESSEX = REPO / "data" / "police_uk_street_essex"


@pytest.fixture(scope="module")
def app():
    cli._register()
    return cli.app


def test_export_then_picture_names_every_force_and_its_group(app, tmp_path):
    files = sorted(ESSEX.glob("2021-1[12]-essex-street.csv.gz"))
    out = tmp_path / "pq"
    res = CliRunner().invoke(app, ["export-parquet", str(out), *map(str, files), "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert [r["status"] for r in json.loads(res.output)] == ["loaded", "loaded"]

    res = CliRunner().invoke(app, ["national", "picture", "--parquet", str(out), "--workers", "1",
                                   "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    pic = json.loads(res.output)
    assert pic["end"] == "2021-12"
    forces = {r["force"]: r for r in pic["forces"]}
    assert len(forces) == 43
    raw = read_street(files[-1])
    crime = int((raw["category"] != "Anti-social behaviour").sum())
    assert forces["Essex"]["crime_month"] == crime
    assert forces["Essex"]["crime_per_1000_month"] == pytest.approx(
        crime * 1000 / force_population("Essex"), rel=1e-12)
    group = [r for r in pic["ranks"] if r["scope"] == "group"]
    # every force has a group rank row naming its group; only Essex has data here
    assert {r["force"] for r in group} == set(forces)
    assert all(r["group"] for r in group)
    assert sum(1 for r in group if r["group_derived"]) == 2 * (43 - 4)

    res = CliRunner().invoke(app, ["national", "picture", "--parquet", str(out), "--workers", "1"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "group rank" in res.output and "derived from 2011 Census" in res.output
    assert "Essex" in res.output and "Dyfed-Powys" in res.output
