"""National analysis on Dask over Parquet equals the single-machine analysis over the SQL store,
exactly: counts, rolling windows, rates, ranks, Gi* z (to 1e-9) and Knox tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from guardian.data.geography import force_population, forces
from guardian.data.policeuk import read_street
from guardian.operations.national import engine as ne
from guardian.store.db import get_engine
from guardian.store.events import events_frame
from guardian.store.ingest import ingest
from guardian.store.parquet import export_parquet, partition_force
from guardian.store.status import dataset_status


@pytest.fixture(scope="module")
def client():
    with ne.dask_client(workers=1, processes=False) as c:
        yield c


def _both(tmp, files):
    """(SQL store engine, Parquet root) holding ``files``."""
    eng = get_engine(f"sqlite:///{tmp / 'store.db'}")
    reps = ingest(eng, files, workers=1)
    root = tmp / "pq"
    preps = export_parquet(root, files)
    assert [(r.loaded, r.quarantined, r.duplicates) for r in reps] == \
        [(r.loaded, r.quarantined, r.duplicates) for r in preps]
    return eng, root


@pytest.fixture(scope="module")
def essex(repo_root, tmp_path_factory):
    # the bundled months of the second half of 2021 (the whole folder takes too long under
    # the shared machine's load; the shared-data test adds three more forces)
    files = sorted((repo_root / "data/police_uk_street_essex").glob("2021-0[7-9]*.csv.gz")) + \
        sorted((repo_root / "data/police_uk_street_essex").glob("2021-1*.csv.gz"))
    eng, root = _both(tmp_path_factory.mktemp("essex"), files)
    yield eng, root
    eng.dispose()


def _compare(eng, root, client, *, knox_months=12):
    ev = events_frame(eng)
    loaded = {s["dataset"]: s["months"] for s in dataset_status(eng)}
    local = ne.picture_local(ev, loaded)
    dist = ne.picture_dask(client, root)
    pd.testing.assert_frame_equal(dist.counts, local.counts)
    pd.testing.assert_frame_equal(dist.forces, local.forces)
    pd.testing.assert_frame_equal(dist.ranks, local.ranks)
    assert set(dist.forces["force"]) == set(forces()) and len(forces()) == 43
    by_force = {partition_force(d): g for d, g in ev.groupby("dataset")}
    last = max(m for ms in loaded.values() for m in ms)
    spots_d = ne.hotspots_dask(client, root, last=last)
    spots_l = ne.hotspots_local(by_force, last, last)
    assert spots_d.keys() == spots_l.keys() == by_force.keys()
    for f in by_force:
        a, b = spots_d[f], spots_l[f]
        assert a.gi_z.shape == b.gi_z.shape
        np.testing.assert_allclose(a.gi_z, b.gi_z, rtol=0, atol=1e-9, equal_nan=True)
        cols = [c for c in a.spots.columns if c not in ("cells", "cell_keys")]
        pd.testing.assert_frame_equal(a.spots[cols], b.spots[cols], check_exact=False,
                                      rtol=0, atol=1e-9)
        assert a.totals == b.totals
    first = ne.add_months(last, -(knox_months - 1))
    kd = ne.knox_dask(client, root, last=last, months=knox_months)
    kl = ne.knox_local(by_force, first, last)
    for f in by_force:
        a, b = kd[f], kl[f]
        assert a.n_events == b.n_events > 100
        for name in ("observed", "expected_mean", "p_value", "z_score", "knox_ratio"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    return dist, ev, last


def test_bundled_essex_dask_equals_store(essex, client, repo_root):
    eng, root = essex
    dist, ev, last = _compare(eng, root, client, knox_months=6)
    row = dist.forces.set_index("force").loc["Essex"]
    # independent of both paths: the raw file read directly, and the Census population
    raw = read_street(repo_root / f"data/police_uk_street_essex/{last}-essex-street.csv.gz")
    crime = int((raw["category"] != "Anti-social behaviour").sum())
    assert row["crime_month"] == crime
    assert row["crime_per_1000_month"] == pytest.approx(crime * 1000 / force_population("Essex"),
                                                        rel=1e-12)
    assert row["crime_12m"] is None and row["crime_12m_coverage"] == "6 of 12 months"
    nat = dist.ranks[(dist.ranks["scope"] == "national")
                     & (dist.ranks["measure"] == "crime_per_1000_month")].set_index("force")
    # alone in the store: no rank, and the reason says so
    assert nat.loc["Essex", "rank"] is None and nat.loc["Essex", "of"] == 1
    assert "no other member" in nat.loc["Essex", "reason"]
    assert not nat.loc["Kent", "available"]
    grp = dist.ranks[(dist.ranks["scope"] == "group")].set_index(["force", "measure"])
    # every force now has a comparison group (Dyfed-Powys a derived one): the reason a force
    # without data has no group rank is its missing value, not a missing group
    reason = grp.loc[("Dyfed-Powys", "crime_per_1000_month"), "reason"]
    assert "Dyfed-Powys has no value" in reason and "no comparison group" not in reason
    # a configured group is marked as such, a derived one as derived, members named
    assert not grp.loc[("Essex", "crime_per_1000_month"), "group_derived"]
    assert grp.loc[("Dyfed-Powys", "crime_per_1000_month"), "group_derived"]
    assert "Kent" in grp.loc[("Essex", "crime_per_1000_month"), "group"]


@pytest.mark.shared
def test_shared_forces_dask_equals_store(shared_data, repo_root, client, tmp_path):
    months = ("2021-11", "2021-12")
    files = sorted(p for p in (shared_data / "police_uk_street_msg_forces").glob("*.csv.gz")
                   if p.name[:7] in months)
    files += [repo_root / f"data/police_uk_street_essex/{m}-essex-street.csv.gz" for m in months]
    eng, root = _both(tmp_path, files)
    try:
        dist, ev, last = _compare(eng, root, client, knox_months=2)
    finally:
        eng.dispose()
    # the group rank by hand: crime per 1,000 in the month among the four loaded members
    f = dist.forces.set_index("force")
    rates = {k: f.loc[k, "crime_per_1000_month"] for k in ("Essex", "Kent", "Hampshire", "Sussex")}
    assert all(v is not None for v in rates.values())
    order = sorted(rates, key=lambda k: -rates[k])
    grp = dist.ranks[(dist.ranks["scope"] == "group")
                     & (dist.ranks["measure"] == "crime_per_1000_month")].set_index("force")
    for i, k in enumerate(order, start=1):
        assert grp.loc[k, "rank"] == i and grp.loc[k, "of"] == 4
    assert grp.loc["Essex", "group_average"] == pytest.approx(np.mean(list(rates.values())))
