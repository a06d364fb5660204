"""`guardian serve --workers N`: every process listens on its own socket (SO_REUSEPORT), so
keep-alive connections spread over the processes; a port held by another program is refused
with a clear error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from guardian.web.serve import reuseport_socket

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="needs SO_REUSEPORT")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _guardian() -> str:
    return str(Path(sys.executable).parent / "guardian")


def _servers(pid: int) -> list[psutil.Process]:
    """The server processes (not multiprocessing's resource tracker)."""
    out = []
    for c in psutil.Process(pid).children():
        try:  # a killed one is a zombie until the supervisor reaps it
            if "resource_tracker" not in " ".join(c.cmdline()):
                out.append(c)
        except psutil.Error:
            continue
    return out


def test_connections_spread_over_every_process(tmp_path):
    port = _free_port()
    env = dict(os.environ, GUARDIAN_HOME=str(tmp_path))
    p = subprocess.Popen([_guardian(), "serve", "--port", str(port), "--workers", "2"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    socks = []
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        children = _servers(p.pid)
        assert len(children) == 2
        for _ in range(200):  # both listening (the second may still be importing)
            if all(any(c.status == psutil.CONN_LISTEN for c in ch.net_connections())
                   for ch in children):
                break
            time.sleep(0.1)
        for _ in range(32):  # 32 connections opened at once, as a load generator does
            s = socket.create_connection(("127.0.0.1", port))
            socks.append(s)
        time.sleep(0.5)
        held = [sum(1 for c in ch.net_connections() if c.status == psutil.CONN_ESTABLISHED
                    and c.laddr.port == port) for ch in children]
        # by the kernel's hash each process gets about half; all on one would be 2^-31
        assert sum(held) == 32 and min(held) >= 4, held
        # a process that dies is started again
        children[0].kill()
        for _ in range(200):
            now = _servers(p.pid)
            if len(now) == 2 and children[0].pid not in {c.pid for c in now}:
                break
            time.sleep(0.1)
        assert len(now) == 2 and children[0].pid not in {c.pid for c in now}
    finally:
        for s in socks:
            s.close()
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)
        # the server's own account, shown by pytest when the test fails
        sys.stderr.write(p.stderr.read().decode(errors="replace"))
    assert p.returncode == 0


def test_port_held_without_reuseport_is_a_clear_error(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(OSError):
            reuseport_socket("127.0.0.1", port)
        env = dict(os.environ, GUARDIAN_HOME=str(tmp_path))
        out = subprocess.run([_guardian(), "serve", "--port", str(port), "--workers", "2"],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode != 0
        assert f"cannot listen on 127.0.0.1:{port}" in out.stdout + out.stderr
    finally:
        holder.close()


def test_ready_makes_the_intake_and_warms_each_writer(tmp_path):
    """A server process readies its app before taking requests: the Street Safe intake, its
    force area and its writers exist, each writer thread has built its own projection (the
    slow first step of a thread's first batch) and read the store, and the start-up heap is
    frozen out of the collector's reach."""
    import gc
    import threading

    from guardian.config import Settings
    from guardian.operations.streetsafe import area as area_mod
    from guardian.operations.streetsafe.sample import seed_force
    from guardian.store.db import get_engine
    from guardian.web.app import create_app
    from guardian.web.serve import ready

    engine = get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    seed_force(engine, districts=("Basildon",))
    app = create_app(Settings(home=tmp_path, database_url=str(engine.url)), engine=engine)
    built: list[str] = []
    real = area_mod.Transformer.from_crs

    def spy(*a, **k):
        built.append(threading.current_thread().name)
        return real(*a, **k)

    area_mod.Transformer.from_crs = spy
    try:
        ready(app)
        assert gc.get_freeze_count() > 10_000
    finally:
        area_mod.Transformer.from_crs = real
        gc.unfreeze()
    b = app.state.streetsafe_batcher
    assert app.state.streetsafe.area().dataset == "Essex Police"
    assert {t.name for t in b.threads} <= set(built) and all(t.is_alive() for t in b.threads)
    engine.dispose()


def test_serve_runs_another_app_factory_and_stops_on_sigterm():
    """The benchmarks' bare handlers are served the same way: any ``module:function``."""
    port = _free_port()
    code = ("import sys; from guardian.web.serve import serve; "
            f"sys.exit(serve('127.0.0.1', {port}, 2, 'fastapi:FastAPI'))")
    p = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(200):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        assert r.status_code == 200 and r.json()["info"]["title"] == "FastAPI"
        assert len(_servers(p.pid)) == 2
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
