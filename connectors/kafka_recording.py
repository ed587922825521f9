"""Recorded streams on Kafka: a topic range as input, and a daemon run read back for a re-run.

``kafka://HOST:PORT/TOPIC?start=N&end=M`` names the records of ``TOPIC``
with offsets in ``[start, end)`` (every partition; both bounds optional).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from streamal.engine import Event, TrainingExample
from streamal.messages import (
    InvalidRecord,
    decode_event,
    decode_label,
    decode_prediction,
    decode_training_example,
)
from streamal.replay import Row

__all__ = ["DaemonRun", "KafkaRange", "read_daemon_run", "read_labeled_rows", "read_range"]


@dataclass(frozen=True, slots=True)
class KafkaRange:
    """A topic's records between two offsets, on one cluster."""

    bootstrap_servers: str
    topic: str
    start: int | None = None
    end: int | None = None

    @classmethod
    def parse(cls, url: str) -> KafkaRange:
        """Read a ``kafka://`` URL.

        >>> KafkaRange.parse("kafka://127.0.0.1:9092/streamal.events?start=10&end=20")
        KafkaRange(bootstrap_servers='127.0.0.1:9092', topic='streamal.events', start=10, end=20)

        """
        parts = urlsplit(url)
        topic = parts.path.lstrip("/")
        if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
            raise ValueError(f"{url!r} is not kafka://HOST:PORT/TOPIC[?start=N&end=M]")
        query = parse_qs(parts.query)
        unknown = set(query) - {"start", "end"}
        if unknown:
            raise ValueError(f"{url!r}: unknown parameter {sorted(unknown)[0]!r} (start, end)")
        try:
            bounds = {k: int(v[-1]) for k, v in query.items()}
        except ValueError:
            raise ValueError(f"{url!r}: start and end must be offsets (integers)") from None
        return cls(parts.netloc, topic, bounds.get("start"), bounds.get("end"))


def read_range(source: KafkaRange, timeout_ms: int = 10_000) -> Iterator[ConsumerRecord]:
    """The records of ``source``, partition by partition, in offset order."""
    consumer = KafkaConsumer(
        bootstrap_servers=source.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partitions = consumer.partitions_for_topic(source.topic)
        if not partitions:
            raise ValueError(f"{source.topic}: no such topic on {source.bootstrap_servers}")
        for partition in sorted(partitions):
            tp = TopicPartition(source.topic, partition)
            consumer.assign([tp])
            first = consumer.beginning_offsets([tp])[tp]
            last = consumer.end_offsets([tp])[tp]
            start = max(first, source.start or 0)
            if start >= (last if source.end is None else source.end):
                continue
            consumer.seek(tp, start)
            # Some brokers (the embedded Tansu) report the end as the first offset of the
            # last batch, so an open range reads on until the partition runs dry.
            while True:
                wait = timeout_ms if consumer.position(tp) < last else 500
                polled = consumer.poll(timeout_ms=wait).get(tp)
                if not polled:
                    if consumer.position(tp) < last:
                        raise TimeoutError(
                            f"{source.topic}[{partition}]: no records for {timeout_ms} ms"
                        )
                    break
                for record in polled:
                    if source.end is not None and record.offset >= source.end:
                        break
                    yield record
                if source.end is not None and consumer.position(tp) >= source.end:
                    break
    finally:
        consumer.close()


@dataclass(slots=True)
class DaemonRun:
    """What :func:`streamal.rerun.rerun` needs: events in scoring order, versions, training log."""

    events: list[Event]
    versions: list[int]
    training: list[TrainingExample]


def read_daemon_run(
    bootstrap_servers: str, events_topic: str, predictions_topic: str, training_topic: str
) -> DaemonRun:
    """Read back one daemon's run (its predictions topic must have one partition).

    Events are decoded as the daemon decoded them (a missing ``ts`` is the
    record's Kafka time) and put in the order of their predictions.
    """
    events: dict[str, Event] = {}
    for record in read_range(KafkaRange(bootstrap_servers, events_topic)):
        try:
            event = decode_event(record.value or b"", default_ts=record.timestamp / 1000.0)
        except InvalidRecord:
            continue  # dead-lettered by the daemon; it made no decision on it
        events[event.id] = event
    ordered, versions = [], []
    for record in read_range(KafkaRange(bootstrap_servers, predictions_topic)):
        prediction, version = decode_prediction(record.value)
        ordered.append(events[prediction.id])
        versions.append(version)
    training = [
        decode_training_example(record.value)
        for record in read_range(KafkaRange(bootstrap_servers, training_topic))
    ]
    return DaemonRun(ordered, versions, training)


def read_labeled_rows(events: KafkaRange, labels: KafkaRange) -> tuple[list[Row], int]:
    """A recorded stream for ``streamal replay``: events with their labels, in event order.

    Labels are matched by id (the last one of an id wins). Returns the rows and
    how many valid events had no label and were left out; records the daemon
    would refuse are left out too.
    """
    truth = {}
    for record in read_range(labels):
        try:
            label = decode_label(record.value or b"", default_ts=record.timestamp / 1000.0)
        except InvalidRecord:
            continue
        truth[label.id] = label.label
    rows, unlabeled = [], 0
    for record in read_range(events):
        try:
            event = decode_event(record.value or b"", default_ts=record.timestamp / 1000.0)
        except InvalidRecord:
            continue
        if event.id in truth:
            rows.append(Row(id=event.id, x=event.x, ts=event.ts, y=truth[event.id]))
        else:
            unlabeled += 1
    return rows, unlabeled
