"""DiD on counts, synthetic comparison, the hot-spot trial, cocooning and power: textbook
closed forms, brute-force references, planted effects and simulations with fixed seeds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from guardian.analysis.evaluation import (
    cocoon_effect,
    did_counts,
    hotspot_trial,
    minimum_detectable_effect,
    near_repeat_counts,
    power_analysis,
    power_formula,
    simulate_power,
    synthetic_comparison,
    weeks_needed,
)
from guardian.errors import InputError

Z975 = 1.959963984540054


def _panel(rng, n_areas=6, n_periods=8, effect=1.0, size=None, base=(20, 60), trend=0.03):
    rows = []
    levels = rng.uniform(*base, n_areas)
    for a in range(n_areas):
        for p in range(n_periods):
            mu = levels[a] * (1 + trend * p) * (effect if a == 0 and p >= n_periods // 2 else 1)
            y = rng.poisson(mu) if size is None else rng.negative_binomial(size, size / (size + mu))
            rows.append((f"A{a}", f"P{p:02d}", y))
    return pd.DataFrame(rows, columns=["area", "period", "count"])


def _post(n_periods=8):
    return [f"P{p:02d}" for p in range(n_periods // 2, n_periods)]


# ------------------------------------------------------------------------------------------
# difference in differences


def test_did_two_by_two_poisson_is_the_ratio_of_ratios():
    # Textbook closed form (log-linear model of a 2x2 table, e.g. Agresti, Categorical Data
    # Analysis, ch. 4; Rothman's ratio of rate ratios): IRR = (T1/T0)/(C1/C0) and
    # se(log IRR) = sqrt(1/T0 + 1/T1 + 1/C0 + 1/C1).
    t0, t1, c0, c1 = 120, 84, 200, 190
    df = pd.DataFrame({"area": ["T", "T", "C", "C"], "period": ["0", "1", "0", "1"],
                       "count": [t0, t1, c0, c1]})
    r = did_counts(df, treated_areas=["T"], post_periods=["1"], family="poisson")
    irr = (t1 / t0) / (c1 / c0)
    se = math.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
    assert r.estimate == pytest.approx(irr, rel=1e-8)
    assert r.details["se"] == pytest.approx(se, rel=1e-6)
    assert r.ci_low == pytest.approx(irr * math.exp(-Z975 * se), rel=1e-6)
    assert r.p_value == pytest.approx(math.erfc(abs(math.log(irr) / se) / math.sqrt(2)),
                                      rel=1e-5)
    assert r.smms_level == 3


def test_did_negbin_recovers_a_planted_effect_and_is_invariant_to_row_order():
    rng = np.random.default_rng(2)
    df = _panel(rng, n_areas=10, n_periods=12, effect=0.7, size=20)
    r = did_counts(df, treated_areas=["A0"], post_periods=_post(12))
    assert r.ci_low < 0.7 < r.ci_high and r.estimate < 1
    assert r.details["alpha"] > 0 and r.smms_level == 3  # one treated area
    two = did_counts(df, treated_areas=["A0", "A1"], post_periods=_post(12))
    assert two.smms_level == 4  # several treated and control units over time
    shuffled = df.sample(frac=1.0, random_state=1)
    r2 = did_counts(shuffled, treated_areas=["A0"], post_periods=_post(12))
    assert r2.estimate == pytest.approx(r.estimate, rel=1e-5)
    # a constant exposure offset does not change the IRR
    r3 = did_counts(df.assign(days=30.0), treated_areas=["A0"], post_periods=_post(12),
                    exposure="days")
    assert r3.estimate == pytest.approx(r.estimate, rel=1e-4)


def test_did_type_one_error_and_coverage_negbin():
    rng = np.random.default_rng(7)
    rej, cover = [], []
    for _ in range(80):
        df = _panel(rng, n_areas=6, n_periods=8, effect=1.0, size=15)
        r = did_counts(df, treated_areas=["A0"], post_periods=_post())
        rej.append(r.p_value < 0.05)
        cover.append(r.ci_low <= 1.0 <= r.ci_high)
    # 80 runs: binomial sd of a 5% rate is 2.4 points
    assert np.mean(rej) < 0.125
    assert np.mean(cover) > 0.875


def test_did_poisson_type_one_error_on_simulated_poisson():
    rng = np.random.default_rng(9)
    ps = [did_counts(_panel(rng), treated_areas=["A0"], post_periods=_post(),
                     family="poisson").p_value for _ in range(200)]
    assert 0.025 < np.mean(np.array(ps) < 0.05) < 0.08


def test_did_refuses_bad_panels():
    df = pd.DataFrame({"area": ["T", "T"], "period": ["0", "1"], "count": [3, 4]})
    with pytest.raises(InputError, match="no comparison"):
        did_counts(df, treated_areas=["T"], post_periods=["1"])
    df = pd.DataFrame({"area": ["T", "C"], "period": ["1", "1"], "count": [3, 4]})
    with pytest.raises(InputError, match="pre-intervention"):
        did_counts(df, treated_areas=["T"], post_periods=["1"])
    df = pd.DataFrame({"area": ["T", "C", "T", "C"], "period": ["0", "0", "1", "1"],
                       "count": [3, 4, -1, 2]})
    with pytest.raises(InputError, match="non-negative"):
        did_counts(df, treated_areas=["T"], post_periods=["1"])


def test_synthetic_comparison_recovers_exact_mixture_and_planted_effect():
    rng = np.random.default_rng(4)
    periods = [f"P{p:02d}" for p in range(12)]
    donors = {f"D{j}": rng.uniform(20, 80) + 5 * np.sin(np.arange(12) / (j + 1)) for j in range(8)}
    true_w = {"D1": 0.6, "D4": 0.4}
    treated = sum(w * donors[d] for d, w in true_w.items())
    post = np.arange(12) >= 8
    effect = -0.2 * treated * post
    rows = [(d, periods[i], v[i]) for d, v in donors.items() for i in range(12)]
    rows += [("T", periods[i], treated[i] + effect[i]) for i in range(12)]
    df = pd.DataFrame(rows, columns=["area", "period", "count"])
    r = synthetic_comparison(df, treated_area="T", post_periods=periods[8:])
    assert r.details["weights"] == pytest.approx(true_w, abs=1e-3)
    assert r.estimate == pytest.approx(effect.sum(), rel=1e-3)
    assert r.details["percent_change"] == pytest.approx(-20, abs=0.1)
    assert r.p_value == pytest.approx(1 / 9)  # the largest post/pre RMSPE ratio of 9 areas


# ------------------------------------------------------------------------------------------
# hot-spot trial


def _trial(rng, n_spots=20, days=28, k=14, effect=1.0, harm_scale=10.0):
    rows = []
    for s in range(n_spots):
        lam = rng.gamma(2.0, 0.5)
        patrol = rng.permutation(days) < k
        for d in range(days):
            c = rng.poisson(lam * (effect if patrol[d] else 1.0))
            rows.append((f"S{s}", d, "patrol" if patrol[d] else "control", c,
                         float(rng.exponential(harm_scale, c).sum())))
    return pd.DataFrame(rows, columns=["spot", "day", "arm", "crimes", "harm"])


def test_trial_rate_ratio_is_pooled_ratio_when_balanced_and_harm_by_hand():
    rng = np.random.default_rng(1)
    df = _trial(rng, effect=0.7)
    r = hotspot_trial(df, n_permutations=500)
    pt = df[df.arm == "patrol"]
    ct = df[df.arm == "control"]
    # Balanced within spot: the spot-effects Poisson MLE equals the pooled rate ratio.
    assert r.crime.estimate == pytest.approx((pt.crimes.sum() / len(pt)) /
                                             (ct.crimes.sum() / len(ct)), rel=1e-6)
    assert r.crime.ci_low < 0.7 < r.crime.ci_high and r.crime.p_value < 0.01
    per = df.groupby(["spot", "arm"]).harm.mean().unstack()
    d = per["patrol"] - per["control"]
    assert r.harm.estimate == pytest.approx(d.mean())
    se = d.std(ddof=1) / math.sqrt(len(d))
    from scipy import stats

    assert r.harm.ci_high == pytest.approx(d.mean() + stats.t.ppf(0.975, len(d) - 1) * se)
    assert r.crime.smms_level == 5 and r.harm.smms_level == 5
    assert r.to_dict()["summary"]["spots"] == 20


def test_trial_permutation_p_matches_full_enumeration():
    # 3 spots x 4 days, 2 patrol days each: 6**3 = 216 equally likely assignments.
    crimes = {"S0": [3, 0, 1, 4], "S1": [2, 2, 0, 5], "S2": [1, 0, 0, 3]}
    arms = {"S0": [1, 0, 0, 1], "S1": [0, 0, 1, 1], "S2": [1, 0, 0, 1]}
    rows = [(s, d, "patrol" if arms[s][d] else "control", crimes[s][d], 0.0)
            for s in crimes for d in range(4)]
    df = pd.DataFrame(rows, columns=["spot", "day", "arm", "crimes", "harm"])

    def stat(assign):
        v = []
        for s, a in zip(crimes, assign, strict=True):
            c = np.array(crimes[s], float)
            m = np.zeros(4, bool)
            m[list(a)] = True
            v.append(c[m].mean() - c[~m].mean())
        return np.mean(v)

    obs = stat([np.flatnonzero(arms[s]) for s in crimes])
    allp = [stat(a) for a in itertools.product(itertools.combinations(range(4), 2), repeat=3)]
    exact = np.mean(np.abs(allp) >= abs(obs) - 1e-12)
    r = hotspot_trial(df, n_permutations=20000, random_state=3)
    assert r.crime.p_value == pytest.approx(exact, abs=0.012)


def test_trial_type_one_error_under_no_effect():
    rng = np.random.default_rng(12)
    ps = [hotspot_trial(_trial(rng, n_spots=10, days=14, k=7), n_permutations=199,
                        random_state=i).crime.p_value for i in range(100)]
    assert np.mean(np.array(ps) < 0.05) < 0.11


def test_trial_refuses_bad_arms():
    df = pd.DataFrame({"spot": [1, 1], "day": [0, 1], "arm": ["patrol", "x"], "crimes": [1, 2]})
    with pytest.raises(InputError, match="arm"):
        hotspot_trial(df, harm=None)


# ------------------------------------------------------------------------------------------
# cocooning


def test_near_repeat_counts_match_brute_force():
    rng = np.random.default_rng(0)
    x, y, t = rng.uniform(0, 2000, 300), rng.uniform(0, 2000, 300), rng.uniform(0, 100, 300)
    got = near_repeat_counts(x, y, t, distance_m=250, days=10)
    want = [sum(1 for j in range(300) if 0 < t[j] - t[i] <= 10
                and math.hypot(x[j] - x[i], y[j] - y[i]) <= 250) for i in range(300)]
    assert got.tolist() == want


def test_cocoon_effect_recovers_planted_reduction():
    # Index burglaries 5 km apart (no shared windows); each draws Poisson near repeats within
    # 100 m and 10 days, at rate 2 if uncocooned and 1 if cocooned (true ratio 0.5).
    rng = np.random.default_rng(6)
    rows = []
    for i in range(400):
        cx, cy, t0 = (i % 20) * 5000.0, (i // 20) * 5000.0, rng.uniform(0, 300)
        coc = i % 3 == 0
        rows.append((cx, cy, t0, coc, f"Q{i % 4}"))
        for _ in range(rng.poisson(1.0 if coc else 2.0)):
            rows.append((cx + rng.uniform(-60, 60), cy + rng.uniform(-60, 60),
                         t0 + rng.uniform(0.01, 10), None, f"Q{i % 4}"))
    df = pd.DataFrame(rows, columns=["x", "y", "t_days", "cocooned", "stratum"])
    df["index"] = df["cocooned"].notna()  # the follow-ups count as repeats, not as indices
    df["cocooned"] = df["cocooned"].fillna(False).astype(bool)
    r = cocoon_effect(df, distance_m=100, days=10, stratum="stratum", index="index")
    assert r.smms_level == 2 and "observational" in r.assumptions[0]
    assert r.ci_low < 0.5 < r.ci_high and r.p_value < 0.001
    assert r.details["cocooned_indices"] + r.details["uncocooned_indices"] <= 400
    # without a planted effect the ratio is near 1
    df2 = df.assign(cocooned=df["index"] & (np.arange(len(df)) % 2 == 0))
    r2 = cocoon_effect(df2, distance_m=100, days=10, index="index")
    assert r2.ci_low < 1.6 and r2.ci_high > 0.6


# ------------------------------------------------------------------------------------------
# power


def test_power_formula_inverts_and_matches_simulation():
    w = weeks_needed(0.5, 20, 0.2)  # 20 cells, 0.5 crimes per cell-week, 20% drop
    assert power_formula(0.5, 20, w, 0.2) == pytest.approx(0.8, abs=1e-9)
    # by hand: m = (1.96 + 0.8416)^2 (1/0.5 + 1/0.4) / log(0.8)^2 cell-weeks per arm
    m = (Z975 + 0.8416212335729143) ** 2 * (2 + 2.5) / math.log(0.8) ** 2
    assert w == pytest.approx(m / 20)
    sim, lo, hi = simulate_power(0.5, 20, math.ceil(w), 0.2, n_simulations=3000)
    assert lo - 0.02 < power_formula(0.5, 20, math.ceil(w), 0.2) < hi + 0.02
    # overdispersed trial design
    wt = weeks_needed(0.5, 20, 0.2, dispersion=0.5, design="trial")
    sim_t, lo_t, hi_t = simulate_power(0.5, 20, math.ceil(wt), 0.2, dispersion=0.5,
                                       design="trial", n_simulations=2000)
    assert lo_t - 0.03 < 0.8 < hi_t + 0.03


def test_power_type_one_error_and_mde():
    p, lo, hi = simulate_power(1.0, 20, 10, 0.0, n_simulations=4000, random_state=2)
    assert 0.035 < p < 0.065
    mde = minimum_detectable_effect(0.5, 20, 36)
    assert power_formula(0.5, 20, 36, mde) == pytest.approx(0.8, abs=1e-6)
    assert 0.15 < mde < 0.25
    r = power_analysis(0.5, 20, 0.2, n_simulations=500)
    assert r.weeks == math.ceil(weeks_needed(0.5, 20, 0.2)) and r.smms_level == 2
    assert r.to_dict()["power_formula"] >= 0.8
    with pytest.raises(InputError):
        weeks_needed(0.5, 20, 1.5)
