"""Events redone after a crash or a partition move are predicted again, never decided again."""

from __future__ import annotations

from river.datasets import synth

from streamal.decider import Decider
from streamal.engine import Engine, Event


def _events(n: int) -> list[Event]:
    rows = synth.Agrawal(seed=3).take(n)
    return [Event(f"e{i}", x, float(i)) for i, (x, _) in enumerate(rows)]


def _engine() -> Engine:
    return Engine("tree.HoeffdingTreeClassifier()", Decider("random", 0.3, seed=4))


def test_redone_events_spend_nothing_and_leave_the_decider_as_it_was():
    stream = _events(200)
    engine, twin = _engine(), _engine()
    first = engine.process(stream[:80])
    twin.process(stream[:80])
    spent = engine.decider.labels_spent
    assert spent > 10

    again = engine.process(stream[:80], [True] * 80)
    assert again.queries == []
    assert engine.decider.labels_spent == spent
    # Each prediction says whether the event's query exists, as the first time.
    assert [p.queried for p in again.predictions] == [p.queried for p in first.predictions]
    # The decider never saw the redo: what follows is decided as if it had not happened.
    after = [q.id for q in engine.process(stream[80:]).queries]
    assert after == [q.id for q in twin.process(stream[80:]).queries]
    assert len(after) > 20


def test_a_batch_mixing_redone_and_new_events_decides_only_the_new():
    stream = _events(120)
    engine = _engine()
    engine.process(stream[:60])
    spent = engine.decider.labels_spent
    mixed = engine.process(stream[:120], [True] * 60 + [False] * 60)
    assert len(mixed.predictions) == 120
    new = [q.id for q in mixed.queries]
    assert new and all(int(i[1:]) >= 60 for i in new)
    assert engine.decider.labels_spent == spent + len(new)
