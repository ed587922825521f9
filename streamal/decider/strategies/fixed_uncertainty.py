"""Fixed uncertainty: query whenever the model's confidence is below a fixed threshold."""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy

RULE = 2


@numba.njit(cache=True, nogil=True, inline="always")
def threshold(row: np.ndarray, params: np.ndarray) -> float:
    """The fixed threshold, or ``1/C + b (1 - 1/C)`` when none was given."""
    theta = params[L.FIXED_THETA]
    if math.isnan(theta):
        classes = max(row.shape[0], 2)
        # 1/C + b (1 - 1/C), with one division instead of two
        theta = (1.0 + params[L.BUDGET] * (classes - 1)) / classes
    return theta


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    return 1.0 - uncertainty < threshold(row, params)


class FixedUncertainty(Strategy):
    """Query when the confidence ``1 - uncertainty`` is below a fixed ``θ``.

    Rule (Žliobaitė et al. 2014, Algorithm "Fixed uncertainty"): with least
    confidence, query when ``max_y P(y|x) < θ``. When ``θ`` is not given it
    is derived from the budget and the number of classes ``C`` as
    ``1/C + b (1 - 1/C)``, the default of scikit-activeml. It cannot adapt: a
    confident model stops asking, so it may spend far less than the budget.

    Parameters
    ----------
    theta
        Confidence threshold; ``nan`` (default) derives it from the budget.

    Examples
    --------

    With ``b = 0.2`` and two classes the threshold is ``0.5 + 0.2 · 0.5 = 0.6``:

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("fixed_uncertainty", budget=0.2, window=1_000_000)
    >>> decider.decide(np.array([[0.55, 0.45], [0.61, 0.39], [0.9, 0.1]]))[0].tolist()
    [True, False, False]

    References
    ----------
    Žliobaitė, I., Bifet, A., Pfahringer, B., Holmes, G. (2014). Active learning
    with drifting streaming data. IEEE TNNLS 25(1), 27–39.

    """

    name = "fixed_uncertainty"
    rule = RULE
    parameters = {"theta": (L.FIXED_THETA, math.nan)}
