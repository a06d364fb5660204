"""Seasonal campaigns: the winter burglary campaign. Districts are chosen from the store's data,
each with its reason, and the campaign carries the force's cocooning intensity.

Choice rule (:func:`choose_districts`): for the campaign's calendar months one year earlier
(the *reference* months; two or three years earlier when the store lacks them), each district's
burglaries per 1,000 households per month; districts above the force's rate, highest first, at
most ``n``. Each reason also gives the district's winter uplift: its reference-month rate over
its rate in the other loaded months of the 12 months ending with the reference period. police.uk's
"Burglary" mixes homes and businesses (the store knows dwelling only for force extracts), so
the rate per household overstates residential burglary where businesses are many.

Cocooning intensity: ``neighbour_visits`` (neighbouring places visited per burglary besides the
victim) from the campaign's own value, else ``[cocoons.<force>] neighbour_visits`` in
``$GUARDIAN_HOME/forces.toml``, else the cocoon default (see :mod:`guardian.operations.cocoons`);
with it, the expected cocoon visits a month in the chosen districts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, select

from guardian.data.geography import district_population, force_short_name
from guardian.data.months import add_months, month_range
from guardian.errors import InputError
from guardian.operations.initiatives import place as P
from guardian.store.db import read_connection
from guardian.store.models import Event

BURGLARY = "Burglary"


def choose_districts(counts: pd.DataFrame, households: dict[str, float], reference: list[str],
                     *, n: int = 3, loaded: list[str] | None = None) -> dict[str, Any]:
    """Rank districts for a burglary campaign (pure).

    Parameters
    ----------
    counts : DataFrame
        Columns ``district, month, count``: burglaries per district and month, covering the
        12 months ending with the last reference month (missing rows count 0).
    households : dict
        Households per district (2011 Census).
    reference : list of str
        The reference months (the campaign's calendar months, a year or more earlier).
    n : int
        Districts chosen at most.
    loaded : list of str, optional
        Months of that year the store holds (default all 12): the uplift compares with the
        loaded other months only.

    Returns
    -------
    dict
        ``chosen`` (list of dicts: ``district, burglaries, per_1000_month, uplift, why``),
        ``ranking`` (every district, same keys plus ``chosen``), ``force_per_1000_month``,
        ``rule``.
    """
    if not 1 <= int(n) <= 50:
        raise InputError("districts chosen: between 1 and 50")
    year = month_range(add_months(reference[-1], -11), reference[-1])
    others = [m for m in year if m not in reference and (loaded is None or m in loaded)]
    c = counts[counts["district"].isin(households)]
    tab = c.pivot_table(index="district", columns="month", values="count", aggfunc="sum",
                        fill_value=0)
    tab = tab.reindex(index=sorted(households), columns=year, fill_value=0)
    ref_n = tab[reference].sum(axis=1)
    oth_n = tab[others].sum(axis=1) if others else pd.Series(0, index=tab.index)
    hh = pd.Series(households, dtype=float).reindex(tab.index)
    rate = ref_n / len(reference) / hh * 1000
    oth_rate = (oth_n / len(others) / hh * 1000) if others else pd.Series(float("nan"),
                                                                         index=tab.index)
    force = float(ref_n.sum() / len(reference) / hh.sum() * 1000)
    order = sorted(tab.index, key=lambda d: (-rate[d], d))
    rows = []
    for d in order:
        up = float(rate[d] / oth_rate[d]) if others and oth_rate[d] > 0 else None
        rows.append({"district": d, "burglaries": int(ref_n[d]),
                     "per_1000_month": float(rate[d]), "uplift": up,
                     "households": int(hh[d])})
    chosen = [r for r in rows if r["per_1000_month"] > force][:int(n)]
    names = {r["district"] for r in chosen}
    span = f"{reference[0]}..{reference[-1]}"
    for r in rows:
        up = ("" if r["uplift"] is None else
              f"; {r['uplift']:.2f}x its rate in the other months of that year")
        r["why"] = (f"{r['burglaries']} burglaries in {span}: {r['per_1000_month']:.2f} per "
                    f"1,000 households a month against {force:.2f} force-wide{up}")
        r["chosen"] = r["district"] in names
    return {"chosen": [r for r in rows if r["chosen"]], "ranking": rows,
            "force_per_1000_month": force,
            "rule": (f"districts above the force's burglary rate per 1,000 households in "
                     f"{span}, highest first, at most {n}")}


def reference_months(conn: Connection, dataset_id: int, start: date, end: date
                     ) -> tuple[list[str], list[str]]:
    """The campaign's calendar months 1, 2 or 3 years earlier, the first the store holds all
    of, and the months of the 12 ending with them that it holds."""
    months = month_range(start.strftime("%Y-%m"), end.strftime("%Y-%m"))
    have = set(conn.execute(select(Event.month).where(Event.dataset_id == dataset_id)
                            .distinct()).scalars())
    for back in (12, 24, 36):
        ref = [add_months(m, -back) for m in months]
        if all(m in have for m in ref):
            year = month_range(add_months(ref[-1], -11), ref[-1])
            return ref, [m for m in year if m in have]
    raise InputError(
        f"the store lacks the campaign's months one to three years earlier "
        f"({', '.join(add_months(m, -12) for m in months)} ...): load them to choose districts "
        "from the data")


def campaign_plan(bind: Engine | Connection, *, dataset: str, start: date | str,
                  end: date | str, n: int = 3, neighbour_visits: Any = None) -> dict[str, Any]:
    """Districts for a winter burglary campaign from ``start`` to ``end``, with reasons and the
    cocooning intensity (module docstring).

    Returns
    -------
    dict
        :func:`choose_districts`'s dict plus ``dataset``, ``reference``, ``cocooning``
        (``neighbour_visits``, ``source``, ``expected_visits_month`` in the chosen districts)
        and ``caveat``.
    """
    from guardian.config import get_settings
    from guardian.operations.cocoons.validation import resolve_neighbour_visits
    from guardian.operations.initiatives.service import _dataset, _date

    s, e = _date(start, "start"), _date(end, "end")
    if e < s:
        raise InputError(f"dates out of order: end {e} is before start {s}")
    with read_connection(bind) as conn:
        ds = _dataset(conn, dataset)
        ref, loaded = reference_months(conn, ds.id, s, e)
        first = add_months(ref[-1], -11)
        ev = P.dataset_events(conn, ds.id, ds.name, start_month=first, end_month=ref[-1],
                              categories=[BURGLARY])
    pop = district_population(force_short_name(ds.name))
    hh = dict(zip(pop["district"], pop["households"].astype(float), strict=True))
    counts = ev.groupby(["district", "month"]).size().rename("count").reset_index()
    out = choose_districts(counts, hh, ref, n=n, loaded=loaded)
    out["uplift_months"] = [m for m in loaded if m not in ref]
    cap, src = resolve_neighbour_visits(names=(ds.name, dataset), given=neighbour_visits,
                                        home=get_settings().home)
    per_month = sum(r["burglaries"] for r in out["chosen"]) / len(ref)
    out["cocooning"] = {
        "neighbour_visits": cap, "source": src,
        "burglaries_month": per_month,
        "expected_visits_month": None if cap is None else per_month * (1 + cap),
        "reading": ("every place within the cocoon radius" if cap is None else
                    f"each burglary: the victim and {cap} nearest neighbours, about "
                    f"{per_month * (1 + cap):.0f} visits a month in the chosen districts at "
                    f"last year's {per_month:.1f} burglaries a month")}
    out["caveat"] = ("police.uk 'Burglary' mixes homes and businesses; rates per household "
                     "overstate residential burglary where businesses are many")
    return out | {"dataset": ds.name, "reference": ref}


def create_campaign(bind: Engine | Connection, *, dataset: str, name: str, start: date | str,
                    end: date | str, n: int = 3, neighbour_visits: Any = None,
                    **kwargs: Any) -> dict[str, Any]:
    """Choose the districts (:func:`campaign_plan`) and record the campaign initiative, its
    reasons and cocooning intensity in its details. Extra keyword arguments go to
    :func:`~guardian.operations.initiatives.service.create_initiative`."""
    from guardian.operations.initiatives.service import create_initiative

    plan = campaign_plan(bind, dataset=dataset, start=start, end=end, n=n,
                         neighbour_visits=neighbour_visits)
    if not plan["chosen"]:
        raise InputError("no district's burglary rate is above the force's: nothing to choose")
    details = {"why": plan["rule"], "chosen": plan["chosen"], "reference": plan["reference"],
               "cocooning": plan["cocooning"], "caveat": plan["caveat"]}
    return create_initiative(bind, dataset=dataset, kind="campaign", name=name, start=start,
                             end=end, districts=[r["district"] for r in plan["chosen"]],
                             categories=[BURGLARY], details=details, **kwargs)
