"""Forecasting methods for monthly counts, vectorised across series and forecast origins.

Every method answers the same question: given series ``Y`` (months x series, NaN for months
excluded as a structural break) and forecast origins (the number of months of training data),
what are the point forecasts and the 80% / 95% prediction intervals 1..H months ahead? The
answer is a :class:`Predictions` of shape (origins, series, horizon), so one back-test scores
every method.

Methods
-------
``snaive``
    Seasonal naive: the same calendar month last year (Hyndman & Athanasopoulos 2021, 5.2);
    variance ``sigma^2 (k + 1)`` with ``k = floor((h - 1) / 12)``.
``ets``
    ETS(A,Ad,A) — additive error, damped additive trend, additive seasonality (Hyndman et al.
    2008, class 1) — run as one NumPy recursion over a grid of smoothing parameters for every
    series and origin at once; the parameters minimise the one-step squared error of each
    training window (the Gaussian likelihood for given starting states); analytic forecast
    variance ``sigma^2 (1 + sum_{j<h} c_j^2)``, ``c_j = alpha + beta phi_j + gamma [j mod 12 = 0]``.
``sarima``
    The airline model SARIMA(0,1,1)(0,1,1)12 (Box & Jenkins 1976), fitted by conditional sum of
    squares over a grid of (theta, Theta), again for every series and origin at once; forecast
    variance from the psi weights ``sigma^2 sum_{j<h} psi_j^2``.
``ensemble``
    The mean of the three point forecasts, with intervals from averaging the members' interval
    bounds (quantile averaging, Lichtendahl, Grushka-Cockayne & Winkler 2013).
``ets-statsmodels``, ``sarima-statsmodels``
    The same two models fitted by maximum likelihood with statsmodels (``ETSModel``,
    ``SARIMAX``), one fit per series and origin: the reference the fast recursions are checked
    against and the "naive loop" of ``benchmarks/forecast.py``.

A missing month (NaN) is handled as a state-space model handles a missing observation: the
one-step prediction stands in for it and its error is zero, so it neither moves the states nor
enters the fitted error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from guardian.analysis.forecast.series import MIN_OBSERVED_START, SEASON
from guardian.errors import InputError

LEVELS = (0.80, 0.95)
"""Prediction interval levels."""

FAST_METHODS = ("snaive", "ets", "sarima", "ensemble")
REFERENCE_METHODS = ("ets-statsmodels", "sarima-statsmodels")
METHODS = FAST_METHODS + REFERENCE_METHODS

LABELS = {
    "snaive": "seasonal naive (same month last year)",
    "ets": "ETS(A,Ad,A) exponential smoothing",
    "sarima": "SARIMA(0,1,1)(0,1,1)12 airline model",
    "ensemble": "ensemble (mean of the three)",
    "ets-statsmodels": "ETS(A,Ad,A), statsmodels ETSModel (MLE)",
    "sarima-statsmodels": "SARIMA(0,1,1)(0,1,1)12, statsmodels SARIMAX (MLE)",
}

FIT_START = SEASON
"""Errors before this month are not used to fit (the first year starts the seasonal state)."""

# Parameter grids. ETS: alpha, beta (<= alpha), gamma (<= 1 - alpha), phi.
_ETS_ALPHA = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)
_ETS_BETA = (0.0, 0.01, 0.03, 0.1)
_ETS_GAMMA = (0.0, 0.05, 0.1, 0.2, 0.3)
_ETS_PHI = (0.8, 0.9, 0.98)
_SAR_THETA = tuple(np.round(np.arange(-0.9, 0.61, 0.1), 2)) + (-0.95,)
_SAR_STHETA = tuple(np.round(np.arange(-0.95, 0.31, 0.05), 2))


def ets_grid() -> np.ndarray:
    """ETS parameter grid, shape (G, 4): alpha, beta, gamma, phi."""
    g = [
        (a, b, c, p)
        for a in _ETS_ALPHA
        for b in _ETS_BETA
        if b <= a
        for c in _ETS_GAMMA
        if c <= 1 - a
        for p in _ETS_PHI
    ]
    return np.array(g, float)


def sarima_grid() -> np.ndarray:
    """Airline-model grid, shape (G, 2): theta, Theta (MA(1) and seasonal MA(1))."""
    return np.array([(t, s) for t in _SAR_THETA for s in _SAR_STHETA], float)


@dataclass(frozen=True)
class Predictions:
    """Point forecasts and interval bounds, each of shape (origins, series, horizon)."""

    method: str
    mean: np.ndarray
    lower: dict[float, np.ndarray]
    upper: dict[float, np.ndarray]
    params: np.ndarray | None = None  # (origins, series, p) chosen parameters, if any


def _intervals(mean: np.ndarray, sd: np.ndarray) -> tuple[dict, dict]:
    lo, hi = {}, {}
    for lv in LEVELS:
        z = norm.ppf(0.5 + lv / 2)
        # counts cannot be negative: the interval is cut at zero
        lo[lv] = np.maximum(mean - z * sd, 0.0)
        hi[lv] = mean + z * sd
    return lo, hi


def _check(Y: np.ndarray, origins: np.ndarray, horizon: int) -> None:
    if Y.ndim != 2:
        raise InputError(f"series must be a 2-D array (months x series), got shape {Y.shape}")
    if horizon < 1:
        raise InputError(f"horizon must be at least 1 month, got {horizon}")
    if len(origins) == 0:
        raise InputError("no forecast origins")
    if origins.min() < 2 * SEASON + 1:
        raise InputError(
            f"a forecast origin needs at least {2 * SEASON + 1} months of training, got "
            f"{int(origins.min())}"
        )
    if origins.max() > Y.shape[0]:
        raise InputError(f"origin {int(origins.max())} is beyond the {Y.shape[0]} months given")
    if np.isnan(Y[:MIN_OBSERVED_START]).any():
        raise InputError(f"the first {MIN_OBSERVED_START} months must be observed (not NaN)")


def _masked_columns(Y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """One column per (origin, series): the series up to the origin, NaN after it, padded
    with ``horizon`` NaN months; shape (n + horizon, n_orig * S), column ``o * S + s``."""
    n, S = Y.shape
    n_orig = len(origins)
    out = np.full((n + horizon, n_orig, S), np.nan)
    t = np.arange(n)[:, None]
    keep = t < origins[None, :]  # (n, n_orig)
    out[:n] = np.where(keep[:, :, None], Y[:, None, :], np.nan)
    return out.reshape(n + horizon, n_orig * S)


def _sse_at_origins(Y, yhat, origins, start):
    """Cumulative squared one-step error (and its count) up to each origin, from ``start``.

    ``yhat`` has shape (n, K) with K a multiple of S (grid-major); returns (n_orig, K) arrays.
    """
    n = Y.shape[0]
    G = yhat.shape[1] // Y.shape[1]
    y = np.tile(Y, (1, G))
    e2 = (y - yhat) ** 2
    e2[:start] = np.nan
    obs = np.isfinite(e2)
    cs = np.cumsum(np.where(obs, e2, 0.0), axis=0)
    cn = np.cumsum(obs, axis=0)
    idx = np.minimum(origins, n) - 1
    return cs[idx], cn[idx]


# --- seasonal naive --------------------------------------------------------------------------


def _snaive_filter(y: np.ndarray) -> np.ndarray:
    n, K = y.shape
    ystar = y.copy()
    yhat = np.full_like(y, np.nan)
    for t in range(SEASON, n):
        yhat[t] = ystar[t - SEASON]
        miss = np.isnan(y[t])
        ystar[t] = np.where(miss, yhat[t], y[t])
    return yhat


def seasonal_naive(Y: np.ndarray, origins, horizon: int) -> Predictions:
    """Seasonal naive forecasts at each origin (see the module docstring).

    Parameters
    ----------
    Y : ndarray, shape (n, S)
        Monthly counts, NaN for excluded months.
    origins : array of int, shape (n_orig,)
        Months of training data for each forecast.
    horizon : int
        Months ahead.
    """
    Y = np.asarray(Y, float)
    origins = np.asarray(origins, int)
    _check(Y, origins, horizon)
    n_orig, S = len(origins), Y.shape[1]
    cols = _masked_columns(Y, origins, horizon)
    yhat = _snaive_filter(cols)
    rows = origins[:, None] + np.arange(horizon)[None, :]  # (n_orig, H)
    yh = yhat.reshape(-1, n_orig, S)
    mean = yh[rows, np.arange(n_orig)[:, None], :].transpose(0, 2, 1)  # (n_orig, S, H)
    sse, cnt = _sse_at_origins(Y, _snaive_filter(Y), origins, SEASON)
    sigma2 = sse / np.maximum(cnt, 1)
    k = (np.arange(horizon) // SEASON) + 1
    sd = np.sqrt(sigma2[:, :, None] * k[None, None, :])
    lo, hi = _intervals(mean, sd)
    return Predictions("snaive", mean, lo, hi)


# --- ETS(A,Ad,A) -----------------------------------------------------------------------------


def ets_initial_states(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting level, trend and seasonal states from the first two years (heuristic).

    Level and trend from the means of years one and two; seasonal states are year one's
    deviations from that line, centred to sum to zero. Returns ``l0 (S,)``, ``b0 (S,)`` (the
    states at month -1) and ``s0 (12, S)`` (the seasonal states of months -12..-1).
    """
    y1, y2 = Y[:SEASON], Y[SEASON : 2 * SEASON]
    m1, m2 = y1.mean(axis=0), y2.mean(axis=0)
    b0 = (m2 - m1) / SEASON
    j = np.arange(SEASON)[:, None] - (SEASON - 1) / 2
    s0 = y1 - (m1[None, :] + j * b0[None, :])
    s0 = s0 - s0.mean(axis=0, keepdims=True)
    l0 = m1 - (SEASON + 1) / 2 * b0
    return l0, b0, s0


def ets_filter(y, alpha, beta, gamma, phi, l0, b0, s0) -> np.ndarray:
    """One-step predictions of ETS(A,Ad,A) for K columns at once.

    Parameters
    ----------
    y : ndarray, shape (n, K)
        Observations, NaN for missing (prediction used, zero error).
    alpha, beta, gamma, phi, l0, b0 : ndarray, shape (K,)
    s0 : ndarray, shape (12, K)
        Seasonal states of months -12..-1.

    Returns
    -------
    ndarray, shape (n, K)
        ``yhat[t] = l[t-1] + phi b[t-1] + s[t-12]``.
    """
    n, _K = y.shape
    level, trend = l0.astype(float).copy(), b0.astype(float).copy()
    seas = s0.astype(float).copy()
    yhat = np.empty_like(y, dtype=float)
    for t in range(n):
        i = t % SEASON
        damped = phi * trend
        f = level + damped + seas[i]
        yhat[t] = f
        e = y[t] - f
        e = np.where(np.isnan(e), 0.0, e)
        level = level + damped + alpha * e
        trend = damped + beta * e
        seas[i] = seas[i] + gamma * e
    return yhat


def _ets_variance_factors(p: np.ndarray, horizon: int) -> np.ndarray:
    """``1 + sum_{j=1}^{h-1} c_j^2`` for h = 1..H; p has shape (..., 4)."""
    a, b, g, ph = (p[..., i][..., None] for i in range(4))
    j = np.arange(1, horizon)
    phij = np.cumsum(ph ** j, axis=-1) if horizon > 1 else np.zeros(p.shape[:-1] + (0,))
    c = a + b * phij + g * (j % SEASON == 0)
    out = np.ones(p.shape[:-1] + (horizon,))
    if horizon > 1:
        out[..., 1:] += np.cumsum(c**2, axis=-1)
    return out


def _chunks(S: int, per_series: int, limit: int = 8_000_000) -> list[slice]:
    # pass 1 holds (months x grid) values per series: bound the memory (8e6 floats = 64 MB)
    step = max(1, limit // max(per_series, 1))
    return [slice(i, min(S, i + step)) for i in range(0, S, step)]


def _grid_method(name, Y, origins, horizon, grid, filt, init, var_factors, start):
    Y = np.asarray(Y, float)
    origins = np.asarray(origins, int)
    _check(Y, origins, horizon)
    n, S = Y.shape
    n_orig, G = len(origins), len(grid)
    best = np.empty((n_orig, S), int)
    sigma2 = np.empty((n_orig, S))
    for sl in _chunks(S, G * n):
        Ys = Y[:, sl]
        Sk = Ys.shape[1]
        st = init(Ys)
        # pass 1: every grid point on the full series; the error sum to each origin only uses
        # months before it, so one pass gives every origin its own fit
        cols = np.tile(Ys, (1, G))
        prm = np.repeat(grid, Sk, axis=0)  # (G*Sk, p), grid-major
        yhat = filt(cols, prm, tuple(np.tile(x, (1,) * (x.ndim - 1) + (G,)) for x in st))
        sse, cnt = _sse_at_origins(Ys, yhat, origins, start)
        sse = sse.reshape(n_orig, G, Sk)
        b = np.argmin(sse, axis=1)  # (n_orig, Sk)
        best[:, sl] = b
        sigma2[:, sl] = np.take_along_axis(sse, b[:, None, :], axis=1)[:, 0, :] / np.maximum(
            cnt.reshape(n_orig, G, Sk)[:, 0, :], 1
        )
    # pass 2: the chosen parameters on each training window, run on into the horizon
    prm = grid[best]  # (n_orig, S, p)
    cols = _masked_columns(Y, origins, horizon)
    st = init(Y)
    st2 = tuple(np.tile(x, (1,) * (x.ndim - 1) + (n_orig,)) for x in st)
    yhat = filt(cols, prm.reshape(n_orig * S, -1), st2)
    rows = origins[:, None] + np.arange(horizon)[None, :]
    mean = yhat.reshape(-1, n_orig, S)[rows, np.arange(n_orig)[:, None], :].transpose(0, 2, 1)
    sd = np.sqrt(sigma2[:, :, None] * var_factors(prm, horizon))
    lo, hi = _intervals(mean, sd)
    return Predictions(name, mean, lo, hi, params=prm)


def _ets_filt(cols, prm, st):
    l0, b0, s0 = st
    return ets_filter(cols, prm[:, 0], prm[:, 1], prm[:, 2], prm[:, 3], l0, b0, s0)


def ets(Y: np.ndarray, origins, horizon: int) -> Predictions:
    """ETS(A,Ad,A) forecasts at each origin (see the module docstring); shapes as
    :func:`seasonal_naive`. ``params`` holds alpha, beta, gamma, phi per origin and series."""
    return _grid_method(
        "ets", Y, origins, horizon, ets_grid(), _ets_filt, ets_initial_states,
        _ets_variance_factors, FIT_START,
    )


# --- SARIMA(0,1,1)(0,1,1)12 ------------------------------------------------------------------


def airline_filter(y: np.ndarray, theta: np.ndarray, stheta: np.ndarray) -> np.ndarray:
    """One-step predictions of the airline model by conditional sum of squares.

    ``yhat[t] = y[t-1] + y[t-12] - y[t-13] + theta e[t-1] + Theta e[t-12] + theta Theta e[t-13]``
    for ``t >= 13`` with errors before month 13 set to zero; a missing month takes its
    prediction (zero error). Shapes: y (n, K), theta and stheta (K,); returns (n, K), NaN
    before month 13.
    """
    n, K = y.shape
    L = SEASON + 1
    ystar = y.copy()
    e = np.zeros_like(y, dtype=float)
    yhat = np.full_like(y, np.nan, dtype=float)
    tt = theta * stheta
    for t in range(L, n):
        f = (
            ystar[t - 1] + ystar[t - SEASON] - ystar[t - L]
            + theta * e[t - 1] + stheta * e[t - SEASON] + tt * e[t - L]
        )
        yhat[t] = f
        d = y[t] - f
        miss = np.isnan(d)
        e[t] = np.where(miss, 0.0, d)
        ystar[t] = np.where(miss, f, y[t])
    return yhat


def airline_psi(theta: np.ndarray, stheta: np.ndarray, horizon: int) -> np.ndarray:
    """psi weights of the airline model, shape (..., horizon): psi_0 = 1, ..."""
    theta = np.asarray(theta, float)
    stheta = np.asarray(stheta, float)
    shape = np.broadcast(theta, stheta).shape
    ma = np.zeros(shape + (SEASON + 2,))
    ma[..., 1] = theta
    ma[..., SEASON] = stheta
    ma[..., SEASON + 1] = theta * stheta
    ar = {1: 1.0, SEASON: 1.0, SEASON + 1: -1.0}  # (1 - B)(1 - B^12) = 1 - B - B^12 + B^13
    psi = np.zeros(shape + (horizon,))
    for j in range(horizon):
        v = ma[..., j] if j < SEASON + 2 else np.zeros(shape)
        if j == 0:
            v = np.ones(shape)
        for i, a in ar.items():
            if j - i >= 0:
                v = v + a * psi[..., j - i]
        psi[..., j] = v
    return psi


def _sar_filt(cols, prm, st):
    return airline_filter(cols, prm[:, 0], prm[:, 1])


def _sar_var(prm, horizon):
    psi = airline_psi(prm[..., 0], prm[..., 1], horizon)
    return np.cumsum(psi**2, axis=-1)


def sarima(Y: np.ndarray, origins, horizon: int) -> Predictions:
    """Airline-model forecasts at each origin (see the module docstring); ``params`` holds
    theta and Theta per origin and series."""
    return _grid_method(
        "sarima", Y, origins, horizon, sarima_grid(), _sar_filt, lambda Ys: (),
        _sar_var, SEASON + 1,
    )


# --- ensemble --------------------------------------------------------------------------------


def ensemble(members: list[Predictions]) -> Predictions:
    """Mean point forecast and mean interval bounds of ``members``."""
    mean = np.mean([m.mean for m in members], axis=0)
    lo = {lv: np.mean([m.lower[lv] for m in members], axis=0) for lv in LEVELS}
    hi = {lv: np.mean([m.upper[lv] for m in members], axis=0) for lv in LEVELS}
    return Predictions("ensemble", mean, lo, hi)


# --- statsmodels references ------------------------------------------------------------------


def _statsmodels_loop(name, Y, origins, horizon, fit_one):
    Y = np.asarray(Y, float)
    origins = np.asarray(origins, int)
    _check(Y, origins, horizon)
    n_orig, S = len(origins), Y.shape[1]
    mean = np.empty((n_orig, S, horizon))
    lo = {lv: np.empty((n_orig, S, horizon)) for lv in LEVELS}
    hi = {lv: np.empty((n_orig, S, horizon)) for lv in LEVELS}
    with warnings.catch_warnings():
        # convergence chatter from the optimiser on short windows; the fit is still used
        warnings.simplefilter("ignore")
        for i, o in enumerate(origins):
            for s in range(S):
                m, bounds = fit_one(Y[:o, s], horizon)
                mean[i, s] = m
                for lv in LEVELS:
                    lo[lv][i, s] = np.maximum(bounds[lv][0], 0.0)
                    hi[lv][i, s] = bounds[lv][1]
    return Predictions(name, mean, lo, hi)


def _fit_ets_statsmodels(y, horizon):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    if np.isnan(y).any():
        raise InputError("ets-statsmodels cannot fit through excluded (break) months; use 'ets'")
    import pandas as pd

    # a Series: statsmodels' prediction frame needs an index (a bare array fails in 0.15)
    res = ETSModel(
        pd.Series(y), error="add", trend="add", damped_trend=True, seasonal="add", seasonal_periods=SEASON,
        initialization_method="heuristic",
    ).fit(disp=False)
    pred = res.get_prediction(start=len(y), end=len(y) + horizon - 1)
    bounds = {}
    for lv in LEVELS:
        fr = pred.summary_frame(alpha=1 - lv)
        bounds[lv] = (fr["pi_lower"].to_numpy(), fr["pi_upper"].to_numpy())
    return np.asarray(pred.predicted_mean), bounds


def _fit_sarima_statsmodels(y, horizon):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    res = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, SEASON)).fit(disp=False)
    fc = res.get_forecast(horizon)
    bounds = {}
    for lv in LEVELS:
        ci = np.asarray(fc.conf_int(alpha=1 - lv))
        bounds[lv] = (ci[:, 0], ci[:, 1])
    return np.asarray(fc.predicted_mean), bounds


def ets_statsmodels(Y, origins, horizon: int) -> Predictions:
    """ETS(A,Ad,A) by statsmodels ``ETSModel`` (MLE), one fit per series and origin."""
    return _statsmodels_loop("ets-statsmodels", Y, origins, horizon, _fit_ets_statsmodels)


def sarima_statsmodels(Y, origins, horizon: int) -> Predictions:
    """SARIMA(0,1,1)(0,1,1)12 by statsmodels ``SARIMAX`` (MLE), one fit per series and origin."""
    return _statsmodels_loop("sarima-statsmodels", Y, origins, horizon, _fit_sarima_statsmodels)


def predict(methods, Y, origins, horizon: int) -> dict[str, Predictions]:
    """Predictions of each named method (``ensemble`` reuses the three members)."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown forecast method(s) {unknown}; choose from {list(METHODS)}")
    fns = {
        "snaive": seasonal_naive, "ets": ets, "sarima": sarima,
        "ets-statsmodels": ets_statsmodels, "sarima-statsmodels": sarima_statsmodels,
    }
    out: dict[str, Predictions] = {}
    need = list(methods)
    if "ensemble" in need:
        need = list(dict.fromkeys(["snaive", "ets", "sarima"] + need))
    for m in need:
        if m != "ensemble":
            out[m] = fns[m](Y, origins, horizon)
    if "ensemble" in methods:
        out["ensemble"] = ensemble([out["snaive"], out["ets"], out["sarima"]])
    return {m: out[m] for m in methods}
