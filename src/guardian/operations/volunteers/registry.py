"""The volunteer registry: import from a rostering tool's CSV through a TOML mapping, list,
show, link to a sign-in account.

Mapping file (worked example: ``tests/fixtures/volunteers-mapping.toml``)
----------------------------------------------------------------------
.. code-block:: toml

    [csv]
    date_format = "%d/%m/%Y"        # dates in the export
    list_separator = ";"            # between skills, between extra districts

    [columns]                       # Guardian field = the export's column ("" = absent)
    id = "Volunteer ID"             # the tool's stable id: imports match on it
    name = "Name"
    type = "Role"
    organisation = "Unit"
    district = "District"
    also_districts = ""
    skills = "Skills"
    accredited_on = "Accredited"
    accreditation_expiry = "Accreditation expiry"
    date_of_birth = "DOB"
    supervision = "Needs supervision"   # yes/no
    max_shifts = ""
    max_hours = ""
    username = "Login"

    [types]                         # the tool's role names -> Guardian's five types
    "Special Constable" = "special"
    "Active Citizen" = "active-citizen"
    "CSAS Accredited Person" = "csas"
    "Police Support Volunteer" = "psv"
    "Volunteer Police Cadet" = "cadet"

    [availability]                  # the availability export: one row per free shift
    id = "Volunteer ID"
    date = "Date"
    band = "Shift"
    [availability.bands]            # the tool's shift names -> 0 (08-16), 1 (16-24), 2 (24-08)
    "Early" = 0
    "Late" = 1
    "Night" = 2

Validation (a refused row goes to the quarantine with its reason and raw line, and the rest
load): an id, a known type, a district, dates in the stated format, a cadet's date of birth
(aged 10-18 at import), an accredited person's accreditation date or expiry, expiry after
accreditation, whole-number limits. Re-importing a file changes nothing (rows are matched on
the tool's id; quarantine rows on file hash and line); one transaction per import.

Accreditation: valid until the earlier of its expiry and the refresher due 3 years after the
accreditation date (:func:`refresher_due`).
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from guardian.analysis.mobilise.problem import KINDS
from guardian.data.sources import sha256_bytes
from guardian.errors import InputError, NotFound
from guardian.operations.volunteers.models import ImportQuarantine, Volunteer
from guardian.store.db import read_connection, write_begin

FIELDS = ("id", "name", "type", "organisation", "district", "also_districts", "skills",
          "accredited_on", "accreditation_expiry", "date_of_birth", "supervision", "max_shifts",
          "max_hours", "username")
REQUIRED_FIELDS = ("id", "name", "type", "district")
REFRESHER_YEARS = 3
KIND_LABELS = {"special": "Special Constable", "active-citizen": "Active Citizen",
               "csas": "CSAS accredited person", "psv": "Police Support Volunteer",
               "cadet": "Volunteer Police Cadet"}
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class RegistryMapping:
    """A parsed mapping file (see the module docstring)."""

    columns: dict[str, str]
    types: dict[str, str]
    date_format: str = "%Y-%m-%d"
    list_separator: str = ";"
    availability: dict[str, str] = field(default_factory=dict)
    bands: dict[str, int] = field(default_factory=dict)


def load_mapping(path: Path | str) -> RegistryMapping:
    """Read and check a mapping file. Raises :class:`InputError` naming the bad key."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"mapping file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(p.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p.name}: not valid TOML ({exc})") from exc
    cols = raw.get("columns") or {}
    unknown = sorted(set(cols) - set(FIELDS))
    if unknown:
        raise InputError(f"{p.name}: [columns] has unknown fields {unknown}; expected {list(FIELDS)}")
    missing = [f for f in REQUIRED_FIELDS if not str(cols.get(f) or "").strip()]
    if missing:
        raise InputError(f"{p.name}: [columns] must name the export's column for {missing}")
    types = {str(k): str(v) for k, v in (raw.get("types") or {}).items()}
    bad = sorted({v for v in types.values() if v not in KINDS})
    if bad:
        raise InputError(f"{p.name}: [types] maps to {bad}, which are not Guardian types "
                         f"{list(KINDS)}")
    av = dict(raw.get("availability") or {})
    bands_raw = av.pop("bands", {}) or {}
    bands = {}
    for k, v in bands_raw.items():
        if v not in (0, 1, 2) or isinstance(v, bool):
            raise InputError(f"{p.name}: [availability.bands] {k!r} = {v!r}; use 0 (08-16), "
                             "1 (16-24) or 2 (24-08)")
        bands[str(k).strip().lower()] = int(v)
    csvs = raw.get("csv") or {}
    return RegistryMapping(columns={f: str(cols.get(f) or "") for f in FIELDS}, types=types,
                           date_format=str(csvs.get("date_format") or "%Y-%m-%d"),
                           list_separator=str(csvs.get("list_separator") or ";"),
                           availability={k: str(v) for k, v in av.items()}, bands=bands)


def refresher_due(accredited_on: date | None) -> date | None:
    """The refresher date: 3 years after accreditation (29 February -> 28 February)."""
    if accredited_on is None:
        return None
    try:
        return accredited_on.replace(year=accredited_on.year + REFRESHER_YEARS)
    except ValueError:
        return accredited_on.replace(year=accredited_on.year + REFRESHER_YEARS, day=28)


def accredited_until(accredited_on: date | None, expiry: date | None) -> date | None:
    """Last valid day of an accreditation: the earlier of expiry and refresher due."""
    days = [d for d in (expiry, refresher_due(accredited_on)) if d is not None]
    return min(days) if days else None


def age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def age_band(dob: date | None, day: date) -> str | None:
    """A cadet's age as a band (never the date of birth): under 13, 13-15, 16-17, 18+."""
    if dob is None:
        return None
    a = age_on(dob, day)
    return "under 13" if a < 13 else "13-15" if a < 16 else "16-17" if a < 18 else "18+"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _read_rows(path: Path | str) -> tuple[list[dict[str, str]], list[str], str, bytes]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"file {str(path)!r} does not exist")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{p.name}: not UTF-8 text ({exc}); re-save it as UTF-8") from exc
    lines = text.splitlines()
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InputError(f"{p.name}: empty file (no header)")
    return list(reader), lines, p.name, data


def _date(text: str, fmt: str, what: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError as exc:
        raise InputError(f"{what} {text!r} is not a date in the format {fmt}") from exc


def _whole(text: str, what: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 <= int(text) <= 744:
        raise InputError(f"{what} {text!r} is not a whole number 0-744")
    return int(text)


def _parse_person(row: dict[str, str], m: RegistryMapping, today: date) -> dict[str, Any]:
    def get(f: str) -> str:
        col = m.columns.get(f) or ""
        if not col:
            return ""
        if col not in row:
            raise InputError(f"the export has no column {col!r} (mapped to {f})")
        return str(row.get(col) or "").strip()

    sid = get("id")
    if not sid:
        raise InputError("no volunteer id")
    if len(sid) > 60:
        raise InputError(f"volunteer id {sid[:20]!r}... is longer than 60 characters")
    name = get("name")
    if not name:
        raise InputError("no name")
    role = get("type")
    kind = m.types.get(role) or (role if role in KINDS else None)
    if kind is None:
        raise InputError(f"type {role!r} is not in the mapping's [types] "
                         f"({sorted(m.types)}) nor one of {list(KINDS)}")
    district = get("district")
    if not district:
        raise InputError("no district")
    sep = m.list_separator
    also = [d.strip() for d in get("also_districts").split(sep) if d.strip()]
    skills = sorted({s.strip().lower() for s in get("skills").split(sep) if s.strip()})
    fmt = m.date_format
    acc = _date(get("accredited_on"), fmt, "accreditation date")
    exp = _date(get("accreditation_expiry"), fmt, "accreditation expiry")
    dob = _date(get("date_of_birth"), fmt, "date of birth")
    if acc and exp and exp <= acc:
        raise InputError(f"accreditation expiry {exp} is not after the accreditation date {acc}")
    if kind == "csas" and acc is None and exp is None:
        raise InputError("an accredited person (CSAS) needs an accreditation date or expiry")
    if kind == "cadet":
        if dob is None:
            raise InputError("a cadet needs a date of birth (only the age band is shown)")
        if not 10 <= age_on(dob, today) <= 18:
            raise InputError(f"a cadet aged {age_on(dob, today)} on {today}: cadets are 10-18")
    elif dob is not None and dob > today:
        raise InputError(f"date of birth {dob} is in the future")
    sup_text = get("supervision").lower()
    if sup_text not in _YES | _NO:
        raise InputError(f"supervision {sup_text!r}: write yes or no")
    username = get("username").lower() or None
    return dict(source_id=sid, name=name[:120], kind=kind, organisation=get("organisation")[:120],
                district=district[:100], also_districts=also, skills=skills, accredited_on=acc,
                accreditation_expiry=exp, date_of_birth=dob,
                needs_supervision=sup_text in _YES or kind == "cadet",
                max_shifts=_whole(get("max_shifts"), "max shifts"),
                max_hours=_whole(get("max_hours"), "max hours"), username=username)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read = added + updated + unchanged + quarantined."""

    file: str
    read: int
    added: int
    updated: int
    unchanged: int
    quarantined: int
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("file", "read", "added", "updated", "unchanged",
                                              "quarantined")} | {"reasons": list(self.reasons)}


def _quarantine(conn: Connection, what: str, name: str, sha: str, bad: list) -> None:
    have = {r[0] for r in conn.execute(select(ImportQuarantine.line).where(
        ImportQuarantine.file_sha256 == sha))}
    rows = [dict(what=what, file_name=name, file_sha256=sha, line=line, reason=reason, raw=raw,
                 at=_now()) for line, reason, raw in bad if line not in have]
    if rows:
        conn.execute(insert(ImportQuarantine), rows)


def import_registry(bind: Engine | Connection, *, path: Path | str, mapping: Path | str,
                    today: date | None = None) -> ImportResult:
    """Import (add or update) volunteers from a rostering export.

    Parameters
    ----------
    path : path
        The CSV export.
    mapping : path
        The TOML mapping (module docstring).
    today : date, optional
        Date the cadet age check uses (default: today, UTC).

    Returns
    -------
    ImportResult
    """
    m = load_mapping(mapping)
    rows, lines, name, data = _read_rows(path)
    today = today or _now().date()
    sha = sha256_bytes(data)
    good: dict[str, dict] = {}
    bad: list[tuple[int, str, str]] = []
    for i, row in enumerate(rows):
        line = i + 2
        raw = lines[i + 1] if i + 1 < len(lines) else ""
        try:
            rec = _parse_person(row, m, today)
        except InputError as exc:
            bad.append((line, str(exc), raw))
            continue
        if rec["source_id"] in good:
            bad.append((line, f"volunteer id {rec['source_id']!r} appears twice in the file", raw))
            continue
        good[rec["source_id"]] = rec
    added = updated = unchanged = 0
    with write_begin(bind) as conn:
        have = {r.source_id: r for r in conn.execute(select(Volunteer.__table__).where(
            Volunteer.source_id.in_(list(good) or [""])))}
        taken = {r.username: r.source_id for r in conn.execute(
            select(Volunteer.username, Volunteer.source_id).where(Volunteer.username.is_not(None)))}
        for sid, rec in list(good.items()):
            u = rec["username"]
            if u and taken.get(u, sid) != sid:
                line = next(i + 2 for i, r in enumerate(rows)
                            if str(r.get(m.columns["id"], "")).strip() == sid)
                bad.append((line, f"login {u!r} is already linked to volunteer "
                                  f"{taken[u]!r}", lines[line - 1]))
                del good[sid]
                continue
            if u:
                taken[u] = sid
            old = have.get(sid)
            if old is None:
                conn.execute(insert(Volunteer).values(**rec, active=True, updated_at=_now()))
                added += 1
            elif any(getattr(old, k) != v for k, v in rec.items()):
                conn.execute(update(Volunteer).where(Volunteer.id == old.id).values(
                    **rec, updated_at=_now()))
                updated += 1
            else:
                unchanged += 1
        _quarantine(conn, "registry", name, sha, bad)
    return ImportResult(name, len(rows), added, updated, unchanged, len(bad),
                        tuple(f"line {ln}: {r}" for ln, r, _ in sorted(bad)))


def quarantined(bind: Engine | Connection, *, what: str | None = None) -> list[dict[str, Any]]:
    """Refused import rows (file, line, reason, raw), oldest first."""
    q = select(ImportQuarantine.__table__).order_by(ImportQuarantine.id)
    if what:
        q = q.where(ImportQuarantine.what == what)
    with read_connection(bind) as conn:
        return [dict(what=r.what, file=r.file_name, line=r.line, reason=r.reason, raw=r.raw)
                for r in conn.execute(q)]


def volunteer_ref(vid: int) -> str:
    return f"V-{vid}"


def parse_ref(value: Any) -> int:
    text = str(value).strip().upper().removeprefix("V-")
    if not text.isdigit():
        raise InputError(f"volunteer {value!r}: expected V-<number>")
    return int(text)


def person_dict(r, *, today: date) -> dict[str, Any]:
    """A registry record as shown: a cadet's date of birth is never shown, only the age band."""
    until = accredited_until(r.accredited_on, r.accreditation_expiry)
    return {
        "ref": volunteer_ref(r.id), "id": r.id, "source_id": r.source_id, "name": r.name,
        "kind": r.kind, "type": KIND_LABELS[r.kind], "organisation": r.organisation,
        "district": r.district, "also_districts": list(r.also_districts or []),
        "skills": list(r.skills or []),
        "accredited_on": r.accredited_on.isoformat() if r.accredited_on else None,
        "accreditation_expiry": (r.accreditation_expiry.isoformat()
                                 if r.accreditation_expiry else None),
        "refresher_due": (refresher_due(r.accredited_on).isoformat()
                          if r.accredited_on else None),
        "accredited_until": until.isoformat() if until else None,
        "accreditation_valid": None if until is None else today <= until,
        "age_band": age_band(r.date_of_birth, today),
        "needs_supervision": bool(r.needs_supervision) or r.kind == "cadet",
        "max_shifts": r.max_shifts, "max_hours": r.max_hours, "username": r.username,
        "active": bool(r.active),
    }


def list_volunteers(bind: Engine | Connection, *, district: str | None = None,
                    kind: str | None = None, today: date | None = None) -> list[dict[str, Any]]:
    """Registry records (active), by district then name."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"type {kind!r} is not one of {list(KINDS)}")
    q = select(Volunteer.__table__).where(Volunteer.active.is_(True))
    if district:
        q = q.where(Volunteer.district == district)
    if kind:
        q = q.where(Volunteer.kind == kind)
    today = today or _now().date()
    with read_connection(bind) as conn:
        rows = conn.execute(q.order_by(Volunteer.district, Volunteer.name, Volunteer.id)).all()
    return [person_dict(r, today=today) for r in rows]


def get_volunteer(bind: Engine | Connection, *, ref: Any, today: date | None = None) -> dict:
    vid = parse_ref(ref)
    with read_connection(bind) as conn:
        r = conn.execute(select(Volunteer.__table__).where(Volunteer.id == vid)).first()
    if r is None:
        raise NotFound(f"no volunteer {volunteer_ref(vid)}")
    return person_dict(r, today=today or _now().date())


def volunteer_of_user(bind: Engine | Connection, username: str,
                      today: date | None = None) -> dict | None:
    """The registry record linked to a sign-in account (None when there is none)."""
    with read_connection(bind) as conn:
        r = conn.execute(select(Volunteer.__table__).where(Volunteer.username == username)).first()
    return None if r is None else person_dict(r, today=today or _now().date())


def link_user(bind: Engine | Connection, *, ref: Any, username: str | None) -> dict:
    """Link a volunteer record to a sign-in account (``None`` unlinks)."""
    from guardian.operations.accounts.service import get_user

    vid = parse_ref(ref)
    username = (username or "").strip().lower() or None
    if username:
        get_user(bind, username)
    with write_begin(bind) as conn:
        r = conn.execute(select(Volunteer.id).where(Volunteer.id == vid)).first()
        if r is None:
            raise NotFound(f"no volunteer {volunteer_ref(vid)}")
        if username:
            other = conn.execute(select(Volunteer.id).where(
                Volunteer.username == username, Volunteer.id != vid)).first()
            if other is not None:
                from guardian.errors import Conflict

                raise Conflict(f"login {username!r} is already linked to "
                               f"{volunteer_ref(other.id)}")
        conn.execute(update(Volunteer).where(Volunteer.id == vid).values(
            username=username or None, updated_at=_now()))
    return get_volunteer(bind, ref=vid)


def deactivate(bind: Engine | Connection, *, ref: Any) -> None:
    """Take a volunteer off the registry (kept for past plans; never planned again)."""
    vid = parse_ref(ref)
    with write_begin(bind) as conn:
        n = conn.execute(update(Volunteer).where(Volunteer.id == vid).values(
            active=False, updated_at=_now())).rowcount
    if not n:
        raise NotFound(f"no volunteer {volunteer_ref(vid)}")

