"""Variable uncertainty: a confidence threshold that adapts to spend the budget."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy

RULE = 3


@numba.njit(cache=True, nogil=True, inline="always")
def adapt_threshold(params: np.ndarray, state: np.ndarray, queried: bool) -> None:
    """Narrow the threshold after a query (``θ (1 - s)``), widen it otherwise (``θ (1 + s)``)."""
    if queried:
        state[L.THETA] *= 1.0 - params[L.STEP]
    else:
        state[L.THETA] *= 1.0 + params[L.STEP]


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    queried = 1.0 - uncertainty < state[L.THETA]
    adapt_threshold(params, state, queried)
    return queried


class VariableUncertainty(Strategy):
    """Query when the confidence is below a threshold that adapts to the stream.

    Rule (Žliobaitė et al. 2014, Algorithm "Variable uncertainty"): while the
    budget allows, query when ``max_y P(y|x) < θ``; then ``θ ← θ (1 - s)``
    after a query and ``θ ← θ (1 + s)`` otherwise. The threshold therefore
    tracks the model's confidence, and the budget gets spent even when the
    model grows confident everywhere.

    Parameters
    ----------
    theta
        Initial threshold ``θ₀`` (paper: 1).
    step
        Threshold step ``s`` (paper: 0.01).

    Examples
    --------

    ``θ`` goes 1 → 0.99 (query at 0.6 < 1) → 0.9999 (no query at 0.995):

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("variable_uncertainty", budget=0.5, window=1_000_000)
    >>> decider.decide(np.array([[0.6, 0.4], [0.995, 0.005], [0.99, 0.01]]))[0].tolist()
    [True, False, True]
    >>> round(decider.threshold, 6)
    0.989901

    References
    ----------
    Žliobaitė, I., Bifet, A., Pfahringer, B., Holmes, G. (2014). Active learning
    with drifting streaming data. IEEE TNNLS 25(1), 27–39.

    """

    name = "variable_uncertainty"
    rule = RULE
    parameters = {"theta": (L.THETA0, 1.0), "step": (L.STEP, 0.01)}
