"""`guardian nearrepeat knox` on a CSV file (headerless and with a header) and on the store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import guardian.cli as cli
from guardian.errors import InputError

REPO = Path(__file__).resolve().parents[2]
MONTH1 = REPO / "tests" / "fixtures" / "knox_chicago_be_month1.csv"
MAPPING = REPO / "mappings" / "chicago_be.toml"

NRC_OBSERVED = [
    [28, 5, 5, 2],
    [44, 13, 8, 4],
    [97, 56, 19, 16],
    [77, 67, 45, 20],
    [182194, 146149, 95237, 45879],
]
KEYS = [
    "n_events",
    "permutations",
    "seed",
    "space_bands",
    "time_bands",
    "closed",
    "metric",
    "observed",
    "expected_mean",
    "expected_median",
    "knox_ratio",
    "knox_ratio_median",
    "p_value",
    "z_score",
    "significant",
    "space_labels",
    "time_labels",
    "input",
]


@pytest.fixture(scope="module")
def app():
    cli._register()
    return cli.app


def test_knox_on_headerless_csv_writes_json_and_figure(app, tmp_path):
    out, fig = tmp_path / "knox.json", tmp_path / "knox.png"
    res = CliRunner().invoke(
        app,
        [
            "nearrepeat",
            "knox",
            str(MONTH1),
            "--no-header",
            "--x",
            "0",
            "--y",
            "1",
            "--date",
            "2",
            "--space-bands",
            "0,1,100,200,300",
            "--time-bands",
            "0,7,14,21",
            "--metric",
            "manhattan",
            "--permutations",
            "99",
            "--seed",
            "5",
            "--json",
            str(out),
            "--figure",
            str(fig),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Observed pairs (970 events)" in res.output
    assert "182,194" in res.output
    doc = json.loads(out.read_text())
    for key in KEYS:
        assert key in doc
    assert doc["observed"] == NRC_OBSERVED
    assert doc["seed"] == 5 and doc["permutations"] == 99 and doc["metric"] == "manhattan"
    assert doc["input"]["rows_used"] == 970 and len(doc["input"]["sha256"]) == 64
    # [0, 1) m is the origin row here; it and [1, 100), [100, 200) are hot within 7 days
    assert doc["cocoon"] == {"radius_m": 200.0, "window_days": 7.0}
    assert "suggested cocoon: 200 m for 7 days" in res.output
    assert fig.read_bytes()[:4] == b"\x89PNG"


def test_knox_with_header_time_column_same_location_right_closed(app, tmp_path):
    d = pd.read_csv(MONTH1, header=None, names=["X", "Y", "date"])
    rng = np.random.default_rng(0)
    d["hhmm"] = [
        f"{h:02d}:{m:02d}"
        for h, m in zip(rng.integers(0, 24, len(d)), rng.integers(0, 60, len(d)), strict=True)
    ]
    d.loc[3, "X"] = None  # a row without x: left out and reported, never silently
    src = tmp_path / "events.csv"
    d.to_csv(src, index=False)
    out = tmp_path / "k.json"
    res = CliRunner().invoke(
        app,
        [
            "nearrepeat",
            "knox",
            str(src),
            "--x",
            "X",
            "--y",
            "Y",
            "--date",
            "date",
            "--time",
            "hhmm",
            "--space-bands",
            "0,100,200",
            "--time-bands",
            "0,1,7",
            "--same-location",
            "--closed",
            "right",
            "--permutations",
            "9",
            "--seed",
            "1",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "left out 1 row" in res.output
    doc = json.loads(out.read_text())
    assert doc["n_events"] == 969 and doc["input"]["dropped_lines"] == [5]
    assert doc["closed"] == "right" and doc["same_location"] is True
    assert doc["space_labels"][0] == "0 (same location)"
    # fractional days: the times are what the command says
    from guardian.analysis.nearrepeat import knox_test
    from guardian.cli.nearrepeat import events_from_csv

    x, y, t, _ = events_from_csv(src, x="X", y="Y", date="date", time="hhmm")
    ok = d.drop(index=3)
    first = pd.to_datetime(ok["date"]).min()
    expect = ((pd.to_datetime(ok["date"]) - first) / pd.Timedelta(days=1)).to_numpy() + (
        pd.to_timedelta(ok["hhmm"] + ":00") / pd.Timedelta(days=1)
    ).to_numpy()
    np.testing.assert_allclose(t, expect)
    r = knox_test(
        x,
        y,
        t,
        space_bands=[0, 100, 200],
        time_bands=[0, 1, 7],
        same_location=True,
        closed="right",
        permutations=9,
        random_state=1,
    )
    assert doc["observed"] == r.observed.tolist()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--x", "0", "--y", "1", "--date", "2"], "is not a column"),
        (["--no-header", "--x", "X", "--y", "1", "--date", "2"], "0-based positions"),
        (["--no-header", "--x", "7", "--y", "1", "--date", "2"], "only 3 columns"),
        (["--no-header", "--y", "1", "--date", "2"], "give --x"),
        (["--no-header", "--x", "0", "--y", "1", "--date", "2", "--force", "essex"], "exactly one"),
        (
            ["--no-header", "--x", "0", "--y", "1", "--date", "2", "--category", "burglary"],
            "apply to --force",
        ),
    ],
)
def test_knox_cli_input_errors(app, args, match):
    base = ["nearrepeat", "knox", str(MONTH1), "--space-bands", "0,100", "--time-bands", "0,7"]
    res = CliRunner().invoke(app, base + args)
    assert isinstance(res.exception, InputError)
    assert match in str(res.exception)


def test_time_of_day_inside_the_date_column_is_used(tmp_path):
    from guardian.cli.nearrepeat import events_from_csv

    src = tmp_path / "e.csv"
    src.write_text(
        "x,y,when\n1000,2000,2016-01-01 18:00\n1100,2000,2016-01-03 06:00\n1200,2000,not a date\n"
    )
    x, y, t, info = events_from_csv(src, x="x", y="y", date="when")
    np.testing.assert_allclose(t, [0.75, 2.25])
    assert info["dropped_rows"] == 1 and info["dropped_lines"] == [4]


def test_bad_band_text_is_an_input_error(app):
    res = CliRunner().invoke(
        app,
        [
            "nearrepeat",
            "knox",
            str(MONTH1),
            "--no-header",
            "--x",
            "0",
            "--y",
            "1",
            "--date",
            "2",
            "--space-bands",
            "0,1OO",
            "--time-bands",
            "0,7",
        ],
    )
    assert isinstance(res.exception, InputError) and "comma-separated" in str(res.exception)


def test_knox_on_events_in_the_store(app, tmp_path):
    """Load the fixture as a force extract, then run on the store by name and category."""
    from guardian.data.extract import ExtractMapping
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    src = tmp_path / "chicago_be_month1.csv"
    pd.read_csv(MONTH1, header=None, names=["X", "Y", "date"]).to_csv(src, index=False)
    engine = get_engine()  # GUARDIAN_HOME is a fresh temporary folder (tests/conftest.py)
    ingest(engine, [src], mapping=ExtractMapping.from_toml(MAPPING))
    engine.dispose()
    out = tmp_path / "store.json"
    res = CliRunner().invoke(
        app,
        [
            "nearrepeat",
            "knox",
            "--force",
            "chicago",
            "--category",
            "burglary",
            "--from",
            "2015-12",
            "--to",
            "2016-01",
            "--space-bands",
            "0,1,100,200,300",
            "--time-bands",
            "0,7,14,21",
            "--metric",
            "manhattan",
            "--permutations",
            "19",
            "--seed",
            "3",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["observed"] == NRC_OBSERVED  # day-precision local dates survive the UTC store
    assert doc["input"]["dataset"] == "chicago_be" and doc["input"]["category"] == ["Burglary"]
    # January only: the 2015-12-31 event is left out by the month filter
    res = CliRunner().invoke(
        app,
        [
            "nearrepeat",
            "knox",
            "--force",
            "chicago_be",
            "--category",
            "Burglary",
            "--from",
            "2016-01",
            "--to",
            "2016-01",
            "--space-bands",
            "0,100",
            "--time-bands",
            "0,7",
            "--permutations",
            "1",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["n_events"] == 969
    res = CliRunner().invoke(
        app,
        [
            "nearrepeat",
            "knox",
            "--force",
            "chicago_be",
            "--category",
            "burglarly",
            "--space-bands",
            "0,100",
            "--time-bands",
            "0,7",
        ],
    )
    assert isinstance(res.exception, InputError) and "not a police.uk category" in str(
        res.exception
    )
