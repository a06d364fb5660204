"""A load stopped mid-way (Ctrl-C, kill -9), then run again: the store is as before the stopped
load, the Ctrl-C says so in one line, and the rerun loads every row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ESSEX, REPO
from faults.conftest import count_rows, snapshot

FILES = [ESSEX / f"2021-{m:02d}-essex-street.csv.gz" for m in (3, 4, 5, 6)]

# The CLI entry point, with a line on stdout once the first file is written inside the open
# transaction, so the signal lands mid-load and not before it starts.
RUNNER = """
import sys
import guardian.store.ingest as gi
load = gi._Loader.load
def announced(self, *a, **k):
    r = load(self, *a, **k)
    print("stored", r.name, flush=True)
    return r
gi._Loader.load = announced
from guardian.cli import main
main(sys.argv[1:])
"""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGKILL"])
def test_signal_mid_load_then_rerun(cli, store_url, tmp_path, record, sig):
    first = cli("ingest", "--json", ESSEX / "2021-12-essex-street.csv.gz")
    assert first.code == 0
    before = snapshot(store_url)
    env = dict(os.environ, GUARDIAN_DATABASE_URL=store_url, GUARDIAN_TEST_SLOW_INGEST_MS="400",
               PYTHONUNBUFFERED="1")
    # A session of its own: Ctrl-C at a terminal signals the whole process group (the parsing
    # workers too), and so does this test.
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, "ingest", *map(str, FILES)], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("stored"), (line, proc.stderr.read() if proc.poll() else "")
        time.sleep(0.1)
        os.killpg(proc.pid, getattr(signal, sig))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    if sig == "SIGINT":
        assert proc.returncode == 130, (proc.returncode, err)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and "interrupted" in lines[0] and "store is unchanged" in lines[0]
        message = lines[0]
    else:
        assert proc.returncode == -signal.SIGKILL
        message = "(killed: no output)"
    assert snapshot(store_url) == before
    again = cli("ingest", "--json", *FILES)
    assert again.code == 0 and {x["status"] for x in again.reports} == {"loaded"}
    read = sum(count_rows(f.read_bytes()) for f in FILES)
    lost = read - sum(x["loaded"] + x["quarantined"] + x["duplicates"] for x in again.reports)
    assert snapshot(store_url)["files_in_force"] == 5
    record(f"{sig} mid-load (after the first of 4 files), then a rerun",
           "guardian ingest 4 FILES; kill; guardian ingest 4 FILES",
           code=proc.returncode if sig == "SIGINT" else 128 + signal.SIGKILL,
           message=message, rows_lost=lost)


def test_two_concurrent_loads_of_one_file(store_url, tmp_path, record):
    """Two processes load the same file at once: one loads it, the other finds it loaded (or
    waits for the lock); never twice, never a partial file."""
    from guardian.store.db import get_engine

    get_engine(store_url).dispose()  # migrate first, so the two do not race to create tables
    env = dict(os.environ, GUARDIAN_DATABASE_URL=store_url)
    f = ESSEX / "2021-12-essex-street.csv.gz"
    cmd = [sys.executable, "-c", "from guardian.cli import main; main()", "ingest", "--json", str(f)]
    procs = [subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    for _out, err in results:
        assert "Traceback" not in err, err
    snap = snapshot(store_url)
    assert snap["files_in_force"] == 1 and snap["source_files"] == 1
    read = count_rows(f.read_bytes())
    assert snap["events"] + snap["quarantine"] + snap["duplicates"] == read
    ok = [c for c in codes if c == 0]
    assert ok, (codes, results)
    errs = [e.strip().splitlines()[0] for (_o, e), c in zip(results, codes, strict=True) if c != 0]
    record("two concurrent loads of one file", "guardian ingest F & guardian ingest F",
           code=max(codes), message=errs[0] if errs else "one loads, the other: unchanged",
           rows_lost=0)
