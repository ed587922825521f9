"""The decider contract (test_decider_contract.py) for every regression strategy × manager × cap.

Holds the budget, deterministic for a seed, batch of 1 equals batch of 1024,
state round-trips mid-stream, and spends close to the budget on a long stream.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pytest

from streamal.decider import Decider, budget_managers_of, strategies_for

CAPS = ("", "cap", "drift")
REGRESSION = strategies_for("regression")
COMBINATIONS = [(s, m, cap) for s in REGRESSION for m in budget_managers_of(s) for cap in CAPS]
IDS = [f"{s}-{m}{'-' + c if c else ''}" for s, m, c in COMBINATIONS]
N_FEATURES = 3
#: labels come for the event at every multiple of this position (as in the classification
#: contract), so batch sizes and checkpoints see the same labels at the same moments
LABEL_EVERY = 16


@dataclass(frozen=True)
class Stream:
    #: (predicted value, σ): σ shrinks as the model learns, and is missing for 5 % of events
    rows: np.ndarray
    features: np.ndarray
    #: five members' predicted values, scattered around the prediction
    committee: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def make_stream(n: int = 6000, seed: int = 0) -> Stream:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, N_FEATURES)) + np.linspace(0, 1, n)[:, None]
    outliers = rng.random(n) < 0.05
    features[outliers] *= 5
    value = features @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n)
    sigma = rng.gamma(2.0, size=n) * np.linspace(3.0, 0.5, n)
    sigma[rng.random(n) < 0.05] = np.nan
    committee = value[:, None, None] + rng.normal(size=(n, 5, 1)) * sigma[:, None, None]
    committee[np.isnan(committee)] = 0.0
    return Stream(np.column_stack([value, sigma]), features, committee)


@pytest.fixture(scope="module")
def data() -> Stream:
    return make_stream()


def make(strategy: str, manager: str, cap: str, budget: float = 0.1, seed: int = 1) -> Decider:
    return Decider(
        strategy,
        budget,
        task="regression",
        budget_manager=manager,
        hard_cap=cap == "cap",
        drift_aware=cap == "drift",
        seed=seed,
        n_features=N_FEATURES,
    )


def model_erred(position: int) -> bool:
    # Two abrupt changes of the (thresholded) error rate, as in the classification contract.
    rate = 0.9 if 2000 <= position < 4000 else 0.1
    return (position * 2654435761 % 1000) / 1000 < rate


def feed(
    decider: Decider, data: Stream, lo: int = 0, hi: int | None = None, batch: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Decide events ``lo:hi`` in batches; learn the labeled rows leverage needs."""
    hi = len(data) if hi is None else hi
    queried, scores = [np.zeros(0, dtype=bool)], [np.zeros(0)]
    start = lo
    while start < hi:
        end = min(start + batch, hi)
        if decider.needs_labels or decider.drift_aware:
            end = min(end, (start // LABEL_EVERY + 1) * LABEL_EVERY)
        q, s = decider.decide(
            data.rows[start:end],
            features=data.features[start:end],
            committee=data.committee[start:end],
        )
        queried.append(q)
        scores.append(s)
        if end % LABEL_EVERY == 0:
            decider.learn(data.features[end - 1 : end])
            decider.observe_errors(np.array([model_erred(end - 1)]))
        start = end
    return np.concatenate(queried), np.concatenate(scores)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize(("strategy", "manager", "cap"), COMBINATIONS, ids=IDS)
def test_holds_the_budget(strategy, manager, cap, data):
    decider = make(strategy, manager, cap)
    queried, _ = feed(decider, data)
    assert queried.sum() <= (0.1 + 1 / 200) * len(data) + 15
    assert decider.labels_spent == queried.sum() and decider.events_seen == len(data)
    n = np.arange(1, len(data) + 1)
    if cap == "cap":
        assert (np.cumsum(queried) <= np.floor(0.1 * n) + 1).all()
    if cap == "drift":
        assert decider.drifts >= 2
        assert (np.cumsum(queried) <= 0.1 * (n + 100) + 1e-9).all()


@pytest.mark.parametrize(("strategy", "manager", "cap"), COMBINATIONS, ids=IDS)
def test_deterministic_for_a_seed(strategy, manager, cap, data):
    a = feed(make(strategy, manager, cap, seed=42), data)
    b = feed(make(strategy, manager, cap, seed=42), data)
    assert (a[0] == b[0]).all() and same(a[1], b[1])


@pytest.mark.parametrize(("strategy", "manager", "cap"), COMBINATIONS, ids=IDS)
def test_batch_of_one_equals_batch_of_1024(strategy, manager, cap, data):
    whole = feed(make(strategy, manager, cap), data, 0, 3000)
    one_by_one = feed(make(strategy, manager, cap), data, 0, 3000, batch=1)
    odd = feed(make(strategy, manager, cap), data, 0, 3000, batch=7)
    assert (whole[0] == one_by_one[0]).all() and same(whole[1], one_by_one[1])
    assert (whole[0] == odd[0]).all() and same(whole[1], odd[1])


@pytest.mark.parametrize(("strategy", "manager", "cap"), COMBINATIONS, ids=IDS)
def test_state_round_trips_mid_stream(strategy, manager, cap, data):
    reference = feed(make(strategy, manager, cap), data)[0]
    first = make(strategy, manager, cap)
    head = feed(first, data, 0, 2500)[0]
    saved = first.state_dict()
    feed(first, data, 2500, 2600)  # decisions after the checkpoint are thrown away
    restored = make(strategy, manager, cap)
    restored.load_state_dict(saved)
    tail = feed(restored, data, 2500)[0]
    assert (np.concatenate([head, tail]) == reference).all()
    again = pickle.loads(pickle.dumps(first))
    fresh = make(strategy, manager, cap)
    feed(fresh, data, 0, 2600)
    assert (feed(again, data, 2600)[0] == feed(fresh, data, 2600)[0]).all()


#: (lowest, highest) spent fraction at b = 0.1 over 40,000 events, by budget manager.
#: Estimated: a rule that always wants labels spends about b + 1/(2w) = 0.105 (measured:
#: 0.1015-0.1031 for the utility thresholds), random gated by it a tenth less (0.0862). The
#: quantile filter is balanced toward b (measured 0.0987-0.1001). Ungated random is
#: Binomial(n, b): five standard deviations either side.
SPENT = {"estimated": (0.085, 0.106), "biqf": (0.098, 0.1015), "none": (0.0925, 0.1075)}


@pytest.mark.parametrize(
    ("strategy", "manager"), [(s, m) for s in REGRESSION for m in budget_managers_of(s)]
)
def test_spends_close_to_the_budget_on_a_long_stream(strategy, manager):
    data = make_stream(40_000, seed=7)
    decider = make(strategy, manager, "")
    queried, _ = feed(decider, data)
    low, high = SPENT[manager]
    assert low <= queried.mean() <= high, queried.mean()


@pytest.mark.parametrize("strategy", REGRESSION)
def test_composes_with_delay_awareness(strategy, data):
    # Delay-aware querying: batch-size invariant, and it blocks near-duplicates of pending ones.
    coarse = Stream(data.rows, np.round(data.features), data.committee)

    def run(batch: int, pending: int) -> np.ndarray:
        decider = Decider(
            strategy, 0.1, task="regression", n_features=N_FEATURES, pending_events=pending
        )
        return feed(decider, coarse, 0, 3000, batch=batch)[0]

    aware = run(64, 200)
    assert (aware == run(1, 200)).all()
    assert 0.05 <= aware.mean() <= 0.105
