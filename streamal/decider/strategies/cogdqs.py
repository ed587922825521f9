"""CogDQS: a cognition window with memory strength gates randomized variable uncertainty."""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.rows import squared_distance
from streamal.decider.strategies import randomized_variable_uncertainty

RULE = 10


@numba.njit(cache=True, nogil=True)
def observe(x: np.ndarray, now: float, params: np.ndarray, state: np.ndarray) -> int:
    """The local density factor of ``x``, the ``now``-th event, in the cognition window.

    Every member whose nearest neighbour ``x`` becomes is reinforced: its count
    ``θ`` goes up by one and its last reinforcement time ``t_x`` becomes now.
    A full window first forgets the member of weakest memory strength
    ``s = exp(-(t - t_x) / (θ + 1))`` at ``t = now`` (Ebbinghaus' forgetting
    curve; the oldest of equals), then ``x`` joins with ``θ = 0``, ``t_x = t``.

    Region: ``[count, size feature rows, size × (nearest distance², θ, t_x)]``,
    members in order of arrival.
    """
    size = int(params[L.OWN_WINDOW])
    d = x.shape[0]
    base = int(params[L.REGION])
    count = int(state[base])
    rows = base + 1
    memory = rows + size * d
    density = 0
    closest = math.inf
    for k in range(count):
        dist = squared_distance(state, rows + k * d, x)
        if dist < state[memory + 3 * k]:
            state[memory + 3 * k] = dist
            state[memory + 3 * k + 1] += 1.0
            state[memory + 3 * k + 2] = now
            density += 1
        closest = min(closest, dist)
    if count == size:
        weakest = 0
        weakest_strength = math.inf
        for k in range(count):
            elapsed = now - state[memory + 3 * k + 2]
            strength = math.exp(-elapsed / (state[memory + 3 * k + 1] + 1.0))
            if strength < weakest_strength:
                weakest = k
                weakest_strength = strength
        # Shift the younger members down so that ties keep resolving towards the oldest.
        for k in range(weakest, count - 1):
            for j in range(d):
                state[rows + k * d + j] = state[rows + (k + 1) * d + j]
            for j in range(3):
                state[memory + 3 * k + j] = state[memory + 3 * (k + 1) + j]
        count -= 1
    for j in range(d):
        state[rows + count * d + j] = x[j]
    state[memory + 3 * count] = closest
    state[memory + 3 * count + 1] = 0.0
    state[memory + 3 * count + 2] = now
    state[base] = count + 1
    return density


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, uncertainty: float, density: int, params: np.ndarray, state, rng) -> bool:
    if density < params[L.DENSITY_THRESHOLD]:
        return False
    return randomized_variable_uncertainty.rule(row, uncertainty, params, state, rng)


class CogDQS(Strategy):
    """Cognitive dual query strategy: a density gate over a forgetting cognition window.

    Rule (Liu et al. 2021/2023): a cognition window of ``size`` events keeps,
    for each member, its distance to its nearest neighbour, how often it has
    been reinforced ``θ`` (an arriving event became its nearest neighbour) and
    when ``t_x``. Its memory strength is ``s = exp(-f (t - t_x))`` with
    ``f = 1 / (θ + 1)``: reinforced members are forgotten slowly, stale ones
    quickly, and a full window forgets the weakest. An event is dense when its
    local density factor (members it becomes the nearest neighbour of) reaches
    ``density_threshold``. While the budget allows, a dense event goes to the
    uncertainty strategy, here randomized variable uncertainty on the
    confidence ``max_y P(y|x)``: query when it is below ``θ η``,
    ``η ~ N(1, δ)``, and adapt ``θ``.

    Deviations: the budget counts every event, dense or not (scikit-activeml's
    ``force_full_budget=True``; otherwise the spent fraction is a fraction of
    the dense events only); the window holds exactly ``size`` members
    (scikit-activeml's holds ``size + 1``); ``θ`` moves only when a dense
    event's confidence is compared with it.

    Parameters
    ----------
    theta
        Initial confidence threshold ``θ₀`` (1).
    step
        Threshold step ``s`` (0.01).
    delta
        Standard deviation ``δ`` of the threshold randomisation (1).
    cognition_window_size
        Members of the cognition window (10).
    density_threshold
        Local density factor an event must reach to be asked (1).

    Examples
    --------

    Events that take over a member's nearest neighbour are asked; the first
    event (nothing to compare with) and one far from every member are not:

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("cogdqs", budget=0.5, window=1_000_000, n_features=1, delta=1e-9)
    >>> features = np.array([[0.0], [1.0], [0.5], [0.7], [40.0], [0.6]])
    >>> decider.decide(np.full((6, 2), 0.5), features=features)[0].tolist()
    [False, True, True, True, False, True]

    References
    ----------
    Liu, S., Xue, S., Wu, J., Zhou, C., Yang, J., Li, Z., Cao, J. (2023). Online
    active learning for drifting data streams. IEEE TNNLS 34(1), 186–200.

    """

    name = "cogdqs"
    rule = RULE
    needs_features = True
    parameters = {
        "theta": (L.THETA0, 1.0),
        "step": (L.STEP, 0.01),
        "delta": (L.DELTA, 1.0),
        "cognition_window_size": (L.OWN_WINDOW, 10.0),
        "density_threshold": (L.DENSITY_THRESHOLD, 1.0),
    }

    @classmethod
    def region_size(cls, params: np.ndarray) -> int:
        return 1 + int(params[L.OWN_WINDOW]) * (int(params[L.N_FEATURES]) + 3)
