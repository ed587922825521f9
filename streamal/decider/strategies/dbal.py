"""DBALStream: margin-based uncertainty, asked only in dense regions of the stream."""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.measures import MARGIN
from streamal.decider.rows import push_row, squared_distance
from streamal.decider.strategies import randomized_variable_uncertainty

RULE = 9


@numba.njit(cache=True, nogil=True)
def observe(x: np.ndarray, params: np.ndarray, state: np.ndarray) -> int:
    """The local density factor of ``x``; then ``x`` joins the sliding window.

    The factor counts the window members whose nearest neighbour ``x`` would
    become (it is closer to them than their nearest neighbour so far), and
    their nearest-neighbour distances shrink to it. ``x`` enters with its
    distance to the closest member (the one it evicts included) and evicts the
    oldest member once the window holds ``w`` events.

    Region: ``[count, head, w feature rows, w nearest-neighbour distances²]``.
    """
    w = int(params[L.OWN_WINDOW])
    d = x.shape[0]
    base = int(params[L.REGION])
    count = int(state[base])
    rows = base + 2
    nearest = rows + w * d
    density = 0
    closest = math.inf
    for k in range(count):
        dist = squared_distance(state, rows + k * d, x)
        if dist < state[nearest + k]:
            state[nearest + k] = dist
            density += 1
        closest = min(closest, dist)
    state[nearest + push_row(x, state, base, rows, w)] = closest
    return density


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, density: int, params: np.ndarray, state, rng) -> bool:
    if density == 0:
        return False
    return randomized_variable_uncertainty.rule(row, uncertainty, params, state, rng)


class DBALStream(Strategy):
    """Randomized variable uncertainty on the margin, for events in dense regions only.

    Rule (Ienco, Žliobaitė & Pfahringer 2014): a sliding window holds the last
    ``w`` events (standardised feature rows, Euclidean distance) and the
    distance of each to its nearest neighbour in the window. An event's local
    density factor is the number of members it would become the nearest
    neighbour of; it is *dense* when that number is positive. The window is
    updated with every event. While the budget allows, a dense event is
    queried when its margin ``P(y₁|x) - P(y₂|x) < θ η`` with ``η ~ N(1, δ)``;
    ``θ ← θ (1 - s)`` after a query, ``θ (1 + s)`` otherwise. Sparse events
    (outliers, events in thinly populated regions) are never asked.

    Deviations: the budget manager is Žliobaitė's estimated budget (or any other
    here) rather than the running fraction ``u / t < b`` of the paper; the
    threshold moves only when a dense event's margin is compared with it
    (scikit-activeml's ``DensityBasedSplitBudgetManager`` also widens it on
    sparse events).

    Parameters
    ----------
    theta
        Initial margin threshold ``θ₀`` (1).
    step
        Threshold step ``s`` (0.01).
    delta
        Standard deviation ``δ`` of the threshold randomisation (1).
    window_size
        Events in the density window (100).

    Examples
    --------

    An event far from everything seen is sparse and is not asked, however
    unsure the model is; one in the middle of the crowd is:

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("dbal", budget=0.5, window=1_000_000, n_features=2, seed=0)
    >>> crowd = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> _ = decider.decide(np.full((4, 2), 0.5), features=crowd)
    >>> unsure = np.full((2, 2), 0.5)
    >>> decider.decide(unsure, features=np.array([[9.0, 9.0], [0.5, 0.5]]))[0].tolist()
    [False, True]

    References
    ----------
    Ienco, D., Žliobaitė, I., Pfahringer, B. (2014). High density-focused
    uncertainty sampling for active learning over evolving stream data.
    BigMine 2014, JMLR W&CP 36, 133–148.

    """

    name = "dbal"
    rule = RULE
    measure = MARGIN
    needs_features = True
    parameters = {
        "theta": (L.THETA0, 1.0),
        "step": (L.STEP, 0.01),
        "delta": (L.DELTA, 1.0),
        "window_size": (L.OWN_WINDOW, 100.0),
    }

    @classmethod
    def region_size(cls, params: np.ndarray) -> int:
        return 2 + int(params[L.OWN_WINDOW]) * (int(params[L.N_FEATURES]) + 1)
