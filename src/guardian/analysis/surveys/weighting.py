"""Survey weights: post-stratification and raking to population margins, Kish design effect.

Post-stratification gives each respondent in cell ``c`` (e.g. sex x age band) the weight
``N_c / n_c``. Raking (iterative proportional fitting; Deming & Stephan 1940) adjusts the weights
in turn to each margin (e.g. the sex totals, then the age-band totals) until all match; it
needs only the margins, not the joint table, and tolerates thin cells.

Kish's (1965) design effect from unequal weights is ``deff = n * sum(w**2) / sum(w)**2`` and the
effective sample size is ``n / deff = sum(w)**2 / sum(w**2)``: the number of equally weighted
respondents that would give the same precision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from guardian.errors import InputError


def kish_deff(weights) -> float:
    """Kish design effect of unequal weighting, ``n * sum(w^2) / sum(w)^2`` (>= 1)."""
    w = np.asarray(weights, dtype=float)
    if w.size == 0 or np.any(w < 0) or w.sum() <= 0:
        raise InputError("weights must be non-negative with a positive sum")
    return float(w.size * np.sum(w**2) / np.sum(w) ** 2)


def effective_sample_size(weights) -> float:
    """Kish effective sample size ``sum(w)^2 / sum(w^2)``."""
    w = np.asarray(weights, dtype=float)
    if w.size == 0 or np.any(w < 0) or w.sum() <= 0:
        raise InputError("weights must be non-negative with a positive sum")
    return float(np.sum(w) ** 2 / np.sum(w**2))


def poststratify(sample: pd.DataFrame, population: pd.DataFrame, *, by: Sequence[str],
                 population_column: str = "population") -> np.ndarray:
    """Post-stratification weights ``N_cell / n_cell``.

    Parameters
    ----------
    sample : DataFrame
        One row per respondent with the ``by`` columns.
    population : DataFrame
        One row per cell with the ``by`` columns and the population count.
    by : sequence of str
        Cell-defining columns (e.g. ``["sex", "age_band"]``).

    Returns
    -------
    ndarray
        Weights summing to the population total of the cells present.

    Raises
    ------
    InputError
        If a population cell has no respondents (collapse cells or rake instead), or a
        respondent's cell is not in the population table.
    """
    by = list(by)
    for c in by:
        if c not in sample.columns or c not in population.columns:
            raise InputError(f"post-stratification variable {c!r} missing from sample or "
                             "population")
    popf = population[by + [population_column]].copy()
    if (pd.to_numeric(popf[population_column]) < 0).any():
        raise InputError("population counts must be non-negative")
    pop: dict[tuple, float] = {}
    for row in popf.itertuples(index=False):
        key = tuple(str(v) for v in row[:-1])
        pop[key] = pop.get(key, 0.0) + float(row[-1])
    keys = [tuple(str(v) for v in r) for r in sample[by].itertuples(index=False)]
    n: dict[tuple, int] = {}
    for k in keys:
        n[k] = n.get(k, 0) + 1
    unknown = sorted(set(n) - set(pop))
    if unknown:
        raise InputError(f"respondents in cells missing from the population: {unknown[:5]}")
    empty = [k for k, v in pop.items() if v > 0 and k not in n]
    if empty:
        raise InputError(f"population cells with no respondents: {empty[:5]}; collapse "
                         "them or use raking")
    return np.array([pop[k] / n[k] for k in keys], dtype=float)


def rake(sample: pd.DataFrame, margins: Mapping[str, Mapping], *, base_weights=None,
         max_iter: int = 200, tol: float = 1e-10) -> np.ndarray:
    """Raking (iterative proportional fitting) of weights to population margins.

    Parameters
    ----------
    sample : DataFrame
        One row per respondent with one column per margin variable.
    margins : mapping
        ``{variable: {level: population}}``, e.g. ``{"sex": {"F": 51000, "M": 49000}}``.
        Every margin must have the same total (they describe one population).
    base_weights : array-like, optional
        Design weights to start from (default 1).
    max_iter, tol : int, float
        Stop when every margin matches to ``tol`` (relative).

    Returns
    -------
    ndarray
        Weights summing to the population total.

    Raises
    ------
    InputError
        For a level with respondents but no population or the reverse, unequal margin totals,
        or no convergence.
    """
    if not margins:
        raise InputError("raking needs at least one margin")
    n = len(sample)
    w = np.ones(n) if base_weights is None else np.asarray(base_weights, dtype=float).copy()
    if w.shape != (n,) or np.any(w <= 0):
        raise InputError("base weights must be positive, one per respondent")
    codes, targets = [], []
    totals = []
    for var, levels in margins.items():
        if var not in sample.columns:
            raise InputError(f"margin variable {var!r} is not a column of the sample")
        lv = {str(k): float(v) for k, v in levels.items()}
        if any(v < 0 for v in lv.values()):
            raise InputError(f"margin {var!r} has a negative population")
        vals = sample[var].astype(str).to_numpy()
        unknown = sorted(set(vals) - set(lv))
        if unknown:
            raise InputError(f"respondents with {var} = {unknown[:5]} have no population margin")
        names = [k for k, v in lv.items() if v > 0]
        missing = [k for k in names if k not in set(vals)]
        if missing:
            raise InputError(f"no respondents with {var} = {missing}; collapse levels")
        idx = {k: i for i, k in enumerate(lv)}
        codes.append(np.array([idx[v] for v in vals]))
        targets.append(np.array(list(lv.values())))
        totals.append(sum(lv.values()))
    if max(totals) - min(totals) > 1e-6 * max(totals):
        raise InputError(f"margins have different totals {totals}; they must describe one "
                         "population")
    for _ in range(max_iter):
        worst = 0.0
        for c, t in zip(codes, targets, strict=True):
            cur = np.bincount(c, weights=w, minlength=len(t))
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(cur > 0, t / cur, 1.0)
            w = w * f[c]
            worst = max(worst, float(np.max(np.abs(cur - t) / np.maximum(t, 1e-12))))
        if worst < tol:
            return w
    raise InputError(f"raking did not converge in {max_iter} iterations (largest margin error "
                     f"{worst:.2e}); collapse thin levels")
