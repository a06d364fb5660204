"""Self-exciting point process (Mohler et al. 2011), ETAS-like, fitted by EM.

Conditional intensity at location s and time t (events per m² per day)::

    λ(s, t) = μ(s) + Σ_{t_i < t} θ ω exp(-ω (t - t_i)) · φ_σ(s - s_i)

with μ(s) a fixed-bandwidth Gaussian kernel density of the *background* events (constant in
time), φ_σ an isotropic Gaussian (standard deviation σ metres), θ the mean number of offspring
per event and 1/ω their mean delay in days.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from guardian.analysis.risk.base import (
    RiskEstimator,
    check_positive,
    separable_sum,
)
from guardian.errors import InputError


def _pairs_within(x, y, r):
    """Index pairs (i, j), i < j, of points within ``r`` metres, and their squared distances."""
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(r, output_type="ndarray")
    if pairs.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    i, j = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    d2 = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2
    return i, j, d2


def trigger_pairs(x, y, t, *, max_distance_m: float, max_days: float):
    """(parent, child, Δt days, d² m²) for every pair with 0 < Δt <= max_days, d <= max_distance_m.

    Found with a k-d tree (:meth:`scipy.spatial.cKDTree.query_pairs`), so the cost grows with the
    number of close pairs, not with n².
    """
    i, j, d2 = _pairs_within(x, y, max_distance_m)
    dt = t[j] - t[i]
    parent = np.where(dt > 0, i, j)
    child = np.where(dt > 0, j, i)
    dt = np.abs(dt)
    keep = (dt > 0) & (dt <= max_days)
    return parent[keep], child[keep], dt[keep], d2[keep]


def background_pairs(x, y, *, bandwidth_m: float, reach: float = 4.0):
    """Symmetric pairs (a, b), a != b, within ``reach`` bandwidths, with Gaussian kernel values."""
    i, j, d2 = _pairs_within(x, y, reach * bandwidth_m)
    k = np.exp(-d2 / (2.0 * bandwidth_m**2)) / (2.0 * np.pi * bandwidth_m**2)
    return np.concatenate([i, j]), np.concatenate([j, i]), np.concatenate([k, k])


def background_matrix(x, y, *, bandwidth_m: float, reach: float = 4.0) -> sp.csr_matrix:
    """Sparse symmetric matrix of Gaussian kernel values K_h(s_i - s_j), i != j, within ``reach``
    bandwidths (per m²); the background density at the events is ``K @ q / T``."""
    a, b, k = background_pairs(x, y, bandwidth_m=bandwidth_m, reach=reach)
    return sp.csr_matrix((k, (b, a)), shape=(x.size, x.size))


def em_step(
    *,
    n: int,
    span_days: float,
    bg_a=None,
    bg_b=None,
    bg_k=None,
    bg_self: float = 0.0,
    bg_matrix=None,
    q,
    par,
    chi,
    dt,
    d2,
    theta: float,
    omega: float,
    sigma: float,
):
    """One EM (stochastic declustering) iteration. Returns new (q, p, theta, omega, sigma²).

    ``q[j]`` is the probability that event j is background, ``p[k]`` that pair k's child was
    triggered by its parent. ``bg_self`` weights the event's own kernel in its background
    density (0 = leave-one-out). The background kernel is given either as pairs
    (``bg_a``, ``bg_b``, ``bg_k``) or as the sparse matrix of :func:`background_matrix`.
    """
    # background density at each event: Σ_i q_i K_h(s_j - s_i) / T  (leave-one-out)
    if bg_matrix is not None:
        mu = bg_matrix @ q + bg_self * q
    else:
        mu = np.bincount(bg_b, weights=q[bg_a] * bg_k, minlength=n) + bg_self * q
    mu /= span_days
    g = theta * omega * np.exp(-omega * dt) * np.exp(-d2 / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    lam = mu + np.bincount(chi, weights=g, minlength=n)
    lam = np.where(lam > 0, lam, np.finfo(float).tiny)
    p = g / lam[chi]
    q_new = mu / lam
    sp = p.sum()
    theta_new = sp / n
    if sp > 0:
        omega_new = sp / max((p * dt).sum(), 1e-12)
        sigma2_new = (p * d2).sum() / (2 * sp)
    else:
        omega_new, sigma2_new = omega, sigma**2
    return q_new, p, theta_new, omega_new, sigma2_new


class SEPPRisk(RiskEstimator):
    """Self-exciting point process risk (Mohler et al. 2011), fitted by EM.

    Parameters
    ----------
    background_bandwidth_m : float, default 400
        Standard deviation (metres) of the fixed-bandwidth Gaussian KDE of background events.
    max_distance_m : float, default 500
        Triggering is only considered between events at most this far apart (metres).
    max_days : float, default 60
        ... and at most this many days apart.
    lookback_days : float, default 365
        Events in ``[cutoff - lookback_days, cutoff)`` are used.
    max_iter : int, default 100
    tol : float, default 1e-4
        Stop when θ, ω and σ all change by less than this relative amount.
    min_sigma_m : float, default 25
        Lower bound for σ (metres); stops repeat events at the same address collapsing the
        triggering kernel onto a point.
    random_state : int or None, default 0
        Seed for the within-day jitter of day-resolution times (written into results).
    grid, cell_m
        See :class:`~guardian.analysis.risk.base.RiskEstimator`.

    Attributes
    ----------
    theta_ : float
        Mean number of triggered events per event.
    omega_ : float
        Triggering decay rate per day (mean delay 1/ω days).
    sigma_m_ : float
        Triggering spatial standard deviation in metres.
    background_share_ : float
        Mean probability that an event is background (Σ q / n).
    n_iter_ : int
    n_trigger_pairs_ : int
        Candidate parent-child pairs considered.

    Notes
    -----
    Mohler, G. O., Short, M. B., Brantingham, P. J., Schoenberg, F. P. and Tita, G. E. (2011)
    Self-exciting point process modeling of crime. JASA 106(493), 100–108; the EM/stochastic
    declustering scheme of Zhuang, Ogata and Vere-Jones (2002) with a fixed-bandwidth background
    in place of the paper's variable bandwidth. Requirements and simplifications:

    * needs day or minute resolution (refuses month-precision police.uk data);
    * day-resolution times are jittered uniformly within their day (seeded by
      ``random_state``) so same-day pairs have a defined order;
    * the background density at an event leaves that event out (otherwise its own kernel
      dominates and nothing is ever attributed to triggering);
    * θ is estimated ignoring the triggering mass beyond ``max_distance_m``/``max_days`` and
      beyond the cut-off (edge effects), as in the paper;
    * the prediction is the expected number of events per cell in ``[start, end)``: background
      rate × window length, plus each past event's remaining offspring
      θ (e^{-ω(start-t_i)} - e^{-ω(end-t_i)}) spread by φ_σ — both integrated exactly over cells.
    """

    method = "sepp"

    def __init__(
        self,
        *,
        background_bandwidth_m: float = 400.0,
        max_distance_m: float = 500.0,
        max_days: float = 60.0,
        lookback_days: float = 365.0,
        max_iter: int = 100,
        tol: float = 1e-4,
        min_sigma_m: float = 25.0,
        random_state: int | None = 0,
        grid=None,
        cell_m: float = 150.0,
    ) -> None:
        super().__init__(grid=grid, cell_m=cell_m)
        self.background_bandwidth_m = background_bandwidth_m
        self.max_distance_m = max_distance_m
        self.max_days = max_days
        self.lookback_days = lookback_days
        self.max_iter = max_iter
        self.tol = tol
        self.min_sigma_m = min_sigma_m
        self.random_state = random_state

    def _validate(self) -> None:
        super()._validate()
        for name in (
            "background_bandwidth_m",
            "max_distance_m",
            "max_days",
            "lookback_days",
            "tol",
            "min_sigma_m",
        ):
            check_positive(name, getattr(self, name))
        if not (isinstance(self.max_iter, int | np.integer) and self.max_iter >= 1):
            raise InputError(f"max_iter must be a positive integer, got {self.max_iter!r}")

    def _check_precision(self, precision: str) -> None:
        if precision == "month":
            raise InputError(
                "sepp needs day- or minute-resolution times; these events are month-precision "
                "(police.uk). Use method naive, kde or prospective for monthly data."
            )

    def _fit(self, x, y, t, cutoff_d) -> None:
        t0 = cutoff_d - float(self.lookback_days)
        sel = t >= t0
        x, y, t = x[sel], y[sel], t[sel]
        n = x.size
        if n < 2:
            raise InputError(
                f"sepp needs at least 2 events before the cut-off in the look-back window, got {n}"
            )
        rng = np.random.default_rng(self.random_state)
        if self.time_precision_ == "day":
            # times sit at the start of their day: spread them uniformly within it
            t = t + rng.uniform(0.0, 1.0, size=n) * 0.999
            t = np.minimum(t, np.nextafter(cutoff_d, -np.inf))
        span = cutoff_d - max(t0, float(np.floor(t.min())))
        par, chi, dt, d2 = trigger_pairs(
            x, y, t, max_distance_m=float(self.max_distance_m), max_days=float(self.max_days)
        )
        bg = background_matrix(x, y, bandwidth_m=float(self.background_bandwidth_m))
        theta, omega, sigma = 0.2, 0.1, 100.0
        q = np.ones(n)
        p = np.zeros(par.size)
        it = 0
        for it in range(1, int(self.max_iter) + 1):  # noqa: B007
            q, p, theta_n, omega_n, s2 = em_step(
                n=n,
                span_days=span,
                bg_matrix=bg,
                bg_self=0.0,
                q=q,
                par=par,
                chi=chi,
                dt=dt,
                d2=d2,
                theta=theta,
                omega=omega,
                sigma=sigma,
            )
            sigma_n = max(float(np.sqrt(s2)), float(self.min_sigma_m))
            change = max(
                abs(theta_n - theta) / max(theta, 1e-12),
                abs(omega_n - omega) / max(omega, 1e-12),
                abs(sigma_n - sigma) / max(sigma, 1e-12),
            )
            theta, omega, sigma = float(theta_n), float(omega_n), sigma_n
            if change < self.tol:
                break
        self.theta_, self.omega_, self.sigma_m_ = theta, omega, sigma
        self.background_share_ = float(q.mean())
        self.n_iter_ = it
        self.n_trigger_pairs_ = int(par.size)
        self.n_used_ = int(n)
        self.span_days_ = float(span)
        self.seed_ = self.random_state
        self._x, self._y, self._t, self._q = x, y, t, q
        # background expected events per cell per day (exact cell integrals of the kernels)
        self._bg_per_day = (
            separable_sum(self.grid_, x, y, q, float(self.background_bandwidth_m)) / span
        )

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:
        out = self._bg_per_day * (end_d - start_d)
        w = self.theta_ * (
            np.exp(-self.omega_ * (start_d - self._t)) - np.exp(-self.omega_ * (end_d - self._t))
        )
        keep = w > 1e-12
        if keep.any():
            out = out + separable_sum(
                self.grid_, self._x[keep], self._y[keep], w[keep], self.sigma_m_
            )
        return out

    def _fitted_summary(self) -> dict:
        return {
            **super()._fitted_summary(),
            "theta": self.theta_,
            "omega_per_day": self.omega_,
            "sigma_m": self.sigma_m_,
            "background_share": self.background_share_,
            "n_iter": self.n_iter_,
            "random_state": self.seed_,
        }
