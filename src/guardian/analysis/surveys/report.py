"""Per-district, per-question survey results: weighted, with change vs last wave and a benchmark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from guardian.errors import InputError

from .estimates import (
    ComparisonResult,
    ProportionEstimate,
    compare_proportions,
    compare_to_value,
    perception_statement,
    weighted_proportion,
)
from .weighting import poststratify, rake


@dataclass(frozen=True)
class QuestionResult:
    """One question in one district and wave."""

    district: str
    question: str
    text: str
    wave: str
    estimate: ProportionEstimate
    previous_wave: str | None
    previous: ProportionEstimate | None
    change: ComparisonResult | None
    comparison_value: float | None
    comparison: ComparisonResult | None
    weighting: str
    statement: str

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {
            "district": self.district,
            "question": self.question,
            "text": self.text,
            "wave": self.wave,
            "estimate": self.estimate.to_dict(),
            "previous_wave": self.previous_wave,
            "previous": self.previous.to_dict() if self.previous else None,
            "change": self.change.to_dict() if self.change else None,
            "comparison_value": self.comparison_value,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "weighting": self.weighting,
            "statement": self.statement,
        }


def weights_for(respondents: pd.DataFrame, margins: pd.DataFrame, *, method: str,
                variables: Sequence[str] = ("sex", "age_band"),
                population_column: str = "population") -> np.ndarray:
    """Weights of ``respondents`` to the population cells in ``margins`` (one district).

    ``method="rake"`` uses only the one-way margins of ``variables``; ``"poststratify"`` uses
    the joint cells.
    """
    variables = list(variables)
    if method == "poststratify":
        return poststratify(respondents, margins, by=variables,
                            population_column=population_column)
    if method == "rake":
        m = {v: margins.groupby(v)[population_column].sum().to_dict() for v in variables}
        return rake(respondents, m)
    if method == "none":
        return np.ones(len(respondents))
    raise InputError("weighting method must be 'rake', 'poststratify' or 'none'")


def survey_results(
    responses: pd.DataFrame,
    questions: Mapping[str, str],
    margins: pd.DataFrame | None,
    *,
    wave: str,
    previous_wave: str | None = None,
    comparison_values: Mapping[str, float] | None = None,
    comparison_label: str = "the comparison figure of",
    method: str = "rake",
    district: str | None = None,
    variables: Sequence[str] = ("sex", "age_band"),
    confidence: float = 0.95,
) -> list[QuestionResult]:
    """Weighted estimate of every question in every district for ``wave``.

    Parameters
    ----------
    responses : DataFrame
        One row per respondent: ``district``, ``wave``, the ``variables`` and one column per
        question holding True (positive), False, or NaN (not answered / don't know).
    questions : mapping
        ``{column: text}``; text completes "NN% ..." (e.g. "think the police do a good job").
    margins : DataFrame or None
        Population by ``district`` and ``variables`` with a ``population`` column; None only
        with ``method="none"``.
    wave, previous_wave : str
        The wave reported and the one it is compared with.
    comparison_values : mapping, optional
        ``{column: proportion}`` fixed benchmark (e.g. the national figure).
    method : {"rake", "poststratify", "none"}
    district : str, optional
        Restrict to one district.

    Returns
    -------
    list of QuestionResult
        Ordered by district then question. Weights are computed once per district and wave
        from all its respondents; a question's estimate uses the respondents who answered it.
    """
    for c in ("district", "wave", *variables):
        if c not in responses.columns:
            raise InputError(f"responses lack column {c!r}")
    if method != "none" and margins is None:
        raise InputError("population margins are required to weight (or use method 'none')")
    for q in questions:
        if q not in responses.columns:
            raise InputError(f"question {q!r} is not a column of the responses")
    df = responses.copy()
    df["wave"] = df["wave"].astype(str)
    df["district"] = df["district"].astype(str)
    if (df["wave"] == str(wave)).sum() == 0:
        raise InputError(f"no respondents in wave {wave!r}")
    districts = sorted(df.loc[df["wave"] == str(wave), "district"].unique())
    if district is not None:
        if district not in districts:
            raise InputError(f"no respondents in district {district!r} in wave {wave!r}")
        districts = [district]
    out: list[QuestionResult] = []
    comparison_values = dict(comparison_values or {})
    for d in districts:
        m = None
        if margins is not None:
            m = margins[margins["district"].astype(str) == d]
            if method != "none" and m.empty:
                raise InputError(f"no population margins for district {d!r}")

        def estimates(wv: str, d=d, m=m) -> dict[str, ProportionEstimate] | None:
            part = df[(df["district"] == d) & (df["wave"] == wv)]
            if part.empty:
                return None
            w = weights_for(part, m, method=method, variables=variables)
            res = {}
            for q in questions:
                ans = part[q]
                ok = ans.notna().to_numpy()
                if ok.sum() == 0:
                    continue
                res[q] = weighted_proportion(ans[ok].astype(bool).to_numpy(), w[ok],
                                             confidence=confidence)
            return res

        cur = estimates(str(wave)) or {}
        prev = estimates(str(previous_wave)) if previous_wave is not None else None
        for q, text in questions.items():
            if q not in cur:
                continue
            e = cur[q]
            p = prev.get(q) if prev else None
            change = compare_proportions(e, p, confidence=confidence) if p else None
            cv = comparison_values.get(q)
            comp = compare_to_value(e, cv, confidence=confidence) if cv is not None else None
            stmt = perception_statement(text, e, previous=p, comparison=comp,
                                        comparison_value=cv, comparison_label=comparison_label,
                                        previous_label=f"{previous_wave}'s" if p else "")
            out.append(QuestionResult(
                district=d, question=q, text=text, wave=str(wave), estimate=e,
                previous_wave=str(previous_wave) if previous_wave is not None else None,
                previous=p, change=change, comparison_value=cv, comparison=comp,
                weighting=method, statement=stmt))
    return out
