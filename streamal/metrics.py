"""`Metrics`: the Prometheus families of the daemon, in a registry of their own.

The names, types and label values are a contract with the dashboards and
alerts in ``deploy/``: change them there too. Every labelled family starts
with all its label values at zero, so a rate over a reason that has not
happened yet is 0, not "no data".
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from streamal import __version__
from streamal.engine import LabelOutcome
from streamal.messages import Reason

__all__ = [
    "DEAD_LETTER_REASONS",
    "OTHER",
    "BoundedNames",
    "Metrics",
    "RollingAccuracy",
    "RollingError",
]

#: Why a record reaches the dead-letter topic: it was invalid, or a label answered nothing.
DEAD_LETTER_REASONS = (
    *(r.value for r in Reason),
    LabelOutcome.DUPLICATE.value,
    LabelOutcome.UNKNOWN.value,
    LabelOutcome.EXPIRED.value,
    LabelOutcome.UNKNOWN_CLASS.value,
    LabelOutcome.NOT_A_NUMBER.value,
)

#: The metric label of every name beyond the tracked ones.
OTHER = "other"

_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_HUMAN = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
_SNAPSHOT = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BoundedNames:
    """At most ``limit`` distinct names for metric labels: the first seen, then :data:`OTHER`.

    >>> names = BoundedNames(limit=2)
    >>> [names("alice"), names("bob"), names("carol"), names("alice"), names(None)]
    ['alice', 'bob', 'other', 'alice', 'other']
    >>> names.tracked
    ['alice', 'bob']

    """

    def __init__(self, limit: int, seen: Iterable[str] = ()) -> None:
        self.limit = limit
        self._tracked: dict[str, None] = {}
        for name in seen:
            self(name)

    @property
    def tracked(self) -> list[str]:
        return list(self._tracked)

    def __call__(self, name: str | None) -> str:
        if name is None or name == OTHER:
            return OTHER
        if name not in self._tracked and len(self._tracked) < self.limit:
            self._tracked[name] = None
        return name if name in self._tracked else OTHER


class RollingAccuracy:
    """The fraction of the last ``window`` predictions that matched their label.

    >>> accuracy = RollingAccuracy(window=3)
    >>> for y_pred, y in [("a", "a"), ("a", "b"), (None, "a"), ("b", "b"), ("b", "b")]:
    ...     accuracy.update(y_pred, y)
    >>> round(accuracy.value, 3)
    0.667

    """

    def __init__(self, window: int = 1000) -> None:
        self._scores: deque[float] = deque(maxlen=window)

    @staticmethod
    def score(y_pred: Hashable, y: Hashable) -> float:
        return float(y_pred == y)

    def update(self, y_pred: Hashable | None, y: Hashable) -> None:
        """Count one answer; one to a query asked before the model learned anything is not."""
        if y_pred is not None:
            self._scores.append(self.score(y_pred, y))

    @property
    def value(self) -> float:
        """NaN until a label has been seen, which Prometheus shows as "no value yet"."""
        # Summed when read (once per batch of labels): no running sum to drift.
        return math.fsum(self._scores) / len(self._scores) if self._scores else math.nan


class RollingError(RollingAccuracy):
    """The mean absolute error of the last ``window`` predictions of a numeric target.

    >>> error = RollingError(window=2)
    >>> for y_pred, y in [(1.0, 4.0), (None, 9.0), (2.0, 1.5), (3.0, 2.0)]:
    ...     error.update(y_pred, y)
    >>> error.value
    0.75

    """

    @staticmethod
    def score(y_pred: Hashable, y: Hashable) -> float:
        return abs(y - y_pred)


class Metrics:
    """The daemon's metric families.

    Examples
    --------

    >>> metrics = Metrics()
    >>> metrics.labels.labels(outcome="applied").inc(3)
    >>> metrics.value("streamal_labels_total", outcome="applied")
    3.0
    >>> metrics.value("streamal_build_info", version=__version__)
    1.0

    """

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.events = Counter("streamal_events", "Valid events scored.", registry=r)
        self.queries = Counter("streamal_queries", "Queries sent for labeling.", registry=r)
        self.labels = Counter(
            "streamal_labels", "Labels received, by outcome.", ["outcome"], registry=r
        )
        self.invalid_records = Counter(
            "streamal_invalid_records", "Records refused, by reason.", ["reason"], registry=r
        )
        self.dead_letters = Counter(
            "streamal_dead_letters",
            "Records written to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.model_errors = Counter(
            "streamal_model_errors",
            "Events the model could not score (stage predict) and training examples it could "
            "not learn (stage learn); each is dead-lettered with reason model_error.",
            ["stage"],
            registry=r,
        )
        self.undeliverable = Counter(
            "streamal_undeliverable_records",
            "Records Kafka refused for good (too large, unknown topic, not authorized), by "
            "the role of their topic and the error; each is reported on the dead-letter topic.",
            ["topic", "error"],
            registry=r,
        )
        self.budget_target = Gauge(
            "streamal_budget_target_ratio", "Fraction of events that may be queried.", registry=r
        )
        self.budget_spent = Gauge(
            "streamal_budget_spent_ratio", "Fraction of events queried so far.", registry=r
        )
        self.pending_queries = Gauge(
            "streamal_pending_queries", "Queries waiting for their label.", registry=r
        )
        self.decision_latency = Histogram(
            "streamal_decision_latency_seconds",
            "Time to score and decide one batch of events.",
            buckets=_FAST,
            registry=r,
        )
        self.label_delay = Histogram(
            "streamal_label_delay_seconds",
            "Time from an event's query to its label, in the records' time.",
            buckets=_HUMAN,
            registry=r,
        )
        self.model_update_latency = Histogram(
            "streamal_model_update_latency_seconds",
            "Time to learn one batch of training examples.",
            buckets=_FAST,
            registry=r,
        )
        self.labeled_accuracy = Gauge(
            "streamal_labeled_accuracy_ratio",
            "Accuracy of the prediction made at query time, over the last labels of queries "
            "the model made a prediction for (the queried events: the hardest ones).",
            registry=r,
        )
        self.labeled_error = Gauge(
            "streamal_labeled_absolute_error",
            "A numeric target's mean absolute error of the prediction made at query time, "
            "over the last labels of queries made once the model had learned something.",
            registry=r,
        )
        self.deployed_accuracy = Gauge(
            "streamal_deployed_accuracy_ratio",
            "Estimated accuracy of the predictions on all recent events (bound: estimate, "
            "and the low and high ends of its 95 % interval); see streamal.deployed_accuracy.",
            ["bound"],
            registry=r,
        )
        self.deployed_error = Gauge(
            "streamal_deployed_absolute_error",
            "A numeric target's estimated mean absolute error of the predictions on all "
            "recent events (bound: estimate, and the low and high ends of its 95 % interval); "
            "see streamal.deployed_error.",
            ["bound"],
            registry=r,
        )
        self.snapshot_duration = Histogram(
            "streamal_snapshot_duration_seconds",
            "Time to write one snapshot durably.",
            buckets=_SNAPSHOT,
            registry=r,
        )
        self.snapshot_age = Gauge(
            "streamal_snapshot_age_seconds", "Time since the last durable snapshot.", registry=r
        )
        self.consumer_lag = Gauge(
            "streamal_consumer_lag_records",
            "Records in the topic not consumed yet.",
            ["topic"],
            registry=r,
        )
        self.annotator_labels = Counter(
            "streamal_annotator_labels",
            "Answers learned, by annotator (the first names seen, the rest 'other').",
            ["annotator"],
            registry=r,
        )
        self.annotator_reliability = Gauge(
            "streamal_annotator_reliability",
            "Estimated accuracy of each tracked annotator (annotator-aware mode).",
            ["annotator"],
            registry=r,
        )
        self.label_cost = Counter(
            "streamal_label_cost",
            "Cost of the answers received (an answer without a cost counts 1).",
            registry=r,
        )
        self.strategy_weight = Gauge(
            "streamal_strategy_weight_ratio",
            "Chance that the bandit follows each of its query rules (the default strategy).",
            ["rule"],
            registry=r,
        )
        self.build_info = Gauge(
            "streamal_build_info", "The running streamal version.", ["version"], registry=r
        )
        self.build_info.labels(version=__version__).set(1)
        for outcome in LabelOutcome:
            self.labels.labels(outcome=outcome.value)
        for reason in Reason:
            self.invalid_records.labels(reason=reason.value)
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason=reason)
        self.labeled_accuracy.set(float("nan"))
        self.labeled_error.set(float("nan"))
        for bound in ("estimate", "low", "high"):
            self.deployed_accuracy.labels(bound=bound).set(float("nan"))
            self.deployed_error.labels(bound=bound).set(float("nan"))

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one sample (for tests and the demo's status line)."""
        return self.registry.get_sample_value(name, labels)

    def exposition(self) -> bytes:
        """The text a scrape of ``/metrics`` returns."""
        return generate_latest(self.registry)
