"""Each query rule against examples worked by hand from its paper's rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from river import active

from streamal.decider import Decider
from streamal.decider import layout as L
from streamal.decider.measures import ENTROPY, LEAST_CONFIDENCE, MARGIN, uncertainty
from streamal.decider.rng import next_normal, next_uniform, seed_state
from streamal.decider.strategies.selective_sampling import query_probability

NO_BUDGET_LIMIT = {"window": 10**9}  # u/w stays ~0: the estimated budget always allows


def rows(*confidences: float) -> np.ndarray:
    return np.array([[c, 1.0 - c] for c in confidences])


def test_measures_by_hand():
    row = np.array([0.5, 0.3, 0.2])
    assert uncertainty(LEAST_CONFIDENCE, row) == pytest.approx(0.5)
    assert uncertainty(MARGIN, row) == pytest.approx(0.8)
    h = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2)) / math.log(3)
    assert uncertainty(ENTROPY, row) == pytest.approx(h)
    assert uncertainty(ENTROPY, np.array([1.0, 0.0])) == 0.0
    assert uncertainty(MARGIN, np.array([1.0])) == 0.0


def test_entropy_measure_matches_river_entropy_sampler():
    sampler = active.EntropySampler(classifier=None, discount_factor=3)
    for row in np.random.default_rng(0).dirichlet([0.5, 1, 2, 0.3], size=200):
        expected = sampler._p(dict(enumerate(row)))
        assert uncertainty(ENTROPY, row) ** 3 == pytest.approx(expected, rel=1e-9)


def test_estimated_budget_worked_example():
    # w = 10, b = 0.1, every event wanted. u: 0 → 1 (query at t=1); 0.1 is not < 0.1, so
    # t=2 waits (u=0.9); t=3: 0.09 < 0.1, query (u=1.81); then u decays 1.629, 1.466,
    # 1.319, 1.188, 1.069, 0.962 over t=4..9 and t=10 sees 0.0962 < 0.1: query.
    decider = Decider("variable_uncertainty", budget=0.1, window=10)
    queried, _ = decider.decide(rows(*[0.5] * 10))
    assert (np.flatnonzero(queried) + 1).tolist() == [1, 3, 10]
    # θ only moves when the rule runs (t = 1, 3, 10): 1 · 0.99³.
    assert decider.threshold == pytest.approx(0.99**3)
    assert decider.state[L.ESTIMATE] == pytest.approx(0.9 * 0.96190821 + 1)


def test_variable_uncertainty_worked_example():
    # θ: 1 → 0.99 (0.6 < 1: query) → 0.9999 (0.995 ≥ 0.99) → 0.98990 (0.99 < 0.9999: query)
    # → 0.99980 (0.995 ≥ 0.9899) → 0.98980 (0.9 < 0.9998: query).
    decider = Decider("variable_uncertainty", budget=0.5, **NO_BUDGET_LIMIT)
    queried, _ = decider.decide(rows(0.6, 0.995, 0.99, 0.995, 0.9))
    assert queried.tolist() == [True, False, True, False, True]
    assert decider.threshold == pytest.approx(0.99 * 1.01 * 0.99 * 1.01 * 0.99)


def test_variable_uncertainty_step_parameter():
    decider = Decider("variable_uncertainty", budget=0.5, theta=0.8, step=0.5, **NO_BUDGET_LIMIT)
    # θ: 0.8 → 1.2 (0.9 ≥ 0.8) → 0.6 (0.9 < 1.2: query) → 0.9 (0.7 ≥ 0.6)
    queried, _ = decider.decide(rows(0.9, 0.9, 0.7))
    assert queried.tolist() == [False, True, False]
    assert decider.threshold == pytest.approx(0.9)


def test_randomized_variable_uncertainty_uses_jittered_threshold():
    # Replay the same generator by hand: η ~ N(1, δ), query iff confidence < θ·η.
    confidences = [0.9, 0.6, 0.99, 0.3, 0.8, 0.95, 0.5, 0.7]
    decider = Decider("randomized_variable_uncertainty", budget=0.5, seed=11, **NO_BUDGET_LIMIT)
    queried, _ = decider.decide(rows(*confidences))
    rng, theta, expected = seed_state(11), 1.0, []
    for c in confidences:
        ask = c < theta * next_normal(rng, 1.0, 1.0)
        theta *= 0.99 if ask else 1.01
        expected.append(ask)
    assert queried.tolist() == expected
    assert decider.threshold == pytest.approx(theta)
    assert 0 < sum(expected) < len(expected)  # the example exercises both branches


def test_randomized_with_tiny_delta_is_variable_uncertainty():
    a = Decider("randomized_variable_uncertainty", budget=0.5, delta=1e-12, **NO_BUDGET_LIMIT)
    b = Decider("variable_uncertainty", budget=0.5, **NO_BUDGET_LIMIT)
    proba = rows(0.6, 0.995, 0.99, 0.995, 0.9)
    assert a.decide(proba)[0].tolist() == b.decide(proba)[0].tolist()


def test_split_sends_share_v_to_random_sampling():
    confidences = [0.9, 0.2, 0.95, 0.4, 0.99, 0.1, 0.97, 0.6, 0.8, 0.3]
    decider = Decider("split", budget=0.3, v=0.4, seed=5, **NO_BUDGET_LIMIT)
    queried, _ = decider.decide(rows(*confidences))
    rng, theta, expected = seed_state(5), 1.0, []
    for c in confidences:
        if next_uniform(rng) < 0.4:
            ask = next_uniform(rng) <= 0.3  # random sampling; θ untouched
        else:
            ask = c < theta
            theta *= 0.99 if ask else 1.01
        expected.append(ask)
    assert queried.tolist() == expected
    assert decider.threshold == pytest.approx(theta)


def test_fixed_uncertainty_threshold_from_budget_and_classes():
    # C = 4, b = 0.1: θ = 1/4 + 0.1 · 3/4 = 0.325
    proba = np.array([[0.32, 0.3, 0.2, 0.18], [0.33, 0.27, 0.2, 0.2], [0.9, 0.1, 0.0, 0.0]])
    queried, _ = Decider("fixed_uncertainty", budget=0.1, **NO_BUDGET_LIMIT).decide(proba)
    assert queried.tolist() == [True, False, False]
    queried, _ = Decider("fixed_uncertainty", budget=0.1, theta=0.95, **NO_BUDGET_LIMIT).decide(
        proba
    )
    assert queried.tolist() == [True, True, True]


def test_selective_sampling_probability():
    params = np.zeros(L.N_PARAMS)
    params[L.BUDGET] = 0.1
    params[L.SELECTIVE_B] = math.nan
    assert query_probability(np.array([0.6, 0.4]), params) == pytest.approx(0.1 / 0.2)
    assert query_probability(np.array([0.9, 0.1]), params) == pytest.approx(0.1 / 0.5)
    assert query_probability(np.array([0.5, 0.25, 0.25]), params) == pytest.approx(
        0.1 / (0.1 + 0.5 - 1 / 3)
    )
    params[L.SELECTIVE_B] = 1.0
    assert query_probability(np.array([1.0, 0.0]), params) == pytest.approx(1 / 1.5)


def test_selective_sampling_draws():
    proba = rows(0.6, 0.9, 0.55, 0.99, 0.7)
    decider = Decider("selective_sampling", budget=0.2, seed=3, **NO_BUDGET_LIMIT)
    queried, _ = decider.decide(proba)
    rng = seed_state(3)
    expected = [next_uniform(rng) < 0.2 / (0.2 + abs(c - 0.5)) for c in proba[:, 0]]
    assert queried.tolist() == expected


def test_entropy_rule_draws_against_river_probability():
    proba = np.array([[0.5, 0.5], [0.8, 0.2], [0.99, 0.01], [0.6, 0.4], [0.7, 0.3]])
    queried, _ = Decider("entropy", budget=0.5, seed=2, **NO_BUDGET_LIMIT).decide(proba)
    sampler = active.EntropySampler(classifier=None)
    rng = seed_state(2)
    expected = [next_uniform(rng) < sampler._p(dict(enumerate(row))) for row in proba]
    assert queried.tolist() == expected


def test_random_rule():
    """At b = 1/4 the j-th query is event 4(j - 1) + 1 + floor(4u), one uniform u per query."""
    queried, _ = Decider("random", budget=0.25, seed=9).decide(rows(*[0.5] * 16))
    rng = seed_state(9)
    expected = [4 * j + 1 + math.floor(4 * next_uniform(rng)) for j in range(4)]
    assert (np.flatnonzero(queried) + 1).tolist() == expected


@pytest.mark.parametrize("budget", [0.01, 0.05, 0.1, 0.2, 0.3, 0.37, 2 / 3])
def test_random_spends_within_a_label_of_the_budget_after_every_event(budget):
    queried, _ = Decider("random", budget=budget, seed=1).decide(rows(*[0.5] * 5_000))
    spent = np.cumsum(queried)
    t = np.arange(1, 5_001)
    assert np.all(np.abs(spent - budget * t) <= 1.0 + 1e-9)


@pytest.mark.parametrize("n", [2, 4, 5, 10])
def test_random_asks_each_event_of_a_stretch_of_n_with_chance_1_over_n(n):
    """Over many seeds, each position in the first stretch is asked about 1/n of the time."""
    seeds = 2_000
    counts = np.zeros(n)
    for seed in range(seeds):
        queried, _ = Decider("random", budget=1 / n, seed=seed).decide(rows(*[0.5] * n))
        assert queried.sum() == 1
        counts += queried
    # Binomial(2000, 1/n): within 4.5 standard deviations of 2000/n at every position.
    sd = math.sqrt(seeds * (1 / n) * (1 - 1 / n))
    assert np.all(np.abs(counts - seeds / n) <= 4.5 * sd), counts


def test_periodic_rule():
    queried, _ = Decider("periodic", budget=0.2, **NO_BUDGET_LIMIT).decide(rows(*[0.5] * 16))
    assert (np.flatnonzero(queried) + 1).tolist() == [5, 10, 15]


def test_biqf_worked_example():
    # b = 0.5, w = 4, w_tol = 2. Utilities u = 1 - confidence: 0.4, 0.1, 0.3, 0.2, 0.45.
    # t=1: window [0.4]: θ = 0.4, range 0, query (0.4 ≥ 0.4); q=1, owed 0.5·1-0 → then 1-1.
    # t=2: window [0.1, 0.4]: θ = median 0.25; owed 0.5·2 − 1 = 0 → 0.1 < 0.25: no.
    # t=3: [0.1, 0.3, 0.4]: θ = 0.3, owed 1.5 − 1 = 0.5, range 0.3 → θ_bal = 0.3 − 0.3·0.5/2
    #      = 0.225 → 0.3 ≥ 0.225: query (q=2).
    # t=4: [0.1, 0.2, 0.3, 0.4]: θ = 0.25, owed 2 − 2 = 0 → 0.2 < 0.25: no.
    # t=5: 0.4 leaves, [0.1, 0.2, 0.3, 0.45]: θ = 0.25, owed 2.5 − 2 = 0.5, range 0.35
    #      → θ_bal = 0.25 − 0.35·0.25 = 0.1625 → 0.45: query.
    decider = Decider(
        "quantile_uncertainty", budget=0.5, biqf_window=4, tolerance=2, **NO_BUDGET_LIMIT
    )
    queried, scores = decider.decide(rows(0.6, 0.9, 0.7, 0.8, 0.55))
    assert scores == pytest.approx([0.4, 0.1, 0.3, 0.2, 0.45])
    assert queried.tolist() == [True, False, True, False, True]


def test_biqf_matches_numpy_quantile_reference():
    utilities = np.random.default_rng(4).random(600)
    budget, w, w_tol = 0.15, 37, 11.0
    decider = Decider(
        "quantile_uncertainty", budget=budget, biqf_window=w, tolerance=w_tol, **NO_BUDGET_LIMIT
    )
    queried, _ = decider.decide(np.column_stack([1 - utilities, utilities]) * 1.0)
    history, labels, expected = [], 0, []
    for t, u in enumerate(np.minimum(utilities, 1 - utilities), start=1):
        history = [*history[-(w - 1) :], u]
        theta = np.quantile(history, 1 - budget)
        bal = theta - (max(history) - min(history)) * (budget * t - labels) / w_tol
        ask = bool(u > bal or (u == bal and budget * t - labels > 0))
        labels += ask
        expected.append(ask)
    assert queried.tolist() == expected


def test_hard_cap_worked_example():
    # b = 0.25: at most floor(n/4) + 1 labels after n events, whatever the rule wants.
    decider = Decider("variable_uncertainty", budget=0.25, hard_cap=True, **NO_BUDGET_LIMIT)
    queried, _ = decider.decide(rows(*[0.1] * 12))
    assert (np.flatnonzero(queried) + 1).tolist() == [1, 4, 8, 12]
