"""Rebuild Guardian's shipped harm index table (police.uk category weights).

weight(category) = sum(count(code) * weight(code)) / sum(count(code)) over the Home Office
offence codes that police.uk publishes under that category, with counts from the Home Office
police recorded crime open data tables for 2017/18 (43 territorial forces of England and Wales;
the national fraud bodies -- Action Fraud, CIFAS, UK Finance, Financial Fraud Action UK -- and
British Transport Police are left out because police.uk street files do not contain them).

Usage::

    .venv/bin/python scripts/build_harm_index.py [../shared/data/home_office_prc_pfa_2017_18]

With the shared folder present the offence counts are re-extracted from
``prc-pfa-201718_new.csv.gz`` into ``src/guardian/data/reference/prc_offence_counts_2017_18.csv``;
without it the shipped counts file is used. The per-offence weights
(``css_offence_weights_v1.csv``) are hand-compiled and documented in ``harm_index_v1.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "guardian" / "data" / "reference"
SRC = (
    Path(sys.argv[1])
    if len(sys.argv) > 1
    else ROOT.parent / "shared" / "data" / "home_office_prc_pfa_2017_18"
)
NOT_STREET = {
    "Action Fraud",
    "CIFAS",
    "UK Finance",
    "Financial Fraud Action UK",
    "British Transport Police",
}

sys.path.insert(0, str(ROOT / "src"))
from guardian.analysis.harm import build_category_weights  # noqa: E402


def extract_counts(src: Path) -> pd.DataFrame:
    raw = pd.read_csv(src / "prc-pfa-201718_new.csv.gz", dtype={"Offence_Code": str})
    raw = raw[~raw["Force_Name"].isin(NOT_STREET)]
    out = (
        raw.groupby(["Offence_Code", "Policeuk_Cat"], as_index=False)["Number_of_Offences"]
        .sum()
        .rename(
            columns={
                "Offence_Code": "offence_code",
                "Policeuk_Cat": "policeuk_category",
                "Number_of_Offences": "offences",
            }
        )
        .sort_values(["policeuk_category", "offence_code"])
    )
    return out


def main() -> None:
    counts_path = DATA / "prc_offence_counts_2017_18.csv"
    if (SRC / "prc-pfa-201718_new.csv.gz").exists():
        counts = extract_counts(SRC)
        counts.to_csv(counts_path, index=False)
        print(f"{len(counts)} offence codes -> {counts_path}")
    counts = pd.read_csv(counts_path, dtype={"offence_code": str})
    weights = pd.read_csv(DATA / "css_offence_weights_v1.csv", dtype={"offence_code": str})
    table = build_category_weights(counts, weights)
    out = DATA / "harm_index_v1.csv"
    table.to_csv(out, index=False, float_format="%.2f")
    print(table.to_string(index=False))
    print("->", out)


if __name__ == "__main__":
    main()
