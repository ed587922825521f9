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

"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["ENTROPY", "LEAST_CONFIDENCE", "MARGIN", "MEASURES", "uncertainty"]

LEAST_CONFIDENCE = 0
MARGIN = 1
ENTROPY = 2

#: CLI name → measure code.
MEASURES = {"least_confidence": LEAST_CONFIDENCE, "margin": MARGIN, "entropy": ENTROPY}


@numba.njit(cache=True, nogil=True, inline="always")
def top_two(row: np.ndarray) -> tuple[float, float]:
    """The largest and second largest probabilities of ``row`` (0 where absent)."""
    first = 0.0
    second = 0.0
    for p in row:
        if p > first:
            second = first
            first = p
        elif p > second:
            second = p
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
