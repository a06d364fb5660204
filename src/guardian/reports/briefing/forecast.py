"""Forecast of recorded crime with its back-test, for the briefing and the command line.

The briefing forecasts the force's monthly crime (every category except ASB) 24 months beyond
the briefing month with seasonal naive, ETS, SARIMA and their ensemble
(:mod:`guardian.analysis.forecast`), draws the method with the lowest rolling-origin back-test
MASE, and always prints the back-test beside it. A series with gaps or too few months gets a
plain "not available" naming the missing months and how many are needed — never a forecast
without its measured accuracy.

:func:`store_forecast` is the same forecast read from the store for any force, district and
category; the command line and the board report call it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from guardian.analysis.forecast import (  # noqa: E402
    LABELS,
    ForecastResult,
    forecast_with_accuracy,
)
from guardian.data.schema import CRIME_CATEGORIES, normalise_category  # noqa: E402
from guardian.errors import InputError, NotFound  # noqa: E402
from guardian.reports.briefing.base import SimpleSection, unavailable  # noqa: E402
from guardian.reports.maps import figure_data_uri  # noqa: E402

HORIZON = 24
"""Months ahead the briefing forecasts."""

CRIME_LABEL = "all crime (every category except anti-social behaviour)"


def series_from_counts(
    counts: pd.DataFrame, loaded: list[str], *, categories: list[str] | None = None,
    end: str | None = None,
) -> pd.Series:
    """Monthly totals of ``categories`` (default: all crime) over the loaded months.

    Parameters
    ----------
    counts : DataFrame
        ``month, category, count`` (other columns ignored).
    loaded : list of str
        Loaded months; a loaded month without events counts 0.
    end : str, optional
        Last month to use (``YYYY-MM``).
    """
    cats = list(CRIME_CATEGORIES) if categories is None else list(categories)
    sub = counts[counts["category"].isin(cats)]
    months = sorted(m for m in set(loaded) if end is None or m <= end)
    s = sub.groupby("month")["count"].sum().reindex(months).fillna(0).astype(float)
    s.index = s.index.astype(str)
    return s


def _label(force: str, district: str | None, category: str | None) -> str:
    where = f"{force}, {district} district" if district else force
    return f"{where}, {category or CRIME_LABEL}"


def store_series(
    engine, force: str, *, district: str | None = None, category: str | None = None,
    end: str | None = None,
) -> tuple[pd.Series, str]:
    """A force's (or one district's) monthly counts from the store, and what they are.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    force : str
        As the user typed it ("essex").
    district : str, optional
        Policing district (as in the reference geography, e.g. "Colchester"), any case.
    category : str, optional
        A police.uk category; default all crime (ASB excluded).
    end : str, optional
        Last month used (default the latest loaded).

    Returns
    -------
    (Series, str)
        Counts per loaded month (0 for a loaded month without events) and a label.

    Raises
    ------
    NotFound
        The force or district is not loaded.
    """
    from guardian.store.events import monthly_counts
    from guardian.store.status import loaded_months, resolve_dataset

    dataset = resolve_dataset(engine, force)
    loaded = [m for m in loaded_months(engine, dataset) if end is None or m <= end]
    if not loaded:
        raise NotFound(f"no months of {dataset} are loaded{f' up to {end}' if end else ''}")
    cat = normalise_category(category) if category else None
    if district:
        counts = _district_counts(engine, dataset, loaded)
        names = sorted(d for d in counts["district"].unique() if d)
        match = [d for d in names if d.lower() == district.strip().lower()]
        if not match:
            raise NotFound(
                f"no district {district!r} in {dataset}; districts: {', '.join(names) or 'none'}"
            )
        district = match[0]
        counts = counts[counts["district"] == district]
    else:
        counts = monthly_counts(engine, [dataset])
    s = series_from_counts(counts, loaded, categories=[cat] if cat else None)
    return s, _label(dataset, district, cat)


def _district_counts(engine, dataset: str, loaded: list[str]) -> pd.DataFrame:
    """``month, district, category, count`` over every loaded month in one GROUP BY, placed in
    districts by the rule of :func:`guardian.store.events.monthly_counts_by_district` (which
    reads one month per query: 0.2 s a month, too slow for a five-year series)."""
    from sqlalchemy import func, select

    from guardian.data.geography import districts_for, force_short_name, forces
    from guardian.store.models import Dataset, Event, Place

    q = (
        select(Event.month, Place.lsoa_code, Event.category, func.count())
        .join(Dataset, Event.dataset_id == Dataset.id)
        .join(Place, Event.place_id == Place.id)
        .where(Dataset.name == dataset, Event.month.in_(loaded))
        .group_by(Event.month, Place.lsoa_code, Event.category)
    )
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    raw = pd.DataFrame(rows, columns=["month", "lsoa_code", "category", "count"])
    short = force_short_name(dataset)
    if short in forces() and len(raw):
        raw["district"] = districts_for(raw["lsoa_code"].astype("string"), short).to_numpy()
    else:
        raw["district"] = ""
    out = raw.groupby(["month", "district", "category"], as_index=False)["count"].sum()
    out["count"] = out["count"].astype("int64")
    return out


def store_forecast(
    engine,
    force: str,
    *,
    district: str | None = None,
    category: str | None = None,
    horizon: int = 12,
    end: str | None = None,
    break_policy: str = "exclude",
    methods=None,
) -> ForecastResult:
    """Forecast a force's (or one district's) monthly crime from the store, with its back-test.

    The call for any report that shows a forecast (the briefing's own section works from the
    briefing context instead).

    Parameters
    ----------
    engine, force, district, category, end
        See :func:`store_series`.
    horizon : int
        Months ahead (1..24).
    break_policy : {"exclude", "refuse", "ignore"}
        How the 2020-21 lockdown window is handled (see :mod:`guardian.analysis.forecast`).
    methods : sequence of str, optional
        Default seasonal naive, ETS, SARIMA and the ensemble.

    Returns
    -------
    ForecastResult
        ``.method`` (lowest back-test MASE), ``.forecasts[method]`` (month, mean, 80% and 95%
        bounds), ``.backtest.summary`` (MASE, sMAPE, coverage per method), ``.sentence()``,
        ``.to_dict()``.

    Raises
    ------
    NotFound
        The force or district is not loaded.
    InputError
        The series has gaps or is too short (the message names the missing months and how
        many are needed).
    """
    from guardian.analysis.forecast import FAST_METHODS

    s, label = store_series(engine, force, district=district, category=category, end=end)
    return forecast_with_accuracy(
        s,
        horizon=horizon,
        loaded_months=list(s.index),
        methods=FAST_METHODS if methods is None else methods,
        break_policy=break_policy,
        label=label,
    )


def fan_chart(result: ForecastResult, *, history_months: int = 36) -> str:
    """History and the chosen method's forecast with 80% and 95% bands, as a data URI."""
    s = result.series
    k = min(history_months, s.n)
    hm = s.months[-k:]
    hv = s.counts[-k:]
    f = result.forecasts[result.method]
    x_h = np.arange(k)
    x_f = np.arange(k, k + len(f))
    fig, ax = plt.subplots(figsize=(8.2, 2.9))
    ax.plot(x_h, hv, color="#1d4ed8", marker="o", ms=2.5, lw=1.4, label="Recorded")
    ex = [i for i, m in enumerate(hm) if m in s.excluded]
    if ex:
        ax.plot(x_h[ex], hv[ex], "x", color="#9aa5b1", label="Break window (not fitted)")
    ax.fill_between(x_f, f["lower_95"], f["upper_95"], color="#bfdbfe", lw=0, label="95%")
    ax.fill_between(x_f, f["lower_80"], f["upper_80"], color="#93c5fd", lw=0, label="80%")
    ax.plot(x_f, f["mean"], color="#1f2933", lw=1.4, ls="--", label="Forecast")
    months = hm + list(f["month"])
    step = max(1, len(months) // 12)
    ax.set_xticks(np.arange(len(months))[::step], months[::step], rotation=45, ha="right",
                  fontsize=7)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e7eb", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, ncol=5, loc="upper left", bbox_to_anchor=(0, 1.18))
    ax.set_ylabel("Crimes per month", fontsize=8)
    uri = figure_data_uri(fig, dpi=110)
    plt.close(fig)
    return uri


def result_data(result: ForecastResult) -> dict:
    """The section's figures from a forecast result (JSON-able)."""
    d = result.to_dict()
    bt = d["backtest"]
    rows = []
    for r in bt["summary"]:
        rows.append({**r, "label": LABELS[r["method"]], "chosen": r["method"] == result.method})
    f = d["forecasts"][result.method]
    return {
        "available": True,
        "label": result.label,
        "method": result.method,
        "method_label": LABELS[result.method],
        "horizon": result.horizon,
        "first_month": f[0]["month"],
        "last_month": f[-1]["month"],
        "forecast": f,
        "forecast_12_total": sum(r["mean"] for r in f[:12]),
        "sentence": d["sentence"],
        "backtest": {
            "windows": bt["windows"],
            "horizon": bt["horizon"],
            "first_origin": bt["first_origin"],
            "last_origin": bt["last_origin"],
            "methods": rows,
        },
        "history": {k: d["history"][k] for k in ("first", "last", "months")},
        "breaks": d["breaks"],
        "all_forecasts": d["forecasts"],
    }


def build(ctx) -> dict:
    loaded = [m for m in ctx.loaded_months.get(ctx.force, []) if m <= ctx.month]
    counts = ctx.picture.counts
    counts = counts[counts["dataset"] == ctx.force] if "dataset" in counts else counts
    s = series_from_counts(counts, loaded, end=ctx.month)
    try:
        result = forecast_with_accuracy(
            s, horizon=HORIZON, loaded_months=list(s.index), label=f"{ctx.force}, all crime"
        )
    except InputError as exc:
        return unavailable(
            f"no forecast is shown without its back-test, and this series cannot support one — "
            f"{exc}",
            loaded_months=len(loaded),
        )
    data = result_data(result)
    data["chart"] = fan_chart(result)
    data["basis"] = CRIME_LABEL
    return data


SECTION = SimpleSection(
    key="forecast",
    title="Forecast of recorded crime and its measured accuracy",
    template="section_forecast.html.j2",
    builder=build,
)
