"""Opening and merging cocoons from the store's burglaries (the rules are in
:mod:`.service`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from guardian.data.months import check_month
from guardian.errors import Conflict, InputError
from guardian.operations.cocoons.models import (
    Cocoon,
    CocoonMember,
    CocoonVisit,
)
from guardian.operations.cocoons.planning import (
    _burglary_basis,
    _near_repeats,
    link_burglaries,
    plan_visits,
    zone_coverage,
)
from guardian.operations.cocoons.queries import (
    _burglaries,
    _dataset,
    _frame,
    _in_chunks,
    _members_frame,
    _places_frame,
)
from guardian.operations.cocoons.times import (
    _PRECISION_ORDER,
    _coarsest,
    _days,
    _iso,
    _timing,
    _to_utc_naive,
    _utc,
)
from guardian.operations.cocoons.validation import (
    DEFAULT_NEIGHBOUR_VISITS,
    CocoonParameters,
    _check_assignee,
    check_neighbour_visits,
)
from guardian.store.db import begin as _begin


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
