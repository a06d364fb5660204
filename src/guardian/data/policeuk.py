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
from guardian.data.sources import Source, decode_csv, sha256_bytes
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



def _matches(values: pd.Series, pattern: re.Pattern) -> pd.Series:
    """Regex test run once per distinct value (months and LSOAs repeat thousands of times)."""
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    ok = np.fromiter((bool(pattern.match(str(u))) for u in uniq), dtype=bool, count=len(uniq))
    return pd.Series(ok[codes], index=values.index)


_HEX = "0123456789abcdef"


def _is_crime_id(cid: pd.Series) -> pd.Series:
    """64 lowercase hex characters (vectorised without a regex per row)."""
    return (cid.str.len() == 64) & (cid.str.strip(_HEX) == "")


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
    events : DataFrame
        Event columns (street files) with an extra ``line`` column, left as object dtypes
        because they are cheap (:func:`guardian.data.schema.to_canonical` casts them); for
        outcomes files, columns ``crime_id, month, outcome, line``.
    quarantined : list of QuarantinedRow
    duplicates : list of DuplicateRow
        Rows whose Crime ID repeats one earlier in the same file.
    crs, timezone : str
        Of the events' x/y and local times (police.uk: EPSG:27700, Europe/London).
    """

    kind: str
    dataset: str
    month: str
    sha256: str
    rows_read: int
    events: pd.DataFrame
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    duplicates: list[DuplicateRow] = field(default_factory=list)
    crs: str = BNG
    timezone: str = TIMEZONE


def asb_key(dataset: str, month: str, fields: tuple[str, ...], occurrence: int) -> str:
    """Stable key for an ASB row (which has no Crime ID).

    Built from the dataset, month, the row's content fields and its occurrence number among
    identical rows in the file (two identical ASB rows are two incidents). Re-loading the same
    file gives the same keys; a republished month keeps the keys of unchanged rows.
    """
    h = hashlib.sha1("\x1f".join((dataset, month, *fields, str(occurrence))).encode())
    return "asb-" + h.hexdigest()[:32]


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


def _fast_frame(text: str, lines: list[str], ncol: int) -> tuple[pd.DataFrame | None, int]:
    """Parse with pandas' C reader when every line is exactly one row of ``ncol`` fields.

    Returns ``(None, 0)`` when that cannot be guaranteed (blank lines, quoted newlines, ragged
    rows), and the caller takes the careful path, which keeps exact line numbers.
    """
    body = lines[1:]
    if not _one_row_per_line(body, ncol):
        return None, 0
    try:
        # object columns: pandas' python-backed string dtype costs seconds at 250k rows here.
        df = pd.read_csv(io.StringIO(text), header=None, skiprows=1, names=range(ncol),
                         dtype=object, keep_default_na=False, skip_blank_lines=False, engine="c",
                         skipinitialspace=True)
    except (pd.errors.ParserError, ValueError):
        return None, 0
    if len(df) != len(body):
        return None, 0
    df["line"] = np.arange(2, len(df) + 2, dtype=np.int64)
    return df, len(df)


def _careful_frame(lines: list[str], ncol: int):
    """Row-by-row parse with the csv module: exact line numbers, ragged rows quarantined."""
    # csv needs the line endings to rebuild quoted fields that span lines.
    reader = csv.reader([ln + "\n" for ln in lines])
    next(reader)
    good, quarantined, rows_read = [], [], 0
    prev = reader.line_num
    for fields in reader:
        start, end = prev + 1, reader.line_num
        prev = end
        if not fields:  # a blank line is not a row: nothing to load, nothing lost
            continue
        rows_read += 1
        if len(fields) != ncol:
            raw = "\n".join(lines[start - 1 : end])
            quarantined.append(QuarantinedRow(start, f"expected {ncol} fields, got {len(fields)}", raw))
        else:
            good.append([*fields, start])
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
    data, text = decode_csv(source, data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{source.name}: file is empty (no header line)")
    header = next(csv.reader(lines[:1]))
    kind = detect_kind(header)
    cols = STREET_COLUMNS if kind == "street" else OUTCOME_COLUMNS
    ncol = len(cols)
    df, rows_read = _fast_frame(text, lines, ncol)
    quarantined: list[QuarantinedRow] = []
    if df is None:  # quoted newlines, blank lines or ragged rows: the careful path
        df, rows_read, quarantined = _careful_frame(lines, ncol)
    df.columns = [*cols, "line"]
    raw_line = lines.__getitem__
    reasons = pd.Series(pd.NA, index=df.index, dtype="string")

    def refuse(mask: pd.Series, why) -> None:
        """Record ``why`` for rows in ``mask`` not yet refused; ``why`` is a string or a
        function of the refused sub-frame (so messages are built only for bad rows)."""
        mask = mask.fillna(False) & reasons.isna()
        if mask.any():
            reasons[mask] = why if isinstance(why, str) else why(df[mask]).astype("string")

    # The force and month the file covers: the most common values among its rows.
    if df.empty:
        raise InputError(f"{source.name}: no data rows with {ncol} fields")
    dataset = str(df["falls_within"].value_counts().index[0])
    month_ok = _matches(df["month"], MONTH)
    refuse(~month_ok, lambda b: "month " + b["month"].map(repr) + " is not YYYY-MM")
    months = df.loc[month_ok, "month"].value_counts()
    if months.empty or not dataset:
        raise InputError(f"{source.name}: no row has a valid Month and Falls within")
    month = str(months.index[0])
    refuse(df["month"] != month,
           lambda b: "month " + b["month"] + f" in a file of {month}; police.uk files hold one month")
    refuse(df["falls_within"] != dataset,
           lambda b: "falls within " + b["falls_within"].map(repr) + f" in a file of {dataset!r}")
    cid = df["crime_id"].str.lower()

    if kind == "street":
        cat = df["crime_type"].str.lower().map(CATEGORY_LOOKUP)
        refuse(cat.isna(), lambda b: "unknown crime type " + b["crime_type"].map(repr))
        df["category"] = cat.astype("string")
        is_asb = df["category"] == ASB
        refuse(~is_asb & (cid == ""), lambda b: "missing Crime ID for a crime row (" + b["crime_type"] + ")")
        refuse((cid != "") & ~_is_crime_id(cid), lambda b: "malformed Crime ID " + b["crime_id"].map(repr))
    else:
        refuse(cid == "", "missing Crime ID on an outcome row")
        refuse((cid != "") & ~_is_crime_id(cid), lambda b: "malformed Crime ID " + b["crime_id"].map(repr))
        refuse(df["outcome_type"] == "", "empty outcome type")

    # Coordinates: both present and in the UK, or none and "No Location".
    lon = pd.to_numeric(df["longitude"], errors="coerce")
    lat = pd.to_numeric(df["latitude"], errors="coerce")
    has_lon, has_lat = df["longitude"] != "", df["latitude"] != ""
    no_loc_text = df["location"].str.lower().isin(NO_LOCATION)
    refuse(has_lon & lon.isna(), lambda b: "longitude " + b["longitude"].map(repr) + " is not a number")
    refuse(has_lat & lat.isna(), lambda b: "latitude " + b["latitude"].map(repr) + " is not a number")
    refuse(has_lon != has_lat, "only one of longitude/latitude given")
    refuse(~has_lon & ~has_lat & ~no_loc_text,
           lambda b: "no coordinates but location is " + b["location"].map(repr) + " (expected 'No Location')")
    located = has_lon & has_lat & lon.notna() & lat.notna()
    outside_uk = located & ~(lon.between(*UK_LON) & lat.between(*UK_LAT))
    refuse(outside_uk, lambda b: "point (" + b["longitude"] + ", " + b["latitude"] + ") is outside Great Britain")
    refuse((df["lsoa_code"] != "") & ~_matches(df["lsoa_code"], LSOA),
           lambda b: "malformed LSOA code " + b["lsoa_code"].map(repr))

    x = np.full(len(df), np.nan)
    y = np.full(len(df), np.nan)
    ok_pts = (located & ~outside_uk).to_numpy()
    if ok_pts.any():
        tr = _to_bng()
        x[ok_pts], y[ok_pts] = tr.transform(lon.to_numpy()[ok_pts], lat.to_numpy()[ok_pts])
        far = _outside_force_area(df, x, y, ok_pts, dataset)
        refuse(pd.Series(far, index=df.index),
               lambda b: "point (" + b["longitude"] + ", " + b["latitude"] + f") is more than "
               f"{AREA_MARGIN_M / 1000:.0f} km outside the area of {dataset}")

    bad = reasons.notna().to_numpy()
    for line, reason in zip(df.loc[bad, "line"], reasons[bad], strict=True):
        quarantined.append(QuarantinedRow(int(line), str(reason), raw_line(int(line) - 1)))
    keep = ~bad
    if kind == "outcomes":
        out = pd.DataFrame({
            "crime_id": cid[keep].astype("string"),
            "month": df.loc[keep, "month"],
            "outcome": df.loc[keep, "outcome_type"],
            "line": df.loc[keep, "line"],
        })
        dup = out["crime_id"].duplicated(keep="last")  # the file's latest outcome wins
        duplicates = [DuplicateRow(int(r.line), str(r.crime_id)) for r in out[dup].itertuples()]
        out = out[~dup].reset_index(drop=True)
        quarantined.sort(key=lambda q: q.line)
        return ParsedFile(kind, dataset, month, sha256_bytes(data), rows_read, out,
                          quarantined, duplicates)

    d = df[keep].copy()
    xs, ys = x[keep], y[keep]
    # ASB keys: content + occurrence among identical rows, so identical incidents stay distinct.
    content = ["longitude", "latitude", "location", "lsoa_code", "crime_type"]
    key = cid[keep].copy()
    asb_rows = (key == "").to_numpy()
    if asb_rows.any():
        sub = d.loc[asb_rows, content]
        occurrence = sub.groupby(content, sort=False, dropna=False).cumcount()
        key[asb_rows] = [
            asb_key(dataset, month, tuple(vals), int(occ))
            for vals, occ in zip(sub.itertuples(index=False, name=None), occurrence, strict=True)
        ]
    d["event_id"] = key
    dup = d["event_id"].duplicated(keep="first")
    duplicates = [DuplicateRow(int(r.line), str(r.event_id)) for r in d[dup].itertuples()]
    d, xs, ys = d[~dup.to_numpy()], xs[~dup.to_numpy()], ys[~dup.to_numpy()]

    n = len(d)
    t0 = pd.Timestamp(f"{month}-01", tz=TIMEZONE)
    kept = np.flatnonzero(keep)[~dup.to_numpy()]
    lon_k, lat_k = lon.to_numpy()[kept], lat.to_numpy()[kept]
    events = pd.DataFrame({
        "event_id": d["event_id"].to_numpy(),
        "dataset": np.repeat(dataset, n),
        "month": np.repeat(month, n),
        "time": pd.DatetimeIndex([t0]).repeat(n),
        "time_precision": np.repeat("month", n),
        "category": d["category"].to_numpy(),
        "dwelling": pd.array([pd.NA] * n, dtype="boolean"),
        "x": xs, "y": ys,
        "crs": np.repeat(BNG, n),
        "lon": lon_k, "lat": lat_k,
        "location": d["location"].to_numpy(),
        "lsoa_code": d["lsoa_code"].to_numpy(),
        "lsoa_name": d["lsoa_name"].to_numpy(),
        "district": np.repeat("", n),
        "outcome": d["last_outcome_category"].to_numpy(),
        "line": d["line"].to_numpy(),
    })
    quarantined.sort(key=lambda q: q.line)
    # Left as object columns (cheap); read_street() and the store give canonical dtypes.
    return ParsedFile("street", dataset, month, sha256_bytes(data), rows_read, events,
                      quarantined, duplicates)


@lru_cache(maxsize=1)
def _to_bng() -> Transformer:
    return Transformer.from_crs("EPSG:4326", BNG, always_xy=True)


def _outside_force_area(df: pd.DataFrame, x: np.ndarray, y: np.ndarray, ok: np.ndarray,
                        dataset: str) -> np.ndarray:
    """Points further than AREA_MARGIN_M outside the envelope of the force's own points.

    The envelope is the 0.5–99.5 percentile box of the points whose LSOA belongs to the force
    (reference table); with too few such points the check is skipped (UK bounds still apply).
    """
    short = force_short_name(dataset)
    ref = lsoa_table()
    own = df["lsoa_code"].isin(ref.loc[ref["force"] == short, "lsoa_code"]).to_numpy() & ok
    if own.sum() < 50:
        return np.zeros(len(df), dtype=bool)
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

