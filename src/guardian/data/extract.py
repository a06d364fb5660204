"""Force extracts: any CSV with exact dates and coordinates, read through a TOML mapping.

A mapping names the columns (id, date, optional time, category, x/y with their CRS or
longitude/latitude) and maps the force's own offence codes onto the 14 police.uk categories
with a dwelling flag for burglary. Worked example: ``mappings/chicago_be.toml``.

Mapping file
------------
.. code-block:: toml

    [dataset]
    name = "chicago_be"            # how the dataset is known in the store
    timezone = "America/Chicago"

    [csv]
    header = true                  # false: columns are named by 0-based position ("0", "1", ...)

    [columns]
    id = ""                        # optional; without it a stable key from content is made
    date = "date"
    date_format = "%Y-%m-%d"
    time = ""                      # optional; "HH:MM" or as time_format says
    x = "X"
    y = "Y"                        # or lon = "...", lat = "..."
    category = ""                  # optional column holding the force's offence code

    [coordinates]
    crs = "EPSG:26971"             # CRS of x/y (or of lon/lat: EPSG:4326)
    project_to = "EPSG:26971"      # stored CRS for lon/lat input (default EPSG:27700)
    bbox = [330000, 550000, 375000, 600000]   # the force's area, in the stored CRS

    [categories]
    constant = "Burglary"          # every row is this category (when no category column)
    dwelling = true

    [categories.map]               # force code -> police.uk category (and dwelling flag)
    "BURGLARY - RESIDENCE" = { category = "Burglary", dwelling = true }
"""

from __future__ import annotations

import csv
import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from guardian.data.policeuk import ParsedFile
from guardian.data.quarantine import DuplicateRow, QuarantinedRow
from guardian.data.schema import CATEGORIES, CATEGORY_LOOKUP, to_canonical
from guardian.data.sources import Source, csv_lines, decode_csv, sha256_bytes
from guardian.errors import InputError


@dataclass(frozen=True)
class ExtractMapping:
    """A parsed mapping file (see module docstring)."""

    name: str
    timezone: str
    header: bool
    id: str
    date: str
    date_format: str | None
    time: str
    time_format: str | None
    x: str
    y: str
    lon: str
    lat: str
    category: str
    crs: str
    project_to: str
    bbox: tuple[float, float, float, float] | None
    constant_category: str | None
    constant_dwelling: bool | None
    category_map: dict[str, tuple[str, bool | None]] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_toml(cls, path: Path | str) -> ExtractMapping:
        """Read and check a mapping file; raises :class:`InputError` naming the bad key."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                conf = tomllib.load(fh)
        except FileNotFoundError as exc:
            raise InputError(f"mapping file {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"mapping file {path} is not valid TOML: {exc}") from exc
        return cls.from_dict(conf, source=str(path))

    @classmethod
    def from_dict(cls, conf: dict, source: str = "<dict>") -> ExtractMapping:
        ds, cols = conf.get("dataset", {}), conf.get("columns", {})
        coords, cats = conf.get("coordinates", {}), conf.get("categories", {})
        where = f"mapping {source}"
        if not ds.get("name"):
            raise InputError(f"{where}: [dataset] name is required")
        if not cols.get("date"):
            raise InputError(f"{where}: [columns] date is required")
        has_xy = bool(cols.get("x")) and bool(cols.get("y"))
        has_ll = bool(cols.get("lon")) and bool(cols.get("lat"))
        if has_xy == has_ll:
            raise InputError(f"{where}: give either [columns] x and y, or lon and lat")
        crs = coords.get("crs") or ("EPSG:4326" if has_ll else "")
        if not crs:
            raise InputError(f"{where}: [coordinates] crs is required for x/y columns")
        try:
            crs_obj = CRS.from_user_input(crs)
        except CRSError as exc:
            raise InputError(f"{where}: unknown CRS {crs!r} ({exc})") from exc
        if has_xy and crs_obj.is_geographic:
            raise InputError(f"{where}: x/y CRS {crs} is geographic (degrees); use lon/lat columns")
        project_to = coords.get("project_to") or (crs if has_xy else "EPSG:27700")
        if CRS.from_user_input(project_to).is_geographic:
            raise InputError(f"{where}: project_to {project_to} must be projected (metres)")
        bbox = coords.get("bbox")
        if bbox is not None and (len(bbox) != 4 or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]):
            raise InputError(f"{where}: bbox must be [xmin, ymin, xmax, ymax], got {bbox}")
        constant = cats.get("constant")
        if constant is not None:
            if constant.lower() not in CATEGORY_LOOKUP:
                raise InputError(f"{where}: category {constant!r} is not a police.uk category; "
                                 f"expected one of {list(CATEGORIES)}")
            constant = CATEGORY_LOOKUP[constant.lower()]
        cmap: dict[str, tuple[str, bool | None]] = {}
        for code, target in cats.get("map", {}).items():
            if isinstance(target, str):
                target = {"category": target}
            cat = str(target.get("category", "")).lower()
            if cat not in CATEGORY_LOOKUP:
                raise InputError(f"{where}: code {code!r} maps to {target.get('category')!r}, "
                                 f"not a police.uk category")
            cmap[str(code)] = (CATEGORY_LOOKUP[cat], target.get("dwelling"))
        if not cols.get("category") and constant is None:
            raise InputError(f"{where}: give [columns] category with [categories.map], "
                             "or [categories] constant")
        if cols.get("category") and not cmap:
            raise InputError(f"{where}: [columns] category needs a [categories.map] table")
        return cls(
            name=ds["name"], timezone=ds.get("timezone", "Europe/London"),
            header=bool(conf.get("csv", {}).get("header", True)),
            id=cols.get("id", ""), date=cols["date"], date_format=cols.get("date_format"),
            time=cols.get("time", ""), time_format=cols.get("time_format"),
            x=cols.get("x", ""), y=cols.get("y", ""), lon=cols.get("lon", ""),
            lat=cols.get("lat", ""), category=cols.get("category", ""),
            crs=crs, project_to=project_to, bbox=tuple(bbox) if bbox else None,
            constant_category=constant, constant_dwelling=cats.get("dwelling"),
            category_map=cmap, source=source,
        )


def parse_extract(source: Source, mapping: ExtractMapping, data: bytes | None = None) -> ParsedFile:
    """Read and validate a force extract through ``mapping``.

    Every row ends in exactly one of events / quarantined / duplicates. Rows are refused when
    the date (or time) does not parse, coordinates are missing, not numbers or outside the
    mapping's bbox, the offence code is not mapped, or the id is empty or longer than 100
    characters.
    """
    data, text = decode_csv(source, data)
    lines = csv_lines(text)
    reader = csv.reader(lines)
    rows, lines_no, quarantined = [], [], []
    rows_read = 0
    header: list[str] | None = None
    prev = 0
    for fields in reader:
        start, end = prev + 1, reader.line_num
        prev = end
        if header is None and mapping.header:
            header = [h.strip() for h in fields]
            continue
        if not fields:
            continue
        if header is None:
            header = [str(i) for i in range(len(fields))]
        rows_read += 1
        if len(fields) != len(header):
            quarantined.append(QuarantinedRow(start, f"expected {len(header)} fields, got "
                                                     f"{len(fields)}", "\n".join(lines[start - 1:end])))
            continue
        rows.append(fields)
        lines_no.append(start)
    if header is None:
        raise InputError(f"{source.name}: file is empty")
    needed = [c for c in (mapping.id, mapping.date, mapping.time, mapping.x, mapping.y,
                          mapping.lon, mapping.lat, mapping.category) if c]
    missing = [c for c in needed if c not in header]
    if missing:
        raise InputError(f"{source.name}: columns {missing} named in {mapping.source} are not in "
                         f"the file's header {header}")
    df = pd.DataFrame(rows, columns=header, dtype="string")
    for c in needed:
        df[c] = df[c].str.strip()
    df["line"] = np.asarray(lines_no, dtype=np.int64)
    reasons = pd.Series(pd.NA, index=df.index, dtype="string")

    def refuse(mask, why) -> None:
        mask = pd.Series(mask, index=df.index).fillna(False) & reasons.isna()
        if mask.any():
            reasons[mask] = why if isinstance(why, str) else why(df[mask]).astype("string")

    stamp = df[mapping.date]
    fmt = mapping.date_format
    if mapping.time:
        stamp = stamp + " " + df[mapping.time]
        fmt = f"{fmt} {mapping.time_format or '%H:%M'}" if fmt else None
    when = pd.to_datetime(stamp, format=fmt, errors="coerce")
    refuse(when.isna(), lambda b: "date " + b[mapping.date].map(repr) + " does not parse"
           + (f" as {mapping.date_format}" if mapping.date_format else ""))
    precision = "minute" if (mapping.time or (fmt and "%H" in fmt)) else "day"

    xcol, ycol = (mapping.x, mapping.y) if mapping.x else (mapping.lon, mapping.lat)
    xs = pd.to_numeric(df[xcol], errors="coerce")
    ys = pd.to_numeric(df[ycol], errors="coerce")
    refuse((df[xcol] == "") | (df[ycol] == ""), "no coordinates")
    refuse(xs.isna() | ys.isna(),
           lambda b: "coordinates (" + b[xcol] + ", " + b[ycol] + ") are not numbers")
    x = xs.to_numpy(dtype=float)
    y = ys.to_numpy(dtype=float)
    lon = np.full(len(df), np.nan)
    lat = np.full(len(df), np.nan)
    okc = np.isfinite(x) & np.isfinite(y)
    src_crs = CRS.from_user_input(mapping.crs)
    if src_crs.is_geographic:
        lon, lat = x.copy(), y.copy()
        refuse(okc & ((np.abs(lon) > 180) | (np.abs(lat) > 90)),
               lambda b: "longitude/latitude (" + b[xcol] + ", " + b[ycol] + ") out of range")
        okc &= (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    else:
        to_ll = Transformer.from_crs(src_crs, "EPSG:4326", always_xy=True)
        lon[okc], lat[okc] = to_ll.transform(x[okc], y[okc])
    if CRS.from_user_input(mapping.project_to) != src_crs:
        tr = Transformer.from_crs(src_crs, mapping.project_to, always_xy=True)
        px, py = np.full(len(df), np.nan), np.full(len(df), np.nan)
        px[okc], py[okc] = tr.transform(x[okc], y[okc])
        x, y = px, py
    if mapping.bbox is not None:
        x0, y0, x1, y1 = mapping.bbox
        out = okc & ~((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        refuse(out, lambda b: "point (" + b[xcol] + ", " + b[ycol] + ") is outside the area "
               f"bbox {list(mapping.bbox)} of {mapping.name}")

    if mapping.category:
        code = df[mapping.category]
        hit = code.map(lambda c: mapping.category_map.get(c))
        refuse(hit.isna(), lambda b: "offence code " + b[mapping.category].map(repr)
               + f" is not in [categories.map] of {mapping.source}")
        category = hit.map(lambda h: h[0] if h else None)
        dwelling = hit.map(lambda h: h[1] if h else None)
    else:
        category = pd.Series(mapping.constant_category, index=df.index)
        dwelling = pd.Series(mapping.constant_dwelling, index=df.index)

    if mapping.id:
        ids = df[mapping.id]
        refuse(ids == "", "empty id")
        refuse(ids.str.len() > 100, lambda b: "id " + b[mapping.id].str.slice(0, 20) + "... longer than 100 characters")
    else:
        # No id column: a stable key from the row's content and its occurrence number.
        content = df[[c for c in needed]].astype(str).agg("\x1f".join, axis=1)
        occ = content.groupby(content).cumcount().astype(str)
        ids = (content + "\x1f" + occ).map(
            lambda s: "row-" + hashlib.sha1(f"{mapping.name}\x1f{s}".encode()).hexdigest()[:32])

    bad = reasons.notna().to_numpy()
    for line, reason in zip(df.loc[bad, "line"], reasons[bad], strict=True):
        quarantined.append(QuarantinedRow(int(line), str(reason), lines[int(line) - 1]))
    keep = ~bad
    ev_ids = ids[keep].astype("string")
    dup = ev_ids.duplicated(keep="first").to_numpy()
    duplicates = [DuplicateRow(int(line), str(k)) for line, k in
                  zip(df.loc[keep, "line"][dup], ev_ids[dup], strict=True)]
    sel = np.flatnonzero(keep)[~dup]
    t = pd.DatetimeIndex(when.iloc[sel]).tz_localize(mapping.timezone, ambiguous="NaT",
                                                     nonexistent="shift_forward")
    n = len(sel)
    events = pd.DataFrame({
        "event_id": ev_ids[~dup].to_numpy(),
        "dataset": np.repeat(mapping.name, n),
        "month": t.strftime("%Y-%m"),
        "time": t,
        "time_precision": np.repeat(precision, n),
        "category": category.iloc[sel].to_numpy(),
        "dwelling": pd.array(dwelling.iloc[sel].tolist(), dtype="boolean"),
        "x": x[sel], "y": y[sel],
        "crs": np.repeat(mapping.project_to, n),
        "lon": lon[sel], "lat": lat[sel],
        "location": np.repeat("", n), "lsoa_code": np.repeat("", n),
        "lsoa_name": np.repeat("", n), "district": np.repeat("", n),
        "outcome": np.repeat("", n),
        "line": df["line"].to_numpy()[sel],
    })
    # A local time that does not exist or is ambiguous (DST change) is shifted/refused above;
    # NaT from an ambiguous hour is quarantined rather than guessed.
    amb = events["time"].isna().to_numpy()
    if amb.any():
        for line in events.loc[amb, "line"]:
            quarantined.append(QuarantinedRow(int(line), "local time is ambiguous (clock change)",
                                               lines[int(line) - 1]))
        events = events[~amb]
    quarantined.sort(key=lambda q: q.line)
    # Left as built (cheap); read_extract() and the store give canonical dtypes.
    return ParsedFile("extract", mapping.name, "", sha256_bytes(data), rows_read,
                      events.reset_index(drop=True), quarantined, duplicates,
                      crs=mapping.project_to, timezone=mapping.timezone)


def read_extract(path: Path | str, mapping: ExtractMapping | Path | str) -> pd.DataFrame:
    """Canonical events of a force extract (valid rows only)."""
    if not isinstance(mapping, ExtractMapping):
        mapping = ExtractMapping.from_toml(mapping)
    parsed = parse_extract(Source(name=str(path), path=Path(path)), mapping)
    return to_canonical(parsed.events.drop(columns=["line"]))

