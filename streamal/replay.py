"""Prequential replay of a recorded stream with a simulated oracle.

Every event is predicted before its label can be known, and accuracy counts
every event. The oracle reveals a label only for events the decider queried,
and only after the configured delay (in events, or in the stream's time
unit). Labels that fall due are learned at the next batch boundary, as in the
daemon, where labels arrive between polls.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from streamal.decider import Decider
from streamal.engine import Engine, Event, Label
from streamal.model import Model

__all__ = ["LabelDelay", "ReplayResult", "ReplaySetup", "Row", "replay"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Row(Event):
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
class ReplaySetup:
    """One strategy × budget run."""

    strategy: str
    budget: float
    model: str
    seed: int = 0
    delay: LabelDelay = LabelDelay()
    batch_size: int = 16
    budget_manager: str | None = None
    hard_cap: bool = False
    drift_aware: bool = False
    #: delay-aware querying: events a query stays pending (0: off)
    pending_events: int = 0
    curve_points: int = 100


@dataclass(slots=True)
class ReplayResult:
    strategy: str
    budget: float
    accuracy: float
    labels: int
    events: int
    seconds: float
    #: ``[events, accuracy so far, labels so far]`` at evenly spaced points
    curve: list[list[float]] = field(default_factory=list)

    @property
    def label_fraction(self) -> float:
        return self.labels / self.events if self.events else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "budget": self.budget,
            "accuracy": self.accuracy,
            "labels": self.labels,
            "events": self.events,
            "label_fraction": self.label_fraction,
            "events_per_second": self.events_per_second,
            "curve": self.curve,
        }


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
    >>> result = replay(rows, ReplaySetup("variable_uncertainty", 0.1, "naive_bayes.GaussianNB()"))
    >>> result.events, result.labels, round(result.accuracy, 3)
    (1250, 138, 0.87)

    """
    decider = Decider(
        setup.strategy,
        setup.budget,
        budget_manager=setup.budget_manager,
        hard_cap=setup.hard_cap,
        drift_aware=setup.drift_aware,
        pending_events=setup.pending_events,
        seed=setup.seed,
    )
    engine = Engine(Model(setup.model), decider)
    delay = setup.delay
    due: list[tuple[float, int, Label]] = []  # (available from, order, label)
    correct = 0
    n = len(rows)
    every = max(1, n // max(1, setup.curve_points))
    curve: list[list[float]] = []
    started = time.perf_counter()
    for start in range(0, n, setup.batch_size):
        batch = rows[start : start + setup.batch_size]
        now = batch[0].ts if delay.in_time else float(start)
        answers = []
        while due and due[0][0] <= now:
            answers.append(heapq.heappop(due)[2])
        if answers:
            engine.answer(answers)
        labels_before = decider.labels_spent
        out = engine.process(batch)
        asked = np.cumsum(out.queried)
        for i, (row, y_pred) in enumerate(zip(batch, out.y_pred, strict=True)):
            correct += y_pred == row.y
            seen = start + i + 1
            if seen % every == 0 or seen == n:
                curve.append([seen, correct / seen, labels_before + int(asked[i])])
        for i in np.flatnonzero(out.queried).tolist():
            row = batch[i]
            # Row-counted delay: the label of event i is usable from event i + d + 1 on.
            available = row.ts + delay.amount if delay.in_time else start + i + delay.amount + 1
            heapq.heappush(due, (available, start + i, Label(row.id, row.y, ts=available)))
        if progress is not None:
            progress(len(batch))
    seconds = time.perf_counter() - started
    return ReplayResult(
        setup.strategy,
        setup.budget,
        correct / n if n else 0.0,
        decider.labels_spent,
        n,
        seconds,
        curve,
    )
