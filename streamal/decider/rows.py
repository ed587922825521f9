"""Feature rows kept in a decider's state: rings of fixed-width rows, and distances to them.

The rules that measure where an event lies (DBALStream, CogDQS, PAL, the
density ratio, delay-aware querying) keep recent feature rows in the state
array itself, so that a checkpoint holds them. A ring is a count, the next
slot to write (its head) and ``size`` rows of width ``d``; a rule may keep a
value per row beside it, at the slot :func:`push_row` returns.

>>> import numpy as np
>>> state = np.zeros(2 + 2 * 3)  # count, head, two rows of three
>>> [push_row(np.array([r, r, r]), state, 0, 2, 2) for r in (1.0, 2.0, 3.0)]
[0, 1, 0]
>>> state.tolist()  # the third row over the first
[2.0, 1.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0]
>>> squared_distance(state, 2, np.array([1.0, 2.0, 3.0]))  # (3-1)² + (3-2)² + 0
5.0
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["push_row", "squared_distance"]


@numba.njit(cache=True, nogil=True, inline="always")
def squared_distance(state: np.ndarray, start: int, x: np.ndarray) -> float:
    """``||state[start:start + len(x)] - x||²``; squares keep every comparison of distances."""
    total = 0.0
    for j in range(x.shape[0]):
        diff = state[start + j] - x[j]
        total += diff * diff
    return total


@numba.njit(cache=True, nogil=True, inline="always")
def push_row(x: np.ndarray, state: np.ndarray, counter: int, rows: int, size: int) -> int:
    """Write ``x`` at the head of the ring of ``size`` rows at ``rows``, over the oldest once
    it is full; ``state[counter]`` is its count and ``state[counter + 1]`` its head.

    Returns the slot written, for a value kept beside each row.
    """
    d = x.shape[0]
    head = int(state[counter + 1])
    for j in range(d):
        state[rows + head * d + j] = x[j]
    state[counter] = min(state[counter] + 1.0, size)
    state[counter + 1] = (head + 1) % size
    return head
