"""Delivery against the real broker: a record Kafka refuses for good is reported, not retried."""

from __future__ import annotations

import hashlib

from streamal.config import load_config
from streamal.connectors import kafka as kafka_clients
from streamal.connectors.delivery import Delivery, Outgoing
from streamal.metrics import Metrics


def test_a_refused_record_becomes_a_dead_letter_and_the_rest_goes_through(topics, kafka_client):
    # The producer's own limit refuses the large record as a broker's would.
    config = load_config(
        {"bootstrap_servers": topics.bootstrap_servers, "kafka_client": kafka_client}, {}
    )
    producer = kafka_clients.producer(config, max_request_size=20_000)
    metrics = Metrics()
    waits = []
    delivery = Delivery(producer, topics.dead_letter, metrics, lambda *a: waits.append(a))
    big = b'{"v":1,"id":"q1","x":{"pad":"' + b"z" * 50_000 + b'"}}'
    try:
        written = delivery.deliver(
            [
                Outgoing(topics.queries, b"q0", b'{"v":1,"id":"q0"}', "queries"),
                Outgoing(topics.queries, b"q1", big, "queries"),
                Outgoing(topics.queries, b"q2", b'{"v":1,"id":"q2"}', "queries"),
                Outgoing(topics.training, b"t0", b'{"v":1,"id":"t0"}', "training"),
            ],
            tracked=(topics.queries,),
        )
    finally:
        producer.close()
    assert waits == []  # nothing to wait out: a refusal is not an outage
    assert written == {topics.queries: {0: 2}}  # where the training record went is not asked
    assert [r.key for r in topics.read(topics.queries, at_least=2)] == [b"q0", b"q2"]
    (letter,) = topics.read_json(topics.dead_letter, at_least=1)
    assert letter["reason"] == "undeliverable"
    assert letter["topic"] == topics.queries and letter["offset"] == -1
    assert "MessageSizeTooLargeError" in letter["detail"]
    assert letter["value_bytes"] == len(big)
    assert letter["value_sha256"] == hashlib.sha256(big).hexdigest()
    labels = {"topic": "queries", "error": "MessageSizeTooLargeError"}
    assert metrics.value("streamal_undeliverable_records_total", **labels) == 1.0
    assert metrics.value("streamal_dead_letters_total", reason="undeliverable") == 1.0
