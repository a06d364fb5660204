"""Building the shipped LSOA reference table from the census file and the authority table.

The LSOA table (``reference/lsoa2011.csv.gz``) is derived data: every 2011 LSOA of England and
Wales from the ONS 2011 Census usual-resident file, its local authority from the same file, and its
police force area from ``reference/lad2011_pfa.csv`` (one row per 2011 local authority). The build
refuses -- it never drops rows -- when an LSOA has no force, a force has no population, an
authority appears in one table and not the other, or the totals do not add up.
``scripts/build_reference.py`` runs it; a test checks the shipped table is what it builds.

The force profile table (``reference/force_profile_2011.csv``) is derived from the same census file
and the LSOA table: one row per force with its size, density, sparsity, household size and
communal-establishment share (:func:`build_force_profile`), the input of
:mod:`guardian.data.similar_forces`.
"""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from guardian.errors import InputError

#: 2011 Census, England and Wales: LSOAs, usual residents (ONS table KS101EW).
EW_LSOAS_2011 = 34_753
EW_USUAL_RESIDENTS_2011 = 56_075_912
EW_FORCES = 43

LAD_COLUMNS = ("lad_code", "lad_name", "force", "force_name", "police_uk_id")
LSOA_COLUMNS = ("lsoa_code", "lsoa_name", "lad_code", "lad_name", "force", "population",
                "households")
PROFILE_COLUMNS = ("force", "lsoas", "population", "households", "hectares",
                   "persons_per_hectare", "persons_per_household", "communal_share",
                   "sparse_share", "dense_share")

#: An LSOA below this density (persons per hectare, ONS's published LSOA figure) counts as
#: sparse. 5 persons/ha (500 per km2) is well under the least dense urban LSOAs; about one LSOA in
#: six in England and Wales falls below it, mostly in rural towns, villages and open country.
SPARSE_BELOW_PPH = 5.0
#: An LSOA above this density (persons per hectare) counts as dense: inner-urban terraces and
#: flats; about one LSOA in three falls above it, most in the conurbations.
DENSE_ABOVE_PPH = 50.0
#: Decimal places of the ratio columns of the shipped profile (so a rebuild is byte-identical).
PROFILE_DECIMALS = 6


class ReferenceBuildError(InputError):
    """The reference inputs do not make a complete, consistent table; the message lists why."""


def _int(text: str) -> int:
    return int(str(text).replace(",", "").strip())


def read_census(path: Path) -> pd.DataFrame:
    """The ONS 2011 Census usual-resident file per LSOA (``census_2011_population_hh.csv``).

    Columns are read by position because the file repeats ``Persons`` three times (all usual
    residents, in households, in communal establishments) and has a blank column name.

    Returns
    -------
    DataFrame
        ``lsoa_code, lsoa_name, lad_code, lad_name, population, in_households, communal,
        households, hectares, persons_per_hectare`` (persons; households; area in hectares as
        ONS prints it, rounded to whole hectares; ONS's persons per hectare, computed by ONS from
        the unrounded area, one decimal).

    Raises
    ------
    ReferenceBuildError
        On a short row, a number that does not parse, or residents that do not add up.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    problems: list[str] = []
    out = []
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or len(header) < 15 or header[6] != "LSOA Code":
            raise ReferenceBuildError(
                f"{path}: not the census LSOA file (expected 'LSOA Code' as column 7, got "
                f"{header[:8] if header else 'an empty file'})"
            )
        for line, row in enumerate(reader, start=2):
            if len(row) < 15:
                problems.append(f"line {line}: {len(row)} columns, expected 16")
                continue
            try:
                persons, in_hh, communal, ha, hh = (_int(row[i]) for i in (9, 10, 11, 12, 14))
                pph = float(str(row[13]).replace(",", "").strip())
            except ValueError:
                problems.append(f"line {line}: a number does not parse in {row[9:15]}")
                continue
            if persons != in_hh + communal:
                problems.append(
                    f"line {line} ({row[6]}): usual residents {persons} != {in_hh} in households "
                    f"+ {communal} communal"
                )
            out.append((row[6], row[7], row[2], row[3], persons, in_hh, communal, hh, ha, pph))
    if problems:
        raise ReferenceBuildError(f"{path}: {len(problems)} bad rows: " + "; ".join(problems[:10]))
    return pd.DataFrame(out, columns=["lsoa_code", "lsoa_name", "lad_code", "lad_name",
                                      "population", "in_households", "communal", "households",
                                      "hectares", "persons_per_hectare"])


def read_authorities(path: Path) -> pd.DataFrame:
    """The local authority -> police force area table (``lad2011_pfa.csv``), checked.

    Raises
    ------
    ReferenceBuildError
        On missing columns, a blank cell, a repeated authority code, or a force spelled with two
        full names or ids.
    """
    text = Path(path).read_text(encoding="utf-8")
    df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in LAD_COLUMNS if c not in df.columns]
    if missing:
        raise ReferenceBuildError(f"{path}: missing columns {missing}; expected {list(LAD_COLUMNS)}")
    df = df[list(LAD_COLUMNS)].apply(lambda s: s.str.strip())
    problems = []
    for col in LAD_COLUMNS:
        blank = df.index[df[col] == ""]
        for i in blank:
            problems.append(f"line {i + 2} ({df.at[i, 'lad_code'] or '?'}): blank {col}")
    dup = df["lad_code"][df["lad_code"].duplicated() & (df["lad_code"] != "")]
    problems += [f"authority {c} listed more than once" for c in sorted(set(dup))]
    for col in ("force_name", "police_uk_id"):
        n = df[df["force"] != ""].groupby("force")[col].nunique()
        problems += [f"force {f!r} has {k} different {col} values" for f, k in n[n > 1].items()]
    if problems:
        raise ReferenceBuildError(f"{path}: " + "; ".join(problems))
    return df


def build_lsoa_table(census: pd.DataFrame, authorities: pd.DataFrame,
                     cross_check: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per LSOA with its authority, force, population and households.

    Parameters
    ----------
    census : DataFrame
        From :func:`read_census`.
    authorities : DataFrame
        From :func:`read_authorities`.
    cross_check : DataFrame, optional
        ``lad_code, force`` pairs from another lookup; any authority it assigns to a different
        force is an error (blank forces in it are ignored).

    Raises
    ------
    ReferenceBuildError
        When any LSOA lacks a force, an authority is in one input only, a force has no
        population, LSOA codes repeat, or per-force sums do not add up to the census total.
    """
    problems: list[str] = []
    dup = census["lsoa_code"][census["lsoa_code"].duplicated()]
    if len(dup):
        problems.append(f"{len(dup)} LSOA codes repeat in the census file (e.g. {dup.iloc[0]})")
    lad = authorities.set_index("lad_code")
    census_lads = census.drop_duplicates("lad_code").set_index("lad_code")["lad_name"]
    no_force = census_lads[~census_lads.index.isin(lad.index)]
    if len(no_force):
        n = int(census["lad_code"].isin(no_force.index).sum())
        problems.append(
            f"{n} LSOAs have no police force: their authorities are not in the authority table: "
            + ", ".join(f"{c} {name}" for c, name in no_force.items())
        )
    extra = lad.index[~lad.index.isin(census_lads.index)]
    if len(extra):
        problems.append(f"authorities not in the census file: {', '.join(extra)}")
    renamed = [
        f"{c} is {census_lads[c]!r} in the census, {lad.at[c, 'lad_name']!r} in the authority table"
        for c in census_lads.index.intersection(lad.index)
        if census_lads[c] != lad.at[c, "lad_name"]
    ]
    problems += renamed
    if cross_check is not None:
        cc = cross_check[cross_check["force"].fillna("").str.strip() != ""]
        cc = cc.drop_duplicates(["lad_code", "force"]).set_index("lad_code")["force"]
        for code, force in cc.items():
            if code in lad.index and lad.at[code, "force"] != force:
                problems.append(
                    f"{code} {lad.at[code, 'lad_name']}: force {lad.at[code, 'force']!r} here, "
                    f"{force!r} in the cross-check lookup"
                )
    if problems:
        raise ReferenceBuildError("; ".join(problems))
    df = census.merge(lad[["force"]], left_on="lad_code", right_index=True, how="left")
    by_force = df.groupby("force")["population"].sum()
    empty = sorted(set(authorities["force"]) - set(by_force[by_force > 0].index))
    if empty:
        raise ReferenceBuildError(f"forces without population: {', '.join(empty)}")
    if int(by_force.sum()) != int(census["population"].sum()) or len(df) != len(census):
        raise ReferenceBuildError(
            f"totals do not add up: forces sum to {int(by_force.sum()):,} persons over {len(df):,} "
            f"LSOAs; the census file has {int(census['population'].sum()):,} over {len(census):,}"
        )
    return df[list(LSOA_COLUMNS)].sort_values("lsoa_code").reset_index(drop=True)


def check_england_and_wales(table: pd.DataFrame) -> None:
    """Refuse a table that is not the whole of England and Wales in 2011 (LSOAs, persons,
    forces)."""
    got = (len(table), int(table["population"].sum()), table["force"].nunique())
    want = (EW_LSOAS_2011, EW_USUAL_RESIDENTS_2011, EW_FORCES)
    if got != want:
        raise ReferenceBuildError(
            f"the table has {got[0]:,} LSOAs, {got[1]:,} persons and {got[2]} forces; England "
            f"and Wales (2011 Census) had {want[0]:,}, {want[1]:,} and {want[2]}"
        )


def write_lsoa_table(table: pd.DataFrame, out: Path) -> None:
    """Write the table gzip-compressed with a fixed mtime, so a rebuild is byte-identical."""
    tmp = out.with_name(out.name + ".tmp")
    table.to_csv(tmp, index=False, compression={"method": "gzip", "mtime": 0})
    tmp.replace(out)


def build_force_profile(census: pd.DataFrame, lsoas: pd.DataFrame, *,
                        sparse_below: float = SPARSE_BELOW_PPH,
                        dense_above: float = DENSE_ABOVE_PPH) -> pd.DataFrame:
    """One row per police force: the 2011 Census features that describe how it is settled.

    Parameters
    ----------
    census : DataFrame
        From :func:`read_census` (needs ``lsoa_code, population, in_households, communal,
        households, hectares, persons_per_hectare``).
    lsoas : DataFrame
        The LSOA -> force table (:func:`build_lsoa_table`, or the shipped ``lsoa2011.csv.gz``).
    sparse_below, dense_above : float
        LSOA density thresholds, persons per hectare (ONS's published LSOA density): residents of
        LSOAs strictly below ``sparse_below`` count as sparse, strictly above ``dense_above`` as
        dense.

    Returns
    -------
    DataFrame
        :data:`PROFILE_COLUMNS`, sorted by force: ``lsoas`` (count), ``population`` (usual
        residents), ``households``, ``hectares`` (sum of the LSOAs' rounded areas),
        ``persons_per_hectare`` (population / hectares, force-wide), ``persons_per_household``
        (residents in households / households), ``communal_share`` (residents in communal
        establishments / all residents), ``sparse_share`` and ``dense_share`` (share of
        residents living in sparse / dense LSOAs). Ratios are rounded to
        :data:`PROFILE_DECIMALS` places.

    Raises
    ------
    ReferenceBuildError
        When an LSOA is in one table and not the other, or the two disagree on an LSOA's
        population or households (the profile would then not describe the shipped table).
    """
    if not dense_above > sparse_below > 0:
        raise ReferenceBuildError(
            f"density thresholds must satisfy dense_above > sparse_below > 0; got "
            f"{sparse_below} and {dense_above}")
    cols = ["lsoa_code", "population", "in_households", "communal", "households", "hectares",
            "persons_per_hectare"]
    df = lsoas[["lsoa_code", "force", "population", "households"]].merge(
        census[cols], on="lsoa_code", how="outer", suffixes=("", "_census"), indicator=True)
    problems = []
    for side, label in (("left_only", "the LSOA table only"), ("right_only", "the census only")):
        codes = df.loc[df["_merge"] == side, "lsoa_code"]
        if len(codes):
            problems.append(f"{len(codes)} LSOAs in {label} (e.g. {codes.iloc[0]})")
    both = df[df["_merge"] == "both"]
    for col in ("population", "households"):
        off = both[both[col] != both[f"{col}_census"]]
        if len(off):
            problems.append(f"{len(off)} LSOAs with a different {col} in the two tables "
                            f"(e.g. {off['lsoa_code'].iloc[0]})")
    if problems:
        raise ReferenceBuildError("force profile: " + "; ".join(problems))
    df = both.assign(
        sparse=both["population"].where(both["persons_per_hectare"] < sparse_below, 0),
        dense=both["population"].where(both["persons_per_hectare"] > dense_above, 0),
    )
    g = df.groupby("force").agg(
        lsoas=("lsoa_code", "size"), population=("population", "sum"),
        households=("households", "sum"), hectares=("hectares", "sum"),
        in_households=("in_households", "sum"), communal=("communal", "sum"),
        sparse=("sparse", "sum"), dense=("dense", "sum"),
    ).reset_index()
    out = pd.DataFrame({
        "force": g["force"],
        "lsoas": g["lsoas"].astype(int),
        "population": g["population"].astype(int),
        "households": g["households"].astype(int),
        "hectares": g["hectares"].astype(int),
        "persons_per_hectare": g["population"] / g["hectares"],
        "persons_per_household": g["in_households"] / g["households"],
        "communal_share": g["communal"] / g["population"],
        "sparse_share": g["sparse"] / g["population"],
        "dense_share": g["dense"] / g["population"],
    })
    ratios = list(PROFILE_COLUMNS[5:])
    out[ratios] = out[ratios].round(PROFILE_DECIMALS)
    return out[list(PROFILE_COLUMNS)].sort_values("force").reset_index(drop=True)


def write_force_profile(profile: pd.DataFrame, out: Path) -> None:
    """Write the force profile as plain CSV (fixed decimals, ``\\n`` line ends), atomically."""
    tmp = out.with_name(out.name + ".tmp")
    profile.to_csv(tmp, index=False, lineterminator="\n",
                   float_format=f"%.{PROFILE_DECIMALS}f")
    tmp.replace(out)
