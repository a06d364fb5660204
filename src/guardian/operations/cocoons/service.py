"""Burglary cocooning: opening, merging, visiting, expiry, overdue visits and delivery figures.

Every function is keyword-only, takes an :class:`~sqlalchemy.Engine` (one transaction per call)
or a :class:`~sqlalchemy.Connection` (the caller's transaction), takes the "as of" time as a
parameter (never the clock) and raises :mod:`guardian.errors` domain errors.

The rules (``docs/cocoons.md`` explains them for users)
--------------------------------------------------------
* **Burglaries cocooned**: category "Burglary" with a dwelling flag that is true or unknown.
  police.uk does not separate dwelling from non-dwelling burglary, so on police.uk data this is
  "residential-or-unknown" burglary and every output says so (``burglary_basis``).
* **Member disc**: each member burglary *i* puts a disc of radius ``r_i`` metres around its
  point at risk from its report time ``t_i`` for ``w_i`` days (calendar days in the dataset's
  timezone): it is *live* at time *t* when ``t_i <= t < t_i + w_i``.
* **Merge rule**: two burglaries belong to the same cocoon when their discs overlap
  (distance ``<= r_i + r_j``) while the earlier one is live at the later one's report time
  (``|t_j - t_i| < w`` of the earlier). A cocoon is a connected group under that relation, so
  chains merge (A-B-C with A, C far apart) and a burglary touching two cocoons merges them (the
  older cocoon's id survives; the other is marked ``merged`` and points to it). The result does
  not depend on the order in which burglaries are opened.
* **Zone**: the union of the member discs (:func:`zone_geometry`); the cocoon ends at the
  latest ``t_i + w_i`` (a later member extends it).
* **Near repeat**: a member burglary that falls *inside* a live member disc of its cocoon
  (distance ``<= r_i`` and ``0 < t_j - t_i < w_i``) is recorded as a near repeat of the most
  recent such member. Burglaries with the same report time are never near repeats of each other
  (on month-resolution data nothing within one month is).
* **Visits**: each member burglary plans its own visits, due ``visit_hours`` (48) after its
  report time: the victim's own point first (rank 0), then the nearest known places within
  ``r_i`` of it, at most ``neighbour_visits`` of them (default 5; per force in
  ``forces.toml``). Each visit says why it was chosen; the other places of the zone are
  covered by the zone itself (leaflets, patrol) and counted, not listed as visit tasks.
* **Status** at an "as of" time: ``open`` (live, no visit recorded yet), ``active`` (live, at
  least one visit recorded), ``expired`` (``as_of >= ends_at``), ``merged`` (absorbed into
  another cocoon). A cocoon does not close when its visits are done: the zone stays at risk
  until it expires; visit completion is reported as delivery.

Layout: :mod:`.times` (as-of and calendar handling), :mod:`.validation` (references,
assignees, outcomes, parameters), :mod:`.planning` (merge rule, near repeats, visit lists,
zone coverage: no database), :mod:`.queries` (SQL reads) and this module (the public
operations). Every public name of those modules is importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from guardian.data.months import check_month
from guardian.errors import Conflict, InputError, NotFound
from guardian.operations.cocoons.models import (
    OUTCOMES,
    REACHED,
    Cocoon,
    CocoonMember,
    CocoonVisit,
)
from guardian.operations.cocoons.planning import (
    _burglary_basis,
    _near_repeats,
    _place_label,
    _zone_stats,
    link_burglaries,
    places_in_zone,
    places_within,
    plan_visits,
    read_addresses,
    short_key,
    visit_reason,
    zone_coverage,
    zone_geometry,
)
from guardian.operations.cocoons.queries import (
    _burglaries,
    _dataset,
    _frame,
    _in_chunks,
    _members_frame,
    _places_frame,
    _places_near,
    _resolve_cocoon,
    _visit_counts,
    cocoon_dataset,
    dataset_of_ref,
    known_places,
)
from guardian.operations.cocoons.times import (
    _PRECISION_ORDER,
    TIMING,
    TIMING_NOTE,
    _coarsest,
    _days,
    _iso,
    _pydt,
    _spans,
    _timing,
    _to_utc_naive,
    _utc,
)
from guardian.operations.cocoons.validation import (
    DEFAULT_NEIGHBOUR_VISITS,
    DEFAULT_RADIUS_M,
    DEFAULT_VISIT_HOURS,
    DEFAULT_WINDOW_DAYS,
    LIVE_STATUSES,
    STATUSES,
    CocoonParameters,
    _check_assignee,
    _check_outcome,
    check_neighbour_visits,
    cocoon_ref,
    knox_parameters,
    parse_ref,
    resolve_neighbour_visits,
    visit_ref,
)
from guardian.store.db import begin as _begin
from guardian.store.models import Dataset, Event

__all__ = [
    "DEFAULT_MAX_VISITS", "DEFAULT_NEIGHBOUR_VISITS", "DEFAULT_RADIUS_M", "DEFAULT_VISIT_HOURS",
    "DEFAULT_WINDOW_DAYS", "LIVE_STATUSES", "OUTCOMES", "REACHED", "STATUSES", "TIMING",
    "TIMING_NOTE", "CocoonParameters", "OpenReport", "assign_cocoon", "check_neighbour_visits",
    "cocoon_dataset", "cocoon_places", "cocoon_ref", "cocoon_section_data", "dataset_of_ref",
    "default_as_of", "delivery_figures", "get_cocoon", "knox_parameters", "known_places",
    "link_burglaries", "list_cocoons", "open_cocoons", "overdue_visits", "parse_ref",
    "places_in_zone", "places_within", "plan_visits", "read_addresses", "record_visit",
    "resolve_neighbour_visits", "short_key", "visit_reason", "visit_ref", "zone_coverage",
    "zone_geometry",
]


# Former cap on all visits of a burglary, the victim included (the ``max_visits`` argument).
DEFAULT_MAX_VISITS = DEFAULT_NEIGHBOUR_VISITS + 1


@dataclass
class OpenReport:
    """What :func:`open_cocoons` did.

    Attributes
    ----------
    dataset, as_of, parameters, burglary_basis, timing
        Context of the run.
    considered : int
        Burglaries (dwelling or unknown) in the period.
    already_cocooned : int
        Of those, already members of a cocoon (left alone: opening is idempotent).
    after_as_of : int
        Reported after ``as_of``: not yet opened.
    no_location : int
        Without coordinates: cannot be cocooned (listed, never silently dropped).
    added : int
        Burglaries added to cocoons by this run.
    cocoons_opened : int
        New cocoons.
    joined_existing : int
        New burglaries that joined a cocoon that already existed.
    near_repeats : int
        New burglaries recorded as near repeats.
    cocoons_merged : int
        Existing cocoons absorbed into another one.
    visits_planned : int
        Visit tasks created: per new burglary the victim plus at most ``neighbour_visits``
        nearest places within the radius.
    victim_visits, neighbour_visits_planned : int
        Of those, the victims' visits and the neighbours' visits.
    neighbour_visits : int or None
        The cap used (None: every place within the radius).
    places_in_zones : int
        Known places inside the zones of the cocoons this run touched (counted per cocoon).
    places_visited : int
        Of those, places with a planned visit (or a victim's own point).
    places_covered_by_zone : int
        The rest: covered by the zone itself (leaflets, patrol), not by visit tasks.
    non_dwelling_excluded : int
        "Burglary" rows flagged non-dwelling (not cocooned).
    """

    dataset: str
    as_of: str
    parameters: dict[str, Any]
    burglary_basis: str
    timing: str
    considered: int = 0
    already_cocooned: int = 0
    after_as_of: int = 0
    no_location: int = 0
    added: int = 0
    cocoons_opened: int = 0
    joined_existing: int = 0
    near_repeats: int = 0
    cocoons_merged: int = 0
    visits_planned: int = 0
    victim_visits: int = 0
    neighbour_visits_planned: int = 0
    neighbour_visits: int | None = DEFAULT_NEIGHBOUR_VISITS
    places_in_zones: int = 0
    places_visited: int = 0
    places_covered_by_zone: int = 0
    non_dwelling_excluded: int = 0
    no_location_events: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _refresh_cocoons(conn: Connection, ds, cocoon_ids: Sequence[int]) -> dict[int, int]:
    """Recompute near repeats and the cocoon aggregates of ``cocoon_ids`` from their members.

    Returns the number of members per cocoon that are near repeats.
    """
    m = CocoonMember
    rows = []
    for chunk in _in_chunks(sorted(set(cocoon_ids))):
        rows += conn.execute(select(
            m.id, m.cocoon_id, m.reported_local, m.reported_at, m.time_precision, m.x, m.y,
            m.radius_m, m.window_days, m.near_repeat_of_id).where(m.cocoon_id.in_(chunk))).all()
    frame = _frame(rows, columns=["id", "cocoon_id", "local", "utc", "precision", "x", "y",
                                        "r", "w", "nr"])
    nr_updates, agg_updates, counts = [], [], {}
    if frame.empty:
        return counts
    # Every cocoon in one pass: members sorted by cocoon, then report time and id, so that the
    # positions within a cocoon keep the order the per-cocoon rule uses.
    frame["local"] = pd.to_datetime(frame["local"])
    frame = frame.sort_values(["cocoon_id", "local", "id"], kind="stable").reset_index(drop=True)
    cid = frame["cocoon_id"].to_numpy(np.int64)
    idx = _near_repeats(_days(frame["local"]), frame["x"].to_numpy(float),
                        frame["y"].to_numpy(float), frame["r"].to_numpy(float),
                        frame["w"].to_numpy(float), group=cid)
    ids = frame["id"].to_numpy(np.int64)
    new_nr = np.where(idx >= 0, ids[np.maximum(idx, 0)], -1)
    old_nr = pd.to_numeric(frame["nr"]).fillna(-1).to_numpy(np.int64)
    for mid, new in zip(ids[new_nr != old_nr], new_nr[new_nr != old_nr], strict=True):
        nr_updates.append({"mid": int(mid), "nr": None if new < 0 else int(new)})
    counts = {int(k): int(v) for k, v in
              pd.Series(idx >= 0).groupby(cid).sum().items()}
    local_end = pd.DatetimeIndex(frame["local"]) + pd.to_timedelta(frame["w"].to_numpy(float),
                                                                   unit="D")
    agg = pd.DataFrame({
        "cid": cid, "end": _to_utc_naive(local_end, ds.timezone),
        "utc": pd.to_datetime(frame["utc"]),
        "prec": frame["precision"].map(_PRECISION_ORDER).fillna(-1).to_numpy(np.int64)}).groupby(
        "cid").agg(first=("utc", "min"), ends=("end", "max"), prec=("prec", "max"))
    name_of = {v: k for k, v in _PRECISION_ORDER.items()}  # coarsest known, else "minute"
    for c_, first, ends, prec in zip(agg.index, agg["first"], agg["ends"], agg["prec"],
                                     strict=True):
        agg_updates.append({"cid": int(c_), "opened_at": pd.Timestamp(first).to_pydatetime(),
                            "ends_at": pd.Timestamp(ends).to_pydatetime(),
                            "precision": name_of.get(int(prec), "minute")})
    mt, ct = CocoonMember.__table__, Cocoon.__table__
    if nr_updates:
        conn.execute(update(mt).where(mt.c.id == bindparam("mid"))
                     .values(near_repeat_of_id=bindparam("nr")), nr_updates)
    if agg_updates:
        # first_due_at follows opened_at with the cocoon's own visit deadline.
        hours = dict(conn.execute(select(Cocoon.id, Cocoon.visit_hours)
                                  .where(Cocoon.id.in_([a["cid"] for a in agg_updates]))).all())
        for a in agg_updates:
            a["first_due"] = a["opened_at"] + timedelta(hours=float(hours[a["cid"]]))
        conn.execute(update(ct).where(ct.c.id == bindparam("cid")).values(
            opened_at=bindparam("opened_at"), ends_at=bindparam("ends_at"),
            first_due_at=bindparam("first_due"), time_precision=bindparam("precision")),
            agg_updates)
    return counts


def open_cocoons(
    bind: Engine | Connection,
    *,
    dataset: str,
    as_of: datetime,
    parameters: CocoonParameters | None = None,
    start_month: str | None = None,
    end_month: str | None = None,
    owner: str | None = None,
    addresses: Any = None,
    neighbour_visits: int | str | None = DEFAULT_NEIGHBOUR_VISITS,
    max_visits: int | None = None,
) -> OpenReport:
    """Open cocoons for the dwelling burglaries in the store that are not cocooned yet.

    Burglaries are taken in report-time order; each joins the cocoons whose member discs it
    overlaps while live (merging them when there are several) or opens a new one; its visits
    are planned: the victim first, then the nearest ``neighbour_visits`` known places within
    the radius; the other places of the zone are counted as covered by the zone itself
    (leaflets, patrol), not planned as visits. See the module docstring for the exact rules. Idempotent: a burglary already in a cocoon
    (same dataset and event id) is left alone, so re-running or re-ingesting changes nothing.

    Parameters
    ----------
    bind : Engine or Connection
        The store.
    dataset : str
        Exact dataset name (``"chicago_be"``, ``"Essex Police"``).
    as_of : datetime (tz-aware)
        The time the run stands at: burglaries reported later are not opened yet.
    parameters : CocoonParameters, optional
        Radius, window, visit deadline and their source (default 400 m, 42 days, 48 hours).
    start_month, end_month : str, optional
        Inclusive ``YYYY-MM`` bounds on the burglaries considered.
    owner : str, optional
        Assignee of the new cocoons (collar number or team; never a victim's name).
    addresses : path or DataFrame, optional
        Address points (``x, y, address``, metres) to visit instead of the dataset's known
        places.
    neighbour_visits : int, "all" or None
        Neighbouring places visited per burglary besides the victim, nearest first (default
        :data:`DEFAULT_NEIGHBOUR_VISITS`; 0 for the victim only; None or ``"all"`` for every
        known place inside the radius). A force's own default comes from
        :func:`resolve_neighbour_visits` (``forces.toml``), which the CLI applies.
    max_visits : int, optional
        Former form of the cap: visits per burglary, the victim included. When given it
        overrides ``neighbour_visits`` (``neighbour_visits = max_visits - 1``).

    Returns
    -------
    OpenReport
    """
    p = parameters or CocoonParameters()
    as_of_u = _utc(as_of)
    owner = _check_assignee(owner, "owner")
    start_month = check_month(start_month, "start_month")
    end_month = check_month(end_month, "end_month")
    if start_month and end_month and end_month < start_month:
        raise InputError(f"the period ends ({end_month}) before it starts ({start_month}); "
                         f"give --from {end_month} --to {start_month}")
    if max_visits is not None:
        if isinstance(max_visits, bool) or not isinstance(max_visits, int | np.integer) \
                or max_visits < 1:
            raise InputError(f"max_visits must be a whole number >= 1 (the victim included), "
                             f"got {max_visits!r}; or give neighbour_visits")
        neighbour_visits = int(max_visits) - 1
    cap = check_neighbour_visits(neighbour_visits)
    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        bur = _burglaries(conn, ds, start_month, end_month)
        non_dwelling = bur["dwelling"].eq(False).fillna(False).to_numpy(bool)
        bur = bur[~non_dwelling]
        report = OpenReport(dataset=ds.name, as_of=_iso(as_of_u), parameters=p.to_dict(),
                            neighbour_visits=cap,
                            burglary_basis=_burglary_basis(bur["dwelling"]),
                            timing=_timing(list(bur["precision"].unique())),
                            considered=len(bur), non_dwelling_excluded=int(non_dwelling.sum()))
        done = set(conn.execute(select(CocoonMember.event_key)
                                .where(CocoonMember.dataset_id == ds.id)).scalars())
        already = bur["event_key"].isin(done).to_numpy()
        report.already_cocooned = int(already.sum())
        bur = bur[~already]
        late = (bur["utc"] > as_of_u).to_numpy()
        report.after_as_of = int(late.sum())
        bur = bur[~late]
        unplaced = (bur["x"].isna() | bur["y"].isna() | bur["utc"].isna()).to_numpy()
        report.no_location = int(unplaced.sum())
        report.no_location_events = bur.loc[unplaced, "event_key"].head(50).tolist()
        new = bur[~unplaced].sort_values(["local", "event_key"]).reset_index(drop=True)
        if new.empty:
            return report

        # Existing members that a new burglary could touch (within the longest window).
        max_w = max(p.window_days, float(conn.execute(
            select(func.max(CocoonMember.window_days))
            .where(CocoonMember.dataset_id == ds.id)).scalar() or 0.0))
        lo = new["local"].min() - pd.Timedelta(days=max_w)
        hi = new["local"].max() + pd.Timedelta(days=max_w)
        m = CocoonMember
        old_rows = conn.execute(select(m.id, m.cocoon_id, m.reported_local, m.x, m.y, m.radius_m,
                                       m.window_days).where(
            m.dataset_id == ds.id, m.reported_local >= lo.to_pydatetime(),
            m.reported_local <= hi.to_pydatetime())).all()
        old = _frame(old_rows, columns=["id", "cocoon_id", "local", "x", "y", "r", "w"])

        n_old, n_new = len(old), len(new)
        t = np.concatenate([_days(old["local"]) if n_old else np.empty(0), _days(new["local"])])
        xs = np.concatenate([old["x"].to_numpy(float), new["x"].to_numpy(float)])
        ys = np.concatenate([old["y"].to_numpy(float), new["y"].to_numpy(float)])
        rs = np.concatenate([old["r"].to_numpy(float), np.full(n_new, p.radius_m)])
        ws = np.concatenate([old["w"].to_numpy(float), np.full(n_new, p.window_days)])
        is_new = np.arange(n_old + n_new) >= n_old

        old_cocoon = np.concatenate([old["cocoon_id"].to_numpy(np.int64), np.full(n_new, -1)])
        label = link_burglaries(t, xs, ys, rs, ws, is_new=is_new, group=old_cocoon)

        comps = pd.DataFrame({"label": label, "cocoon": old_cocoon, "new": is_new})
        new_labels = np.unique(label[is_new])
        target_of: dict[int, int] = {}
        to_create: list[int] = []
        merges: dict[int, list[int]] = {}
        by_label = comps[comps["cocoon"] >= 0].groupby("label")["cocoon"].apply(
            lambda s: sorted(set(s.tolist())))
        for lab in new_labels:
            cids = by_label.get(lab, [])
            if cids:
                target_of[int(lab)] = cids[0]
                if len(cids) > 1:
                    merges[cids[0]] = cids[1:]
            else:
                to_create.append(int(lab))

        # New cocoons (aggregates are provisional; _refresh_cocoons sets them from members).
        new_label = label[n_old:]
        if to_create:
            rows = []
            for lab in to_create:
                sub = new[new_label == lab]
                first = pd.Timestamp(sub["utc"].min()).to_pydatetime()
                rows.append({
                    "dataset_id": ds.id, "state": "live", "radius_m": p.radius_m,
                    "window_days": p.window_days, "visit_hours": p.visit_hours,
                    "params_source": p.source, "time_precision": _coarsest(list(sub["precision"])),
                    "opened_at": first, "first_due_at": first + timedelta(hours=p.visit_hours),
                    "ends_at": first, "owner": owner, "opened_as_of": as_of_u,
                })
            ids = conn.execute(insert(Cocoon).returning(Cocoon.id, sort_by_parameter_order=True),
                               rows).scalars().all()
            for lab, cid in zip(to_create, ids, strict=True):
                target_of[lab] = int(cid)
        report.cocoons_opened = len(to_create)

        # Merge cocoons that a new burglary joined together.
        for target, others in merges.items():
            owners = conn.execute(select(Cocoon.id, Cocoon.owner).where(
                Cocoon.id.in_([target, *others]))).all()
            owner_map = dict(owners)
            conn.execute(update(CocoonMember).where(CocoonMember.cocoon_id.in_(others))
                         .values(cocoon_id=target))
            conn.execute(update(CocoonVisit).where(CocoonVisit.cocoon_id.in_(others))
                         .values(cocoon_id=target))
            conn.execute(update(Cocoon).where(Cocoon.merged_into_id.in_(others))
                         .values(merged_into_id=target))
            conn.execute(update(Cocoon).where(Cocoon.id.in_(others)).values(
                state="merged", merged_into_id=target, merged_as_of=as_of_u))
            if owner_map.get(target) is None:
                inherited = next((owner_map[o] for o in others if owner_map.get(o)), None)
                if inherited:
                    conn.execute(update(Cocoon).where(Cocoon.id == target)
                                 .values(owner=inherited))
            report.cocoons_merged += len(others)
        existing_targets = {target_of[int(lab)] for lab in new_labels} - set(
            target_of[lab] for lab in to_create)
        report.joined_existing = int(sum(
            1 for lab in new_label if target_of[int(lab)] in existing_targets))

        # Members.
        member_rows = [{
            "cocoon_id": target_of[int(lab)], "dataset_id": ds.id, "event_key": r.event_key,
            "month": r.month, "reported_local": pd.Timestamp(r.local).to_pydatetime(),
            "reported_at": pd.Timestamp(r.utc).to_pydatetime(), "time_precision": r.precision,
            "x": float(r.x), "y": float(r.y),
            "lon": None if pd.isna(r.lon) else float(r.lon),
            "lat": None if pd.isna(r.lat) else float(r.lat),
            "location": r.location, "radius_m": p.radius_m, "window_days": p.window_days,
            "near_repeat_of_id": None, "added_as_of": as_of_u,
        } for lab, r in zip(new_label, new.itertuples(index=False), strict=True)]
        try:
            member_ids = conn.execute(
                insert(CocoonMember).returning(CocoonMember.id, sort_by_parameter_order=True),
                member_rows).scalars().all()
        except IntegrityError as exc:  # another run opened some of them at the same time
            raise Conflict(f"some of these burglaries of {ds.name} were cocooned by another run "
                           "at the same time; this run was not applied: run `open` again") from exc
        report.added = len(member_ids)

        targets = sorted(set(target_of.values()))
        _refresh_cocoons(conn, ds, targets)
        report.near_repeats = sum(int(conn.execute(
            select(func.count()).select_from(CocoonMember).where(
                CocoonMember.id.in_(chunk), CocoonMember.near_repeat_of_id.is_not(None))
        ).scalar_one()) for chunk in _in_chunks(member_ids))

        # Visits: the victim, then the nearest `cap` places within the radius. A capped list
        # is one a team can finish in 48 hours (every map point within 400 m gave ~15 tasks per
        # burglary on police.uk data); the rest of the zone is counted as covered by the zone.
        places = _places_frame(conn, ds.name, addresses)
        plan = plan_visits(new, places, radius_m=p.radius_m, visit_hours=p.visit_hours,
                           neighbour_visits=cap)
        mids = np.asarray(member_ids, dtype=np.int64)
        cids = np.asarray([target_of[int(lab)] for lab in new_label], dtype=np.int64)
        pos = plan["pos"].to_numpy(np.int64)
        rows = [{"cocoon_id": int(c_), "member_id": int(m_), "rank": int(rk),
                 "is_victim": bool(iv), "x": float(x_), "y": float(y_), "place": str(pl),
                 "distance_m": float(d_), "due_at": pd.Timestamp(due).to_pydatetime()}
                for c_, m_, rk, iv, x_, y_, pl, d_, due in zip(
                    cids[pos], mids[pos], plan["rank"], plan["is_victim"], plan["x"],
                    plan["y"], plan["place"], plan["distance_m"], plan["due_at"], strict=True)]
        for chunk in _in_chunks(rows, 20_000):
            conn.execute(insert(CocoonVisit), chunk)
        report.visits_planned = len(rows)
        report.victim_visits = int(plan["is_victim"].sum())
        report.neighbour_visits_planned = report.visits_planned - report.victim_visits
        cover = _coverage(conn, targets, places, as_of_u)
        report.places_in_zones = int(cover["places_in_zone"].sum())
        report.places_visited = int(cover["places_visited"].sum())
        report.places_covered_by_zone = int(cover["places_covered_by_zone"].sum())
    return report


def _coverage(conn: Connection, cocoon_ids: Sequence[int], places: pd.DataFrame,
              as_of: datetime, members: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`zone_coverage` of cocoons as of ``as_of`` (members reported by then and their
    visits), read from the store."""
    if members is None:
        members = _members_frame(conn, cocoon_ids, as_of)
    v, m = CocoonVisit, CocoonMember
    rows = []
    for chunk in _in_chunks(sorted(set(cocoon_ids))):
        rows += conn.execute(select(v.cocoon_id, v.x, v.y, v.place).distinct()
                             .join(m, m.id == v.member_id)
                             .where(v.cocoon_id.in_(chunk), m.reported_at <= as_of)).all()
    visits = _frame(rows, columns=["cocoon_id", "x", "y", "place"])
    return zone_coverage(members, places, visits)


def _status(state: str, ends_at: datetime, visits_done: int, as_of: datetime) -> str:
    if state == "merged":
        return "merged"
    if as_of >= ends_at:
        return "expired"
    return "active" if visits_done > 0 else "open"


def _why_text(first: Any, radii: Sequence[float], wins: Sequence[float], n_members: int,
              n_near: int) -> str:
    """The "why" sentence of a cocoon from its first member (``precision, month,
    reported_local, x, y, location``), its distinct radii and windows and its counts."""
    if first["precision"] == "month":
        when = f"in {first['month']} (month only)"
    else:
        when = f"on {pd.Timestamp(first['reported_local']).date().isoformat()}"
    where = _place_label(first["x"], first["y"], first["location"])
    rtxt = "/".join(f"{r:g}" for r in sorted(set(radii)))
    wtxt = "/".join(f"{w:g}" for w in sorted(set(wins)))
    text = f"opened by burglary {when} at {where}; "
    text += (f"{n_near} near repeat{'s' if n_near != 1 else ''} within {rtxt} m/{wtxt} days")
    others = n_members - 1 - n_near
    if others > 0:
        text += (f"; {others} more burglar{'ies' if others != 1 else 'y'} in overlapping "
                 f"zone{'s' if others != 1 else ''}")
    return text


def _member_summary(members: pd.DataFrame) -> pd.DataFrame:
    """Per-cocoon aggregates of member rows in one pass (no per-cocoon pandas work).

    Returns
    -------
    DataFrame
        Indexed by ``cocoon_id``: ``n, n_near, cx, cy, lon, lat`` (lon/lat NaN when any member
        lacks them) and ``why``.
    """
    cols = ["n", "n_near", "cx", "cy", "lon", "lat", "why"]
    if members.empty:
        return pd.DataFrame({c: [] for c in cols})
    f = members.assign(
        near=members["near_repeat_of_id"].notna(),
        lon_na=pd.to_numeric(members["lon"]).isna(),
        lat_na=pd.to_numeric(members["lat"]).isna(),
        lon=pd.to_numeric(members["lon"]).astype(float),
        lat=pd.to_numeric(members["lat"]).astype(float),
        r1=members["radius_m"].astype(float).round(1),
        w1=members["window_days"].astype(float).round(1))
    g = f.groupby("cocoon_id")
    out = g.agg(n=("id", "size"), n_near=("near", "sum"), cx=("x", "mean"), cy=("y", "mean"),
                lon=("lon", "mean"), lat=("lat", "mean"), lon_na=("lon_na", "any"),
                lat_na=("lat_na", "any"))
    out.loc[out["lon_na"], "lon"] = np.nan
    out.loc[out["lat_na"], "lat"] = np.nan
    first = f.sort_values(["cocoon_id", "reported_local", "id"]).drop_duplicates("cocoon_id")
    first = first.set_index("cocoon_id")
    radii = f.drop_duplicates(["cocoon_id", "r1"]).groupby("cocoon_id")["r1"].agg(list)
    wins = f.drop_duplicates(["cocoon_id", "w1"]).groupby("cocoon_id")["w1"].agg(list)
    out["why"] = [_why_text(first.loc[cid], radii[cid], wins[cid], int(out.at[cid, "n"]),
                            int(out.at[cid, "n_near"])) for cid in out.index]
    return out[cols]


def list_cocoons(
    bind: Engine | Connection,
    *,
    as_of: datetime,
    dataset: str | None = None,
    statuses: Sequence[str] | None = LIVE_STATUSES,
    ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Cocoons opened by ``as_of`` with their status at ``as_of``.

    Parameters
    ----------
    as_of : datetime (tz-aware)
        Status, visits done and overdue counts are as at this time; later members and visits
        are ignored.
    dataset : str, optional
        Exact dataset name; all datasets when omitted.
    statuses : sequence of str or None
        Any of ``open, active, expired, merged`` (default the live ones); None for all.
    ids : sequence of int, optional
        Only these cocoons.

    Returns
    -------
    list of dict
        Per cocoon: ``ref, id, dataset, status, owner, opened_at, first_due_at, next_due_at,
        ends_at, centre_x, centre_y, lon, lat, radius_m, window_days, params_source, members,
        near_repeats, visits_planned, visits_done, visits_overdue, timing, why`` (times ISO UTC),
        newest first.
    """
    as_of_u = _utc(as_of)
    if statuses is not None:
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise InputError(f"status {bad} is not one of {list(STATUSES)}")
    with _begin(bind) as conn:
        q = (select(Cocoon.__table__, Dataset.name.label("dataset"), Dataset.timezone)
             .join(Dataset, Dataset.id == Cocoon.dataset_id)
             .where(Cocoon.opened_at <= as_of_u).order_by(Cocoon.opened_at.desc(), Cocoon.id))
        if dataset is not None:
            q = q.where(Dataset.name == _dataset(conn, dataset).name)
        if ids is not None:
            q = q.where(Cocoon.id.in_(list(ids)))
        if statuses is not None and "merged" not in statuses:
            q = q.where(Cocoon.state == "live")
        if statuses is not None and "expired" not in statuses and "merged" not in statuses:
            # The stored end covers every member; as of an earlier time only the members
            # reported by then count, so the end as of then is never later: a cocoon whose
            # stored end has passed is expired at as_of (index ix_cocoons_dataset_ends).
            q = q.where(Cocoon.ends_at > as_of_u)
        rows = conn.execute(q).all()
        ids = [r.id for r in rows]
        counts = _visit_counts(conn, ids, as_of_u)
        members = _members_frame(conn, ids, as_of_u)
    spans = _spans(members, {r.id: r.timezone for r in rows})
    summary = _member_summary(members)
    out = []
    for r in rows:
        c = counts.get(r.id, {"planned": 0, "done": 0, "overdue": 0, "pending": 0,
                              "next_due": None})
        has_members = r.id in summary.index
        opened_at, ends_at = r.opened_at, r.ends_at
        if has_members:
            # As of an earlier time, only the members reported by then count.
            opened_at = _pydt(spans.at[r.id, "opened_at"]) or r.opened_at
            ends_at = _pydt(spans.at[r.id, "ends_at"]) or r.ends_at
        status = _status(r.state, ends_at, c["done"], as_of_u)
        if statuses is not None and status not in statuses:
            continue
        if status == "merged" or not has_members:
            n_mem = n_near = 0
            cx = cy = lon = lat = None
            why = (f"merged into {cocoon_ref(r.merged_into_id)}" if status == "merged"
                   else "no member reported by this time")
        else:
            sm = summary.loc[r.id]
            n_mem, n_near = int(sm["n"]), int(sm["n_near"])
            cx, cy = float(sm["cx"]), float(sm["cy"])
            lon = None if pd.isna(sm["lon"]) else float(sm["lon"])
            lat = None if pd.isna(sm["lat"]) else float(sm["lat"])
            why = str(sm["why"])
        out.append({
            "ref": cocoon_ref(r.id), "id": r.id, "dataset": r.dataset, "status": status,
            "owner": r.owner, "opened_at": _iso(opened_at),
            "first_due_at": _iso(opened_at + timedelta(hours=float(r.visit_hours))),
            "next_due_at": _iso(pd.Timestamp(c["next_due"]).to_pydatetime())
            if c["next_due"] is not None else None,
            "ends_at": _iso(ends_at), "merged_into": cocoon_ref(r.merged_into_id)
            if r.merged_into_id else None,
            "centre_x": cx, "centre_y": cy, "lon": lon, "lat": lat,
            "radius_m": r.radius_m, "window_days": r.window_days, "visit_hours": r.visit_hours,
            "params_source": r.params_source, "members": n_mem, "near_repeats": n_near,
            "visits_planned": c["planned"], "visits_done": c["done"],
            "visits_overdue": c["overdue"], "timezone": r.timezone,
            "timing": TIMING[r.time_precision], "why": why,
        })
    return out


def get_cocoon(bind: Engine | Connection, *, ref: str | int, as_of: datetime,
               addresses: Any = None) -> dict[str, Any]:
    """One cocoon with its members and visits (a merged cocoon's reference leads to the
    cocoon it was merged into; ``followed_from`` says so).

    Parameters
    ----------
    ref : str or int
        ``C-<id>`` (or the id).
    as_of : datetime (tz-aware)
        Members and visits as at this time.
    addresses : path or DataFrame, optional
        The address list the visits were planned from, if not the dataset's known places:
        the place counts and the "why" of each visit are read from it.

    Returns
    -------
    dict
        The :func:`list_cocoons` fields plus ``members_list`` (ref, event_key, reported_at,
        location, x, y, near_repeat_of, places_within), ``visits_list`` (ref, member, rank,
        is_victim, place, x, y, distance_m, due_at, outcome, visited_at, visited_by, state,
        why) and the zone's ``places_in_zone``, ``places_visited`` (a planned visit or a
        victim's point) and ``places_covered_by_zone`` (the rest: leaflets, patrol).
    """
    as_of_u = _utc(as_of)
    cid = ref if isinstance(ref, int) else parse_ref(ref)[1]
    if isinstance(ref, str) and parse_ref(ref)[0] != "C":
        raise InputError(f"{ref!r} is a visit; give a cocoon reference such as C-12")
    with _begin(bind) as conn:
        row = _resolve_cocoon(conn, cid)
        members = _members_frame(conn, [row.id], as_of_u)
        v = CocoonVisit
        visits = conn.execute(select(v.__table__).join(CocoonMember, CocoonMember.id == v.member_id)
                              .where(v.cocoon_id == row.id, CocoonMember.reported_at <= as_of_u)
                              .order_by(v.due_at, v.member_id, v.rank)).all()
        found = list_cocoons(conn, as_of=as_of, statuses=None, ids=[row.id])
        if not found:
            raise NotFound(f"cocoon {cocoon_ref(row.id)} had not been opened by "
                           f"{_iso(as_of_u)}; give a later --as-of")
        base = found[0]
        if addresses is None:
            places = _places_near(conn, row.dataset_id, members)
        else:
            ds_name = conn.execute(select(Dataset.name)
                                   .where(Dataset.id == row.dataset_id)).scalar_one()
            places = _places_frame(conn, ds_name, addresses)
    key_of = dict(zip(members["id"], members["event_key"], strict=True))
    n_within = dict(zip(members["id"], places_within(members, places), strict=True))
    radius_of = dict(zip(members["id"], members["radius_m"], strict=True))
    base["followed_from"] = cocoon_ref(cid) if cid != row.id else None
    base["members_list"] = [{
        "member_id": int(mr.id), "event_key": mr.event_key, "month": mr.month,
        "reported_at": _iso(pd.Timestamp(mr.reported_at).to_pydatetime()),
        "location": _place_label(mr.x, mr.y, mr.location), "x": mr.x, "y": mr.y,
        "near_repeat_of": key_of.get(mr.near_repeat_of_id)
        if pd.notna(mr.near_repeat_of_id) else None,
        "places_within": int(n_within[mr.id]),
    } for mr in members.sort_values(["reported_local", "id"]).itertuples()]
    base["visits_list"] = []
    for vr in visits:
        d = _visit_dict(vr, as_of_u)
        d["why"] = visit_reason(rank=vr.rank, is_victim=bool(vr.is_victim),
                                n_within=int(n_within[vr.member_id]),
                                radius_m=float(radius_of[vr.member_id]),
                                event_key=key_of[vr.member_id])
        base["visits_list"].append(d)
    visited = pd.DataFrame([(row.id, vr.x, vr.y, vr.place) for vr in visits],
                           columns=["cocoon_id", "x", "y", "place"])
    cover = zone_coverage(members, places, visited)
    for col in ("places_in_zone", "places_visited", "places_covered_by_zone"):
        base[col] = int(cover.at[row.id, col]) if row.id in cover.index else 0
    return base


def _visit_state(outcome: str | None, visited_at: datetime | None, due_at: datetime,
                 as_of: datetime) -> str:
    if outcome is not None and visited_at is not None and visited_at <= as_of:
        return "done on time" if visited_at <= due_at else "done late"
    return "overdue" if due_at < as_of else "due"


def _visit_dict(vr, as_of: datetime) -> dict[str, Any]:
    done = vr.outcome is not None and vr.visited_at is not None and vr.visited_at <= as_of
    return {
        "ref": visit_ref(vr.id), "id": vr.id, "cocoon": cocoon_ref(vr.cocoon_id),
        "member_id": vr.member_id, "rank": vr.rank, "is_victim": bool(vr.is_victim),
        "place": vr.place, "x": vr.x, "y": vr.y, "distance_m": round(float(vr.distance_m), 1),
        "due_at": _iso(vr.due_at), "outcome": vr.outcome if done else None,
        "visited_at": _iso(vr.visited_at) if done else None,
        "visited_by": vr.visited_by if done else None,
        "state": _visit_state(vr.outcome, vr.visited_at, vr.due_at, as_of),
    }


def cocoon_places(bind: Engine | Connection, *, ref: str | int, as_of: datetime,
                  addresses: Any = None) -> pd.DataFrame:
    """The known places inside a cocoon's zone (union of member discs), nearest first.

    Returns
    -------
    DataFrame
        ``x, y, place, distance_m, nearest_event`` (distance to the nearest member burglary,
        metres).
    """
    as_of_u = _utc(as_of)
    cid = ref if isinstance(ref, int) else parse_ref(ref)[1]
    with _begin(bind) as conn:
        row = _resolve_cocoon(conn, cid)
        ds_name = conn.execute(select(Dataset.name).where(Dataset.id == row.dataset_id)).scalar()
        members = _members_frame(conn, [row.id], as_of_u)
        places = _places_frame(conn, ds_name, addresses)
    out = places_in_zone(members, places)
    out["nearest_event"] = members["event_key"].to_numpy()[out["nearest"].astype(int)] \
        if len(out) else []
    return out.drop(columns="nearest")


def record_visit(
    bind: Engine | Connection,
    *,
    ref: str,
    outcome: str,
    at: datetime,
    by: str | None = None,
) -> dict[str, Any]:
    """Record the outcome of a visit.

    Parameters
    ----------
    ref : str
        ``V-<id>`` for one visit, or ``C-<id>`` for the next pending visit of that cocoon
        (earliest due, victim first, then nearest first).
    outcome : {"spoke", "advice", "no-answer", "declined"}
    at : datetime (tz-aware)
        When the visit happened.
    by : str, optional
        Officer's collar number or team (never a resident's name).

    Returns
    -------
    dict
        The visit (as in :func:`get_cocoon`) plus ``on_time`` (visited by its due time).

    Raises
    ------
    Conflict
        The visit already has an outcome, the cocoon has no pending visit, or ``at`` is after
        the cocoon expired (not a cocoon visit any more).
    InputError
        Bad outcome, reference, assignee, or ``at`` before the burglary was reported.
    """
    kind, num = parse_ref(ref)
    outcome = _check_outcome(outcome)
    at_u = _utc(at, "at")
    by = _check_assignee(by, "by")
    v = CocoonVisit
    with _begin(bind) as conn:
        if kind == "C":
            coc = _resolve_cocoon(conn, num)
            vr = conn.execute(select(v.__table__).where(v.cocoon_id == coc.id,
                                                        v.outcome.is_(None))
                              .order_by(v.due_at, v.member_id, v.rank, v.id).limit(1)).first()
            if vr is None:
                raise Conflict(f"cocoon {cocoon_ref(coc.id)} has no pending visit; every planned "
                               "visit has an outcome (see `guardian cocoons show`)")
        else:
            vr = conn.execute(select(v.__table__).where(v.id == num)).first()
            if vr is None:
                raise NotFound(f"no visit {visit_ref(num)}; see `guardian cocoons show C-<id>`")
            if vr.outcome is not None:
                raise Conflict(f"visit {visit_ref(num)} already has outcome {vr.outcome!r} "
                               f"({_iso(vr.visited_at)}, by {vr.visited_by or 'unknown'}); "
                               "an outcome is recorded once")
            coc = _resolve_cocoon(conn, vr.cocoon_id)
        reported = conn.execute(select(CocoonMember.reported_at)
                                .where(CocoonMember.id == vr.member_id)).scalar_one()
        if at_u < reported:
            raise InputError(f"visit time {_iso(at_u)} is before the burglary was reported "
                             f"({_iso(reported)}); check --at")
        if at_u >= coc.ends_at:
            raise Conflict(f"cocoon {cocoon_ref(coc.id)} expired at {_iso(coc.ends_at)}; a visit "
                           f"at {_iso(at_u)} is after the risk window (give --at with the "
                           "time of the visit if it was made earlier)")
        conn.execute(update(v).where(v.id == vr.id, v.outcome.is_(None))
                     .values(outcome=outcome, visited_at=at_u, visited_by=by))
        new = conn.execute(select(v.__table__).where(v.id == vr.id)).first()
    out = _visit_dict(new, at_u)
    out["on_time"] = bool(at_u <= new.due_at)
    return out


def assign_cocoon(bind: Engine | Connection, *, ref: str, owner: str) -> dict[str, Any]:
    """Set a cocoon's owner (collar number or team). A merged cocoon's reference leads to the
    cocoon it was merged into.

    Returns
    -------
    dict
        ``ref, owner, previous_owner``.
    """
    kind, num = parse_ref(ref)
    if kind != "C":
        raise InputError(f"{ref!r} is a visit; owners are set on cocoons (C-<id>)")
    owner = _check_assignee(owner, "owner")
    if not owner:
        raise InputError("owner must not be empty")
    with _begin(bind) as conn:
        coc = _resolve_cocoon(conn, num)
        conn.execute(update(Cocoon).where(Cocoon.id == coc.id).values(owner=owner))
    return {"ref": cocoon_ref(coc.id), "owner": owner, "previous_owner": coc.owner}


def overdue_visits(
    bind: Engine | Connection,
    *,
    as_of: datetime,
    dataset: str | None = None,
    include_expired: bool = False,
    limit: int | None = None,
    count_only: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Visits that missed their deadline and still have no outcome at ``as_of``.

    By default only visits of live cocoons (those one can still act on); with
    ``include_expired`` also those of expired cocoons (missed for good). ``limit`` returns only
    the first (oldest) ones; pass a list as ``count_only`` to have the full count appended
    to it.

    Returns
    -------
    list of dict
        Oldest deadline first: the visit fields plus ``dataset, owner, hours_overdue,
        burglary_reported_at, cocoon_status, timing, why`` (why the place was chosen).
    """
    as_of_u = _utc(as_of)
    if limit is not None and (not isinstance(limit, int | np.integer) or limit < 0):
        raise InputError(f"limit must be a whole number >= 0 (or None for all), got {limit!r}")
    v, m = CocoonVisit, CocoonMember
    pending = [m.reported_at <= as_of_u, v.due_at < as_of_u,
               or_(v.visited_at.is_(None), v.visited_at > as_of_u)]
    with _begin(bind) as conn:
        # 1. The cocoons concerned, and their end as of ``as_of`` (members reported later do
        #    not extend it yet), computed for all of them at once.
        cq = (select(Cocoon.id, Cocoon.ends_at, Dataset.timezone)
              .join(Dataset, Dataset.id == Cocoon.dataset_id)
              .where(Cocoon.state == "live", Cocoon.opened_at <= as_of_u))
        if not include_expired:
            cq = cq.where(Cocoon.ends_at > as_of_u)
        if dataset is not None:
            cq = cq.where(Dataset.name == _dataset(conn, dataset).name)
        crow = conn.execute(cq).all()
        tz_of = {r.id: r.timezone for r in crow}
        m_rows = []
        for chunk in _in_chunks(sorted(tz_of)):
            m_rows += conn.execute(select(m.cocoon_id, m.reported_local, m.reported_at,
                                          m.window_days)
                                   .where(m.cocoon_id.in_(chunk), m.reported_at <= as_of_u)).all()
        spans = _spans(_frame(m_rows, ["cocoon_id", "reported_local", "reported_at",
                                       "window_days"]), tz_of)
        ends: dict[int, datetime] = {}
        for r in crow:
            e = spans.at[r.id, "ends_at"] if r.id in spans.index else None
            ends[r.id] = _pydt(e) or r.ends_at
        keep = sorted(cid for cid, e in ends.items() if include_expired or as_of_u < e)
        # 2. Count in SQL; read only the rows returned (oldest deadline first).
        total = 0
        rows: list[Any] = []
        for chunk in _in_chunks(keep):
            if count_only is not None:
                total += int(conn.execute(
                    select(func.count()).select_from(v).join(m, m.id == v.member_id)
                    .where(v.cocoon_id.in_(chunk), *pending)).scalar_one())
            q = (select(v.__table__, Cocoon.owner, m.reported_at.label("reported_at"),
                        m.time_precision.label("precision"), Dataset.name.label("dataset"),
                        Cocoon.dataset_id.label("dataset_id"), m.x.label("member_x"),
                        m.y.label("member_y"), m.radius_m.label("member_radius_m"),
                        m.event_key.label("event_key"))
                 .join(Cocoon, Cocoon.id == v.cocoon_id)
                 .join(m, m.id == v.member_id)
                 .join(Dataset, Dataset.id == Cocoon.dataset_id)
                 .where(v.cocoon_id.in_(chunk), *pending)
                 .order_by(v.due_at, v.cocoon_id, v.member_id, v.rank))
            if limit is not None:
                q = q.limit(limit)
            rows += conn.execute(q).all()
        if len(keep) > 500:  # several chunks: merge them in the same order
            rows.sort(key=lambda r: (r.due_at, r.cocoon_id, r.member_id, r.rank))
        if limit is not None:
            rows = rows[:limit]
        # Why each listed visit was chosen: the places within its burglary's radius, counted
        # from the known places around the listed burglaries only.
        burg = pd.DataFrame([(r.member_id, r.dataset_id, r.member_x, r.member_y,
                              r.member_radius_m) for r in rows],
                            columns=["id", "dataset_id", "x", "y", "radius_m"]
                            ).drop_duplicates("id")
        n_within: dict[int, int] = {}
        for ds_id, sub in burg.groupby("dataset_id"):
            counts = places_within(sub, _places_near(conn, int(ds_id), sub))
            n_within.update(zip(sub["id"].tolist(), counts.tolist(), strict=True))
    if count_only is not None:
        count_only.append(total)
    out = []
    for r in rows:
        end = ends[r.cocoon_id]
        d = _visit_dict(r, as_of_u)
        d.update({
            "dataset": r.dataset, "owner": r.owner,
            "hours_overdue": round((as_of_u - r.due_at).total_seconds() / 3600.0, 1),
            "burglary_reported_at": _iso(r.reported_at),
            "cocoon_status": "expired" if as_of_u >= end else "live",
            "timing": TIMING[r.precision],
            "why": visit_reason(rank=r.rank, is_victim=bool(r.is_victim),
                                n_within=n_within.get(r.member_id), radius_m=r.member_radius_m,
                                event_key=r.event_key),
        })
        out.append(d)
    return out


def delivery_figures(
    bind: Engine | Connection,
    *,
    dataset: str,
    as_of: datetime,
    start_month: str | None = None,
    end_month: str | None = None,
    min_visits: int | None = None,
) -> dict[str, Any]:
    """Delivery of the cocoon visits (the known failure: visits that never happen).

    Definitions (per member burglary reported by ``as_of``; only burglaries whose visit
    deadline has passed, ``reported + visit_hours <= as_of``, are judged):

    * **started on time**: at least one of its visits has an outcome recorded at or before its
      deadline (48 hours after the report by default);
    * **completed**: every visit planned for it has an outcome by ``as_of`` (or at least
      ``min_visits`` of them when given); **completed on time**: the same, by the deadline;
    * any outcome counts as done (a "no answer" call was still made); **reached** counts the
      visits that spoke to a resident or left advice.

    Returns
    -------
    dict
        ``burglaries, judged, in_progress, started_on_time, share_started_on_time, completed,
        share_completed, completed_on_time, share_completed_on_time, visits_planned,
        visits_done, visits_reached, share_reached, visits_no_answer, visits_declined,
        visits_pending, visits_overdue, deadline_hours, min_visits, timing, definitions``;
        shares are ``None`` when nothing is judged yet.
    """
    as_of_u = _utc(as_of)
    start_month = check_month(start_month, "start_month")
    end_month = check_month(end_month, "end_month")
    if min_visits is not None and (not isinstance(min_visits, int) or min_visits < 1):
        raise InputError(f"min_visits must be a whole number >= 1, got {min_visits!r}")
    v, m = CocoonVisit, CocoonMember
    done = v.outcome.is_not(None) & v.visited_at.is_not(None) & (v.visited_at <= as_of_u)

    def n_if(cond):
        return func.sum(case((cond, 1), else_=0))

    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        # One row per member burglary, aggregated in SQL (never one row per visit in Python).
        q = (select(m.id, m.time_precision, func.count(v.id), n_if(done),
                    n_if(done & (v.visited_at <= v.due_at)), func.max(v.due_at),
                    n_if(done & v.outcome.in_(REACHED)), n_if(done & (v.outcome == "no-answer")),
                    n_if(done & (v.outcome == "declined")),
                    n_if(~done & (v.due_at < as_of_u)))
             .join(v, v.member_id == m.id)
             .join(Cocoon, Cocoon.id == m.cocoon_id)
             .where(m.dataset_id == ds.id, m.reported_at <= as_of_u)
             .group_by(m.id, m.time_precision))
        if start_month:
            q = q.where(m.month >= start_month)
        if end_month:
            q = q.where(m.month <= end_month)
        rows = conn.execute(q).all()
        hours = sorted({float(h) for h in conn.execute(
            select(Cocoon.visit_hours).where(Cocoon.dataset_id == ds.id).distinct()).scalars()})
    per = _frame(rows, columns=["member", "precision", "planned", "done", "on_time", "due",
                                "reached", "no_answer", "declined", "overdue"])
    for col in ("planned", "done", "on_time", "reached", "no_answer", "declined", "overdue"):
        per[col] = pd.to_numeric(per[col]).fillna(0).astype(np.int64)
    per["due"] = pd.to_datetime(per["due"])
    need = per["planned"] if min_visits is None else np.minimum(per["planned"], min_visits)
    is_judged = (per["due"] <= as_of_u).to_numpy(bool)
    judged = per[is_judged]
    need_j = need[is_judged]
    started = int((judged["on_time"] > 0).sum())
    completed = int((judged["done"] >= need_j).sum())
    completed_ot = int((judged["on_time"] >= need_j).sum())
    n_j = len(judged)
    n_planned = int(per["planned"].sum())
    n_done = int(per["done"].sum())
    n_reached = int(per["reached"].sum())

    def share(k: int, n: int) -> float | None:
        return None if n == 0 else round(k / n, 4)

    dl = "/".join(f"{h:g}" for h in hours) or f"{DEFAULT_VISIT_HOURS:g}"
    return {
        "dataset": ds.name, "as_of": _iso(as_of_u),
        "period": [start_month, end_month],
        "burglaries": int(len(per)), "judged": n_j, "in_progress": int(len(per) - n_j),
        "started_on_time": started, "share_started_on_time": share(started, n_j),
        "completed": completed, "share_completed": share(completed, n_j),
        "completed_on_time": completed_ot, "share_completed_on_time": share(completed_ot, n_j),
        "visits_planned": n_planned, "visits_done": n_done,
        "visits_reached": n_reached, "share_reached": share(n_reached, n_done),
        "visits_no_answer": int(per["no_answer"].sum()),
        "visits_declined": int(per["declined"].sum()),
        "visits_pending": n_planned - n_done, "visits_overdue": int(per["overdue"].sum()),
        "deadline_hours": hours or [DEFAULT_VISIT_HOURS], "min_visits": min_visits,
        "timing": _timing(list(per["precision"].unique())) if len(per) else None,
        "definitions": {
            "judged": f"burglaries whose {dl}-hour visit deadline had passed by as_of",
            "started_on_time": f"judged burglaries with at least one visit outcome recorded "
                               f"within {dl} hours of the report",
            "completed": ("judged burglaries with every planned visit done by as_of"
                          if min_visits is None else
                          f"judged burglaries with at least {min_visits} visits done "
                          "(or all, when fewer were planned) by as_of"),
            "done": "any outcome recorded (spoke, advice, no-answer, declined)",
            "reached": "outcome spoke or advice",
        },
    }


def default_as_of(bind: Engine | Connection, *, dataset: str, now: datetime) -> tuple[datetime, str]:
    """The "as of" time the CLI uses when none is given: ``now``, or the end of the latest loaded
    month when the data stop before ``now`` (historical data).

    Returns
    -------
    (datetime, str)
        Aware UTC datetime and a sentence explaining the choice.
    """
    now_u = _utc(now, "now")
    with _begin(bind) as conn:
        ds = _dataset(conn, dataset)
        last = conn.execute(select(func.max(Event.month))
                            .where(Event.dataset_id == ds.id)).scalar()
    if last is None:
        return now_u.replace(tzinfo=UTC), "now (the dataset has no events)"
    end_local = pd.Period(last, freq="M").end_time.normalize() + pd.Timedelta(days=1)
    end_u = _to_utc_naive(pd.DatetimeIndex([end_local]), ds.timezone)[0].to_pydatetime()
    if end_u < now_u:
        return end_u.replace(tzinfo=UTC), (
            f"end of {last}, the latest month loaded for {ds.name} (the data stop before now; "
            "pass --as-of to choose another time)")
    return now_u.replace(tzinfo=UTC), "now"


def cocoon_section_data(engine: Engine | Connection, *, dataset: str, as_of: datetime,
                        overdue_limit: int = 50) -> dict[str, Any]:
    """Everything the monthly briefing shows about cocoons for one dataset.

    Returns
    -------
    dict
        ``dataset, as_of, timezone, crs, timing, timing_note, burglary_basis, parameters``
        (distinct radius/window/source in use), ``cocoons`` (live ones: ref, centre, radius,
        members, near repeats, next due, ends, status, owner, places count, zone area, why),
        ``overdue`` (oldest first, at most ``overdue_limit``), ``overdue_count``,
        ``delivery`` (:func:`delivery_figures`) and ``caveats``.
    """
    as_of_u = _utc(as_of)
    with _begin(engine) as conn:
        ds = _dataset(conn, dataset)
        live = list_cocoons(conn, as_of=as_of, dataset=ds.name, statuses=LIVE_STATUSES)
        n_over: list[int] = []
        over = overdue_visits(conn, as_of=as_of, dataset=ds.name, limit=overdue_limit,
                              count_only=n_over)
        delivery = delivery_figures(conn, dataset=ds.name, as_of=as_of)
        params = conn.execute(select(Cocoon.radius_m, Cocoon.window_days, Cocoon.visit_hours,
                                     Cocoon.params_source).where(Cocoon.dataset_id == ds.id)
                              .distinct()).all()
        precisions = list(conn.execute(select(CocoonMember.time_precision).where(
            CocoonMember.dataset_id == ds.id).distinct()).scalars())
        dwell = conn.execute(select(func.count()).select_from(Event).where(
            Event.dataset_id == ds.id, Event.category == "Burglary",
            Event.dwelling.is_(None))).scalar_one()
        members = _members_frame(conn, [c["id"] for c in live], as_of_u)
        places = _places_near(conn, ds.id, members) if live else None
    stats = _zone_stats(members, places) if live else pd.DataFrame()
    cocoons = []
    for c in live:
        has = c["id"] in stats.index
        cocoons.append({
            "ref": c["ref"], "id": c["id"], "status": c["status"], "owner": c["owner"],
            "centre": {"x": c["centre_x"], "y": c["centre_y"], "lon": c["lon"], "lat": c["lat"]},
            "radius_m": c["radius_m"], "window_days": c["window_days"],
            "members": c["members"], "near_repeats": c["near_repeats"],
            "opened_at": c["opened_at"], "due": c["next_due_at"], "ends_at": c["ends_at"],
            "visits_planned": c["visits_planned"], "visits_done": c["visits_done"],
            "visits_overdue": c["visits_overdue"],
            "places": int(stats.at[c["id"], "places"]) if has else 0,
            "zone_km2": round(float(stats.at[c["id"], "area_m2"]) / 1e6, 3) if has else 0.0,
            "params_source": c["params_source"],
            "timing": c["timing"], "why": c["why"],
        })
    precision = _coarsest(precisions) if precisions else "minute"
    caveats = [TIMING_NOTE[precision]] if precisions else []
    basis = ("Burglary with the dwelling flag true or unknown (police.uk 'Burglary' mixes "
             "dwelling and non-dwelling burglary: treated as residential-or-unknown)"
             if dwell else "dwelling burglary (dwelling flag true)")
    if dwell:
        caveats.append("police.uk does not say which burglaries were of dwellings: every "
                       "'Burglary' is cocooned (residential-or-unknown).")
    if ds.kind == "police.uk":
        caveats.append("places are police.uk anonymised map points (each stands for a street "
                       "segment, not one address); supply an address file for door-level lists.")
    return {
        "dataset": ds.name, "as_of": _iso(as_of_u), "timezone": ds.timezone, "crs": ds.crs,
        "timing": TIMING[precision] if precisions else None,
        "timing_note": TIMING_NOTE[precision] if precisions else None,
        "burglary_basis": basis,
        "parameters": [{"radius_m": r, "window_days": w, "visit_hours": h, "source": s}
                       for r, w, h, s in params],
        "cocoons": cocoons,
        "overdue": over, "overdue_count": n_over[0], "overdue_total": n_over[0],
        "overdue_shown": len(over),
        "delivery": delivery, "caveats": caveats,
    }

