"""Rebuild the shipped LSOA reference table from ../shared/data/uk_lsoa2011_lookup_population.

Run once by a developer; the output is committed under src/guardian/data/reference/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/uk_lsoa2011_lookup_population")
OUT = Path("src/guardian/data/reference/lsoa2011.csv.gz")

lk = pd.read_csv(SRC / "PoliceforceLSOA.csv.gz", dtype=str).drop(columns=["Unnamed: 0"])
lk = lk.rename(
    columns={
        "Local authority code": "lad_code",
        "Local authority name": "lad_name",
        "LSOA Code": "lsoa_code",
        "LSOA Name": "lsoa_name",
        "Police_force": "force",
    }
)[["lsoa_code", "lsoa_name", "lad_code", "lad_name", "force"]]
pop = pd.read_csv(SRC / "census_2011_population_hh.csv.gz", dtype=str, thousands=",")
pop = pop.iloc[:, [6, 9, 14]]
pop.columns = ["lsoa_code", "population", "households"]
for c in ("population", "households"):
    pop[c] = pd.to_numeric(pop[c].str.replace(",", ""), errors="coerce").astype("Int64")
df = lk.merge(pop.drop_duplicates("lsoa_code"), on="lsoa_code", how="left")
df = df.dropna(subset=["force"]).sort_values("lsoa_code")
df.to_csv(OUT, index=False, compression={"method": "gzip", "mtime": 0})
print(len(df), "rows ->", OUT, df.population.isna().sum(), "without population")
print(df.groupby("force").size().to_string())
