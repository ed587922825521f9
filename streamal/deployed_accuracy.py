"""`DeployedAccuracy`: how often the model is right on *all* recent events, from the few labeled.

The labels a decider buys are not a sample of the stream: it asks about the
events the model is least sure of, so their accuracy (``streamal_labeled_
accuracy_ratio``) is far below the accuracy of the predictions users get.
This estimator corrects for that with the chance each query had of being
asked (:meth:`streamal.decider.Decider.query_probability`): an answer to a
query asked with probability ``p`` stands for ``1 / p`` events (inverse
probability weighting, Horvitz & Thompson 1952), within strata of the
model's confidence (the probability of its predicted class):

* every scored event is counted in its confidence stratum (twenty strata,
  ``[0, 0.05)`` … ``[0.95, 1]``; an event the model cannot name a class for
  is in the lowest, and counts as wrong);
* every label is scored right or wrong against the prediction made when its
  query was asked, and counted in the stratum of that prediction's
  confidence with weight ``w = 1 / p``, trimmed at twice the events per
  answer in the window (below);
* a stratum's accuracy is the weighted share of right answers (the ratio, or
  Hájek, estimator), shrunk toward ``c̄_s``, the mean confidence of its
  events, by ``k`` pseudo-events: ``a_s = (Σ w r + k c̄_s) / (Σ w + k)``;
  the model's own claim stands where there are no answers yet, and fades
  as they come (an answer asked with ``p = 0.02`` outweighs ``k = 10``);
* the estimate is ``Σ_s n_s a_s / n``, ``n_s`` the recent events of stratum
  ``s``;
* its 95 % interval is ``± 1.96 √(Σ_s (n_s / n)² V_s)`` with the ratio
  estimator's linearised variance ``V_s = (Σ w² (r - a_s)² + k a_s (1 - a_s))
  / (Σ w + k)²``, but no less than Agresti–Coull's ``ã (1 - ã) / (m + 4)``,
  ``ã = (m a_s + 2) / (m + 4)``, at the answers' effective number
  ``m = (Σ w)² / Σ w²``: ten answers that all agree do not make a stratum
  certain (and one with no answers has ``± 0.5``).

Untrimmed it is unbiased (up to the shrinkage) when every event had a
known, non-zero chance of being asked: the default strategy, ``bandit``,
asks every event with probability at least ``f b``, its random share of the
budget. But that share ramps up over the first labels, so the first random
answers were asked with chances of a few in a thousand, and each would stand
for hundreds of events: a handful of answers would then decide the estimate.
Trimming every weight at ``κ = 2`` times the window's events per answer
(``2 n / m``, the mean weight; weight trimming, Potter 1990) gives up a
little of the unbiasedness (the trimmed answers' stretch of the stream
counts for less) for much less spread: after 500 labels at 10 % its mean
error over 120 runs of six streams fell from 2.9 to 2.0 points. Rules
that ask deterministically report ``p = 1``; then a stratum's unasked
events are taken to be as often right as its asked ones, which is only as
good as the rule's choice is blind to correctness within a stratum. Events
a hard cap or a pending query kept from being asked count in their stratum
at its accuracy. For scale: the
accuracy of a uniform random sample of ``m`` events is off by
``√(a (1 - a) / m)`` (one standard error), 1.3 to 2.1 points for ``m = 500``
at 70–90 % accuracy; this estimate's own error is measured against the truth
in ``benchmarks/RESULTS.md`` ("Deployed accuracy").

"Recent" is an exponential window over the events (``window`` events;
answers fade at the same pace, so both describe the same stretch of the
stream), so the estimate follows drift.

>>> import numpy as np
>>> estimator = DeployedAccuracy(window=100_000)  # hardly fades over these 1,000 events
>>> estimator.see(np.full(900, 0.95))  # most events: the model is sure
>>> estimator.see(np.full(100, 0.55))  # of the few it is not, 20 were asked (p = 0.2)
>>> for right in [True] * 12 + [False] * 8:  # 60 % right: each stands for 5 events
...     estimator.label(0.55, right, probability=0.2)
>>> estimate = estimator.estimate()  # 0.9 × 0.95 (the model's claim) + 0.1 × 0.595
>>> # 0.595 = (60 + 10 × 0.55) / (100 + 10): ten pseudo-events at the stratum's confidence
>>> # No answer about the sure ones yet: the interval says that their 90 % is unknown.
>>> round(estimate.value, 3), round(estimate.low, 2), round(estimate.high, 2)
(0.915, 0.47, 1.0)
>>> for right in [True] * 27 + [False] * 3:  # 30 of the sure ones, asked at random (p = 1/30)
...     estimator.label(0.95, right, probability=1 / 30)
>>> estimate = estimator.estimate()  # 0.9 × 0.9005 + 0.1 × 0.595
>>> # 0.9005 = (810 + 10 × 0.95) / (900 + 10)
>>> round(estimate.value, 3), round(estimate.low, 2), round(estimate.high, 2)
(0.87, 0.76, 0.98)

"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["DeployedAccuracy", "Estimate"]

_STRATA = 20
#: κ: no answer stands for more than κ times the events per answer (module docstring)
TRIM = 2.0
_SUMS = ("events", "confidence", "answers", "weight", "right", "weight2", "right2")


@dataclass(frozen=True, slots=True)
class Estimate:
    """An estimate (an accuracy, or a numeric target's mean absolute error) with its 95 %
    interval, and how many labels (decayed) it rests on."""

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
        Pseudo-events ``k`` at a stratum's mean confidence.
    """

    def __init__(self, window: int = 10_000, prior: float = 10.0) -> None:
        if window < 1 or not prior > 0:
            raise ValueError("window must be at least 1 and prior positive")
        self.decay = 1.0 - 1.0 / window
        self.prior = prior
        #: per stratum: recent events and the sum of their confidences (``events``,
        #: ``confidence``), and over the recent answers: count, Σ w, Σ w r, Σ w², Σ w² r
        #: (``answers``, ``weight``, ``right``, ``weight2``, ``right2``)
        self._use_sums(np.zeros((len(_SUMS), _STRATA)))

    def _use_sums(self, sums: np.ndarray) -> None:
        # The named sums are rows of one block, so that a batch fades them in one operation.
        self._sums = sums
        for name, row in zip(_SUMS, sums, strict=True):
            setattr(self, name, row)

    def __getstate__(self) -> dict:
        # The named rows are pickled as arrays of their own (as before the block), not the block.
        return {k: v for k, v in self.__dict__.items() if k != "_sums"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._use_sums(np.stack([state[name] for name in _SUMS]))

    @staticmethod
    def _stratum(confidences: np.ndarray) -> np.ndarray:
        # Two ufuncs: np.clip's Python wrapper costs more than the work on a batch.
        return np.minimum(np.maximum((confidences * _STRATA).astype(np.int64), 0), _STRATA - 1)

    def see(self, confidences: np.ndarray) -> None:
        """Count scored events by their confidence (0 where the model knows no class)."""
        n = len(confidences)
        if not n:
            return
        self._sums *= self.decay**n
        strata = self._stratum(confidences)
        self.events += np.bincount(strata, minlength=_STRATA)
        self.confidence += np.bincount(strata, weights=confidences, minlength=_STRATA)

    def label(self, confidence: float | None, right: bool, probability: float = 1.0) -> None:
        """Count one answer: was the prediction made at query time, at ``confidence``, right?

        ``probability`` is the chance the query had of being asked. A query asked
        before the model knew any class has no prediction to score: it is left
        out (those events are counted wrong through their stratum).
        """
        if confidence is None:
            return
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], got {probability!r}")
        # As _stratum, on one number: an array for one answer costs more than the answer.
        scaled = confidence * _STRATA
        stratum = min(max(int(scaled), 0), _STRATA - 1) if math.isfinite(scaled) else 0
        # Trimmed at κ times the events per answer so far (this one left out, and at least one).
        weight = min(1.0 / probability, TRIM * self.events.sum() / max(self.answers.sum(), 1.0))
        self.answers[stratum] += 1.0
        self.weight[stratum] += weight
        self.right[stratum] += weight * right
        self.weight2[stratum] += weight * weight
        self.right2[stratum] += weight * weight * right

    def estimate(self) -> Estimate | None:
        """The estimate, or ``None`` before any event."""
        total = self.events.sum()
        if not total:
            return None
        share = self.events / total
        mean_confidence = np.divide(
            self.confidence, self.events, out=np.zeros(_STRATA), where=self.events > 0
        )
        k = self.prior
        accuracy = (self.right + k * mean_confidence) / (self.weight + k)
        # Σ w² (r - a)² = Σ w² r (1 - 2a) + a² Σ w², as r² = r.
        spread = self.right2 * (1 - 2 * accuracy) + accuracy**2 * self.weight2
        variance = (spread + k * accuracy * (1 - accuracy)) / (self.weight + k) ** 2
        # Where every answer agrees the linearised variance is 0: no less than Agresti and
        # Coull's at the answers' effective number (Kish), as for a plain proportion.
        effective = np.divide(
            self.weight**2, self.weight2, out=np.zeros(_STRATA), where=self.weight2 > 0
        )
        adjusted = (accuracy * effective + 2) / (effective + 4)
        variance = np.maximum(variance, adjusted * (1 - adjusted) / (effective + 4))
        value = float(share @ accuracy)
        half = 1.96 * math.sqrt(max(0.0, float(share**2 @ variance)))
        return Estimate(
            value, max(0.0, value - half), min(1.0, value + half), float(self.answers.sum())
        )
