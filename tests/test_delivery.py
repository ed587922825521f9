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


class _Message:
    """What librdkafka's delivery callback is given, as far as ``Sending`` reads it."""

    def __init__(self, record: Outgoing, partition: int, offset: int) -> None:
        self._record, self._partition, self._offset = record, partition, offset

    def topic(self) -> str:
        return self._record.topic

    def key(self) -> bytes | None:
        return self._record.key

    def value(self) -> bytes:
        return self._record.value

    def headers(self) -> list | None:
        return list(self._record.headers) or None

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


def test_one_callback_tells_which_records_failed_and_where_the_tracked_ones_went():
    from confluent_kafka import KafkaError as LibrdkafkaError
    from kafka.errors import KafkaTimeoutError

    from streamal.connectors.confluent import Sending

    outgoing = [
        Outgoing("q", b"k1", b"v1", "queries"),
        Outgoing("p", b"k2", b"v2", "predictions", (("h", b"1"),)),
        Outgoing("q", b"k3", b"v3", "queries"),
        Outgoing("p", b"k4", b"v4", "predictions"),
    ]
    sending = Sending(outgoing, tracked=("q",))
    sending.left = 4
    sending(None, _Message(outgoing[0], 0, 7))
    sending(LibrdkafkaError(LibrdkafkaError._MSG_TIMED_OUT), _Message(outgoing[1], 1, -1))
    assert not sending.done()
    sending(None, _Message(outgoing[2], 0, 8))
    sending(None, _Message(outgoing[3], 2, 40))
    assert sending.done()
    written = {"q": {0: 5, 1: 3}}
    failed = sending.outcome(written)
    assert written == {"q": {0: 9, 1: 3}}  # the predictions' places are not kept
    assert [record for record, _ in failed] == [outgoing[1]]  # rebuilt whole, headers included
    assert isinstance(failed[0][1], KafkaTimeoutError)
