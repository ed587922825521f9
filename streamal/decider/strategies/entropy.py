"""Entropy sampling: river's ``EntropySampler`` rule, under a real budget."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.measures import ENTROPY
from streamal.decider.rng import next_uniform

RULE = 7


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    return next_uniform(rng) < uncertainty ** params[L.DISCOUNT]


class EntropySampling(Strategy):
    """Query with probability ``H(x)^d``, ``H`` the normalised entropy of the prediction.

    Rule (river's ``active.EntropySampler``): the entropy over the classes with
    non-zero probability, divided by its maximum, raised to the discount
    factor ``d`` (river: 3), is the query probability. river spends whatever
    that rule asks for; here the budget manager caps it at the budget.

    Parameters
    ----------
    discount
        Exponent ``d``; larger asks less often (river: 3).

    Examples
    --------

    A tie between two classes has ``H = 1`` and is always asked while budget
    remains; a certain prediction never is:

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("entropy", budget=0.5, window=1_000_000, seed=0)
    >>> decider.decide(np.array([[0.5, 0.5], [1.0, 0.0]]))[0].tolist()
    [True, False]

    """

    name = "entropy"
    rule = RULE
    measure = ENTROPY
    parameters = {"discount": (L.DISCOUNT, 3.0)}
