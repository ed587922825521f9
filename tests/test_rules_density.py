"""Density-aware and feature-based rules against examples worked by hand from their papers."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from streamal.decider import Decider
from streamal.decider import layout as L

NO_BUDGET_LIMIT = {"window": 10**9}  # u/w stays ~0: the estimated budget always allows
NO_JITTER = {"delta": 1e-12}  # η ≈ 1: the randomised threshold is θ itself
#: PAL with Kottke, Krempl & Spiliopoulou's parameters: its hand-worked cases check the paper's rule
PAPER = {"bandwidth": 1.0, "m_max": 2, "prior": 0.001, "model_posterior": 0}


def unsure(n: int) -> np.ndarray:
    """Rows at chance: margin 0, below any positive threshold."""
    return np.full((n, 2), 0.5)


def column(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)[:, None]


def test_dbal_local_density_factor_by_hand():
    # w = 3, one feature; squared distances, "nn" = a member's nearest-neighbour distance².
    # t1 x=0:   empty window → factor 0 (sparse); joins with nn = inf.
    # t2 x=2:   4 < inf(0) → factor 1; nn(0) = 4; joins with nn 4.
    # t3 x=3:   9 ≥ 4(0), 1 < 4(2) → factor 1; nn(2) = 1; joins with nn 1. Window full.
    # t4 x=10:  100, 64, 49: none closer → factor 0; evicts 0, joins with nn 49.
    # t5 x=2.6: 54.76 ≥ 49(10); 0.36 < 1(2); 0.16 < 1(3) → factor 2; evicts 2, nn 0.16.
    # t6 x=6.5: 12.25 < 49(10) → factor 1: it becomes the outlier's nearest neighbour;
    #           evicts 3 and joins with nn min(12.25, 15.21, 12.25) = 12.25.
    decider = Decider(
        "dbal", budget=0.5, n_features=1, window_size=3, **NO_BUDGET_LIMIT, **NO_JITTER
    )
    queried, scores = decider.decide(unsure(6), features=column(0, 2, 3, 10, 2.6, 6.5))
    assert queried.tolist() == [False, True, True, False, True, True]
    assert scores.tolist() == [1.0] * 6  # margin uncertainty 1 - (0.5 - 0.5)
    # θ moves only when a dense event's margin meets it: four queries.
    assert decider.threshold == pytest.approx(0.99**4)
    region = decider.state[int(decider.params[L.REGION]) :]
    count, head, rows, nearest = region[0], region[1], region[2:5], region[5:8]
    assert (count, head) == (3, 0)
    assert rows.tolist() == [10.0, 2.6, 6.5]  # ring positions: 0→10 (t4), 1→2.6, 2→6.5
    assert nearest == pytest.approx([12.25, 0.16, 12.25])


def test_dbal_margin_against_randomised_threshold():
    # θ₀ = 0.5, no jitter; margins 0.8, 0.2, 0.9, 0.2, 0.1 at x = 0, 1, 0.5, 0.75, 5.
    # t1: empty window, sparse (θ stays 0.5).
    # t2: 1 < inf → dense; margin 0.2 < 0.5: query, θ = 0.495.
    # t3: 0.25 < 1 (both) → dense; 0.9 ≥ 0.495: no query, θ = 0.49995.
    # t4: 0.0625 < 0.25 (x=1 and x=0.5) → dense; 0.2 < 0.49995: query, θ = 0.4949505.
    # t5: x=5 is far from all (≥ 18.06 > every nn) → sparse: margin 0.1 is not asked.
    decider = Decider("dbal", budget=0.5, n_features=1, theta=0.5, **NO_BUDGET_LIMIT, **NO_JITTER)
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.95, 0.05], [0.6, 0.4], [0.55, 0.45]])
    queried, _ = decider.decide(proba, features=column(0.0, 1.0, 0.5, 0.75, 5.0))
    assert queried.tolist() == [False, True, False, True, False]
    assert decider.threshold == pytest.approx(0.5 * 0.99 * 1.01 * 0.99)


def test_dbal_duplicates_of_a_settled_point_are_not_dense():
    # t2 = t1 makes t1's nn 0; from then on no distance is strictly below 0.
    decider = Decider("dbal", budget=0.5, n_features=1, **NO_BUDGET_LIMIT, **NO_JITTER)
    queried, _ = decider.decide(unsure(4), features=column(0.0, 0.0, 0.0, 0.0))
    assert queried.tolist() == [False, True, False, False]


def sklearn_style_density(xs: np.ndarray, w: int) -> list[int]:
    """scikit-activeml's DBALStream window, written again with deques (the reference)."""
    window: deque = deque(maxlen=w)
    nearest: deque = deque(maxlen=w)
    factors = []
    for x in xs:
        if window:
            distances = np.array([np.sum((m - x) ** 2) for m in window])
            closer = distances < np.array(nearest)
            factors.append(int(closer.sum()))
            for i in np.flatnonzero(closer):
                nearest[i] = distances[i]
            nearest.append(distances.min())
        else:
            factors.append(0)
            nearest.append(np.inf)
        window.append(x)
    return factors


def test_dbal_density_matches_sliding_window_reference():
    xs = np.random.default_rng(3).normal(size=(400, 3))
    decider = Decider(
        "dbal", budget=1.0, n_features=3, window_size=17, **NO_BUDGET_LIMIT, **NO_JITTER
    )
    queried = np.concatenate(
        [decider.decide(unsure(50), features=xs[i : i + 50])[0] for i in range(0, 400, 50)]
    )
    dense = np.array(sklearn_style_density(xs, 17)) > 0
    assert 0 < dense.sum() < len(xs)
    assert (queried == dense).all()


def test_dbal_refuses_to_decide_without_features():
    decider = Decider("dbal", budget=0.1, n_features=2)
    with pytest.raises(ValueError, match="needs the events' features"):
        decider.decide(unsure(3))
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        decider.decide(unsure(3), features=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="finite"):
        decider.decide(unsure(1), features=np.array([[np.nan, 0.0]]))
    assert decider.needs_features and not Decider("split").needs_features


def test_cogdqs_forgets_the_weakest_memory_by_hand():
    # size 2, one feature; member = (x: nearest², reinforcements θ, last reinforced t_x).
    # t1 x=0:    empty → sparse; [0: inf, 0, 1].
    # t2 x=0.1:  0.01 < inf → dense; 0 becomes (0.01, 1, 2); [0, 0.1: (0.01, 0, 2)].
    # t3 x=5:    25, 24.01 ≥ 0.01 → sparse. Full: s(0) = exp(-(3-2)/2) = 0.61,
    #            s(0.1) = exp(-(3-2)/1) = 0.37 → forget 0.1, the younger one (FIFO would
    #            drop 0); 5 enters with (24.01, 0, 3).
    # t4 x=0.05: 0.0025 < 0.01 → dense; 0 becomes (0.0025, 2, 4). Full: s(0) = 1,
    #            s(5) = exp(-1) → forget 5.
    # t5 x=4.9:  24.01, 23.5225 ≥ 0.0025 → sparse; next to 5 it would have been dense.
    decider = Decider(
        "cogdqs", 0.5, n_features=1, cognition_window_size=2, **NO_BUDGET_LIMIT, **NO_JITTER
    )
    queried, scores = decider.decide(unsure(5), features=column(0, 0.1, 5, 0.05, 4.9))
    assert queried.tolist() == [False, True, False, True, False]
    assert scores.tolist() == [0.5] * 5  # least confidence
    assert decider.threshold == pytest.approx(0.99**2)
    region = decider.state[int(decider.params[L.REGION]) :]
    assert region[0] == 2
    assert region[1:3].tolist() == [0.0, 4.9]  # members in order of arrival
    assert region[3:9] == pytest.approx([0.0025, 2, 4, 23.5225, 0, 5])


def test_cogdqs_density_threshold():
    # Threshold 2: t3 (x=0.5 takes over both 0 and 1) is the only event dense enough.
    decider = Decider(
        "cogdqs", 0.5, n_features=1, density_threshold=2, **NO_BUDGET_LIMIT, **NO_JITTER
    )
    queried, _ = decider.decide(unsure(4), features=column(0, 1, 0.5, 3))
    assert queried.tolist() == [False, False, True, False]


def reference_cognition_window(xs: np.ndarray, size: int) -> list[int]:
    """The CogDQS window written again with Python lists (scikit-activeml's shape, size members)."""
    members, nearest, reinforced, last, factors = [], [], [], [], []
    for t, x in enumerate(xs, start=1):
        distances = [float(np.sum((m - x) ** 2)) for m in members]
        factor = 0
        for k, dist in enumerate(distances):
            if dist < nearest[k]:
                nearest[k], reinforced[k], last[k] = dist, reinforced[k] + 1, t
                factor += 1
        factors.append(factor)
        if len(members) == size:
            strength = [np.exp(-(t - last[k]) / (reinforced[k] + 1)) for k in range(size)]
            weakest = int(np.argmin(strength))
            for values in (members, nearest, reinforced, last):
                values.pop(weakest)
        members.append(x)
        nearest.append(min(distances, default=np.inf))
        reinforced.append(0)
        last.append(t)
    return factors


def test_cogdqs_density_matches_reference_window():
    xs = np.random.default_rng(8).normal(size=(300, 2))
    decider = Decider(
        "cogdqs",
        1.0,
        n_features=2,
        cognition_window_size=7,
        theta=1e9,
        **NO_BUDGET_LIMIT,
        **NO_JITTER,
    )
    queried = np.concatenate(
        [decider.decide(unsure(60), features=xs[i : i + 60])[0] for i in range(0, 300, 60)]
    )
    dense = np.array(reference_cognition_window(xs, 7)) >= 1
    assert 0 < dense.sum() < len(xs)
    assert (queried == dense).all()


def reference_gain(k: np.ndarray, prior: float, m_max: int) -> float:
    """McPAL's closed form with gamma functions and brute-force labelings (the reference)."""
    from itertools import product
    from math import factorial, lgamma

    def log_beta(a):
        return sum(lgamma(v) for v in a) - lgamma(sum(a))

    alpha = k + prior
    costs = []
    for m in range(m_max + 1):
        cost = 0.0
        for labels in product(range(m + 1), repeat=len(k)):
            if sum(labels) != m:
                continue
            decision = int(np.argmax(k + np.array(labels)))
            multinomial = factorial(m) / np.prod([factorial(v) for v in labels])
            for c in range(len(k)):
                if c != decision:
                    after = alpha + np.array(labels) + np.eye(len(k))[c]
                    cost += multinomial * np.exp(log_beta(after) - log_beta(alpha))
        costs.append(cost)
    return max((costs[0] - costs[m]) / m for m in range(1, m_max + 1))


def test_pal_gain_by_hand():
    from streamal.decider.strategies.pal import expected_gain

    # k = (1, 0), prior 1: α = (2, 1). Now: predict 0, cost 1/3. One label: (1,0) → 0 and
    # (0,1) → tie, still 0: cost stays 1/3, gain 0. Two labels: weights 2!·α^(l)/l! are
    # (2,0): 6, (1,1): 4, (0,2): 2, the wrong mass after each 1, 2, 2 (the last flips to
    # class 1), over 3·4·5: (6 + 8 + 4) / 60 = 0.3 → gain (1/3 - 0.3) / 2 = 1/60.
    assert expected_gain(np.array([1.0, 0.0]), 1.0, 1) == pytest.approx(0.0, abs=1e-12)
    assert expected_gain(np.array([1.0, 0.0]), 1.0, 2) == pytest.approx(1 / 60)
    # No labels near x, prior p: cost now 1/2; one label leaves p / (2p + 1).
    p = 0.001
    assert expected_gain(np.zeros(2), p, 1) == pytest.approx(0.5 - p / (2 * p + 1))


@pytest.mark.parametrize("m_max", [1, 2, 3])
def test_pal_gain_matches_closed_form_reference(m_max):
    from streamal.decider.strategies.pal import expected_gain

    rng = np.random.default_rng(m_max)
    for classes in (2, 3, 4):
        for _ in range(15):
            k = rng.exponential(2.0, classes) * (rng.random(classes) < 0.7)
            expected = reference_gain(k, 0.001, m_max)
            assert expected_gain(k, 0.001, m_max) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_pal_kernel_frequencies_from_the_labeled_window():
    from streamal.decider.strategies.pal import expected_gain

    # Labels: x=0 class 0, x=2 class 1. At x=1, σ = 1: k = (e^-½, e^-½).
    decider = Decider("pal", 0.5, n_features=1, labeled_window_size=2, **PAPER, **NO_BUDGET_LIMIT)
    decider.learn(column(0.0, 2.0), np.array([0, 1]))
    _, gains = decider.decide(unsure(1), features=column(1.0))
    half = np.exp(-0.5)
    assert gains[0] == pytest.approx(expected_gain(np.array([half, half]), 0.001, 2))
    # A third label evicts the first (window of 2): at x=1 now k = (0, e^-½ + e^-½).
    decider.learn(column(2.0), np.array([1]))
    _, gains = decider.decide(unsure(1), features=column(1.0))
    assert gains[0] == pytest.approx(expected_gain(np.array([0.0, 2 * half]), 0.001, 2))
    # Labels of classes the model has no column for yet widen the frequency vector.
    decider.learn(column(1.0), np.array([2]))
    _, gains = decider.decide(unsure(1), features=column(1.0))
    assert gains[0] == pytest.approx(expected_gain(np.array([0.0, half, 1.0]), 0.001, 2))


def test_pal_mean_criterion_bandwidth_from_the_labeled_window():
    from math import exp, log

    from streamal.decider.strategies.pal import expected_gain

    # bandwidth=nan: 1/(2σ²) = (N - 1) ln((N - 1)/δ²) / (4 N Σ var), δ² = 2e-12.
    # Labels at x=0 and x=2: N = 2, var = 1 → 2σ² = 8 / ln(5e11); at x=1, k = (e^(-1/2σ²), same).
    mean_criterion = PAPER | {"bandwidth": float("nan")}
    decider = Decider("pal", 0.5, n_features=1, **mean_criterion, **NO_BUDGET_LIMIT)
    decider.learn(column(0.0, 2.0), np.array([0, 1]))
    _, gains = decider.decide(unsure(1), features=column(1.0))
    near = exp(-log(5e11) / 8)
    assert gains[0] == pytest.approx(expected_gain(np.array([near, near]), 0.001, 2))
    # A third label at x=1: N = 3, var = 2/3 → 2σ² = 4·3·(2/3) / (2 ln(1e12)) = 4 / ln(1e12).
    decider.learn(column(1.0), np.array([0]))
    width = 4 / log(1e12)
    assert decider.state[int(decider.params[L.REGION]) + 2] == pytest.approx(width)
    _, gains = decider.decide(unsure(1), features=column(1.0))
    far = exp(-1 / width)
    assert gains[0] == pytest.approx(expected_gain(np.array([1 + far, far]), 0.001, 2))
    # One label has no spread: σ = 1 until a second one arrives.
    single = Decider("pal", 0.5, n_features=1, **mean_criterion, **NO_BUDGET_LIMIT)
    single.learn(column(3.0), np.array([1]))
    assert single.state[int(single.params[L.REGION]) + 2] == 2.0


def test_committee_measures_by_hand():
    from streamal.decider.measures import KL_CONSENSUS, VOTE_ENTROPY, disagreement

    # Five members, three classes, votes 2 : 2 : 1 → H = -(2 · 0.4 ln 0.4 + 0.2 ln 0.2) / ln 3.
    members = np.array(
        [[0.5, 0.3, 0.2], [0.6, 0.2, 0.2], [0.1, 0.8, 0.1], [0.3, 0.4, 0.3], [0.2, 0.2, 0.6]]
    )
    h = -(2 * 0.4 * np.log(0.4) + 0.2 * np.log(0.2)) / np.log(3)
    assert disagreement(VOTE_ENTROPY, members) == pytest.approx(h)
    # KL to the consensus: p̄ = (0.6, 0.4); KL((.8,.2) || p̄) = .8 ln(4/3) + .2 ln(1/2),
    # KL((.4,.6) || p̄) = .4 ln(2/3) + .6 ln(3/2); their mean over ln 2.
    pair = np.array([[0.8, 0.2], [0.4, 0.6]])
    first = 0.8 * np.log(0.8 / 0.6) + 0.2 * np.log(0.2 / 0.4)
    second = 0.4 * np.log(0.4 / 0.6) + 0.6 * np.log(0.6 / 0.4)
    assert disagreement(KL_CONSENSUS, pair) == pytest.approx((first + second) / 2 / np.log(2))
    # Unanimous members disagree by nothing; untrained ones (all zero) abstain.
    assert disagreement(KL_CONSENSUS, np.array([[0.7, 0.3], [0.7, 0.3]])) == pytest.approx(0.0)
    assert disagreement(VOTE_ENTROPY, np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])) == 1.0
    assert disagreement(VOTE_ENTROPY, np.zeros((3, 2))) == 1.0  # nobody knows anything
    assert disagreement(VOTE_ENTROPY, np.array([[0.6, 0.4]])) == 0.0  # one member: no spread


def test_qbc_variable_threshold_on_disagreement():
    # Disagreements (vote entropy, 2 members, 2 classes): split = 1, agree = 0.
    # θ: 0.5 → split: 1 > 0.5, query, θ 0.495 → agree: 0 > 0.505? no, θ 0.49995
    # → split: query, θ 0.4949505 → agree: no.
    split = [[0.9, 0.1], [0.3, 0.7]]
    agree = [[0.9, 0.1], [0.6, 0.4]]
    committee = np.array([split, agree, split, agree])
    decider = Decider("qbc", 0.5, theta=0.5, **NO_BUDGET_LIMIT)
    queried, scores = decider.decide(committee.mean(axis=1), committee=committee)
    assert scores.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert queried.tolist() == [True, False, True, False]
    assert decider.threshold == pytest.approx(0.5 * 0.99 * 1.01 * 0.99 * 1.01)


def test_committee_measure_composes_with_other_rules_and_is_required():
    committee = np.array([[[0.9, 0.1], [0.3, 0.7]], [[0.9, 0.1], [0.6, 0.4]]])
    decider = Decider("quantile_uncertainty", 0.5, measure="kl_consensus")
    assert decider.needs_committee and not Decider("qbc", measure="margin").needs_committee
    _, scores = decider.decide(committee.mean(axis=1), committee=committee)
    assert scores[0] > scores[1] > 0.0
    with pytest.raises(ValueError, match="needs the committee"):
        decider.decide(committee.mean(axis=1))
    with pytest.raises(ValueError, match=r"shape \(2, members, classes\)"):
        decider.decide(committee.mean(axis=1), committee=committee[0])


def test_pal_model_posterior_splits_the_label_count():
    from streamal.decider.strategies.pal import expected_gain

    # Labels at x=0 (class 0) and x=2 (class 1); at x=1 the kernel count is n = 2 e^-½,
    # split by the model's (0.8, 0.2): k = (1.6 e^-½, 0.4 e^-½).
    paper_but_posterior = PAPER | {"model_posterior": 1}
    decider = Decider("pal", 0.5, n_features=1, **paper_but_posterior, **NO_BUDGET_LIMIT)
    decider.learn(column(0.0, 2.0), np.array([0, 1]))
    _, gains = decider.decide(np.array([[0.8, 0.2]]), features=column(1.0))
    n = 2 * np.exp(-0.5)
    assert gains[0] == pytest.approx(expected_gain(np.array([0.8 * n, 0.2 * n]), 0.001, 2))
    # An untrained model (no probabilities) leaves the kernel class frequencies alone.
    _, gains = decider.decide(np.zeros((1, 2)), features=column(1.0))
    half = np.exp(-0.5)
    assert gains[0] == pytest.approx(expected_gain(np.array([half, half]), 0.001, 2))


def test_pal_learn_refuses_bad_labels_and_others_ignore_it():
    decider = Decider("pal", 0.1, n_features=2)
    for classes in (np.array([-1]), np.array([[0]])):
        with pytest.raises(ValueError, match="class indices"):
            decider.learn(np.zeros((1, 2)), classes)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        decider.learn(np.zeros((1, 2)), np.array([0, 1]))
    split = Decider("split", 0.1)
    before = split.state.copy()
    split.learn(np.zeros((1, 2)), np.array([0]))  # not a learning rule: nothing changes
    assert not split.needs_labels and np.array_equal(split.state, before)
