"""Each role lands on its own room and sees links only to the rooms it may enter."""

from __future__ import annotations

import pytest
from webkit import AS_OF, seed, sign_in

from guardian.config import Settings
from guardian.operations.accounts.roles import ROLES, allowed
from guardian.web.app import create_app

LINKS = {"dashboard.view": "/dashboard", "tasks.own": "/my", "volunteers.self": "/my/shifts",
         "volunteers.manage": "/volunteers", "initiatives.view": "/initiatives",
         "streetsafe.view": "/streetsafe/analysis", "tagmatch.review": "/review",
         "audit.view": "/admin/audit"}


@pytest.fixture
def app(sqlite_engine, tmp_path):
    seed(sqlite_engine)
    return create_app(Settings(home=tmp_path / "home", database_url=str(sqlite_engine.url)),
                      engine=sqlite_engine, as_of=AS_OF)


@pytest.mark.parametrize("role", ROLES)
def test_home_lands_on_a_page_the_role_may_open(app, role):
    client, _ = sign_in(app, role)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303
    landing = client.get(r.headers["location"])
    assert landing.status_code == 200, (role, r.headers["location"], landing.text[:200])
    nav = landing.text.split('<nav class="rooms"')[1].split("</nav>")[0]
    for perm, href in LINKS.items():
        assert (f'href="{href}"' in nav) == allowed(role, perm), (role, perm)
