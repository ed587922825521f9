"""Prequential replay of a recorded stream with a simulated oracle.

Every event is predicted before its label can be known, and accuracy counts
every event; so does balanced accuracy (the mean of the per-class recalls, river's
``metrics.BalancedAccuracy``), in which a rare class weighs as much as a common
one. A numeric target (a regressor) is scored the same way by the mean
absolute error, the root mean squared error and R² (river's ``metrics.MAE``,
``RMSE`` and ``R2``). The oracle reveals a label only for events the decider queried, and only
after the configured delay (in events, or in the stream's time unit). Labels
that fall due are learned at the next batch boundary, as in the daemon, where
labels arrive between polls.

With simulated annotators (:class:`SimulatedAnnotator`), each answer comes
from one of them chosen at random, right with its accuracy and otherwise a
uniformly random other class among those seen so far, and costs its cost.
The engine then learns the first answer as is, or, with ``aggregate``,
weighs answers by estimated reliability and asks another annotator when
their vote is unsure (:mod:`streamal.annotators`).
"""

from __future__ import annotations

import copy
import heapq
import math
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import msgspec
import numpy as np
from river import metrics

from streamal.annotators import Annotators
from streamal.classes import ClassSchema, UnknownClass
from streamal.deployed_accuracy import DeployedAccuracy
from streamal.deployed_error import DeployedError
from streamal.engine import Event, Label, Query
from streamal.settings import EngineSettings, build_engine

__all__ = [
    "LabelDelay",
    "ReplayResult",
    "ReplaySetup",
    "Row",
    "SimulatedAnnotator",
    "replay",
]


class Row(Event, frozen=True, kw_only=True):
    """One event of a recorded stream, with its true label (always passed by name)."""

    y: Hashable


@dataclass(frozen=True, slots=True)
class LabelDelay:
    """How long a queried label takes to arrive: ``amount`` events, or time units if ``in_time``."""

    amount: float = 0.0
    in_time: bool = False

    def __post_init__(self) -> None:
        if not self.amount >= 0:
            raise ValueError(f"label delay must be zero or positive, got {self.amount!r}")


@dataclass(frozen=True, slots=True)
class SimulatedAnnotator:
    """A simulated labeler: right with probability ``accuracy``, at ``cost`` per answer."""

    name: str
    accuracy: float
    cost: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.accuracy <= 1.0:
            raise ValueError(f"{self.name}: accuracy must be in [0, 1], got {self.accuracy:g}")
        if not (self.cost >= 0 and np.isfinite(self.cost)):
            raise ValueError(f"{self.name}: cost must be a number >= 0, got {self.cost:g}")


@dataclass(frozen=True, slots=True)
class ReplaySetup:
    """One run: the engine as ``settings`` describe it (as ``streamal serve`` would run it),
    and how the recorded stream is played to it."""

    settings: EngineSettings
    delay: LabelDelay = LabelDelay()
    batch_size: int = 16
    curve_points: int = 100
    #: who answers the queries (none: the recorded labels, always right and free)
    annotators: tuple[SimulatedAnnotator, ...] = ()
    #: weigh answers by reliability and ask again when their vote is unsure
    aggregate: bool = False

    def engine_settings(self) -> EngineSettings:
        """The settings with what the simulation fixes: how long answers wait, what they cost.

        Aggregated answers wait long enough for an answer asked again to come back
        (two delays and a batch); a cost budget paces for the annotators' mean cost.
        """
        settings = self.settings
        if self.aggregate:
            wait = 2 * self.delay.amount + self.batch_size + 1
            settings = replace(settings, label_wait=wait)
        else:
            settings = replace(settings, label_wait=0.0, labels_per_query=1)
        if settings.cost_budget:
            costs = [a.cost for a in self.annotators] or [1.0]
            settings = replace(settings, expected_cost=float(np.mean(costs)) or 1.0)
        return settings


@dataclass(slots=True)
class ReplayResult:
    strategy: str
    budget: float
    #: prequential accuracy (NaN for a numeric target, scored by :attr:`mae` instead)
    accuracy: float
    labels: int
    events: int
    seconds: float
    #: ``[events, accuracy so far, labels so far]`` at evenly spaced points (for a
    #: numeric target, the mean absolute error so far instead of the accuracy)
    curve: list[list[float]] = field(default_factory=list)
    #: with simulated annotators: "first answer" or "aggregated"
    answers: str | None = None
    #: cost of the answers asked for
    cost: float = 0.0
    #: per annotator: name, true accuracy, observed accuracy, estimated accuracy, answers
    annotators: list[dict] = field(default_factory=list)
    #: with simulated annotators: the share of the learned labels that are the true class
    label_accuracy: float | None = None
    #: the ids of the queried events, in stream order (kept out of :meth:`to_dict`)
    queried: list[str] = field(default_factory=list)
    #: ``[events, labels, estimate, low, high, true]`` at the curve's points: the deployed
    #: accuracy estimated from the labels (:mod:`streamal.deployed_accuracy`) beside the
    #: true accuracy of the predictions over the same exponential window; for a numeric
    #: target, the deployed mean absolute error (:mod:`streamal.deployed_error`) and its truth
    estimates: list[list[float]] = field(default_factory=list)
    #: the mean over the classes of the stream of the share of their events predicted
    #: right, prequentially as ``accuracy`` (``None`` in a result not made by :func:`replay`)
    balanced_accuracy: float | None = None
    #: a numeric target's prequential mean absolute error, root mean squared error and R²
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None

    @property
    def numeric(self) -> bool:
        """Whether the run predicted a number (scored by :attr:`mae`) rather than a class."""
        return self.mae is not None

    @property
    def name(self) -> str:
        """The strategy, and with simulated annotators how their answers were used."""
        return f"{self.strategy} ({self.answers})" if self.answers else self.strategy

    @property
    def label_fraction(self) -> float:
        return self.labels / self.events if self.events else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        scores = (
            {"mae": self.mae, "rmse": self.rmse, "r2": self.r2}
            if self.numeric
            else {"accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy}
        )
        return {
            "strategy": self.strategy,
            "budget": self.budget,
            **scores,
            "labels": self.labels,
            "events": self.events,
            "label_fraction": self.label_fraction,
            "events_per_second": self.events_per_second,
            "curve": self.curve,
            "estimates": self.estimates,
        } | (
            {
                "answers": self.answers,
                "cost": self.cost,
                "label_accuracy": self.label_accuracy,
                "annotators": self.annotators,
            }
            if self.answers
            else {}
        )


def read_labels(rows: Sequence[Row], schema: ClassSchema) -> list[Row]:
    """The rows with each label read as the engine reads an answer (``schema`` is left as is).

    A recorded stream's labels are often text, as every CSV cell is; the engine
    reads the answers by the stream's classes (:mod:`streamal.classes`), so the
    model predicts ``True`` where the file says ``"True"``: scored against the
    file's text, every prediction would count as wrong.

    >>> rows = [Row(id="a", x={}, ts=0.0, y="True"), Row(id="b", x={}, ts=1.0, y="0")]
    >>> [row.y for row in read_labels(rows, ClassSchema())]
    [True, False]
    >>> read_labels(rows, ClassSchema(kind="float"))
    Traceback (most recent call last):
    ...
    ValueError: event a: label 'True' is not a number (a finite number, e.g. 2.5)
    """
    reader = copy.deepcopy(schema)
    typed = []
    for row in rows:
        try:
            y = reader.read(row.y)
        except UnknownClass as e:
            raise ValueError(f"event {row.id}: label {e}") from None
        same = y == row.y and type(y) is type(row.y)
        typed.append(row if same else msgspec.structs.replace(row, y=y))
    return typed


def replay(
    rows: Sequence[Row],
    setup: ReplaySetup,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Run one strategy × budget over ``rows`` and score it prequentially.

    Examples
    --------

    >>> from river import datasets
    >>> pairs = enumerate(datasets.Phishing())
    >>> rows = [Row(id=str(i), x=x, ts=float(i), y=y) for i, (x, y) in pairs]
    >>> settings = EngineSettings("naive_bayes.GaussianNB()", "variable_uncertainty", 0.1)
    >>> result = replay(rows, ReplaySetup(settings))
    >>> result.events, result.labels, round(result.accuracy, 3)
    (1250, 138, 0.87)
    >>> round(result.balanced_accuracy, 3)
    0.871

    A numeric target is scored by its errors:

    >>> pairs = enumerate(datasets.TrumpApproval())
    >>> rows = [Row(id=str(i), x=x, ts=float(i), y=y) for i, (x, y) in pairs]
    >>> model = "preprocessing.StandardScaler() | linear_model.LinearRegression()"
    >>> result = replay(rows, ReplaySetup(EngineSettings(model, "leverage", budget=0.1)))
    >>> result.events, result.labels, round(result.mae, 3), round(result.r2, 3)
    (1001, 97, 8.809, -55.39)

    and the deployed error is estimated from the even turns' answers (the last point:
    the estimate, its 95 % interval, and the true mean absolute error over that window):

    >>> [round(v, 2) for v in result.estimates[-1][2:]]
    [7.43, 4.44, 10.42, 8.65]

    """
    settings = setup.engine_settings()
    engine = build_engine(settings)
    rows = read_labels(rows, engine.schema)
    numeric = engine.model.is_regressor
    if numeric and setup.annotators:
        raise ValueError("simulated annotators answer with classes: not for a numeric target")
    mae, rmse, r2 = metrics.MAE(), metrics.RMSE(), metrics.R2()
    delay = setup.delay
    oracle = _Oracle(setup.annotators, settings.seed)
    due: list[tuple[float, int, Label]] = []  # (available from, order asked, label)
    correct = 0
    balanced = metrics.BalancedAccuracy()
    asked = 0
    trained = trained_right = 0
    n = len(rows)
    every = max(1, n // max(1, setup.curve_points))
    curve: list[list[float]] = []
    queried: list[str] = []
    estimator = DeployedError() if numeric else DeployedAccuracy()
    decay = estimator.decay
    estimates: list[list[float]] = []
    window_score = window_seen = 0.0
    started = time.perf_counter()
    for start in range(0, n, setup.batch_size):
        batch = rows[start : start + setup.batch_size]
        now = batch[0].ts if delay.in_time else float(start)
        answers = []
        while due and due[0][0] <= now:
            answers.append(heapq.heappop(due)[2])
        again: list[Query] = []
        learned = []
        if answers:
            joined = engine.answer(answers)
            again = joined.queries
            learned = joined.examples
        settled = engine.settle(batch[0].ts)
        engine.learn(settled)
        for example in [*learned, *settled]:
            trained += 1
            trained_right += example.y == oracle.truth.get(example.id, example.y)
            if numeric:
                estimator.label(example.absolute_error, example.probability)
            else:
                estimator.label(
                    example.confidence, example.y_pred == example.y, example.probability
                )
        for query in again:
            # Someone else answers a query asked again.
            answered = {a.annotator for a in engine.waiting[query.id].answers}
            available = now + delay.amount if delay.in_time else start + delay.amount + 1
            label = oracle.answer(query.id, oracle.truth[query.id], available, answered)
            heapq.heappush(due, (available, asked, label))
            asked += 1
        labels_before = asked
        out = engine.process(batch)
        if numeric:
            estimator.see(len(batch))
        else:
            confidence = out.proba.max(axis=1) if out.proba.shape[1] else np.zeros(len(batch))
            estimator.see(confidence)
        oracle.see(row.y for row in batch)
        # The curve's points in this batch: every `every`-th event of the stream, and its last.
        mark = (every - 1 - start) % every
        for i, (row, y_pred) in enumerate(zip(batch, out.y_pred, strict=True)):
            if numeric:
                for metric in (mae, rmse, r2):
                    metric.update(row.y, y_pred)
                # The window's truth, in the same fading as the estimate's: its mean |error|.
                window_score = window_score * decay + abs(row.y - y_pred)
            else:
                right = y_pred == row.y
                correct += right
                balanced.update(row.y, y_pred)
                window_score = window_score * decay + right
            window_seen = window_seen * decay + 1.0
            if i == mark or start + i + 1 == n:
                seen = start + i + 1
                asked_here = int(np.count_nonzero(out.queried[: i + 1]))
                labels = labels_before + asked_here * settings.labels_per_query
                curve.append([seen, mae.get() if numeric else correct / seen, labels])
                if (estimate := estimator.estimate()) is not None:
                    estimates.append(
                        [seen, labels, estimate.value, estimate.low, estimate.high,
                         window_score / window_seen]
                    )  # fmt: skip
                mark += every
        for i in np.flatnonzero(out.queried).tolist():
            row = batch[i]
            queried.append(row.id)
            # Row-counted delay: the label of event i is usable from event i + d + 1 on.
            available = row.ts + delay.amount if delay.in_time else start + i + delay.amount + 1
            oracle.truth[row.id] = row.y
            answered: set[str | None] = set()
            for _ in range(settings.labels_per_query):
                label = oracle.answer(row.id, row.y, available, answered)
                answered.add(label.annotator)
                heapq.heappush(due, (available, asked, label))
                asked += 1
        if progress is not None:
            progress(len(batch))
    seconds = time.perf_counter() - started
    result = ReplayResult(
        settings.strategy,
        engine.decider.budget,
        math.nan if numeric else correct / n if n else 0.0,
        asked,
        n,
        seconds,
        curve,
        queried=queried,
        estimates=estimates,
        balanced_accuracy=None if numeric else balanced.get(),
    )
    if numeric:
        result.mae, result.rmse, result.r2 = mae.get(), rmse.get(), r2.get()
    if setup.annotators:
        result.answers = "aggregated" if setup.aggregate else "first answer"
        result.cost = oracle.cost
        result.annotators = oracle.summary(engine.annotators)
        result.label_accuracy = trained_right / trained if trained else None
    return result


class _Oracle:
    """The recorded label, or a simulated annotator's answer to it."""

    def __init__(self, annotators: Sequence[SimulatedAnnotator], seed: int) -> None:
        self.annotators = list(annotators)
        self.rng = np.random.default_rng(seed)
        self.classes: dict[Hashable, None] = {}
        #: the true label of every queried id (an answer asked again needs it)
        self.truth: dict[str, Hashable] = {}
        self.cost = 0.0
        self.given = {a.name: 0 for a in self.annotators}
        self.right = {a.name: 0 for a in self.annotators}

    def see(self, ys: Iterable[Hashable]) -> None:
        self.classes.update(dict.fromkeys(ys))

    def answer(
        self, query_id: str, y: Hashable, ts: float, exclude: set[str | None] = frozenset()
    ) -> Label:
        if not self.annotators:
            self.cost += 1.0
            return Label(query_id, y, ts=ts)
        choices = [a for a in self.annotators if a.name not in exclude] or self.annotators
        annotator = choices[int(self.rng.integers(len(choices)))]
        if self.rng.random() >= annotator.accuracy:
            wrong = [c for c in self.classes if c != y]
            y = wrong[int(self.rng.integers(len(wrong)))] if wrong else y
        self.cost += annotator.cost
        self.given[annotator.name] += 1
        self.right[annotator.name] += y == self.truth.get(query_id, y)
        return Label(query_id, y, ts=ts, annotator=annotator.name, cost=annotator.cost)

    def summary(self, estimates: Annotators | None) -> list[dict]:
        return [
            {
                "annotator": a.name,
                "accuracy": a.accuracy,
                "cost": a.cost,
                "answers": self.given[a.name],
                "observed_accuracy": self.right[a.name] / self.given[a.name]
                if self.given[a.name]
                else None,
                "estimated_accuracy": estimates.accuracy(a.name) if estimates else None,
            }
            for a in self.annotators
        ]
