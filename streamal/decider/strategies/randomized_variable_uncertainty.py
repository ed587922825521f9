"""Randomized variable uncertainty: variable uncertainty with a jittered threshold."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.rng import next_normal
from streamal.decider.strategies.variable_uncertainty import adapt_threshold

RULE = 4


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    jittered = state[L.THETA] * next_normal(rng, 1.0, params[L.DELTA])
    queried = 1.0 - uncertainty < jittered
    adapt_threshold(params, state, queried)
    return queried


class RandomizedVariableUncertainty(Strategy):
    """Variable uncertainty whose threshold is multiplied by ``η ~ N(1, δ)`` per event.

    Rule (Žliobaitė et al. 2014, Algorithm "Uncertainty with randomization"):
    while the budget allows, draw ``η ~ N(1, δ)`` and query when
    ``max_y P(y|x) < θ η``; adapt ``θ`` as variable uncertainty does. The
    randomisation now and then asks about events the model is sure of, which
    is how it notices drift in regions it no longer doubts.

    Parameters
    ----------
    theta
        Initial threshold ``θ₀`` (paper: 1).
    step
        Threshold step ``s`` (paper: 0.01).
    delta
        Standard deviation ``δ`` of the jitter (paper: 1).

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("randomized_variable_uncertainty", budget=0.1, seed=1)
    >>> queried, _ = decider.decide(np.tile([0.8, 0.2], (20_000, 1)))
    >>> bool(abs(queried.mean() - 0.1) < 0.01)
    True

    References
    ----------
    Žliobaitė, I., Bifet, A., Pfahringer, B., Holmes, G. (2014). Active learning
    with drifting streaming data. IEEE TNNLS 25(1), 27–39.

    """

    name = "randomized_variable_uncertainty"
    rule = RULE
    parameters = {"theta": (L.THETA0, 1.0), "step": (L.STEP, 0.01), "delta": (L.DELTA, 1.0)}
