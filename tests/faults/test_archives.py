"""Damaged downloads and files that are not CSV: one line naming the file, the fault and the
fix; exit 2; the store as it was (a good file in the same command is not loaded either)."""

from __future__ import annotations

import gzip
import io
import os
import zipfile

import pytest

from faults.conftest import DEC, NOV, real_lines, snapshot


@pytest.fixture
def loaded(cli, store_url, tmp_path):
    """A store holding (3,000 rows of) November, so "unchanged" is tested on a non-empty store."""
    nov = tmp_path / "2021-11-essex-street.csv"
    nov.write_text("\n".join(real_lines(NOV, 3000)) + "\n")
    r = cli("ingest", "--json", nov)
    assert r.code == 0, r.err
    return snapshot(store_url)


def _refused(cli, store_url, before, bad, needle):
    r = cli("ingest", "--json", bad, DEC)
    assert r.code == 2, (r.code, r.out, r.err)
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1, r.err
    assert bad.name in lines[0] and needle in lines[0], lines[0]
    assert "rerun" in lines[0] or "rename" in lines[0] or "check" in lines[0], lines[0]
    assert snapshot(store_url) == before
    return r


def test_truncated_gzip(cli, store_url, loaded, tmp_path, record):
    data = DEC.read_bytes()
    bad = tmp_path / "2021-10-essex-street.csv.gz"
    bad.write_bytes(data[: len(data) // 2])  # an interrupted download
    r = _refused(cli, store_url, loaded, bad, "cut short")
    assert "nothing was loaded" in r.err
    record("truncated .csv.gz (download cut at half)", "guardian ingest CUT.csv.gz GOOD.csv.gz", r)


def test_corrupt_gzip(cli, store_url, loaded, tmp_path, record):
    data = bytearray(DEC.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)  # a block of zeros inside the deflate stream
    bad = tmp_path / "2021-10-essex-street.csv.gz"
    bad.write_bytes(bytes(data))
    r = _refused(cli, store_url, loaded, bad, "corrupt")
    record("corrupt .csv.gz (64 bytes zeroed)", "guardian ingest BAD.csv.gz GOOD.csv.gz", r)


def _zip_of(path, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("2021-10/2021-10-essex-street.csv", text)
    return buf.getvalue()


def test_truncated_zip(cli, store_url, loaded, tmp_path, record):
    data = _zip_of(DEC, "\n".join(real_lines(DEC)) + "\n")
    bad = tmp_path / "2021-10.zip"
    bad.write_bytes(data[: len(data) // 2])  # the central directory is lost
    r = _refused(cli, store_url, loaded, bad, "not a readable zip archive")
    record("truncated police.uk .zip", "guardian ingest CUT.zip GOOD.csv.gz", r)


def test_corrupt_zip_member(cli, store_url, loaded, tmp_path, record):
    data = bytearray(_zip_of(DEC, "\n".join(real_lines(DEC)) + "\n"))
    # Damage the compressed member (after its 30-byte local header and name), keep the
    # central directory: the archive opens, its member does not.
    start = 30 + len("2021-10/2021-10-essex-street.csv") + 200
    data[start : start + 32] = bytes(32)
    bad = tmp_path / "2021-10.zip"
    bad.write_bytes(bytes(data))
    r = _refused(cli, store_url, loaded, bad, "corrupt")
    record("corrupt member inside a .zip", "guardian ingest BAD.zip GOOD.csv.gz", r)


def test_zip_renamed_csv(cli, store_url, loaded, tmp_path, record):
    bad = tmp_path / "2021-10-essex-street.csv"
    bad.write_bytes(_zip_of(DEC, "\n".join(real_lines(DEC, 50)) + "\n"))
    r = _refused(cli, store_url, loaded, bad, "is a zip archive")
    record("a .zip saved under a .csv name", "guardian ingest ZIP.csv GOOD.csv.gz", r)


def test_binary_file_named_csv(cli, store_url, loaded, tmp_path, record):
    bad = tmp_path / "2021-10-essex-street.csv"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2000)
    bad.write_bytes(png)
    r = _refused(cli, store_url, loaded, bad, "not a CSV text file")
    record("binary file (PNG) under a .csv name", "guardian ingest PNG.csv GOOD.csv.gz", r)


def test_gzip_of_binary(cli, store_url, loaded, tmp_path, record):
    bad = tmp_path / "2021-10-essex-street.csv.gz"
    bad.write_bytes(gzip.compress(b"\x00\x01\x02" * 1000))
    r = _refused(cli, store_url, loaded, bad, "not a CSV text file")
    record("gzip holding binary data", "guardian ingest BIN.csv.gz GOOD.csv.gz", r)


def test_unreadable_file(cli, store_url, loaded, tmp_path, record, monkeypatch):
    """Permission denied. As root chmod cannot deny a read, so the refusal the operating
    system would give is raised for that one path."""
    from pathlib import Path

    bad = tmp_path / "2021-10-essex-street.csv.gz"
    bad.write_bytes(DEC.read_bytes())
    bad.chmod(0)
    if os.geteuid() == 0:
        real = Path.read_bytes

        def denied(self):
            if self == bad:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self)

        monkeypatch.setattr(Path, "read_bytes", denied)
    r = _refused(cli, store_url, loaded, bad, "permission denied")
    record("unreadable file (permission denied)", "guardian ingest NOREAD.csv.gz GOOD.csv.gz", r)


def test_symlink_loop(cli, store_url, loaded, tmp_path, record):
    a, b = tmp_path / "2021-10-essex-street.csv", tmp_path / "loop.csv"
    a.symlink_to(b)
    b.symlink_to(a)
    r = _refused(cli, store_url, loaded, a, "symbolic link")
    # The same link met inside a folder is named too, not skipped without a word.
    folder = tmp_path / "tree"
    folder.mkdir()
    (folder / "2021-12-essex-street.csv.gz").write_bytes(DEC.read_bytes())
    (folder / "2021-10-essex-street.csv").symlink_to(a)
    r2 = cli("ingest", "--json", folder)
    assert r2.code == 2 and "symbolic link" in r2.err and "2021-10-essex-street.csv" in r2.err
    assert snapshot(store_url) == loaded
    record("symlink loop (as an argument and inside a folder)", "guardian ingest LOOP.csv", r)
