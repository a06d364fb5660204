"""Web platform under load, on loopback: the officer's task page and the record-visit POST with
50 concurrent clients (a bounded asyncio loop of httpx clients), beside a bare FastAPI handler
returning a constant, served the same way in the same run (the ratio).

Each server runs in its own processes (``--workers``, default one; both served by
``guardian.web.serve``, one SO_REUSEPORT socket per process) so the load generator does not
share its interpreter; the load generator is a small keep-alive HTTP/1.1
client on asyncio streams. Store: Essex 2021-12 (bundled), its cocoons and tasks, plus
street-briefing tasks for a second officer so every POST records a different open task.

Usage: python benchmarks/web.py [--seconds 30] [--clients 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2021-12-31T18:00:00+00:00"
PASSWORD = "benchmark password"


def bare_command(factory: str, port: int, workers: int) -> list[str]:
    """The command serving a bare app (``"module:function"`` in benchmarks/) the way
    ``guardian serve --workers N`` serves Guardian: one SO_REUSEPORT socket per process."""
    code = (f"import sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); "
            "from guardian.web.serve import serve; "
            f"sys.exit(serve('127.0.0.1', {port}, {workers}, {factory!r}))")
    return [sys.executable, "-c", code]


def bare_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/constant")
    def constant() -> dict:
        return {"ok": True}

    return app


def _prepare(url: str, n_tasks: int) -> None:
    from sqlalchemy import insert, select

    from guardian.operations.accounts import service as accounts
    from guardian.operations.cocoons.service import open_cocoons
    from guardian.operations.tasks.models import Task
    from guardian.operations.tasks.service import sync_tasks
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest
    from guardian.store.models import Dataset

    engine = get_engine(url)
    ingest(engine, [REPO / "data/police_uk_street_essex/2021-12-essex-street.csv.gz"])
    as_of = datetime.fromisoformat(AS_OF)
    open_cocoons(engine, dataset="Essex Police", as_of=as_of)
    sync_tasks(engine)
    accounts.add_user(engine, username="bench", password=PASSWORD, role="officer", team="t")
    # the POSTs' tasks belong to a second officer, so the page's officer has a realistic list
    accounts.add_user(engine, username="bench-post", password=PASSWORD, role="officer")
    now = as_of.astimezone(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        ds = conn.execute(select(Dataset.id)).scalar_one()
        rows = [dict(dataset_id=ds, kind="street-briefing", source_ref=f"B-{i}", district="",
                     place=f"street {i}", area="", sensitive=False, x=570000.0 + i % 500,
                     y=190000.0 + i // 500, lon=None, lat=None, why="benchmark",
                     window_start=now + timedelta(days=1), due_at=now + timedelta(days=2),
                     assignee="bench-post", team=None, status="open", detail={})
                for i in range(n_tasks)]
        for i in range(0, len(rows), 5000):
            conn.execute(insert(Task), rows[i:i + 5000])
        # 25 tasks visible on the task page now (the others open tomorrow)
        ids = conn.execute(select(Task.id).where(Task.kind == "cocoon-visit")
                           .order_by(Task.id).limit(25)).scalars().all()
        from sqlalchemy import update

        conn.execute(update(Task).where(Task.id.in_(ids)).values(assignee="bench"))
    engine.dispose()


def _serve(args: list[str], env: dict, port: int) -> subprocess.Popen:
    log = open(Path(env["GUARDIAN_HOME"]) / f"server-{port}.log", "wb")  # noqa: SIM115
    p = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=0.5)
            return p
        except httpx.HTTPError:
            time.sleep(0.1)
    p.kill()
    raise RuntimeError(f"server on {port} did not start; see {log.name}")


class HttpConn:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: httpx's own overhead (about a
    millisecond of CPU per request) would otherwise be what the benchmark measures. Also used by
    ``benchmarks/streetsafe.py``.

    Parameters
    ----------
    host, port : str, int
    headers : dict
        Sent with every request (cookie, CSRF token).
    """

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None):
        self.host, self.port = host, port
        self.fixed = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader = self.writer = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request; returns (status, body)."""
        if self.writer is None or self.writer.is_closing():
            raise ConnectionError("not connected")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.fixed}{extra}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            if k.lower() == "content-length":
                length = int(v)
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def _load(base: str, method: str, path_of, seconds: float, clients: int,
                cookies: dict | None = None, csrf: str = "", body_of=None) -> dict:
    import json

    host, port = base.split("//")[1].split(":")
    cookie = "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    lat: list[float] = []
    samples: list[str] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal errors
        conn = HttpConn(host, int(port), {"Cookie": cookie, "X-CSRF-Token": csrf})
        await conn.open()
        i = 0
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                body = json.dumps(body_of(w, i)).encode() if body_of else b""
                status, _ = await conn.request(method, path_of(w, i), body)
                ok = status == 200
                if not ok and len(samples) < 3:
                    samples.append(f"HTTP {status}")
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                ok = False
                if len(samples) < 3:
                    samples.append(repr(exc))
                await conn.open()
            lat.append(time.perf_counter() - t0)
            errors += 0 if ok else 1
            i += 1
        conn.writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    wall = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100)
    return {"requests": len(lat), "rps": len(lat) / wall, "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000, "errors": errors, "samples": samples}


def _sign_in(base: str, user: str = "bench") -> tuple[dict, str]:
    c = httpx.Client(base_url=base)
    token = c.get("/login").text.split('name="csrf" value="')[1].split('"')[0]
    r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf": token},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    csrf = c.get("/api/me").json()["csrf"]
    return dict(c.cookies), csrf


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes for both the bare app and Guardian")
    a = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="guardian-webbench-"))
    url = a.database_url or f"sqlite:///{home / 'store.db'}"
    n_tasks = int(a.seconds * 1500) + 1000
    t0 = time.perf_counter()
    _prepare(url, n_tasks)
    print(f"store: {url.split('@')[-1]} ({time.perf_counter() - t0:.0f} s to prepare, "
          f"{n_tasks:,} briefing tasks); {a.clients} clients, {a.seconds:.0f} s per scenario; "
          f"{a.workers} server worker(s); {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}")
    env = dict(os.environ, GUARDIAN_HOME=str(home), GUARDIAN_DATABASE_URL=url)
    py = sys.executable
    bare = _serve(bare_command("web:bare_app", 18601, a.workers), env, 18601)
    guardian = str(Path(py).parent / "guardian")
    app = _serve([guardian, "serve", "--as-of", AS_OF, "--port", "18602", "--insecure-cookies",
                  "--workers", str(a.workers)],
                 env, 18602)
    try:
        base = "http://127.0.0.1:18602"
        cookies, csrf = _sign_in(base)
        res = {"bare constant": asyncio.run(_load("http://127.0.0.1:18601", "GET",
                                                  lambda w, i: "/constant", a.seconds,
                                                  a.clients))}
        res["task page GET /my"] = asyncio.run(_load(base, "GET", lambda w, i: "/my", a.seconds,
                                                     a.clients, cookies))
        from sqlalchemy import create_engine, select

        from guardian.operations.tasks.models import Task

        eng = create_engine(url)
        with eng.connect() as c:
            ids = c.execute(select(Task.id).where(Task.kind == "street-briefing")
                            .order_by(Task.id)).scalars().all()
        eng.dispose()
        per = len(ids) // a.clients

        def path_of(w: int, i: int) -> str:
            return f"/api/tasks/{ids[w * per + i % per]}/outcome"

        cookies2, csrf2 = _sign_in(base, "bench-post")
        res["record visit POST"] = asyncio.run(_load(
            base, "POST", path_of, a.seconds, a.clients, cookies2, csrf2,
            body_of=lambda w, i: {"outcome": "briefed", "key": uuid.uuid4().hex}))
    finally:
        for p in (bare, app):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    ref = res["bare constant"]["rps"]
    print(f"{'scenario':<22}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
          f"{'vs bare':>9}")
    for k, r in res.items():
        print(f"{k:<22}{r['requests']:>10,}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
              f"{r['errors']:>8}{r['rps'] / ref:>9.2f}")
        for smp in r["samples"]:
            print(f"  error sample ({k}): {smp}")


if __name__ == "__main__":
    main()
