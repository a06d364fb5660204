"""Every police.uk file in ../shared/data: rows read = loaded + quarantined + duplicates, real gaps.

Skipped when ../shared/data is absent."""

from __future__ import annotations

import pytest

from guardian.store.ingest import ingest
from guardian.store.status import dataset_status


@pytest.mark.slow
def test_all_shared_police_uk_files(shared_data, sqlite_engine):
    folders = [
        "police_uk_street_essex", "police_uk_street_essex_2018_snakecase_header",
        "police_uk_street_msg_forces", "police_uk_outcomes_essex",
    ]
    reports = ingest(sqlite_engine, [shared_data / f for f in folders])
    assert len(reports) == 15 + 7 + 45 + 10
    for r in reports:
        assert r.status == "loaded", r
        assert r.rows_read == r.loaded + r.quarantined + r.duplicates, r
    by = {s["dataset"]: s for s in dataset_status(sqlite_engine)}
    assert set(by) == {"Essex Police", "Kent Police", "Hampshire Constabulary", "Sussex Police"}
    assert by["Essex Police"]["gaps"] == [["2018-08", "2018-09"], ["2019-03", "2021-02"]]
    for force in ("Kent Police", "Hampshire Constabulary", "Sussex Police"):
        assert by[force]["gaps"] == [["2019-03", "2021-02"]]
        assert len(by[force]["months"]) == 15
    # msg forces hold real repeated Crime IDs: stored once, counted
    assert sum(s["duplicates"] for s in by.values()) >= 11
    street = [r for r in reports if r.kind == "street"]
    assert sum(r.rows_read for r in street) == 254503 + 115065 + 676716
