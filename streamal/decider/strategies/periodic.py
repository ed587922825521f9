"""Periodic sampling: a label every ``1/b`` events, deterministic."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.budget import at_most_budget, spent

RULE = 1


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, params: np.ndarray, state, rng) -> bool:
    return at_most_budget(spent(state) + 1.0, params, state[L.SEEN])


class Periodic(Strategy):
    """Query the ``t``-th event whenever ``floor(b t)`` labels are owed and fewer were spent.

    Rule: with ``q`` labels spent after ``t`` events (this one included),
    query when ``q + 1 <= b t``. At ``b = 0.1`` that is events 10, 20, 30…
    It ignores the model; a deterministic sibling of random sampling, useful
    when labels must arrive at an even pace.

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> queried, _ = Decider("periodic", budget=0.25).decide(np.full((12, 2), 0.5))
    >>> (np.flatnonzero(queried) + 1).tolist()
    [4, 8, 12]
    >>> queried, _ = Decider("periodic", budget=0.3, window=1_000_000).decide(np.ones((10, 1)))
    >>> (np.flatnonzero(queried) + 1).tolist()
    [4, 7, 10]

    """

    name = "periodic"
    rule = RULE
    paces_itself = True
    tasks = frozenset({"classification", "regression"})
