"""Population tables: which resident figures rates per 1,000 use, and their vintage.

The default is the 2011 Census usual residents shipped with the LSOA table. A force may supply its
own table (ONS mid-year estimates per LSOA or per local authority, or any figures it trusts) as a
CSV with a mapping naming the code and population columns and the vintage. Rows that cannot be
used are quarantined with a reason; the accepted table is kept in ``$GUARDIAN_HOME/population/``
and used for every force it covers completely. A force it does not cover keeps the census figure,
and every output says which figure each force used.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from guardian.data import geography
from guardian.data.quarantine import QuarantinedRow
from guardian.errors import InputError

CENSUS_2011 = geography.POPULATION_VINTAGE
LEVELS = ("lsoa", "lad")
_STORE = "population"


@dataclass(frozen=True)
class PopulationTable:
    """Resident population per area, with its vintage.

    Attributes
    ----------
    vintage : str
        What the figures are (``"ONS mid-2020 estimates"``); printed with every rate.
    level : str
        ``"lsoa"`` (2011 LSOA codes) or ``"lad"`` (2011 local authority codes).
    figures : dict[str, int]
        Area code -> persons.
    source : str
        File the figures came from (empty for the shipped census table).
    sha256 : str
        Hash of that file.
    """

    vintage: str
    level: str
    figures: dict[str, int] = field(repr=False)
    source: str = ""
    sha256: str = ""

    @property
    def user_supplied(self) -> bool:
        return bool(self.source)

    def _areas(self, force: str) -> pd.DataFrame:
        ref = geography.lsoa_table()
        sub = ref[ref["force"] == geography.force_short_name(force)]
        if sub.empty:
            raise InputError(f"unknown force {force!r}; expected one of {list(geography.forces())}")
        return sub

    def covers(self, force: str) -> bool:
        """True when the table has a figure for every area of ``force``."""
        codes = self._areas(force)["lsoa_code" if self.level == "lsoa" else "lad_code"]
        return bool(codes.isin(self.figures.keys()).all())

    def district_population(self, force: str, home: Path | None = None) -> pd.DataFrame | None:
        """Persons per policing district of ``force`` (columns ``district, population``), or
        None when the table does not cover the force."""
        if not self.covers(force):
            return None
        sub = self._areas(force)
        grouping = geography.district_grouping(force, home)
        if self.level == "lsoa":
            sub = sub.assign(population=sub["lsoa_code"].map(self.figures))
        else:
            sub = sub.drop_duplicates("lad_code")
            sub = sub.assign(population=sub["lad_code"].map(self.figures))
        sub = sub.assign(district=sub["lad_name"].map(grouping))
        out = sub.groupby("district", as_index=False)["population"].sum()
        out["population"] = out["population"].astype("int64")
        return out.sort_values("district").reset_index(drop=True)

    def force_population(self, force: str) -> int | None:
        """Persons in ``force``'s area, or None when the table does not cover it."""
        d = self.district_population(force)
        return None if d is None else int(d["population"].sum())

    def describe(self) -> str:
        """One line for reports: the vintage and, for a supplied table, its file and hash."""
        if not self.user_supplied:
            return self.vintage
        return f"{self.vintage} (supplied: {self.source}, sha256 {self.sha256[:12]})"

    def to_dict(self) -> dict:
        return {"vintage": self.vintage, "level": self.level, "source": self.source,
                "sha256": self.sha256, "areas": len(self.figures)}


@lru_cache(maxsize=1)
def census_2011() -> PopulationTable:
    """The shipped 2011 Census usual residents per LSOA."""
    ref = geography.lsoa_table()
    return PopulationTable(
        vintage=CENSUS_2011,
        level="lsoa",
        figures=dict(zip(ref["lsoa_code"], ref["population"].astype(int), strict=True)),
    )


@dataclass(frozen=True)
class PopulationMapping:
    """How to read a supplied population CSV.

    Attributes
    ----------
    code_column, population_column : str
        Header names of the area code and the persons columns.
    vintage : str
        What the figures are; required.
    level : str or None
        ``"lsoa"`` or ``"lad"``; None infers it from the codes.
    skip_rows : int
        Lines before the header (notes at the top of ONS downloads).
    """

    code_column: str
    population_column: str
    vintage: str
    level: str | None = None
    skip_rows: int = 0

    @classmethod
    def from_toml(cls, path: Path, **overrides) -> PopulationMapping:
        """Read ``[population]`` from a TOML mapping file; keyword arguments that are not None
        win over the file."""
        try:
            with open(path, "rb") as fh:
                conf = tomllib.load(fh).get("population", {})
        except FileNotFoundError:
            raise InputError(f"population mapping {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not a TOML file ({exc})") from exc
        known = {"code_column", "population_column", "vintage", "level", "skip_rows"}
        unknown = sorted(set(conf) - known)
        if unknown:
            raise InputError(f"{path}: unknown keys in [population]: {unknown}; "
                             f"expected {sorted(known)}")
        conf.update({k: v for k, v in overrides.items() if v is not None})
        return cls.build(**conf)

    @classmethod
    def build(cls, **kw) -> PopulationMapping:
        """Check and build a mapping from keyword arguments."""
        missing = [k for k in ("code_column", "population_column", "vintage")
                   if not str(kw.get(k) or "").strip()]
        if missing:
            raise InputError(f"population mapping: {', '.join(missing)} required (e.g. "
                             f"--code-column LSOA11CD --population-column 'All Ages' "
                             f"--vintage 'ONS mid-2020 estimates')")
        level = kw.get("level")
        if level is not None and level not in LEVELS:
            raise InputError(f"population mapping: level {level!r}; expected one of {LEVELS}")
        skip = kw.get("skip_rows", 0) or 0
        if not isinstance(skip, int) or skip < 0:
            raise InputError(f"population mapping: skip_rows {skip!r}; expected a whole number")
        return cls(code_column=str(kw["code_column"]), population_column=str(kw["population_column"]),
                   vintage=str(kw["vintage"]).strip(), level=level, skip_rows=skip)


def _level_of(code: str) -> str | None:
    if code[:3] in ("E01", "W01"):
        return "lsoa"
    if code[:3] in ("E06", "E07", "E08", "E09", "W06"):
        return "lad"
    return None


def read_population(path: Path, mapping: PopulationMapping) -> tuple[PopulationTable,
                                                                    list[QuarantinedRow]]:
    """Read and validate a supplied population CSV.

    A row is quarantined (with its line and reason) when its code is blank, not a 2011 LSOA or
    authority code of England and Wales, of the other level, repeated, or its population is not
    a whole number of persons >= 0.

    Returns
    -------
    (PopulationTable, list of QuarantinedRow)

    Raises
    ------
    InputError
        When the file cannot be read, a mapped column is missing, or no row is usable.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable gzip file ({exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})") from exc
    lines = text.splitlines()
    reader = csv.reader(io.StringIO("\n".join(lines[mapping.skip_rows:])))
    header = next(reader, None)
    if not header:
        raise InputError(f"{path}: empty (no header after {mapping.skip_rows} skipped lines)")
    header = [h.strip() for h in header]
    for col in (mapping.code_column, mapping.population_column):
        if col not in header:
            raise InputError(f"{path}: no column {col!r}; the header (line "
                             f"{mapping.skip_rows + 1}) has {header}; set skip_rows when the "
                             f"file has notes above its header")
    ci, pi = header.index(mapping.code_column), header.index(mapping.population_column)
    ref = geography.lsoa_table()
    known = {"lsoa": set(ref["lsoa_code"]), "lad": set(ref["lad_code"])}
    level = mapping.level
    figures: dict[str, int] = {}
    bad: list[QuarantinedRow] = []
    first = mapping.skip_rows + 2
    for n, row in enumerate(reader, start=first):
        raw_line = ",".join(row)
        if not any(c.strip() for c in row):
            continue
        code = row[ci].strip() if ci < len(row) else ""
        value = row[pi].strip().replace(",", "") if pi < len(row) else ""
        row_level = _level_of(code)
        if not code:
            bad.append(QuarantinedRow(n, "blank area code", raw_line))
            continue
        if row_level is None or code not in known[row_level]:
            bad.append(QuarantinedRow(
                n, f"{code!r} is not a 2011 LSOA or local authority code of England and Wales",
                raw_line))
            continue
        if level is None:
            level = row_level
        if row_level != level:
            bad.append(QuarantinedRow(n, f"{code!r} is a {row_level} code in a {level} table",
                                      raw_line))
            continue
        try:
            persons = int(float(value)) if value and float(value) == int(float(value)) else None
        except (ValueError, OverflowError):
            persons = None
        if persons is None or persons < 0:
            bad.append(QuarantinedRow(
                n, f"population {value!r} is not a whole number of persons >= 0", raw_line))
            continue
        if code in figures:
            bad.append(QuarantinedRow(n, f"{code} repeated (kept the first, line earlier)",
                                      raw_line))
            continue
        figures[code] = persons
    if not figures:
        raise InputError(f"{path}: no usable rows ({len(bad)} quarantined"
                         + (f"; first: line {bad[0].line}: {bad[0].reason}" if bad else "") + ")")
    table = PopulationTable(vintage=mapping.vintage, level=level or "lsoa", figures=figures,
                            source=path.name, sha256=digest)
    return table, bad


def _dir(home: Path) -> Path:
    return Path(home) / _STORE


def save_population(home: Path, table: PopulationTable,
                    quarantined: list[QuarantinedRow]) -> Path:
    """Make ``table`` the active population table of ``home``; its quarantine beside it.

    Written to a temporary file and renamed, so a crash leaves the previous table in force.
    """
    d = _dir(home)
    d.mkdir(parents=True, exist_ok=True)
    qpath = d / "quarantine.csv"
    qtmp = d / "quarantine.csv.tmp"
    with open(qtmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["line", "reason", "raw"])
        for q in quarantined:
            w.writerow([q.line, q.reason, q.raw])
    doc = table.to_dict() | {"figures": table.figures, "quarantined": len(quarantined)}
    out = d / "active.json"
    tmp = d / "active.json.tmp"
    tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
    os.replace(qtmp, qpath)
    os.replace(tmp, out)
    return out


def clear_population(home: Path) -> bool:
    """Go back to the 2011 Census; True when a supplied table was in force."""
    out = _dir(home) / "active.json"
    if out.exists():
        out.unlink()
        return True
    return False


def active_population(home: Path | None) -> PopulationTable:
    """The supplied table in force in ``home``, else the 2011 Census.

    Raises
    ------
    InputError
        When the stored table is unreadable (the message says how to replace or clear it).
    """
    path = None if home is None else _dir(home) / "active.json"
    if path is None or not path.exists():
        return census_2011()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return PopulationTable(vintage=doc["vintage"], level=doc["level"],
                               figures={k: int(v) for k, v in doc["figures"].items()},
                               source=doc["source"], sha256=doc["sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{path}: the stored population table is unreadable ({exc}); import it again with "
            f"`guardian reference population import` or run `guardian reference population clear`"
        ) from exc


@dataclass(frozen=True)
class ForcePopulations:
    """The population each force's rates use and the vintage it comes from."""

    populations: dict[str, int | None]
    vintages: dict[str, str]

    def describe(self) -> str:
        """``"<vintage> for A, B; <vintage> for C"``, or just the vintage when all agree."""
        by: dict[str, list[str]] = {}
        for ds, v in self.vintages.items():
            by.setdefault(v, []).append(geography.force_short_name(ds))
        if len(by) <= 1:
            return next(iter(by), CENSUS_2011)
        return "; ".join(f"{v} for {', '.join(sorted(fs))}" for v, fs in by.items()) + (
            " -- mixed vintages: compare rates with care")


def force_populations(datasets, table: PopulationTable) -> ForcePopulations:
    """Population per dataset (force): from ``table`` where it covers the force, else the 2011
    Census; None for a dataset that is not a force of England and Wales."""
    census = census_2011()
    pops: dict[str, int | None] = {}
    vint: dict[str, str] = {}
    for ds in datasets:
        short = geography.force_short_name(ds)
        if short not in geography.forces():
            pops[ds] = None
            continue
        own = table.force_population(short) if table.user_supplied else None
        if own is not None:
            pops[ds], vint[ds] = own, table.describe()
        else:
            pops[ds] = census.force_population(short)
            vint[ds] = CENSUS_2011 + (" (the supplied table does not cover it)"
                                      if table.user_supplied else "")
    return ForcePopulations(pops, vint)
