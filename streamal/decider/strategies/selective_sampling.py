"""Selective sampling: query with a probability that falls with the model's margin."""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.measures import top_two
from streamal.decider.rng import next_uniform

RULE = 6


@numba.njit(cache=True, nogil=True, inline="always")
def query_probability(row: np.ndarray, params: np.ndarray) -> float:
    """``b / (b + |p|)`` with the multi-class margin ``p = max_y P(y|x) - 1/C``."""
    b = params[L.SELECTIVE_B]
    if math.isnan(b):
        b = params[L.BUDGET]
    classes = max(row.shape[0], 2)
    margin = abs(top_two(row)[0] - 1.0 / classes)
    return b / (b + margin)


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    return next_uniform(rng) < query_probability(row, params)


class SelectiveSampling(Strategy):
    """Query with probability ``b / (b + |p|)``, ``p`` the model's margin.

    Rule (Cesa-Bianchi, Gentile & Zaniboni 2006), in the multi-class form used
    by MOA: ``p = max_y P(y|x) - 1/C``, query with probability
    ``b / (b + |p|)``. A sure model (large ``|p|``) is rarely asked; a model
    at chance always is. ``b`` defaults to the budget, as in MOA.

    Parameters
    ----------
    b
        Sampling parameter; ``nan`` (default) uses the budget.

    Examples
    --------

    With two classes and ``b = 0.1``, a row at ``(0.6, 0.4)`` has
    ``p = 0.1`` and is queried with probability ``0.1 / 0.2 = 0.5``:

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("selective_sampling", budget=0.1, b=0.1, window=1_000_000, seed=0)
    >>> queried, _ = decider.decide(np.tile([0.6, 0.4], (20_000, 1)))
    >>> round(float(queried.mean()), 2)
    0.5

    References
    ----------
    Cesa-Bianchi, N., Gentile, C., Zaniboni, L. (2006). Worst-case analysis of
    selective sampling for linear classification. JMLR 7, 1205–1230.

    """

    name = "selective_sampling"
    rule = RULE
    parameters = {"b": (L.SELECTIVE_B, math.nan)}
