"""Committee variance: query where an ensemble's members disagree most about the value."""

from __future__ import annotations

from streamal.decider.measures import COMMITTEE_VARIANCE
from streamal.decider.strategies.utility_threshold import UtilityThreshold


class CommitteeVariance(UtilityThreshold):
    """Query the events on whose value the members of a regression committee disagree most.

    Utility (Burbidge, Rowland & King 2007, query by committee for
    regression): the variance ``(1/M) Σ_m (f_m - f̄)²`` of the ``M`` members'
    predicted values (:func:`streamal.decider.measures.committee_variance`;
    the decider is given them as ``committee``, events × members × 1, e.g.
    the members of river's ``ensemble.BaggingRegressor``). It is a
    variance-only criterion: it pays off when the model class is expressive
    enough, and can mislead a misspecified (biased) model, as the paper
    shows. The decision is the shared rule of the regression strategies
    (:mod:`~streamal.decider.strategies.utility_threshold`). Members whose
    value is not finite abstain; with fewer than two voters the utility is
    unknown (NaN). An untrained committee agrees exactly (variance 0), and is
    asked at the budget's pace until its members part ways.

    Parameters
    ----------
    theta, step
        Of the variable threshold (see
        :class:`~streamal.decider.strategies.utility_threshold.UtilityThreshold`).

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("committee_variance", budget=0.5, task="regression",
    ...                   budget_manager="estimated", window=1_000_000, even_share=0)
    >>> committee = np.array([[[1.0], [1.0], [1.0]], [[0.0], [1.0], [2.0]], [[0.0], [3.0], [6.0]]])
    >>> rows = np.column_stack([committee.mean(axis=1)[:, 0], np.full(3, np.nan)])
    >>> queried, variance = decider.decide(rows, committee=committee)
    >>> variance.round(4).tolist(), queried.tolist()
    ([0.0, 0.6667, 6.0], [True, False, True])

    The first event is asked as an untrained committee is (a tie, labels owed), the
    second sets ``θ₀ = 0.6667``, a tie with no label owed (one of ``0.5 · 2`` spent), so it
    is not asked and ``θ`` falls to 0.66, which the third beats. (``even_share=0``: the
    paper's rule alone, without the quarter of the budget at an even pace.)

    References
    ----------
    Burbidge, R., Rowland, J. J., King, R. D. (2007). Active learning for
    regression based on query by committee. IDEAL 2007, LNCS 4881, 209–218.

    """

    name = "committee_variance"
    measure = COMMITTEE_VARIANCE
