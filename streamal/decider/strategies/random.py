"""Random sampling: the baseline every strategy must beat."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
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
    sampling at the same budget.

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("random", budget=0.2, seed=7)
    >>> queried, _ = decider.decide(np.full((10_000, 2), 0.5))
    >>> float(queried.mean())  # the estimated budget holds back a little of the 20 %
    0.1796

    References
    ----------
    Žliobaitė, I., Bifet, A., Pfahringer, B., Holmes, G. (2014). Active learning
    with drifting streaming data. IEEE TNNLS 25(1), 27–39.

    """

    name = "random"
    rule = RULE
