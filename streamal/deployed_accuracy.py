"""`DeployedAccuracy`: how often the model is right on *all* recent events, from the few labeled.

The labels a decider buys are not a sample of the stream: it asks about the
events the model is least sure of, so their accuracy (``streamal_labeled_
accuracy_ratio``) is far below the accuracy of the predictions users get.
This estimator corrects for that by **post-stratification on the model's
confidence**, the probability of its predicted class, which is what the query
rules choose by:

* every scored event is counted in its confidence stratum (ten strata,
  ``[0, 0.1)`` … ``[0.9, 1]``; an event the model cannot name a class for is
  in the lowest, and counts as wrong);
* every label is scored right or wrong against the prediction made when its
  query was asked, and counted in the stratum of that prediction's confidence,
  weighted by how many of that stratum's recent events each query stood for
  (``pace`` events): labels bought in a burst — a cold start, a drift — while
  the model was worse must not outvote the quieter stretches after it;
* the estimate is ``Σ_s w_s · a_s``: ``w_s`` the share of recent events in
  stratum ``s``, ``a_s = (right_s + k · c̄_s) / (labels_s + k)`` its accuracy
  from the labels in it, shrunk toward ``c̄_s``, the mean confidence of its
  events, by ``k`` pseudo-labels (a calibrated model's own claim stands where
  there are no labels yet, and fades as they come);
* its 95 % interval is ``± 1.96 √(Σ_s w_s² a_s (1 - a_s) / (answers_s + k))``.

What it cannot see: a rule that picks, within one confidence stratum, events
more often wrong than their confidence says (the bandit rewards rules whose
queries find errors) makes the estimate low; it is measured against the truth
in ``benchmarks/RESULTS.md`` ("Deployed accuracy").

Within a stratum the labeled events stand for all its events as long as the
decider chose them by confidence alone (uncertainty rules; the bandit's
random share also samples the confident strata). "Recent" is an exponential
window over the events (``window`` events; labels fade at the same pace, so
both describe the same stretch of the stream), so the estimate follows drift.

>>> import numpy as np
>>> estimator = DeployedAccuracy(window=1000)
>>> sure = np.zeros(900, dtype=bool); sure[::30] = True  # a random share asks 30 of these
>>> estimator.see(np.full(900, 0.95), sure)  # most events: the model is sure
>>> estimator.see(np.full(100, 0.55), np.arange(100) < 20)  # of the few it is not, 20 asked
>>> for right in [True] * 12 + [False] * 8:  # the labels bought: 60 % right
...     estimator.label(0.55, right)
>>> estimate = estimator.estimate()  # 0.89 × 0.95 (the model's claim) + 0.11 × 0.60
>>> round(estimate.value, 3), round(estimate.low, 2), round(estimate.high, 2)
(0.911, 0.64, 1.0)
>>> for right in [True] * 28 + [False] * 2:  # the answers about the sure ones come
...     estimator.label(0.95, right)
>>> estimate = estimator.estimate()  # 28 + 2 × 0.95 pseudo-labels right of 32: 0.934 there
>>> round(estimate.value, 3), round(estimate.low, 2), round(estimate.high, 2)
(0.897, 0.82, 0.98)

"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DeployedAccuracy", "Estimate"]

_STRATA = 10


@dataclass(frozen=True, slots=True)
class Estimate:
    """An accuracy estimate with its 95 % interval, and how many labels (decayed) it rests on."""

    value: float
    low: float
    high: float
    labels: float


class DeployedAccuracy:
    """Estimate the accuracy of the predictions on all recent events (see the module).

    Parameters
    ----------
    window
        Events in the exponential window (the mean age of what is counted).
    prior
        Pseudo-labels ``k`` at a stratum's mean confidence.
    """

    def __init__(self, window: int = 10_000, prior: float = 2.0, pace: int = 1_000) -> None:
        if window < 1 or pace < 1 or not prior > 0:
            raise ValueError("window and pace must be at least 1 and prior positive")
        self.decay = 1.0 - 1.0 / window
        self.pace_decay = 1.0 - 1.0 / pace
        self.prior = prior
        self.events = np.zeros(_STRATA)
        self.confidence = np.zeros(_STRATA)
        #: weighted labels and weighted right answers per stratum
        self.labels = np.zeros(_STRATA)
        self.right = np.zeros(_STRATA)
        self.answers = np.zeros(_STRATA)
        #: the recent events and queries per stratum: the pace at which each is labeled
        self.recent_events = np.zeros(_STRATA)
        self.recent_queries = np.zeros(_STRATA)

    @staticmethod
    def _strata(confidences: np.ndarray) -> np.ndarray:
        return np.clip((confidences * _STRATA).astype(np.int64), 0, _STRATA - 1)

    def see(self, confidences: np.ndarray, queried: np.ndarray) -> None:
        """Count scored events by their confidence (0 where the model knows no class),
        and which of them were queried."""
        n = len(confidences)
        if not n:
            return
        fade = self.decay**n
        for counts in (self.events, self.confidence, self.labels, self.right, self.answers):
            counts *= fade
        self.recent_events *= self.pace_decay**n
        self.recent_queries *= self.pace_decay**n
        strata = self._strata(confidences)
        counts = np.bincount(strata, minlength=_STRATA)
        self.events += counts
        self.recent_events += counts
        self.recent_queries += np.bincount(strata, weights=queried, minlength=_STRATA)
        self.confidence += np.bincount(strata, weights=confidences, minlength=_STRATA)

    def label(self, confidence: float | None, right: bool) -> None:
        """Count one answer: was the prediction made at query time, at ``confidence``, right?

        A query asked before the model knew any class has no prediction to score: it
        is left out (those events are counted wrong through their stratum).
        """
        if confidence is None:
            return
        (stratum,) = self._strata(np.array([confidence]))
        # Each answer stands for the events of its stratum that went unasked meanwhile:
        # labels bought in a burst (a cold start, a drift) must not outvote the rest.
        weight = self.recent_events[stratum] / max(self.recent_queries[stratum], 1.0)
        self.labels[stratum] += weight
        self.right[stratum] += weight * right
        self.answers[stratum] += 1.0

    def estimate(self) -> Estimate | None:
        """The estimate, or ``None`` before any event."""
        total = self.events.sum()
        if not total:
            return None
        weights = self.events / total
        mean_confidence = np.divide(
            self.confidence, self.events, out=np.zeros(_STRATA), where=self.events > 0
        )
        # The prior is k answers' worth of weight: k times the stratum's mean weight.
        per_answer = np.divide(
            self.labels, self.answers, out=np.ones(_STRATA), where=self.answers > 0
        )
        prior = self.prior * per_answer
        accuracy = (self.right + prior * mean_confidence) / (self.labels + prior)
        value = float(weights @ accuracy)
        spread = 1.96 * math.sqrt(
            float((weights**2 * accuracy * (1 - accuracy) / (self.answers + self.prior)).sum())
        )
        return Estimate(
            value, max(0.0, value - spread), min(1.0, value + spread), float(self.answers.sum())
        )
