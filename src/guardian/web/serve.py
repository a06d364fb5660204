"""Several server processes on one port, each with a listening socket of its own.

``uvicorn --workers N`` shares one listening socket between its processes, and the kernel hands
a burst of new connections to whichever process is waiting in ``accept`` at that moment: with
keep-alive clients, measured, all 64 connections of a load run went to one of two processes
and the other sat idle (half the machine unused, and latency doubled). With ``SO_REUSEPORT``
every process binds its own socket to the port and the kernel spreads connections over them
by a hash of the client's address and port, so each process gets its share.

The supervisor here starts the processes (spawned: each builds its app from the environment,
:func:`guardian.web.app.app_from_environment`), restarts one that dies, and stops them all on
SIGTERM or SIGINT.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
import time

BACKLOG = 2048
STARTUP_FAILURE = 3  # uvicorn's exit code when a process cannot start


def reuseport_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT`` (and listening, unless
    ``listen`` is False). Raises OSError when the port is held without SO_REUSEPORT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, factory: str | None = None) -> None:
    import uvicorn

    try:
        sock = reuseport_socket(host, port)
    except OSError as exc:
        print(f"guardian serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
    if factory is None:
        from guardian.web.app import app_from_environment

        app = app_from_environment()
        ready(app)
    else:  # another app on the same serving (the benchmarks' bare handlers)
        import importlib

        module, name = factory.split(":")
        app = getattr(importlib.import_module(module), name)()
        _freeze_heap()
    config = uvicorn.Config(app, log_level="warning", backlog=BACKLOG)
    uvicorn.Server(config).run(sockets=[sock])


def ready(app) -> None:
    """Ready a server process's app before it takes requests: the Street Safe intake and its
    writers made and connected (the first reports would otherwise wait for them, about 80 ms),
    then everything alive moved out of the garbage collector's reach (:func:`gc.freeze`: a
    full collection would otherwise walk the ~200,000 objects of the modules and the app,
    about 100 ms on this machine, with every request in flight waiting)."""
    from guardian.web.streetsafe import start_intake

    try:
        start_intake(app)
    except Exception as exc:  # noqa: BLE001 - the page then reports it on first use
        print(f"guardian serve: Street Safe not ready at start: {exc}", file=sys.stderr)
    _freeze_heap()


def _freeze_heap() -> None:
    import gc

    gc.collect()
    gc.freeze()


def serve(host: str, port: int, workers: int, factory: str | None = None) -> int:
    """Run ``workers`` server processes on ``host:port`` until SIGTERM or SIGINT.

    A process that dies is started again (one that fails within its first 5 seconds twice in a
    row stops the whole server: it would only fail again). Returns the exit status.
    ``factory`` (``"module:function"``, importable in the processes) serves another app the
    same way; default Guardian's, from the environment.

    Raises
    ------
    OSError
        When the port is in use by a program that did not set SO_REUSEPORT.
    """
    # Held (bound, not listening) for the server's life: a port taken by another program is
    # reported here, at once, and no process without SO_REUSEPORT can take it meanwhile.
    probe = reuseport_socket(host, port, listen=False)
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}

    def start():
        p = ctx.Process(target=_worker, args=(host, port, factory), name="guardian-web",
                        daemon=False)
        p.start()
        return p, time.monotonic()

    procs = [start() for _ in range(workers)]
    early_deaths = 0
    status = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, (p, born) in enumerate(procs):
                if p.is_alive() or stopping:
                    continue
                early = time.monotonic() - born < 5.0
                early_deaths = early_deaths + 1 if early else 0
                if p.exitcode == STARTUP_FAILURE or early_deaths >= 2:
                    print(f"guardian serve: a server process exited ({p.exitcode}) at start; "
                          "stopping", file=sys.stderr)
                    stopping, status = True, 1
                    break
                procs[i] = start()
    finally:
        for p, _ in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes the requests in hand
        deadline = time.monotonic() + 15
        for p, _ in procs:
            p.join(max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        probe.close()
        for s, h in old.items():
            signal.signal(s, h)
    return status
