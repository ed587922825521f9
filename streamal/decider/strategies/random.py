"""Random sampling: the baseline every strategy must beat."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.budget import NONE
from streamal.decider.rng import next_uniform

RULE = 0


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    return next_uniform(rng) <= params[L.BUDGET]


class RandomSampling(Strategy):
    """Query an event with probability ``b``, whatever the model thinks of it.

    Rule (Žliobaitė et al. 2014, Algorithm "Random"): draw ``η ~ U[0, 1]``
    and query when ``η <= b``. It ignores the model, so it is the yardstick
    of labels saved: any strategy worth running is more accurate than random
    sampling at the same budget. The paper also gates it with the estimated
    budget manager, which only ever holds back and so leaves about a tenth of
    the budget unspent (8.8 % of 10 %), flattering every strategy compared
    with it; here it spends its budget (budget manager ``none``). The paper's
    version is ``budget_manager="estimated"``.

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("random", budget=0.2, seed=7)
    >>> queried, _ = decider.decide(np.full((10_000, 2), 0.5))
    >>> float(queried.mean())  # a coin with p = 0.2: 20 %, give or take 0.4 points
    0.1966
    >>> gated = Decider("random", budget=0.2, seed=7, budget_manager="estimated")
    >>> float(gated.decide(np.full((10_000, 2), 0.5))[0].mean())  # the paper's: held back
    0.1796

    References
    ----------
    Žliobaitė, I., Bifet, A., Pfahringer, B., Holmes, G. (2014). Active learning
    with drifting streaming data. IEEE TNNLS 25(1), 27–39.

    """

    name = "random"
    rule = RULE
    budget_manager = NONE
    paces_itself = True
    tasks = frozenset({"classification", "regression"})
