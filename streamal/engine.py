"""`Engine`: events in, queries and predictions out; labels in, training examples out.

The engine is the functional core that the daemon, replay and the demo all
drive. It does no I/O and reads no clock: time arrives with the events and
labels, so the same inputs in the same order give the same outputs.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace

import msgspec
import numpy as np

from streamal.annotators import Annotators, Answer
from streamal.classes import ClassSchema, NotANumber, UnknownClass
from streamal.cost_budget import CostBudget
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
    "Unscored",
]


class Event(msgspec.Struct, frozen=True):
    """One unlabeled event: an id, its features and its time.

    A frozen msgspec struct rather than a frozen dataclass: the daemon makes
    one per event, and the dataclass took 0.57 µs to make here, this 0.09.
    """

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
    #: the stream's known classes, typed (``proba``'s keys are their text), for labeling tools
    classes: tuple[Hashable, ...] = ()
    #: the chance the decider had of asking it (:meth:`streamal.decider.Decider.query_probability`)
    probability: float = 1.0
    #: a numeric target's predicted value (``proba`` is then empty)
    prediction: float | None = None
    #: the predictive standard deviation of ``prediction``, where the model gives one
    std: float | None = None


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's answer for one event, and whether its label was asked for."""

    id: str
    y: Hashable | None
    proba: dict
    queried: bool
    #: a numeric target's predictive standard deviation, where the model gives one
    std: float | None = None


@dataclass(frozen=True, slots=True)
class TrainingExample:
    """A labeled event, as the model learns it (and as the training log records it)."""

    id: str
    x: dict
    y: Hashable
    query_ts: float
    label_ts: float
    y_pred: Hashable | None
    #: who gave ``y`` (with several answers, the first whose answer it is)
    annotator: str | None = None
    #: every answer behind ``y``, when the engine aggregates them (annotator-aware mode)
    answers: tuple[Answer, ...] = ()
    #: the model's probability for ``y_pred`` when it asked (``None`` if it knew no class)
    confidence: float | None = None
    #: the chance the decider had of asking it (its answers stand for ``1 / probability`` events)
    probability: float = 1.0

    @property
    def absolute_error(self) -> float | None:
        """A numeric target's ``|y - y_pred|``; ``None`` when nothing was predicted at query time.

        >>> TrainingExample("e1", {}, 2.5, 0.0, 1.0, y_pred=4.0).absolute_error
        1.5
        """
        return None if self.y_pred is None else abs(self.y - self.y_pred)


class LabelOutcome(enum.StrEnum):
    """What became of a label; the values are the ``outcome`` metric label."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    INVALID = "invalid"
    #: the answer names no class of the stream (:mod:`streamal.classes`); the query waits on
    UNKNOWN_CLASS = "unknown_class"
    #: the answer to a numeric target is no finite number; the query waits on
    NOT_A_NUMBER = "not_a_number"


@dataclass(frozen=True, slots=True)
class RejectedLabel:
    label: Label
    outcome: LabelOutcome
    #: what was wrong with it, for the dead letter
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Unscored:
    """An event the model raised on: it is neither predicted nor decided."""

    event: Event
    #: the exception, as ``Type: message``
    error: str


@dataclass(slots=True)
class Decisions:
    """What the engine made of a batch, as arrays; :attr:`predictions` spells it out per event."""

    #: the scored events' ids (the batch less :attr:`unscored`), in order
    ids: list[str]
    #: class probabilities, events × :attr:`classes` (no columns for a numeric target)
    proba: np.ndarray
    classes: list[Hashable]
    y_pred: list[Hashable | None]
    queried: np.ndarray
    queries: list[Query]
    unscored: list[Unscored] = field(default_factory=list)
    #: a numeric target's predictive standard deviations (NaN: the model gives none)
    std: np.ndarray | None = None

    @property
    def predictions(self) -> list[Prediction]:
        # Built on demand: replay and a daemon without a predictions topic never need them.
        return [Prediction(*fields) for fields in self.prediction_fields()]

    def prediction_fields(
        self, keys: Sequence[Hashable] | None = None
    ) -> list[tuple[str, Hashable | None, dict, bool, float | None]]:
        """Each of :attr:`predictions` as the tuple of its fields, without making the objects.

        The daemon writes them out as they are, two thousand at a turn. ``keys``
        stand for the classes in the ``proba`` dicts (their names in a record).
        """
        queried = self.queried.tolist()
        if self.std is not None:
            return [
                (event_id, y, {}, ask, _known(std))
                for event_id, y, std, ask in zip(
                    self.ids, self.y_pred, self.std.tolist(), queried, strict=True
                )
            ]
        classes = self.classes if keys is None else keys
        return [
            (event_id, y, dict(zip(classes, row, strict=True)), ask, None)
            for event_id, y, row, ask in zip(
                self.ids, self.y_pred, self.proba.tolist(), queried, strict=True
            )
        ]


def _known(value: float) -> float | None:
    """``value``, or ``None`` for NaN: how a message says that the model does not know."""
    return None if math.isnan(value) else value


@dataclass(slots=True)
class Joined:
    examples: list[TrainingExample] = field(default_factory=list)
    rejected: list[RejectedLabel] = field(default_factory=list)
    #: queries asked again for a second label (same id)
    queries: list[Query] = field(default_factory=list)


@dataclass(slots=True)
class _Waiting:
    """A query with some of its answers, waiting for the others until ``deadline``."""

    query: PendingQuery
    answers: list[Answer]
    expected: int
    deadline: float
    label_ts: float = -math.inf
    asked_again: bool = False


#: How many of a numeric target's last errors make the yardstick of a miss.
_ERROR_WINDOW = 500

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
    annotators
        Annotator-aware mode (:mod:`streamal.annotators`): several answers
        for one id are awaited and aggregated by reliability, and a second
        label is asked for when the answers' vote is unsure.
        The model still learns each id once: one training example, carrying
        the aggregated label and every answer. ``None`` (the default): the
        first answer is learned and later ones are duplicates.
    cost_budget
        Refuse the decider's queries, and the queries asked again, whose
        expected cost would overspend this budget (in cost units per event,
        or in answers per event for an
        :class:`~streamal.cost_budget.AnswerBudget`); the decider is built to
        pace for it (:meth:`streamal.settings.EngineSettings.decider`).
    schema
        The stream's classes: every answer is read against it before it is
        learned (:mod:`streamal.classes`). By default their type comes from
        the first label and new classes are learned as they come; a
        regressor's target is a number.

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
        annotators: Annotators | None = None,
        cost_budget: CostBudget | None = None,
        schema: ClassSchema | None = None,
    ) -> None:
        self.model = model if isinstance(model, Model) else Model(model)
        numeric = self.model.is_regressor
        self.schema = schema or ClassSchema(kind="float" if numeric else None)
        self.pending = PendingQueries(max_pending, pending_ttl)
        #: queries dropped for age or room since the engine started
        self.expired = 0
        self.annotators = annotators
        self.cost_budget = cost_budget
        #: answered queries waiting for more answers (annotator-aware mode), by id
        self.waiting: dict[str, _Waiting] = {}
        #: queries asked again for a second label
        self.asked_again = 0
        #: the latest event time seen: the clock of the waits
        self.clock = -math.inf
        self.features: FeatureEncoder | None = None
        #: a numeric target's last absolute errors, the yardstick of a miss (see :meth:`_errors`)
        self.recent_errors: deque[float] = deque(maxlen=_ERROR_WINDOW)
        self.use_decider(decider)

    def use_decider(self, decider: Decider) -> None:
        """Decide with ``decider`` from now on (a restart with other settings swaps it)."""
        if decider.task != self.model.task:
            raise ValueError(
                f"{decider.name} decides for {decider.task}, the model predicts for "
                f"{self.model.task}"
            )
        if decider.needs_committee and not self.model.is_committee:
            example = (
                "ensemble.BaggingRegressor(linear_model.LinearRegression(), n_models=5)"
                if self.model.is_regressor
                else "ensemble.BaggingClassifier(tree.HoeffdingTreeClassifier(), n_models=5)"
            )
            raise ValueError(
                f"{decider.name} needs a committee: use an ensemble model, e.g. {example}"
            )
        self.decider = decider
        # Feature rows for deciders that measure distances between events; an encoder
        # already fitted is kept, its scaling is still the stream's.
        if decider.needs_features and self.features is None:
            self.features = FeatureEncoder(decider.n_features)

    def __setstate__(self, state: dict) -> None:
        # Snapshots written before annotator-aware mode lack its attributes.
        self.__dict__.update(
            annotators=None,
            cost_budget=None,
            waiting={},
            asked_again=0,
            clock=-math.inf,
            recent_errors=deque(maxlen=_ERROR_WINDOW),
        )
        self.__dict__.update(state)
        if "schema" not in state:
            # Written before answers were read against the classes: those the model knows.
            self.schema = ClassSchema(list(self.model.classes))

    def process(self, events: Sequence[Event], redone: Sequence[bool] = ()) -> Decisions:
        """Predict every event, decide which to query, and remember the queries.

        The model is the user's choice and may raise on an event (a string
        feature for a numeric model, say): that event is returned in
        :attr:`Decisions.unscored` and the rest of the batch is decided as if
        it had never come, so its failure costs no other event anything.

        ``redone`` flags, event by event, those whose decision was already
        taken (an event read again after a crash or a partition move, which
        the driver knows from the queries log): they are predicted again but
        not decided again, so the budget is spent on each event once; their
        prediction says whether their query is known (:meth:`was_queried`).

        >>> from streamal.decider import Decider
        >>> engine = Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 1.0))
        >>> asked = engine.process([Event("a", {"x": 1.0}, ts=0.0)])
        >>> again = engine.process(
        ...     [Event("a", {"x": 1.0}, ts=0.0), Event("b", {"x": 2.0}, ts=1.0)], [True, True]
        ... )
        >>> [p.queried for p in again.predictions], again.queries, engine.decider.labels_spent
        ([True, False], [], 1)

        """
        flagged = {id(e) for e, again in zip(events, redone, strict=False) if again}
        events, proba, committee, unscored = self._score(events)
        decided: Sequence[int] = range(len(events))
        if flagged:
            decided = [i for i, e in enumerate(events) if id(e) not in flagged]
        whole = len(decided) == len(events)  # nothing redone: the batch's rows as they are
        first_number, seen_before = self.decider.queries_made, self.decider.events_seen
        features = None
        if self.features:
            features = self.features.transform([events[i].x for i in decided])
        choice, scores = self.decider.decide(
            proba if whole else proba[decided],
            features=features,
            committee=committee if committee is None or whole else committee[decided],
        )
        # The decider numbers its queries in order, the ones the cost budget vetoes included.
        asked = choice.nonzero()[0].tolist()
        if self.cost_budget is not None:
            choice = self._within_cost_budget([events[i] for i in decided], choice)
            self.decider.refund(len(asked) - int(np.count_nonzero(choice)))
        if whole:
            queried = choice
        else:
            queried = np.zeros(len(events), dtype=bool)
            queried[decided] = choice
            for i in range(len(events)):
                if id(events[i]) in flagged:
                    queried[i] = self.was_queried(events[i].id)
        self.clock = max(self.clock, max([e.ts for e in events], default=-math.inf))
        y_pred = self.model.predict(proba)
        numeric = self.model.is_regressor
        classes = list(self.model.classes)
        known = tuple(self.schema.classes)
        queries = []
        # Python numbers read once per batch: numpy scalars cost more one by one.
        kept, rows = choice.tolist(), proba.tolist()
        chances = self.decider.query_probability(scores, seen_before).tolist()
        scores = scores.tolist()
        for number, j in enumerate(asked, start=first_number):
            if not kept[j]:
                continue  # vetoed by the cost budget
            event, row = events[decided[j]], rows[decided[j]]
            # A regressor that has learned nothing still says a number; it is no prediction.
            guess = None if numeric and not self.model.version else y_pred[decided[j]]
            told = numeric and guess is not None
            queries.append(
                Query(
                    event.id,
                    event.ts,
                    event.x,
                    {} if numeric else dict(zip(classes, row, strict=True)),
                    scores[j],
                    self.decider.strategy,
                    self.model.version,
                    known,
                    chances[j],
                    guess if told else None,
                    _known(row[1]) if told else None,
                )
            )
            confidence = max(row) if row and not numeric else None
            pending = PendingQuery(
                event.id,
                event.x,
                event.ts,
                guess,
                scores[j],
                confidence,
                number,
                chances[j],
            )
            self._dropped(self.pending.add(pending))
        ids = [e.id for e in events]
        if numeric:
            # A regressor's rows are its values and deviations, not class probabilities.
            values = np.empty((len(events), 0))
            return Decisions(ids, values, [], y_pred, queried, queries, unscored, proba[:, 1])
        return Decisions(ids, proba, classes, y_pred, queried, queries, unscored)

    def _score(
        self, events: Sequence[Event]
    ) -> tuple[Sequence[Event], np.ndarray, np.ndarray | None, list[Unscored]]:
        """Class (and committee) probabilities of the events the model can score.

        The whole batch in one call when the model takes it; otherwise event by
        event, to tell which ones it refuses. A regressor's rows are its
        predicted values and deviations, its committee's the members' values.
        """
        try:
            return (events, *self._probabilities(events), [])
        except Exception:  # the user's model: any error is the data's, found below
            pass
        scored: list[Event] = []
        rows: list[np.ndarray] = []
        members: list[np.ndarray] = []
        unscored: list[Unscored] = []
        for event in events:
            try:
                proba, committee = self._probabilities([event])
            except Exception as e:
                unscored.append(Unscored(event, f"{type(e).__name__}: {e}"))
                continue
            scored.append(event)
            rows.append(proba[0])
            if committee is not None:
                members.append(committee[0])
        # Classes first met on a later event widen the rows scored before it.
        k = 2 if self.model.is_regressor else len(self.model.classes)
        proba = np.zeros((len(scored), k))
        for i, row in enumerate(rows):
            proba[i, : len(row)] = row
        committee = None
        if self.decider.needs_committee:
            size = members[0].shape[0] if members else 0
            committee = np.zeros((len(scored), size, 1 if self.model.is_regressor else k))
            for i, row in enumerate(members):
                committee[i, :, : row.shape[1]] = row
        return scored, proba, committee, unscored

    def _probabilities(self, events: Sequence[Event]) -> tuple[np.ndarray, np.ndarray | None]:
        xs = [e.x for e in events]
        model, committee = self.model, None
        if model.is_regressor:
            if self.decider.needs_committee:
                committee = model.committee_values(xs)
            return model.predict_values(xs, committee), committee
        if self.decider.needs_committee:
            committee = model.committee_proba(xs)
        return model.predict_proba(xs), committee

    def _within_cost_budget(self, events: Sequence[Event], queried: np.ndarray) -> np.ndarray:
        """Veto the queries the cost budget cannot pay for, event by event in stream order."""
        budget = self.cost_budget
        answers = self.annotators.labels_per_query if self.annotators else 1
        allowed = queried.copy()
        seen = 0
        for i in np.flatnonzero(queried).tolist():
            budget.see(i + 1 - seen)
            seen = i + 1
            allowed[i] = budget.ask(events[i].id, answers)
        budget.see(len(events) - seen)
        return allowed

    def was_queried(self, query_id: str) -> bool:
        """Whether a query of this id is known: pending, waiting, answered or expired."""
        return query_id in self.waiting or self.pending.status(query_id) != "unknown"

    def restore_pending(self, query: PendingQuery) -> None:
        """Make ``query`` pending again (a query written before a crash that the snapshot lacks)."""
        self._dropped(self.pending.add(query))

    def _dropped(self, queries: list[PendingQuery]) -> None:
        self.expired += len(queries)
        if self.cost_budget is not None:
            for query in queries:
                self.cost_budget.cancel(query.id)

    def expire(self, now: float) -> list[PendingQuery]:
        """Drop the queries whose label did not come within the time-to-live."""
        dropped = self.pending.expire(now)
        self._dropped(dropped)
        return dropped

    def close(self, query_id: str) -> None:
        """Forget the query of an id that the model has learned (from the training log)."""
        self.pending.learned(query_id)
        if self.waiting.pop(query_id, None) is not None and self.cost_budget is not None:
            self.cost_budget.cancel(query_id)

    def join(self, labels: Sequence[Label]) -> Joined:
        """Match labels with pending queries, without learning yet.

        Labels that answer nothing pending are rejected with the reason, not
        raised: duplicates, late labels for expired queries and labels for
        ids that were never asked are normal on a real stream. In
        annotator-aware mode an answer may instead wait for the others of
        its id (see :meth:`settle`). A decider that learns which queries pay
        off is told at the first answer, from the query's own prediction, so
        it learns from the answers to its own queries only (replicas learn
        each other's examples from the training log, not these).
        """
        joined = Joined()
        answered: list[tuple[int, bool]] = []
        for label in labels:
            waiting = self.waiting.get(label.id)
            query = waiting.query if waiting else self.pending.get(label.id)
            if query is None:
                status = self.pending.status(label.id)
                outcome = _OUTCOME_OF_STATUS.get(status, LabelOutcome.UNKNOWN)
                detail = f"no pending query for id {label.id!r} ({outcome.value})"
                joined.rejected.append(RejectedLabel(label, outcome, detail))
                continue
            try:
                y = self.schema.read(label.label)
            except UnknownClass as e:
                # A slip of the labeler: the query stays open for a right answer.
                outcome = (
                    LabelOutcome.NOT_A_NUMBER
                    if isinstance(e, NotANumber)
                    else LabelOutcome.UNKNOWN_CLASS
                )
                joined.rejected.append(RejectedLabel(label, outcome, str(e)))
                continue
            if y is not label.label:  # dataclasses.replace is slow; most answers read as is
                label = replace(label, label=y)
            if waiting is None:
                self.pending.pop(label.id)
            if self.cost_budget is not None:
                self.cost_budget.pay(label.id, label.cost)
            answered.append((query.number, query.y_pred != label.label))
            if self.annotators is None:
                joined.examples.append(
                    TrainingExample(
                        label.id,
                        query.x,
                        label.label,
                        query.ts,
                        label.ts,
                        query.y_pred,
                        label.annotator,
                        confidence=query.confidence,
                        probability=query.probability,
                    )
                )
                continue
            if waiting is None:
                deadline = self.clock + self.annotators.wait
                waiting = _Waiting(query, [], self.annotators.labels_per_query, deadline)
            waiting.answers.append(Answer(label.label, label.annotator, label.cost))
            waiting.label_ts = max(waiting.label_ts, label.ts)
            if len(waiting.answers) >= waiting.expected and self._ask_again(waiting, joined):
                waiting.expected += 1
            if len(waiting.answers) >= waiting.expected:
                self.waiting.pop(label.id, None)
                joined.examples.append(self._aggregate(waiting))
            else:
                self.waiting[label.id] = waiting
        if answered and self.decider.needs_answers:
            numbers, errors = zip(*answered, strict=True)
            self.decider.credit(np.array(numbers), np.array(errors))
        return joined

    def _ask_again(self, waiting: _Waiting, joined: Joined) -> bool:
        """Re-issue the query when its answers' vote is unsure (:meth:`Annotators.second_label`)."""
        query = waiting.query
        if waiting.asked_again or not self.annotators.second_label(
            waiting.answers, query.y_pred, query.confidence, self.model.classes
        ):
            return False
        if self.cost_budget is not None and not self.cost_budget.ask(query.id):
            return False
        waiting.asked_again = True
        self.asked_again += 1
        proba = self.model.predict_proba([query.x])[0].tolist()
        joined.queries.append(
            Query(
                query.id,
                query.ts,
                query.x,
                dict(zip(self.model.classes, proba, strict=True)),
                query.score,
                self.decider.strategy,
                self.model.version,
                tuple(self.schema.classes),
                query.probability,
            )
        )
        return True

    def _aggregate(self, waiting: _Waiting) -> TrainingExample:
        query, answers = waiting.query, waiting.answers
        y = self.annotators.aggregate(answers, self.model.classes, query.y_pred, query.confidence)
        return TrainingExample(
            query.id,
            query.x,
            y,
            query.ts,
            waiting.label_ts,
            query.y_pred,
            next(a.annotator for a in answers if a.label == y),
            tuple(answers),
            query.confidence,
            query.probability,
        )

    def settle(self, now: float) -> list[TrainingExample]:
        """The examples of the queries whose wait for more answers is over, on what came."""
        due = [w for w in self.waiting.values() if w.deadline <= now]
        for waiting in due:
            del self.waiting[waiting.query.id]
            if self.cost_budget is not None:
                self.cost_budget.cancel(waiting.query.id)
        return [self._aggregate(w) for w in due]

    def learn(self, examples: Sequence[TrainingExample]) -> None:
        """Update the model with labeled examples, in order (and the decider, if it learns)."""
        if examples:
            xs = [e.x for e in examples]
            self.model.learn(xs, [e.y for e in examples])
            for e in examples:
                # Another replica may have joined it: every fold of the log knows its classes.
                self.schema.observe(e.y)
            if self.decider.needs_labels:
                rows = self.features.transform(xs, update=False)
                if self.model.is_regressor:
                    self.decider.learn(rows)
                else:
                    classes = np.array([self.model.classes.index(e.y) for e in examples])
                    self.decider.learn(rows, classes)
            if self.decider.drift_aware:
                self.decider.observe_errors(self._errors(examples))
            if self.annotators is not None:
                for e in examples:
                    self.annotators.observe(
                        e.answers, e.y_pred, e.confidence, e.y, self.model.classes
                    )

    def _errors(self, examples: Sequence[TrainingExample]) -> np.ndarray:
        """The labeled error stream, as misses (0/1) for the drift detector.

        A numeric target's prediction misses when its absolute error is above
        the median of the last :data:`_ERROR_WINDOW` ones: ADWIN's bound holds
        for values in [0, 1], and after a drift more than half the errors are
        above the old median. Queries asked before the model learned anything
        had no prediction and are left out.
        """
        if not self.model.is_regressor:
            return np.array([e.y_pred != e.y for e in examples], dtype=np.float64)
        misses = []
        for e in examples:
            if e.y_pred is None:
                continue
            error = abs(e.y - e.y_pred)
            if self.recent_errors:
                misses.append(float(error > np.median(self.recent_errors)))
            self.recent_errors.append(error)
        return np.array(misses)

    def answer(self, labels: Sequence[Label]) -> Joined:
        """Join labels with their queries and learn from them at once."""
        joined = self.join(labels)
        self.learn(joined.examples)
        return joined
