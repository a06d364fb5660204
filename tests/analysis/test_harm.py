"""Harm index: the shipped table, the category mapping, harm totals and concentration."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from guardian.analysis import harm
from guardian.data import harm_table
from guardian.data.schema import ASB, CRIME_CATEGORIES
from guardian.errors import InputError

DATA = Path(harm_table.__file__).parent / "reference"


def test_shipped_table_covers_every_crime_category_and_not_asb():
    hw = harm_table.load_harm_weights()
    assert hw.version == "harm_index_v1"
    assert set(hw.weights) == set(CRIME_CATEGORIES)
    assert all(w > 0 for w in hw.weights.values())
    assert hw.weight(ASB) == 0.0
    assert "hides the offence mix" in hw.caveat
    d = hw.to_dict()
    assert d["version"] == "harm_index_v1" and len(d["weights"]) == 13
    # the most and least severe categories are where any severity index puts them
    order = hw.to_frame()["category"].tolist()
    assert order[0] == "Robbery" and order[-1] == "Bicycle theft"


def test_unknown_harm_version():
    with pytest.raises(InputError, match="harm_index_v1"):
        harm_table.load_harm_weights("harm_index_v9")
    with pytest.raises(InputError, match="does not exist"):
        harm_table.load_harm_weights("/nonexistent/weights.csv")


def test_user_harm_table_from_a_csv(tmp_path):
    path = tmp_path / "local_chi_2024.csv"
    rows = ["category,weight"] + [f"{c.upper()},{i + 1}" for i, c in enumerate(CRIME_CATEGORIES)]
    path.write_text("\n".join(rows))
    hw = harm_table.load_harm_weights(str(path))
    assert hw.version == "local_chi_2024" and hw.weights[CRIME_CATEGORIES[2]] == 3.0
    (tmp_path / "bad.csv").write_text("category,days\nRobbery,1")
    with pytest.raises(InputError, match="'category' and 'weight'"):
        harm_table.load_harm_weights(str(tmp_path / "bad.csv"))


def test_shipped_table_is_reproducible_from_its_inputs():
    """harm_index_v1.csv = count-weighted mean of the shipped per-code weights."""
    counts = pd.read_csv(DATA / "prc_offence_counts_2017_18.csv", dtype={"offence_code": str})
    weights = pd.read_csv(DATA / "css_offence_weights_v1.csv", dtype={"offence_code": str})
    rebuilt = harm.build_category_weights(counts, weights).set_index("category")
    shipped = pd.read_csv(DATA / "harm_index_v1.csv").set_index("category")
    assert rebuilt["weight"].to_dict() == pytest.approx(shipped["weight"].to_dict(), abs=0.01)
    # brute force for one category, straight from the two files
    m = counts.merge(weights, on="offence_code")
    b = m[m["policeuk_category"] == "Burglary"]
    assert shipped.loc["Burglary", "weight"] == pytest.approx(
        (b["offences"] * b["weight"]).sum() / b["offences"].sum(), abs=0.01
    )


@pytest.mark.shared
def test_shipped_counts_match_the_home_office_table(shared_data):
    raw = pd.read_csv(
        shared_data / "home_office_prc_pfa_2017_18" / "prc-pfa-201718_new.csv.gz",
        dtype={"Offence_Code": str},
    )
    raw = raw[
        ~raw["Force_Name"].isin(
            {
                "Action Fraud",
                "CIFAS",
                "UK Finance",
                "Financial Fraud Action UK",
                "British Transport Police",
            }
        )
    ]
    shipped = pd.read_csv(DATA / "prc_offence_counts_2017_18.csv", dtype={"offence_code": str})
    assert shipped["offences"].sum() == raw["Number_of_Offences"].sum()
    assert int(shipped.loc[shipped["offence_code"] == "46", "offences"].iloc[0]) == int(
        raw.loc[raw["Offence_Code"] == "46", "Number_of_Offences"].sum()
    )


def test_build_category_weights_hand_case():
    counts = pd.DataFrame(
        {
            "offence_code": ["a", "b", "z"] + [f"c{i}" for i in range(12)],
            "policeuk_category": ["Burglary", "Burglary", "Burglary"]
            + [c for c in CRIME_CATEGORIES if c != "Burglary"],
            "offences": [10, 30, 0] + [1] * 12,
        }
    )
    weights = pd.DataFrame(
        {
            "offence_code": ["a", "b", "z"] + [f"c{i}" for i in range(12)],
            "weight": [100.0, 20.0, 9999.0] + [1.0] * 12,
            "basis": ["published", "x", "x"] + ["x"] * 12,
        }
    )
    t = harm.build_category_weights(counts, weights).set_index("category")
    # (10*100 + 30*20) / 40 = 40; a code with no offences has no influence
    assert t.loc["Burglary", "weight"] == pytest.approx(40.0)
    assert t.loc["Burglary", "offences"] == 40 and t.loc["Burglary", "codes"] == 2
    assert t.loc["Burglary", "share_published"] == pytest.approx(0.25)


def test_build_category_weights_validation():
    counts = pd.DataFrame(
        {"offence_code": ["a"], "policeuk_category": ["Burglary"], "offences": [3]}
    )
    with pytest.raises(InputError, match="without a weight"):
        harm.build_category_weights(counts, pd.DataFrame({"offence_code": ["b"], "weight": [1.0]}))
    with pytest.raises(InputError, match="no offence codes map"):
        harm.build_category_weights(counts, pd.DataFrame({"offence_code": ["a"], "weight": [1.0]}))
    with pytest.raises(InputError, match="missing columns"):
        harm.build_category_weights(
            counts.drop(columns="offences"), pd.DataFrame({"offence_code": ["a"], "weight": [1.0]})
        )
    bad = counts.assign(policeuk_category="Fraud")
    with pytest.raises(InputError, match="not a police.uk category"):
        harm.build_category_weights(bad, pd.DataFrame({"offence_code": ["a"], "weight": [1.0]}))


def test_normalise_category_spellings():
    assert harm.normalise_category("Violence and Sexual Offences") == "Violence and sexual offences"
    assert harm.normalise_category(" bicycle theft ") == "Bicycle theft"


def _weights(**over) -> harm_table.HarmWeights:
    w = {c: 1.0 for c in CRIME_CATEGORIES}
    w.update(over)
    return harm_table.HarmWeights(version="test", weights=w)


def test_harm_weights_validation():
    with pytest.raises(InputError, match="not a police.uk crime category"):
        harm_table.HarmWeights(version="t", weights={**{c: 1.0 for c in CRIME_CATEGORIES}, ASB: 1.0})
    with pytest.raises(InputError, match=">= 0"):
        _weights(Robbery=-1.0)
    with pytest.raises(InputError, match="missing"):
        harm_table.HarmWeights(version="t", weights={"Robbery": 1.0})


def test_harm_by_category_and_totals_hand_values():
    hw = _weights(Robbery=700.0, Shoplifting=10.0)
    t = harm.harm_by_category({"Robbery": 2, "Shoplifting": 50, ASB: 1000}, hw).set_index(
        "category"
    )
    assert t.loc["Robbery", "harm"] == 1400 and t.loc["Shoplifting", "harm"] == 500
    assert t.loc["Burglary", "offences"] == 0 and ASB not in t.index
    assert harm.harm_total({"Robbery": 2, "Shoplifting": 50, "Burglary": 3}, hw) == 1903
    assert harm.per_1000(1903, 1000) == pytest.approx(1903)
    assert harm.per_1000(5, 0) is None and harm.per_1000(5, None) is None
    with pytest.raises(InputError, match="unknown categories"):
        harm.harm_by_category({"Fraud": 1}, hw)


def test_concentration_hand_case():
    # A: 10 offences x 90 = 900; B: 40 x 2 = 80; C: 50 x 0.4 = 20 -> harm 1000, offences 100
    t = pd.DataFrame(
        {"category": ["C", "B", "A"], "offences": [50, 40, 10], "harm": [20.0, 80.0, 900.0]}
    )
    c = harm.concentration(t, harm_target=0.75)
    assert list(c.table["category"]) == ["A", "B", "C"]
    assert c.table["cum_offence_share"].tolist() == pytest.approx([0.1, 0.5, 1.0])
    assert c.table["cum_harm_share"].tolist() == pytest.approx([0.9, 0.98, 1.0])
    assert c.k == 1 and c.offence_share == pytest.approx(0.1) and c.harm_share == pytest.approx(0.9)
    assert c.sentence == "1 category is 10% of offences but 90% of harm"
    c2 = harm.concentration(t, harm_target=0.95)
    assert c2.k == 2 and c2.sentence == "2 categories are 50% of offences but 98% of harm"
    assert c2.to_dict()["table"][0]["category"] == "A"


def test_concentration_validation():
    t = pd.DataFrame({"category": ["A"], "offences": [0], "harm": [0.0]})
    with pytest.raises(InputError, match="no offences"):
        harm.concentration(t)
    with pytest.raises(InputError, match="harm_target"):
        harm.concentration(t, harm_target=1.5)
