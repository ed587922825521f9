"""Split: a share of the labels by random sampling, the rest by variable uncertainty."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.rng import next_uniform
from streamal.decider.strategies import variable_uncertainty

RULE = 5


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    if next_uniform(rng) < params[L.SPLIT_V]:
        return next_uniform(rng) <= params[L.BUDGET]
    return variable_uncertainty.rule(row, uncertainty, params, state, rng)


class Split(Strategy):
    """Send a share ``v`` of the events to random sampling and the rest to variable uncertainty.

    Rule (Žliobaitė et al. 2014, Algorithm "Split"): while the budget allows,
    draw ``η ~ U[0, 1]``; if ``η < v`` query with probability ``b`` (random
    sampling, threshold untouched), otherwise apply variable uncertainty. The
    random part keeps an unbiased sample for drift detection.

    Parameters
    ----------
    theta
        Initial threshold ``θ₀`` (paper: 1).
    step
        Threshold step ``s`` (paper: 0.01).
    v
        Share of events handled by random sampling (paper: 0.1).

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("split", budget=0.1, seed=3)
    >>> queried, _ = decider.decide(np.tile([0.7, 0.3], (20_000, 1)))
    >>> bool(abs(queried.mean() - 0.1) < 0.01)
    True

    References
    ----------
    Žliobaitė, I., Bifet, A., Pfahringer, B., Holmes, G. (2014). Active learning
    with drifting streaming data. IEEE TNNLS 25(1), 27–39.

    """

    name = "split"
    rule = RULE
    parameters = {"theta": (L.THETA0, 1.0), "step": (L.STEP, 0.01), "v": (L.SPLIT_V, 0.1)}
