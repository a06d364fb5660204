"""`guardian forecast` and `guardian forecast backtest` on a store: police.uk files written for
five years (rows re-dated from the bundled Essex December 2021, counts seasonal Poisson), and
the bundled-style gap refused with the missing months named."""

from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from conftest import ESSEX
from guardian.cli import main
from guardian.data.months import month_range

MONTHS = month_range("2015-01", "2019-12")


def write_months(folder, months, *, seed=0, base=120.0):
    """police.uk street files for ``months``: Essex rows re-dated, Poisson counts with a
    +-30% seasonal cycle (peak in July). Returns the count of crime rows per month."""
    src = pd.read_csv(ESSEX / "2021-12-essex-street.csv.gz", dtype=str, keep_default_na=False)
    src = src[src["Crime type"] != "Anti-social behaviour"].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for m in months:
        mu = base * (1 + 0.3 * np.cos(2 * np.pi * (int(m[5:]) - 7) / 12))
        k = int(rng.poisson(mu))
        rows = src.sample(k, random_state=int(rng.integers(1 << 30)), replace=True).copy()
        rows["Month"] = m
        # police.uk crime IDs are 64 hex digits (the loader quarantines anything else)
        rows["Crime ID"] = [hashlib.sha256(f"{m}-{i}".encode()).hexdigest() for i in range(k)]
        with gzip.open(folder / f"{m}-essex-street.csv.gz", "wt", newline="") as fh:
            rows.to_csv(fh, index=False)
        out[m] = k
    return out


@pytest.fixture(scope="module")
def long_store(tmp_path_factory):
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    d = tmp_path_factory.mktemp("fc")
    counts = write_months(d / "files", MONTHS)
    url = f"sqlite:///{d / 'store.db'}"
    eng = get_engine(url)
    ingest(eng, [d / "files"], workers=1)
    eng.dispose()
    return url, counts


def _run(capsys, monkeypatch, url, *args):
    monkeypatch.setenv("GUARDIAN_DATABASE_URL", url)
    code = 0
    try:
        main(list(args))
    except SystemExit as e:
        code = e.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_forecast_json_matches_the_analysis_on_the_store_counts(long_store, capsys, monkeypatch):
    from guardian.analysis.forecast import forecast_with_accuracy

    url, counts = long_store
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--horizon", "6", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["label"] == "Essex Police, all crime (every category except anti-social behaviour)"
    assert [v["count"] for v in d["history"]["values"]] == [float(counts[m]) for m in MONTHS]
    ref = forecast_with_accuracy(pd.Series(counts, dtype=float), horizon=6)
    assert d["method"] == ref.method
    got = d["forecasts"][d["method"]]
    assert [r["month"] for r in got] == month_range("2020-01", "2020-06")
    np.testing.assert_allclose([r["mean"] for r in got], ref.forecasts[ref.method]["mean"])
    # 60 months, 36 to train, 6 ahead: origins 36..54, 19 windows
    assert d["backtest"]["windows"] == 19 and d["backtest"]["horizon"] == 6
    assert d["backtest"]["first_origin"] == "2018-01" and d["backtest"]["last_origin"] == "2019-07"
    assert "Back-test over 19 rolling windows" in d["sentence"]


def test_forecast_table_and_backtest(long_store, capsys, monkeypatch):
    url, _ = long_store
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--category", "violence and sexual offences", "--horizon", "3")
    assert code == 0, err
    assert "Essex Police, Violence and sexual offences" in out
    flat = " ".join(out.split())
    assert "Back-test: 22 rolling windows" in flat and "seasonal naive MASE" in flat
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "backtest", "--force", "essex",
                          "--horizon", "12", "--step", "6", "--json")
    assert code == 0, err
    d = json.loads(out)
    # 60 months, 36 to train, 12 ahead: origins 36, 42, 48 -> first forecast months
    assert d["windows"] == 3 and d["first_origin"] == "2018-01" and d["last_origin"] == "2019-01"
    assert {r["method"] for r in d["summary"]} == {"snaive", "ets", "sarima", "ensemble"}


def test_district_and_errors(long_store, capsys, monkeypatch):
    url, _ = long_store
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--district", "nowhere", "--horizon", "3")
    assert code == 2 and "no district 'nowhere' in Essex Police; districts:" in err
    district = err.split("districts: ")[1].split(",")[0].strip()
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--district", district, "--horizon", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["label"].startswith(f"Essex Police, {district} district")
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--horizon", "30")
    assert code == 2 and "horizon must be 1..24" in err
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--method", "prophet")
    assert code == 2 and "--method 'prophet' is not one of" in err
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--horizon", "3")
    assert code == 2 and "give --force" in err


def test_gap_is_refused_with_the_missing_months(tmp_path, capsys, monkeypatch):
    from guardian.store.db import get_engine
    from guardian.store.ingest import ingest

    write_months(tmp_path / "f", ["2018-10", "2018-11", "2018-12", "2019-01", "2019-02"]
                 + month_range("2021-03", "2021-12"), base=20)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    eng = get_engine(url)
    ingest(eng, [tmp_path / "f"], workers=1)
    eng.dispose()
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "--force", "essex",
                          "--horizon", "12")
    assert code == 2
    msg = " ".join(err.split())
    assert "has gaps: 2019-03..2021-02 (24 months) not loaded" in msg
    assert "needs 48 continuous months" in msg
    code, out, err = _run(capsys, monkeypatch, url, "forecast", "backtest", "--force", "essex",
                          "--horizon", "3")
    assert code == 2 and "2019-03..2021-02" in " ".join(err.split())
