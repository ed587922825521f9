"""Replicas in one group: any replica joins any label, each event is decided once, and a
replica joining or leaving gracefully hands its partitions over without redoing anything."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from kafka.admin import KafkaAdminClient, NewTopic

from streamal.connectors.snapshots import SnapshotStore, snapshot_key
from tests.conftest import FAST_GROUP, Annotator, Topics, wait_for


def _event(i: int) -> dict:
    rng = random.Random(i)
    return {"v": 1, "id": f"e{i}", "ts": float(i), "x": {"a": rng.gauss(0, 1), "b": 0.0}}


def _models(states):
    return [SnapshotStore(s, snapshot_key(s, {})).newest()[0].engine.model for s in states]


def test_replicas_split_the_events_and_join_any_label_with_one_labels_partition(
    broker, serve, tmp_path
):
    topics = Topics(broker.bootstrap_servers, partitions=2)
    # One labels partition beside two of events: one replica reads every label, including
    # those answering the other replica's queries.
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    admin.create_topics([NewTopic(topics.labels, 1, 1)])
    admin.close()
    topics.create()
    states = [tmp_path / "a", tmp_path / "b"]
    daemons = [
        serve([*topics.flags(), *FAST_GROUP, "--state-dir", str(state), "--budget", "0.2"])
        for state in states
    ]
    wait_for(
        lambda: all(d.logged(f"resuming {topics.events}[") for d in daemons),
        60,
        "each daemon given an events partition",
    )
    annotator = Annotator(topics)
    annotator.start()
    n = 600
    topics.send_many(topics.events, [_event(i) for i in range(n)])

    predicted = [p["id"] for p in topics.read_json(topics.predictions, at_least=n, timeout=60)]
    assert sorted(predicted) == sorted(f"e{i}" for i in range(n))
    asked = [q["id"] for q in topics.read_json(topics.queries)]
    queried = set(asked)
    assert len(asked) == len(queried) > 0.1 * n
    wait_for(lambda: annotator.answered == queried, 30, "every query answered")
    wait_for(
        lambda: {t["id"] for t in topics.read_json(topics.training)} == queried,
        30,
        "every label in the training log",
    )
    assert topics.read_json(topics.dead_letter) == []
    scored = [d.metrics()[("streamal_events_total",)] for d in daemons]
    assert sum(scored) == n
    assert min(scored) > 0.2 * n  # keyed by id, the events split about evenly
    applied = ("streamal_labels_total", ("outcome", "applied"))
    assert sorted(d.metrics().get(applied, 0) for d in daemons) == [0, len(queried)]
    annotator.stopping.set()
    for daemon in daemons:
        assert daemon.stop() == 0

    models = _models(states)
    assert [m.version for m in models] == [len(queried)] * 2
    # Same examples in the same order: the replicas answer alike.
    rng = random.Random(5)
    probe = [{"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)} for _ in range(200)]
    first, second = (m.predict_proba(probe) for m in models)
    assert models[0].classes == models[1].classes
    assert (first == second).all()
    topics.close()


def test_a_replica_joining_then_stopping_hands_its_partitions_over_without_redoing(
    broker, serve, tmp_path
):
    topics = Topics(broker.bootstrap_servers, partitions=2)
    topics.create()

    def flags(name: str) -> list[str]:
        return [*topics.flags(), *FAST_GROUP, "--state-dir", str(tmp_path / name),
                "--budget", "0.2", "--snapshot-interval", "2"]  # fmt: skip

    first = serve(flags("a"))
    first.wait_logged(f"resuming {topics.events}[", timeout=40)
    annotator = Annotator(topics)
    annotator.start()
    n = 2400

    def produce() -> None:
        for start in range(0, n, 20):
            topics.send_many(topics.events, [_event(i) for i in range(start, start + 20)])
            time.sleep(0.2)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    time.sleep(4)
    second = serve(flags("b"))
    wait_for(lambda: second.logged(f"resuming {topics.events}["), 40, "the second one placed")
    time.sleep(6)
    assert second.metrics()[("streamal_events_total",)] > 100
    assert second.stop() == 0
    producer.join()

    predictions = Counter(
        p["id"] for p in topics.read_json(topics.predictions, at_least=n, timeout=60)
    )
    assert set(predictions) == {f"e{i}" for i in range(n)}
    # Both moves were graceful: the giver snapshots and commits before it lets go.
    assert [i for i, times in predictions.items() if times > 1] == []
    assert first.logged(f"revoked: {topics.events}[")
    asked = [q["id"] for q in topics.read_json(topics.queries)]
    assert len(asked) == len(set(asked))
    wait_for(
        lambda: {t["id"] for t in topics.read_json(topics.training)} == set(asked),
        30,
        "every label in the training log",
    )
    annotator.stopping.set()
    assert first.stop() == 0
    topics.close()
