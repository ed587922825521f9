"""The engine: predictions for every event, bounded pending queries, label outcomes."""

from __future__ import annotations

import pickle

from river.datasets import synth

from streamal.decider import Decider
from streamal.engine import Engine, Event, Label, LabelOutcome


def events(n: int, start: int = 0) -> list[Event]:
    rows = synth.Agrawal(seed=1).take(start + n)
    return [Event(f"e{i}", x, float(i)) for i, (x, _) in enumerate(rows) if i >= start]


def make_engine(**kwargs) -> Engine:
    return Engine("tree.HoeffdingTreeClassifier()", Decider("random", 0.5, seed=1), **kwargs)


def test_every_event_is_predicted_and_queries_are_pending():
    engine = make_engine()
    out = engine.process(events(100))
    assert [p.id for p in out.predictions] == [f"e{i}" for i in range(100)]
    assert {q.id for q in out.queries} == {p.id for p in out.predictions if p.queried}
    assert len(engine.pending) == len(out.queries) > 20
    assert all(q.model_version == 0 and q.strategy == "random" for q in out.queries)


def test_label_outcomes():
    engine = make_engine(max_pending=5, pending_ttl=50.0)
    queries = engine.process(events(60)).queries
    asked = [q.id for q in queries]
    # Only the 5 newest queries are kept; the others were dropped to make room.
    assert len(engine.pending) == 5 and engine.expired == len(asked) - 5
    joined = engine.answer(
        [
            Label(asked[-1], 1, ts=60.0),
            Label(asked[-1], 1, ts=61.0),
            Label(asked[0], 0, ts=61.0),
            Label("never-asked", 0, ts=61.0),
        ]
    )
    assert [e.id for e in joined.examples] == [asked[-1]]
    assert [(r.label.id, r.outcome) for r in joined.rejected] == [
        (asked[-1], LabelOutcome.DUPLICATE),
        (asked[0], LabelOutcome.EXPIRED),
        ("never-asked", LabelOutcome.UNKNOWN),
    ]
    assert engine.model.version == 1
    # Time passes: the rest expire after the TTL.
    dropped = engine.expire(now=200.0)
    assert len(dropped) == 4 and len(engine.pending) == 0
    assert engine.answer([Label(dropped[0].id, 1, ts=200.0)]).rejected[0].outcome == "expired"


def test_training_example_carries_the_prediction_made_at_query_time():
    engine = make_engine()
    out = engine.process(events(10))
    query = out.queries[0]
    prediction = next(p for p in out.predictions if p.id == query.id)
    example = engine.join([Label(query.id, "yes", ts=99.0, annotator="ann")]).examples[0]
    assert (example.y_pred, example.query_ts, example.label_ts) == (prediction.y, query.ts, 99.0)
    assert example.annotator == "ann" and example.x == query.x
    assert engine.model.version == 0  # join does not learn; learn does
    engine.learn([example])
    assert engine.model.version == 1


def test_same_inputs_same_outputs_and_snapshot_continues_identically():
    def drive(engine: Engine, start: int, stop: int) -> list[str]:
        asked = []
        for i in range(start, stop, 50):
            out = engine.process(events(50, start=i))
            asked += [q.id for q in out.queries]
            engine.answer([Label(q.id, int(q.x["salary"] > 70000), ts=q.ts) for q in out.queries])
        return asked

    reference = drive(make_engine(), 0, 1000)
    engine = make_engine()
    head = drive(engine, 0, 500)
    restored = pickle.loads(pickle.dumps(engine))
    assert head + drive(restored, 500, 1000) == reference
