"""police.uk street-level and outcomes files.

Caveats of the source, which every output inherits:

* Month resolution only: an offence's date is its month. Anything that needs days (near-repeat
  timing, cocoon windows) is approximate on this data and says so.
* Locations are snapped to anonymised map points ("On or near ..."), so a point stands for a
  street segment or a small area, not an address. Some rows have no location at all
  ("No Location"); they still count as crimes.
* Anti-social behaviour rows have no Crime ID; Guardian gives them a stable key from the
  source dataset and the row's content (see :func:`asb_key`).
* police.uk republishes months; a newer file for a force and month replaces the older one.

The force is read from the file's "Falls within" column, never from its name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import Transformer

from guardian.data.geography import force_short_name, lsoa_table
from guardian.data.quarantine import DuplicateRow, QuarantinedRow
from guardian.data.schema import ASB, CATEGORY_LOOKUP, to_canonical
from guardian.data.sources import Source, csv_lines, decode_csv, sha256_bytes
from guardian.errors import InputError

TIMEZONE = "Europe/London"
BNG = "EPSG:27700"

STREET_COLUMNS = (
    "crime_id", "month", "reported_by", "falls_within", "longitude", "latitude", "location",
    "lsoa_code", "lsoa_name", "crime_type", "last_outcome_category", "context",
)
OUTCOME_COLUMNS = (
    "crime_id", "month", "reported_by", "falls_within", "longitude", "latitude", "location",
    "lsoa_code", "lsoa_name", "outcome_type",
)

CRIME_ID = re.compile(r"^[0-9a-f]{64}$")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
LSOA = re.compile(r"^[EW]0[12]\d{6}$")
NO_LOCATION = {"no location", ""}

# Great Britain plus a margin, in degrees; anything outside is not a police.uk map point.
UK_LON = (-8.7, 2.0)
UK_LAT = (49.8, 61.0)
# How far (metres) a point may lie outside the envelope of the force's own LSOAs' points before
# it is refused: police.uk does place some points in neighbouring LSOAs, but not kilometres off.
AREA_MARGIN_M = 20_000.0



def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of a column: checks run once per distinct value, because
    months, forces, categories, places and outcomes repeat thousands of times in a file."""
    codes, uniq = pd.factorize(values)  # without a separate missing-value pass (none here)
    if len(codes) and codes.min() < 0:
        codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return codes, np.asarray(uniq, dtype=object)


def _per_value(codes: np.ndarray, uniq: np.ndarray, test) -> np.ndarray:
    """``test`` applied to every distinct value, spread back over the rows."""
    return np.fromiter((bool(test(u)) for u in uniq), dtype=bool, count=len(uniq))[codes]


def _numbers(values: np.ndarray) -> np.ndarray:
    """Floats of distinct text values, NaN for "" or text that is not a number."""
    joined = "".join(values)
    if joined.isascii() and "_" not in joined:  # where float() and pandas agree
        try:  # numpy's own conversion, when every value is a number or empty
            return np.where(values == "", "nan", values).astype(float)
        except ValueError:
            pass
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


# Byte classes for Crime IDs: hex digits, and the upper-case ones that are lowered.
_HEX_BYTE = np.zeros(256, dtype=bool)
_HEX_BYTE[np.frombuffer(b"0123456789abcdefABCDEF", dtype=np.uint8)] = True
_UPPER_HEX_BYTE = np.zeros(256, dtype=bool)
_UPPER_HEX_BYTE[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = True


def _crime_ids(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower-cased Crime IDs and whether each is well formed (64 hex characters).

    Vectorised over the bytes of all 64-character values at once: a regex or ``str`` method
    per row costs more than the CSV parse itself at 250k rows.
    """
    n = len(raw)
    lengths = np.fromiter(map(len, raw), dtype=np.int64, count=n)
    ok = np.zeros(n, dtype=bool)
    ids = raw.copy()
    cand = np.flatnonzero(lengths == 64)
    if not len(cand):
        return ids, ok
    blob = "".join(raw[cand]).encode("utf-8")
    if not blob.translate(None, b"0123456789abcdef"):  # all lower-case hex: one pass in C
        ok[cand] = True
        return ids, ok
    if len(blob) == 64 * len(cand):  # all ASCII: one byte per character
        b = np.frombuffer(blob, dtype=np.uint8).reshape(-1, 64)
        ok[cand] = _HEX_BYTE[b].all(axis=1)
        upper = cand[_UPPER_HEX_BYTE[b].any(axis=1)]
    else:
        ok[cand] = [bool(CRIME_ID.match(s.lower())) for s in raw[cand]]
        upper = cand
    for i in upper:
        ids[i] = raw[i].lower()
    return ids, ok


def _normalise_header(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


@dataclass
class ParsedFile:
    """One police.uk file, validated.

    Attributes
    ----------
    kind : {"street", "outcomes"}
    dataset : str
        The publishing force ("Falls within"), e.g. ``"Essex Police"``.
    month : str
        ``YYYY-MM`` the file covers.
    sha256 : str
        Hash of the decompressed file.
    rows_read : int
        Data rows read (header excluded).
    table : DataFrame or dict
        The loaded rows, as :attr:`events` or its columns: arrays, or single values for
        columns every row shares (the loader builds no frame it does not need: at 250k rows
        the frame alone costs a tenth of a second).
    quarantined : list of QuarantinedRow
    duplicates : list of DuplicateRow
        Rows whose Crime ID repeats one earlier in the same file.
    crs, timezone : str
        Of the events' x/y and local times (police.uk: EPSG:27700, Europe/London).
    place_codes : ndarray of int64, optional
        One code per event, equal for events at the same place (point, location, LSOA code
        and name), from the checks' own per-value codes: the store keeps each place once.
    """

    kind: str
    dataset: str
    month: str
    sha256: str
    rows_read: int
    table: pd.DataFrame | dict
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    crs: str = BNG
    timezone: str = TIMEZONE
    place_codes: np.ndarray | None = None

    @property
    def events(self) -> pd.DataFrame:
        """Event columns (street files) with an extra ``line`` column, left as object dtypes
        because they are cheap (:func:`guardian.data.schema.to_canonical` casts them); for
        outcomes files, columns ``crime_id, month, outcome, line``."""
        if isinstance(self.table, dict):
            self.table = pd.DataFrame(self.table)
        return self.table

    @property
    def columns(self) -> dict:
        """The same rows as :attr:`events`, column by column (arrays, or single values)."""
        if isinstance(self.table, dict):
            return self.table
        return {c: self.table[c].to_numpy() for c in self.table.columns}


def asb_key(dataset: str, month: str, fields: tuple[str, ...], occurrence: int) -> str:
    """Stable key for an ASB row (which has no Crime ID).

    Built from the dataset, month, the row's content fields and its occurrence number among
    identical rows in the file (two identical ASB rows are two incidents). Re-loading the same
    file gives the same keys; a republished month keeps the keys of unchanged rows.
    """
    return asb_keys(dataset, month, [[f] for f in fields], [occurrence])[0]


def asb_keys(dataset: str, month: str, columns: list, occurrence=None) -> list[str]:
    """:func:`asb_key` of many rows: ``columns`` holds each content field's values.

    Without ``occurrence``, each row's occurrence number among identical rows (same content)
    is counted here, in row order.
    """
    texts = list(map("\x1f".join, zip(*columns, strict=True)))
    if occurrence is None:
        occurrence = _occurrence(texts).tolist()
    sha1 = hashlib.sha1
    head = f"{dataset}\x1f{month}\x1f"
    return ["asb-" + sha1(f"{head}{t}\x1f{o}".encode()).hexdigest()[:32]
            for t, o in zip(texts, occurrence, strict=True)]


def _occurrence(values: list) -> np.ndarray:
    """Each value's occurrence number among equal values, in order: 0 for the first, 1 for the
    second... (a groupby cumcount, at a third of its cost)."""
    codes = pd.factorize(np.asarray(values, dtype=object))[0]
    order = np.argsort(codes, kind="stable")
    sorted_ = codes[order]
    n = len(sorted_)
    starts = np.flatnonzero(np.r_[True, sorted_[1:] != sorted_[:-1]]) if n else np.zeros(0, np.int64)
    run = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    out = np.empty(n, dtype=np.int64)
    out[order] = run
    return out


def _one_row_per_line(body: list[str], ncol: int) -> bool:
    """True when every line holds exactly ``ncol`` fields and no quoted field spans lines.

    Counted with numpy over the whole text (a Python loop over 250k lines cost 0.3 s); the few
    lines with quotes, where commas may sit inside a field, are parsed one by one.
    """
    if not body:
        return True
    blob = np.frombuffer("\n".join(body).encode("utf-8"), dtype=np.uint8)
    line_of = np.cumsum(blob == 10, dtype=np.int32)  # line index of every byte
    n = len(body)
    per_line_commas = np.bincount(line_of[blob == 44], minlength=n)
    is_quote = blob == 34
    if is_quote.any() and (np.bincount(line_of[is_quote], minlength=n) % 2).any():
        return False  # an open quote: a row spans lines
    odd = np.flatnonzero(per_line_commas != ncol - 1)
    for i in odd:
        line = body[int(i)]
        if '"' not in line or len(next(csv.reader([line]))) != ncol:
            return False
    return True


def _fast_frame(data: bytes, lines, ncol: int) -> tuple[pd.DataFrame | None, int]:
    """Parse with pandas' C reader when every line is exactly one row of ``ncol`` fields.

    Returns ``(None, 0)`` when that cannot be guaranteed (blank lines, quoted newlines, ragged
    rows, text that is not UTF-8), and the caller takes the careful path, which keeps exact
    line numbers. The checks run on the bytes; ``lines()`` gives the decoded lines, needed
    only for a file with quotes.
    """
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if b'"' in data:
        if not _one_row_per_line(lines()[1:], ncol):
            return None, 0
    elif data.count(b",") != (ncol - 1) * n_lines:
        # Without quotes every comma separates fields; as the C reader refuses lines with too
        # many fields, the right total means every line holds exactly ncol fields.
        return None, 0
    try:
        # object columns: pandas' python-backed string dtype costs seconds at 250k rows here.
        # No missing-value pass (every field is text; the counts above rule out short rows).
        # All columns are read: with ``usecols`` the C reader no longer refuses a line with
        # too many fields, and one long line beside one short line keeps the comma total.
        df = pd.read_csv(io.BytesIO(data), header=None, skiprows=1, names=range(ncol),
                         dtype=object, na_filter=False, skip_blank_lines=False, engine="c",
                         skipinitialspace=True)
    except (pd.errors.ParserError, ValueError):  # a UnicodeDecodeError is a ValueError
        return None, 0
    if len(df) != n_lines - 1:
        return None, 0
    df["line"] = np.arange(2, len(df) + 2, dtype=np.int64)
    return df, len(df)


def _careful_frame(lines: list[str], ncol: int):
    """Row-by-row parse with the csv module: exact line numbers, ragged rows quarantined.

    A record the csv module cannot parse at all (a lone carriage return inside an unquoted
    field) is quarantined with its lines, and parsing resumes on the next line: it used to
    raise ``_csv.Error`` out of the loader.
    """
    # No field can be longer than the file: without this a field over csv's default 128 KiB
    # (a runaway quote, a pasted document) raised _csv.Error and a traceback. Raising the
    # process-wide limit is harmless (it only ever grows).
    size = sum(map(len, lines)) + len(lines)
    if size > csv.field_size_limit():
        csv.field_size_limit(size)
    good, quarantined, rows_read = [], [], 0
    base = 1  # index in ``lines`` of the next line to parse (line 1, the header, is read)
    while base < len(lines):
        # csv needs the line endings to rebuild quoted fields that span lines.
        reader = csv.reader(ln + "\n" for ln in lines[base:])
        prev = 0
        try:
            for fields in reader:
                start, end = base + prev + 1, base + reader.line_num
                prev = reader.line_num
                if not fields:  # a blank line is not a row: nothing to load, nothing lost
                    continue
                rows_read += 1
                if len(fields) != ncol:
                    raw = "\n".join(lines[start - 1 : end])
                    quarantined.append(QuarantinedRow(
                        start, f"expected {ncol} fields, got {len(fields)}", raw))
                else:
                    good.append([*fields, start])
            break
        except csv.Error as exc:
            start, end = base + prev + 1, base + max(reader.line_num, prev + 1)
            rows_read += 1
            quarantined.append(QuarantinedRow(start, f"not parseable as CSV ({exc})",
                                              "\n".join(lines[start - 1 : end])))
            base = end
    df = pd.DataFrame(good, columns=[*range(ncol), "line"])
    for c in range(ncol):
        df[c] = df[c].astype(object).str.strip()
    df["line"] = df["line"].astype(np.int64)
    return df, rows_read, quarantined


def detect_kind(header: list[str]) -> str:
    """``"street"`` or ``"outcomes"`` from a header row (official or snake_case variants)."""
    norm = tuple(_normalise_header(h) for h in header)
    if norm == STREET_COLUMNS:
        return "street"
    if norm == OUTCOME_COLUMNS:
        return "outcomes"
    raise InputError(
        f"header {header!r} is not a police.uk street or outcomes header; expected "
        f"{list(STREET_COLUMNS)} (any case, spaces or underscores)"
    )


def parse_police_uk(source: Source, data: bytes | None = None) -> ParsedFile:
    """Read and validate one police.uk street or outcomes file.

    Every row ends up in exactly one of: ``events``, ``quarantined``, ``duplicates``.

    Raises
    ------
    InputError
        When the file is not a police.uk file at all (header), is not UTF-8, or holds no
        row with a valid force and month.
    """
    data = source.read_bytes() if data is None else data
    first = data.split(b"\n", 1)[0]
    try:
        head = first.decode("utf-8-sig").rstrip("\r")
    except UnicodeDecodeError:
        decode_csv(source, data)  # raises, naming the file
        raise
    if not head.strip():
        raise InputError(f"{source.name}: file is empty (no header line); download it again "
                         f"or remove it from the load")
    header = next(csv.reader([head]))
    try:
        kind = detect_kind(header)
    except InputError as exc:
        # Name the file and the way out: a force's own extract loads with a mapping.
        raise InputError(f"{source.name}: {exc}; if it is a force extract, load it with "
                         f"--mapping MAP.toml") from exc
    cols = STREET_COLUMNS if kind == "street" else OUTCOME_COLUMNS
    ncol = len(cols)
    text_lines: list[str] = []

    def lines() -> list[str]:
        """The file's decoded lines, split only if a quarantined row or the careful path
        needs them (250k lines cost 40 ms to split)."""
        if not text_lines:
            text_lines.extend(csv_lines(decode_csv(source, data)[1]))
        return text_lines

    df, rows_read = _fast_frame(data, lines, ncol)
    quarantined: list[QuarantinedRow] = []
    def raw_lines(numbers: np.ndarray) -> list[str]:
        """Lines ``numbers`` (from 1) of the file, for quarantined rows."""
        return [lines()[k - 1] for k in numbers.tolist()]

    if df is None:  # quoted newlines, blank lines or ragged rows: the careful path
        df, rows_read, quarantined = _careful_frame(lines(), ncol)
    else:
        def raw_lines(numbers: np.ndarray) -> list[str]:
            """Lines ``numbers`` as the C reader split them (at newlines only), cut out of
            the bytes (the fast path had all of it decode as UTF-8): decoding and splitting
            the whole file for a few quarantined rows cost 8 ms."""
            nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
            starts, ends = np.r_[0, nl + 1], np.r_[nl, len(data)]
            return [data[starts[k - 1]:ends[k - 1]].decode("utf-8").rstrip("\r")
                    for k in numbers.tolist()]
    df.columns = [cols[c] if isinstance(c, int) else c for c in df.columns]
    if df.empty:
        raise InputError(f"{source.name}: no data rows with {ncol} fields")
    n = len(df)
    col = {c: df[c].to_numpy(dtype=object) for c in cols}
    reasons = np.full(n, None, dtype=object)
    refused = np.zeros(n, dtype=bool)

    def refuse(mask: np.ndarray, why) -> None:
        """Record ``why`` for rows in ``mask`` not yet refused; ``why`` is a string or a
        function of the refused rows' indices (so messages are built only for bad rows)."""
        mask = mask & ~refused
        if mask.any():
            idx = np.flatnonzero(mask)
            reasons[idx] = why if isinstance(why, str) else why(idx)
            refused[idx] = True

    def say(fmt: str, *names: str):
        """Message builder for :func:`refuse`: ``fmt`` formatted with the named raw values."""
        return lambda idx: [fmt.format(*vals) for vals in zip(*(col[c][idx] for c in names), strict=True)]

    # The force and month the file covers: the most common values among its rows.
    fw_codes, fw_uniq = _codes(col["falls_within"])
    dataset = str(fw_uniq[np.bincount(fw_codes).argmax()])
    m_codes, m_uniq = _codes(col["month"])
    m_ok = np.fromiter((bool(MONTH.match(str(u))) for u in m_uniq), dtype=bool, count=len(m_uniq))
    refuse(~m_ok[m_codes], say("month {!r} is not YYYY-MM", "month"))
    if not m_ok.any() or not dataset:
        raise InputError(f"{source.name}: no row has a valid Month and Falls within")
    counts = np.bincount(m_codes, minlength=len(m_uniq))
    month = str(m_uniq[np.flatnonzero(m_ok)[counts[m_ok].argmax()]])
    refuse(m_uniq[m_codes] != month, lambda idx: [
        f"month {v} in a file of {month}; police.uk files hold one month" for v in col["month"][idx]])
    refuse(fw_uniq[fw_codes] != dataset,
           lambda idx: [f"falls within {v!r} in a file of {dataset!r}" for v in col["falls_within"][idx]])
    cid, cid_ok = _crime_ids(col["crime_id"])
    has_cid = cid != ""

    if kind == "street":
        ct_codes, ct_uniq = _codes(col["crime_type"])
        cat_uniq = np.array([CATEGORY_LOOKUP.get(str(u).lower()) for u in ct_uniq], dtype=object)
        cat = cat_uniq[ct_codes]
        refuse(pd.isna(cat), say("unknown crime type {!r}", "crime_type"))
        refuse((cat != ASB) & ~has_cid, say("missing Crime ID for a crime row ({})", "crime_type"))
        refuse(has_cid & ~cid_ok, say("malformed Crime ID {!r}", "crime_id"))
    else:
        refuse(~has_cid, "missing Crime ID on an outcome row")
        refuse(has_cid & ~cid_ok, say("malformed Crime ID {!r}", "crime_id"))
        refuse(col["outcome_type"] == "", "empty outcome type")

    # Coordinates: both present and in the UK, or none and "No Location".
    lon_codes, lon_uniq = _codes(col["longitude"])
    lat_codes, lat_uniq = _codes(col["latitude"])
    lon = _numbers(lon_uniq)[lon_codes]
    lat = _numbers(lat_uniq)[lat_codes]
    has_lon, has_lat = (lon_uniq != "")[lon_codes], (lat_uniq != "")[lat_codes]
    loc_codes, loc_uniq = _codes(col["location"])
    short = np.flatnonzero(np.fromiter(map(len, loc_uniq), dtype=np.int64, count=len(loc_uniq))
                           <= max(map(len, NO_LOCATION)))
    no_loc_uniq = np.zeros(len(loc_uniq), dtype=bool)
    no_loc_uniq[short] = [str(u).lower() in NO_LOCATION for u in loc_uniq[short]]
    no_loc_text = no_loc_uniq[loc_codes]
    refuse(has_lon & np.isnan(lon), say("longitude {!r} is not a number", "longitude"))
    refuse(has_lat & np.isnan(lat), say("latitude {!r} is not a number", "latitude"))
    refuse(has_lon != has_lat, "only one of longitude/latitude given")
    refuse(~has_lon & ~has_lat & ~no_loc_text,
           say("no coordinates but location is {!r} (expected 'No Location')", "location"))
    located = has_lon & has_lat & ~np.isnan(lon) & ~np.isnan(lat)
    in_uk = (lon >= UK_LON[0]) & (lon <= UK_LON[1]) & (lat >= UK_LAT[0]) & (lat <= UK_LAT[1])
    outside_uk = located & ~in_uk
    refuse(outside_uk, say("point ({}, {}) is outside Great Britain", "longitude", "latitude"))
    lsoa_codes, lsoa_uniq = _codes(col["lsoa_code"])
    lsoa_bad = _per_value(lsoa_codes, lsoa_uniq, lambda u: u != "" and not LSOA.match(str(u)))
    refuse(lsoa_bad, say("malformed LSOA code {!r}", "lsoa_code"))

    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    ok_pts = located & ~outside_uk
    if ok_pts.any():
        # Project each distinct map point once (police.uk snaps crimes to shared points).
        pair = lon_codes.astype(np.int64) * len(lat_uniq) + lat_codes
        p_codes, p_uniq = pd.factorize(pair[ok_pts])
        first = np.zeros(len(p_uniq), dtype=np.int64)
        first[p_codes[::-1]] = np.flatnonzero(ok_pts)[::-1]
        px, py = _to_bng().transform(lon[first], lat[first])
        x[ok_pts], y[ok_pts] = px[p_codes], py[p_codes]
        far = _outside_force_area(lsoa_codes, lsoa_uniq, x, y, ok_pts, dataset)
        refuse(far, lambda idx: [
            f"point ({a}, {b}) is more than {AREA_MARGIN_M / 1000:.0f} km outside the area of {dataset}"
            for a, b in zip(col["longitude"][idx], col["latitude"][idx], strict=True)])

    line = df["line"].to_numpy(dtype=np.int64)
    bad = np.flatnonzero(refused)
    if len(bad):
        quarantined += [QuarantinedRow(int(ln), str(why), raw) for ln, why, raw in
                        zip(line[bad].tolist(), reasons[bad], raw_lines(line[bad]), strict=True)]
    quarantined.sort(key=lambda q: q.line)
    keep = np.flatnonzero(~refused)
    if kind == "outcomes":
        out = pd.DataFrame({
            "crime_id": cid[keep], "month": col["month"][keep],
            "outcome": col["outcome_type"][keep], "line": line[keep],
        })
        dup = out["crime_id"].duplicated(keep="last").to_numpy()  # the file's latest outcome wins
        duplicates = [DuplicateRow(int(ln), str(k)) for ln, k in
                      zip(out["line"].to_numpy()[dup], out["crime_id"].to_numpy()[dup], strict=True)]
        out = out[~dup].reset_index(drop=True)
        return ParsedFile(kind, dataset, month, sha256_bytes(data), rows_read, out,
                          quarantined, duplicates)

    key = cid[keep]
    # ASB keys: content + occurrence among identical rows, so identical incidents stay distinct.
    asb_rows = np.flatnonzero(key == "")
    if len(asb_rows):
        rows_ = keep[asb_rows]
        content = ["longitude", "latitude", "location", "lsoa_code", "crime_type"]
        key[asb_rows] = asb_keys(dataset, month, [col[c][rows_] for c in content])
    dup = pd.Series(key).duplicated(keep="first").to_numpy()
    duplicates = [DuplicateRow(int(ln), str(k)) for ln, k in zip(line[keep][dup], key[dup], strict=True)]
    kept = keep[~dup]
    m = len(kept)
    # Events at one place share a code (coordinates come from the point's text).
    name_codes, name_uniq = _codes(col["lsoa_name"])
    place = lon_codes.astype(np.int64) * len(lat_uniq) + lat_codes
    for codes, k in ((loc_codes, len(loc_uniq)), (lsoa_codes, len(lsoa_uniq)),
                     (name_codes, len(name_uniq))):
        place = pd.factorize(place)[0].astype(np.int64) * k + codes
    # Columns shared by every row stay single values: the frame, when one is built, repeats them.
    events = {
        "event_id": key[~dup],
        "dataset": dataset,
        "month": month,
        "time": pd.Timestamp(f"{month}-01", tz=TIMEZONE),
        "time_precision": "month",
        "category": cat[kept],
        "dwelling": pd.arrays.BooleanArray(np.zeros(m, dtype=bool), np.ones(m, dtype=bool)),
        "x": x[kept], "y": y[kept],
        "crs": BNG,
        "lon": lon[kept], "lat": lat[kept],
        "location": col["location"][kept],
        "lsoa_code": col["lsoa_code"][kept],
        "lsoa_name": col["lsoa_name"][kept],
        "district": "",
        "outcome": col["last_outcome_category"][kept],
        "line": line[kept],
    }
    # Left as object columns (cheap); read_street() and the store give canonical dtypes.
    return ParsedFile("street", dataset, month, sha256_bytes(data), rows_read, events,
                      quarantined, duplicates, place_codes=place[kept])


def warm_up() -> None:
    """Load what every parse needs (reference LSOAs, the projection) once, so processes
    forked afterwards share it instead of each loading it again."""
    lsoa_table()
    _to_bng()


@lru_cache(maxsize=1)
def _to_bng() -> Transformer:
    return Transformer.from_crs("EPSG:4326", BNG, always_xy=True)


@lru_cache(maxsize=64)
def _force_lsoas(short: str) -> frozenset[str]:
    """LSOA codes of a force (reference table), built once per force and process."""
    ref = lsoa_table()
    return frozenset(ref.loc[ref["force"] == short, "lsoa_code"].astype(str))


def _outside_force_area(lsoa_codes: np.ndarray, lsoa_uniq: np.ndarray, x: np.ndarray,
                        y: np.ndarray, ok: np.ndarray, dataset: str) -> np.ndarray:
    """Points further than AREA_MARGIN_M outside the envelope of the force's own points.

    The envelope is the 0.5–99.5 percentile box of the points whose LSOA belongs to the force
    (reference table); with too few such points the check is skipped (UK bounds still apply).
    ``lsoa_codes``/``lsoa_uniq`` are the factorised LSOA column.
    """
    mine = _force_lsoas(force_short_name(dataset))
    own_lsoa = np.fromiter((u in mine for u in lsoa_uniq), dtype=bool, count=len(lsoa_uniq))
    own = own_lsoa[lsoa_codes] & ok
    if own.sum() < 50:
        return np.zeros(len(x), dtype=bool)
    lo_x, hi_x = np.percentile(x[own], [0.5, 99.5])
    lo_y, hi_y = np.percentile(y[own], [0.5, 99.5])
    m = AREA_MARGIN_M
    inside = (x >= lo_x - m) & (x <= hi_x + m) & (y >= lo_y - m) & (y <= hi_y + m)
    return ok & ~inside


def read_street(path) -> pd.DataFrame:
    """Canonical events of one police.uk street file (valid rows only, duplicates dropped).

    Convenience for analysis and tests; ingest into the store keeps the quarantine too.
    """
    parsed = parse_police_uk(Source(name=str(path), path=Path(path)))
    if parsed.kind != "street":
        raise InputError(f"{path}: is an outcomes file, expected a street file")
    return to_canonical(parsed.events.drop(columns=["line"]))

