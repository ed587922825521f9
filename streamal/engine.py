"""`Engine`: events in, queries and predictions out; labels in, training examples out.

The engine is the functional core that the daemon, replay and the demo all
drive. It does no I/O and reads no clock: time arrives with the events and
labels, so the same inputs in the same order give the same outputs.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamal.decider import Decider
from streamal.features import FeatureEncoder
from streamal.model import Model
from streamal.pending import PendingQueries, PendingQuery

__all__ = [
    "Decisions",
    "Engine",
    "Event",
    "Joined",
    "Label",
    "LabelOutcome",
    "Prediction",
    "Query",
    "RejectedLabel",
    "TrainingExample",
]


@dataclass(frozen=True, slots=True)
class Event:
    """One unlabeled event: an id, its features and its time."""

    id: str
    x: dict
    ts: float


@dataclass(frozen=True, slots=True)
class Label:
    """A labeler's answer to the query with the same id."""

    id: str
    label: Hashable
    ts: float
    annotator: str | None = None
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """A request for the label of event ``id``."""

    id: str
    ts: float
    x: dict
    proba: dict
    score: float
    strategy: str
    model_version: int


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's answer for one event, and whether its label was asked for."""

    id: str
    y: Hashable | None
    proba: dict
    queried: bool


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """A labeled event, as the model learns it (and as the training log records it)."""

    id: str
    x: dict
    y: Hashable
    query_ts: float
    label_ts: float
    y_pred: Hashable | None
    annotator: str | None = None


class LabelOutcome(enum.StrEnum):
    """What became of a label; the values are the ``outcome`` metric label."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class RejectedLabel:
    label: Label
    outcome: LabelOutcome


@dataclass(slots=True)
class Decisions:
    """What the engine made of a batch, as arrays; :attr:`predictions` spells it out per event."""

    ids: list[str]
    #: class probabilities, events × :attr:`classes`
    proba: np.ndarray
    classes: list[Hashable]
    y_pred: list[Hashable | None]
    queried: np.ndarray
    queries: list[Query]

    @property
    def predictions(self) -> list[Prediction]:
        # Built on demand: replay and a daemon without a predictions topic never need them.
        return [
            Prediction(event_id, y, dict(zip(self.classes, row, strict=True)), bool(ask))
            for event_id, y, row, ask in zip(
                self.ids, self.y_pred, self.proba.tolist(), self.queried, strict=True
            )
        ]


@dataclass(slots=True)
class Joined:
    examples: list[TrainingExample] = field(default_factory=list)
    rejected: list[RejectedLabel] = field(default_factory=list)


_OUTCOME_OF_STATUS = {
    "answered": LabelOutcome.DUPLICATE,
    "expired": LabelOutcome.EXPIRED,
    "unknown": LabelOutcome.UNKNOWN,
}


class Engine:
    """Predict, decide and learn on a stream, one batch at a time.

    Parameters
    ----------
    model
        The incremental model (or a spec string for one).
    decider
        The budgeted query decider.
    max_pending, pending_ttl
        Bounds of the queries waiting for labels (count, and age in the
        events' time unit).

    Examples
    --------

    >>> from streamal.decider import Decider
    >>> engine = Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 0.5))
    >>> out = engine.process([Event("a", {"x": 1.0}, ts=0.0), Event("b", {"x": 5.0}, ts=1.0)])
    >>> [q.id for q in out.queries]  # an empty model is unsure of everything
    ['a', 'b']
    >>> joined = engine.answer([Label("a", "low", ts=2.0), Label("a", "low", ts=2.5)])
    >>> [e.y for e in joined.examples], [r.outcome.value for r in joined.rejected]
    (['low'], ['duplicate'])
    >>> engine.model.version
    1

    """

    def __init__(
        self,
        model: Model | str,
        decider: Decider,
        *,
        max_pending: int = 100_000,
        pending_ttl: float = float("inf"),
    ) -> None:
        self.model = model if isinstance(model, Model) else Model(model)
        self.decider = decider
        self.pending = PendingQueries(max_pending, pending_ttl)
        #: queries dropped for age or room since the engine started
        self.expired = 0
        #: feature rows for deciders that measure distances between events
        self.features = FeatureEncoder(decider.n_features) if decider.needs_features else None
        if decider.needs_committee and not self.model.is_committee:
            raise ValueError(
                f"{decider.name} needs a committee: use an ensemble model, "
                "e.g. ensemble.BaggingClassifier(tree.HoeffdingTreeClassifier(), n_models=5)"
            )

    def process(self, events: Sequence[Event]) -> Decisions:
        """Predict every event, decide which to query, and remember the queries."""
        xs = [e.x for e in events]
        proba = self.model.predict_proba(xs)
        first_number = self.decider.labels_spent
        features = self.features.transform(xs) if self.features else None
        committee = self.model.committee_proba(xs) if self.decider.needs_committee else None
        queried, scores = self.decider.decide(proba, features=features, committee=committee)
        y_pred = self.model.predict(proba)
        classes = list(self.model.classes)
        queries = []
        for number, i in enumerate(np.flatnonzero(queried).tolist(), start=first_number):
            event = events[i]
            score = float(scores[i])
            row = dict(zip(classes, proba[i].tolist(), strict=True))
            queries.append(
                Query(
                    event.id,
                    event.ts,
                    event.x,
                    row,
                    score,
                    self.decider.strategy,
                    self.model.version,
                )
            )
            dropped = self.pending.add(
                PendingQuery(event.id, event.x, event.ts, y_pred[i], score, number)
            )
            self.expired += len(dropped)
        return Decisions([e.id for e in events], proba, classes, y_pred, queried, queries)

    def expire(self, now: float) -> list[PendingQuery]:
        """Drop the queries whose label did not come within the time-to-live."""
        dropped = self.pending.expire(now)
        self.expired += len(dropped)
        return dropped

    def join(self, labels: Sequence[Label]) -> Joined:
        """Match labels with pending queries, without learning yet.

        Labels that answer nothing pending are rejected with the reason, not
        raised: duplicates, late labels for expired queries and labels for
        ids that were never asked are normal on a real stream. A decider that
        learns which queries pay off is told here, from the query's own
        prediction, so it learns from the answers to its own queries only
        (replicas learn each other's examples from the training log, not these).
        """
        joined = Joined()
        answered: list[tuple[int, bool]] = []
        for label in labels:
            query = self.pending.pop(label.id)
            if query is None:
                outcome = _OUTCOME_OF_STATUS.get(
                    self.pending.status(label.id), LabelOutcome.UNKNOWN
                )
                joined.rejected.append(RejectedLabel(label, outcome))
                continue
            joined.examples.append(
                TrainingExample(
                    label.id,
                    query.x,
                    label.label,
                    query.ts,
                    label.ts,
                    query.y_pred,
                    label.annotator,
                )
            )
            answered.append((query.number, query.y_pred != label.label))
        if answered and self.decider.needs_answers:
            numbers, errors = zip(*answered, strict=True)
            self.decider.credit(np.array(numbers), np.array(errors))
        return joined

    def learn(self, examples: Sequence[TrainingExample]) -> None:
        """Update the model with labeled examples, in order (and the decider, if it learns)."""
        if examples:
            xs = [e.x for e in examples]
            self.model.learn(xs, [e.y for e in examples])
            if self.decider.needs_labels:
                classes = np.array([self.model.classes.index(e.y) for e in examples])
                self.decider.learn(self.features.transform(xs, update=False), classes)
            if self.decider.drift_aware:
                self.decider.observe_errors(np.array([e.y_pred != e.y for e in examples]))

    def answer(self, labels: Sequence[Label]) -> Joined:
        """Join labels with their queries and learn from them at once."""
        joined = self.join(labels)
        self.learn(joined.examples)
        return joined
