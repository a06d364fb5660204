"""Real police.uk rows, minimally edited: every row read is loaded, quarantined with a reason
or counted as a duplicate (rows lost = independent count - loaded - quarantined - duplicates),
and a file that cannot be read as police.uk is refused by name, nothing of it stored."""

from __future__ import annotations

import gzip

import pytest

from faults.conftest import DEC, NOV, count_rows, real_lines, snapshot


def _write(tmp_path, name: str, lines: list[str], *, eol: str = "\n", encoding="utf-8",
           bom: bool = False, gz: bool = False):
    data = (("\ufeff" if bom else "") + eol.join(lines) + eol).encode(encoding)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _accounted(cli, store_url, *paths, expect_status=None):
    """Ingest ``paths``; check every row is accounted for, in the reports and in the store."""
    r = cli("ingest", "--json", *paths)
    assert r.code == 0, (r.out, r.err)
    reps = r.reports
    if expect_status:
        assert [x["status"] for x in reps] == expect_status
    read = sum(count_rows(p.read_bytes()) for p in paths)
    assert sum(x["rows_read"] for x in reps) == read
    got = sum(x["loaded"] + x["quarantined"] + x["duplicates"] for x in reps)
    snap = snapshot(store_url)
    fresh = [x for x in reps if x["status"] != "unchanged"]
    assert snap["quarantine"] == sum(x["quarantined"] for x in fresh)
    assert snap["duplicates"] == sum(x["duplicates"] for x in fresh)
    return r, read - got


def _refused_file(cli, store_url, path, needle):
    """A file Guardian cannot read as police.uk: reported as an error, named, nothing stored."""
    r = cli("ingest", "--json", path)
    assert r.code == 1, (r.out, r.err)
    (rep,) = r.reports
    assert rep["status"] == "error" and needle in rep["message"] and path.name in rep["message"]
    assert snapshot(store_url)["source_files"] == 0 and snapshot(store_url)["events"] == 0
    return r


def test_empty_file(cli, store_url, tmp_path, record):
    path = tmp_path / "2021-12-essex-street.csv"
    path.write_bytes(b"")
    r = _refused_file(cli, store_url, path, "file is empty")
    record("empty file (0 bytes)", "guardian ingest EMPTY.csv", r)


def test_header_only(cli, store_url, tmp_path, record):
    path = _write(tmp_path, "2021-12-essex-street.csv", real_lines(DEC, 0))
    r = _refused_file(cli, store_url, path, "no data rows")
    record("header line only", "guardian ingest HEADER.csv", r)


def test_bom(cli, store_url, tmp_path, record):
    path = _write(tmp_path, "2021-12-essex-street.csv", real_lines(DEC), bom=True)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    assert r.reports[0]["loaded"] + r.reports[0]["quarantined"] == 2000
    record("UTF-8 byte-order mark", "guardian ingest BOM.csv", r, rows_lost=lost)


def test_crlf(cli, store_url, tmp_path, record):
    path = _write(tmp_path, "2021-12-essex-street.csv", real_lines(DEC), eol="\r\n")
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    # CRLF must not leak into the last column's values.
    assert r.reports[0]["quarantined"] == 0
    record("CRLF line endings", "guardian ingest CRLF.csv", r, rows_lost=lost)


def test_latin1(cli, store_url, tmp_path, record):
    lines = real_lines(DEC, 200)
    lines[5] = lines[5].replace("On or near ", "On or near Caf\u00e9 ")
    path = _write(tmp_path, "2021-12-essex-street.csv", lines, encoding="latin-1")
    r = _refused_file(cli, store_url, path, "not UTF-8")
    assert "re-save it as UTF-8" in r.reports[0]["message"]
    record("Latin-1 byte in a Location", "guardian ingest LATIN1.csv", r)


def test_quoted_newline(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    f = lines[10].split(",")
    f[6] = '"On or near\nHigh Street"'
    lines[10] = ",".join(f)
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    record("newline inside a quoted Location", "guardian ingest QUOTED.csv", r, rows_lost=lost)


def test_stray_carriage_return_and_line_separators(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    lines[4] = lines[4].replace("On or near ", "On or near\rX ", 1)  # a lone CR, unquoted
    lines[9] = lines[9].replace("On or near ", "On or near\u2028\x85", 1)
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r = cli("ingest", "--json", path)
    assert r.code == 0, r.err
    (rep,) = r.reports
    # 2,000 records whichever way a reader takes the CR: the row holding it is quarantined,
    # the one with Unicode separators loads (they are not line breaks in a CSV).
    assert rep["rows_read"] == 2000 == rep["loaded"] + rep["quarantined"] + rep["duplicates"]
    assert rep["quarantined"] >= 1
    record("a lone CR and U+2028/U+0085 inside fields", "guardian ingest CR.csv", r,
           rows_lost=2000 - rep["loaded"] - rep["quarantined"] - rep["duplicates"])


def test_extra_and_missing_fields(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    lines[3] += ",surplus"
    lines[7] = ",".join(lines[7].split(",")[:-2])
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    from sqlalchemy import select

    from guardian.store.db import get_engine
    from guardian.store.models import QuarantineRow

    with get_engine(store_url).connect() as conn:
        reasons = dict(conn.execute(select(QuarantineRow.line, QuarantineRow.reason)).all())
    assert reasons[4] == "expected 12 fields, got 13" and reasons[8] == "expected 12 fields, got 10"
    record("a row with an extra field, a row with two missing", "guardian ingest RAGGED.csv", r,
           rows_lost=lost)


def test_missing_column_in_header(cli, store_url, tmp_path, record):
    lines = [",".join(ln.split(",")[:-1]) for ln in real_lines(DEC, 100)]  # no Context
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r = _refused_file(cli, store_url, path, "not a police.uk street or outcomes header")
    record("a column missing (header and rows)", "guardian ingest NOCONTEXT.csv", r)


def test_reordered_columns(cli, store_url, tmp_path, record):
    def swap(ln):
        f = ln.split(",")
        f[4], f[5] = f[5], f[4]
        return ",".join(f)

    path = _write(tmp_path, "2021-12-essex-street.csv", [swap(ln) for ln in real_lines(DEC, 100)])
    r = _refused_file(cli, store_url, path, "not a police.uk street or outcomes header")
    record("columns reordered (Latitude before Longitude)", "guardian ingest SWAPPED.csv", r)


def test_huge_field(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    f = lines[2].split(",")
    f[6] = '"On or near\n' + "x" * 300_000 + '"'  # over csv's 128 KiB field limit
    lines[2] = ",".join(f)
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    record("300 KB quoted field with a newline", "guardian ingest HUGE.csv", r, rows_lost=lost)


def test_coordinates_out_of_range_and_swapped(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    edits = {}
    for i, (lon, lat) in zip((2, 3, 4, 5), (("200.0", "51.7"), ("0.5", "95.0"), ("nan", "51.7"),
                                            ("east", "51.7")), strict=True):
        f = lines[i].split(",")
        if not f[4]:
            continue
        f[4], f[5] = lon, lat
        lines[i] = ",".join(f)
        edits[i + 1] = lon
    f = lines[6].split(",")
    if f[4]:
        f[4], f[5] = f[5], f[4]  # latitude and longitude swapped: a point in the sea off Africa
        lines[6] = ",".join(f)
        edits[7] = "swapped"
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    assert r.reports[0]["quarantined"] >= len(edits) >= 4
    record("coordinates out of range, NaN, text, swapped", "guardian ingest COORDS.csv", r,
           rows_lost=lost)


def test_bad_months(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    for i, m in zip((2, 3, 4), ("2021-13", "Dec 2021", "2021-11"), strict=True):
        f = lines[i].split(",")
        f[1] = m
        lines[i] = ",".join(f)
    path = _write(tmp_path, "2021-12-essex-street.csv", lines)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    assert r.reports[0]["quarantined"] >= 3
    record("bad months (2021-13, 'Dec 2021', another month)", "guardian ingest MONTHS.csv", r,
           rows_lost=lost)


def test_duplicate_ids_within_file(cli, store_url, tmp_path, record):
    lines = real_lines(DEC)
    crimes = [ln for ln in lines[1:] if ln.split(",")[0]][:5]
    path = _write(tmp_path, "2021-12-essex-street.csv", lines + crimes)
    r, lost = _accounted(cli, store_url, path, expect_status=["loaded"])
    assert r.reports[0]["duplicates"] == 5
    record("5 Crime IDs repeated within a file", "guardian ingest DUPS.csv", r, rows_lost=lost)


def test_duplicate_ids_across_files(cli, store_url, tmp_path, record):
    nov = real_lines(NOV)
    dec = real_lines(DEC)
    # Five of November's crimes republished in December's file, month edited to December.
    moved = []
    for ln in [x for x in nov[1:] if x.split(",")[0]][:5]:
        f = ln.split(",")
        f[1] = "2021-12"
        moved.append(",".join(f))
    a = _write(tmp_path, "2021-11-essex-street.csv", nov)
    b = _write(tmp_path, "2021-12-essex-street.csv", dec + moved)
    r, lost = _accounted(cli, store_url, a, b, expect_status=["loaded", "loaded"])
    assert r.reports[1]["duplicates"] == 5
    record("Crime IDs repeated across two months' files", "guardian ingest NOV.csv DEC.csv", r,
           rows_lost=lost)


def test_same_file_two_names(cli, store_url, tmp_path, record):
    a = tmp_path / "2021-12-essex-street.csv.gz"
    b = tmp_path / "copy-of-december.csv.gz"
    a.write_bytes(DEC.read_bytes())
    b.write_bytes(DEC.read_bytes())
    r = cli("ingest", "--json", a, b)
    assert r.code == 0, r.err
    assert [x["status"] for x in r.reports] == ["loaded", "unchanged"]
    assert snapshot(store_url)["events"] == r.reports[0]["loaded"]
    assert "already loaded from" in r.reports[1]["message"]
    lost = count_rows(a.read_bytes()) - sum(r.reports[0][k] for k in ("loaded", "quarantined",
                                                                       "duplicates"))
    record("the same file under two names", "guardian ingest DEC.csv.gz COPY.csv.gz", r,
           rows_lost=lost)


def test_republished_month_fewer_rows(cli, store_url, tmp_path, record):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    v1 = _write(tmp_path / "v1", "2021-12-essex-street.csv", real_lines(DEC, 4000), gz=True)
    first = cli("ingest", "--json", v1)
    assert first.code == 0
    path = _write(tmp_path / "v2", "2021-12-essex-street.csv", real_lines(DEC, 3500), gz=True)
    r, lost = _accounted(cli, store_url, path, expect_status=["replaced"])
    snap = snapshot(store_url)
    rep = r.reports[0]
    assert snap["events"] == rep["loaded"] and snap["files_in_force"] == 1
    assert rep["rows_read"] == 3500
    record("a month republished with 500 fewer rows (4,000 then 3,500)", "guardian ingest "
           "v1/DEC.csv.gz; guardian ingest v2/DEC.csv.gz", r, rows_lost=lost)


def test_not_police_uk_header_rest_loads(cli, store_url, tmp_path, record):
    html = tmp_path / "2021-11-essex-street.csv"
    html.write_text("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n")
    r = cli("ingest", "--json", html, DEC)
    assert r.code == 1
    assert [x["status"] for x in r.reports] == ["error", "loaded"]
    lost = count_rows(DEC.read_bytes()) - sum(r.reports[1][k] for k in ("loaded", "quarantined",
                                                                         "duplicates"))
    assert snapshot(store_url)["files_in_force"] == 1
    record("an HTML error page saved as .csv, beside a good file", "guardian ingest PAGE.csv "
           "GOOD.csv.gz", r, rows_lost=lost, message=f"error: {r.reports[0]['message'][:90]}...; "
           f"the good file loads")


@pytest.mark.parametrize("n", [1000])
def test_many_tiny_files(cli, store_url, tmp_path, record, n):
    """A folder of thousands of one-row files (each a different republished month would be
    unrealistic; these are one month's rows split up, so all but the first replace it)."""
    lines = real_lines(DEC, 3)
    folder = tmp_path / "tiny"
    folder.mkdir()
    for i in range(n):
        (folder / f"part-{i:05d}.csv").write_text(lines[0] + "\n" + lines[1 + i % 3] + "\n")
    r = cli("ingest", "--json", folder)
    assert r.code == 0, r.err
    assert len(r.reports) == n
    assert all(x["rows_read"] == x["loaded"] + x["quarantined"] + x["duplicates"] for x in r.reports)
    record(f"a folder of {n:,} one-row files", "guardian ingest FOLDER/", r, rows_lost=0)
