"""The daily rotating key of the client hashes.

A client's address is never stored: rate limiting uses HMAC-SHA256(key of the day, address).
Each day's key is 32 random bytes in ``$GUARDIAN_HOME/streetsafe-keys/<date>.key``; it is not
derived from any long-lived secret, so once the file is deleted (after the window, see
:func:`rotate`) nobody can recompute which address gave which hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

WINDOW = timedelta(hours=1)
"""How long a client hash is used after its day ends (the longest rate-limit look-back)."""


def key_dir(home: Path) -> Path:
    return Path(home) / "streetsafe-keys"


def day_key(home: Path, day: date) -> bytes:
    """The key of ``day``, made on first use (atomically: concurrent workers agree on one)."""
    d = key_dir(home)
    path = d / f"{day.isoformat()}.key"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".{day.isoformat()}.{os.getpid()}.{secrets.token_hex(4)}"
    tmp.write_bytes(secrets.token_bytes(32))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # fails if another worker made it first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def client_hash(key: bytes, address: str) -> str:
    """The keyed hash of a client address (hex, 64 characters)."""
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def rotate(home: Path, now: datetime) -> list[str]:
    """Delete the keys whose window has passed: the key of day D goes once ``now`` is past
    D + 1 day + :data:`WINDOW`. Returns the deleted file names."""
    d = key_dir(home)
    gone = []
    if not d.is_dir():
        return gone
    for path in d.glob("*.key"):
        try:
            day = date.fromisoformat(path.stem)
        except ValueError:
            continue
        end = datetime(day.year, day.month, day.day) + timedelta(days=1) + WINDOW
        if now.replace(tzinfo=None) >= end:
            path.unlink(missing_ok=True)
            gone.append(path.name)
    return gone
