"""Survey weighting, Kish design effect, intervals, change tests, statements and the loader."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pandas as pd
import pytest

from guardian.analysis.surveys import (
    ProportionEstimate,
    compare_proportions,
    compare_to_value,
    effective_sample_size,
    kish_deff,
    perception_statement,
    poststratify,
    rake,
    survey_results,
    weighted_proportion,
    wilson_interval,
)
from guardian.data.surveys import SurveyMapping, read_margins, read_survey
from guardian.errors import InputError

Z975 = 1.959963984540054


def test_kish_design_effect_by_hand():
    w = [1, 1, 2, 4]  # n = 4, sum w = 8, sum w^2 = 22
    assert kish_deff(w) == pytest.approx(4 * 22 / 64)
    assert effective_sample_size(w) == pytest.approx(64 / 22)
    assert kish_deff([3.0] * 10) == pytest.approx(1.0)
    # scale invariance
    assert kish_deff(np.array(w) * 7.5) == pytest.approx(kish_deff(w))


def test_poststratification_weights_are_population_over_sample():
    sample = pd.DataFrame({"sex": ["F", "F", "M", "M", "M", "M"],
                           "age_band": ["16-34", "35+", "16-34", "16-34", "35+", "35+"]})
    pop = pd.DataFrame({"sex": ["F", "F", "M", "M"], "age_band": ["16-34", "35+", "16-34", "35+"],
                        "population": [300.0, 200.0, 250.0, 250.0]})
    w = poststratify(sample, pop, by=["sex", "age_band"])
    assert w.tolist() == pytest.approx([300, 200, 125, 125, 125, 125])
    with pytest.raises(InputError, match="no respondents"):
        poststratify(sample.iloc[:4], pop, by=["sex", "age_band"])


def test_raking_matches_margins_and_equals_poststratification_when_population_independent():
    # a sample whose sex x age table is of product form (F twice M in every age band)
    cells = [("F", "a", 20), ("F", "b", 40), ("F", "c", 60), ("M", "a", 10), ("M", "b", 20),
             ("M", "c", 30)]
    sample = pd.DataFrame([(s, a) for s, a, k in cells for _ in range(k)],
                          columns=["sex", "age_band"])
    sex = {"F": 5100.0, "M": 4900.0}
    age = {"a": 3000.0, "b": 3500.0, "c": 3500.0}
    w = rake(sample, {"sex": sex, "age_band": age})
    for var, m in (("sex", sex), ("age_band", age)):
        got = pd.Series(w).groupby(sample[var].to_numpy()).sum()
        for k, v in m.items():
            assert got[k] == pytest.approx(v, rel=1e-8)
    # raking fits w_ij = n_ij a_i b_j; with a product-form sample and a population whose joint
    # table is the product of its margins, that reproduces post-stratification to the cells
    joint = pd.DataFrame([(s, a, sex[s] * age[a] / 10000.0) for s in sex for a in age],
                         columns=["sex", "age_band", "population"])
    wp = poststratify(sample, joint, by=["sex", "age_band"])
    assert w == pytest.approx(wp, rel=1e-6)
    # one margin only: raking = post-stratification on that variable
    w1 = rake(sample, {"sex": sex})
    p1 = poststratify(sample, pd.DataFrame({"sex": ["F", "M"], "population": [5100, 4900]}),
                      by=["sex"])
    assert w1 == pytest.approx(p1)
    with pytest.raises(InputError, match="different totals"):
        rake(sample, {"sex": sex, "age_band": {"a": 1.0, "b": 1.0, "c": 1.0}})


def test_weighted_proportion_wilson_on_effective_size_by_hand():
    y = np.array([1, 1, 1, 0, 1, 0, 1, 1], bool)
    w = np.array([1, 2, 1, 1, 3, 1, 1, 2], float)
    e = weighted_proportion(y, w)
    p = (1 + 2 + 1 + 3 + 1 + 2) / 12
    n_eff = 12**2 / (1 + 4 + 1 + 1 + 9 + 1 + 1 + 4)
    assert e.proportion == pytest.approx(p)
    assert e.n_effective == pytest.approx(n_eff)
    den = 1 + Z975**2 / n_eff
    c = (p + Z975**2 / (2 * n_eff)) / den
    h = Z975 * math.sqrt(p * (1 - p) / n_eff + Z975**2 / (4 * n_eff**2)) / den
    assert (e.ci_low, e.ci_high) == pytest.approx((c - h, c + h))


def test_two_proportion_test_by_hand_and_against_statsmodels():
    a = ProportionEstimate(0.81, 0, 0, 500, 400.0, 1.25)
    b = ProportionEstimate(0.72, 0, 0, 500, 400.0, 1.25)
    c = compare_proportions(a, b)
    pooled = (0.81 * 400 + 0.72 * 400) / 800  # 0.765
    z = 0.09 / math.sqrt(pooled * (1 - pooled) * (2 / 400))  # 3.0018
    assert c.z == pytest.approx(z) and c.z == pytest.approx(3.0018, abs=1e-3)
    assert c.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert c.significant and c.direction == "higher"
    from statsmodels.stats.proportion import proportions_ztest

    zs, ps = proportions_ztest([324, 288], [400, 400])
    assert c.z == pytest.approx(zs) and c.p_value == pytest.approx(ps)
    v = compare_to_value(a, 0.78)
    assert v.z == pytest.approx(0.03 / math.sqrt(0.78 * 0.22 / 400))


def test_statement_reads_like_the_seed():
    a = weighted_proportion(np.r_[np.ones(324), np.zeros(76)].astype(bool))
    b = weighted_proportion(np.r_[np.ones(288), np.zeros(112)].astype(bool))
    s = perception_statement("think the police do a good job", a, previous=b)
    assert s.startswith("81% think the police do a good job (95% CI")
    assert s.endswith("significantly higher than last year's 72%")
    small = weighted_proportion(np.r_[np.ones(8), np.zeros(2)].astype(bool))
    assert "not significantly different" in perception_statement("x", small, previous=b)


def test_interval_coverage_and_type_one_error_with_unequal_weights():
    rng = np.random.default_rng(21)
    # population: women 60% agree, men 40%; 50/50 in the population, sample 75% women
    truth = 0.5
    cover, rej = [], []
    for _ in range(400):
        sex = rng.random(300) < 0.75
        y = rng.random(300) < np.where(sex, 0.6, 0.4)
        s = pd.DataFrame({"sex": np.where(sex, "F", "M")})
        w = rake(s, {"sex": {"F": 500.0, "M": 500.0}})
        e = weighted_proportion(y, w)
        cover.append(e.ci_low <= truth <= e.ci_high)
        sex2 = rng.random(300) < 0.75
        y2 = rng.random(300) < np.where(sex2, 0.6, 0.4)
        w2 = rake(pd.DataFrame({"sex": np.where(sex2, "F", "M")}),
                  {"sex": {"F": 500.0, "M": 500.0}})
        rej.append(compare_proportions(e, weighted_proportion(y2, w2)).p_value < 0.05)
    assert 0.92 < np.mean(cover) < 0.975
    assert np.mean(rej) < 0.08
    lo, hi = wilson_interval(0.0, 50)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0 < hi < 0.1


MAPPING = textwrap.dedent("""
    [survey]
    respondent = "id"
    district = "District"
    wave = "Year"
    sex = "Gender"
    age = "Age"
    age_bands = ["16-34", "35-64", "65+"]
    missing = ["Don't know", ""]

    [survey.sex_values]
    F = ["Female", "F"]
    M = ["Male", "M"]

    [questions.good_job]
    column = "Q1"
    text = "think the police do a good job"
    positive = ["Excellent", "Good"]
    negative = ["Fair", "Poor"]
""")


def _survey_files(tmp_path, rng, n=300):
    rows = ["id,District,Year,Gender,Age,Q1"]
    i = 0
    for year, pgood in (("2025", 0.70), ("2026", 0.82)):
        for _ in range(n):
            i += 1
            g = "Female" if rng.random() < 0.6 else "Male"
            age = int(rng.integers(16, 90))
            ans = "Good" if rng.random() < pgood else "Poor"
            if rng.random() < 0.05:
                ans = "Don't know"
            rows.append(f"{i},Colchester,{year},{g},{age},{ans}")
    rows += ["9001,Colchester,2026,Other,40,Good", "9002,Colchester,2026,Female,abc,Good",
             "9003,Colchester,2026,Female,12,Good", "9004,Colchester,2026,Female,40,Maybe",
             f"{i},Colchester,2026,Female,40,Good", ",Colchester,2026,Female,40,Good"]
    f = tmp_path / "survey.csv"
    f.write_text("\n".join(rows) + "\n")
    m = tmp_path / "survey.toml"
    m.write_text(MAPPING)
    pop = ["district,sex,age_band,population"]
    for s, a, v in (("F", "16-34", 9000), ("F", "35-64", 14000), ("F", "65+", 7000),
                    ("M", "16-34", 9500), ("M", "35-64", 13500), ("M", "65+", 6000)):
        pop.append(f"Colchester,{s},{a},{v}")
    pop.append("Colchester,F,16-34,-5")
    pop.append("Colchester,X,16-34,10")
    mg = tmp_path / "margins.csv"
    mg.write_text("\n".join(pop) + "\n")
    return f, m, mg


def test_loader_validates_quarantines_and_is_idempotent(tmp_path):
    f, m, mg = _survey_files(tmp_path, np.random.default_rng(1))
    mapping = SurveyMapping.from_toml(m)
    a = read_survey(f, mapping)
    b = read_survey(f, mapping)
    pd.testing.assert_frame_equal(a.responses, b.responses)
    reasons = [q.reason for q in a.quarantined]
    assert len(a.responses) == 600 and len(reasons) == 6
    assert any("sex 'Other'" in r for r in reasons)
    assert any("not a number" in r for r in reasons)
    assert any("no age band" in r for r in reasons)
    assert any("'Maybe'" in r for r in reasons)
    assert any("repeated" in r for r in reasons)
    assert any("empty" in r for r in reasons)
    assert a.responses["good_job"].isna().sum() > 0  # "Don't know" is not answered
    pop, q = read_margins(mg, age_bands=mapping.age_bands, sexes=tuple(mapping.sex_values))
    assert len(pop) == 6 and len(q) == 2
    with pytest.raises(InputError, match="not in the header"):
        read_survey(f, SurveyMapping.build({**__import__("tomllib").loads(MAPPING),
                                            "survey": {**__import__("tomllib").loads(
                                                MAPPING)["survey"], "district": "Nope"}}))


def test_survey_results_end_to_end(tmp_path):
    f, m, mg = _survey_files(tmp_path, np.random.default_rng(2), n=400)
    mapping = SurveyMapping.from_toml(m)
    load = read_survey(f, mapping)
    pop, _ = read_margins(mg, age_bands=mapping.age_bands, sexes=tuple(mapping.sex_values))
    res = survey_results(load.responses, load.questions, pop, wave="2026", previous_wave="2025",
                         comparison_values={"good_job": 0.75},
                         comparison_label="the national figure of")
    (r,) = res
    assert r.estimate.design_effect > 1.0
    assert r.estimate.ci_low < r.estimate.proportion < r.estimate.ci_high
    assert r.change.significant and r.change.direction == "higher"
    assert "significantly higher than 2025's" in r.statement
    assert "national figure of 75%" in r.statement
    # weighted margins of the wave equal the population
    part = load.responses[load.responses.wave == "2026"]
    from guardian.analysis.surveys.report import weights_for

    w = weights_for(part, pop, method="rake")
    assert w.sum() == pytest.approx(pop.population.sum())
    ps = survey_results(load.responses, load.questions, pop, wave="2026", method="poststratify")
    assert ps[0].estimate.proportion == pytest.approx(r.estimate.proportion, abs=0.03)
