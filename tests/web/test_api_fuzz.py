"""API fuzzing: schemathesis generates requests from the OpenAPI document for every endpoint,
signed in as an admin (every permission) and as a partner, on SQLite and PostgreSQL. No 500,
and every documented response matches its schema."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings
from webkit import AS_OF, seed, sign_in

from guardian.config import Settings
from guardian.web.app import create_app

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("GUARDIAN_FUZZ_EXAMPLES", "15"))


@pytest.mark.parametrize("role", ["admin", "partner"])
def test_no_server_error_and_schema_holds(engine, tmp_path, role):
    from hypothesis import given

    seed(engine)
    app = create_app(Settings(home=tmp_path / "home", database_url=str(engine.url)),
                     engine=engine, as_of=AS_OF)
    client, csrf = sign_in(app, role)
    headers = {"X-CSRF-Token": csrf,
               "Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items())}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 8
    statuses: dict[str, set[int]] = {}
    def fuzz(op):
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            r = case.call_and_validate(headers=headers, checks=[
                not_a_server_error, status_code_conformance, response_schema_conformance,
                content_type_conformance])
            statuses.setdefault(op.label, set()).add(r.status_code)

        run()

    for op in ops:
        fuzz(op)
    # the fuzzing reached every operation, and as a partner the task routes said no
    assert set(statuses) == {op.label for op in ops}
    if role == "partner":
        assert statuses["GET /api/tasks"] == {403}
