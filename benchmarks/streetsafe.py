"""Street Safe intake under load, and durability when the server is killed.

Loopback only, bounded in count and time. For each store (SQLite file, PostgreSQL) it runs
``guardian serve --workers N`` over the bundled Essex 2021-12 data (the force area comes from its
places) and ``clients`` concurrent keep-alive clients posting reports (a pin at a real Essex
crime place, jittered by up to 100 m, one to three reasons, each with its own idempotency key and
its own client address in X-Forwarded-For, so the per-client limit is checked but not hit) for
``seconds``; beside it a bare FastAPI handler that parses the same JSON and answers without
storing. An acknowledgement is HTTP 200 with ``"status":"received"``, sent after the commit.

Then a fixed-rate run (``--rate``, default 1,000 reports a second, evenly spaced, over
``--conns`` keep-alive connections): latency is counted from when each report was due, so a
stall is charged to every report that queued behind it (no coordinated omission).

Then the SIGKILL run (PostgreSQL, and SQLite): the same load, the server's whole process group
is killed with SIGKILL half-way, restarted, and the clients retry every unacknowledged report
with the same key (as the page does). At the end: acknowledged keys, keys stored, and lost =
acknowledged but not stored (must be 0).

PostgreSQL: ``GUARDIAN_BENCH_POSTGRES_URL``, or a throwaway cluster of its own (initdb in a
temporary folder, default durability settings: fsync and synchronous_commit on), stopped after.

    .venv/bin/python benchmarks/streetsafe.py --seconds 10 --clients 32 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from web import HttpConn, bare_command  # noqa: E402  (the same client and serving as web.py)

REASONS = ["no-cctv", "badly-lit", "isolated", "layout", "visibility", "run-down",
           "drugs-alcohol", "harassed-one", "harassed-group", "followed"]


try:
    from pydantic import BaseModel

    class BareBody(BaseModel):
        key: str
        lat: float
        lon: float
        reasons: list[str]
        when: str = "now"
        daynight: str
        token: str = ""
except ImportError:  # pragma: no cover
    BareBody = None


def bare_app():
    """The reference: FastAPI parsing the same body and answering, with no store."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/api/streetsafe/reports")
    async def report(body: BareBody) -> dict:
        return {"status": "received", "key": body.key, "stored": "new"}

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_cluster(tmp: Path):
    """A throwaway PostgreSQL cluster (default durability) -> (url, stop function)."""
    pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    d = tmp / "pg"
    d.mkdir()
    port = _free_port()
    as_pg = ["su", "postgres", "-s", "/bin/bash", "-c"] if os.getuid() == 0 else ["bash", "-c"]
    if os.getuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(d, "postgres")
    subprocess.run([*as_pg, f"{pgbin}/initdb -D {d}/data -A trust -U guardian >/dev/null"],
                   check=True)
    subprocess.run([*as_pg, f"{pgbin}/pg_ctl -D {d}/data -o '-p {port} -k {d} -c "
                    f"listen_addresses=127.0.0.1 -c max_connections=200' -l {d}/log -w start "
                    ">/dev/null"], check=True)

    def stop():
        subprocess.run([*as_pg, f"{pgbin}/pg_ctl -D {d}/data -m fast stop >/dev/null"],
                       check=False)

    return f"postgresql+psycopg://guardian@127.0.0.1:{port}/postgres", stop


def _prepare(url: str, home: Path) -> list[tuple[float, float]]:
    """Load Essex 2021-12 and return the places' (lat, lon) to pin reports at."""
    from sqlalchemy import select

    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest
    from guardian.store.models import Place

    engine = get_engine(url)
    ingest(engine, [REPO / "data/police_uk_street_essex/2021-12-essex-street.csv.gz"])
    with engine.connect() as c:
        pts = [(a, b) for a, b in c.execute(select(Place.lat, Place.lon)
                                            .where(Place.lat.is_not(None)))]
    engine.dispose()
    (home / "streetsafe.toml").write_text(
        "[streetsafe]\nmin_seconds = 0.5\ntrust_forwarded = true\n"
        "global_per_minute = 100000000\n")
    return pts


def _serve(args: list[str], env: dict, port: int) -> subprocess.Popen:
    log = open(Path(env["GUARDIAN_HOME"]) / f"server-{port}.log", "ab")  # noqa: SIM115
    p = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=0.5)
            return p
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(p.pid, signal.SIGKILL)
    raise RuntimeError(f"server on {port} did not start; see {log.name}")


def _guardian(env: dict, port: int, workers: int) -> subprocess.Popen:
    exe = str(Path(sys.executable).parent / "guardian")
    return _serve([exe, "serve", "--port", str(port), "--workers", str(workers)], env, port)


def _stop(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def _load(port: int, token: str, pts, seconds: float, clients: int,
                kill_at: float | None = None, restart=None) -> dict:
    """``clients`` workers posting for ``seconds``; with ``kill_at``, ``restart()`` (kill and
    start again) runs at that many seconds, and unacknowledged reports are retried."""
    lat: list[float] = []
    acked: set[str] = set()
    sent: set[str] = set()
    errors, samples, retries = 0, [], 0
    t_start = time.perf_counter()
    stop = t_start + seconds
    rng = random.Random()
    run = rng.randrange(250)  # client addresses differ between runs

    async def worker(w: int) -> None:
        nonlocal errors, retries
        conn = HttpConn("127.0.0.1", port)
        await conn.open()
        i = 0
        pending = None
        while time.perf_counter() < stop or pending is not None:
            if pending is None:
                la, lo = pts[rng.randrange(len(pts))]
                body = {"key": uuid.uuid4().hex, "lat": la + rng.uniform(-9e-4, 9e-4),
                        "lon": lo + rng.uniform(-1.4e-3, 1.4e-3),
                        "reasons": rng.sample(REASONS, rng.randint(1, 3)), "when": "now",
                        "daynight": "night", "token": token}
                pending = (body, f"10.{run}.{w % 250}.{i % 250 + 1}")
                i += 1
            body, client = pending
            sent.add(body["key"])
            t0 = time.perf_counter()
            try:
                code, data = await conn.request("POST", "/api/streetsafe/reports",
                                                json.dumps(body).encode(),
                                                {"X-Forwarded-For": client})
            except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                errors += 1
                retries += 1
                if len(samples) < 3:
                    samples.append(repr(exc))
                if time.perf_counter() > stop + 30:
                    return  # give up (counted: sent, never acknowledged)
                await asyncio.sleep(0.05)
                if conn.writer is not None:
                    conn.writer.close()
                conn.writer = None
                try:
                    await conn.open()
                except OSError:
                    pass
                continue  # the same report again, same key
            lat.append(time.perf_counter() - t0)
            if code == 200 and b'"received"' in data:
                # the key the server says is stored (a folded duplicate names the first one)
                acked.add(json.loads(data)["key"])
                pending = None
            else:
                errors += 1
                if len(samples) < 3:
                    samples.append(f"HTTP {code} {data[:120]!r}")
                pending = None if code < 500 else pending
        if conn.writer is not None:
            conn.writer.close()

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        await asyncio.get_running_loop().run_in_executor(None, restart)

    tasks = [worker(w) for w in range(clients)]
    if kill_at is not None:
        tasks.append(killer())
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t_start
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return {"requests": len(lat), "acked": len(acked), "ack_per_s": len(acked) / wall,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "errors": errors,
            "samples": samples, "acked_keys": acked, "sent_keys": sent, "retries": retries}


async def _open_loop(port: int, token: str, pts, seconds: float, rate: float,
                     conns: int) -> dict:
    """Reports sent at a fixed rate (``rate`` a second, evenly spaced) for ``seconds``, over a
    pool of ``conns`` keep-alive connections. Latency runs from the moment a report was due,
    not from when a free connection took it, so a stalled server is charged for every report
    that queued behind the stall (no coordinated omission)."""
    lat: list[float] = []
    acked = 0
    errors, samples = 0, []
    rng = random.Random()
    run = rng.randrange(250)
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(conns):
        c = HttpConn("127.0.0.1", port)
        await c.open()
        pool.put_nowait(c)
    n = int(seconds * rate)
    t_start = time.perf_counter()

    async def one(i: int, due: float) -> None:
        nonlocal acked, errors
        la, lo = pts[rng.randrange(len(pts))]
        body = {"key": uuid.uuid4().hex, "lat": la + rng.uniform(-9e-4, 9e-4),
                "lon": lo + rng.uniform(-1.4e-3, 1.4e-3),
                "reasons": rng.sample(REASONS, rng.randint(1, 3)), "when": "now",
                "daynight": "night", "token": token}
        conn = await pool.get()
        try:
            code, data = await conn.request("POST", "/api/streetsafe/reports",
                                            json.dumps(body).encode(),
                                            {"X-Forwarded-For": f"10.{run}.{i % 250}.{i // 250 % 250 + 1}"})
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            errors += 1
            if len(samples) < 3:
                samples.append(repr(exc))
            conn = HttpConn("127.0.0.1", port)
            await conn.open()
            pool.put_nowait(conn)
            return
        pool.put_nowait(conn)
        lat.append(time.perf_counter() - due)
        if code == 200 and b'"received"' in data:
            acked += 1
        else:
            errors += 1
            if len(samples) < 3:
                samples.append(f"HTTP {code} {data[:120]!r}")

    tasks = []
    for i in range(n):
        due = t_start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - t_start
    while not pool.empty():
        c = pool.get_nowait()
        if c.writer is not None:
            c.writer.close()
    q = statistics.quantiles(lat, n=1000) if len(lat) > 1 else [0.0] * 999
    return {"requests": len(lat), "acked": acked, "ack_per_s": acked / wall,
            "p50_ms": q[499] * 1000, "p99_ms": q[989] * 1000, "p999_ms": q[998] * 1000,
            "max_ms": max(lat, default=0.0) * 1000, "errors": errors, "samples": samples,
            "offered": rate}


def _stored_keys(url: str) -> set[str]:
    from sqlalchemy import create_engine, select

    from guardian.operations.streetsafe.models import StreetSafeReport

    eng = create_engine(url)
    with eng.connect() as c:
        keys = set(c.execute(select(StreetSafeReport.key)).scalars())
    eng.dispose()
    return keys


def _token(port: int) -> str:
    for _ in range(8):  # warm every worker: the first request builds the force area
        httpx.get(f"http://127.0.0.1:{port}/streetsafe", timeout=60)
    t = httpx.get(f"http://127.0.0.1:{port}/api/streetsafe/token").json()["token"]
    time.sleep(0.6)  # older than min_seconds
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rate", type=float, default=1000.0,
                    help="offered reports a second in the fixed-rate run (0: skip it)")
    ap.add_argument("--conns", type=int, default=64,
                    help="keep-alive connections of the fixed-rate run")
    ap.add_argument("--skip-sqlite", action="store_true")
    a = ap.parse_args()
    a.seconds = min(a.seconds, 60)  # bounded
    tmp = Path(tempfile.mkdtemp(prefix="guardian-ssbench-"))
    stop_pg = None
    pg = os.environ.get("GUARDIAN_BENCH_POSTGRES_URL")
    if not pg:
        pg, stop_pg = _pg_cluster(tmp)
    stores = {} if a.skip_sqlite else {"SQLite": f"sqlite:///{tmp / 'sq' / 'store.db'}"}
    stores["PostgreSQL"] = pg
    print(f"{a.clients} clients, {a.seconds:.0f} s per run, {a.workers} server worker(s); "
          f"{os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    rows = {}
    fixed = {}
    kills = {}
    try:
        port = _free_port()
        home = tmp / "bare"
        home.mkdir()
        env = dict(os.environ, GUARDIAN_HOME=str(home))
        bare = _serve(bare_command("streetsafe:bare_app", port, a.workers), env, port)
        try:
            rows["bare handler"] = asyncio.run(_load(port, "", [(51.57, 0.46)], a.seconds,
                                                     a.clients))
            if a.rate:
                fixed["bare handler"] = asyncio.run(_open_loop(
                    port, "", [(51.57, 0.46)], a.seconds, a.rate, a.conns))
        finally:
            _stop(bare)
        for name, url in stores.items():
            home = tmp / name
            home.mkdir(exist_ok=True)
            (tmp / "sq").mkdir(exist_ok=True)
            pts = _prepare(url, home)
            env = dict(os.environ, GUARDIAN_HOME=str(home), GUARDIAN_DATABASE_URL=url)
            port = _free_port()
            srv = _guardian(env, port, a.workers)
            try:
                tok = _token(port)
                r = asyncio.run(_load(port, tok, pts, a.seconds, a.clients))
                r["stored_ok"] = r["acked_keys"] <= _stored_keys(url)
                rows[f"Guardian, {name}"] = r
                if a.rate:
                    fixed[f"Guardian, {name}"] = asyncio.run(_open_loop(
                        port, tok, pts, a.seconds, a.rate, a.conns))
            finally:
                _stop(srv)
            # the SIGKILL run
            state = {"srv": _guardian(env, port, a.workers)}
            tok = _token(port)
            before = _stored_keys(url)

            def restart(env=env, port=port, state=state):
                os.killpg(state["srv"].pid, signal.SIGKILL)
                state["srv"].wait()
                time.sleep(0.5)
                state["srv"] = _guardian(env, port, a.workers)

            try:
                r = asyncio.run(_load(port, tok, pts, a.seconds, a.clients,
                                      kill_at=a.seconds / 2, restart=restart))
            finally:
                _stop(state["srv"])
            stored = _stored_keys(url) - before
            kills[name] = {"acknowledged": len(r["acked_keys"]),
                           "stored": len(stored & r["sent_keys"]),
                           "lost": len(r["acked_keys"] - stored),
                           "stored_not_acked": len((stored & r["sent_keys"]) - r["acked_keys"]),
                           "retries": r["retries"]}
    finally:
        if stop_pg:
            stop_pg()
        shutil.rmtree(tmp, ignore_errors=True)
    ref = rows["bare handler"]["ack_per_s"]
    print(f"{'run':<24}{'acks':>9}{'ack/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'vs bare':>9}")
    for k, r in rows.items():
        print(f"{k:<24}{r['acked']:>9,}{r['ack_per_s']:>9.0f}{r['p50_ms']:>9.1f}"
              f"{r['p99_ms']:>9.1f}{r['errors']:>8}{r['ack_per_s'] / ref:>9.2f}"
              + ("" if r.get("stored_ok", True) else "  ACKED BUT NOT STORED"))
        for smp in r["samples"]:
            print(f"  error sample ({k}): {smp}")
    if fixed:
        print(f"fixed rate: {a.rate:,.0f} reports/s offered for {a.seconds:.0f} s over "
              f"{a.conns} connections; latency from when each report was due")
        print(f"{'run':<24}{'acks':>9}{'ack/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9':>9}"
              f"{'max ms':>9}{'errors':>8}")
        for k, r in fixed.items():
            print(f"{k:<24}{r['acked']:>9,}{r['ack_per_s']:>9.0f}{r['p50_ms']:>9.1f}"
                  f"{r['p99_ms']:>9.1f}{r['p999_ms']:>9.1f}{r['max_ms']:>9.1f}{r['errors']:>8}")
            for smp in r["samples"]:
                print(f"  error sample ({k}): {smp}")
    for name, k in kills.items():
        print(f"SIGKILL mid-load, {name}: acknowledged {k['acknowledged']:,}, stored "
              f"{k['stored']:,}, lost {k['lost']} (stored but not acknowledged before the kill, "
              f"then retried with the same key: {k['stored_not_acked']}; requests retried after "
              f"the kill: {k['retries']})")


if __name__ == "__main__":
    main()
