"""CLI: ingest / status / quarantine / fetch, end to end through Typer."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import zipfile
from functools import partial

import pytest
from typer.testing import CliRunner

from conftest import CHICAGO_BE, ESSEX, REPO
from guardian.cli import _register, app

runner = CliRunner()
_register()


def _run(*args):
    result = runner.invoke(app, list(map(str, args)))
    return result


def test_ingest_status_quarantine(tmp_path):
    r = _run("ingest", ESSEX / "2018-10-essex-street.csv.gz", ESSEX / "2021-12-essex-street.csv.gz")
    assert r.exit_code == 0, r.output
    assert "rows read = loaded + quarantined + duplicates" in r.output
    assert "32,606" in r.output  # 17,791 + 14,815 rows read
    r = _run("status", "--json")
    st = json.loads(r.output)
    assert st[0]["dataset"] == "Essex Police" and st[0]["gaps"] == [["2018-11", "2021-11"]]
    assert st[0]["quarantined"] == 3
    r = _run("status")
    assert "2018-11..2021-11" in r.output
    out = tmp_path / "q.csv"
    r = _run("quarantine", "--force", "essex", "--export", out)
    assert r.exit_code == 0 and "3 quarantined rows written" in r.output
    assert out.read_text().count("outside the area of Essex Police") == 3


def test_ingest_json_and_error_exit(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("not,police\n1,2\n")
    r = _run("ingest", "--json", bad)
    assert r.exit_code == 1
    rep = json.loads(r.output)
    assert rep[0]["status"] == "error"


def test_extract_with_mapping_into_store():
    r = _run("ingest", CHICAGO_BE, "--mapping", REPO / "mappings" / "chicago_be.toml", "--json")
    assert r.exit_code == 0, r.output
    (rep,) = json.loads(r.output)
    assert rep == {**rep, "dataset": "chicago_be", "rows_read": 11701, "loaded": 11700, "quarantined": 1}
    st = json.loads(_run("status", "--json").output)
    assert st[0]["crs"] == "EPSG:26971" and st[0]["months"][0] == "2015-12"


def test_unknown_dataset_is_a_clear_error():
    from guardian.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["quarantine", "--force", "atlantis"])
    assert exc.value.code == 2


@pytest.fixture
def archive_server(tmp_path):
    """A local HTTP server serving police.uk-style monthly archives built from real files."""
    root = tmp_path / "www"
    root.mkdir()
    with zipfile.ZipFile(root / "2021-12.zip", "w") as zf:
        for m in ("2021-11", "2021-12"):
            data = gzip.decompress((ESSEX / f"{m}-essex-street.csv.gz").read_bytes())
            zf.writestr(f"{m}/{m}-essex-street.csv", data)
            zf.writestr(f"{m}/{m}-kent-street.csv", "Crime ID,Month\n")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_fetch_from_local_server(archive_server):
    r = _run("fetch", "--force", "Essex Police", "--from", "2021-11", "--to", "2021-12",
             "--base-url", archive_server)
    assert r.exit_code == 0, r.output
    st = json.loads(_run("status", "--json").output)
    assert st[0]["months"] == ["2021-11", "2021-12"] and st[0]["rows"] == 15740 + 14815
    # a month the archive does not hold is a clear error, not a silent gap
    r = _run("fetch", "--force", "essex", "--from", "2021-12", "--to", "2022-01", "--base-url", archive_server)
    assert r.exit_code != 0
