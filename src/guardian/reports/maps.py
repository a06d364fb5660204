"""Static maps for reports: risk maps drawn with their measured accuracy (a map is never shown
without its back-test) and harm-spot maps over a plain background of the period's events.

These functions draw (and, when given a path, write) figures, so they live with the reports, not
in :mod:`guardian.analysis` (which stays free of file output).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from guardian.analysis.risk.grid import GridSurface
from guardian.errors import InputError


def backtest_caption(summary: dict) -> str:
    """One or two lines of back-test figures for a map (hit rate and PAI per coverage)."""
    need = ("method", "coverage", "mean_hit_rate", "mean_pai", "windows")
    missing = [k for k in need if k not in summary]
    if missing:
        raise InputError(
            f"backtest summary is missing {missing}; pass BacktestResult.summary_for(method)"
        )
    parts = [
        f"{100 * c:g}% area: hit rate {100 * h:.1f}%, PAI {p:.2f}"
        for c, h, p in zip(
            summary["coverage"], summary["mean_hit_rate"], summary["mean_pai"], strict=True
        )
    ]
    when = ""
    if summary.get("first_cutoff") and summary.get("last_cutoff"):
        when = f", cut-offs {summary['first_cutoff'][:10]} to {summary['last_cutoff'][:10]}"
    window = summary.get("window")
    wtxt = "monthly" if window == "month" else (f"{window:g}-day" if window else "")
    head = (
        f"Measured accuracy of '{summary['method']}' over {summary['windows']} {wtxt} "
        f"back-test windows{when}:"
    )
    return head + "\n" + "; ".join(parts)


def render_risk_map(
    surface: GridSurface,
    backtest_summary: dict | None,
    path=None,
    *,
    mask=None,
    coverage: float = 0.05,
    title: str | None = None,
):
    """Draw a risk surface with its back-test figures printed on the figure.

    Parameters
    ----------
    surface : GridSurface
        The prediction to draw.
    backtest_summary : dict
        ``BacktestResult.summary_for(surface.method)``. Required: a risk map without its
        measured accuracy is refused.
    path : str or Path, optional
        Where to save (PNG/PDF/SVG by extension). Without it nothing is written.
    mask : bool array (ny, nx), optional
        Study area of the back-test (``BacktestResult.domain``); cells outside it are blank.
    coverage : float
        The top ``coverage`` share of study-area cells is outlined: the cells the back-test
        scored at that coverage.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if backtest_summary is None:
        raise InputError(
            "a risk map is never shown without its back-test; run rolling_origin_backtest and "
            "pass result.summary_for(method)"
        )
    if backtest_summary.get("method") != surface.method:
        raise InputError(
            f"back-test figures are for {backtest_summary.get('method')!r} but the map is "
            f"{surface.method!r}; pass the summary of the same method"
        )
    caption = backtest_caption(backtest_summary)
    from matplotlib.figure import Figure

    g = surface.grid
    fig = Figure(figsize=(8, 8.6), dpi=120)
    ax = fig.add_axes([0.12, 0.16, 0.72, 0.76])
    v = np.asarray(surface.values, float)
    m = np.ones(v.shape, bool) if mask is None else np.asarray(mask, bool)
    if m.shape != v.shape:
        raise InputError(f"mask shape {m.shape} differs from the surface shape {v.shape}")
    shown = np.ma.masked_where(~m | (v <= 0), v)
    extent = (g.x0, g.x0 + g.nx * g.cell_m, g.y0, g.y0 + g.ny * g.cell_m)
    pos = v[m & (v > 0)]
    vmax = float(np.quantile(pos, 0.995)) if pos.size else None  # a few extreme cells
    im = ax.imshow(
        shown,
        origin="lower",
        extent=extent,
        cmap="inferno_r",
        interpolation="nearest",
        vmin=0.0,
        vmax=vmax,
    )
    # outline the top `coverage` share of study-area cells (what the back-test scored)
    inside = v[m]
    if inside.size:
        thr = np.quantile(inside, 1.0 - coverage)
        if thr > 0 and min(v.shape) >= 2:  # contour needs at least 2 x 2 cells
            ax.contour(
                (v >= thr) & m,
                levels=[0.5],
                colors="tab:cyan",
                linewidths=0.6,
                origin="lower",
                extent=extent,
            )
    ax.set_xlabel(f"x (m, {g.crs or 'projected'})")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal")
    cax = fig.add_axes([0.88, 0.16, 0.025, 0.76])
    fig.colorbar(im, cax=cax, label="risk score (capped at the 99.5th percentile)", extend="max")
    ax.set_title(
        title
        or f"{surface.method} risk, {surface.start.date()} to {surface.end.date()} "
        f"({g.cell_m:g} m cells)",
        fontsize=10,
    )
    fig.text(
        0.06,
        0.02,
        caption + f"\nOutlined: top {100 * coverage:g}% of the study area.",
        fontsize=7.5,
        va="bottom",
        wrap=True,
    )
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p)
    return fig


def figure_data_uri(fig, *, dpi: int = 110) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI (nothing written to disk)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def harm_spot_map(
    background_x,
    background_y,
    spots: list[dict],
    *,
    cell_m: float,
    title: str,
    caption: str = "",
    crs: str = "",
):
    """Harm-spot cells over a plain background of every event of the period (faint points).

    No tiles and no network: the background is the events themselves, so the map shows where
    recorded crime is and which 150 m cells carry the most harm.

    Parameters
    ----------
    background_x, background_y : arrays of float
        Event locations in projected metres (events without a location are left out).
    spots : list of dict
        Each with ``rank`` and ``cells_xy`` — lower-left corners ``[x, y]`` (metres) of the
        spot's cells.
    cell_m : float
        Cell side in metres.
    title, caption : str
    crs : str
        Printed on the axis label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    bx = np.asarray(background_x, float)
    by = np.asarray(background_y, float)
    ok = np.isfinite(bx) & np.isfinite(by)
    bx, by = bx[ok], by[ok]
    fig = Figure(figsize=(7.6, 6.4), dpi=110)
    ax = fig.add_axes([0.08, 0.12, 0.9, 0.8])
    ax.scatter(bx, by, s=1.0, c="#7b8794", alpha=0.45, linewidths=0, rasterized=True)
    for s in spots:
        for x0, y0 in s["cells_xy"]:
            # drawn larger than the 150 m cell would be at county scale: a marker, with the cell
            # itself (to scale) inside it
            ax.add_patch(Rectangle((x0, y0), cell_m, cell_m, facecolor="#b91c1c", edgecolor="none"))
        cx, cy = s["cells_xy"][0]
        ax.plot(cx + cell_m / 2, cy + cell_m / 2, "o", ms=9, mfc="none", mec="#b91c1c", mew=1.3)
        ax.annotate(
            str(s["rank"]),
            (cx + cell_m / 2, cy + cell_m / 2),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=7,
            color="#7f1d1d",
            fontweight="bold",
        )
    if bx.size:
        pad = 1500.0
        ax.set_xlim(bx.min() - pad, bx.max() + pad)
        ax.set_ylim(by.min() - pad, by.max() + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"x (m, {crs or 'projected'})", fontsize=7)
    ax.set_ylabel("y (m)", fontsize=7)
    ax.tick_params(labelsize=6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, fontsize=9)
    if caption:
        fig.text(0.08, 0.015, caption, fontsize=6.5, va="bottom", wrap=True)
    return fig
