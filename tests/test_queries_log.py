"""The queries log: every replica's queries become pending here, and their headers say how
far each events partition is delivered and decided."""

from __future__ import annotations

import threading

from kafka import KafkaProducer

from streamal.config import load_config
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.queries_log import QueriesLog, decided_header
from streamal.decider import Decider
from streamal.engine import Engine, Event, Label, Query, TrainingExample
from streamal.messages import encode_query
from streamal.snapshot import Snapshot
from streamal.training import TrainingFold
from tests.conftest import Topics


def _query(query_id: str) -> bytes:
    proba = {"pos": 0.7, "neg": 0.3}
    return encode_query(Query(query_id, 1.0, {"a": 1.0}, proba, 0.5, "split", 0, ("pos", "neg")))


def test_other_replicas_queries_become_pending_and_the_decided_offsets_move(broker, kafka_client):
    topics = Topics(broker.bootstrap_servers, partitions=2)
    topics.create()
    written = [
        ("a", decided_header(topics.events, 0, 0, 10)),
        ("b", decided_header(topics.events, 1, 0, 7)),
        ("c", decided_header(topics.events, 0, 10, 25)),
        ("learned", decided_header(topics.events, 1, 7, 9)),
        ("mine", decided_header(topics.events, 1, 6, 8)),
        ("elsewhere", decided_header("another.events", 0, 900, 999)),
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    for query_id, header in written:
        producer.send(topics.queries, _query(query_id), query_id.encode(), headers=[header])
    producer.send(topics.queries, b"not a query", b"x")
    producer.flush()
    producer.close()

    fold = TrainingFold(Engine("naive_bayes.GaussianNB()", Decider("random", 1.0)))
    fold.apply([TrainingExample("learned", {"a": 1.0}, "pos", 0.0, 1.0, None)])
    fold.engine.process([Event("mine", {"a": 2.0}, 0.0)])  # this replica's own query
    own = fold.engine.pending.get("mine")
    assert own is not None
    state = Snapshot(fold)
    config = load_config(
        {"bootstrap_servers": broker.bootstrap_servers, "kafka_client": kafka_client}, {}
    )
    log = QueriesLog(
        kafka_clients.consumer(config, group_id=None), topics.queries, topics.events, state
    )
    try:
        log.start()
        assert log.catch_up(threading.Event()) == 4
        assert {q.id for q in fold.engine.pending} == {"a", "b", "c", "elsewhere", "mine"}
        assert fold.engine.pending.get("mine") is own
        assert state.decided == {0: 25, 1: 9}
        assert state.delivered == {0: 10, 1: 7}
        assert sum(state.queries_written.values()) == len(written) + 1
        # Another replica's query: its prediction, and no number of this replica's decider.
        recovered = fold.engine.pending.get("b")
        assert (recovered.y_pred, recovered.confidence, recovered.number) == ("pos", 0.7, -1)
        assert [e.id for e in fold.engine.join([Label("b", "neg", 2.0)]).examples] == ["b"]
        assert log.catch_up(threading.Event()) == 0
        assert log.poll() == 0
    finally:
        log.reader.close()
        topics.close()
