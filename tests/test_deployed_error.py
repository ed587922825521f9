"""The deployed-error estimate: worked by hand, its coverage, and through replay."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from streamal.decider import Decider
from streamal.deployed_error import DeployedError
from streamal.replay import ReplaySetup, Row, replay
from streamal.settings import EngineSettings


def test_weighted_mean_and_interval_worked_by_hand():
    estimator = DeployedError(window=10**9)
    for error, p in [(2.0, 0.5), (-4.0, 0.25), (6.0, 0.125)]:  # weights 2, 4, 8; |−4| = 4
        estimator.label(error, probability=p)
    estimate = estimator.estimate()
    value = (4 + 16 + 48) / 14
    spread = 4 * (2 - value) ** 2 + 16 * (4 - value) ** 2 + 64 * (6 - value) ** 2
    half = 1.96 * math.sqrt(spread) / 14
    assert estimate.value == pytest.approx(value)
    assert (estimate.low, estimate.high) == pytest.approx((value - half, value + half))
    assert estimate.labels == 3


def test_answers_asked_for_certain_count_only_until_a_fair_sample_comes():
    estimator = DeployedError(window=10**9)
    for error in (10.0, 20.0, 30.0):
        estimator.label(error)  # p = 1: the utility's choice
    assert estimator.estimate().value == pytest.approx(20.0)
    for error in (1.0, 3.0, 2.0):
        estimator.label(error, probability=0.2)
    estimate = estimator.estimate()
    assert (estimate.value, estimate.labels) == (pytest.approx(2.0), 3)


def test_too_few_answers_give_an_open_interval_and_nothing_gives_no_estimate():
    estimator = DeployedError()
    assert estimator.estimate() is None
    estimator.label(None)  # no prediction at query time
    estimator.label(math.nan)
    assert estimator.estimate() is None
    estimator.label(3.0, probability=0.1)  # one answer of the fair sample
    estimator.label(1.0, probability=1.0)
    estimate = estimator.estimate()
    assert estimate.value == pytest.approx(3.0)
    assert (estimate.low, estimate.high) == (0.0, math.inf)
    with pytest.raises(ValueError, match="probability must be in"):
        estimator.label(1.0, probability=0.0)


def test_answers_fade_with_the_events_that_go_by():
    estimator = DeployedError(window=2)  # decay 1/2 per event
    estimator.label(8.0)
    estimator.see(2)  # the first answer now weighs 1/4
    estimator.label(2.0)
    assert estimator.estimate().value == pytest.approx((8 / 4 + 2) / (1 / 4 + 1))
    again = pickle.loads(pickle.dumps(estimator))
    assert again.estimate() == estimator.estimate()


def test_even_turns_make_the_estimate_fair_where_the_labeled_error_is_not():
    # Errors grow with the utility, and the rule asks the highest utilities: the labeled
    # error is far above the truth. The even turns (p = f b) put the estimate back on it,
    # and its 95 % interval covers the truth in about 95 % of the streams.
    n, budget = 20_000, 0.05
    covered, labeled_gap, estimate_gap = 0, [], []
    trials = 60
    for seed in range(trials):
        rng = np.random.default_rng(seed)
        sigma = rng.gamma(2.0, size=n)
        errors = np.abs(rng.normal(scale=sigma))
        decider = Decider("interval_width", budget, task="regression", seed=seed)
        queried, scores = decider.decide(np.column_stack([np.zeros(n), sigma]))
        chances = decider.query_probability(scores)
        estimator = DeployedError(window=10**9)
        estimator.see(n)
        for i in np.flatnonzero(queried):
            estimator.label(errors[i], probability=chances[i])
        estimate = estimator.estimate()
        truth = errors.mean()
        covered += estimate.low <= truth <= estimate.high
        labeled_gap.append(errors[queried].mean() / truth - 1)
        estimate_gap.append(estimate.value / truth - 1)
    assert np.mean(labeled_gap) > 0.5  # the labeled error: half again the truth, or more
    assert abs(np.mean(estimate_gap)) < 0.04  # ±1 % standard error over the streams
    assert covered / trials >= 0.9


def test_replay_estimates_the_deployed_error_of_a_numeric_target():
    rng = np.random.default_rng(3)
    rows = []
    for i in range(3000):
        x = {"a": float(rng.normal()), "b": float(rng.normal())}
        y = 3 * x["a"] - 2 * x["b"] + float(rng.normal())
        rows.append(Row(id=str(i), x=x, ts=float(i), y=y))
    model = "preprocessing.StandardScaler() | linear_model.LinearRegression()"
    result = replay(rows, ReplaySetup(EngineSettings(model, budget=0.1, seed=1)))
    assert result.estimates, "no estimate for a numeric target"
    late = [e for e in result.estimates if e[0] >= 1000]
    inside = [low <= truth <= high for _, _, _, low, high, truth in late]
    assert sum(inside) >= 0.8 * len(late)
    _, labels, value, _, _, truth = result.estimates[-1]
    assert labels == result.labels
    assert value == pytest.approx(truth, rel=0.25)
