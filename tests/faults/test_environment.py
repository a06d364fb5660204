"""The store's folder fails (read-only, full) and force-extract mappings are broken: one line,
exit 2, nothing changed; the extract's rows are never half-loaded."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from conftest import CHICAGO_BE, REPO
from faults.conftest import DEC, count_rows, snapshot

MAPPING = (REPO / "mappings" / "chicago_be.toml").read_text()


@pytest.fixture
def small_fs(tmp_path):
    """Mount a small tmpfs; skip where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    mounts = []

    def mount(size: str, *, readonly: bool = False):
        point = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
        point.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)],
                              capture_output=True, text=True) if shutil.which("mount") else None
        if done is None or done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root); run as root to test this case")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _home_cli(monkeypatch, home):
    """Run the CLI with the store under ``home`` (SQLite: the case is about the folder)."""
    from faults.conftest import Result, _traceback_free
    from guardian.cli import main

    monkeypatch.setenv("GUARDIAN_HOME", str(home))
    monkeypatch.delenv("GUARDIAN_DATABASE_URL", raising=False)

    def run(capsys, *args):
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code
        cap = capsys.readouterr()
        r = Result(code, cap.out, cap.err)
        _traceback_free(r)
        return r

    return run


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_read_only_home(small_fs, monkeypatch, capsys, record, store_url):
    home = small_fs("1m", readonly=True)
    run = _home_cli(monkeypatch, home)
    r = run(capsys, "ingest", DEC)
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert r.code == 2 and len(lines) == 1 and "writable" in lines[0], r.err
    r2 = run(capsys, "status")
    assert r2.code == 2 and "writable" in r2.err
    record("read-only GUARDIAN_HOME", "guardian ingest DEC.csv.gz", r)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_full_disk(small_fs, monkeypatch, capsys, record, store_url):
    home = small_fs("700k")
    run = _home_cli(monkeypatch, home)
    r = run(capsys, "ingest", DEC)
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert r.code == 2 and len(lines) == 1 and "free space" in lines[0], r.err
    # Nothing half-loaded: the store opens, and holds no file or event.
    snap = snapshot(f"sqlite:///{home / 'guardian.db'}")
    assert snap["events"] == 0 and snap["source_files"] == 0
    record("full disk (700 KB tmpfs as GUARDIAN_HOME)", "guardian ingest DEC.csv.gz", r)


def _mapping(tmp_path, text: str):
    path = tmp_path / "map.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case,edit,needle", [
    ("unknown CRS", ('crs = "EPSG:26971"', 'crs = "EPSG:999999"'), "unknown CRS"),
    ("unknown category", ('constant = "Burglary"', 'constant = "Pickpocketing"'),
     "not a police.uk category"),
    ("no date column", ('date = "date"\n', ""), "date is required"),
])
def test_broken_mapping(cli, store_url, tmp_path, record, case, edit, needle):
    path = _mapping(tmp_path, MAPPING.replace(*edit))
    r = cli("ingest", "--json", CHICAGO_BE, "--mapping", path)
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert r.code == 2 and len(lines) == 1 and needle in lines[0] and "map.toml" in lines[0]
    assert snapshot(store_url)["source_files"] == 0
    record(f"extract mapping: {case}", "guardian ingest chicago_be.csv --mapping BROKEN.toml", r)


def test_mapping_names_missing_column(cli, store_url, tmp_path, record):
    path = _mapping(tmp_path, MAPPING.replace('x = "X"', 'x = "Easting"'))
    r = cli("ingest", "--json", CHICAGO_BE, "--mapping", path)
    assert r.code == 1
    (rep,) = r.reports
    assert rep["status"] == "error" and "Easting" in rep["message"]
    assert snapshot(store_url)["source_files"] == 0
    record("extract mapping: column not in the file", "guardian ingest chicago_be.csv --mapping "
           "BROKEN.toml", r)


def test_extract_with_bad_rows(cli, store_url, tmp_path, record):
    lines = CHICAGO_BE.read_text().splitlines()
    lines[5] = "not-a-number,578924.2,2016-01-03"
    lines[6] = "350353.3,578924.2,2016-02-30"  # no such day
    lines[7] = "9999999,9999999,2016-01-03"  # outside the declared bbox
    f = tmp_path / "chicago_be.csv"
    f.write_text("\n".join(lines) + "\n")
    r = cli("ingest", "--json", f, "--mapping", REPO / "mappings" / "chicago_be.toml")
    assert r.code == 0, r.err
    (rep,) = r.reports
    lost = count_rows(f.read_bytes()) - rep["loaded"] - rep["quarantined"] - rep["duplicates"]
    assert rep["quarantined"] >= 4  # the three edited and the original file's one
    record("extract rows: bad number, impossible date, outside bbox", "guardian ingest "
           "chicago_be.csv --mapping chicago_be.toml", r, rows_lost=lost)
