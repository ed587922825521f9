"""`DeployedError`: a numeric model's mean absolute error on *all* recent events, from a few.

The labels a regression rule buys are where the model is least sure (the
widest interval, the most disagreeing committee), so their mean absolute
error (``streamal_labeled_absolute_error``) overstates the error of the
predictions users get. This estimator weighs each answer by ``1 / p``, ``p``
the chance its query had of being asked
(:meth:`streamal.decider.Decider.query_probability`; inverse probability
weighting, Horvitz & Thompson 1952), and takes the weighted mean of the
absolute errors (the ratio, or Hájek, estimator):

* the estimate is ``ê = Σ w |e| / Σ w`` over the recent answers;
* its 95 % interval is ``ê ± 1.96 √V`` with the ratio estimator's
  linearised variance ``V = Σ w² (|e| - ê)² / (Σ w)²``, cut at 0 below;
  with fewer than two answers' worth (Kish's effective number
  ``(Σ w)² / Σ w²``) it is ``[0, ∞)``.

The regression rules ask a share ``f`` of their budget at an even pace
(``even_share``, one event in ``1 / (f b)`` by its place in the stream
alone, ``p = f b``) and the rest by utility (``p = 1``: given the stream, the
rule asks them for certain). The even turns are a systematic sample of the
whole stream, the events of high utility included, so the utility's answers
would count those events twice: when any answer was asked with ``p < 1``,
the estimate rests on those answers alone. Otherwise (a rule without an
even share, ``f = 0``) it is the mean of every answer, the labeled error
again, which overstates the deployed error.

A query asked before the model had learned anything has no prediction to
score and is left out. "Recent" is an exponential window over the events
(``window`` events; answers fade at the same pace), so the estimate follows
drift.

>>> estimator = DeployedError(window=100_000)
>>> estimator.see(1000)
>>> for error in [4.0, 6.0] * 15:  # the utility's answers: p = 1
...     estimator.label(error, probability=1.0)
>>> estimator.estimate().value  # no fair sample yet: the labeled error
5.0
>>> for error in [1.0, 2.0, 3.0] * 5:  # the even turns: p = 0.0125 (f = 0.25, b = 0.05)
...     estimator.label(error, probability=0.0125)
>>> estimate = estimator.estimate()  # the turns' mean, 2, ± 1.96 · √(10 · 80²) / (15 · 80)
>>> round(estimate.value, 3), round(estimate.low, 2), round(estimate.high, 2), estimate.labels
(2.0, 1.59, 2.41, 15.0)

"""

from __future__ import annotations

import math

import numpy as np

from streamal.deployed_accuracy import Estimate

__all__ = ["DeployedError"]


class DeployedError:
    """Estimate the mean absolute error of the predictions on all recent events (see the module).

    Parameters
    ----------
    window
        Events in the exponential window (the mean age of what is counted).
    """

    def __init__(self, window: int = 10_000) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.decay = 1.0 - 1.0 / window
        #: over the recent answers asked for certain (row 0) and with a chance below 1
        #: (row 1): count, Σ w, Σ w |e|, Σ w², Σ w² |e|, Σ w² e²
        self.sums = np.zeros((2, 6))

    def see(self, events: int) -> None:
        """Let ``events`` more events go by: older answers fade."""
        self.sums *= self.decay**events

    def label(self, error: float | None, probability: float = 1.0) -> None:
        """Count one answer: the absolute error of the prediction made when its query was asked.

        ``probability`` is the chance the query had of being asked; ``None`` (no
        prediction yet) or a non-finite error is left out.
        """
        if error is None or not math.isfinite(error):
            return
        if not 0.0 < probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], got {probability!r}")
        e, w = abs(error), 1.0 / probability
        self.sums[int(probability < 1.0)] += (1.0, w, w * e, w * w, w * w * e, w * w * e * e)

    def estimate(self) -> Estimate | None:
        """The estimate, or ``None`` before any answer with a prediction."""
        answers, weight, error, weight2, error2, square2 = self.sums[
            1 if self.sums[1, 1] > 0.0 else 0
        ].tolist()
        if not weight > 0.0:
            return None
        value = error / weight
        if weight**2 / weight2 < 2.0:
            return Estimate(value, 0.0, math.inf, answers)
        # Σ w² (|e| - ê)² = Σ w² e² - 2 ê Σ w² |e| + ê² Σ w²
        spread = square2 - 2.0 * value * error2 + value * value * weight2
        half = 1.96 * math.sqrt(max(0.0, spread)) / weight
        return Estimate(value, max(0.0, value - half), value + half, answers)
