"""The deployed-accuracy estimate, on hand-worked cases and against a known truth."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from pytest import approx

from streamal.decider import Decider
from streamal.deployed_accuracy import DeployedAccuracy
from streamal.engine import Engine, Event, Label
from streamal.model import Model


def test_without_labels_it_is_the_model_own_claim():
    estimator = DeployedAccuracy(window=10**9)
    estimator.see(np.array([0.95, 0.95, 0.55, 0.55]))
    assert estimator.estimate().value == approx(0.75)  # the mean confidence
    assert estimator.estimate().labels == 0


def test_each_answer_stands_for_the_events_its_query_probability_says():
    estimator = DeployedAccuracy(window=10**9, prior=1e-9)
    # A cold start: 100 events, all asked (p = 1), the model right on 40.
    estimator.see(np.full(100, 0.55))
    for right in [True] * 40 + [False] * 60:
        estimator.label(0.55, right)
    # Then 900 events, each asked with p = 0.1, the model right on 81 of the 90 answers.
    estimator.see(np.full(900, 0.55))
    for right in [True] * 81 + [False] * 9:
        estimator.label(0.55, right, probability=0.1)
    # Unweighted the answers say 121 right of 190 (64 %); weighted, 40 + 810 of 1000.
    assert estimator.estimate().labels == approx(190)
    assert estimator.estimate().value == approx(0.85)


def test_an_answer_stands_for_at_most_twice_the_events_per_answer():
    estimator = DeployedAccuracy(window=10**9, prior=1e-9)
    estimator.see(np.full(1000, 0.95))
    for right in [True] * 5 + [False] * 5:
        estimator.label(0.95, right)
    # Asked at a chance of 1 in 1000, it would stand for 1000 events and outweigh the ten
    # others a hundredfold; it counts as 2 × 1000 events / 10 answers = 200.
    estimator.label(0.95, True, probability=0.001)
    assert estimator.estimate().value == approx(205 / 210)
    assert estimator.weight.sum() == approx(210)


def test_the_interval_is_the_ratio_estimator_variance():
    estimator = DeployedAccuracy(window=10**9, prior=1e-9)
    estimator.see(np.full(1000, 0.75))
    # Four answers of weight 1 (three right) and two of weight 3 (one right): a = 6 / 10.
    for right, p in [(True, 1), (True, 1), (True, 1), (False, 1), (True, 1 / 3), (False, 1 / 3)]:
        estimator.label(0.75, right, probability=p)
    estimate = estimator.estimate()
    assert estimate.value == approx(0.6)
    # Σ w² (r - a)²: 3 × 0.4² + 0.6² + 9 × 0.4² + 9 × 0.6² = 5.52, over (Σ w)² = 100.
    assert estimate.value - estimate.low == approx(1.96 * math.sqrt(5.52 / 100))


def test_a_prediction_made_before_any_class_is_left_out():
    estimator = DeployedAccuracy()
    estimator.see(np.zeros(3))
    estimator.label(None, False)
    assert estimator.estimate().labels == 0
    assert estimator.estimate().value == 0.0  # no class named: every such prediction is wrong


def test_a_probability_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="probability"):
        DeployedAccuracy().label(0.9, True, probability=0.0)


def test_uncertainty_biased_queries_with_known_probabilities_give_the_truth():
    """A model that is underconfident (right far more often than it claims), and queries
    that go mostly to its least sure events: the labeled accuracy is far off, the
    estimate is not, and its 95 % interval holds the truth about 95 % of the time."""
    rng = np.random.default_rng(7)
    runs, errors, covered = 200, [], 0
    for _ in range(runs):
        confidence = rng.uniform(0.5, 1.0, 5000)
        right = rng.random(5000) < np.minimum(1.0, 0.35 + confidence * 0.7)
        # Like the bandit: a chance of 0.02 for every event, much more for unsure ones.
        p = 0.02 + 0.5 * (confidence < 0.6)
        asked = rng.random(5000) < p
        estimator = DeployedAccuracy(window=10**9)
        estimator.see(confidence)
        for c, r, q in zip(confidence[asked], right[asked], p[asked], strict=True):
            estimator.label(float(c), bool(r), float(q))
        estimate, truth = estimator.estimate(), right.mean()
        errors.append(estimate.value - truth)
        covered += estimate.low <= truth <= estimate.high
        assert right[asked].mean() < truth - 0.05  # the labels alone are far off
    assert abs(np.mean(errors)) < 0.005  # unbiased
    # As precise as the answers allow: √(mean((1 - p) / p · a (1 - a)) / n) ≈ 2.5 points
    # here, so a mean |error| of about 0.8 × 2.5.
    assert np.mean(np.abs(errors)) < 0.025
    assert 0.88 <= covered / runs <= 0.99


def test_the_bandit_reports_the_chance_it_had_of_asking():
    proba = np.random.default_rng(0).dirichlet([2, 2], size=5000)
    decider = Decider("bandit", budget=0.1, seed=1)
    queried, scores = decider.decide(proba)
    chances = decider.query_probability(scores)[queried]
    # A fifth of the budget goes at random, once the ramp's 200 labels are spent.
    late = queried & (np.cumsum(queried) > 200)
    assert decider.query_probability(scores)[late].min() >= 0.2 * 0.1 - 1e-12
    assert chances.min() > 0 and chances.max() <= 1.0
    assert (chances < 0.1).any() and (chances > 0.5).any()
    # Sure events, which no rule would pick, are asked too, at the random share's chance.
    assert (proba[queried].max(axis=1) > 0.95).any()
    threshold = Decider("variable_uncertainty", budget=0.1)
    queried, scores = threshold.decide(proba)
    assert (threshold.query_probability(scores) == 1.0).all()


def test_queries_and_their_examples_carry_the_probability():
    engine = Engine(Model("naive_bayes.GaussianNB()"), Decider("bandit", budget=0.5, seed=3))
    a = np.random.default_rng(1).normal(size=300)
    events = [Event(str(i), {"a": float(a[i])}, float(i)) for i in range(300)]
    for query in engine.process(events[:100]).queries:
        engine.answer([Label(query.id, bool(query.x["a"] > 0), query.ts)])
    decisions = engine.process(events[100:])
    assert decisions.queries
    for query in decisions.queries:
        assert 0.0 < query.probability <= 1.0
        assert query.probability == approx(query.score)
    first = decisions.queries[0]
    joined = engine.answer([Label(first.id, True, first.ts)])
    assert joined.examples[0].probability == first.probability


def test_a_pickled_estimator_fades_and_counts_on_as_the_original():
    estimator = DeployedAccuracy(window=50)
    estimator.see(np.array([0.95, 0.55, 0.7]))
    estimator.label(0.55, True, probability=0.5)
    state = pickle.loads(pickle.dumps(estimator))
    # A snapshot written before the sums were one block holds them as separate arrays.
    older = DeployedAccuracy.__new__(DeployedAccuracy)
    older.__setstate__({k: np.copy(v) for k, v in estimator.__getstate__().items()})
    for one in (estimator, state, older):
        one.see(np.array([0.35, 0.95]))
        one.label(0.95, False, probability=0.25)
    assert state.estimate() == estimator.estimate() == older.estimate()
    assert state.events.tolist() == estimator.events.tolist()
    assert state.answers.sum() == approx(estimator.decay**2 + 1)  # the older answer faded
