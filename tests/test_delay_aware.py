"""Delay-aware querying: near-duplicates of pending queries are not asked again."""

from __future__ import annotations

import numpy as np
import pytest

from streamal.decider import Decider, strategies_for
from streamal.decider import layout as L

NO_BUDGET_LIMIT = {"window": 10**9}


def unsure(n: int) -> np.ndarray:
    return np.full((n, 2), 0.5)


def column(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)[:, None]


def test_pending_window_by_hand():
    # D = 3 events, r = 0.5 (r² = 0.25), every event wanted by variable uncertainty.
    # t1 x=0: nothing pending → query (pending: 0@1).
    # t2 x=0.1: 0.01 < 0.25 from 0@1, 1 event old → blocked.
    # t3 x=5: far → query (pending: 0@1, 5@3).
    # t4 x=0.2: 0@1 is 3 events old, still pending (age <= D) → blocked.
    # t5 x=0.2: 0@1 is 4 events old, its label is due: no longer pending → query.
    # t6 x=4.8: 0.04 < 0.25 from 5@3, 3 events old → blocked.
    decider = Decider(
        "variable_uncertainty",
        0.5,
        n_features=1,
        pending_events=3,
        pending_radius=0.5,
        theta=100.0,
        **NO_BUDGET_LIMIT,
    )
    queried, _ = decider.decide(unsure(6), features=column(0, 0.1, 5, 0.2, 0.2, 4.8))
    assert queried.tolist() == [True, False, True, False, True, False]
    # Blocked events leave θ alone: three queries, no other rule call.
    assert decider.threshold == pytest.approx(100 * 0.99**3)
    assert decider.name == "variable_uncertainty/estimated+delay/least_confidence"


def test_blocked_events_still_feed_the_quantile_filter():
    decider = Decider("quantile_uncertainty", 0.5, n_features=1, pending_events=100, biqf_window=8)
    decider.decide(unsure(8), features=np.zeros((8, 1)))
    assert decider.labels_spent == 1  # one query, then the rest are its duplicates
    assert decider.state[L.WINDOW_COUNT] == 8


def test_ring_keeps_the_latest_queries():
    decider = Decider(
        "variable_uncertainty", 1.0, n_features=1, pending_events=1000, theta=1e9, **NO_BUDGET_LIMIT
    )
    size = int(decider.params[L.PENDING_SIZE])
    assert size == 2 * 1000 + 16
    far_apart = column(*np.arange(size + 5) * 10.0)
    queried, _ = decider.decide(unsure(size + 5), features=far_apart)
    region = decider.state[int(decider.params[L.PENDING_REGION]) :]
    assert region[0] == size and region[1] == 5  # full, overwritten from the start
    assert queried.all()  # every event is far from every other: nothing is blocked


@pytest.mark.parametrize("strategy", strategies_for("classification"))
def test_every_strategy_composes_with_delay_awareness(strategy):
    rng = np.random.default_rng(0)
    n = 3000
    proba = rng.dirichlet([1, 1], size=n)
    features = rng.integers(0, 4, size=(n, 2)) * 1.0  # 16 places, many duplicates
    committee = np.stack([proba, proba[::-1]], axis=1)

    def run(batch: int, pending: int) -> np.ndarray:
        d = Decider(strategy, 0.1, n_features=2, pending_events=pending, seed=1)
        out = []
        for i in range(0, n, batch):
            if d.needs_labels and i % 64 == 0:
                d.learn(features[i : i + 1], np.array([i % 2]))
            out.append(
                d.decide(
                    proba[i : i + batch],
                    features=features[i : i + batch],
                    committee=committee[i : i + batch],
                )[0]
            )
        return np.concatenate(out)

    aware, aware_by_one = run(64, 200), run(1, 200)
    assert (aware == aware_by_one).all()  # batch 1 == batch 64 (labels on 64-boundaries)
    assert aware.sum() <= 0.1 * n + 0.1 * 100 + 15
    # Never two queries at the same place within D events.
    places = features[:, 0] * 4 + features[:, 1]
    last: dict[float, int] = {}
    for t in np.flatnonzero(aware):
        assert t - last.get(places[t], -(10**9)) > 200
        last[places[t]] = t
