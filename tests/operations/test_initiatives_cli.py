"""`guardian initiatives ...`: add, import, list, show, outcome, evaluate, zones (create and
publish), campaign, each with --json, and errors as one line with exit code 2."""

from __future__ import annotations

import json

from test_initiatives_seed import add_events, seed
from typer.testing import CliRunner

from guardian.cli import app as cli_app
from guardian.cli import main

SOUTHEND = "Southend-on-Sea UA"


def _app():
    import guardian.cli as cli

    cli._register()
    return cli_app


def test_cli_end_to_end(tmp_path, capsys, monkeypatch):
    import guardian.cli.initiatives as cli_ini
    from guardian.store.db import get_engine

    engine = get_engine()
    # one migrated engine for every command (each get_engine() would re-check the migrations)
    monkeypatch.setattr(cli_ini, "_engine", lambda: engine)
    ids = seed(engine)
    year = [f"2025-{m:02d}" for m in range(1, 13)]
    add_events(engine, [(1, "2025-11", "Drugs", 12), (2, "2025-11", "Burglary", 18),
                        (4, "2025-11", "Violence and sexual offences", 38),
                        (4, "2025-12", "Burglary", 2), (1, "2025-12", "Burglary", 10)]
               + [(p, m, "Burglary", 1) for m in year[:10] for p in (1, 4)], ids)
    app, run = _app(), CliRunner()

    def ok(*args):
        res = run.invoke(app, ["initiatives", *args])
        assert res.exit_code == 0, res.output
        return res.output

    out = ok("add", "--force", "essex", "--kind", "street-week", "--name", "SW Southend",
             "--start", "2025-11-03", "--districts", SOUTHEND, "--volunteer-hours", "40")
    assert "I-1 SW Southend" in out and "deployment 2025-11-10..2025-11-16 (7 d)" in out
    assert "£600.00" in out
    d = json.loads(ok("outcome", "I-1", "--measure", "residents-reached", "--value", "210",
                      "--json"))
    assert d["outcome_totals"] == {"residents-reached": 210.0}
    assert "residents reached face to face" in ok("show", "I-1")
    rows = json.loads(ok("list", "--json", "--from", "2025-11-01", "--to", "2025-11-30"))
    assert [r["ref"] for r in rows] == ["I-1"]
    ev = json.loads(ok("evaluate", "I-1", "--json"))
    assert ev["status"] == "ok" and ev["periods"] == {"before": ["2025-10"], "after": ["2025-11"]}
    assert ev["counts"]["treated"] == {"before": 1, "after": 30}  # all crime, Southend
    assert "WDD (Wheeler & Ratcliffe 2018)" in ok("evaluate", "I-1")
    z = json.loads(ok("zones", "--force", "essex", "--months", "1", "--end-month", "2025-11",
                      "--top-share", "1", "--create", "CSZ", "--start", "2025-12-01",
                      "--drop-day", "2025-12-06", "--publish", "--team", "volunteers",
                      "--json"))
    assert [x["cell"] for x in z["ranking"]["zones"]] == [[1170, 372]]
    assert z["initiative"]["kind"] == "cs-zone" and z["tasks"]["created"] == 1
    assert "0 leaflet-drop tasks published, 1 already there" in ok("leaflets", "I-2")
    c = json.loads(ok("campaign", "--force", "essex", "--start", "2026-11-01", "--end",
                      "2026-12-31", "--create", "Winter 2026", "--json"))
    assert [r["district"] for r in c["plan"]["chosen"]] == [SOUTHEND]
    assert c["initiative"]["categories"] == ["Burglary"]
    assert "cocooning: each burglary: the victim and 5 nearest neighbours" in ok(
        "campaign", "--force", "essex", "--start", "2026-11-01", "--end", "2026-12-31")
    f = tmp_path / "in.csv"
    f.write_text("kind,name,start,districts\nday-of-action,DoA,2026-01-10,Basildon\n"
                 "day-of-action,Bad,2026-01-10,Atlantis\n")
    q = tmp_path / "q.csv"
    rep = json.loads(ok("import", str(f), "--force", "essex", "--quarantine", str(q), "--json"))
    assert len(rep["created"]) == 1 and rep["quarantined"][0]["line"] == 3
    assert "Atlantis" in q.read_text()
    # domain errors: one line, exit 2, nothing written
    for args in (["add", "--force", "essex", "--kind", "day-of-action", "--name", "Late",
                  "--start", "2026-01-10", "--end", "2026-01-01", "--districts", "Basildon"],
                 ["outcome", "I-1", "--measure", "leaflets", "--value", "-5"],
                 ["show", "I-77"]):
        try:
            main(["initiatives", *args])
        except SystemExit as exc:
            assert exc.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and err.count("\n") == 1, err
    assert len(json.loads(ok("list", "--json"))) == 4
