"""The compiled decision loop: one call decides a whole batch, in stream order."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import budget
from streamal.decider import layout as L
from streamal.decider.measures import uncertainty
from streamal.decider.strategies import (
    entropy,
    fixed_uncertainty,
    periodic,
    quantile_uncertainty,
    random,
    randomized_variable_uncertainty,
    selective_sampling,
    split,
    variable_uncertainty,
)

__all__ = ["decide_batch"]


@numba.njit(cache=True, nogil=True)
def _apply_rule(code, row, u, params, state, rng) -> bool:
    if code == variable_uncertainty.RULE:
        return variable_uncertainty.rule(row, u, params, state, rng)
    if code == randomized_variable_uncertainty.RULE:
        return randomized_variable_uncertainty.rule(row, u, params, state, rng)
    if code == split.RULE:
        return split.rule(row, u, params, state, rng)
    if code == fixed_uncertainty.RULE:
        return fixed_uncertainty.rule(row, u, params, state, rng)
    if code == selective_sampling.RULE:
        return selective_sampling.rule(row, u, params, state, rng)
    if code == entropy.RULE:
        return entropy.rule(row, u, params, state, rng)
    if code == quantile_uncertainty.RULE:
        return quantile_uncertainty.rule(row, u, params, state, rng)
    if code == periodic.RULE:
        return periodic.rule(row, u, params, state, rng)
    return random.rule(row, u, params, state, rng)


@numba.njit(cache=True, nogil=True)
def decide_batch(
    proba: np.ndarray,
    codes: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    rng: np.ndarray,
    queried: np.ndarray,
    scores: np.ndarray,
) -> None:
    """Decide every row of ``proba`` (n × k) in order, writing ``queried`` and ``scores``.

    ``state`` and ``rng`` are updated in place element by element, so deciding
    a stream in batches of any size gives the same decisions.
    """
    measure = codes[L.MEASURE]
    rule = codes[L.RULE]
    manager = codes[L.BUDGET_MANAGER]
    for i in range(proba.shape[0]):
        row = proba[i]
        u = uncertainty(measure, row)
        scores[i] = u
        state[L.SEEN] += 1.0
        ask = False
        if budget.allows(manager, params, state, u):
            ask = _apply_rule(rule, row, u, params, state, rng)
        budget.record(params, state, ask)
        queried[i] = ask
