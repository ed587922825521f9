"""Informativeness measures: how uncertain the model is about one event.

Each measure maps a row of class probabilities to an uncertainty in [0, 1]
(1 = knows nothing). Query rules stated in terms of the model's confidence use
``1 - uncertainty``, which for least confidence is the top probability itself,
as in Žliobaitė et al. (2014). A row with no classes (a model that has not
learned anything yet) is maximally uncertain.

>>> import numpy as np
>>> row = np.array([0.7, 0.2, 0.1])
>>> round(uncertainty(LEAST_CONFIDENCE, row), 6)
0.3
>>> round(uncertainty(MARGIN, row), 6)
0.5
>>> round(uncertainty(ENTROPY, np.array([0.5, 0.5, 0.0])), 6)
1.0
>>> uncertainty(ENTROPY, np.empty(0))
1.0

Committee measures look at every member's probability row instead (members ×
classes), and are normalised by their largest possible value,
``log min(members, classes)``:

>>> members = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
>>> round(disagreement(VOTE_ENTROPY, members), 6)  # votes 3 : 1
0.811278
>>> round(disagreement(KL_CONSENSUS, np.array([[1.0, 0.0], [0.0, 1.0]])), 6)
1.0

Regression measures read a regression model's row instead, ``(predicted
value, predictive standard deviation σ)``, or its committee's predicted
values (members × 1). They are utilities of any scale, unbounded, and NaN
where the model gives nothing to measure (see :func:`interval_width` and
:func:`committee_variance`):

>>> round(interval_width(np.array([3.0, 0.5]), 1.2815515655446004), 6)  # 80 %: 2 z σ
1.281552
>>> committee_variance(np.array([[1.0], [2.0], [3.0], [6.0]]))  # mean 3: (4 + 1 + 0 + 9) / 4
3.5

Each measure belongs to a task (:func:`measures_for`).

"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "COMMITTEE_MEASURES",
    "COMMITTEE_VARIANCE",
    "DEFAULT_MEASURES",
    "DENSITY_RATIO",
    "ENTROPY",
    "INTERVAL_WIDTH",
    "KL_CONSENSUS",
    "LEAST_CONFIDENCE",
    "LEVERAGE",
    "MARGIN",
    "MEASURES",
    "REGRESSION_MEASURES",
    "VOTE_ENTROPY",
    "committee_variance",
    "disagreement",
    "interval_width",
    "measures_for",
    "uncertainty",
]

LEAST_CONFIDENCE = 0
MARGIN = 1
ENTROPY = 2
VOTE_ENTROPY = 3  # committee: entropy of the members' votes
KL_CONSENSUS = 4  # committee: mean KL divergence of the members from their consensus
INTERVAL_WIDTH = 5  # regression: width of the central prediction interval, 2 z σ
COMMITTEE_VARIANCE = 6  # regression committee: variance of the members' predicted values
LEVERAGE = 7  # regression: x' A⁻¹ x, computed by the leverage strategy from its design matrix
DENSITY_RATIO = 8  # regression: distance to the labels over the k-th neighbour's (the strategy's)

#: CLI name → measure code.
MEASURES = {
    "least_confidence": LEAST_CONFIDENCE,
    "margin": MARGIN,
    "entropy": ENTROPY,
    "vote_entropy": VOTE_ENTROPY,
    "kl_consensus": KL_CONSENSUS,
    "interval_width": INTERVAL_WIDTH,
    "committee_variance": COMMITTEE_VARIANCE,
    "leverage": LEVERAGE,
    "density_ratio": DENSITY_RATIO,
}
#: measures that need the committee members' rows (probabilities, or predicted values)
COMMITTEE_MEASURES = frozenset({VOTE_ENTROPY, KL_CONSENSUS, COMMITTEE_VARIANCE})
#: measures of a regression model's rows; the others measure class probabilities
REGRESSION_MEASURES = frozenset({INTERVAL_WIDTH, COMMITTEE_VARIANCE, LEVERAGE, DENSITY_RATIO})
#: task → the measure used when neither the caller nor the strategy picks one for that task
DEFAULT_MEASURES = {"classification": LEAST_CONFIDENCE, "regression": INTERVAL_WIDTH}


def measures_for(task: str) -> list[str]:
    """The measures of ``task`` (``"classification"`` or ``"regression"``), by CLI name.

    >>> measures_for("regression")
    ['interval_width', 'committee_variance', 'leverage', 'density_ratio']
    """
    if task not in DEFAULT_MEASURES:
        raise ValueError(f"unknown task {task!r} (choose from: {', '.join(DEFAULT_MEASURES)})")
    regression = task == "regression"
    return [name for name, code in MEASURES.items() if (code in REGRESSION_MEASURES) == regression]


@numba.njit(cache=True, nogil=True, inline="always")
def top_two(row: np.ndarray) -> tuple[float, float]:
    """The largest and second largest probabilities of ``row`` (0 where absent)."""
    first = 0.0
    second = 0.0
    # min/max rather than branches: which class leads is unpredictable, a mispredicted
    # branch costs more than the whole update.
    for p in row:
        lower = p if p < first else first
        second = lower if lower > second else second
        first = p if p > first else first
    return first, second


@numba.njit(cache=True, nogil=True, inline="always")
def normalised_entropy(row: np.ndarray) -> float:
    """Shannon entropy over the classes with non-zero probability, divided by its maximum.

    Like river's ``EntropySampler``, classes at probability 0 are left out of the
    normaliser so that a tie between two of ten classes still counts as 1.
    """
    h = 0.0
    nonzero = 0
    for p in row:
        if p > 0.0:
            h -= p * math.log(p)
            nonzero += 1
    if nonzero < 2:
        return 0.0
    return min(h / math.log(nonzero), 1.0)


@numba.njit(cache=True, nogil=True, inline="always")
def uncertainty(code: int, row: np.ndarray) -> float:
    """Uncertainty of one probability row under measure ``code``."""
    if row.shape[0] == 0:
        return 1.0
    if code == ENTROPY:
        return normalised_entropy(row)
    first, second = top_two(row)
    if code == MARGIN:
        return 1.0 - (first - second)
    return 1.0 - first


@numba.njit(cache=True, nogil=True)
def disagreement(code: int, members: np.ndarray) -> float:
    """Disagreement of a committee (members × classes) under measure ``code``, in [0, 1].

    Vote entropy (Dagan & Engelson 1995) is the entropy of the members'
    votes (their most probable classes); KL to the consensus (McCallum &
    Nigam 1998) is the mean ``KL(p_m || p̄)``, which equals
    ``H(p̄) - mean_m H(p_m)``. Members with no probabilities (not trained
    yet) abstain; a committee with no opinion at all is maximally uncertain.
    """
    n_classes = members.shape[1]
    voters = 0
    for m in range(members.shape[0]):
        if members[m].sum() > 0.0:
            voters += 1
    if voters == 0 or n_classes == 0:
        return 1.0
    scale = math.log(min(voters, n_classes))
    if scale <= 0.0:
        return 0.0
    share = np.zeros(n_classes)
    spread = 0.0
    for m in range(members.shape[0]):
        total = members[m].sum()
        if total <= 0.0:
            continue
        if code == VOTE_ENTROPY:
            share[np.argmax(members[m])] += 1.0 / voters
        else:
            for c in range(n_classes):
                p = members[m, c] / total
                share[c] += p / voters
                if p > 0.0:
                    spread += p * math.log(p) / voters  # - mean_m H(p_m)
    h = 0.0
    for p in share:
        if p > 0.0:
            h -= p * math.log(p)
    return min(max((h + spread) / scale, 0.0), 1.0)


@numba.njit(cache=True, nogil=True, inline="always")
def interval_width(row: np.ndarray, z: float) -> float:
    """Width ``2 z σ`` of the central Gaussian prediction interval of a regression row.

    ``row`` is ``(predicted value, σ)``. A σ the model did not give (NaN),
    or one that is infinite or negative, leaves the width unknown: NaN, which
    the budget managers and query rules treat as "no information", asked
    only while labels are owed (see
    :mod:`streamal.decider.strategies.utility_threshold`). Infinity would
    instead ask for every such event and break the quantile filter's window.

    >>> interval_width(np.array([1.0, 0.0]), 1.28), interval_width(np.array([1.0, np.nan]), 1.28)
    (0.0, nan)
    """
    if row.shape[0] < 2:
        return math.nan
    sigma = row[1]
    if not (sigma >= 0.0 and sigma < math.inf):
        return math.nan
    return 2.0 * z * sigma


@numba.njit(cache=True, nogil=True)
def committee_variance(members: np.ndarray) -> float:
    """Variance ``(1/M) Σ_m (f_m - f̄)²`` of a committee's predicted values (members × 1).

    Burbidge, Rowland & King (2007) query where the members of a regression
    committee disagree most, measured by this variance (the ambiguity of
    Krogh & Vedelsby's decomposition). Members whose value is not finite
    (not trained, or diverged) abstain; with fewer than two voters the
    variance is unknown (NaN). Two passes, so a large common offset does not
    cancel the spread away.

    >>> committee_variance(np.array([[5.0], [np.nan]]))
    nan
    """
    voters = 0
    mean = 0.0
    for m in range(members.shape[0]):
        value = members[m, 0]
        if math.isfinite(value):
            voters += 1
            mean += value
    if voters < 2:
        return math.nan
    mean /= voters
    spread = 0.0
    for m in range(members.shape[0]):
        value = members[m, 0]
        if math.isfinite(value):
            spread += (value - mean) ** 2
    return spread / voters
