"""Interval width: query where the model's own prediction interval is widest."""

from __future__ import annotations

import math
from statistics import NormalDist

from streamal.decider import layout as L
from streamal.decider.measures import INTERVAL_WIDTH
from streamal.decider.strategies.utility_threshold import UtilityThreshold


def normal_quantile(coverage: float) -> float:
    """``z`` of a central Gaussian interval of ``coverage``: ``Φ⁻¹((1 + c) / 2)``.

    >>> round(normal_quantile(0.8), 4), round(normal_quantile(0.95), 4)
    (1.2816, 1.96)
    """
    return NormalDist().inv_cdf((1.0 + coverage) / 2.0)


class IntervalWidth(UtilityThreshold):
    """Query the events whose central prediction interval is widest (regression).

    Utility: the width ``2 z σ`` of the central Gaussian interval of coverage
    ``c`` around the prediction, from the model's predictive standard
    deviation ``σ`` (column 1 of the rows :meth:`streamal.decider.Decider.decide`
    is given), ``z = Φ⁻¹((1 + c) / 2)``: uncertainty sampling for a model
    that knows its own uncertainty (a Bayesian linear regression, a Gaussian
    process, an ensemble's spread). The decision is the shared rule of the
    regression strategies (:mod:`~streamal.decider.strategies.utility_threshold`):
    the balanced incremental quantile filter by default, or a variable
    threshold behind the ``estimated`` budget. The coverage only scales the
    utility, so it changes the scores reported, not the decisions (unless
    ``theta`` is given in the width's unit).

    An event whose σ the model did not give (NaN) has an unknown width
    (score NaN): it is asked only while labels are owed, so a model without
    σ is sampled at the budget's even pace.

    Parameters
    ----------
    coverage
        Coverage ``c`` of the interval, in (0, 1) (0.8: ``2 · 1.2816 σ``).
    theta, step
        Of the variable threshold (see
        :class:`~streamal.decider.strategies.utility_threshold.UtilityThreshold`).

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("interval_width", budget=0.25, task="regression", seed=0)
    >>> rows = np.array([[10.0, 1.0], [10.0, 0.5], [9.0, np.nan], [12.0, 4.0]])
    >>> queried, widths = decider.decide(rows)
    >>> widths.round(3).tolist()
    [2.563, 1.282, nan, 10.252]
    >>> sigma = np.random.default_rng(0).gamma(2.0, size=20_000)
    >>> queried, _ = decider.decide(np.column_stack([np.zeros(20_000), sigma]))
    >>> top_quarter = sigma > np.quantile(sigma, 0.75)
    >>> round(float(queried.mean()), 3), round(float(top_quarter[queried].mean()), 2)
    (0.25, 0.78)

    A quarter of the labels go to the even turns, whatever the width; without them
    (``even_share=0``, the paper's rule) five in six are of the widest quarter:

    >>> alone = Decider("interval_width", budget=0.25, task="regression", seed=0, even_share=0)
    >>> queried, _ = alone.decide(np.column_stack([np.zeros(20_000), sigma]))
    >>> round(float(queried.mean()), 3), round(float(top_quarter[queried].mean()), 2)
    (0.25, 0.83)

    References
    ----------
    Settles, B. (2012). Active Learning, §3.4 (uncertainty sampling for
    regression: the variance of the predictive distribution). Morgan &
    Claypool.

    """

    name = "interval_width"
    measure = INTERVAL_WIDTH
    parameters = {**UtilityThreshold.parameters, "coverage": (L.COVERAGE, 0.8)}

    @classmethod
    def resolve(cls, budget: float, given: dict[str, float]) -> dict[int, float]:
        slots = super().resolve(budget, given)
        coverage = slots[L.COVERAGE]
        if not 0.0 < coverage < 1.0 or math.isnan(coverage):
            raise ValueError("coverage of 'interval_width' must be in (0, 1)")
        slots[L.INTERVAL_Z] = normal_quantile(coverage)
        return slots
