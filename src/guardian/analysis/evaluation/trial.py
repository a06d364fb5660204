"""The randomised hot-spot trial: patrol versus control place-days.

The patrol plans (``guardian.operations.patrols``, design ``"random"``) give every spot a random
set of patrol days and keeps the others as control days. Here one row per spot and day says its
arm and what happened there (crimes, and optionally harm, e.g. Crime Harm Index days).

* **Crime**: rate ratio patrol/control from a Poisson GLM with a fixed effect per spot (each spot
  is compared with itself), with a cluster-robust (by spot) standard error so overdispersion and
  within-spot correlation widen the interval.
* **Harm**: mean harm per patrol spot-day minus per control spot-day, averaged within spots; the
  interval is a t interval over the spots' differences (the spot is the cluster).
* **p-values** for both are randomisation tests: the arms are re-drawn within each spot (the same
  number of patrol days per spot as planned), which is valid under the sharp null of no effect
  whatever the distribution of the counts -- the strength of a randomised design.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from guardian.errors import InputError

from .result import EvaluationResult


@dataclass(frozen=True)
class TrialEvaluation:
    """Crime and harm results of one hot-spot trial."""

    crime: EvaluationResult
    harm: EvaluationResult | None
    summary: dict

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {
            "crime": self.crime.to_dict(),
            "harm": self.harm.to_dict() if self.harm is not None else None,
            "summary": self.summary,
        }


def _perm_p(values, treat, codes, n_spots, n_perm, rng) -> tuple[float, float]:
    """Observed stratified difference and its within-spot re-randomisation p-value (two-sided).

    The statistic is the mean over spots of (mean on patrol days - mean on control days). With
    the number of patrol days per spot fixed it is linear in the arm indicators, so every
    re-randomisation is one matrix product.
    """
    n_t = np.bincount(codes, weights=treat.astype(float), minlength=n_spots)
    n_c = np.bincount(codes, minlength=n_spots) - n_t
    coef = values * (1.0 / n_t[codes] + 1.0 / n_c[codes]) / n_spots
    const = -float(np.sum(values / n_c[codes])) / n_spots
    obs = float(coef @ treat + const)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    sorted_treat = treat[order].astype(float)
    coef_sorted = coef[order]
    hits = 0
    block = max(1, 2_000_000 // max(1, len(codes)))  # bounded memory for long trials
    for start in range(0, n_perm, block):
        b = min(block, n_perm - start)
        keys = rng.random((b, len(codes))) + sorted_codes[None, :]
        perm_idx = np.argsort(keys, axis=1)  # a random order within each spot's block of rows
        sims = sorted_treat[perm_idx] @ coef_sorted + const
        hits += int(np.sum(np.abs(sims) >= abs(obs) - 1e-12))
    p = (1 + hits) / (1 + n_perm)
    return obs, float(p)


def hotspot_trial(
    place_days: pd.DataFrame,
    *,
    spot: str = "spot",
    arm: str = "arm",
    crimes: str = "crimes",
    harm: str | None = "harm",
    n_permutations: int = 2000,
    random_state: int = 0,
    confidence: float = 0.95,
) -> TrialEvaluation:
    """Effect of patrols on crime and harm in a randomised place-day trial.

    Parameters
    ----------
    place_days : DataFrame
        One row per spot and day with ``arm`` in {"patrol", "control"} and the crime count
        (and harm, if the column is present).
    spot, arm, crimes, harm : str
        Column names; ``harm=None`` or a missing column skips the harm result.
    n_permutations : int
        Re-randomisations for the p-values.
    random_state : int
        Seed for the re-randomisation.
    confidence : float
        Interval level.

    Returns
    -------
    TrialEvaluation
        ``crime.estimate`` is the patrol/control rate ratio; ``harm.estimate`` is harm per
        spot-day, patrol minus control.
    """
    import statsmodels.api as sm

    for c in (spot, arm, crimes):
        if c not in place_days.columns:
            raise InputError(f"place-day table lacks column {c!r}")
    df = place_days.copy()
    bad_arm = set(df[arm]) - {"patrol", "control"}
    if bad_arm:
        raise InputError(f"arm must be 'patrol' or 'control', got {sorted(map(str, bad_arm))}")
    y = pd.to_numeric(df[crimes], errors="coerce")
    if y.isna().any() or (y < 0).any():
        raise InputError("crime counts must be non-negative numbers")
    treat = (df[arm] == "patrol").to_numpy()
    codes_cat = pd.Categorical(df[spot])
    codes = codes_cat.codes.astype(int)
    n_spots = len(codes_cat.categories)
    per_spot_t = np.bincount(codes, weights=treat.astype(float), minlength=n_spots)
    per_spot_n = np.bincount(codes, minlength=n_spots)
    usable = (per_spot_t > 0) & (per_spot_t < per_spot_n)
    if not usable.all():
        keep = usable[codes]
        df, y, treat = df[keep], y[keep], treat[keep]
        codes_cat = pd.Categorical(df[spot])
        codes = codes_cat.codes.astype(int)
        n_spots = len(codes_cat.categories)
    if n_spots < 2:
        raise InputError("a trial needs at least 2 spots with both patrol and control days")
    yv = y.to_numpy(dtype=float)
    zc = float(stats.norm.ppf(0.5 + confidence / 2))
    rng = np.random.default_rng(random_state)
    n_t, n_c = int(treat.sum()), int((~treat).sum())
    crimes_t, crimes_c = float(yv[treat].sum()), float(yv[~treat].sum())
    if crimes_t + crimes_c == 0:
        raise InputError("no crimes on any spot-day: nothing to estimate")
    # Poisson GLM with spot effects; cluster-robust SE by spot.
    X = np.zeros((len(yv), n_spots + 1))
    X[np.arange(len(yv)), codes] = 1.0
    X[:, -1] = treat
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(yv, X, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": codes})
    beta, se = float(fit.params[-1]), float(fit.bse[-1])
    diff_obs, p_crime = _perm_p(yv, treat, codes, n_spots, n_permutations, rng)
    base_assumptions = (
        "patrol and control days were assigned at random within each spot (as the patrol plan "
        "recorded), and patrols were delivered on patrol days only",
        "no carry-over: a patrol day does not change crime on the spot's control days, and no "
        "displacement between spots",
        "the p-value is a re-randomisation test within spots (exact under no effect)",
    )
    rr = math.exp(beta) if math.isfinite(beta) else float("nan")
    crime_res = EvaluationResult(
        method="trial-crime",
        estimate=rr,
        ci_low=math.exp(beta - zc * se) if math.isfinite(se) else float("nan"),
        ci_high=math.exp(beta + zc * se) if math.isfinite(se) else float("nan"),
        p_value=p_crime,
        confidence=confidence,
        assumptions=base_assumptions + (
            "the interval is from a Poisson model with spot effects and a cluster-robust (by "
            "spot) variance",),
        smms_level=5,
        design=f"randomised place-days: {n_spots} spots, {n_t} patrol and {n_c} control "
               "spot-days",
        details={
            "crimes_patrol": crimes_t,
            "crimes_control": crimes_c,
            "rate_patrol": crimes_t / n_t,
            "rate_control": crimes_c / n_c,
            "percent_change": (rr - 1) * 100,
            "stratified_difference_per_spot_day": diff_obs,
            "log_rate_ratio": beta,
            "se": se,
            "n_permutations": n_permutations,
            "random_state": random_state,
            "estimate_units": "rate ratio, patrol over control spot-days",
        },
    )
    harm_res = None
    if harm and harm in df.columns:
        h = pd.to_numeric(df[harm], errors="coerce")
        if h.isna().any() or (h < 0).any():
            raise InputError("harm must be non-negative numbers")
        hv = h.to_numpy(dtype=float)
        sums_t = np.bincount(codes, weights=hv * treat, minlength=n_spots)
        sums_c = np.bincount(codes, weights=hv * ~treat, minlength=n_spots)
        nt = np.bincount(codes, weights=treat.astype(float), minlength=n_spots)
        nc = np.bincount(codes, minlength=n_spots) - nt
        d_s = sums_t / nt - sums_c / nc
        est = float(d_s.mean())
        se_h = float(d_s.std(ddof=1) / math.sqrt(n_spots))
        tc = float(stats.t.ppf(0.5 + confidence / 2, n_spots - 1))
        _, p_harm = _perm_p(hv, treat, codes, n_spots, n_permutations, rng)
        mean_c = float((sums_c / nc).mean())
        harm_res = EvaluationResult(
            method="trial-harm",
            estimate=est,
            ci_low=est - tc * se_h,
            ci_high=est + tc * se_h,
            p_value=p_harm,
            confidence=confidence,
            assumptions=base_assumptions + (
                "the interval is a t interval over spots' patrol-minus-control differences "
                "(harm is skewed: with few spots the interval is approximate)",),
            smms_level=5,
            design=crime_res.design,
            details={
                "harm_patrol": float(hv[treat].sum()),
                "harm_control": float(hv[~treat].sum()),
                "mean_harm_per_control_spot_day": mean_c,
                "percent_change": est / mean_c * 100 if mean_c > 0 else float("nan"),
                "n_spots": n_spots,
                "estimate_units": "harm per spot-day, patrol minus control",
            },
        )
    summary = {
        "spots": n_spots,
        "patrol_spot_days": n_t,
        "control_spot_days": n_c,
        "spots_dropped_without_both_arms": int((~usable).sum()),
    }
    return TrialEvaluation(crime=crime_res, harm=harm_res, summary=summary)
