"""The query rule of the regression strategies: a scale-free threshold on an unbounded utility.

Regression utilities (an interval's width, a committee's variance, a
leverage) have no fixed scale and no upper bound, so the confidence
thresholds of classification do not apply. Two ways to pace them, one per
budget manager:

* behind the balanced incremental quantile filter (``biqf``, the default),
  which is scale-free by itself, the rule asks whatever the filter lets
  through (as :mod:`quantile_uncertainty` does);
* behind the ``estimated`` budget, a variable threshold, the mirror of
  Žliobaitė's variable uncertainty: ask when ``u > θ``, then ``θ ← θ (1 + s)``;
  otherwise ``θ ← θ (1 - s)``. Multiplicative steps are scale-free: ``θ``
  moves by the same factor whatever the unit of ``u``. Unless given, ``θ₀`` is
  the first positive utility seen, so the threshold starts on the stream's
  own scale (the fixed ``θ₀ = 1`` of the classification rules would take
  ``ln(10⁶) / s ≈ 1400`` queries to reach a utility of 10⁶ and ask blindly
  meanwhile); a drift restart forgets it again.

A share ``f`` of the budget (``even_share``) can be asked at an even pace
instead, whatever the utility: the event ``t`` is asked when
``⌈f b t⌉ > ⌈f b (t - 1)⌉`` (events 1, 1 + 1/(f b), 1 + 2/(f b)…, the
first at once), and the utility asks for the rest, its quantile filter set
at ``1 - (1 - f) b`` (its count of labels owed still counts every label, so
the whole holds ``b``). A utility rule alone asks where the model is unsure,
and on some streams that is a corner of the feature space the model then
over-learns; labels at an even pace keep every region and every stretch of
the stream in view (on time-ordered streams the recent past is what predicts
best), and give the model its first label at the first event.

The rules always ask under the hard cap (at most ``floor(b n) + 1`` labels
in the first ``n`` events). A utility has no upper bound, and a stretch of
events far above the recent window (a new chick in ChickWeights, a regime
the model has not seen) passes the quantile filter one after the other
faster than its balancing raises the bar: 30 labels in 200 events at a 5 %
budget there, 7.1 % spent over the stream, where the cap spends 5.0 %
(``benchmarks/RESULTS_regression.md``).

An unknown utility (NaN: no σ from the model, fewer than two committee
members) moves neither threshold nor quantile window, and is asked only while
labels are owed (``q < b t`` after ``t`` events and ``q`` labels), so a model
that never gives one is sampled at the budget's even pace rather than never
(which would starve it) or always (which would spend the budget on the first
events). A utility that ties the threshold is asked on the same condition:
an untrained committee agrees exactly (``u = 0`` everywhere), and must still
get its first labels.

>>> import numpy as np
>>> from streamal.decider import layout as L
>>> params = np.zeros(L.N_PARAMS); params[L.BUDGET] = 0.5; params[L.STEP] = 0.1
>>> state = np.zeros(L.N_SCALARS); state[L.THETA] = np.nan; state[L.SEEN] = 1.0
>>> row = np.empty(2); rng = np.zeros(1, dtype=np.uint64)
>>> rule(row, 2.0, False, params, state, rng), float(state[L.THETA])  # θ₀ = 2: a tie, owed
(True, 2.2)
>>> rule(row, 3.0, False, params, state, rng), round(float(state[L.THETA]), 3)  # 3 > 2.2: θ · 1.1
(True, 2.42)
>>> rule(row, 1.0, False, params, state, rng), round(float(state[L.THETA]), 3)  # θ · 0.9
(False, 2.178)
"""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.budget import BIQF, even_share, spent

RULE = 14
#: the share of the budget asked at an even pace unless told otherwise: the turns are the
#: fair sample the deployed-error estimate rests on (:mod:`streamal.deployed_error`); a
#: quarter costs the utility nothing measurable (``benchmarks/RESULTS_regression.md``)
EVEN_SHARE = 0.25
#: the threshold never falls below this, or multiplying could not lift it off zero again
THETA_FLOOR = 1e-300


@numba.njit(cache=True, nogil=True, inline="always")
def labels_owed(params: np.ndarray, state: np.ndarray) -> bool:
    """Whether fewer labels were spent than ``b`` times the events seen (this one included)."""
    return params[L.BUDGET] * state[L.SEEN] - spent(state) > 0.0


@numba.njit(cache=True, nogil=True, inline="always")
def is_turn(rate: float, t: float) -> bool:
    """``⌈r t⌉ > ⌈r (t - 1)⌉``, with a little slack for rounding (``r t`` that is a whole
    number in exact arithmetic must not round up to the next)."""
    slack = 1e-9
    return math.ceil(rate * t - slack) > math.ceil(rate * (t - 1.0) - slack)


@numba.njit(cache=True, nogil=True)
def even_turn(params: np.ndarray, state: np.ndarray) -> bool:
    """Whether this event (``t = state[SEEN]``, counted) is a turn of the even share.

    >>> params = np.zeros(L.N_PARAMS); params[L.BUDGET] = 0.2; params[L.EVEN_SHARE] = 0.5
    >>> state = np.zeros(L.N_SCALARS)
    >>> turns = []
    >>> for t in range(1, 31):
    ...     state[L.SEEN] = t
    ...     turns += [t] if even_turn(params, state) else []
    >>> turns
    [1, 11, 21]
    """
    rate = even_share(params) * params[L.BUDGET]
    return rate > 0.0 and is_turn(rate, state[L.SEEN])


@numba.njit(cache=True, nogil=True)
def even_turns(params: np.ndarray, first: float, n: int) -> np.ndarray:
    """Which of the events ``first + 1 … first + n`` are turns of the even share.

    >>> params = np.zeros(L.N_PARAMS); params[L.BUDGET] = 0.2; params[L.EVEN_SHARE] = 0.5
    >>> np.flatnonzero(even_turns(params, 5.0, 20)).tolist()  # events 11 and 21
    [5, 15]
    """
    rate = even_share(params) * params[L.BUDGET]
    out = np.zeros(n, dtype=np.bool_)
    if rate > 0.0:
        for i in range(n):
            out[i] = is_turn(rate, first + i + 1.0)
    return out


@numba.njit(cache=True, nogil=True)
def rule(
    row: np.ndarray,
    utility: float,
    filtered: bool,
    params: np.ndarray,
    state: np.ndarray,
    rng: np.ndarray,
) -> bool:
    """Decide an event the budget manager let through; ``filtered``: by the quantile filter."""
    if math.isnan(utility):
        return labels_owed(params, state)
    if filtered:
        return True
    theta = state[L.THETA]
    if math.isnan(theta):
        if not utility > 0.0:
            # No scale yet to start the threshold on (an untrained committee agrees exactly).
            return labels_owed(params, state)
        theta = utility
    queried = utility > theta or (utility == theta and labels_owed(params, state))
    if queried:
        theta *= 1.0 + params[L.STEP]
    else:
        theta *= 1.0 - params[L.STEP]
    state[L.THETA] = max(theta, THETA_FLOOR)
    return queried


class UtilityThreshold(Strategy):
    """The shared setup of the regression strategies (see the module's docstring).

    Subclasses name the measure (the utility) and the paper it comes from.

    Parameters
    ----------
    theta
        Initial threshold ``θ₀`` of the ``estimated`` budget manager's
        variable threshold, in the utility's unit; NaN (default): the first
        positive utility.
    step
        Relative threshold step ``s`` (0.01, Žliobaitė's).
    even_share
        Share ``f`` of the budget asked at an even pace, in [0, 1) (0.25;
        0: the utility alone, as in the papers).
    """

    rule = RULE
    budget_manager = BIQF
    tasks = frozenset({"regression"})
    capped = True
    parameters = {
        "theta": (L.THETA0, math.nan),
        "step": (L.STEP, 0.01),
        "even_share": (L.EVEN_SHARE, EVEN_SHARE),
    }

    @classmethod
    def resolve(cls, budget: float, given: dict[str, float]) -> dict[int, float]:
        slots = super().resolve(budget, given)
        theta = slots[L.THETA0]
        if not (math.isnan(theta) or theta > 0.0) or not 0.0 < slots[L.STEP] < 1.0:
            raise ValueError(f"theta of {cls.name!r} must be positive and step in (0, 1)")
        if not 0.0 <= slots[L.EVEN_SHARE] < 1.0:
            raise ValueError(f"even_share of {cls.name!r} must be in [0, 1)")
        return slots
