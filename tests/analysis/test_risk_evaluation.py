"""Hit rate and PAI against hand-computed cases, including ties (fractional inclusion)."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from guardian.analysis.risk import captured, evaluate_surface, hit_rate, pai
from guardian.errors import InputError


def test_no_ties_hand_case():
    scores = np.array([[0.9, 0.1], [0.5, 0.3]])
    counts = np.array([[2, 1], [0, 1]])
    # 4 cells; 25% = the 0.9 cell (2 of 4 events); 50% = 0.9 and 0.5 cells (2 of 4)
    assert hit_rate(scores, counts, 0.25) == pytest.approx(0.5)
    assert pai(scores, counts, 0.25) == pytest.approx(2.0)
    assert hit_rate(scores, counts, 0.5) == pytest.approx(0.5)
    assert hit_rate(scores, counts, 0.75) == pytest.approx(0.75)
    assert pai(scores, counts, 1.0) == pytest.approx(1.0)


def test_tied_block_fractional_inclusion_hand_case():
    scores = np.array([3.0, 2.0, 2.0, 1.0])
    counts = np.array([1, 2, 0, 1])
    # 50% = 2 cells: the 3.0 cell (1 event) + half of the tied {2.0, 2.0} block (2 events) = 2
    assert captured(scores, counts, [0.5])[0] == pytest.approx(2.0)
    assert hit_rate(scores, counts, 0.5) == pytest.approx(0.5)
    assert pai(scores, counts, 0.5) == pytest.approx(1.0)
    # 25% = exactly the top cell: no tie involved
    assert captured(scores, counts, [0.25])[0] == pytest.approx(1.0)
    # 75% = the whole tied block
    assert captured(scores, counts, [0.75])[0] == pytest.approx(3.0)
    # 12.5% = half a cell (k = 0.5): half of the top cell's events
    assert captured(scores, counts, [0.125])[0] == pytest.approx(0.5)


def test_all_tied_gives_area_share():
    # a naive surface of all zeros finds events in proportion to area: PAI = 1 at every coverage
    counts = np.array([5, 0, 0, 1, 0, 4, 0, 0, 0, 0])
    for c in (0.1, 0.2, 0.5):
        assert hit_rate(np.zeros(10), counts, c) == pytest.approx(c)
        assert pai(np.zeros(10), counts, c) == pytest.approx(1.0)


def test_fractional_rule_equals_average_over_random_tie_breaks():
    # the expected hit count over every tie-break order, enumerated exactly
    scores = np.array([5, 4, 4, 4, 2, 2, 1], float)
    counts = np.array([0, 3, 1, 0, 2, 5, 1], float)
    orders = list(permutations(range(7)))
    for k in range(1, 8):
        exact = np.mean(
            [
                counts[sorted(range(7), key=lambda i, p=p: (-scores[i], p[i]))[:k]].sum()
                for p in orders
            ]
        )
        assert captured(scores, counts, [k / 7])[0] == pytest.approx(exact), k


def test_mask_and_outside_events_are_misses():
    scores = np.array([[9.0, 1.0], [2.0, 3.0]])
    counts = np.array([[4, 1], [1, 2]])
    mask = np.array([[False, True], [True, True]])
    # study area = 3 cells; 1/3 coverage = the 3.0 cell (2 events); 8 events + 2 outside the grid
    acc = evaluate_surface(scores, counts, coverages=[1 / 3], mask=mask, n_outside=2)
    assert acc.n_events == 10
    assert acc.hits[0] == pytest.approx(2.0)
    assert acc.hit_rate[0] == pytest.approx(0.2)
    assert acc.pai[0] == pytest.approx(0.6)
    # oracle ranks by the actual counts inside the mask: the 2-event cell again
    assert acc.oracle_hit_rate[0] == pytest.approx(0.2)
    assert acc.n_cells == 3


def test_oracle_bounds_every_surface():
    rng = np.random.default_rng(0)
    counts = rng.poisson(0.3, size=(20, 20))
    for _ in range(5):
        acc = evaluate_surface(rng.random((20, 20)), counts)
        assert all(h <= o + 1e-12 for h, o in zip(acc.hit_rate, acc.oracle_hit_rate, strict=True))
    perfect = evaluate_surface(counts.astype(float), counts)
    assert perfect.hit_rate == perfect.oracle_hit_rate


def test_brute_force_ranking_without_ties():
    rng = np.random.default_rng(1)
    scores = rng.random(500)
    counts = rng.poisson(0.5, 500)
    for c in (0.01, 0.02, 0.05, 0.1):
        k = int(round(c * 500))
        top = np.argsort(-scores)[:k]
        assert hit_rate(scores, counts, c) == pytest.approx(counts[top].sum() / counts.sum())


def test_validation():
    with pytest.raises(InputError, match="coverages"):
        captured(np.ones(3), np.ones(3), [0.0])
    with pytest.raises(InputError, match="coverages"):
        captured(np.ones(3), np.ones(3), [1.5])
    with pytest.raises(InputError, match="NaN"):
        captured(np.array([1.0, np.nan]), np.ones(2), [0.5])
    with pytest.raises(InputError, match="shape"):
        captured(np.ones(3), np.ones(4), [0.5])
    with pytest.raises(InputError, match="mask"):
        captured(np.ones(3), np.ones(3), [0.5], mask=np.ones(2, bool))
    assert np.isnan(hit_rate(np.ones(3), np.zeros(3), 0.5))
