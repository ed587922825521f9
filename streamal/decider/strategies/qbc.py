"""Query by committee: a variable threshold on the disagreement of an ensemble's members."""

from __future__ import annotations

import numba
import numpy as np

from streamal.decider import layout as L
from streamal.decider.base import Strategy
from streamal.decider.measures import VOTE_ENTROPY
from streamal.decider.strategies.variable_uncertainty import adapt_threshold

RULE = 12


@numba.njit(cache=True, nogil=True)
def rule(row: np.ndarray, disagreement: float, params: np.ndarray, state, rng) -> bool:
    queried = disagreement > 1.0 - state[L.THETA]
    adapt_threshold(params, state, queried)
    return queried


class QueryByCommittee(Strategy):
    """Query when the committee disagrees more than a threshold that adapts to the budget.

    Rule (Seung, Opper & Sompolinsky 1992; for streams, the committee of an
    online ensemble such as river's ``ensemble.BaggingClassifier``): the
    measure is the members' disagreement, vote entropy by default (Dagan &
    Engelson 1995) or the mean KL divergence to the consensus
    (``measure="kl_consensus"``, McCallum & Nigam 1998), normalised to [0, 1].
    While the budget allows, query when the disagreement exceeds ``1 - θ``;
    ``θ`` narrows by ``(1 - s)`` after a query and widens by ``(1 + s)``
    otherwise, as in Žliobaitė's variable uncertainty, so the budget is spent
    even when the committee agrees everywhere. The decider is given the
    members' probability rows (events × members × classes) with each batch.

    Parameters
    ----------
    theta
        Initial threshold ``θ₀`` (1: any disagreement is asked at first).
    step
        Threshold step ``s`` (0.01).

    Examples
    --------

    >>> import numpy as np
    >>> from streamal.decider import Decider
    >>> decider = Decider("qbc", budget=0.5, window=1_000_000, theta=0.5)
    >>> agree = [[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]]
    >>> split = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]
    >>> committee = np.array([agree, split])
    >>> queried, disagreement = decider.decide(committee.mean(axis=1), committee=committee)
    >>> queried.tolist(), disagreement.round(3).tolist()
    ([False, True], [0.0, 0.918])

    References
    ----------
    Seung, H. S., Opper, M., Sompolinsky, H. (1992). Query by committee. COLT
    1992, 287–294. Dagan, I., Engelson, S. P. (1995). Committee-based sampling
    for training probabilistic classifiers. ICML 1995, 150–157.

    """

    name = "qbc"
    rule = RULE
    measure = VOTE_ENTROPY
    parameters = {"theta": (L.THETA0, 1.0), "step": (L.STEP, 0.01)}
