"""Reference geography: LSOA -> local authority -> force, population, policing districts.

The table ships with the package (``data/reference/lsoa2011.csv.gz``; provenance in
``data/reference/SOURCE.md``). A policing district is the local authority by default; a force can
declare its own grouping in ``forces.toml`` (package default, overridden by
``$GUARDIAN_HOME/forces.toml``).
"""

from __future__ import annotations

import re
import statistics
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pandas as pd

from guardian.data import similar_forces
from guardian.errors import InputError

POPULATION_VINTAGE = "ONS 2011 Census usual residents (LSOA 2011)"
OUTSIDE = "Outside force area"

_SUFFIXES = re.compile(r"\s+(police service|constabulary|police)$", re.IGNORECASE)


def _key(name: str) -> str:
    return " ".join(str(name).strip().lower().replace("&", " and ").replace("_", " ").split())


@lru_cache(maxsize=1)
def authority_table() -> pd.DataFrame:
    """Local authority (2011) -> police force area table.

    Returns
    -------
    DataFrame
        Columns ``lad_code, lad_name, force, force_name, police_uk_id``: one row per 2011
        local authority of England and Wales (348), each wholly in one of the 43 force areas.
    """
    ref = resources.files("guardian.data") / "reference" / "lad2011_pfa.csv"
    with resources.as_file(ref) as path:
        return pd.read_csv(path, dtype=str, keep_default_na=False)


@lru_cache(maxsize=1)
def _force_names() -> dict[str, str]:
    """Every spelling Guardian accepts for a force -> its short name."""
    out: dict[str, str] = {}
    forces_ = authority_table().drop_duplicates("force")
    for row in forces_.itertuples(index=False):
        for spelling in (row.force, row.force_name, row.police_uk_id,
                         row.police_uk_id.replace("-", " ")):
            out[_key(spelling)] = row.force
        out[_key(_SUFFIXES.sub("", row.force_name))] = row.force
    out[_key("metropolitan")] = "Metropolitan Police"
    return out


def force_short_name(name: str) -> str:
    """Short force name as used by the reference tables.

    Accepts the short name, the full name as police.uk prints it, or the police.uk force id:
    ``"Essex Police" -> "Essex"``, ``"Devon & Cornwall Police" -> "Devon and Cornwall"``,
    ``"metropolitan" -> "Metropolitan Police"``, ``"dyfed-powys" -> "Dyfed-Powys"``. A name that
    is none of these comes back with a trailing Police / Constabulary / Police Service removed.
    """
    names = _force_names()
    key = _key(name)
    if key in names:
        return names[key]
    short = _SUFFIXES.sub("", str(name).strip())
    return names.get(_key(short), short)


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
    """Short names of the 43 territorial forces of England and Wales."""
    return tuple(sorted(authority_table()["force"].unique()))


def _load_toml(path: Path) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


DERIVED_SOURCE = (
    "derived by Guardian from 2011 Census density, sparsity and household features (k nearest "
    "forces, k = {k}); not an official HMICFRS most similar group; verify before publication."
)


def derived_group_entry(group: similar_forces.DerivedGroup, typical_nearest: float) -> dict:
    """One derived group as a comparison-groups table entry (``members, distances, as_of,
    source, derived = True``); ``source`` says how it was derived, why, and -- for a force that
    is not comparable -- that its ranking should not be read as like-for-like
    (``typical_nearest``: the median distance of a comparable force to its nearest, quoted
    beside this force's own)."""
    source = DERIVED_SOURCE.format(k=len(group.members)) + " Why: " + group.why
    if not group.comparable:
        source += (
            f" {group.force} is not comparable with any other force (fewer than "
            f"{similar_forces.MIN_COMPARABLE_POPULATION:,} residents, a tiny residential "
            f"population beside a large daytime one; distance to its nearest force "
            f"{group.distances[0]:.1f}, against a median of {typical_nearest:.1f} for the other "
            f"forces): this group is only its nearest forces, "
            f"not a set of peers."
        )
    return {"members": list(group.members), "distances": [round(d, 4) for d in group.distances],
            "as_of": similar_forces.PROFILE_VINTAGE, "source": source, "derived": True}


def derived_comparison_groups() -> dict[str, dict]:
    """Derived comparison groups of all 43 forces (:mod:`guardian.data.similar_forces` on the
    shipped 2011 Census force profile), as comparison-groups table entries.

    Raises
    ------
    InputError
        When the shipped profile does not cover exactly the 43 forces of :func:`forces`.
    """
    groups = similar_forces.shipped_groups()
    if sorted(groups) != list(forces()):
        raise InputError(
            f"{similar_forces.PROFILE_FILE}: forces {sorted(groups)} differ from the reference "
            f"forces {list(forces())}; rebuild it with scripts/build_reference.py"
        )
    typical = statistics.median(g.distances[0] for g in groups.values() if g.comparable)
    return {force: derived_group_entry(g, typical) for force, g in groups.items()}


def comparison_groups_config(path: Path | None = None) -> dict:
    """The comparison groups table (forces and their most similar forces).

    With ``path`` None: the table shipped with Guardian -- the groups in
    ``reference/comparison_groups.toml`` (default groups after the HMICFRS most-similar-group
    concept, each with its date and source), and for every other of the 43 forces the group
    derived from the 2011 Census force profile (:func:`derived_comparison_groups`: ``as_of`` "2011
    Census", ``derived = true``, ``source`` saying it is not an official most similar group).
    A TOML group always takes precedence over a derived one.

    With ``path``: the TOML file at ``path`` exactly as written (a force's own table); derived
    groups are not added, so a force without a group there has none.

    Raises :class:`InputError` when ``path`` does not exist or is not TOML.
    """
    if path is None:
        ref = resources.files("guardian.data") / "reference" / "comparison_groups.toml"
        with resources.as_file(ref) as p:
            conf = _load_toml(p)
        groups = conf.setdefault("groups", {})
        have = {k.strip().lower() for k in groups}
        for force, entry in derived_comparison_groups().items():
            if force.lower() not in have:
                groups[force] = entry
        return conf
    if not Path(path).is_file():
        raise InputError(f"comparison groups file {str(path)!r} does not exist")
    try:
        return _load_toml(Path(path))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not a TOML file ({exc})") from exc


def _district_config(home: Path | None) -> dict[str, dict]:
    ref = resources.files("guardian.data") / "reference" / "forces.toml"
    with resources.as_file(ref) as p:
        conf = _load_toml(p)
    districts = dict(conf.get("districts", {}))
    if home is not None and (home / "forces.toml").exists():
        try:
            user = _load_toml(home / "forces.toml")
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{home / 'forces.toml'}: not a TOML file ({exc})") from exc
        districts.update(user.get("districts", {}))
    return {force_short_name(k): v for k, v in districts.items()}


def district_grouping(force: str, home: Path | None = None) -> dict[str, str]:
    """Map local authority name -> policing district name for a force.

    Reads ``[districts.<force>]`` from the package ``forces.toml`` and, if present,
    ``home/forces.toml`` (which wins). A force with no entry has one district per authority. A
    force that declares districts must put every one of its authorities in exactly one of them.

    Raises
    ------
    InputError
        When a declared grouping names an authority of another force, names one twice, or
        leaves one out.
    """
    short = force_short_name(force)
    groups = _district_config(home).get(short, {})
    lads = set(lsoa_table().loc[lambda d: d["force"] == short, "lad_name"])
    mapping = {lad: lad for lad in lads}
    if not groups:
        return mapping
    seen: dict[str, str] = {}
    for district, members in groups.items():
        if isinstance(members, str) or not isinstance(members, list):
            raise InputError(
                f"forces.toml: district {district!r} of {short} must list authority names, "
                f"e.g. {district!r} = [{sorted(lads)[0]!r}]"
            )
        for lad in members:
            if lad not in lads:
                raise InputError(
                    f"forces.toml: district {district!r} of {short} lists {lad!r}, which is not a "
                    f"local authority of {short}; expected one of {sorted(lads)}"
                )
            if lad in seen:
                raise InputError(
                    f"forces.toml: {lad!r} is in two districts of {short}: {seen[lad]!r} and "
                    f"{district!r}; every authority belongs to exactly one district"
                )
            seen[lad] = district
            mapping[lad] = district
    left = sorted(lads - set(seen))
    if left:
        raise InputError(
            f"forces.toml: the districts of {short} leave out {', '.join(map(repr, left))}; "
            f"every authority of the force belongs to exactly one district"
        )
    return mapping


def check_district_config(home: Path | None = None) -> dict[str, int]:
    """Validate every force's district grouping (package and ``home/forces.toml``).

    Returns
    -------
    dict
        Force short name -> number of policing districts, for every force in the tables.

    Raises
    ------
    InputError
        On a grouping for a force that is not one of the 43, or any grouping error of
        :func:`district_grouping`.
    """
    for name in _district_config(home):
        if force_short_name(name) not in forces():
            raise InputError(
                f"forces.toml: [districts.{name}] is not a force of England and Wales; expected "
                f"one of {list(forces())}"
            )
    return {f: len(set(district_grouping(f, home).values())) for f in forces()}


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
