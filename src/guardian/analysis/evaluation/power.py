"""Power and minimum detectable effect for a planned place-based intervention.

The question: "how many weeks in these 20 cells to detect a 20% drop at 80% power?".

Set-up. ``cells`` places, each with a baseline of ``rate`` crimes per cell-week. The comparison
is the log rate ratio of treated to comparison cell-weeks, with ``m`` cell-weeks in each arm:

* ``design="before-after"``: the same cells, ``weeks`` before vs ``weeks`` after
  (``m = cells * weeks``); no control, Maryland SMS 2.
* ``design="trial"``: randomised patrol/control days within the cells over ``weeks`` weeks
  (half of the cell-days each arm, ``m = cells * weeks / 2``); SMS 5.
* ``design="control"``: ``cells`` treated and ``cells`` comparison cells, ``weeks`` each
  (``m = cells * weeks``); SMS 3 (treated vs comparison only, no before period).

Formula (Wald test on the log rate ratio ``r``, negative binomial counts with dispersion
``alpha``, variance ``mu + alpha*mu**2`` per cell-week)::

    var(log r_hat) = (1/(m*rate) + alpha/m) + (1/(m*rate*r) + alpha/m)
    power = Phi(|log r| / sqrt(var) - z_{1-a/2})        (the far tail is neglected)

Simulation draws the counts (Poisson, or gamma-Poisson for ``alpha > 0``), applies the same
two-sided test with the variance estimated from the simulated data (quasi-Poisson), and counts
the rejections; it checks the formula and shows the small-count behaviour it misses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from guardian.errors import InputError

DESIGNS = {"before-after": 2, "trial": 5, "control": 3}


@dataclass(frozen=True)
class PowerResult:
    """A power calculation for one planned design."""

    design: str
    cells: int
    weeks: float
    rate_per_cell_week: float
    drop: float
    alpha: float
    dispersion: float
    power_formula: float
    power_simulated: float | None
    simulated_ci: tuple[float, float] | None
    n_simulations: int
    smms_level: int
    assumptions: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        return {
            "design": self.design,
            "cells": self.cells,
            "weeks": self.weeks,
            "rate_per_cell_week": self.rate_per_cell_week,
            "drop": self.drop,
            "alpha": self.alpha,
            "dispersion": self.dispersion,
            "power_formula": self.power_formula,
            "power_simulated": self.power_simulated,
            "simulated_ci": list(self.simulated_ci) if self.simulated_ci else None,
            "n_simulations": self.n_simulations,
            "smms_level": self.smms_level,
            "assumptions": list(self.assumptions),
        }


def _check(rate, cells, drop, alpha, dispersion, design):
    if not rate > 0:
        raise InputError("rate per cell-week must be positive")
    if int(cells) != cells or cells < 1:
        raise InputError("cells must be a positive whole number")
    if drop is not None and not 0 < drop < 1:
        raise InputError("drop is a fraction between 0 and 1 (0.2 = a 20% drop)")
    if not 0 < alpha < 1:
        raise InputError("alpha must be between 0 and 1")
    if dispersion < 0:
        raise InputError("dispersion must be >= 0 (0 = Poisson)")
    if design not in DESIGNS:
        raise InputError(f"design must be one of {', '.join(DESIGNS)}")


def _per_arm(cells: int, weeks: float, design: str) -> float:
    return cells * weeks / 2 if design == "trial" else cells * weeks


def power_formula(rate: float, cells: int, weeks: float, drop: float, *, alpha: float = 0.05,
                  dispersion: float = 0.0, design: str = "before-after") -> float:
    """Approximate power of the two-sided log rate-ratio test.

    Parameters
    ----------
    rate : float
        Baseline crimes per cell per week.
    cells : int
        Number of cells (places) in the intervention.
    weeks : float
        Weeks of the intervention (and of the before period, for ``before-after``).
    drop : float
        Fractional reduction to detect (0.2 = 20%).
    alpha : float
        Two-sided significance level.
    dispersion : float
        Negative binomial alpha per cell-week (0 = Poisson).
    design : {"before-after", "trial", "control"}

    Returns
    -------
    float
        Power in [0, 1].
    """
    _check(rate, cells, drop, alpha, dispersion, design)
    if not weeks > 0:
        raise InputError("weeks must be positive")
    m = _per_arm(cells, weeks, design)
    r = 1 - drop
    var = 1 / (m * rate) + 1 / (m * rate * r) + 2 * dispersion / m
    z = abs(math.log(r)) / math.sqrt(var) - stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(z))


def weeks_needed(rate: float, cells: int, drop: float, *, power: float = 0.8,
                 alpha: float = 0.05, dispersion: float = 0.0,
                 design: str = "before-after") -> float:
    """Weeks needed for ``power`` to detect ``drop`` (closed form from :func:`power_formula`).

    Returns
    -------
    float
        Weeks (fractional; round up when planning). For ``before-after`` it is the length of
        each of the two periods.
    """
    _check(rate, cells, drop, alpha, dispersion, design)
    if not 0 < power < 1:
        raise InputError("power must be between 0 and 1")
    r = 1 - drop
    zsum = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    # var = (1/rate + 1/(rate r) + 2 alpha) / m  and  |log r| / sqrt(var) = zsum
    m = zsum**2 * (1 / rate + 1 / (rate * r) + 2 * dispersion) / math.log(r) ** 2
    return float(m * 2 / cells if design == "trial" else m / cells)


def minimum_detectable_effect(rate: float, cells: int, weeks: float, *, power: float = 0.8,
                              alpha: float = 0.05, dispersion: float = 0.0,
                              design: str = "before-after") -> float:
    """Smallest fractional drop detected with ``power`` (solved from :func:`power_formula`).

    Returns
    -------
    float
        The drop as a fraction (0.2 = 20%); ``nan`` if even a 99.9% drop is not detectable.
    """
    _check(rate, cells, None, alpha, dispersion, design)

    def f(d):
        return power_formula(rate, cells, weeks, d, alpha=alpha, dispersion=dispersion,
                             design=design) - power

    # Power is not monotone in the drop near 100% (the treated arm's variance 1/(m rate r)
    # grows), so take the first crossing on a grid, then refine.
    grid = np.linspace(0.001, 0.999, 999)
    vals = np.array([f(d) for d in grid])
    hit = np.flatnonzero(vals >= 0)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0:
        return float(optimize.brentq(f, 1e-9, grid[0], xtol=1e-10)) if f(1e-9) < 0 else 0.0
    return float(optimize.brentq(f, grid[i - 1], grid[i], xtol=1e-10))


def simulate_power(rate: float, cells: int, weeks: float, drop: float, *, alpha: float = 0.05,
                   dispersion: float = 0.0, design: str = "before-after",
                   n_simulations: int = 2000, random_state: int = 0) -> tuple[float, float, float]:
    """Power by simulation: share of simulated trials whose two-sided test rejects.

    Each simulation draws ``m`` cell-weeks per arm (gamma-Poisson when ``dispersion > 0``),
    and tests the log rate ratio with a quasi-Poisson variance estimated from the draws
    (``var(log mean) = s**2 / (m * mean**2)`` per arm). ``drop=0`` gives the type I error.

    Returns
    -------
    tuple of float
        ``(power, ci_low, ci_high)`` with a 95% Wilson interval for the simulated share.
    """
    _check(rate, cells, None, alpha, dispersion, design)
    if not 0 <= drop < 1:
        raise InputError("drop must be in [0, 1)")
    m = int(round(_per_arm(cells, weeks, design)))
    if m < 2:
        raise InputError("fewer than 2 cell-weeks per arm")
    rng = np.random.default_rng(random_state)

    def draw(mu):
        if dispersion > 0:
            mu = rng.gamma(1 / dispersion, mu * dispersion, size=(n_simulations, m))
            return rng.poisson(mu)
        return rng.poisson(mu, size=(n_simulations, m))

    a = draw(rate).astype(float)
    b = draw(rate * (1 - drop)).astype(float)
    ma, mb = a.mean(axis=1), b.mean(axis=1)
    ok = (ma > 0) & (mb > 0)
    va = np.where(ok, a.var(axis=1, ddof=1) / (m * np.where(ok, ma, 1) ** 2), np.nan)
    vb = np.where(ok, b.var(axis=1, ddof=1) / (m * np.where(ok, mb, 1) ** 2), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(np.where(ok, mb, 1) / np.where(ok, ma, 1)) / np.sqrt(va + vb)
    crit = stats.norm.ppf(1 - alpha / 2)
    reject = np.where(ok & np.isfinite(z), np.abs(z) > crit, ~((ma == 0) & (mb == 0)) & ~ok)
    k = int(reject.sum())
    n = n_simulations
    p = k / n
    zc = 1.959963984540054
    den = 1 + zc**2 / n
    centre = (p + zc**2 / (2 * n)) / den
    half = zc * math.sqrt(p * (1 - p) / n + zc**2 / (4 * n**2)) / den
    return float(p), float(max(0.0, centre - half)), float(min(1.0, centre + half))


def power_analysis(rate: float, cells: int, drop: float, *, weeks: float | None = None,
                   power: float = 0.8, alpha: float = 0.05, dispersion: float = 0.0,
                   design: str = "before-after", n_simulations: int = 2000,
                   random_state: int = 0) -> PowerResult:
    """Weeks needed (if ``weeks`` is None) and the power at those weeks, by formula and simulation.

    Returns
    -------
    PowerResult
        With ``weeks`` rounded up to whole weeks when it was solved for.
    """
    if weeks is None:
        weeks = float(math.ceil(weeks_needed(rate, cells, drop, power=power, alpha=alpha,
                                             dispersion=dispersion, design=design)))
    pf = power_formula(rate, cells, weeks, drop, alpha=alpha, dispersion=dispersion,
                       design=design)
    ps = ci = None
    if n_simulations > 0:
        ps, lo, hi = simulate_power(rate, cells, weeks, drop, alpha=alpha,
                                    dispersion=dispersion, design=design,
                                    n_simulations=n_simulations, random_state=random_state)
        ci = (lo, hi)
    assumptions = [
        f"baseline of {rate:g} crimes per cell-week, the same in both arms apart from the effect",
        "cell-weeks are independent" + (f"; negative binomial dispersion {dispersion:g}"
                                         if dispersion > 0 else "; Poisson counts"),
        "two-sided Wald test on the log rate ratio",
    ]
    if design == "before-after":
        assumptions.append("no trend or seasonality between the before and after periods "
                           "(a before-after design cannot separate them from the effect)")
    return PowerResult(
        design=design, cells=int(cells), weeks=float(weeks), rate_per_cell_week=float(rate),
        drop=float(drop), alpha=float(alpha), dispersion=float(dispersion),
        power_formula=pf, power_simulated=ps, simulated_ci=ci,
        n_simulations=int(n_simulations), smms_level=DESIGNS[design],
        assumptions=tuple(assumptions),
    )
