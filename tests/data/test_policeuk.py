"""police.uk loader: every validation rule triggered by a real row or a minimally edited copy."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io

import numpy as np
import pytest

from conftest import ESSEX
from guardian.data.policeuk import asb_key, parse_police_uk, read_street
from guardian.data.sources import Source, iter_sources
from guardian.errors import InputError

DEC = ESSEX / "2021-12-essex-street.csv.gz"


def _lines(path=DEC) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8-sig").splitlines()


def _parse(lines: list[str], name="edited.csv"):
    return parse_police_uk(Source(name=name, path=DEC), "\n".join(lines).encode())


def _first(lines, pred):
    for i, line in enumerate(lines[1:], start=1):
        if pred(next(csv.reader([line]))):
            return i
    raise AssertionError("no such row")


def _edit(lines, i, col, value):
    fields = next(csv.reader([lines[i]]))
    fields[col] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    out = list(lines)
    out[i] = buf.getvalue()
    return out


def test_real_month_counts_match_csv_module():
    with gzip.open(DEC, "rt", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    parsed = parse_police_uk(Source(name=str(DEC), path=DEC))
    assert parsed.kind == "street" and parsed.dataset == "Essex Police" and parsed.month == "2021-12"
    assert parsed.rows_read == len(rows) == 14815
    assert len(parsed.events) + len(parsed.quarantined) + len(parsed.duplicates) == len(rows)
    asb = sum(r["Crime type"] == "Anti-social behaviour" for r in rows)
    assert (parsed.events["category"] == "Anti-social behaviour").sum() == asb
    no_loc = sum(r["Location"] == "No Location" for r in rows)
    assert parsed.events["x"].isna().sum() == no_loc
    # British National Grid metres, inside Essex
    ev = parsed.events.dropna(subset=["x"])
    assert ev["x"].between(510_000, 650_000).all() and ev["y"].between(150_000, 270_000).all()
    assert ev["x"].between(540_000, 630_000).mean() > 0.97


def test_outside_force_area_rows_are_quarantined_with_reason():
    parsed = parse_police_uk(Source(name="x", path=ESSEX / "2018-10-essex-street.csv.gz"))
    assert len(parsed.quarantined) == 3
    q = parsed.quarantined[0]
    assert "outside the area of Essex Police" in q.reason and "Herefordshire" in q.raw


@pytest.mark.parametrize(
    ("col", "value", "reason"),
    [
        (1, "2021-13", "is not YYYY-MM"),
        (1, "2021-11", "in a file of 2021-12"),
        (3, "Kent Police", "in a file of 'Essex Police'"),
        (9, "Pickpocketing", "unknown crime type"),
        (0, "", "missing Crime ID"),
        (0, "xyz123", "malformed Crime ID"),
        (0, "g" * 64, "malformed Crime ID"),  # the right length, not hex
        (4, "east", "longitude 'east' is not a number"),
        (5, "", "only one of longitude/latitude"),
        (5, "0.0", "outside Great Britain"),
        (7, "X0123", "malformed LSOA code"),
    ],
)
def test_each_rule_quarantines_an_edited_real_row(col, value, reason):
    lines = _lines()
    i = _first(lines, lambda f: f[9] == "Burglary" and f[4] != "")
    parsed = _parse(_edit(lines, i, col, value))
    assert parsed.rows_read == 14815
    assert len(parsed.events) == 14815 - 1
    (q,) = parsed.quarantined
    assert q.line == i + 1 and reason in q.reason, q.reason
    assert q.raw.startswith(next(csv.reader([lines[i]]))[0][:10]) or col == 0


def test_missing_coordinates_need_no_location_text():
    lines = _lines()
    i = _first(lines, lambda f: f[4] != "")
    edited = _edit(_edit(lines, i, 4, ""), i, 5, "")
    (q,) = _parse(edited).quarantined
    assert "expected 'No Location'" in q.reason
    # ... and with the outcomes-file spelling "No location" the row is a located-nowhere crime
    ok = _parse(_edit(edited, i, 6, "No location"))
    no_loc = sum("No Location" in ln for ln in lines)
    assert not ok.quarantined and ok.events["x"].isna().sum() == 1 + no_loc


def test_ragged_row_and_quoted_newline_keep_line_numbers():
    lines = _lines()
    lines.insert(5, "only,three,fields")
    fields = next(csv.reader([lines[10]]))
    fields[6] = "On or near\nTwo Lines"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(fields)  # quotes the embedded newline
    lines[10:11] = buf.getvalue().rstrip("\r\n").split("\n")
    parsed = _parse(lines)
    assert parsed.rows_read == 14816
    (q,) = parsed.quarantined
    assert q.line == 6 and "expected 12 fields, got 3" in q.reason
    row = parsed.events[parsed.events["location"] == "On or near\nTwo Lines"]
    assert row["line"].tolist() == [11]
    assert len(parsed.events) == 14815


def test_line_breaking_characters_inside_a_field_keep_line_numbers_and_raw_text():
    """A vertical tab or form feed inside a location is text, not a line break: the row keeps
    its field and the quarantined row after it keeps its own line number and raw text."""
    lines = _lines()
    lines = _edit(lines, 3, 6, "On or near\x0bOdd\x0cStreet")
    lines = _edit(lines, 8, 7, "X0123")
    text = "\r\n".join(lines) + "\r\n"  # Windows line endings too
    parsed = parse_police_uk(Source(name="odd.csv", path=DEC), text.encode())
    (q,) = parsed.quarantined
    assert q.line == 9 and q.raw == lines[8] and "malformed LSOA code" in q.reason
    odd = parsed.events[parsed.events["line"] == 4]
    assert odd["location"].tolist() == ["On or near\x0bOdd\x0cStreet"]
    assert parsed.rows_read == 14815


def test_a_long_and_a_short_line_with_the_right_comma_total_are_both_quarantined():
    """One line with a field too many and one with a field too few keep the file's comma
    total: the fast reader must not take the file (it would shift or drop fields)."""
    lines = _lines()
    lines[4] = lines[4] + ",extra"
    lines[9] = lines[9].rsplit(",", 1)[0]
    parsed = _parse(lines)
    assert [(q.line, q.reason) for q in parsed.quarantined] == [
        (5, "expected 12 fields, got 13"), (10, "expected 12 fields, got 11")]
    assert parsed.rows_read == 14815 and len(parsed.events) == 14813


def test_upper_case_crime_ids_are_loaded_lower_case():
    lines = _lines()
    i = _first(lines, lambda f: f[9] == "Burglary" and f[4] != "")
    cid = next(csv.reader([lines[i]]))[0]
    parsed = _parse(_edit(lines, i, 0, cid.upper()))
    assert not parsed.quarantined and cid.upper() != cid
    assert (parsed.events["event_id"] == cid).sum() == 1


def test_duplicate_crime_id_in_a_file_is_counted_once():
    lines = _lines()
    i = _first(lines, lambda f: f[0] != "")
    parsed = _parse([*lines, lines[i]])
    assert parsed.rows_read == 14816 and len(parsed.events) == 14815
    (d,) = parsed.duplicates
    assert d.line == len(lines) + 1


def test_asb_keys_are_stable_and_distinct_for_identical_rows():
    lines = _lines()
    i = _first(lines, lambda f: f[9] == "Anti-social behaviour")
    a = _parse([*lines, lines[i]])
    b = _parse([*lines, lines[i]])
    asb = a.events[a.events["category"] == "Anti-social behaviour"]["event_id"]
    assert asb.is_unique and asb.str.startswith("asb-").all()
    assert a.events["event_id"].tolist() == b.events["event_id"].tolist()
    assert not a.duplicates  # two identical ASB rows are two incidents
    assert asb_key("D", "2021-12", ("a",), 0) != asb_key("D", "2021-12", ("a",), 1)
    # pinned: stored keys must not change between versions
    assert asb_key("D", "2021-12", ("a", "b"), 1) == "asb-" + hashlib.sha1(
        b"D\x1f2021-12\x1fa\x1fb\x1f1").hexdigest()[:32]


def test_asb_occurrence_numbers_count_equal_rows_in_order():
    from guardian.data.policeuk import _occurrence, asb_keys

    assert _occurrence(["a", "b", "a", "c", "b", "a"]).tolist() == [0, 0, 1, 0, 1, 2]
    assert _occurrence([]).tolist() == []
    rng = np.random.default_rng(3)
    vals = [str(v) for v in rng.integers(0, 40, 2000)]
    seen: dict[str, int] = {}
    brute = []
    for v in vals:  # by hand: how many equal values came before
        brute.append(seen.get(v, 0))
        seen[v] = brute[-1] + 1
    assert _occurrence(vals).tolist() == brute
    cols = [vals, ["x"] * len(vals)]
    assert asb_keys("D", "2021-12", cols) == asb_keys("D", "2021-12", cols, brute)


def test_not_a_police_uk_file_is_a_clear_error():
    with pytest.raises(InputError, match="not a police.uk street or outcomes header"):
        parse_police_uk(Source(name="x", path=DEC), b"a,b,c\n1,2,3\n")
    with pytest.raises(InputError, match="empty"):
        parse_police_uk(Source(name="x", path=DEC), b"")
    with pytest.raises(InputError, match="not UTF-8"):
        parse_police_uk(Source(name="x", path=DEC), b"\xff\xfe\x00bad")


def test_snake_case_header_variant(shared_data):
    path = shared_data / "police_uk_street_essex_2018_snakecase_header" / "2018-01-essex-street.csv.gz"
    parsed = parse_police_uk(Source(name=str(path), path=path))
    assert parsed.kind == "street" and parsed.month == "2018-01" and parsed.rows_read == 14786
    assert len(parsed.events) + len(parsed.quarantined) + len(parsed.duplicates) == 14786


def test_outcomes_file(shared_data):
    path = shared_data / "police_uk_outcomes_essex" / "2021-12-essex-outcomes.csv.gz"
    parsed = parse_police_uk(Source(name=str(path), path=path))
    assert parsed.kind == "outcomes" and parsed.rows_read == 13490
    assert len(parsed.events) + len(parsed.quarantined) + len(parsed.duplicates) == 13490
    assert set(parsed.events.columns) >= {"crime_id", "month", "outcome"}


def test_empty_outcome_type_is_quarantined():
    text = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Outcome type\n"
            + "a" * 64 + ",2021-12,Essex Police,Essex Police,0.4,51.6,On or near X,E01021237,Basildon 001A,\n"
            + "b" * 64 + ",2021-12,Essex Police,Essex Police,0.4,51.6,On or near X,E01021237,Basildon 001A,Local resolution\n")
    parsed = parse_police_uk(Source(name="o.csv", path=DEC), text.encode())
    assert [q.reason for q in parsed.quarantined] == ["empty outcome type"]
    assert parsed.events["outcome"].tolist() == ["Local resolution"]


def test_sources_expand_folders_zips_and_refuse_unknown(tmp_path):
    import zipfile

    srcs = list(iter_sources([ESSEX]))
    assert len(srcs) == 15 and srcs[0].basename == "2018-10-essex-street.csv.gz"
    z = tmp_path / "2021-12.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("2021-12/2021-12-essex-street.csv", gzip.decompress(DEC.read_bytes()))
    (src,) = list(iter_sources([z]))
    assert src.name.endswith("!2021-12/2021-12-essex-street.csv")
    assert len(read_street(DEC)) == len(parse_police_uk(src).events)
    with pytest.raises(InputError, match="no such file"):
        list(iter_sources([tmp_path / "missing.csv"]))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="expected a .csv"):
        list(iter_sources([tmp_path / "notes.txt"]))
