"""Crime harm: weighting offences by a published severity index, and the concentration of harm.

Guardian ships one harm table, ``harm_index_v1`` (``data/reference/harm_index_v1.csv``, notes and
citations in ``harm_index_v1.md``): ONS Crime Severity Score (CSS) weights per Home Office offence
code, mapped onto the 13 police.uk crime categories by the count-weighted mean

    weight(category) = sum_c count(c) * weight(c) / sum_c count(c)

over the offence codes ``c`` that police.uk publishes under the category, with counts from the
Home Office police recorded crime tables for 2017/18 (England and Wales). Anti-social behaviour is
not a notifiable offence and has no CSS weight: harm is computed for crime only.

Every function here is pure: frames in, frames or frozen dataclasses out. The table itself is
read by :func:`guardian.data.harm_table.load_harm_weights` (I/O lives in ``data``).

Notes
-----
ONS (2016) "Research outputs: Developing a Crime Severity Score for England and Wales using data
on crimes recorded by the police". Sherman, Neyroud and Neyroud (2016) "The Cambridge Crime Harm
Index: measuring total harm from crime based on sentencing guidelines", Policing 10(3) 171-183.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from guardian.data.harm_table import HarmWeights
from guardian.data.schema import (
    CATEGORIES,
    CRIME_CATEGORIES,
    normalise_category,
)
from guardian.errors import InputError


def build_category_weights(counts: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Map per-offence-code weights onto police.uk categories (count-weighted mean).

    Parameters
    ----------
    counts : DataFrame
        Columns ``offence_code, policeuk_category, offences`` (offences recorded per code).
    weights : DataFrame
        Columns ``offence_code, weight`` and optionally ``basis``.

    Returns
    -------
    DataFrame
        ``category, weight, offences, codes, share_published`` where ``share_published`` is the
        share of the category's offences whose code weight is a directly published figure
        (basis ``published``) rather than transcribed or assumed. Codes with zero offences
        do not contribute; codes without a weight raise :class:`InputError`.
    """
    for name, frame, cols in (
        ("counts", counts, ["offence_code", "policeuk_category", "offences"]),
        ("weights", weights, ["offence_code", "weight"]),
    ):
        miss = [c for c in cols if c not in frame.columns]
        if miss:
            raise InputError(f"{name} frame is missing columns {miss}")
    merged = counts.merge(weights, on="offence_code", how="left")
    unweighted = merged.loc[merged["weight"].isna() & (merged["offences"] > 0), "offence_code"]
    if len(unweighted):
        raise InputError(
            f"offence codes without a weight: {sorted(unweighted)}; add them to the weights table"
        )
    merged["category"] = merged["policeuk_category"].map(normalise_category)
    if "basis" not in merged.columns:
        merged["basis"] = "unknown"
    merged["wsum"] = merged["offences"] * merged["weight"]
    merged["pub"] = np.where(merged["basis"] == "published", merged["offences"], 0)
    merged["used"] = (merged["offences"] > 0).astype(int)
    g = merged.groupby("category").agg(
        wsum=("wsum", "sum"),
        offences=("offences", "sum"),
        codes=("used", "sum"),
        pub=("pub", "sum"),
    )
    out = (
        pd.DataFrame(
            {
                "category": g.index,
                "weight": g["wsum"] / g["offences"],
                "offences": g["offences"].astype(int),
                "codes": g["codes"].astype(int),
                "share_published": g["pub"] / g["offences"],
            }
        )
        .sort_values("weight", ascending=False)
        .reset_index(drop=True)
    )
    missing = [c for c in CRIME_CATEGORIES if c not in set(out["category"])]
    if missing:
        raise InputError(f"no offence codes map to categories {missing}")
    return out


def harm_by_category(counts: pd.Series | dict, weights: HarmWeights) -> pd.DataFrame:
    """Harm per crime category from offence counts.

    Parameters
    ----------
    counts : Series or dict
        Category -> number of offences (anti-social behaviour, if present, is left out).
    weights : HarmWeights

    Returns
    -------
    DataFrame
        ``category, offences, weight, harm`` for the 13 crime categories (zero counts kept),
        ``harm = offences * weight``.
    """
    s = pd.Series(counts, dtype="float64") if isinstance(counts, dict) else counts.astype("float64")
    unknown = [c for c in s.index if c not in CATEGORIES]
    if unknown:
        raise InputError(f"unknown categories {unknown}; expected police.uk categories")
    offences = s.reindex(list(CRIME_CATEGORIES)).fillna(0.0)
    w = pd.Series(weights.weights).reindex(list(CRIME_CATEGORIES))
    return pd.DataFrame(
        {
            "category": list(CRIME_CATEGORIES),
            "offences": offences.to_numpy().astype(int),
            "weight": w.to_numpy(),
            "harm": (offences * w).to_numpy(),
        }
    )


def harm_total(counts: pd.Series | dict, weights: HarmWeights) -> float:
    """Total harm (CSS points) of the given category counts."""
    return float(harm_by_category(counts, weights)["harm"].sum())


def per_1000(value: float, population: float | None) -> float | None:
    """``value`` per 1,000 residents; ``None`` when the population is unknown or zero."""
    if population is None or not np.isfinite(population) or population <= 0:
        return None
    return float(value) * 1000.0 / float(population)


@dataclass(frozen=True)
class Concentration:
    """Concentration of harm across categories.

    Attributes
    ----------
    table : DataFrame
        ``category, offences, harm, offence_share, harm_share, cum_offence_share,
        cum_harm_share`` sorted by harm, largest first.
    k : int
        Fewest top-harm categories whose cumulative harm share reaches ``harm_target``.
    offence_share, harm_share : float
        Cumulative shares (0-1) of those ``k`` categories.
    harm_target : float
    sentence : str
    """

    table: pd.DataFrame
    k: int
    offence_share: float
    harm_share: float
    harm_target: float
    sentence: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "offence_share": self.offence_share,
            "harm_share": self.harm_share,
            "harm_target": self.harm_target,
            "sentence": self.sentence,
            "table": self.table.to_dict(orient="records"),
        }


def concentration(harm_table: pd.DataFrame, *, harm_target: float = 0.75) -> Concentration:
    """Categories sorted by harm with cumulative shares of offences and of harm.

    Parameters
    ----------
    harm_table : DataFrame
        ``category, offences, harm`` (as from :func:`harm_by_category`).
    harm_target : float
        Share of harm (0 < target <= 1) the headline ``k`` categories must reach.

    Returns
    -------
    Concentration
        With the sentence "k categories are x% of offences but y% of harm".

    Raises
    ------
    InputError
        If the target is outside (0, 1] or the table has no harm at all.
    """
    if not (0 < harm_target <= 1):
        raise InputError(f"harm_target must be in (0, 1], got {harm_target}")
    t = harm_table[["category", "offences", "harm"]].copy()
    total_o, total_h = float(t["offences"].sum()), float(t["harm"].sum())
    if total_h <= 0 or total_o <= 0:
        raise InputError("no offences with harm to rank; the period holds no crime")
    # sort by harm, ties broken by fewer offences then name, so the order is deterministic
    t = t.sort_values(["harm", "offences", "category"], ascending=[False, True, True])
    t = t.reset_index(drop=True)
    t["offence_share"] = t["offences"] / total_o
    t["harm_share"] = t["harm"] / total_h
    t["cum_offence_share"] = t["offence_share"].cumsum()
    t["cum_harm_share"] = t["harm_share"].cumsum()
    reach = np.flatnonzero(t["cum_harm_share"].to_numpy() >= harm_target - 1e-12)
    k = int(reach[0]) + 1
    off, harm = float(t["cum_offence_share"].iloc[k - 1]), float(t["cum_harm_share"].iloc[k - 1])
    noun = "category is" if k == 1 else "categories are"
    sentence = f"{k} {noun} {off:.0%} of offences but {harm:.0%} of harm"
    return Concentration(
        table=t, k=k, offence_share=off, harm_share=harm, harm_target=harm_target, sentence=sentence
    )
