"""`guardian users` and `guardian audit export` from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from guardian.cli import _register, app


def _run(*args, env=None):
    _register()
    return CliRunner().invoke(app, list(args), env=env)


def test_users_add_list_set_role_disable(monkeypatch, tmp_path):
    monkeypatch.setenv("PW", "a long enough password")
    r = _run("users", "add", "pc42", "--role", "officer", "--team", "north", "--password-env", "PW")
    assert r.exit_code == 0 and "added pc42 (officer, team north)" in r.output
    r = _run("users", "add", "pc42", "--role", "officer", "--password-env", "PW")
    assert r.exit_code != 0 and "already exists" in str(r.exception)
    r = _run("users", "add", "xy", "--role", "chief", "--password-env", "PW")
    assert "is not one of" in str(r.exception)
    assert "pc42 is now supervisor" in _run("users", "set-role", "pc42", "supervisor").output
    assert "disabled pc42" in _run("users", "disable", "pc42").output
    rows = json.loads(_run("users", "list", "--json").output)
    assert rows == [{"username": "pc42", "display_name": "pc42", "role": "supervisor",
                     "team": "north", "active": False}]


def test_audit_export_is_csv_of_the_entries(tmp_path):
    from guardian.operations.audit import service as audit
    from guardian.store.db import get_engine

    engine = get_engine()
    with engine.begin() as conn:
        audit.record(conn, username="pc42", role="officer", operation="consult",
                     record="task T-1 (victim address)", justification="victim contact")
    r = _run("audit", "export", "--from", "2000-01-01", "--to", "2100-01-01")
    lines = r.output.strip().splitlines()
    assert lines[0].startswith("id,at,username") and len(lines) == 2
    assert "pc42,officer,consult,task T-1 (victim address),victim contact" in lines[1]
    assert _run("audit", "export", "--from", "2100-01-01").output.strip().count("\n") == 0
