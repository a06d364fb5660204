"""Heat-map of a Knox result: Knox ratios per (space band, time band), significance marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from guardian.analysis.nearrepeat.knox import KnoxResult
from guardian.errors import InputError


def knox_heatmap(result: KnoxResult, path_or_ax: Any, *, title: str | None = None) -> Any:
    """Draw the Knox ratios as a heat-map; significant cells are outlined and starred.

    A cell is marked significant when ``p_value <= result.alpha`` and
    ``knox_ratio >= result.min_ratio`` (the rule of :attr:`KnoxResult.significant`). Colours
    are centred on a ratio of 1 (no space-time interaction): red above, blue below. Each cell
    shows the ratio and, underneath, the observed pair count.

    Parameters
    ----------
    result : KnoxResult
        Output of :func:`guardian.analysis.nearrepeat.knox_test`.
    path_or_ax : str, pathlib.Path or matplotlib Axes
        A file to write (format from the suffix, e.g. ``.png``, ``.svg``) or an Axes to draw on.
    title : str, optional
        Figure title; a default naming the permutations and seed is used otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    import matplotlib
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    if isinstance(path_or_ax, Axes):
        ax, fig, path = path_or_ax, path_or_ax.figure, None
    elif isinstance(path_or_ax, (str, Path)):
        path = Path(path_or_ax)
        if not path.parent.exists():
            raise InputError(
                f"Folder {str(path.parent)!r} for the figure does not exist; create it first."
            )
        ns, nt = result.shape
        # A bare Figure on the Agg canvas: no pyplot, no global state, works headless.
        fig = Figure(figsize=(1.3 * nt + 3.0, 0.6 * ns + 2.0), dpi=120)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
    else:
        raise InputError(
            f"`path_or_ax` must be a file path or a matplotlib Axes; got {type(path_or_ax).__name__}."
        )

    ratio = np.array(result.knox_ratio, dtype=float)
    finite = ratio[np.isfinite(ratio)]
    hi = max(2.0, float(finite.max()) if finite.size else 2.0)
    norm = TwoSlopeNorm(vmin=0.0, vcenter=1.0, vmax=hi)
    shown = np.ma.masked_invalid(ratio)
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="#dddddd")
    im = ax.imshow(shown, cmap=cmap, norm=norm, aspect="auto")
    sig = result.is_significant()
    for i in range(ratio.shape[0]):
        for j in range(ratio.shape[1]):
            r = ratio[i, j]
            txt = "n/a" if not np.isfinite(r) else f"{r:.2f}"
            if sig[i, j]:
                txt += "*"
            txt += f"\n{int(result.observed[i, j]):,}"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold" if sig[i, j] else "normal",
            )
            if sig[i, j]:
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, ec="black"))
    ax.set_xticks(
        range(len(result.time_labels)), labels=list(result.time_labels), rotation=30, ha="right"
    )
    ax.set_yticks(range(len(result.space_labels)), labels=list(result.space_labels))
    ax.set_xlabel("time between events (days)")
    ax.set_ylabel(f"distance between events (metres, {result.metric})")
    ax.set_title(
        title
        or f"Knox ratios (* p <= {result.alpha:g} and ratio >= {result.min_ratio:g}); "
        f"{result.permutations} permutations, seed {result.seed}",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, label="observed / mean expected")
    if path is not None:
        fig.tight_layout()
        fig.savefig(path)
    return ax
