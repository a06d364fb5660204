"""Shared fixtures: repo paths, the optional ../shared data, and stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data"
ESSEX = BUNDLED / "police_uk_street_essex"
CHICAGO_BE = BUNDLED / "chicago_residential_burglary_2016" / "chicago_be.csv"
SHARED = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip the test cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Every test gets its own GUARDIAN_HOME so nothing touches ~/.guardian."""
    monkeypatch.setenv("GUARDIAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GUARDIAN_DATABASE_URL", raising=False)


def _postgres_url() -> str | None:
    return os.environ.get("GUARDIAN_TEST_POSTGRES_URL")


def _fresh_pg_database(base_url: str) -> str:
    """Create an empty database for one test and return its URL."""
    from sqlalchemy import create_engine, text

    name = "gtest_" + uuid.uuid4().hex[:12]
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


def _drop_pg_database(base_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """A URL for an empty store: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = _postgres_url()
    if not base:
        pytest.skip("no PostgreSQL (GUARDIAN_TEST_POSTGRES_URL unset); `make test` starts one")
    url = _fresh_pg_database(base)
    try:
        yield url
    finally:
        _drop_pg_database(base, url)


@pytest.fixture
def engine(store_url):
    """A migrated, empty store on SQLite and on PostgreSQL."""
    from guardian.store.db import get_engine

    eng = get_engine(store_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(tmp_path):
    from guardian.store.db import get_engine

    eng = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield eng
    eng.dispose()
