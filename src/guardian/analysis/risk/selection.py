"""Honest tuning: blends of risk surfaces and rolling-origin selection with no look-ahead.

``BlendRisk`` adds the surfaces of several methods, each scaled to sum to one over the grid,
with fixed weights (an ensemble: recent near-repeat risk + long-term counts).
:func:`rolling_origin_selection` picks, for each test cut-off, the candidate with the best mean
score over the back-test windows that *ended at or before that cut-off* — the choice for a week
uses only weeks already observed, so the test weeks never inform their own configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from guardian.analysis.risk.base import RiskEstimator
from guardian.errors import InputError


class BlendRisk(RiskEstimator):
    """Weighted sum of several methods' surfaces, each normalised to sum to 1 over the grid.

    Parameters
    ----------
    components : sequence of RiskEstimator
        Unfitted estimators; each is cloned onto the blend's grid and fitted at the same cut-off.
    weights : sequence of float
        Non-negative weight per component (need not sum to one).
    grid, cell_m
        See :class:`~guardian.analysis.risk.base.RiskEstimator`.

    Notes
    -----
    Normalising first makes the weights comparable across methods whose scores have different
    units (weights of Bowers et al. vs counts vs expected events). A component whose surface is
    all zero contributes nothing.
    """

    method = "blend"

    def __init__(
        self,
        *,
        components: Sequence[RiskEstimator] = (),
        weights: Sequence[float] = (),
        grid=None,
        cell_m: float = 150.0,
    ) -> None:
        super().__init__(grid=grid, cell_m=cell_m)
        self.components = components
        self.weights = weights

    def _validate(self) -> None:
        super()._validate()
        comps, w = list(self.components), list(self.weights)
        if not comps:
            raise InputError("BlendRisk needs at least one component estimator")
        if len(w) != len(comps):
            raise InputError(f"BlendRisk has {len(comps)} components but {len(w)} weights")
        if any(not isinstance(c, RiskEstimator) for c in comps):
            raise InputError("every BlendRisk component must be a guardian RiskEstimator")
        if any(not (np.isfinite(v) and v >= 0) for v in w) or sum(w) <= 0:
            raise InputError(f"BlendRisk weights must be non-negative and not all 0, got {w}")

    def fit(self, events: pd.DataFrame, cutoff) -> BlendRisk:
        super().fit(events, cutoff)
        # the components see the same events and cut-off, so none can see past it either
        self.fitted_ = [c.clone(grid=self.grid_).fit(events, cutoff) for c in self.components]
        return self

    def _fit(self, x, y, t, cutoff_d) -> None:
        return None

    def predict(self, start, end):
        if hasattr(self, "fitted_"):
            self._window = (start, end)
        return super().predict(start, end)

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:
        out = np.zeros(self.grid_.shape)
        start, end = self._window
        for w, model in zip(self.weights, self.fitted_, strict=True):
            v = model.predict(start, end).values
            total = float(v.sum())
            if total > 0 and w > 0:
                out += float(w) * v / total
        return out

    def get_params(self) -> dict:
        params = super().get_params()
        params["components"] = list(self.components)
        return params

    def __repr__(self) -> str:
        comps = ", ".join(repr(c) for c in self.components)
        return f"BlendRisk(components=[{comps}], weights={list(self.weights)})"


def rolling_origin_selection(
    periods: pd.DataFrame,
    *,
    candidates: Sequence[str],
    test_cutoffs: Sequence,
    coverage: float = 0.05,
    metric: str = "hit_rate",
    min_windows: int = 4,
    name: str = "selected",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per test cut-off, use the candidate with the best mean ``metric`` on windows already over.

    Parameters
    ----------
    periods : DataFrame
        ``BacktestResult.periods`` covering the candidates on the validation *and* test windows.
    candidates : sequence of str
        Method names in ``periods`` to choose from.
    test_cutoffs : sequence of Timestamp
        The cut-offs to predict; the choice at ``c`` uses only rows whose window ``end <= c``.
    coverage : float
        The coverage whose ``metric`` drives the choice (the one the comparison is about).
    metric : {"hit_rate", "pai"}
    min_windows : int
        Windows needed before the first choice; fewer raise :class:`InputError`.
    name : str
        Method name of the selected series.

    Returns
    -------
    (rows, choices) : DataFrame, DataFrame
        ``rows``: the selected candidate's rows of ``periods`` at each test cut-off (every
        coverage), renamed ``name``; ``choices``: cut-off, chosen candidate, its validation
        mean and the number of validation windows.
    """
    if metric not in ("hit_rate", "pai"):
        raise InputError(f"metric was {metric!r} but is expected to be 'hit_rate' or 'pai'")
    missing = [c for c in candidates if c not in set(periods["method"])]
    if missing:
        raise InputError(f"candidates {missing} are not in the back-test periods")
    p = periods[periods["method"].isin(candidates) & (periods["n_events"] > 0)]
    at = p[np.isclose(p["coverage"], coverage)]
    if at.empty:
        raise InputError(f"coverage {coverage} was not evaluated in the back-test")
    rows, choices = [], []
    for c in test_cutoffs:
        past = at[at["end"] <= c]
        n_win = past["cutoff"].nunique()
        if n_win < min_windows:
            raise InputError(
                f"only {n_win} validation windows end by {c}; need {min_windows} (start the "
                "back-test earlier)"
            )
        means = past.groupby("method")[metric].mean().reindex(list(candidates))
        best = str(means.idxmax())
        choices.append(
            {
                "cutoff": c,
                "chosen": best,
                "validation_mean": float(means[best]),
                "validation_windows": int(n_win),
            }
        )
        rows.append(p[(p["method"] == best) & (p["cutoff"] == c)].assign(method=name))
    return pd.concat(rows, ignore_index=True), pd.DataFrame(choices)


def summarise_periods(periods: pd.DataFrame) -> pd.DataFrame:
    """Mean hit rate / PAI per (method, coverage) with 95% t-intervals over windows.

    The same columns as ``BacktestResult.summary`` for the measures, so a selected series can be
    tabulated beside the fixed methods.
    """
    from scipy import stats

    scored = periods[periods["n_events"] > 0]
    g = scored.groupby(["method", "coverage"], sort=False)
    s = g.agg(
        windows=("hit_rate", "size"),
        mean_hit_rate=("hit_rate", "mean"),
        sd_hr=("hit_rate", "std"),
        mean_pai=("pai", "mean"),
        sd_pai=("pai", "std"),
        mean_oracle_hit_rate=("oracle_hit_rate", "mean"),
        mean_oracle_pai=("oracle_pai", "mean"),
    ).reset_index()
    tq = stats.t.ppf(0.975, np.maximum(s["windows"] - 1, 1))
    for col, sd in (("hit_rate", "sd_hr"), ("pai", "sd_pai")):
        half = tq * s[sd].fillna(0.0) / np.sqrt(s["windows"])
        s[f"{col}_ci_low"] = s[f"mean_{col}"] - half
        s[f"{col}_ci_high"] = s[f"mean_{col}"] + half
    return s.drop(columns=["sd_hr", "sd_pai"])


def paired_difference(
    periods: pd.DataFrame, a: str, b: str, *, coverage: float = 0.05, metric: str = "hit_rate"
) -> dict:
    """Mean of ``a - b`` over the shared windows at ``coverage``, its 95% t-interval, and ratio.

    Methods scored on the same weeks are compared week by week (paired), which removes the
    week-to-week variation both share.
    """
    from scipy import stats

    at = periods[np.isclose(periods["coverage"], coverage) & (periods["n_events"] > 0)]
    wide = at.pivot_table(index="cutoff", columns="method", values=metric)
    if a not in wide or b not in wide:
        raise InputError(f"methods {a!r} and {b!r} must both be in the periods")
    d = (wide[a] - wide[b]).dropna()
    n = int(d.size)
    half = float(stats.t.ppf(0.975, max(n - 1, 1)) * d.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    ma, mb = float(wide[a].loc[d.index].mean()), float(wide[b].loc[d.index].mean())
    return {
        "a": a,
        "b": b,
        "windows": n,
        "mean_a": ma,
        "mean_b": mb,
        "diff": float(d.mean()),
        "diff_ci": (float(d.mean()) - half, float(d.mean()) + half),
        "relative": ma / mb - 1.0 if mb > 0 else float("nan"),
        "relative_ci": ((float(d.mean()) - half) / mb, (float(d.mean()) + half) / mb)
        if mb > 0
        else (float("nan"), float("nan")),
    }
