"""Re-run a recorded daemon run and get its decisions back, exactly.

A daemon learns from the training log while it scores events, so what it
decided for an event depends on how many examples its model had learned by
then. The predictions topic records that number (``model_version``) with
every prediction. Folding the training log up to that version before each
event, and scoring the events in their recorded order with a decider of the
same strategy, budget and seed, gives the same queries, scores included:
the decider's answers do not depend on how the events are batched.
"""

from __future__ import annotations

from collections.abc import Sequence

from streamal.engine import Engine, Event, Query, TrainingExample
from streamal.training import TrainingFold

__all__ = ["RerunError", "rerun"]


class RerunError(ValueError):
    """The recording does not hold what the re-run needs."""


def rerun(
    engine: Engine,
    events: Sequence[Event],
    versions: Sequence[int],
    training: Sequence[TrainingExample],
) -> list[Query]:
    """The queries ``engine`` makes on ``events``, each scored at its recorded model version.

    Parameters
    ----------
    engine
        A fresh engine with the daemon's model spec, strategy, budget and seed.
    events
        The events the daemon scored, in the order it scored them.
    versions
        For each event, the ``model_version`` of its recorded prediction.
    training
        The training log, in log order.

    Examples
    --------

    >>> from streamal.decider import Decider
    >>> def fresh():
    ...     return Engine("naive_bayes.GaussianNB()", Decider("variable_uncertainty", 0.5, seed=3))
    >>> events = [Event(f"e{i}", {"a": float(i % 5)}, float(i)) for i in range(40)]
    >>> daemon = TrainingFold(fresh())
    >>> asked, versions, log = [], [], []
    >>> for i in range(0, 40, 8):  # the daemon: score a poll's batch, then learn
    ...     versions += [daemon.engine.model.version] * 8
    ...     asked += daemon.engine.process(events[i:i + 8]).queries
    ...     labels = [TrainingExample(q.id, q.x, q.x["a"] > 2, q.ts, q.ts, None) for q in asked]
    ...     log += daemon.apply(labels[len(log):])
    >>> again = rerun(fresh(), events, versions, log)
    >>> [(q.id, q.score) for q in again] == [(q.id, q.score) for q in asked]
    True

    """
    if len(events) != len(versions):
        raise RerunError(f"{len(events)} events but {len(versions)} model versions")
    fold = TrainingFold(engine)
    queries: list[Query] = []
    learned = 0
    start = 0
    while start < len(events):
        version = versions[start]
        while engine.model.version < version:
            if learned == len(training):
                raise RerunError(
                    f"event {events[start].id!r} was scored at model version {version}, "
                    f"but the training log ends at version {engine.model.version}"
                )
            fold.apply([training[learned]])
            learned += 1
        if engine.model.version > version:
            raise RerunError(
                f"event {events[start].id!r} was scored at model version {version}, "
                f"below the {engine.model.version} already learned: events out of order?"
            )
        end = start
        while end < len(events) and versions[end] == version:
            end += 1
        queries += engine.process(events[start:end]).queries
        start = end
    return queries
