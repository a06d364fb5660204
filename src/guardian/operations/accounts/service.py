"""Users, passwords, sessions and sign-in throttling.

Passwords are hashed with argon2id (argon2-cffi defaults). Sign-in is throttled per account and
per address: after :data:`MAX_FAILURES` failures in :data:`WINDOW` an account is locked for
:data:`LOCKOUT`, and an address with :data:`MAX_ADDRESS_FAILURES` failures in the window is
refused whatever the account. Addresses are stored only as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from guardian.errors import Conflict, Forbidden, InputError, NotFound
from guardian.operations.accounts.models import LoginAttempt, User, WebSession
from guardian.operations.accounts.roles import ROLES
from guardian.store.db import read_connection, write_begin

MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
_hasher = PasswordHasher()


# Bumped whenever this process revokes sessions (sign-out, role change, disabling): a web
# process's short-lived session cache drops everything it holds when it sees a new value.
_REVOCATIONS = [0]


def revocations() -> int:
    """How many times this process has revoked sessions (see :func:`end_session`)."""
    return _REVOCATIONS[0]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)




@dataclass(frozen=True)
class Account:
    """A signed-in user as the app sees them (no password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    team: str | None
    active: bool

    def to_dict(self) -> dict[str, Any]:
        return {"username": self.username, "display_name": self.display_name, "role": self.role,
                "team": self.team, "active": self.active}


def _account(row) -> Account:
    return Account(row.id, row.username, row.display_name, row.role, row.team, bool(row.active))


def check_role(role: str) -> str:
    """The role, checked against :data:`ROLES`."""
    r = str(role).strip().lower().replace("_", "-").replace(" ", "-")
    if r not in ROLES:
        raise InputError(f"role {role!r} is not one of {list(ROLES)}")
    return r


def check_password(password: str) -> str:
    """Refuse passwords shorter than :data:`MIN_PASSWORD` characters."""
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def add_user(bind: Engine | Connection, *, username: str, password: str, role: str,
             display_name: str = "", team: str | None = None) -> Account:
    """Create a user.

    Raises
    ------
    InputError
        Bad username (lower-case letters, digits, ``._-``; 2-60 characters), role or password.
    Conflict
        The username is taken.
    """
    name = str(username).strip().lower()
    if not _USERNAME.match(name):
        raise InputError(f"username {username!r}: use 2-60 lower-case letters, digits, '.', '_' "
                         "or '-' (a collar number or initials, e.g. 'pc1234')")
    role = check_role(role)
    hashed = _hasher.hash(check_password(password))
    with write_begin(bind) as conn:
        if conn.execute(select(User.id).where(User.username == name)).first():
            raise Conflict(f"user {name!r} already exists")
        conn.execute(insert(User).values(username=name, display_name=display_name or name,
                                         role=role, team=team or None, password_hash=hashed,
                                         active=True, failed_logins=0, created_at=_now()))
        row = conn.execute(select(User.__table__).where(User.username == name)).first()
    return _account(row)


def get_user(bind: Engine | Connection, username: str) -> Account:
    """The user called ``username``. Raises :class:`NotFound`."""
    with read_connection(bind) as conn:
        row = conn.execute(select(User.__table__).where(User.username == str(username).lower())).first()
    if row is None:
        raise NotFound(f"no user {username!r}; see `guardian users list`")
    return _account(row)


def list_users(bind: Engine | Connection) -> list[Account]:
    """Every user, by username."""
    with read_connection(bind) as conn:
        return [_account(r) for r in conn.execute(select(User.__table__).order_by(User.username))]


def set_role(bind: Engine | Connection, *, username: str, role: str) -> Account:
    """Change a user's role; their sessions end (they sign in again under the new role)."""
    role = check_role(role)
    u = get_user(bind, username)
    with write_begin(bind) as conn:
        conn.execute(update(User).where(User.id == u.id).values(role=role))
        conn.execute(update(WebSession).where(WebSession.user_id == u.id).values(revoked=True))
        _REVOCATIONS[0] += 1
    return get_user(bind, username)


def disable_user(bind: Engine | Connection, *, username: str) -> Account:
    """Disable a user and end their sessions (the record stays, for the audit log)."""
    u = get_user(bind, username)
    with write_begin(bind) as conn:
        conn.execute(update(User).where(User.id == u.id).values(active=False))
        conn.execute(update(WebSession).where(WebSession.user_id == u.id).values(revoked=True))
        _REVOCATIONS[0] += 1
    return get_user(bind, username)


def address_hash(address: str, key: bytes) -> str:
    """Keyed hash of a client address (HMAC-SHA-256): throttling without storing the address."""
    return hmac.new(key, str(address).encode(), hashlib.sha256).hexdigest()


def authenticate(bind: Engine | Connection, *, username: str, password: str, address: str,
                 key: bytes, now: datetime | None = None) -> Account:
    """Check a sign-in and record the attempt.

    Raises
    ------
    Forbidden
        Wrong name or password (one message for both, so names cannot be probed), a disabled
        or locked account, or an address with too many recent failures.
    """
    now = now or _now()
    name = str(username).strip().lower()[:60]
    addr = address_hash(address, key)
    with write_begin(bind) as conn:
        since = now - WINDOW
        fails_addr = conn.execute(
            select(func.count()).select_from(LoginAttempt)
            .where(LoginAttempt.address_hash == addr, LoginAttempt.at >= since,
                   LoginAttempt.ok.is_(False))).scalar_one()
        row = conn.execute(select(User.__table__).where(User.username == name)).first()
        refuse = None
        if fails_addr >= MAX_ADDRESS_FAILURES:
            refuse = "too many failed sign-ins from this address; wait 15 minutes"
        elif row is not None and row.locked_until is not None and row.locked_until > now:
            refuse = ("this account is locked after repeated failed sign-ins; try again after "
                      f"{row.locked_until:%H:%M} UTC or ask an administrator")
        ok = False
        if refuse is None and row is not None:
            try:
                ok = _hasher.verify(row.password_hash, password or "")
            except (VerificationError, InvalidHashError):
                ok = False
        conn.execute(insert(LoginAttempt).values(username=name, address_hash=addr, at=now,
                                                 ok=bool(ok and row.active)))
        error = refuse
        if error is None and (row is None or not ok):
            if row is not None:
                n = (row.failed_logins or 0) + 1
                values: dict[str, Any] = {"failed_logins": n}
                if n >= MAX_FAILURES:
                    values = {"failed_logins": 0, "locked_until": now + LOCKOUT}
                conn.execute(update(User).where(User.id == row.id).values(**values))
            error = "wrong username or password"
        elif error is None and not row.active:
            error = "this account is disabled; ask an administrator"
        elif error is None:
            conn.execute(update(User).where(User.id == row.id)
                         .values(failed_logins=0, locked_until=None))
            conn.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=30)))
    # Raised after the commit: the attempt and the failure count must be kept.
    if error is not None:
        raise Forbidden(error)
    return _account(row)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(bind: Engine | Connection, account: Account,
                  now: datetime | None = None) -> tuple[str, str]:
    """Open a session. Returns ``(token, csrf_token)``: the token goes in the cookie."""
    now = now or _now()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with write_begin(bind) as conn:
        conn.execute(insert(WebSession).values(token_hash=_token_hash(token), user_id=account.id,
                                               csrf_token=csrf, created_at=now,
                                               expires_at=now + SESSION_LIFETIME, revoked=False))
    return token, csrf


# Built once: the session lookup runs on every request, and building the statement costs more
# than running it on an indexed table.
_SESSION_LOOKUP = (
    select(User.__table__, WebSession.csrf_token.label("session_csrf"))
    .join(WebSession, WebSession.user_id == User.id)
    .where(WebSession.token_hash == bindparam("token_hash"), WebSession.revoked.is_(False),
           WebSession.expires_at > bindparam("now", type_=WebSession.expires_at.type),
           User.active.is_(True)))


def session_account(bind: Engine | Connection, token: str | None,
                    now: datetime | None = None) -> tuple[Account, str] | None:
    """The account and CSRF token of a live session, or None."""
    if not token:
        return None
    now = now or _now()
    with read_connection(bind) as conn:
        row = conn.execute(_SESSION_LOOKUP, {"token_hash": _token_hash(token),
                                             "now": now}).first()
    if row is None:
        return None
    return _account(row), row.session_csrf


def end_session(bind: Engine | Connection, token: str | None) -> None:
    """Sign out: the session is revoked."""
    if token:
        with write_begin(bind) as conn:
            conn.execute(update(WebSession).where(WebSession.token_hash == _token_hash(token))
                         .values(revoked=True))
        _REVOCATIONS[0] += 1
