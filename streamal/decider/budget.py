"""Budget managers: whether the budget lets the decider query this event.

``estimated``
    Žliobaitė et al. (2014): the spending over roughly the last ``w`` events is
    estimated as ``u_t / w`` with ``u_t = u_{t-1} (w - 1) / w + 1[queried]``;
    a query is allowed while ``u_t / w < b``.
``none``
    No gate: the rule's own rate is the budget (random sampling asks with
    probability ``b``, so it spends ``b`` of the events, where the estimated
    gate, which only ever holds back, leaves a tenth of it unspent).
``biqf``
    Kottke, Krempl & Spiliopoulou (2015), balanced incremental quantile filter:
    the utility must reach the ``1 - b`` quantile of the last ``w`` utilities,
    lowered (raised) by the range of the window times the labels still owed
    (overspent) over ``w_tol``. A utility equal to that threshold is queried only
    while labels are owed, so a window of equal utilities cannot overspend.

The hard cap is a switch on top of either: at every prefix of ``n`` events at
most ``floor(b n) + 1`` labels are spent, checked in exact arithmetic.
Drift-aware spending turns the hard cap on and lends it a reserve for a
burst of ``w`` events after each drift: there, up to ``b (n + w)`` labels.
The burst borrows at most one window's labels, paid back after it, so the
long-run fraction still holds the budget.

>>> import numpy as np
>>> from streamal.decider import layout as L
>>> params = np.zeros(L.N_PARAMS); params[L.BUDGET] = 0.1; params[L.WINDOW] = 100
>>> state = np.zeros(L.N_SCALARS)
>>> allows_estimated(params, state)
True
>>> record(params, state, True)  # one label: u = 1, spent estimate 1/100
>>> float(state[L.ESTIMATE]), allows_estimated(params, state)
(1.0, True)
>>> state[L.ESTIMATE] = 10.0  # ten labels in the last hundred events: 10 % spent
>>> allows_estimated(params, state)
False

"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np

from streamal.decider import layout as L

__all__ = [
    "BIQF",
    "BUDGET_MANAGERS",
    "ESTIMATED",
    "NONE",
    "allows_biqf",
    "allows_estimated",
    "at_most_budget",
    "budget_fraction",
    "record",
    "spent",
    "within_cap",
]

ESTIMATED = 0
BIQF = 1
NONE = 2

#: CLI name → budget-manager code.
BUDGET_MANAGERS = {"estimated": ESTIMATED, "biqf": BIQF, "none": NONE}


@numba.njit(cache=True, nogil=True, inline="always")
def at_most_budget(labels: float, params: np.ndarray, events: float) -> bool:
    """Whether ``labels <= b * events``, exactly, with ``b`` as the fraction the user wrote.

    Counting in whole numbers (``labels · den <= num · events``, see
    :func:`budget_fraction`) avoids the float product landing a hair under a
    whole number, which would make a budget of 0.3 skip the 10th event.

    >>> import numpy as np
    >>> from streamal.decider import layout as L
    >>> params = np.zeros(L.N_PARAMS)
    >>> params[L.BUDGET_NUMERATOR], params[L.BUDGET_DENOMINATOR] = budget_fraction(0.3)
    >>> at_most_budget(3.0, params, 10.0), at_most_budget(4.0, params, 10.0)
    (True, False)
    """
    numerator = np.int64(params[L.BUDGET_NUMERATOR])
    denominator = np.int64(params[L.BUDGET_DENOMINATOR])
    return np.int64(labels) * denominator <= numerator * np.int64(events)


def budget_fraction(budget: float) -> tuple[int, int]:
    """The budget as ``(numerator, denominator)``, never above the decimal the user wrote.

    Denominators stay at most 10⁶, so whole-number counting is exact for 9·10¹²
    events.

    >>> budget_fraction(0.1), budget_fraction(0.3), budget_fraction(0.123456789)
    ((1, 10), (3, 10), (123456, 1000000))
    """
    written = Fraction(repr(float(budget)))
    if written.denominator <= 10**6:
        return written.numerator, written.denominator
    return math.floor(written * 10**6), 10**6


@numba.njit(cache=True, nogil=True)
def spent(state: np.ndarray) -> float:
    """Labels spent: the queries made, less those a cost or answer budget vetoed after."""
    return state[L.QUERIED] - state[L.REFUNDED]


@numba.njit(cache=True, nogil=True)
def within_cap(params: np.ndarray, state: np.ndarray) -> bool:
    """One more label keeps the prefix within the cap (``n`` counts this event).

    Hard cap: at most ``floor(b n) + 1`` labels, i.e. ``q <= b n`` since ``q``
    is a whole number. In a drift burst: ``q + 1 <= b (n + w)``.
    """
    if state[L.SEEN] <= state[L.BURST_UNTIL]:
        return at_most_budget(spent(state) + 1.0, params, state[L.SEEN] + params[L.CAP_RESERVE])
    # q + 1 <= floor(b n) + 1  <=>  q <= b n, since q is a whole number.
    return at_most_budget(spent(state), params, state[L.SEEN])


@numba.njit(cache=True, nogil=True, inline="always")
def allows_estimated(params: np.ndarray, state: np.ndarray) -> bool:
    return state[L.ESTIMATE] / params[L.WINDOW] < params[L.BUDGET]


@numba.njit(cache=True, nogil=True)
def _window_insert(state: np.ndarray, w: int, utility: float) -> None:
    """Push ``utility`` into the ring and keep the sorted copy sorted (O(w) shifts)."""
    ring = L.N_SCALARS
    sorted_ = L.N_SCALARS + w
    count = int(state[L.WINDOW_COUNT])
    head = int(state[L.WINDOW_HEAD])
    if count == w:
        old = state[ring + head]
        i = 0
        while state[sorted_ + i] != old:
            i += 1
        for j in range(i, count - 1):
            state[sorted_ + j] = state[sorted_ + j + 1]
        count -= 1
    state[ring + head] = utility
    state[L.WINDOW_HEAD] = (head + 1) % w
    i = count
    while i > 0 and state[sorted_ + i - 1] > utility:
        state[sorted_ + i] = state[sorted_ + i - 1]
        i -= 1
    state[sorted_ + i] = utility
    state[L.WINDOW_COUNT] = count + 1


@numba.njit(cache=True, nogil=True, inline="always")
def even_share(params: np.ndarray) -> float:
    """The share of the budget a regression rule asks at an even pace (0 for the others).

    A decider pickled before the slot existed has a shorter params array, and numba does
    not check bounds: there the share is 0.
    """
    return params[L.EVEN_SHARE] if params.shape[0] > L.EVEN_SHARE else 0.0


@numba.njit(cache=True, nogil=True)
def allows_biqf(params: np.ndarray, state: np.ndarray, utility: float) -> bool:
    if math.isnan(utility):
        # An unknown utility (a regression model that gave no σ) cannot be ranked: it stays
        # out of the window, and is let through only while labels are owed.
        return params[L.BUDGET] * state[L.SEEN] - spent(state) > 0.0
    w = int(params[L.BIQF_WINDOW])
    _window_insert(state, w, utility)
    sorted_ = L.N_SCALARS + w
    count = int(state[L.WINDOW_COUNT])
    budget = params[L.BUDGET]
    # numpy's default ("linear") quantile of the window at level 1 - b, or 1 - (1 - f) b
    # when a share f of the budget is asked at an even pace instead (the regression rules).
    level = budget * (1.0 - even_share(params))
    position = (1.0 - level) * (count - 1)
    lo = math.floor(position)
    hi = min(lo + 1, count - 1)
    low_value = state[sorted_ + lo]
    theta = low_value + (position - lo) * (state[sorted_ + hi] - low_value)
    spread = state[sorted_ + count - 1] - state[sorted_]
    labels_owed = budget * state[L.SEEN] - spent(state)
    balanced = theta - spread * labels_owed / params[L.BIQF_TOLERANCE]
    # Kottke's rule is u >= θ_bal; on a tie only the count can decide, or a window of equal
    # utilities (an untrained model, a constant stream) would query every event.
    return utility > balanced or (utility == balanced and labels_owed > 0.0)


@numba.njit(cache=True, nogil=True)
def record(params: np.ndarray, state: np.ndarray, queried: bool) -> None:
    """Book the decision for this event into the spending counters."""
    w = params[L.WINDOW]
    state[L.ESTIMATE] = state[L.ESTIMATE] * (w - 1.0) / w + (1.0 if queried else 0.0)
    if queried:
        state[L.QUERIED] += 1.0
