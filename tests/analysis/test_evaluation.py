"""WDD, WDQ, the E-test and the exact conditional test: hand-computed cases, brute-force
references, simulations (type I error, coverage) and invariances.

Published worked examples: we could not recall the numbers of Wheeler & Ratcliffe's (2018)
table or of Krishnamoorthy & Thomson's (2004) examples with certainty, so instead of quoting
them the tests compute independent references: the WDD by hand from the paper's formulas, the
E-test p-value by a plain double loop over the Poisson sample space (the definition in K&T 2004,
section 2) and by a Monte Carlo parametric bootstrap, and the exact conditional test from
binomial probabilities written out with ``math.comb``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from guardian.analysis.evaluation import (
    EvaluationResult,
    etest,
    etest_pvalue,
    exact_conditional,
    wdd,
    wdq,
    wdq_measures,
)
from guardian.analysis.evaluation.wdq import interpret_wdq
from guardian.errors import InputError

Z975 = 1.959963984540054


# ------------------------------------------------------------------------------------------
# WDD


def test_wdd_hand_computed_with_buffer():
    # Wheeler & Ratcliffe (2018) eq. 1-3: WDD = dT - dC + dD - dDc; var = sum of the counts.
    r = wdd(60, 40, 55, 50, 30, 35, control_displaced_before=20, control_displaced_after=22)
    est = (40 - 60) - (50 - 55) + (35 - 30) - (22 - 20)  # = -12
    var = 60 + 40 + 55 + 50 + 30 + 35 + 20 + 22  # = 312
    assert r.estimate == pytest.approx(est) == -12
    assert r.details["variance"] == pytest.approx(var)
    z = est / math.sqrt(var)
    assert r.details["z"] == pytest.approx(z)
    assert r.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert r.ci_low == pytest.approx(est - Z975 * math.sqrt(var))
    assert r.ci_high == pytest.approx(est + Z975 * math.sqrt(var))
    assert r.smms_level == 3 and r.assumptions and "buffer" in r.design
    d = r.to_dict()
    assert set(d) >= {"method", "estimate", "ci_low", "ci_high", "p_value", "assumptions",
                      "smms_level", "design", "details"}


def test_wdd_published_example_wheeler_ratcliffe_2018():
    # Wheeler, A.P. & Ratcliffe, J.H. (2018) "A simple weighted displacement difference test to
    # evaluate place based crime interventions", Crime Science 7:11, the paper's worked example
    # (as also checked in the authors' ptools package): treated 207 -> 110, control 308 -> 318,
    # treated displacement buffer 178 -> 157, control buffer 150 -> 140. Published: WDD -118,
    # variance 1568 (SE 39.6), Z -2.98, 95% interval -196 to -40.
    r = wdd(207, 110, 308, 318, 178, 157, control_displaced_before=150,
            control_displaced_after=140)
    assert r.estimate == -118
    assert r.details["z"] == pytest.approx(-2.98, abs=0.005)
    assert (r.estimate - r.ci_low) == pytest.approx(Z975 * math.sqrt(1568))
    assert (round(r.ci_low), round(r.ci_high)) == (-196, -40)
    assert r.p_value < 0.01


def test_etest_published_values_krishnamoorthy_thomson_2004():
    # Krishnamoorthy, K. & Thomson, J. (2004) "A more powerful test for comparing two Poisson
    # means", J. Statistical Planning and Inference 119:249-267; the paper's two-sided E-test
    # p-values for counts (0, 3) and (6, 2) over equal exposure, as reproduced by the ptools
    # package's tests: 0.0884 and 0.1749.
    assert etest(0, 1, 3, 1).p_value == pytest.approx(0.0884, abs=0.0005)
    assert round(etest(6, 1, 2, 1).p_value, 4) == 0.1749
    assert etest(6, 1, 2, 1).p_value == pytest.approx(etest(2, 1, 6, 1).p_value)


def test_wdd_harm_weighted_is_weighted_sum_with_weighted_variance():
    w = [365.0, 10.0, 1.0]
    tb, ta, cb, ca = [5, 20, 40], [2, 18, 44], [6, 21, 39], [6, 22, 41]
    r = wdd(tb, ta, cb, ca, weights=w)
    est = sum(wi * ((a - b) - (d - c)) for wi, b, a, c, d in zip(w, tb, ta, cb, ca, strict=True))
    var = sum(wi**2 * (b + a + c + d) for wi, b, a, c, d in zip(w, tb, ta, cb, ca, strict=True))
    assert r.estimate == pytest.approx(est)
    assert r.details["variance"] == pytest.approx(var)
    assert r.method == "wdd-weighted"
    # unit weights = the unweighted test on the totals
    r1 = wdd(tb, ta, cb, ca, weights=[1, 1, 1])
    r0 = wdd(sum(tb), sum(ta), sum(cb), sum(ca))
    assert r1.estimate == r0.estimate and r1.p_value == pytest.approx(r0.p_value)


def test_wdd_invariances():
    base = wdd(100, 80, 90, 95)
    # swapping treated and control negates the estimate, keeps the p-value
    sw = wdd(90, 95, 100, 80)
    assert sw.estimate == -base.estimate and sw.p_value == pytest.approx(base.p_value)
    # scaling the weights scales estimate and interval, not the p-value
    s = wdd([100], [80], [90], [95], weights=[7.0])
    assert s.estimate == pytest.approx(7 * base.estimate)
    assert s.ci_low == pytest.approx(7 * base.ci_low)
    assert s.p_value == pytest.approx(base.p_value)
    # adding the same change to treated and control leaves the estimate unchanged
    sh = wdd(110, 90, 100, 105)
    assert sh.estimate == base.estimate


def test_wdd_type_one_error_and_coverage_on_simulated_poisson():
    rng = np.random.default_rng(11)
    n = 1500
    mu = np.array([50.0, 50.0, 80.0, 80.0])  # no effect: both areas unchanged
    x = rng.poisson(mu, size=(n, 4))
    rej = np.mean([wdd(*row).p_value < 0.05 for row in x])
    assert 0.035 < rej < 0.065
    mu = np.array([60.0, 42.0, 70.0, 66.0])  # true WDD = (42-60)-(66-70) = -14
    x = rng.poisson(mu, size=(n, 4))
    cover = np.mean([(r := wdd(*row)).ci_low <= -14 <= r.ci_high for row in x])
    assert 0.93 < cover < 0.97


def test_wdd_refuses_bad_input():
    with pytest.raises(InputError):
        wdd(-1, 2, 3, 4)
    with pytest.raises(InputError):
        wdd(1, 2, 3, 4, displaced_before=3)
    with pytest.raises(InputError):
        wdd([1, 2], [1, 2], [1, 2], [1])


# ------------------------------------------------------------------------------------------
# WDQ


def test_wdq_measures_hand_computed():
    # Bowers & Johnson (2003): SM = R1/C1 - R0/C0, BDM = B1/C1 - B0/C0, WDQ = BDM/SM.
    m = wdq_measures(100, 70, 80, 75, 200, 200)
    assert m["success_measure"] == pytest.approx(70 / 200 - 100 / 200)  # -0.15
    assert m["buffer_measure"] == pytest.approx(75 / 200 - 80 / 200)  # -0.025
    assert m["wdq"] == pytest.approx(0.025 / 0.15)
    assert m["total_net_effect"] == pytest.approx((100 - 70) + (80 - 75))
    r = wdq(100, 70, 80, 75, 200, 200)
    assert r.estimate == pytest.approx(1 / 6)
    assert r.details["reading"] == "diffusion of benefits into the buffer"
    assert r.ci_low < r.estimate < r.ci_high
    # p-value: log((B1/B0)/(C1/C0)) / sqrt(1/B0+1/B1+1/C0+1/C1)
    z = math.log(75 / 80) / math.sqrt(1 / 80 + 1 / 75 + 2 / 200)
    assert r.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    # reproducible with the seed
    assert wdq(100, 70, 80, 75, 200, 200).ci_low == r.ci_low


def test_wdq_readings_and_displacement_sign():
    assert interpret_wdq(-0.2, 1.5).startswith("diffusion of benefits larger")
    assert interpret_wdq(-0.2, -0.5).startswith("some displacement")
    assert interpret_wdq(-0.2, -2.0).startswith("displacement larger")
    assert "not interpreted" in interpret_wdq(0.1, 0.5)
    # buffer rose while the treated area fell: displacement (WDQ < 0)
    assert wdq(100, 70, 80, 95, 200, 200).estimate < 0


# ------------------------------------------------------------------------------------------
# E-test


def _etest_bruteforce(k1, n1, k2, n2, d=0.0, side="greater"):
    """K&T (2004) p-value by a plain double loop (independent of the vectorised code)."""
    def t(x1, x2):
        v = x1 / n1**2 + x2 / n2**2
        return 0.0 if v == 0 else (x1 / n1 - x2 / n2 - d) / math.sqrt(v)

    lam2 = (k1 + k2) / (n1 + n2) - d * n1 / (n1 + n2)
    lam1 = lam2 + d
    def pois(x, mu):
        if mu == 0:
            return 1.0 if x == 0 else 0.0
        return math.exp(x * math.log(mu) - mu - math.lgamma(x + 1))

    t0 = t(k1, k2)
    p = 0.0
    for x1 in range(0, 150):
        p1 = pois(x1, n1 * lam1)
        for x2 in range(0, 150):
            p2 = pois(x2, n2 * lam2)
            tx = t(x1, x2)
            hit = tx >= t0 - 1e-12 if side == "greater" else abs(tx) >= abs(t0) - 1e-12
            if hit:
                p += p1 * p2
    return p


@pytest.mark.parametrize("k1,n1,k2,n2,d", [(14, 1.0, 6, 1.0, 0.0), (30, 12.0, 12, 10.0, 0.0),
                                            (25, 2.0, 9, 3.0, 2.0), (3, 1.0, 0, 1.0, 0.0)])
def test_etest_matches_bruteforce_double_sum(k1, n1, k2, n2, d):
    for side in ("greater", "two-sided"):
        got = etest_pvalue(k1, n1, k2, n2, d=d, alternative=side)
        assert got == pytest.approx(_etest_bruteforce(k1, n1, k2, n2, d, side), abs=1e-9)


def test_etest_matches_monte_carlo_parametric_bootstrap():
    # The E-test is the parametric bootstrap p-value evaluated exactly (K&T 2004, sec. 2).
    k1, n1, k2, n2 = 18, 4.0, 8, 4.0
    lam = (k1 + k2) / (n1 + n2)
    rng = np.random.default_rng(5)
    x1 = rng.poisson(n1 * lam, 200_000)
    x2 = rng.poisson(n2 * lam, 200_000)
    v = x1 / n1**2 + x2 / n2**2
    t = np.where(v > 0, (x1 / n1 - x2 / n2) / np.sqrt(np.where(v > 0, v, 1)), 0)
    t0 = (k1 / n1 - k2 / n2) / math.sqrt(k1 / n1**2 + k2 / n2**2)
    mc = np.mean(t >= t0 - 1e-12)
    assert etest_pvalue(k1, n1, k2, n2, alternative="greater") == pytest.approx(mc, abs=0.003)


def test_etest_type_one_error_is_at_most_nominal():
    rng = np.random.default_rng(3)
    lam, n1, n2 = 4.0, 3.0, 5.0
    k1 = rng.poisson(lam * n1, 1500)
    k2 = rng.poisson(lam * n2, 1500)
    ps = np.array([etest_pvalue(a, n1, b, n2) for a, b in zip(k1, k2, strict=True)])
    rate = np.mean(ps < 0.05)
    assert 0.03 < rate < 0.065  # K&T: size close to nominal


def test_etest_result_and_symmetry():
    r = etest(40, 10, 22, 10)
    assert isinstance(r, EvaluationResult)
    assert r.estimate == pytest.approx(1.8)
    se = math.sqrt(40 / 100 + 22 / 100)
    assert r.ci_low == pytest.approx(1.8 - Z975 * se)
    assert r.smms_level == 2
    s = etest(22, 10, 40, 10)
    assert s.p_value == pytest.approx(r.p_value)
    assert s.estimate == pytest.approx(-r.estimate)
    # one-sided "greater" is half the two-sided p here (symmetric sample space, equal n)
    g = etest(40, 10, 22, 10, alternative="greater")
    assert g.p_value < r.p_value
    with pytest.raises(InputError):
        etest(-1, 1, 2, 1)
    with pytest.raises(InputError):
        etest(1, 0, 2, 1)


# ------------------------------------------------------------------------------------------
# exact conditional


def _binom_two_sided(k, n, p):
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(x for x in pmf if x <= pmf[k] * (1 + 1e-7)))


def test_exact_conditional_matches_binomial_written_out():
    r = exact_conditional(40, 10, 22, 12)
    p0 = 12 / (10 + 12)
    assert r.p_value == pytest.approx(_binom_two_sided(22, 62, p0), rel=1e-9)
    assert r.estimate == pytest.approx((22 / 12) / (40 / 10))
    # the interval maps Clopper-Pearson limits q to q/(1-q) * n1/n2 (scipy's own interval)
    from scipy import stats

    ci = stats.binomtest(22, 62, p0).proportion_ci(method="exact")
    assert r.ci_low == pytest.approx(ci.low / (1 - ci.low) * 10 / 12)
    assert r.ci_high == pytest.approx(ci.high / (1 - ci.high) * 10 / 12)


def test_exact_conditional_interval_coverage():
    rng = np.random.default_rng(8)
    n1, n2, l1, l2 = 6.0, 6.0, 5.0, 3.5
    ratio = l2 / l1
    hits = []
    for _ in range(800):
        a, b = rng.poisson(l1 * n1), rng.poisson(l2 * n2)
        r = exact_conditional(a, n1, b, n2)
        hits.append(r.ci_low <= ratio <= r.ci_high)
    cover = np.mean(hits)
    assert 0.94 < cover <= 1.0  # Clopper-Pearson is conservative
