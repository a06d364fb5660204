"""One Street Safe report from the public page: validation, abuse resistance, durable write.

Order of the checks, and why:

1. the shape of the report (reasons, when, a point) — refused as ``invalid``;
2. the idempotency key: a retry of a report already stored is answered "received" again, before
   any limit, so a person on a bad connection is never refused their own retry;
3. the honeypot field and the signed form token (the time-to-submit check: a person takes a few
   seconds; a script posting at once does not) — ``honeypot``, ``too-fast``, ``bad-token``;
4. the force area — ``outside-area``, with a clear message;
5. the global limit (per server process) and the per-client limit (keyed hash of the address,
   see :mod:`.keys`) — ``rate-global``, ``rate-client``; a duplicate burst (same client, same
   cell, same reasons within ``fold_minutes``) is folded into the first report: acknowledged,
   stored once, counted as ``folded``;
6. one transaction writes the report and the client's hash; only after it commits does the page
   hear "received".

Every refusal (and every fold and replay) increments a stored counter in
``streetsafe_refusals``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import delete

from guardian.errors import InputError
from guardian.operations.streetsafe import keys, storage
from guardian.operations.streetsafe.area import ForceArea, build_area
from guardian.operations.streetsafe.config import (
    DAYNIGHT,
    NOT_REPORTED,
    REASONS,
    WHEN,
    StreetSafeConfig,
)
from guardian.operations.streetsafe.models import (
    StreetSafeClient,
)
from guardian.store.db import write_begin

_log = logging.getLogger(__name__)

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(\+?\d[\d\s().-]{7,}\d)")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.IGNORECASE)
COMMENT_MAX = 280
AREA_TTL_S = 300.0


class Refused(InputError):
    """A submission refused, with the counter it was counted under (``reason``)."""

    def __init__(self, reason: str, message: str, status: int = 400):
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Ack:
    """What the page is told after the commit: the report's key, and whether this request
    stored it (``new``), was a retry of a stored one (``replayed``) or folded into a recent
    report of the same client (``folded``)."""

    key: str
    status: str  # new | replayed | folded


def screen_comment(text: str) -> str:
    """A comment with e-mail addresses, phone numbers and postcodes replaced by
    "[removed]", whitespace collapsed, cut to :data:`COMMENT_MAX` characters."""
    t = " ".join(str(text).split())[:COMMENT_MAX * 2]
    for pat in (_EMAIL, _POSTCODE, _PHONE):
        t = pat.sub("[removed]", t)
    return t[:COMMENT_MAX]


def form_token(secret: bytes, issued: float) -> str:
    """A signed form token carrying the time the page was served (Unix seconds)."""
    stamp = f"{issued:.3f}"
    mac = hmac.new(secret, f"streetsafe-form|{stamp}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{stamp}.{mac}"


def token_age(secret: bytes, token: str, now: float) -> float | None:
    """Seconds since the token was issued, or None when it is not one of ours."""
    parts = str(token).rsplit(".", 1)
    if len(parts) != 2:
        return None
    stamp, mac = parts
    try:
        issued = float(stamp)
    except ValueError:
        return None
    good = hmac.new(secret, f"streetsafe-form|{stamp}".encode(), hashlib.sha256).hexdigest()[:32]
    if not math.isfinite(issued) or not hmac.compare_digest(good, mac):
        return None
    return now - issued


def validate(body: dict, config: StreetSafeConfig) -> dict:
    """The report's fields, checked and normalised; :class:`Refused` ("invalid") otherwise."""
    def bad(msg: str):
        raise Refused("invalid", msg)

    key = str(body.get("key") or "")
    if not KEY_RE.match(key):
        bad("the report needs an idempotency key of 16-64 letters, digits, '-' or '_'")
    try:
        lat, lon = float(body.get("lat")), float(body.get("lon"))
    except (TypeError, ValueError):
        bad("put a pin on the map (or enter a latitude and longitude)")
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        bad("the pin is not a place on Earth: latitude -90..90, longitude -180..180")
    raw = body.get("reasons") or []
    if isinstance(raw, str):
        raw = [r for r in raw.split(",") if r]
    reasons = sorted({str(r) for r in raw})
    if not reasons:
        bad("tick at least one reason why you feel unsafe there")
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        bad(f"unknown reason {unknown[0]!r}")
    when = str(body.get("when") or "now")
    if when not in WHEN:
        bad("'when' must be now or earlier")
    daynight = str(body.get("daynight") or "")
    if daynight not in DAYNIGHT:
        bad("say whether it was in the day or at night")
    nr = body.get("not_reported") or None
    if nr is not None and str(nr) not in NOT_REPORTED:
        bad(f"unknown answer {str(nr)[:40]!r} to 'why not reported'")
    comment = body.get("comment") or None
    if comment is not None:
        comment = screen_comment(str(comment)) if config.comment else None
    return {"key": key, "lat": lat, "lon": lon, "reasons": ",".join(reasons), "when": when,
            "daynight": daynight, "not_reported": str(nr) if nr else None,
            "comment": comment or None}


def count_refusal(engine, reason: str, day) -> None:
    """Add one to the stored counter of ``reason`` on ``day`` (its own short transaction)."""
    with write_begin(engine) as conn:
        storage.add_counts(conn, {(day, reason): 1})


class Intake:
    """The write side of one Street Safe page (one per app process).

    Parameters
    ----------
    engine : sqlalchemy.Engine
    home : Path
        Guardian's home (the daily keys live there).
    config : StreetSafeConfig
    secret : bytes
        The app's secret, for signing form tokens (never for hashing addresses).
    """

    def __init__(self, engine, home: Path, config: StreetSafeConfig, secret: bytes):
        self.engine, self.home, self.config, self.secret = engine, Path(home), config, secret
        self._area: ForceArea | None = None
        self._lock = threading.Lock()
        self._area_lock = threading.Lock()
        self._minute = -1
        self._minute_count = 0
        self._purged_minute = -1
        #: purges of old client hashes that failed (each is logged and tried again with the
        #: next report)
        self.purge_failures = 0
        self._day_key: tuple | None = None
        #: SQLAlchemy Core for the store's round trips even on PostgreSQL (the reference the
        #: benchmark and the tests compare the array statements with)
        self.portable = False

    # -- helpers -------------------------------------------------------------------------
    def area(self) -> ForceArea:
        """The force area (rebuilt every few minutes so newly loaded data counts)."""
        a = self._area
        if a is None or time.monotonic() - a.built_at > AREA_TTL_S:
            with self._area_lock:  # concurrent first requests build it once
                a = self._area
                if a is None or time.monotonic() - a.built_at > AREA_TTL_S:
                    a = self._area = build_area(self.engine, self.config.dataset,
                                                self.config.area_cell_m)
        return a

    def token(self, now: float | None = None) -> str:
        return form_token(self.secret, time.time() if now is None else now)

    def _client(self, address: str, now: datetime) -> str:
        day = now.date()
        if self._day_key is None or self._day_key[0] != day:
            self._day_key = (day, keys.day_key(self.home, day))
            keys.rotate(self.home, now)
        return keys.client_hash(self._day_key[1], address)

    def _global_ok(self, now: datetime) -> bool:
        minute = int(now.timestamp() // 60)
        with self._lock:
            if minute != self._minute:
                self._minute, self._minute_count = minute, 0
            self._minute_count += 1
            return self._minute_count <= self.config.global_per_minute

    def _refuse(self, reason: str, message: str, now: datetime, status: int = 400):
        count_refusal(self.engine, reason, now.date())
        raise Refused(reason, message, status)

    def purge_due(self, now: datetime) -> bool:
        """True once a minute (the caller then runs :meth:`purge`)."""
        minute = int(now.timestamp() // 60)
        with self._lock:
            if minute == self._purged_minute:
                return False
            self._purged_minute = minute
            return True

    def purge(self, now: datetime) -> int:
        """Delete client hashes older than the window; returns how many went."""
        horizon = now.replace(tzinfo=None) - keys.WINDOW
        with write_begin(self.engine) as conn:
            n = conn.execute(delete(StreetSafeClient).where(StreetSafeClient.at < horizon))
        keys.rotate(self.home, now)
        return n.rowcount or 0

    def purge_or_retry(self, now: datetime) -> int | None:
        """:meth:`purge`, for callers that cannot take its error (the web's background run):
        a failure is logged in one line, counted in :attr:`purge_failures`, and the purge is
        due again at once, so hashes are not kept a minute longer than they must for each
        failure. Returns how many went, or None when it failed."""
        try:
            return self.purge(now)
        except Exception as exc:  # noqa: BLE001 - the store's error, whatever it is, is reported
            with self._lock:
                self.purge_failures += 1
                self._purged_minute = -1
            _log.warning("streetsafe: the purge of client hashes past the rate-limit window "
                         "failed (%s: %s); it is tried again with the next report",
                         type(exc).__name__, exc)
            return None

    def warm(self, conn) -> None:
        """Do once, on the calling thread and ``conn``, what a thread's first batch would do
        slowly: build the thread's projection (about 60 ms, measured) and read the store."""
        area = self.area()
        area.to_xy_many(np.zeros(1), np.zeros(1))
        with conn.begin():
            self.decide(conn, [])

    # -- the submission ------------------------------------------------------------------
    def prepare(self, body: dict, *, address: str, now: datetime | None = None,
                wall: float | None = None) -> dict:
        """The checks that need no store: a prepared report (with a pre-store refusal, if
        any), ready for :meth:`decide`. Raises :class:`Refused` ("invalid") on a bad shape."""
        now = (now or datetime.now(UTC)).astimezone(UTC)
        wall = time.time() if wall is None else wall
        cfg = self.config
        try:
            r = validate(body, cfg)
        except Refused as exc:
            self._refuse(exc.reason, str(exc), now)
        age = token_age(self.secret, str(body.get("token") or ""), wall)
        area = self.area()
        refusal = None
        if body.get("website"):
            refusal = "honeypot"
        elif age is None or age > cfg.token_hours * 3600 or age < -60:
            refusal = "bad-token"
        elif age < cfg.min_seconds:
            refusal = "too-fast"
        naive = now.replace(tzinfo=None)
        # The pin is projected and checked against the area in :meth:`decide`, a batch at a
        # time on the writer's thread: a projection on the event loop releases the GIL, and
        # winning it back from a busy writer cost about a millisecond a report (measured).
        return {"r": r, "now": now, "naive": naive, "refusal": refusal,
                "dataset": area.dataset, "client": self._client(address, now),
                "row": dict(key=r["key"], dataset_id=area.dataset_id,
                            received_at=naive.replace(second=0, microsecond=0),
                            month=now.strftime("%Y-%m"), lat=r["lat"], lon=r["lon"],
                            reasons=r["reasons"], when=r["when"],
                            daynight=r["daynight"], not_reported=r["not_reported"],
                            comment=r["comment"], source="web", source_file_id=None)}

    def _place(self, items: list[dict]) -> None:
        """Project the batch's pins (one call), refuse those outside the force area, apply the
        global limit to the rest, and give each its cell and fingerprint."""
        cfg = self.config
        area = self.area()
        todo = [it for it in items if "fp" not in it]
        if not todo:
            return
        xs, ys = area.to_xy_many(np.array([it["r"]["lat"] for it in todo], dtype=float),
                                 np.array([it["r"]["lon"] for it in todo], dtype=float))
        for it, x, y in zip(todo, xs.tolist(), ys.tolist(), strict=True):
            if it["refusal"] is None:
                if not area.contains(x, y):
                    it["refusal"] = "outside-area"
                elif not self._global_ok(it["now"]):
                    it["refusal"] = "rate-global"
            cell_x, cell_y = int(math.floor(x / cfg.cell_m)), int(math.floor(y / cfg.cell_m))
            it["fp"] = hashlib.sha256(
                f"{cell_x}|{cell_y}|{it['r']['reasons']}".encode()).hexdigest()
            it["row"].update(x=x, y=y, cell_x=cell_x, cell_y=cell_y)

    def decide(self, conn, items: list[dict]) -> list[tuple[str, str]]:
        """Store what may be stored of prepared reports, in the caller's transaction: one
        read (known keys and the clients' recent reports), one write, and the counters (see
        :mod:`.storage`). Returns ``(outcome, key)`` per item: new, replayed, folded, or the
        refusal's counter name."""
        cfg = self.config
        self._place(items)
        live = [it for it in items if it["refusal"] is None]
        since = (min(it["naive"] for it in live) - timedelta(hours=1)) if live else None
        pt = self.portable
        known, recent = storage.read(conn, [it["r"]["key"] for it in items],
                                     {it["client"] for it in live}, since, portable=pt)
        out: list[tuple[str, str]] = []
        new: list[dict] = []
        for it in items:
            k = it["r"]["key"]
            if k in known:
                out.append(("replayed", k))
                continue
            if it["refusal"] is not None:
                out.append((it["refusal"], k))
                continue
            mine = [x for x in recent.get(it["client"], []) if x[0] > it["naive"] -
                    timedelta(hours=1)]
            fold_after = it["naive"] - timedelta(minutes=cfg.fold_minutes)
            same = [x for x in mine if x[1] == it["fp"] and x[0] > fold_after]
            if same:
                out.append(("folded", same[0][2] or k))
            elif len(mine) >= cfg.per_client_per_hour:
                out.append(("rate-client", k))
            else:
                out.append(("new", k))
                new.append(it)
                known.add(k)
                recent.setdefault(it["client"], []).append([it["naive"], it["fp"], k])
        if new:
            # a parallel request of another worker may have stored a key since: skipped
            # (ON CONFLICT DO NOTHING), and that item answered "replayed"
            got = storage.write(conn, [it["row"] for it in new],
                                [{"key": it["r"]["key"], "client": it["client"],
                                  "at": it["naive"], "fingerprint": it["fp"]} for it in new],
                                portable=pt)
            out = [("replayed", k) if o == "new" and k not in got else (o, k) for o, k in out]
        counts: dict[tuple, int] = {}
        for (o, _), it in zip(out, items, strict=True):
            if o != "new":
                counts[(it["now"].date(), o)] = counts.get((it["now"].date(), o), 0) + 1
        storage.add_counts(conn, counts, portable=pt)
        return out

    def answer(self, item: dict, outcome: tuple[str, str]) -> Ack:
        """The :class:`Ack` of a decided report, or :class:`Refused` (already counted)."""
        o, k = outcome
        if o in ("new", "replayed", "folded"):
            return Ack(k, o)
        raise Refused(o, MESSAGES[o].format(dataset=item["dataset"]),
                      429 if o.startswith("rate-") else 400)

    def submit(self, body: dict, *, address: str, now: datetime | None = None,
               wall: float | None = None) -> Ack:
        """Check and store one report; returns the :class:`Ack` after the commit.

        Parameters
        ----------
        body : dict
            ``key, lat, lon, reasons, when, daynight`` and optionally ``not_reported, comment,
            website`` (the honeypot) and ``token`` (the form token).
        address : str
            The client's address: hashed with the day's key, never stored.
        now : datetime, optional
            The app's clock (aware). ``wall`` is the real Unix time for the form token.

        Raises
        ------
        Refused
            With the counter it was counted under and the message for the person.
        """
        item = self.prepare(body, address=address, now=now, wall=wall)
        with write_begin(self.engine) as conn:
            outcome = self.decide(conn, [item])[0]
        ack = self.answer(item, outcome)
        if ack.status == "new" and self.purge_due(item["now"]):
            self.purge_or_retry(item["now"])
        return ack


MESSAGES = {
    "honeypot": "this report could not be accepted",
    "bad-token": "the page has expired: reload it and try again",
    "too-fast": "that was quicker than a person can fill the form: wait a moment and send it "
                "again",
    "outside-area": "that place is outside the {dataset} area, so this force cannot act on it: "
                    "use the Street Safe page of the force where it is",
    "rate-global": "the page is very busy: please try again in a minute",
    "rate-client": "you have sent several reports in the last hour: thank you — please wait a "
                   "while before sending more",
}


class Batcher:
    """Group commit for the web: reports from concurrent requests are decided and stored in
    one transaction (:meth:`Intake.decide`), and each request is answered after that commit.

    ``writers`` threads per server process (default: 2 on a server database, 1 on SQLite,
    whose single write lock would only make a second one wait) each hold one connection of
    their own and take whatever queued while they last committed (at most ``max_batch``), so
    a lone report waits for nothing and, with two, one batch is decided while the other's
    commit is being flushed. Two batches in flight at once race only as two server processes
    already do: a key stored twice is refused by the unique key (answered "replayed"). On a
    SQLite file the writers of all server processes take turns on a lock file beside it
    (:func:`_turn`) rather than on SQLite's polling wait for its write lock."""

    def __init__(self, intake: Intake, max_batch: int = 256, writers: int | None = None,
                 *, warm: bool = False):
        import queue

        self.intake, self.max_batch = intake, max_batch
        if writers is None:
            writers = 1 if intake.engine.dialect.name == "sqlite" else 2
        self.q: queue.Queue = queue.Queue()
        self._lock_fd = _writer_lock(intake.engine)
        self._ready = threading.Barrier(writers + 1) if warm else None
        self.threads = [threading.Thread(target=self._run, name=f"streetsafe-writer-{i}",
                                         daemon=True) for i in range(writers)]
        for t in self.threads:
            t.start()
        if self._ready is not None:
            # ``warm``: back once every writer has connected and run an empty batch (the
            # store's first round trip on a connection is the slow one); a writer that could
            # not connect is not waited for, it connects again on its first batch.
            try:
                self._ready.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass

    async def submit(self, body: dict, *, address: str, now: datetime | None = None) -> Ack:
        """Prepare on the event loop, store in a writer's next batch, answer after commit."""
        import asyncio

        item = self.intake.prepare(body, address=address, now=now)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.q.put((item, loop, fut))
        outcome = await fut
        ack = self.intake.answer(item, outcome)
        if ack.status == "new" and self.intake.purge_due(item["now"]):
            # the once-a-minute purge of old client hashes runs beside, not in, a request
            loop.run_in_executor(None, self.intake.purge_or_retry, item["now"])
        return ack

    def _run(self) -> None:
        import queue

        conn = None
        if self._ready is not None:
            try:
                conn = self.intake.engine.connect().execution_options(immediate=True)
                self.intake.warm(conn)
            except Exception:  # noqa: BLE001 - the first batch connects again
                if conn is not None:
                    conn.invalidate()
                    conn.close()
                conn = None
            try:
                self._ready.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass
        while True:
            batch = [self.q.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.q.get_nowait())
                except queue.Empty:
                    break
            try:
                if conn is None:
                    # a connection of the writer's own: no pool check-out (and its ping
                    # round trip) per batch; a failed one is dropped and opened again
                    conn = self.intake.engine.connect().execution_options(immediate=True)
                with _turn(self._lock_fd), conn.begin():
                    outs = self.intake.decide(conn, [b[0] for b in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter must hear of the failure
                if conn is not None:
                    conn.invalidate()
                    conn.close()
                    conn = None
                _wake(batch, [exc] * len(batch), _fail)
                continue
            _wake(batch, outs, _done)


def _writer_lock(engine) -> int | None:
    """On a SQLite file, a lock file beside it that the Street Safe writers of every server
    process take in turn around their write transaction (None elsewhere, or when the file
    cannot be made: then SQLite's own wait serves, as before)."""
    db = engine.url.database if engine.dialect.name == "sqlite" else None
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    try:
        return os.open(f"{db}-streetsafe.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        _log.warning("streetsafe: no writers' lock file beside %s (%s); writers wait on SQLite's "
                     "own lock", db, exc)
        return None


@contextlib.contextmanager
def _turn(fd: int | None):
    # SQLite's own wait for its write lock polls, sleeping up to 100 ms between tries, so a
    # writer can lose the lock to the other process's next batch again and again (measured: a
    # fixed-rate run's p99.9 1.6 s on two processes). flock() sleeps in the kernel and is
    # woken when the holder lets go. Released by the kernel if the process dies.
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _wake(batch: list[tuple], values: list, how) -> None:
    """Hand each waiter its value on its own event loop: one wake-up per loop for the whole
    batch, not one per report (each wake-up is a write to the loop's self-pipe)."""
    per_loop: dict = {}
    for (_, loop, fut), v in zip(batch, values, strict=True):
        per_loop.setdefault(loop, []).append((fut, v))
    for loop, pairs in per_loop.items():
        loop.call_soon_threadsafe(_settle, pairs, how)


def _settle(pairs: list[tuple], how) -> None:
    for fut, v in pairs:
        how(fut, v)


def _done(fut, value) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut, exc) -> None:
    if not fut.done():
        fut.set_exception(exc)
