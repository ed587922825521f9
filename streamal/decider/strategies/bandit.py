"""Bandit: an online choice between query rules, learned on the stream from the answers."""

from __future__ import annotations

import math
from typing import ClassVar

import numba
import numpy as np

from streamal.decider import budget, pending_window
from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.rng import next_uniform

RULE = 13
#: share of the budget asked uniformly at random (benchmarks/RESULTS.md, "Deployed accuracy")
RANDOM_SHARE = 0.2
#: labels spent before the random share is whole: the first labels go to the rules, which
#: an untrained model gains most from (at a 1 % budget a whole share from the start costs
#: 1.3 points of accuracy, this ramp nothing; benchmarks/RESULTS.md, "Deployed accuracy")
RAMP = 200.0
#: labels owed to the budget at which the rules' chances of being followed are doubled
#: (benchmarks/RESULTS.md, "Paying back owed labels")
CATCH_UP = 10.0

# The strategy's region of the state: K log-weights, the answers' mean error r̄ and their
# count, then a ring of receipts, three slots per query: (advice bits, p, model confidence).


@numba.njit(cache=True, nogil=True)
def choice_probabilities(params: np.ndarray, state: np.ndarray) -> np.ndarray:
    """``π_e = (1 - γ) softmax(log w)_e + γ / K``: the chance of following rule ``e``.

    >>> import numpy as np
    >>> from streamal.decider import layout as L
    >>> params = np.zeros(L.N_PARAMS); params[L.BANDIT_ARMS] = 2; params[L.BANDIT_GAMMA] = 0.2
    >>> params[L.REGION] = 0
    >>> state = np.array([math.log(3.0), 0.0])  # weights 3 : 1
    >>> choice_probabilities(params, state).round(3).tolist()  # 0.8 * (0.75, 0.25) + 0.1
    [0.7, 0.3]
    """
    arms = int(params[L.BANDIT_ARMS])
    base = int(params[L.REGION])
    top = state[base]
    for e in range(1, arms):
        top = max(top, state[base + e])
    total = 0.0
    out = np.empty(arms)
    for e in range(arms):
        out[e] = math.exp(state[base + e] - top)
        total += out[e]
    gamma = params[L.BANDIT_GAMMA]
    for e in range(arms):
        out[e] = (1.0 - gamma) * out[e] / total + gamma / arms
    return out


@numba.njit(cache=True, nogil=True)
def decide(
    proba: np.ndarray,
    advice: np.ndarray,
    features: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    rng: np.ndarray,
    queried: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Ask each event with probability ``p = f b + (1 - f) c Σ π_e`` over the rules advising it.

    ``advice`` (n × K booleans) holds each rule's own decision; ``f`` is the
    random share, the share of the budget ``b`` asked uniformly at random,
    which grows with the labels spent ``q`` up to the ramp ``R``:
    ``f = f_max min(1, q / R)``. ``c = 1 + min(1, o / C)`` pays back the
    ``o = b n - q`` labels owed after ``n`` events, if any, by the rules' own
    picks: at the catch-up ``C`` labels owed, their chances are doubled.
    The hard cap (with its start-up or drift reserve) and delay-aware
    blocking apply on top. Every query leaves a receipt, ``(advice bits, p,
    the model's confidence)``, at its query number in a ring, for
    :func:`credit` to find when its answer comes.
    """
    arms = int(params[L.BANDIT_ARMS])
    receipts = int(params[L.BANDIT_RECEIPTS])
    ring = int(params[L.REGION]) + arms + 2
    pi = choice_probabilities(params, state)
    delay_aware = params[L.PENDING_EVENTS] > 0.0
    for i in range(advice.shape[0]):
        share = params[L.BANDIT_RANDOM_SHARE]
        spent = budget.spent(state)
        if spent < params[L.BANDIT_RAMP]:
            share *= spent / params[L.BANDIT_RAMP]
        floor = share * params[L.BUDGET]
        # The cap clips the mixture's spending from above only, so labels the rules happen
        # not to ask for would be lost to the budget: owed labels raise the rules' chances
        # instead, so that their own picks pay them back.
        owed = params[L.BUDGET] * (state[L.SEEN] + 1.0) - spent
        boost = 1.0
        if owed > 0.0 and params[L.BANDIT_CATCH_UP] > 0.0:
            boost += min(1.0, owed / params[L.BANDIT_CATCH_UP])
        p = 0.0
        bits = 0.0
        bit = 1.0
        for e in range(arms):
            if advice[i, e]:
                p += pi[e]
                bits += bit
            bit *= 2.0
        # The boost, or rounding, may take p past 1.
        p = min(1.0, floor + (1.0 - share) * p * boost)
        scores[i] = p
        state[L.SEEN] += 1.0
        now = state[L.SEEN]
        ask = p > 0.0 and next_uniform(rng) < p
        if ask and delay_aware:
            ask = not pending_window.is_pending(features[i], now, params, state)
        if ask:
            ask = budget.within_cap(params, state)
        if ask:
            slot = ring + 3 * (int(state[L.QUERIED]) % receipts)
            state[slot] = bits
            state[slot + 1] = p
            state[slot + 2] = np.max(proba[i]) if proba.shape[1] else 0.0
            if delay_aware:
                pending_window.remember_query(features[i], now, params, state)
        budget.record(params, state, ask)
        queried[i] = ask


@numba.njit(cache=True, nogil=True)
def credit(numbers: np.ndarray, errors: np.ndarray, params: np.ndarray, state: np.ndarray) -> None:
    """Reward the rules that advised answered queries (EXP4 with the RAL reward).

    The reward of asking is ``r - r̄``: ``r`` is 1 when the model's
    prediction at query time was wrong (the label taught it something), ``r̄``
    the running mean of ``r`` over answers, so a rule gains when its queries
    are more often useful than the average query. Not asking earns 0. Each
    rule that advised the query is credited the importance-weighted estimate
    ``η (r - r̄) / p``; every answer also pulls the log-weights a share
    ``forget`` back toward even, so a rule that was poor before a drift can
    win again. Answers whose receipt has left the ring, or came already, are
    ignored.
    """
    arms = int(params[L.BANDIT_ARMS])
    receipts = int(params[L.BANDIT_RECEIPTS])
    base = int(params[L.REGION])
    ring = base + arms + 2
    eta = params[L.BANDIT_ETA]
    keep = 1.0 - params[L.BANDIT_FORGET]
    for j in range(numbers.shape[0]):
        number = numbers[j]
        if number < 0 or number >= state[L.QUERIED] or state[L.QUERIED] - number > receipts:
            continue
        slot = ring + 3 * (number % receipts)
        p = state[slot + 1]
        if p <= 0.0:
            continue
        state[slot + 1] = 0.0
        bits = np.int64(state[slot])
        r = 1.0 if errors[j] else 0.0
        if params[L.BANDIT_REWARD] == 1.0:
            advantage = r - (1.0 - state[slot + 2])
        else:
            advantage = r - state[base + arms]
        # The baseline is a running mean that forgets at the same pace as the weights.
        state[base + arms + 1] += 1.0
        span = min(state[base + arms + 1], 1.0 / max(params[L.BANDIT_FORGET], 1e-12))
        state[base + arms] += (r - state[base + arms]) / span
        for e in range(arms):
            state[base + e] *= keep
            if (bits >> e) & 1:
                state[base + e] += eta * advantage / p


class Bandit(Strategy):
    """Learn on the stream which query rule pays off, and follow it (a meta-strategy).

    No single published rule is best on every stream and budget; this one
    runs several (:attr:`arms`, each pacing itself to the budget with its own
    thresholds) side by side and, for every event, asks with probability
    ``p = f b + (1 - f) c Σ π_e`` over the rules that would ask, where ``π``
    are exponential weights mixed with a share ``γ`` of even choice (EXP4,
    Auer et al. 2002). Since each rule asks for about ``b`` of the events, so
    does the mixture. The random share ``f`` of the budget gives every event
    a known chance of being asked, however sure the model is: the answers,
    weighed by ``1 / p``, are then a fair sample of the whole stream, which
    is what the deployed-accuracy estimate rests on
    (:mod:`streamal.deployed_accuracy`), and the model sees some of the
    events the rules would never pick. The share grows to ``f`` over the first
    ``ramp`` labels, which an untrained model gains most from when the rules
    pick them. The rules pace themselves, each to the budget, but not the
    mixture's actual queries, so these drift around ``b n``; the cap clips
    them from above, and labels owed (``o = b n - q``, if positive) raise the
    rules' chances by ``c = 1 + min(1, o / C)``, doubled at the catch-up ``C``,
    so that the mixture spends its budget on short streams too. The hard cap
    (always on) keeps every prefix within ``floor(b n) + 1``, except that the
    first ``w`` events may borrow ``w`` events' labels, paid back right after
    (for the same reason; ``hard_cap=True`` turns this off).

    The reward is label-efficient, as in RAL (Wassermann, Cuvelier & Casas
    2019): an answer rewards the rules that advised the query when the model
    had the event wrong, and costs them when it had it right, relative to the
    running mean (see :func:`credit`). Answers find their query by its
    number (the engine passes it, see :meth:`streamal.decider.Decider.credit`),
    so late, lost or reordered labels are harmless.

    Parameters
    ----------
    eta
        Learning rate ``η`` of the weights.
    gamma
        Share ``γ`` of the choice spread evenly over the rules (exploration).
    forget
        Pull of the log-weights toward even per answer (tracks drift).
    receipts
        How many of the latest queries can still be credited when answered.
    reward
        0: RAL's ``r - r̄``; 1: the surprise ``r - (1 - confidence)``, which
        credits a rule for finding where the model is wrong *and sure*
        (tried in ``benchmarks/RESULTS.md``'s tuning table; not better).
    random_share
        Share ``f`` of the budget asked uniformly at random (chosen in
        ``benchmarks/RESULTS.md``, "Deployed accuracy": the estimate's error
        shrinks as ``1 / √f``, the model's accuracy a little as ``f`` grows).
    ramp
        Labels spent before the random share is whole; it grows in proportion
        until then, so the first labels, which an untrained model gains most
        from, go to the rules.
    catch_up
        Labels owed to the budget at which the rules' chances of being
        followed are doubled (in proportion below it; 0 turns paying back
        off).

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("bandit", budget=0.1, seed=1)
    >>> proba = np.random.default_rng(0).dirichlet([2, 2], size=5_000)
    >>> queried, p = decider.decide(proba)
    >>> decider.labels_spent <= 0.1 * 5_000 + 1, bool(p[queried].min() > 0)
    (True, True)

    If the model erred on exactly the queries the third rule advised (bit 2
    of each receipt, kept after the rules' weights in the decider's state),
    the bandit comes to follow that rule:

    >>> from streamal.decider import layout as L
    >>> numbers = np.arange(decider.labels_spent)
    >>> ring = int(decider.params[L.REGION]) + len(decider.arms) + 2
    >>> advised = decider.state[ring + 3 * numbers].astype(np.int64)
    >>> decider.credit(numbers, errors=(advised & 0b100) > 0)
    >>> decider.arm_weights().round(2).tolist()
    [0.03, 0.03, 0.93]

    References
    ----------
    Auer, P., Cesa-Bianchi, N., Freund, Y., Schapire, R. E. (2002). The
    nonstochastic multiarmed bandit problem. SIAM J. Computing 32(1), 48–77.

    Wassermann, S., Cuvelier, T., Casas, P. (2019). RAL – Improving
    stream-based active learning by reinforcement learning. ECML-PKDD
    Workshop on Interactive Adaptive Learning, 32–47.

    """

    name = "bandit"
    rule = RULE
    #: the query rules it chooses between, each with its paper's defaults
    arms: ClassVar[tuple[str, ...]] = ("variable_uncertainty", "split", "quantile_uncertainty")
    parameters = {
        "eta": (L.BANDIT_ETA, 0.3),
        "gamma": (L.BANDIT_GAMMA, 0.1),
        "forget": (L.BANDIT_FORGET, 0.01),
        "receipts": (L.BANDIT_RECEIPTS, 4096.0),
        "reward": (L.BANDIT_REWARD, 0.0),
        "random_share": (L.BANDIT_RANDOM_SHARE, RANDOM_SHARE),
        "ramp": (L.BANDIT_RAMP, RAMP),
        "catch_up": (L.BANDIT_CATCH_UP, CATCH_UP),
    }

    @classmethod
    def region_size(cls, params: np.ndarray) -> int:
        return len(cls.arms) + 2 + 3 * int(params[L.BANDIT_RECEIPTS])
