"""Delay-aware querying: do not ask again about near-duplicates of queries still unanswered.

With a label delay of ``D`` events, a query made in the last ``D`` events is
still waiting for its label, and the model cannot have learned from it yet. An
event within distance ``r`` (standardised feature units) of such a query would
most likely be asked about for the same reason, so its label would add little:
the decider passes over it and keeps the budget for elsewhere (in the spirit of
Pham et al. 2022 and Castellani et al. 2022 on verification latency).

The recent queries are a ring of feature rows with the event number of each
query, in the decider's state after the strategy's own region:
``[count, head, P rows, P event numbers]``.

>>> import numpy as np
>>> from streamal.decider import Decider
>>> decider = Decider("variable_uncertainty", 0.5, window=10**9, pending_events=10,
...                   pending_radius=0.5, n_features=1)
>>> features = np.array([[0.0], [0.1], [5.0], [0.05]])
>>> decider.decide(np.full((4, 2), 0.5), features=features)[0].tolist()
[True, False, True, False]

"""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.rows import push_row, squared_distance

__all__ = ["capacity", "is_pending", "remember_query"]


def capacity(budget: float, pending_events: int) -> int:
    """Ring size: twice the queries ``D`` events hold at budget ``b``, and a margin for bursts."""
    return 2 * math.ceil(budget * pending_events) + 16


@numba.njit(cache=True, nogil=True)
def is_pending(x: np.ndarray, now: float, params: np.ndarray, state: np.ndarray) -> bool:
    """Whether ``x`` is within ``r`` of a query made in the last ``D`` events."""
    base = int(params[L.PENDING_REGION])
    size = int(params[L.PENDING_SIZE])
    d = x.shape[0]
    rows = base + 2
    times = rows + size * d
    radius2 = params[L.PENDING_RADIUS] * params[L.PENDING_RADIUS]
    for k in range(int(state[base])):
        recent = now - state[times + k] <= params[L.PENDING_EVENTS]
        if recent and squared_distance(state, rows + k * d, x) < radius2:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def remember_query(x: np.ndarray, now: float, params: np.ndarray, state: np.ndarray) -> None:
    """Add a query to the ring, over the oldest once it is full."""
    base = int(params[L.PENDING_REGION])
    size = int(params[L.PENDING_SIZE])
    d = x.shape[0]
    state[base + 2 + size * d + push_row(x, state, base, base + 2, size)] = now
