"""Rebuild the shipped LSOA reference table (``src/guardian/data/reference/lsoa2011.csv.gz``) and
the force profile built from it (``src/guardian/data/reference/force_profile_2011.csv``).

Inputs: the ONS 2011 Census LSOA file from ``uk_lsoa2011_lookup_population`` (argument 1, default
``../shared/data/uk_lsoa2011_lookup_population``) and the shipped authority -> force table
``src/guardian/data/reference/lad2011_pfa.csv``. The crime-sim-toolkit lookup in the same folder,
when present, is used only as a cross-check. Fails (exit 1, the reasons printed) instead of dropping
rows. Run by a developer; the output is committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from guardian.data import reference_build as rb

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/uk_lsoa2011_lookup_population")
REF = Path("src/guardian/data/reference")


def main() -> int:
    try:
        census = rb.read_census(SRC / "census_2011_population_hh.csv.gz")
        lads = rb.read_authorities(REF / "lad2011_pfa.csv")
        cross = None
        if (SRC / "PoliceforceLSOA.csv.gz").exists():
            lk = pd.read_csv(SRC / "PoliceforceLSOA.csv.gz", dtype=str)
            cross = lk.rename(columns={"Local authority code": "lad_code", "Police_force": "force"})
        table = rb.build_lsoa_table(census, lads, cross_check=cross)
        rb.check_england_and_wales(table)
        profile = rb.build_force_profile(census, table)
    except rb.ReferenceBuildError as exc:
        print(f"build_reference: refused: {exc}", file=sys.stderr)
        return 1
    out = REF / "lsoa2011.csv.gz"
    rb.write_lsoa_table(table, out)
    per = table.groupby("force").agg(lsoas=("lsoa_code", "size"), population=("population", "sum"))
    print(f"{len(table):,} LSOAs, {table['force'].nunique()} forces, "
          f"{int(table['population'].sum()):,} persons -> {out}")
    print(per.to_string())
    prof = REF / "force_profile_2011.csv"
    rb.write_force_profile(profile, prof)
    print(f"force profile: {len(profile)} forces -> {prof}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
