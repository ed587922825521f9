"""Quantile uncertainty: the most uncertain share ``b`` of recent events."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider.base import Strategy
from streamal.decider.budget import BIQF

RULE = 8


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    return True


class QuantileUncertainty(Strategy):
    """Leave the choice to the balanced incremental quantile filter over the uncertainty.

    Rule: every event is a candidate; the budget manager (by default the
    balanced incremental quantile filter of Kottke et al. 2015) queries those
    whose uncertainty reaches the ``1 - b`` quantile of the recent window,
    corrected towards the budget. This is uncertainty sampling with a
    self-calibrating threshold.

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> rows = np.random.default_rng(0).dirichlet([1, 1], size=20_000)
    >>> queried, score = Decider("quantile_uncertainty", budget=0.1).decide(rows)
    >>> round(float(queried.mean()), 3)
    0.1
    >>> bool(score[queried].mean() > score[~queried].mean())
    True

    References
    ----------
    Kottke, D., Krempl, G., Spiliopoulou, M. (2015). Probabilistic active
    learning in datastreams. IDA 2015, LNCS 9385, 145–157.

    """

    name = "quantile_uncertainty"
    rule = RULE
    budget_manager = BIQF
