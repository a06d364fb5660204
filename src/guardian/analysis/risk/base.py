"""The estimator interface shared by every risk method.

scikit-learn style: parameters are keyword-only and stored as given, validated in :meth:`fit`;
fitted attributes end in ``_``. ``fit(events, cutoff)`` keeps only events with
``time < cutoff`` (later rows are dropped and counted in ``n_after_cutoff_``; nothing later is
ever stored), so a back-test cannot leak the future into a prediction.
``predict(start, end)`` returns a :class:`~guardian.analysis.risk.grid.GridSurface` for the window
``[start, end)``, with ``start >= cutoff``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd

from guardian.analysis.risk.grid import Grid, GridSurface
from guardian.errors import InputError

DAY_NS = 86_400 * 10**9

_PRECISION_RANK = {"minute": 0, "day": 1, "month": 2}


def to_days(ts: pd.Timestamp) -> float:
    """A tz-aware timestamp as float days since 1970-01-01T00:00Z."""
    return ts.value / DAY_NS


def as_timestamp(value, tz) -> pd.Timestamp:
    """Parse ``value`` as a timestamp in the events' timezone (naive values are localised)."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot read {value!r} as a date/time; use e.g. '2016-03-01'") from exc
    if ts is pd.NaT:
        raise InputError(f"{value!r} is not a date/time")
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz if tz is not None else "UTC")
    return ts


def event_arrays(events: pd.DataFrame) -> dict:
    """Validate an event frame and return ``x, y`` (metres), ``t`` (days) and metadata.

    Needs columns ``x``, ``y`` (projected metres) and ``time`` (tz-aware datetimes). Rows without
    coordinates are dropped (counted in ``n_no_location``). ``time_precision`` (optional) gives
    the coarsest precision present, ``crs`` (optional) is refused when geographic.
    """
    if not isinstance(events, pd.DataFrame):
        raise InputError(f"events must be a pandas DataFrame, got {type(events).__name__}")
    missing = [c for c in ("x", "y", "time") if c not in events.columns]
    if missing:
        raise InputError(
            f"events are missing columns {missing}; need x, y (metres) and time (tz-aware)"
        )
    time = events["time"]
    if not isinstance(time.dtype, pd.DatetimeTZDtype):
        raise InputError(
            f"events 'time' must be tz-aware datetimes, got dtype {time.dtype}; "
            "use pd.to_datetime(...).dt.tz_localize('UTC') or the guardian loaders"
        )
    if "crs" in events.columns:
        crs = events["crs"].dropna().astype(str).str.upper().unique()
        if len(crs) > 1:
            raise InputError(f"events mix coordinate systems {list(crs)}; project first")
        if len(crs) == 1 and crs[0] in ("EPSG:4326", "OGC:CRS84"):
            raise InputError(
                "x/y are in a geographic CRS (degrees); risk maps need projected metres "
                "(EPSG:27700 for UK data)"
            )
    x = events["x"].to_numpy(dtype=float, na_value=np.nan)
    y = events["y"].to_numpy(dtype=float, na_value=np.nan)
    tvals = (
        time.dt.tz_convert("UTC").dt.as_unit("ns").array.asi8
        if len(time)
        else np.zeros(0, np.int64)
    )
    t_nat = time.isna().to_numpy()
    ok = np.isfinite(x) & np.isfinite(y) & ~t_nat
    precision = "minute"
    if "time_precision" in events.columns and len(events):
        present = events["time_precision"].dropna().astype(str).unique()
        bad = [p for p in present if p not in _PRECISION_RANK]
        if bad:
            raise InputError(f"unknown time_precision {bad}; expected month, day or minute")
        if len(present):
            precision = max(present, key=_PRECISION_RANK.__getitem__)
    crs = ""
    if "crs" in events.columns and events["crs"].notna().any():
        crs = str(events["crs"].dropna().iloc[0])
    return {
        "x": x[ok],
        "y": y[ok],
        "t": np.asarray(tvals, dtype=np.int64)[ok] / DAY_NS,
        "tz": time.dt.tz,
        "precision": precision,
        "crs": crs,
        "n_no_location": int((~ok).sum()),
    }


class RiskEstimator:
    """Base class: subclasses implement ``_fit`` and ``_predict`` and set ``method``.

    Parameters common to all methods
    --------------------------------
    grid : Grid or None
        The grid to predict on. ``None`` builds one covering the training events with
        ``cell_m`` (origin snapped to a multiple of ``cell_m``). Back-tests pass a fixed grid so
        every method is scored on the same cells.
    cell_m : float
        Cell side in metres when ``grid`` is ``None``.
    """

    method = "base"

    def __init__(self, *, grid: Grid | None = None, cell_m: float = 150.0) -> None:
        self.grid = grid
        self.cell_m = cell_m

    # -- scikit-learn conveniences ------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" in vars(klass):
                sig = inspect.signature(klass.__init__)
                for p in sig.parameters.values():
                    if p.kind == p.KEYWORD_ONLY and p.name not in names:
                        names.append(p.name)
        return names

    def get_params(self) -> dict:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def clone(self, **overrides) -> RiskEstimator:
        """A new unfitted estimator with the same parameters (and ``overrides``)."""
        params = self.get_params()
        params.update(overrides)
        return type(self)(**params)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if k != "grid")
        return f"{type(self).__name__}({params})"

    # -- validation hooks ---------------------------------------------------------------------
    def _validate(self) -> None:
        if self.grid is not None and not isinstance(self.grid, Grid):
            raise InputError(
                f"grid must be a guardian Grid or None, got {type(self.grid).__name__}"
            )
        if not (isinstance(self.cell_m, int | float) and self.cell_m > 0):
            raise InputError(f"cell_m must be a positive number of metres, got {self.cell_m!r}")

    def _check_precision(self, precision: str) -> None:  # overridden by SEPP
        return None

    # -- public API ---------------------------------------------------------------------------
    def fit(self, events: pd.DataFrame, cutoff) -> RiskEstimator:
        """Fit on the events strictly before ``cutoff``.

        Parameters
        ----------
        events : DataFrame
            Columns ``x``, ``y`` (projected metres), ``time`` (tz-aware); optional
            ``time_precision`` and ``crs``. Rows at or after ``cutoff`` are dropped before any
            computation and counted in ``n_after_cutoff_``.
        cutoff : str or Timestamp
            The training cut-off; naive values are read in the events' timezone.
        """
        self._validate()
        arrays = event_arrays(events)
        self._check_precision(arrays["precision"])
        cutoff_ts = as_timestamp(cutoff, arrays["tz"])
        cutoff_d = to_days(cutoff_ts)
        keep = arrays["t"] < cutoff_d
        x, y, t = arrays["x"][keep], arrays["y"][keep], arrays["t"][keep]
        self.n_after_cutoff_ = int((~keep).sum())
        self.n_no_location_ = arrays["n_no_location"]
        self.n_events_ = int(keep.sum())
        self.cutoff_ = cutoff_ts
        self.tz_ = arrays["tz"]
        self.time_precision_ = arrays["precision"]
        if self.grid is not None:
            if self.grid.crs and arrays["crs"] and self.grid.crs.upper() != arrays["crs"].upper():
                raise InputError(
                    f"events are in {arrays['crs']} but the grid is in {self.grid.crs}; "
                    "project the events or build the grid from them"
                )
            self.grid_ = self.grid
        else:
            if x.size == 0:
                raise InputError(
                    f"no events before the cut-off {cutoff_ts.isoformat()} to build a grid "
                    "from; pass grid= or an earlier-starting data set"
                )
            self.grid_ = Grid.covering(x, y, cell_m=self.cell_m, crs=arrays["crs"])
        self._fit(x, y, t, cutoff_d)
        return self

    def predict(self, start, end) -> GridSurface:
        """The risk surface for the window ``[start, end)``; ``start`` must be >= the cut-off."""
        if not hasattr(self, "cutoff_"):
            raise InputError(f"{type(self).__name__} is not fitted; call fit(events, cutoff) first")
        start_ts = as_timestamp(start, self.tz_)
        end_ts = as_timestamp(end, self.tz_)
        if start_ts < self.cutoff_:
            raise InputError(
                f"prediction window starts {start_ts.isoformat()}, before the training cut-off "
                f"{self.cutoff_.isoformat()}; predict only after the cut-off"
            )
        if end_ts <= start_ts:
            raise InputError(f"prediction window end {end_ts} must be after its start {start_ts}")
        values = self._predict(to_days(start_ts), to_days(end_ts))
        params = {k: v for k, v in self.get_params().items() if k != "grid"}
        params.update(self._fitted_summary())
        return GridSurface(self.grid_, values, self.method, start_ts, end_ts, params)

    # -- for subclasses -----------------------------------------------------------------------
    def _fit(self, x, y, t, cutoff_d) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, start_d: float, end_d: float) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _fitted_summary(self) -> dict:
        return {"cutoff": self.cutoff_.isoformat(), "n_events": self.n_events_}


def check_positive(name: str, value, *, allow_none: bool = False) -> None:
    """Raise :class:`InputError` unless ``value`` is a positive finite number."""
    if value is None and allow_none:
        return
    if not (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and np.isfinite(value)
        and value > 0
    ):
        raise InputError(f"{name} must be a positive number, got {value!r}")


def gaussian_cell_integrals(coord: np.ndarray, edges: np.ndarray, sd: float) -> np.ndarray:
    """Probability mass of N(coord, sd²) in each interval ``[edges[k], edges[k+1])``.

    Returns shape ``(len(coord), len(edges) - 1)``.
    """
    from scipy.special import ndtr

    z = (edges[None, :] - coord[:, None]) / sd
    cdf = ndtr(z)
    return np.diff(cdf, axis=1)


def separable_sum(
    grid: Grid, x: np.ndarray, y: np.ndarray, w: np.ndarray, sd: float, *, chunk: int = 4096
) -> np.ndarray:
    """Σ_e w_e · P(cell | N((x_e, y_e), sd² I)) for every cell, exactly, shape ``(ny, nx)``.

    The Gaussian is separable, so the sum is ``Ay.T @ (w * Ax)`` where ``Ax[e, c]`` is the mass
    of event ``e``'s kernel in column ``c``: O(n·(nx + ny) + n·nx·ny / BLAS) with no truncation.
    """
    out = np.zeros(grid.shape)
    xe, ye = grid.x_edges(), grid.y_edges()
    for s in range(0, x.size, chunk):
        ax = gaussian_cell_integrals(x[s : s + chunk], xe, sd)
        ay = gaussian_cell_integrals(y[s : s + chunk], ye, sd)
        out += ay.T @ (ax * w[s : s + chunk, None])
    return out


def unique_points(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """Collapse repeated coordinates into one point with summed weight (police.uk snaps)."""
    if x.size == 0:
        return x, y, np.zeros(0) if w is None else w
    w = np.ones(x.size) if w is None else w
    xy = np.column_stack([x, y])
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    ws = np.bincount(inv.ravel(), weights=w, minlength=len(uniq))
    return uniq[:, 0], uniq[:, 1], ws
