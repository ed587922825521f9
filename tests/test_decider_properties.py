"""Property tests: on any probability stream the budget holds."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from streamal.decider import BUDGET_MANAGERS, Decider, budget_managers_of, strategies_for

budgets = st.decimals(min_value="0.01", max_value="1", places=3).map(float)
probability_streams = st.integers(min_value=1, max_value=5).flatmap(
    lambda k: arrays(
        np.float64,
        st.tuples(st.integers(min_value=1, max_value=400), st.just(k)),
        elements=st.floats(min_value=0.0, max_value=1.0),
    )
)


def normalise(raw: np.ndarray) -> np.ndarray:
    totals = raw.sum(axis=1, keepdims=True)
    return np.where(totals > 0, raw / np.where(totals > 0, totals, 1.0), 1.0 / raw.shape[1])


@settings(max_examples=150, deadline=None)
@given(
    raw=probability_streams,
    budget=budgets,
    strategy=st.sampled_from(strategies_for("classification")),
    manager=st.sampled_from(list(BUDGET_MANAGERS)),
    seed=st.integers(min_value=0, max_value=2**32),
    drift_aware=st.booleans(),
)
def test_hard_cap_never_exceeded_at_any_prefix(raw, budget, strategy, manager, seed, drift_aware):
    assume(manager in budget_managers_of(strategy))
    decider = Decider(
        strategy,
        budget,
        budget_manager=manager,
        hard_cap=True,
        drift_aware=drift_aware,
        seed=seed,
        n_features=2,
    )
    # Clustered feature rows, for the strategies that measure density.
    features = np.random.default_rng(seed).integers(0, 3, size=(len(raw), 2)) * 1.0
    proba = normalise(raw)
    committee = np.stack([proba, np.roll(proba, 1, axis=0)], axis=1)  # two members
    half = len(raw) // 2
    first, _ = decider.decide(proba[:half], features=features[:half], committee=committee[:half])
    # A drift mid-stream restarts the thresholds; with the hard cap it lends no reserve.
    decider.observe_errors(np.r_[np.zeros(300), np.ones(300)])
    second, _ = decider.decide(proba[half:], features=features[half:], committee=committee[half:])
    queried = np.concatenate([first, second])
    b = Fraction(repr(budget))
    labels = np.cumsum(queried)
    for n, spent in enumerate(labels, start=1):
        assert spent <= (b * n).__floor__() + 1


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**16),
    budget=st.sampled_from([0.05, 0.1, 0.2, 0.5]),
    strategy=st.sampled_from(
        ["random", "periodic", "variable_uncertainty", "randomized_variable_uncertainty", "split"]
    ),
    alpha=st.floats(min_value=0.2, max_value=5.0),
)
def test_spent_fraction_tracks_the_budget(seed, budget, strategy, alpha):
    # Rules that adapt to the stream spend the budget whatever the model's confidence;
    # the estimated budget lets a start-up burst of about w·b labels through, and below
    # b·w ≈ 5 its window holds too few labels. The rules that pace themselves (random,
    # periodic) go ungated by default: random's spend is Binomial(n, b), so its bound is
    # five standard deviations either side, which a correct rule misses once in 3.5 million.
    n = 20_000
    proba = np.random.default_rng(seed).dirichlet([alpha, alpha, alpha], size=n)
    decider = Decider(strategy, budget, seed=seed)
    decider.decide(proba)
    if decider.name.split("/")[1] == "none":
        assert abs(decider.labels_spent - budget * n) <= 5 * np.sqrt(n * budget * (1 - budget))
    else:
        assert decider.labels_spent <= (budget + 1 / 200) * n + 100 * budget + 2
        assert decider.spent_fraction >= 0.75 * budget


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**16), budget=budgets)
def test_quantile_filter_tracks_the_budget(seed, budget):
    n = 5_000
    proba = np.random.default_rng(seed).dirichlet([1.0, 1.0], size=n)
    decider = Decider("quantile_uncertainty", budget, seed=seed)
    decider.decide(proba)
    assert abs(decider.spent_fraction - budget) <= 0.01 + 0.02 * budget
