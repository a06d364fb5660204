"""Settings, built when asked (never at import time)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Runtime settings.

    Attributes
    ----------
    home : Path
        Guardian's working folder (``GUARDIAN_HOME``, default ``~/.guardian``).
    database_url : str
        SQLAlchemy URL (``GUARDIAN_DATABASE_URL``); default an SQLite file under ``home``.
    """

    home: Path
    database_url: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("GUARDIAN_HOME") or Path.home() / ".guardian").expanduser()
        url = env.get("GUARDIAN_DATABASE_URL") or f"sqlite:///{home / 'guardian.db'}"
        return cls(home=home, database_url=url)


def get_settings() -> Settings:
    """Settings from the current environment."""
    return Settings.from_env()
