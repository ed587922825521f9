"""The compiled decision loop: one call decides a whole batch, in stream order."""

from __future__ import annotations

import math

import numba
import numpy as np

from streamal.decider import budget, pending_window
from streamal.decider import layout as L
from streamal.decider.measures import (
    COMMITTEE_VARIANCE,
    INTERVAL_WIDTH,
    KL_CONSENSUS,
    VOTE_ENTROPY,
    committee_variance,
    disagreement,
    interval_width,
    uncertainty,
)
from streamal.decider.strategies import (
    cogdqs,
    dbal,
    density_ratio,
    entropy,
    fixed_uncertainty,
    leverage,
    pal,
    periodic,
    qbc,
    quantile_uncertainty,
    random,
    randomized_variable_uncertainty,
    selective_sampling,
    split,
    utility_threshold,
    variable_uncertainty,
)

__all__ = ["decide_batch", "decide_batch_rich", "learn_batch"]


@numba.njit(cache=True, nogil=True, inline="always")
def _decide_one(
    row: np.ndarray,
    u: float,
    density: int,
    blocked: bool,
    manager: int,
    rule: int,
    capped: bool,
    params: np.ndarray,
    state: np.ndarray,
    rng: np.ndarray,
) -> bool:
    """Budget manager, hard cap, then the query rule, for one event already counted as seen.

    A ``blocked`` event (a near-duplicate of a pending query) is not asked,
    but the budget manager still sees it.

    Inlined by numba into both loops, so the dispatch costs what it would
    written out in the loop: a call that is not inlined costs more than a
    whole threshold decision, and constant codes let LLVM unswitch the loop.
    """
    regression = (
        rule == utility_threshold.RULE or rule == leverage.RULE or rule == density_ratio.RULE
    )
    if regression and utility_threshold.even_turn(params, state):
        # The even share's turn: asked whatever the utility, which the window still sees.
        if manager == budget.BIQF and not math.isnan(u):
            budget.allows_biqf(params, state, u)
        ask = not blocked and (not capped or budget.within_cap(params, state))
        budget.record(params, state, ask)
        return ask
    if manager == budget.BIQF:
        ask = budget.allows_biqf(params, state, u)
    elif manager == budget.NONE:
        ask = True
    else:
        ask = budget.allows_estimated(params, state)
    if ask and capped:
        ask = budget.within_cap(params, state)
    if ask and not blocked:
        if rule == variable_uncertainty.RULE:
            ask = variable_uncertainty.rule(row, u, params, state, rng)
        elif rule == randomized_variable_uncertainty.RULE:
            ask = randomized_variable_uncertainty.rule(row, u, params, state, rng)
        elif rule == split.RULE:
            ask = split.rule(row, u, params, state, rng)
        elif rule == fixed_uncertainty.RULE:
            ask = fixed_uncertainty.rule(row, u, params, state, rng)
        elif rule == selective_sampling.RULE:
            ask = selective_sampling.rule(row, u, params, state, rng)
        elif rule == entropy.RULE:
            ask = entropy.rule(row, u, params, state, rng)
        elif rule == quantile_uncertainty.RULE:
            ask = quantile_uncertainty.rule(row, u, params, state, rng)
        elif rule == dbal.RULE:
            ask = dbal.rule(row, u, density, params, state, rng)
        elif rule == cogdqs.RULE:
            ask = cogdqs.rule(row, u, density, params, state, rng)
        elif rule == pal.RULE:
            ask = pal.rule(row, u, params, state, rng)
        elif rule == qbc.RULE:
            ask = qbc.rule(row, u, params, state, rng)
        elif rule == periodic.RULE:
            ask = periodic.rule(row, u, params, state, rng)
        elif regression:
            filtered = manager == budget.BIQF
            ask = utility_threshold.rule(row, u, filtered, params, state, rng)
        else:
            ask = random.rule(row, u, params, state, rng)
    else:
        ask = False
    budget.record(params, state, ask)
    return ask


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
    a stream in batches of any size gives the same decisions. This is the
    loop of the rules that need only the probability rows;
    :func:`decide_batch_rich` serves the others.
    """
    # The dispatch is spelled out in the loop rather than behind helper
    # functions: a call that LLVM does not inline costs more than a whole
    # threshold decision, and constant codes let it unswitch the loop. (Even
    # numba's inline="always" costs a third of the speed here: measured.)
    measure = codes[L.MEASURE]
    rule = codes[L.RULE]
    manager = codes[L.BUDGET_MANAGER]
    capped = params[L.HARD_CAP] > 0.0
    for i in range(proba.shape[0]):
        row = proba[i]
        u = uncertainty(measure, row)
        scores[i] = u
        state[L.SEEN] += 1.0
        if manager == budget.BIQF:
            ask = budget.allows_biqf(params, state, u)
        elif manager == budget.NONE:
            ask = True
        else:
            ask = budget.allows_estimated(params, state)
        if ask and capped:
            ask = budget.within_cap(params, state)
        if ask:
            if rule == variable_uncertainty.RULE:
                ask = variable_uncertainty.rule(row, u, params, state, rng)
            elif rule == randomized_variable_uncertainty.RULE:
                ask = randomized_variable_uncertainty.rule(row, u, params, state, rng)
            elif rule == split.RULE:
                ask = split.rule(row, u, params, state, rng)
            elif rule == fixed_uncertainty.RULE:
                ask = fixed_uncertainty.rule(row, u, params, state, rng)
            elif rule == selective_sampling.RULE:
                ask = selective_sampling.rule(row, u, params, state, rng)
            elif rule == entropy.RULE:
                ask = entropy.rule(row, u, params, state, rng)
            elif rule == quantile_uncertainty.RULE:
                ask = quantile_uncertainty.rule(row, u, params, state, rng)
            elif rule == periodic.RULE:
                ask = periodic.rule(row, u, params, state, rng)
            elif rule == qbc.RULE:
                ask = qbc.rule(row, u, params, state, rng)
            else:
                ask = random.rule(row, u, params, state, rng)
        budget.record(params, state, ask)
        queried[i] = ask


@numba.njit(cache=True, nogil=True)
def decide_batch_rich(
    proba: np.ndarray,
    features: np.ndarray,
    committee: np.ndarray,
    codes: np.ndarray,
    params: np.ndarray,
    state: np.ndarray,
    rng: np.ndarray,
    queried: np.ndarray,
    scores: np.ndarray,
) -> None:
    """:func:`decide_batch` for rules that also read feature rows or a committee, and regression.

    ``features`` (n × d) is read only by rules that need it and by
    delay-aware querying, ``committee`` (n × members × classes, or × 1 for a
    regression committee) only by committee measures; others get empty
    arrays. A regression decider's ``proba`` holds rows of (predicted value,
    predictive standard deviation); its measures and rules live only here.
    """
    measure = codes[L.MEASURE]
    rule = codes[L.RULE]
    manager = codes[L.BUDGET_MANAGER]
    capped = params[L.HARD_CAP] > 0.0
    n = proba.shape[0]
    # Scores and density factors do not depend on the decisions (PAL's labeled window,
    # leverage's matrix and the density ratio's labeled rows only change between batches,
    # density windows take every event), so they come first.
    if rule == leverage.RULE:
        leverage.utilities(features, params, state, scores)
    elif rule == density_ratio.RULE:
        for i in range(n):
            scores[i] = density_ratio.observe(features[i], params, state)
    else:
        for i in range(n):
            if rule == pal.RULE:
                scores[i] = pal.gain(proba[i], features[i], params, state)
            elif measure in (VOTE_ENTROPY, KL_CONSENSUS):
                scores[i] = disagreement(measure, committee[i])
            elif measure == INTERVAL_WIDTH:
                # Read here, not before the loop: a decider pickled before the slot existed
                # has a shorter params array, and numba does not check bounds.
                scores[i] = interval_width(proba[i], params[L.INTERVAL_Z])
            elif measure == COMMITTEE_VARIANCE:
                scores[i] = committee_variance(committee[i])
            else:
                scores[i] = uncertainty(measure, proba[i])
    densities = np.ones(n, dtype=np.int64)
    if rule == dbal.RULE:
        for i in range(n):
            densities[i] = dbal.observe(features[i], params, state)
    elif rule == cogdqs.RULE:
        for i in range(n):
            densities[i] = cogdqs.observe(features[i], state[L.SEEN] + i + 1, params, state)
    delay_aware = params[L.PENDING_EVENTS] > 0.0
    for i in range(n):
        state[L.SEEN] += 1.0
        now = state[L.SEEN]
        blocked = delay_aware and pending_window.is_pending(features[i], now, params, state)
        ask = _decide_one(
            proba[i], scores[i], densities[i], blocked, manager, rule, capped, params, state, rng
        )
        if ask and delay_aware:
            pending_window.remember_query(features[i], now, params, state)
        queried[i] = ask


@numba.njit(cache=True, nogil=True)
def learn_batch(
    features: np.ndarray, classes: np.ndarray, codes: np.ndarray, params: np.ndarray, state
) -> None:
    """Tell a rule that learns from labels about labeled events (feature rows, class indices).

    Leverage and the density ratio read only the feature rows (``classes`` may be empty).
    """
    if codes[L.RULE] == pal.RULE:
        for i in range(features.shape[0]):
            pal.remember(features[i], classes[i], params, state)
    elif codes[L.RULE] == leverage.RULE:
        leverage.remember(features, params, state)
    elif codes[L.RULE] == density_ratio.RULE:
        for i in range(features.shape[0]):
            density_ratio.remember(features[i], params, state)
