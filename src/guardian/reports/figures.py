"""Charts for reports: matplotlib (Agg) rendered to PNG and returned as ``data:`` URIs, so the
HTML stays self-contained and WeasyPrint embeds them unchanged."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from guardian.reports.maps import figure_data_uri  # noqa: E402

INK, CRIME, ASB, ALERT, MUTED = "#1f2933", "#1d4ed8", "#b45309", "#b91c1c", "#9aa5b1"


def _png(fig) -> str:
    uri = figure_data_uri(fig, dpi=110)
    plt.close(fig)
    return uri


def trend_chart(
    months: list[str],
    crime: list[float | None],
    asb: list[float | None],
    anomalies: list[str],
    highlight: str,
) -> str:
    """Monthly crime and ASB lines; months not loaded are gaps (NaN), never zeros."""
    x = np.arange(len(months))
    cr = np.array([np.nan if v is None else v for v in crime], dtype=float)
    ab = np.array([np.nan if v is None else v for v in asb], dtype=float)
    fig, ax = plt.subplots(figsize=(8.2, 2.9))
    ax.plot(x, cr, color=CRIME, marker="o", ms=3, lw=1.6, label="Crime")
    ax.plot(x, ab, color=ASB, marker="o", ms=3, lw=1.6, label="Anti-social behaviour")
    for i, m in enumerate(months):
        if m in anomalies:
            ax.plot(
                i,
                cr[i],
                marker="X",
                ms=10,
                color=ALERT,
                ls="none",
                label="Data anomaly (not a trend)"
                if m == [a for a in months if a in anomalies][0]
                else None,
            )
        if m == highlight:
            ax.axvline(i, color=MUTED, lw=0.8, ls=":")
    missing = np.isnan(cr)
    if missing.any():
        ax.fill_between(
            x,
            0,
            1,
            where=missing,
            transform=ax.get_xaxis_transform(),
            color="#e5e7eb",
            step="mid",
            label="Not loaded",
            lw=0,
        )
    step = max(1, len(months) // 12)
    ax.set_xticks(x[::step], [m for m in months[::step]], rotation=45, ha="right", fontsize=7)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e7eb", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, ncol=4, loc="upper left", bbox_to_anchor=(0, 1.18))
    ax.set_ylabel("Events per month", fontsize=8)
    return _png(fig)


def bar_chart(
    labels: list[str], values: list[float | None], *, xlabel: str, color: str = CRIME
) -> str:
    """Horizontal bars, largest at the top; missing values drawn as no bar."""
    vals = np.array([np.nan if v is None else v for v in values], dtype=float)
    fig, ax = plt.subplots(figsize=(7.0, 0.28 * len(labels) + 0.8))
    y = np.arange(len(labels))[::-1]
    ax.barh(y, np.nan_to_num(vals), color=color, height=0.65)
    ax.set_yticks(y, labels, fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.grid(axis="x", color="#e5e7eb", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def concentration_chart(
    categories: list[str], offence_share: list[float], harm_share: list[float]
) -> str:
    """Share of offences against share of harm per category (sorted by harm)."""
    fig, ax = plt.subplots(figsize=(7.0, 0.3 * len(categories) + 0.9))
    y = np.arange(len(categories))[::-1]
    ax.barh(
        y + 0.18, np.array(offence_share) * 100, height=0.36, color=MUTED, label="% of offences"
    )
    ax.barh(y - 0.18, np.array(harm_share) * 100, height=0.36, color=ALERT, label="% of harm")
    ax.set_yticks(y, categories, fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("Per cent of the month's total", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.grid(axis="x", color="#e5e7eb", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
