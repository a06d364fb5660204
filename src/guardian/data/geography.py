"""Reference geography: LSOA -> local authority -> force, population, policing districts.

The table ships with the package (``data/reference/lsoa2011.csv.gz``; provenance in
``data/reference/SOURCE.md``). A policing district is the local authority by default; a force can
declare its own grouping in ``forces.toml`` (package default, overridden by
``$GUARDIAN_HOME/forces.toml``).
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from guardian.errors import InputError

POPULATION_VINTAGE = "ONS 2011 Census usual residents (LSOA 2011)"
OUTSIDE = "Outside force area"

_SUFFIXES = re.compile(r"\s+(police service|constabulary|police)$", re.IGNORECASE)
_SPECIAL = {
    "metropolitan police service": "Metropolitan Police",
    "city of london police": "City of London",
    "dyfed-powys police": "Dyfed-Powys",
}


def force_short_name(name: str) -> str:
    """Short force name as used by the reference table.

    ``"Essex Police" -> "Essex"``, ``"Hampshire Constabulary" -> "Hampshire"``,
    ``"essex" -> "Essex"``.
    """
    key = name.strip().lower()
    if key in _SPECIAL:
        return _SPECIAL[key]
    short = _SUFFIXES.sub("", name.strip())
    known = {f.lower(): f for f in forces()}
    return known.get(short.lower(), short)


@lru_cache(maxsize=1)
def lsoa_table() -> pd.DataFrame:
    """LSOA reference table.

    Returns
    -------
    DataFrame
        Columns ``lsoa_code, lsoa_name, lad_code, lad_name, force, population, households``;
        population is 2011 Census usual residents (persons).
    """
    ref = resources.files("guardian.data") / "reference" / "lsoa2011.csv.gz"
    with resources.as_file(ref) as path:
        df = pd.read_csv(path, dtype={"lsoa_code": str, "lsoa_name": str, "lad_code": str,
                                      "lad_name": str, "force": str})
    return df


@lru_cache(maxsize=1)
def forces() -> tuple[str, ...]:
    """Short names of all forces in the reference table."""
    return tuple(sorted(lsoa_table()["force"].unique()))


def _load_toml(path: Path) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def comparison_groups_config(path: Path | None = None) -> dict:
    """The comparison groups table (forces and their most similar forces): the one shipped
    with Guardian (``reference/comparison_groups.toml``: default groups after the HMICFRS
    most-similar-group concept, each with its date and source), or the TOML file at ``path``.

    Raises :class:`InputError` when ``path`` does not exist or is not TOML.
    """
    if path is None:
        ref = resources.files("guardian.data") / "reference" / "comparison_groups.toml"
        with resources.as_file(ref) as p:
            return _load_toml(p)
    if not Path(path).is_file():
        raise InputError(f"comparison groups file {str(path)!r} does not exist")
    try:
        return _load_toml(Path(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not a TOML file ({exc})") from exc


def district_grouping(force: str, home: Path | None = None) -> dict[str, str]:
    """Map local authority name -> policing district name for a force.

    Reads ``[districts.<force>]`` from the package ``forces.toml`` and, if present,
    ``home/forces.toml`` (which wins). Authorities not named keep their own name.
    """
    short = force_short_name(force)
    ref = resources.files("guardian.data") / "reference" / "forces.toml"
    with resources.as_file(ref) as p:
        conf = _load_toml(p)
    if home is not None and (home / "forces.toml").exists():
        user = _load_toml(home / "forces.toml")
        conf.setdefault("districts", {}).update(user.get("districts", {}))
    groups = conf.get("districts", {}).get(short, {})
    lads = set(lsoa_table().loc[lambda d: d["force"] == short, "lad_name"])
    mapping = {lad: lad for lad in lads}
    for district, members in groups.items():
        for lad in members:
            if lad not in lads:
                raise InputError(
                    f"forces.toml: district {district!r} of {short} lists {lad!r}, which is not a "
                    f"local authority of {short}; expected one of {sorted(lads)}"
                )
            mapping[lad] = district
    return mapping


def districts_for(lsoa_codes: pd.Series, force: str, home: Path | None = None) -> pd.Series:
    """Policing district of each LSOA code for ``force``.

    LSOAs of another force (or not in the reference table) give ``"Outside force area"``;
    empty codes give ``""``.
    """
    short = force_short_name(force)
    ref = lsoa_table()
    grouping = district_grouping(short, home)
    lad = ref.set_index("lsoa_code")["lad_name"]
    owner = ref.set_index("lsoa_code")["force"]
    codes = lsoa_codes.astype("string").fillna("")
    lad_of = codes.map(lad)
    owner_of = codes.map(owner)
    out = lad_of.map(grouping)
    out = out.where(owner_of == short, OUTSIDE)
    out = out.where(codes != "", "")
    return out.astype("string").fillna("")


def fill_districts(events: pd.DataFrame) -> pd.DataFrame:
    """Events with an empty ``district`` filled from their LSOA (:func:`districts_for`), for
    datasets whose force is in the reference table; other rows are left as they are."""
    if events.empty:
        return events
    todo = (events["district"].fillna("") == "") & (events["lsoa_code"].fillna("") != "")
    if not todo.any():
        return events
    events = events.copy()
    for ds in events.loc[todo, "dataset"].unique():
        short = force_short_name(str(ds))
        if short not in forces():
            continue
        rows = todo & (events["dataset"] == ds)
        events.loc[rows, "district"] = districts_for(events.loc[rows, "lsoa_code"], short).to_numpy()
    return events


def district_population(force: str, home: Path | None = None) -> pd.DataFrame:
    """Population per policing district of ``force``.

    Returns
    -------
    DataFrame
        Columns ``district, population, households`` (persons, households; 2011 Census),
        one row per district, sorted by name.
    """
    short = force_short_name(force)
    ref = lsoa_table()
    sub = ref[ref["force"] == short]
    if sub.empty:
        raise InputError(f"unknown force {force!r}; expected one of {list(forces())}")
    grouping = district_grouping(short, home)
    sub = sub.assign(district=sub["lad_name"].map(grouping))
    out = sub.groupby("district", as_index=False)[["population", "households"]].sum()
    return out.sort_values("district").reset_index(drop=True)


def force_population(force: str) -> int:
    """Total 2011 Census usual residents of a force area (persons)."""
    short = force_short_name(force)
    ref = lsoa_table()
    sub = ref[ref["force"] == short]
    if sub.empty:
        raise InputError(f"unknown force {force!r}; expected one of {list(forces())}")
    return int(sub["population"].sum())
